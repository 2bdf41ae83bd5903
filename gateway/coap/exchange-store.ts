/**
 * Duplicate detection (RFC 7252 section 4.5): a message is a duplicate when the same endpoint
 * (address and port) sent the same Message ID within the exchange lifetime, whatever its token.
 * A duplicate CON request gets the same reply again and is processed once; a duplicate NON is
 * silently ignored. Every request the gateway takes is recorded here first; its reply's bytes
 * are recorded when it leaves.
 *
 * Lifetimes are section 4.8.2's: EXCHANGE_LIFETIME (247 s) for a CON, NON_LIFETIME (145 s) for
 * a NON. Memory is bounded two more ways: one client address holds at most `perAddress`
 * entries (its own oldest forgotten first, so one busy or hostile host cannot push everybody
 * else's exchanges out) and all addresses together at most `total`. Forgetting early costs
 * little: every request the gateway serves is idempotent (GET, FETCH, PUT of settings), and
 * section 4.5 lets such a request be processed again.
 *
 * A reply is kept as a one-byte-per-character string: no Buffer, so no pooled 8 KiB slab kept
 * alive by a 60-byte slice of it.
 */

/** EXCHANGE_LIFETIME and NON_LIFETIME with the default transmission parameters (RFC 7252 section 4.8.2). */
export const EXCHANGE_LIFETIME_MS = 247_000;
export const NON_LIFETIME_MS = 145_000;

export interface ExchangeLimits {
  /** Entries one client address may hold. */
  perAddress: number;
  /** Entries in all. */
  total: number;
}

/**
 * 16,384 entries of at most one reply each (a reading is under 100 bytes; a block at most
 * 1,024 + options) bound the store to about 20 MB in the worst case, a few MB in practice.
 * 1,024 per address cover a client's whole retransmission window (MAX_TRANSMIT_SPAN, 45 s) at
 * over 20 requests a second.
 */
export const DEFAULT_EXCHANGE_LIMITS: ExchangeLimits = { perAddress: 1024, total: 16_384 };

/** One request between its arrival and the end of its lifetime. */
export interface Exchange {
  readonly key: string;
  readonly address: string;
  readonly confirmable: boolean;
  readonly arrivedAt: number;
  readonly expiresAt: number;
  /** The request's size. */
  readonly requestBytes: number;
  /** The reply as sent (latin1), once there is one. */
  reply: string | undefined;
  /** An Empty ACK went out because the reply was late (RFC 7252 section 5.2.2): a duplicate gets it again. */
  emptyAckSent: boolean;
}

export interface ExchangeStats {
  entries: number;
  /** Entries forgotten before their lifetime because a bound was reached. */
  evicted: number;
  /** Duplicates recognised. */
  duplicates: number;
}

const SWEEP_INTERVAL_MS = 100;

export class ExchangeStore {
  readonly #now: () => number;
  readonly #limits: ExchangeLimits;
  /** key -> exchange, in arrival order. */
  readonly #entries = new Map<string, Exchange>();
  /** address -> that address's keys, in arrival order. */
  readonly #byAddress = new Map<string, Set<string>>();
  #evicted = 0;
  #duplicates = 0;
  #nextSweepAt = 0;

  constructor(now: () => number, limits: Partial<ExchangeLimits> = {}) {
    this.#now = now;
    this.#limits = { ...DEFAULT_EXCHANGE_LIMITS, ...limits };
    for (const [name, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`exchange limit ${name} must be a positive integer, got ${v}`);
    }
  }

  get stats(): ExchangeStats {
    return { entries: this.#entries.size, evicted: this.#evicted, duplicates: this.#duplicates };
  }

  /**
   * The exchange this message ID from this endpoint belongs to if it is a duplicate; otherwise
   * undefined, and the message is recorded as a new exchange (returned through `begun`).
   */
  take(address: string, port: number, messageId: number, confirmable: boolean, requestBytes = 0): { duplicate: Exchange } | { begun: Exchange } {
    const now = this.#now();
    const key = `${address}|${port}|${messageId}`;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      if (old.expiresAt > now) {
        this.#duplicates++;
        return { duplicate: old };
      }
      this.#remove(old);
    }
    if (now >= this.#nextSweepAt) {
      this.#sweep(now);
      this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
    }
    let keys = this.#byAddress.get(address);
    while (keys !== undefined && keys.size >= this.#limits.perAddress) {
      this.#evict(keys.values().next().value!);
      keys = this.#byAddress.get(address);
    }
    while (this.#entries.size >= this.#limits.total) this.#evict(this.#entries.keys().next().value!);
    keys = this.#byAddress.get(address);
    if (keys === undefined) {
      keys = new Set();
      this.#byAddress.set(address, keys);
    }
    const exchange: Exchange = { key, address, confirmable, arrivedAt: now, expiresAt: now + (confirmable ? EXCHANGE_LIFETIME_MS : NON_LIFETIME_MS), requestBytes, reply: undefined, emptyAckSent: false };
    this.#entries.set(key, exchange);
    keys.add(key);
    return { begun: exchange };
  }

  clear(): void {
    this.#entries.clear();
    this.#byAddress.clear();
  }

  /**
   * Drops exchanges past the longest lifetime, oldest first (arrival order). A NON exchange is
   * a duplicate only until its own, shorter lifetime (take() checks), but its entry may stay
   * until then: bounded memory, not correctness.
   */
  #sweep(now: number): void {
    for (const e of this.#entries.values()) {
      if (e.arrivedAt + EXCHANGE_LIFETIME_MS > now) break;
      this.#remove(e);
    }
  }

  #evict(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#evicted++;
    this.#remove(e);
  }

  #remove(e: Exchange): void {
    this.#entries.delete(e.key);
    const keys = this.#byAddress.get(e.address);
    if (keys === undefined) return;
    keys.delete(e.key);
    if (keys.size === 0) this.#byAddress.delete(e.address);
  }
}
