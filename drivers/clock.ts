/**
 * Time for everything that models or talks to hardware: the WASI clocks the Go modules see,
 * the simulated TMP102's conversions, and the gateway's timestamps all read one Clock, so a
 * test that advances a ManualClock moves the whole world at once.
 *
 * `sleep` is synchronous because it backs WASI `poll_oneoff`, which a WebAssembly guest calls
 * synchronously (Go's time.Sleep inside an export ends there).
 */
export interface Clock {
  /** Monotonic nanoseconds since an arbitrary origin (WASI CLOCK_MONOTONIC). */
  monotonicNs(): bigint;
  /** Wall-clock nanoseconds since the Unix epoch (WASI CLOCK_REALTIME). */
  realtimeNs(): bigint;
  /** Block the calling thread for `ns` nanoseconds of this clock's time. */
  sleep(ns: bigint): void;
  /**
   * Run `fn` once after `ms` milliseconds of this clock's time, on the event loop. Returns a
   * function that cancels it. Timers never hold the process open.
   */
  schedule(ms: number, fn: () => void): () => void;
}

export function monotonicMs(clock: Clock): number {
  return Number(clock.monotonicNs()) / 1e6;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** The machine's clocks. `sleep` blocks the thread with Atomics.wait (allowed on Node's main thread). */
export class SystemClock implements Clock {
  monotonicNs(): bigint {
    return process.hrtime.bigint();
  }
  realtimeNs(): bigint {
    // Date.now() has millisecond resolution; add the sub-millisecond part from hrtime so
    // successive readings are strictly increasing within a millisecond.
    return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  }
  sleep(ns: bigint): void {
    if (ns <= 0n) return;
    Atomics.wait(sleepCell, 0, 0, Number(ns) / 1e6);
  }
  schedule(ms: number, fn: () => void): () => void {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  }
}

/**
 * A clock that only moves when told to. `sleep` advances it, so a guest that sleeps 35 ms
 * waiting for a conversion finds the simulated chip 35 ms older, without waiting. Scheduled
 * functions run from `advanceMs` (in time order, each seeing the clock at its due time), never
 * from `sleep`, which runs inside WebAssembly calls.
 */
export class ManualClock implements Clock {
  #monoNs: bigint;
  #epochOffsetNs: bigint;
  #timers: Array<{ dueNs: bigint; seq: number; fn: () => void }> = [];
  #seq = 0;

  constructor(options: { startEpochMs?: number; startMonotonicMs?: number } = {}) {
    this.#monoNs = BigInt(Math.round((options.startMonotonicMs ?? 1_000) * 1e6));
    // A fixed, plausible wall-clock start (2026-01-01T00:00:00Z) keeps test output stable.
    const epochMs = options.startEpochMs ?? Date.UTC(2026, 0, 1);
    this.#epochOffsetNs = BigInt(epochMs) * 1_000_000n - this.#monoNs;
  }

  monotonicNs(): bigint {
    return this.#monoNs;
  }
  realtimeNs(): bigint {
    return this.#monoNs + this.#epochOffsetNs;
  }
  sleep(ns: bigint): void {
    if (ns > 0n) this.#monoNs += ns;
  }
  schedule(ms: number, fn: () => void): () => void {
    const timer = { dueNs: this.#monoNs + BigInt(Math.round(Math.max(0, ms) * 1e6)), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Scheduled functions not yet run. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  advanceMs(ms: number): void {
    if (ms < 0) throw new RangeError('a clock does not run backwards');
    const target = this.#monoNs + BigInt(Math.round(ms * 1e6));
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      if (next.dueNs > this.#monoNs) this.#monoNs = next.dueNs;
      next.fn();
    }
    if (target > this.#monoNs) this.#monoNs = target;
  }

  #nextDue(limit: bigint): { dueNs: bigint; seq: number; fn: () => void } | undefined {
    let best: { dueNs: bigint; seq: number; fn: () => void } | undefined;
    for (const t of this.#timers) {
      if (t.dueNs > limit) continue;
      if (!best || t.dueNs < best.dueNs || (t.dueNs === best.dueNs && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
