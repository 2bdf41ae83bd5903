/**
 * Duplicate detection (RFC 7252 section 4.5): a message is a duplicate when the same endpoint
 * (address and port) sent the same Message ID within the exchange lifetime, whatever its token.
 * A duplicate CON request gets the same reply again and is processed once; a duplicate NON is
 * silently ignored. Every request the gateway takes is recorded here first; its reply's bytes
 * are recorded when it leaves.
 *
 * Lifetimes are section 4.8.2's: EXCHANGE_LIFETIME (247 s) for a CON, NON_LIFETIME (145 s) for
 * a NON. Memory is bounded three more ways: one client address holds at most `perAddress`
 * entries (its own oldest forgotten first, so one busy or hostile host cannot push everybody
 * else's exchanges out), all addresses together at most `total`, and at most `totalBytes`
 * (exchangeBytes: each entry's fixed cost, its key and its reply; ADDRESS_BYTES per address),
 * the oldest forgotten first.
 * Forgetting early costs little: every request the gateway serves is idempotent (GET, FETCH,
 * PUT of settings), and section 4.5 lets such a request be processed again.
 *
 * A reply is kept as a one-byte-per-character string: no Buffer, so no pooled 8 KiB slab kept
 * alive by a 60-byte slice of it. Keys are flat strings (flat-string.ts).
 */

import { flat, stringBytes } from './flat-string.ts';

/** EXCHANGE_LIFETIME and NON_LIFETIME with the default transmission parameters (RFC 7252 section 4.8.2). */
export const EXCHANGE_LIFETIME_MS = 247_000;
export const NON_LIFETIME_MS = 145_000;

export interface ExchangeLimits {
  /** Entries one client address may hold. */
  perAddress: number;
  /** Entries in all. */
  total: number;
  /** Bytes in all, each entry charged exchangeBytes(). */
  totalBytes: number;
}

/**
 * What an exchange holds besides its key and reply: the Exchange object and its two timestamps
 * (boxed doubles), its address string (each datagram brings its own), its entries in the
 * store's map and in its address's set: about 260 bytes measured (test/exchange-store.test.ts
 * checks the charge against the heap).
 */
export const EXCHANGE_BYTES = 320;
/** An address's set of keys and its entry in the map of addresses: about 125 bytes measured. */
export const ADDRESS_BYTES = 160;

/** The bytes an exchange is charged: EXCHANGE_BYTES, its key, and its reply once there is one. */
export function exchangeBytes(keyLength: number, replyLength: number | undefined): number {
  return EXCHANGE_BYTES + stringBytes(keyLength) + (replyLength === undefined ? 0 : stringBytes(replyLength));
}

/**
 * 1,024 per address cover a client's whole retransmission window (MAX_TRANSMIT_SPAN, 45 s) at
 * over 20 requests a second. In bytes (exchangeBytes, keys of about 40 characters): a NON
 * request's exchange keeps no reply, 376 bytes, so 16,384 are 5.9 MiB and the entry bound is
 * the one that holds; a CON reading's (a 70-byte reply) is 464 bytes, or 624 from an address
 * of its own: 16,384 would be 7.3 to 9.8 MiB; the largest reply (a 1,024-byte block with its
 * options and an 8-byte token, about 1,100 bytes) makes 1.6 KiB, and 16,384 of those 25 MiB.
 * The 6 MiB budget keeps 10,000 to 13,500 readings' exchanges, 3,900 of the largest. Under a
 * load that fills it (the gateway answers 37,000 requests a second) the entry bound alone
 * forgot an exchange within 0.5 s, before any retransmission (2 s at the earliest) could come;
 * at a rate a device sends, the store holds each exchange its whole lifetime.
 */
export const DEFAULT_EXCHANGE_LIMITS: ExchangeLimits = { perAddress: 1024, total: 16_384, totalBytes: 6 * 2 ** 20 };

/** One request between its arrival and the end of its lifetime. */
export interface Exchange {
  readonly key: string;
  readonly address: string;
  readonly confirmable: boolean;
  readonly arrivedAt: number;
  readonly expiresAt: number;
  /** The request's size. */
  readonly requestBytes: number;
  /** The reply as sent (latin1), once there is one: ExchangeStore.recordReply sets it. */
  readonly reply: string | undefined;
  /** An Empty ACK went out because the reply was late (RFC 7252 section 5.2.2): a duplicate gets it again. */
  emptyAckSent: boolean;
}

export interface ExchangeStats {
  entries: number;
  /** Bytes charged by the entries (exchangeBytes), at most the `totalBytes` bound. */
  bytes: number;
  /** Entries forgotten before their lifetime because a bound was reached, in entries or in bytes. */
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
  #bytes = 0;
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
    return { entries: this.#entries.size, bytes: this.#bytes, evicted: this.#evicted, duplicates: this.#duplicates };
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
    const bytes = exchangeBytes(key.length, undefined);
    const over = () => this.#bytes + bytes + (this.#byAddress.has(address) ? 0 : ADDRESS_BYTES) > this.#limits.totalBytes;
    while (this.#entries.size >= this.#limits.total || (this.#entries.size > 0 && over())) this.#evict(this.#entries.keys().next().value!);
    keys = this.#byAddress.get(address);
    if (keys === undefined) {
      keys = new Set();
      this.#byAddress.set(address, keys);
      this.#bytes += ADDRESS_BYTES;
    }
    const exchange: Exchange = { key: flat(key), address, confirmable, arrivedAt: now, expiresAt: now + (confirmable ? EXCHANGE_LIFETIME_MS : NON_LIFETIME_MS), requestBytes, reply: undefined, emptyAckSent: false };
    this.#entries.set(exchange.key, exchange);
    keys.add(exchange.key);
    this.#bytes += bytes;
    return { begun: exchange };
  }

  /**
   * The reply sent for an exchange, kept for its duplicates. Its bytes count against
   * `totalBytes`: past it the oldest exchanges are forgotten, this one too if it is the oldest.
   */
  recordReply(e: Exchange, datagram: Uint8Array): void {
    if (this.#entries.get(e.key) !== e) return; // forgotten already: nothing to answer a duplicate with
    const reply = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString('latin1');
    this.#bytes += exchangeBytes(e.key.length, reply.length) - exchangeBytes(e.key.length, e.reply?.length);
    (e as { reply: string | undefined }).reply = reply;
    while (this.#bytes > this.#limits.totalBytes && this.#entries.size > 0) this.#evict(this.#entries.keys().next().value!);
  }

  clear(): void {
    this.#entries.clear();
    this.#byAddress.clear();
    this.#bytes = 0;
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
    if (!this.#entries.delete(e.key)) return;
    this.#bytes -= exchangeBytes(e.key.length, e.reply?.length);
    const keys = this.#byAddress.get(e.address);
    if (keys === undefined) return;
    keys.delete(e.key);
    if (keys.size === 0) {
      this.#byAddress.delete(e.address);
      this.#bytes -= ADDRESS_BYTES;
    }
  }
}
