/**
 * A token bucket for a module's bus transactions: `burst` transactions at once, refilled at
 * `perSecond`. Time comes from the module's Clock, so a test on a ManualClock sees exactly
 * the refills its clock allows, and a worker on a shared ManualClock refills with it.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';

export interface RateLimit {
  /** Sustained transactions per second (> 0). */
  perSecond: number;
  /** Transactions allowed back to back after a quiet spell (>= 1). */
  burst: number;
}

export const DEFAULT_I2C_RATE_LIMIT: RateLimit = { perSecond: 200, burst: 50 };

export class TokenBucket {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number;

  constructor(limit: RateLimit, clock: Clock) {
    if (!(limit.perSecond > 0) || !Number.isFinite(limit.perSecond)) throw new RangeError(`rate limit perSecond must be a positive number, got ${limit.perSecond}`);
    if (!Number.isInteger(limit.burst) || limit.burst < 1) throw new RangeError(`rate limit burst must be a positive integer, got ${limit.burst}`);
    this.#clock = clock;
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst;
    this.#tokens = limit.burst;
    this.#lastMs = monotonicMs(clock);
  }

  /** Takes one token; false (and nothing taken) when the bucket is empty. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is back (0 when one is available now). */
  get retryAfterMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  #refill(): void {
    const now = monotonicMs(this.#clock);
    const elapsed = now - this.#lastMs;
    this.#lastMs = now;
    if (elapsed > 0) this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
  }
}
