/**
 * The response cache behind duplicate detection of confirmable requests, with bounded memory.
 *
 * RFC 7252 section 4.5: a duplicate CON request gets the same response again and is processed
 * once. node-coap 1.5.0 does this with an LRU cache of every response for EXCHANGE_LIFETIME
 * (247 s, section 4.8.2) whose size accounting counts only payload bytes, while each entry also
 * keeps the response's retransmission sender alive together with a 202-second timer: at 1,000
 * requests/s that is over 1 GB (issue 7). This cache replaces it (server.ts installs it as
 * node-coap's `_lru`, the only interface node-coap uses: peek, set, delete, clear, purgeStale)
 * and is bounded three ways:
 *
 *  - time: an entry lives EXCHANGE_LIFETIME at most, as the RFC asks;
 *  - per client address: one host holds at most `perAddress` entries, its own oldest forgotten
 *    first, so one busy or hostile host cannot push everybody else's exchanges out;
 *  - in total: at most `total` entries, the oldest forgotten first.
 *
 * Forgetting an exchange early costs little: every request the gateway serves is idempotent
 * (GET, FETCH, PUT /temp/alert, and POST used as FETCH), and section 4.5 allows duplicate
 * processing for those ("This rule MAY be relaxed in case the Confirmable message transports a
 * request that is idempotent"): a late retransmission is answered again, freshly.
 *
 * Entries that need no retransmission (piggybacked ACKs, NON and RST messages) keep only their
 * bytes, as a one-byte string (no Buffer, no backing store: about half the memory per entry);
 * the sender node-coap attaches is stopped and dropped as soon as it has sent.
 * Confirmable responses (a separate response, section 5.2.2) keep their sender until the
 * client's ACK or RST deletes the entry, or the entry is forgotten; then the sender stops, as
 * with node-coap's own cache.
 */
import { MessageType } from './coap-wire.ts';

/** EXCHANGE_LIFETIME with the default transmission parameters (RFC 7252 section 4.8.2). */
export const EXCHANGE_LIFETIME_MS = 247_000;

const SWEEP_INTERVAL_MS = 100;

export interface ResponseCacheLimits {
  /** Entries one client address may hold. */
  perAddress: number;
  /** Entries in all. */
  total: number;
  /** How long an entry is kept at most. */
  lifetimeMs: number;
}

/**
 * 16,384 entries of at most a CoAP message each (1,152 bytes, section 4.6; a reading is under
 * 100) bound the cache to about 20 MB in the worst case and a few MB in practice. 1,024 per
 * address still covers a client's whole retransmission window (MAX_TRANSMIT_SPAN, 45 s) at
 * over 20 requests a second.
 */
export const DEFAULT_RESPONSE_CACHE_LIMITS: ResponseCacheLimits = { perAddress: 1024, total: 16_384, lifetimeMs: EXCHANGE_LIFETIME_MS };

/** What node-coap stores: the encoded message, with the retransmission sender it attaches after storing it. */
export type CachedMessage = Buffer & { sender?: { reset(): void }; response?: unknown };

interface Entry {
  /** A message sent once (ACK, NON, RST): its bytes, latin1. */
  bytes: string | undefined;
  /** A confirmable message: node-coap's object, whose sender retransmits it until ACKed. */
  message: CachedMessage | undefined;
  address: string;
  expiresAt: number;
}

export interface ResponseCacheStats {
  entries: number;
  /** Entries forgotten before their lifetime because a bound was reached. */
  evicted: number;
  /** Lookups that found a live exchange: duplicate requests answered again, and ACKs or RSTs of separate responses. */
  matches: number;
}

export class ResponseCache {
  readonly #now: () => number;
  readonly #limits: ResponseCacheLimits;
  /** key -> entry, in insertion order, so the oldest (and first to expire) come first. */
  readonly #entries = new Map<string, Entry>();
  /** address -> that address's keys, in insertion order. */
  readonly #byAddress = new Map<string, Set<string>>();
  #evicted = 0;
  #matches = 0;
  /** Expired entries are swept at most this often from set() (peek checks expiry itself). */
  #nextSweepAt = 0;
  /** Messages sent without retransmission whose senders are to be dropped after this tick. */
  #detach: CachedMessage[] = [];
  /** node-coap's listen() stores its prune interval here and close() clears it. */
  pruneTimer: NodeJS.Timeout | undefined;

  constructor(now: () => number, limits: Partial<ResponseCacheLimits> = {}) {
    this.#now = now;
    this.#limits = { ...DEFAULT_RESPONSE_CACHE_LIMITS, ...limits };
    for (const [name, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`response cache limit ${name} must be a positive integer, got ${v}`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get stats(): ResponseCacheStats {
    return { entries: this.#entries.size, evicted: this.#evicted, matches: this.#matches };
  }

  /** The cached message for a key, if it has not expired. node-coap resends it, or ends its exchange. */
  peek(key: string): CachedMessage | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#remove(key, entry);
      return undefined;
    }
    this.#matches++;
    return entry.message ?? (Buffer.from(entry.bytes!, 'latin1') as CachedMessage);
  }

  set(key: string, message: CachedMessage): this {
    const now = this.#now();
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(key, old);
    if (now >= this.#nextSweepAt) {
      this.#purgeExpired(now);
      this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
    }

    const address = addressOf(key);
    const own = this.#byAddress.get(address);
    while (own !== undefined && own.size >= this.#limits.perAddress) this.#evict(own.values().next().value!);
    while (this.#entries.size >= this.#limits.total) this.#evict(this.#entries.keys().next().value!);
    // Looked up after evicting: taking this address's last entry out drops its set.
    let keys = this.#byAddress.get(address);
    if (keys === undefined) {
      keys = new Set();
      this.#byAddress.set(address, keys);
    }

    const confirmable = typeOf(message) === MessageType.CON;
    this.#entries.set(key, { bytes: confirmable ? undefined : message.toString('latin1'), message: confirmable ? message : undefined, address, expiresAt: now + this.#limits.lifetimeMs });
    keys.add(key);
    // node-coap attaches the sender right after storing the message and sends at once; a
    // message that is never retransmitted needs it no longer (its only timer, MAX_RTT long,
    // would keep it and the message alive for 202 s). One microtask per burst drops them all.
    if (!confirmable && this.#detach.push(message) === 1) queueMicrotask(this.#detachAll);
    return this;
  }

  readonly #detachAll = (): void => {
    for (const message of this.#detach) {
      message.sender?.reset();
      delete message.sender;
    }
    this.#detach = [];
  };

  /** The client's ACK or RST ended the exchange (node-coap calls this), or the entry is forgotten. */
  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#remove(key, entry);
    return true;
  }

  clear(): void {
    for (const entry of this.#entries.values()) entry.message?.sender?.reset();
    this.#entries.clear();
    this.#byAddress.clear();
  }

  purgeStale(): boolean {
    const before = this.#entries.size;
    this.#purgeExpired(this.#now());
    return this.#entries.size < before;
  }

  #purgeExpired(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break; // one lifetime for all: expiry follows insertion order
      this.#remove(key, entry);
    }
  }

  #evict(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#evicted++;
    this.#remove(key, entry);
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    const keys = this.#byAddress.get(entry.address);
    if (keys !== undefined) {
      keys.delete(key);
      if (keys.size === 0) this.#byAddress.delete(entry.address);
    }
    // As node-coap's own cache does on disposal: a confirmable response stops retransmitting.
    entry.message?.sender?.reset();
  }
}

/**
 * node-coap's keys are `${clientIdentifier}/${messageId}[token hex]`, and its client identifier
 * is `${address}:${port}`: the address is what comes before the last ':' of the part before '/'.
 */
function addressOf(key: string): string {
  const client = key.slice(0, key.lastIndexOf('/'));
  const colon = client.lastIndexOf(':');
  return colon < 0 ? client : client.slice(0, colon);
}

/** The message type, bits 5-4 of the first byte (RFC 7252 section 3). */
function typeOf(message: Buffer): number {
  return message.length > 0 ? (message[0]! >> 4) & 0x03 : MessageType.CON;
}
