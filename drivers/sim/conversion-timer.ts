/**
 * When the TMP102's conversions start and end (SBOS397 "Continuous-Conversion Mode",
 * "Shutdown Mode (SD)", "One-Shot/Conversion Ready (OS)").
 *
 * Continuous mode starts a conversion every period (1 / conversion rate); each lasts the
 * conversion time and its result lands at its end. Nothing runs on a timer: `catchUp(now)`
 * replays every conversion that ended since the last call, in order, so lazy polling sees the
 * same history as a real chip.
 */
export class ConversionTimer {
  readonly conversionTimeMs: number;
  #startMs: number | undefined;
  #endMs: number | undefined;
  #nextStartMs: number | undefined;

  constructor(conversionTimeMs: number) {
    this.conversionTimeMs = conversionTimeMs;
  }

  /** A conversion is in progress (OS reads 0 in shutdown mode). */
  get converting(): boolean {
    return this.#endMs !== undefined;
  }

  /** When the next conversion will end, if one is running or scheduled. */
  nextEndMs(): number | undefined {
    if (this.#endMs !== undefined) return this.#endMs;
    if (this.#nextStartMs !== undefined) return this.#nextStartMs + this.conversionTimeMs;
    return undefined;
  }

  /** SD=0 after shutdown: continuous conversions resume at once, one per period. */
  startContinuous(nowMs: number, periodMs: number): void {
    if (this.#endMs !== undefined) {
      // Leaving shutdown during a one-shot: that conversion is the first of the new cycle.
      this.#nextStartMs = this.#startMs! + periodMs;
    } else {
      this.#nextStartMs = nowMs;
    }
  }

  /** Power-up or reset: a fresh conversion starts now, whatever was running, then one per period. */
  restart(nowMs: number, periodMs: number): void {
    this.#startMs = nowMs;
    this.#endMs = nowMs + this.conversionTimeMs;
    this.#nextStartMs = nowMs + periodMs;
  }

  /** SD=1: no more starts; a conversion in progress still completes. */
  stopAfterCurrent(): void {
    this.#nextStartMs = undefined;
  }

  /** Power lost: everything stops at once. */
  stopNow(): void {
    this.#endMs = undefined;
    this.#nextStartMs = undefined;
  }

  /** A new rate takes effect at the next start of the current cycle, or now if that is past (guess). */
  changePeriod(nowMs: number, periodMs: number): void {
    if (this.#nextStartMs === undefined) return;
    this.#nextStartMs = Math.max(nowMs, (this.#startMs ?? nowMs) + periodMs);
  }

  /** OS=1 in shutdown: one conversion now, unless one is already running (it serves as the one-shot). */
  startOneShot(nowMs: number): void {
    if (this.#endMs !== undefined) return;
    this.#startMs = nowMs;
    this.#endMs = nowMs + this.conversionTimeMs;
  }

  /** Call `onEnd(endMs)` for every conversion that ended at or before `nowMs`, oldest first. */
  catchUp(nowMs: number, periodMs: number, onEnd: (endMs: number) => void): void {
    for (;;) {
      if (this.#endMs !== undefined) {
        if (this.#endMs > nowMs) return;
        const end = this.#endMs;
        this.#endMs = undefined;
        onEnd(end);
      } else if (this.#nextStartMs !== undefined && this.#nextStartMs <= nowMs) {
        const start = this.#nextStartMs;
        this.#startMs = start;
        this.#endMs = start + this.conversionTimeMs;
        this.#nextStartMs = start + periodMs;
      } else {
        return;
      }
    }
  }
}
