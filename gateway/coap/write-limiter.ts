/**
 * A token bucket per client for the requests that change something (every method but GET and
 * FETCH; the server decides which to charge): `burst` writes back to back, then `perSecond`.
 * Past it the client gets 4.29 Too Many Requests (RFC 8516 section 4) with Max-Age the time
 * until its next write may go (error-response.ts turns details.retryAfterMs into Max-Age).
 *
 * The key is the OSCORE client's credentials name when the request was protected (one client,
 * whatever address it writes from), else the source address as the socket reports it.
 *
 * Memory stays bounded whatever sources a flood uses: at most `maxClients` buckets, the least
 * recently used one evicted when a new client comes. Evicting is safe: a client whose bucket
 * was dropped comes back with a full burst, so a flood from more sources than maxClients (a
 * spoofed-source flood, or one host walking its IPv6 /64) can get more writes through than
 * the per-client rate says, but every sensor also has a write budget of its own, for all
 * clients together (SensorService.setAlertSettings, `alertWriteBudget`), which keeps writes
 * from taking the bus time that reads and observers need. This limiter is about fairness
 * between clients; the sensor's budget is what protects the bus.
 */
import { GatewayError } from '../errors.ts';
import type { Requester } from './access-policy.ts';

export const DEFAULT_MAX_WRITE_CLIENTS = 4096;

/**
 * Credit in milliseconds of refill rather than in tokens: elapsed time adds to it as it is, so
 * with a millisecond clock a write at 2/s costs exactly 500 and no sum of 0.002s falls a hair
 * short of a whole token.
 */
interface Bucket {
  creditMs: number;
  lastMs: number;
}

export class WriteLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  /** What one write costs, and what a full bucket holds, in ms of refill. */
  readonly #costMs: number;
  readonly #capacityMs: number;
  readonly #now: () => number;
  readonly #maxClients: number;
  /** Insertion order is recency order: a client's bucket is moved to the end on every write. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: { perSecond: number; burst: number }, now: () => number, maxClients = DEFAULT_MAX_WRITE_CLIENTS) {
    if (!(rate.perSecond > 0) || !Number.isFinite(rate.perSecond)) throw new RangeError(`write rate perSecond must be a positive number, got ${rate.perSecond}`);
    if (!Number.isInteger(rate.burst) || rate.burst < 1) throw new RangeError(`write rate burst must be a positive integer, got ${rate.burst}`);
    if (!Number.isInteger(maxClients) || maxClients < 1) throw new RangeError(`maxClients must be a positive integer, got ${maxClients}`);
    this.#perSecond = rate.perSecond;
    this.#burst = rate.burst;
    this.#costMs = 1000 / rate.perSecond;
    this.#capacityMs = rate.burst * this.#costMs;
    this.#now = now;
    this.#maxClients = maxClients;
  }

  /** Clients with a bucket now (at most maxClients). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * undefined when the write may go (one token taken); else GW_ERR_WRITE_RATE_LIMITED with
   * details.retryAfterMs, and nothing taken.
   */
  take(who: Requester): GatewayError | undefined {
    // Prefixed so that no address can share a bucket with an OSCORE client or the reverse.
    const key = who.oscoreClient !== undefined ? `oscore:${who.oscoreClient}` : `ip:${who.address}`;
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { creditMs: this.#capacityMs, lastMs: now };
    } else {
      this.#buckets.delete(key);
      const elapsed = now - bucket.lastMs;
      if (elapsed > 0) bucket.creditMs = Math.min(this.#capacityMs, bucket.creditMs + elapsed);
      bucket.lastMs = Math.max(bucket.lastMs, now);
    }
    this.#buckets.set(key, bucket);
    if (bucket.creditMs >= this.#costMs) {
      bucket.creditMs -= this.#costMs;
      return undefined;
    }
    const retryAfterMs = Math.ceil(this.#costMs - bucket.creditMs);
    return new GatewayError('GW_ERR_WRITE_RATE_LIMITED', { retryAfterMs, detail: `${key} over ${this.#perSecond} writes/s (burst ${this.#burst})` });
  }
}
