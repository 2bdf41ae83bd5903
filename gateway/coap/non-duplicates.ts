/**
 * Duplicate detection for Non-confirmable requests. node-coap's response cache catches
 * duplicate CONs, not NONs, yet a NON may arrive twice (a retrying client, a network that
 * duplicates), and RFC 7252 section 4.5 says the recipient SHOULD silently ignore the
 * duplicate and process the request only once. A (peer, Message ID) pair is remembered for
 * NON_LIFETIME (145 s, section 4.8.2), at most `maxEntries` of them, oldest forgotten first.
 */
export const NON_LIFETIME_MS = 145_000;

export class NonDuplicateFilter {
  readonly #now: () => number;
  readonly #lifetimeMs: number;
  readonly #maxEntries: number;
  /** key -> expiry; a Map iterates in insertion order, so the oldest come first. */
  readonly #seen = new Map<string, number>();

  constructor(now: () => number, options: { lifetimeMs?: number; maxEntries?: number } = {}) {
    this.#now = now;
    this.#lifetimeMs = options.lifetimeMs ?? NON_LIFETIME_MS;
    this.#maxEntries = options.maxEntries ?? 20_000;
  }

  /** True when this peer sent this Message ID within the lifetime; otherwise remembers it. */
  isDuplicate(address: string, port: number, messageId: number): boolean {
    const now = this.#now();
    const key = `${address}|${port}|${messageId}`;
    const expiry = this.#seen.get(key);
    if (expiry !== undefined && expiry > now) return true;
    this.#seen.delete(key);
    this.#seen.set(key, now + this.#lifetimeMs);
    for (const [k, e] of this.#seen) {
      if (e > now && this.#seen.size <= this.#maxEntries) break;
      this.#seen.delete(k);
    }
    return false;
  }
}
