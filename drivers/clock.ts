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
 * The top of `--time-scale` (the bottom is 1: the simulated world never runs slower than the
 * network around it). Three things bound it:
 * - Node's timers resolve whole milliseconds (a shorter delay is 1 ms): a timer of this clock
 *   is off by up to about 1 real ms, that is `rate` simulated ms. At 1000 that is a simulated
 *   second, four periods of a TMP102 at 4 Hz (250 ms): the feed then reads about every fourth
 *   conversion, and c.pmin/c.pmax under a second lose their meaning. Past it, more is lost.
 * - Work grows with the rate: the feed reads once per simulated conversion period, so N times as
 *   often in real time; at 1000 and 4 Hz it would read every 0.25 real ms, and reads once a
 *   real millisecond, the most a timer allows (docs/simulation.md has the CPU it costs).
 * - Nothing is gained past it: a simulated day at 1000 takes under a minute and a half.
 */
export const MAX_TIME_SCALE = 1000;

/** What another thread needs to build a {@link ScaledClock} showing the same time (structured-cloneable). */
export interface ScaledClockState {
  readonly rate: number;
  /** process.hrtime of the origin: the same CLOCK_MONOTONIC source in every thread of the process. */
  readonly originNs: bigint;
  /** Simulated wall-clock nanoseconds at the origin. */
  readonly startEpochNs: bigint;
}

/** Rate resolution: the rate is kept as an exact fraction over this, so scaled time never runs backwards. */
const RATE_DENOMINATOR = 1_000_000n;

/**
 * Real time running `rate` times faster (`--time-scale`): a simulated world (the chip's
 * conversions, the pacing, Observe periods, Max-Age) that lives a day in minutes. Monotonic
 * time is the machine's, scaled from the moment of construction; wall-clock time starts at the
 * real wall clock then (or `startEpochMs`) and advances at the same rate, so a reading's
 * timestamp moves `rate` times faster than a device's own clock and agrees with the Max-Age
 * and the scenario. `sleep` and `schedule` take this clock's time: they wait 1/rate of it.
 *
 * A module's worker thread builds the same clock from {@link share}: process.hrtime reads the
 * one monotonic clock of the process (libuv's uv_hrtime, CLOCK_MONOTONIC) from every thread,
 * so both threads see the same time without sharing memory.
 */
export class ScaledClock implements Clock {
  readonly rate: number;
  readonly #rateNumerator: bigint;
  // Not readonly only so that sharing() can set them; nothing changes them after that.
  #originNs: bigint;
  #startEpochNs: bigint;

  constructor(rate: number, options: { startEpochMs?: number } = {}) {
    ScaledClock.#check(rate);
    this.rate = rate;
    this.#rateNumerator = BigInt(Math.round(rate * Number(RATE_DENOMINATOR)));
    this.#originNs = process.hrtime.bigint();
    this.#startEpochNs = options.startEpochMs !== undefined ? BigInt(Math.round(options.startEpochMs * 1e6)) : new SystemClock().realtimeNs();
  }

  /** The same clock in another thread (module-worker.ts), from {@link share}. */
  static sharing(state: ScaledClockState): ScaledClock {
    const clock = new ScaledClock(state.rate);
    clock.#originNs = state.originNs;
    clock.#startEpochNs = state.startEpochNs;
    return clock;
  }

  static #check(rate: number): void {
    if (!Number.isFinite(rate) || rate < 1 || rate > MAX_TIME_SCALE) throw new RangeError(`a time scale is a number from 1 to ${MAX_TIME_SCALE}, got ${rate}`);
  }

  /** What a {@link ScaledClock.sharing} in another thread is built from. */
  share(): ScaledClockState {
    return { rate: this.rate, originNs: this.#originNs, startEpochNs: this.#startEpochNs };
  }

  monotonicNs(): bigint {
    return this.#originNs + this.#scaledSinceOrigin();
  }
  realtimeNs(): bigint {
    return this.#startEpochNs + this.#scaledSinceOrigin();
  }
  sleep(ns: bigint): void {
    if (ns <= 0n) return;
    Atomics.wait(sleepCell, 0, 0, Number(ns) / 1e6 / this.rate);
  }
  schedule(ms: number, fn: () => void): () => void {
    const timer = setTimeout(fn, Math.max(0, ms) / this.rate);
    timer.unref();
    return () => clearTimeout(timer);
  }

  #scaledSinceOrigin(): bigint {
    return ((process.hrtime.bigint() - this.#originNs) * this.#rateNumerator) / RATE_DENOMINATOR;
  }
}

/**
 * What another thread needs to see a ManualClock's time: the shared monotonic cell and the
 * fixed offset to wall-clock time. Structured-cloneable (postMessage shares the buffer).
 */
export interface SharedClockState {
  /** One BigInt64 cell: monotonic nanoseconds. */
  readonly buffer: SharedArrayBuffer;
  readonly epochOffsetNs: bigint;
}

/**
 * A clock that only moves when told to. `sleep` advances it, so a guest that sleeps 35 ms
 * waiting for a conversion finds the simulated chip 35 ms older, without waiting. Scheduled
 * functions run from `advanceMs` (in time order, each seeing the clock at its due time), never
 * from `sleep`, which runs inside WebAssembly calls.
 *
 * The monotonic time lives in a SharedArrayBuffer so a module running in a worker thread sees
 * the same time and its sleeps move it ({@link SharedManualClockView}); every access is atomic.
 * Timers stay on the thread that owns the ManualClock.
 */
export class ManualClock implements Clock {
  readonly #mono: BigInt64Array;
  #epochOffsetNs: bigint;
  #timers: Array<{ dueNs: bigint; seq: number; fn: () => void }> = [];
  #seq = 0;

  constructor(options: { startEpochMs?: number; startMonotonicMs?: number } = {}) {
    this.#mono = new BigInt64Array(new SharedArrayBuffer(8));
    const startNs = BigInt(Math.round((options.startMonotonicMs ?? 1_000) * 1e6));
    Atomics.store(this.#mono, 0, startNs);
    // A fixed, plausible wall-clock start (2026-01-01T00:00:00Z) keeps test output stable.
    const epochMs = options.startEpochMs ?? Date.UTC(2026, 0, 1);
    this.#epochOffsetNs = BigInt(epochMs) * 1_000_000n - startNs;
  }

  /** The state a {@link SharedManualClockView} in another thread is built from. */
  share(): SharedClockState {
    return { buffer: this.#mono.buffer as SharedArrayBuffer, epochOffsetNs: this.#epochOffsetNs };
  }

  monotonicNs(): bigint {
    return Atomics.load(this.#mono, 0);
  }
  realtimeNs(): bigint {
    return this.monotonicNs() + this.#epochOffsetNs;
  }
  sleep(ns: bigint): void {
    if (ns > 0n) Atomics.add(this.#mono, 0, ns);
  }
  schedule(ms: number, fn: () => void): () => void {
    const timer = { dueNs: this.monotonicNs() + BigInt(Math.round(Math.max(0, ms) * 1e6)), seq: this.#seq++, fn };
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
    const target = this.monotonicNs() + BigInt(Math.round(ms * 1e6));
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#raiseTo(next.dueNs);
      next.fn();
    }
    this.#raiseTo(target);
  }

  // Never backwards, even when a worker's sleep moved the time on meanwhile.
  #raiseTo(ns: bigint): void {
    for (;;) {
      const now = Atomics.load(this.#mono, 0);
      if (now >= ns || Atomics.compareExchange(this.#mono, 0, now, ns) === now) return;
    }
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

/**
 * A ManualClock seen from another thread (a module's worker): the same time, and `sleep`
 * moves it for everyone, so a TMP102 one-shot wait in the worker ages the simulated chip on
 * the main thread. Timers are the owning thread's business: `schedule` throws here.
 */
export class SharedManualClockView implements Clock {
  readonly #mono: BigInt64Array;
  readonly #epochOffsetNs: bigint;

  constructor(state: SharedClockState) {
    this.#mono = new BigInt64Array(state.buffer, 0, 1);
    this.#epochOffsetNs = state.epochOffsetNs;
  }

  monotonicNs(): bigint {
    return Atomics.load(this.#mono, 0);
  }
  realtimeNs(): bigint {
    return this.monotonicNs() + this.#epochOffsetNs;
  }
  sleep(ns: bigint): void {
    if (ns > 0n) Atomics.add(this.#mono, 0, ns);
  }
  schedule(): () => void {
    throw new Error('a shared ManualClock view cannot schedule: timers run on the thread that owns the ManualClock');
  }
}
