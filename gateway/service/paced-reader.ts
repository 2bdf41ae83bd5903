/**
 * Reads paced by the sensor. A sensor produces a new value once per conversion period (TMP102:
 * 0.25, 1, 4 or 8 Hz; SBOS397 "Conversion Rate"), so reading its bus more often only repeats
 * the same value. Here:
 *   - concurrent requests share one in-flight read;
 *   - a reading is reused for one conversion period after it was taken, never longer;
 *   - a failed read is reported as a failure to everyone who asks during the next
 *     period (or the sensor's retry time, if shorter): never replaced by an older value, and
 *     the bus is not hammered while a sensor is absent.
 * So bus reads per second stay at or below the conversion rate whatever the request rate.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { Reading } from '../host/sensor-module.ts';

export interface FreshReading<R extends Reading = Reading> {
  reading: R;
  /** How much longer the value is the sensor's latest (milliseconds from now). */
  freshForMs: number;
  /** True when served without a bus read. */
  fromCache: boolean;
}

export interface PacingStats {
  /** Reads that went to the module (and so to the bus). */
  sourceReads: number;
  /** Requests answered from the last reading or the last failure. */
  cacheHits: number;
  /** Requests that joined a read already in flight. */
  sharedReads: number;
}

export interface PacedReaderOptions {
  clock: Clock;
  /** The sensor's conversion period; undefined until the module has announced it. */
  periodMs: () => number | undefined;
  /** Default true. False: every request reads the sensor; nothing is reused or shared. */
  enabled?: boolean;
}

type Outcome<R> = { ok: true; reading: R; at: number; until: number } | { ok: false; error: GatewayError; until: number };

/** `R`: what the read function returns (the service's readings carry where they came from). */
export class PacedReader<R extends Reading = Reading> {
  readonly #read: () => R | Promise<R>;
  readonly #clock: Clock;
  readonly #periodMs: () => number | undefined;
  readonly #enabled: boolean;
  #last: Outcome<R> | undefined;
  #inFlight: { promise: Promise<Outcome<R>>; generation: number } | undefined;
  /** Bumped by invalidate(): a read begun before it must not be taken for one begun after. */
  #generation = 0;
  #stats: PacingStats = { sourceReads: 0, cacheHits: 0, sharedReads: 0 };

  constructor(read: () => R | Promise<R>, options: PacedReaderOptions) {
    this.#read = read;
    this.#clock = options.clock;
    this.#periodMs = options.periodMs;
    this.#enabled = options.enabled ?? true;
  }

  get stats(): PacingStats {
    return { ...this.#stats };
  }

  /**
   * Forget the last outcome: the next request reads the sensor (an ALERT edge, a reload). A
   * read already in flight began before the event, so later requests do not join it, and its
   * result is not kept as the latest value.
   */
  invalidate(): void {
    this.#last = undefined;
    this.#generation++;
  }

  /**
   * The latest reading, if it is still the sensor's latest, without reading or waiting; counted
   * as a cache hit. Undefined when a read is due, or the last outcome was a failure: then
   * read() is the way (it reports the failure, or reads).
   */
  peek(): FreshReading<R> | undefined {
    const last = this.#last;
    if (!this.#enabled || !last?.ok) return undefined;
    const now = monotonicMs(this.#clock);
    if (now >= last.until) return undefined;
    this.#stats.cacheHits++;
    return { reading: last.reading, freshForMs: last.until - now, fromCache: true };
  }

  async read(): Promise<FreshReading<R>> {
    const now = monotonicMs(this.#clock);
    if (!this.#enabled) return this.#settle(await this.#readOnce(now, this.#generation), monotonicMs(this.#clock), false);
    const last = this.#last;
    if (last && now < last.until) {
      this.#stats.cacheHits++;
      return this.#settle(last, now, true);
    }
    if (this.#inFlight && this.#inFlight.generation === this.#generation) {
      this.#stats.sharedReads++;
      const outcome = await this.#inFlight.promise;
      return this.#settle(outcome, monotonicMs(this.#clock), false);
    }
    const flight = { promise: this.#readOnce(now, this.#generation), generation: this.#generation };
    this.#inFlight = flight;
    try {
      const outcome = await flight.promise;
      return this.#settle(outcome, monotonicMs(this.#clock), false);
    } finally {
      if (this.#inFlight === flight) this.#inFlight = undefined;
    }
  }

  async #readOnce(startedAt: number, generation: number): Promise<Outcome<R>> {
    this.#stats.sourceReads++;
    const period = this.#periodMs();
    let outcome: Outcome<R>;
    try {
      const reading = await this.#read();
      const p = this.#periodMs() ?? period ?? 0;
      // Fresh for one period from when the read began: the chip's register cannot hold a value
      // older than one period then, so it never holds a newer one later than that.
      outcome = { ok: true, reading, at: startedAt, until: startedAt + p };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      const p = this.#periodMs() ?? period ?? 0;
      const retry = err.details.retryAfterMs;
      const hold = retry !== undefined ? Math.min(retry, p || retry) : p;
      outcome = { ok: false, error: err, until: startedAt + hold };
    }
    if (generation === this.#generation) this.#last = outcome;
    return outcome;
  }

  #settle(outcome: Outcome<R>, now: number, fromCache: boolean): FreshReading<R> {
    if (outcome.ok) return { reading: outcome.reading, freshForMs: Math.max(0, outcome.until - now), fromCache };
    const left = Math.max(0, outcome.until - now);
    const e = outcome.error;
    if (!fromCache || e.details.retryAfterMs === undefined) throw e;
    // The same failure, with the retry time counted down to now.
    throw e.withRetryAfter(Math.max(1, Math.ceil(left)));
  }
}
