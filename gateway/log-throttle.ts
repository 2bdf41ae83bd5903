/**
 * One log line per key and interval. A failure that every request of a flood repeats (a
 * sensor unplugged while clients keep asking) would otherwise write a line per request:
 * CPU on the hot path, a flooded journal, and, with stderr on a slow pipe, memory that
 * grows with the backlog. The first occurrence is logged at once; later ones within the
 * interval are counted and reported with the next line that gets through.
 */
export class LogThrottle {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(now: () => number, options: { intervalMs?: number; maxKeys?: number } = {}) {
    this.#now = now;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#maxKeys = options.maxKeys ?? 1000;
  }

  /** Undefined: stay silent this time. A number: log now, noting that many lines held back since the last. */
  take(key: string): number | undefined {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return undefined;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#last.delete(key);
    // Bounded like everything a client can make grow: the oldest key is forgotten first.
    if (this.#last.size >= this.#maxKeys) this.#last.delete(this.#last.keys().next().value!);
    this.#last.set(key, { at: now, suppressed: 0 });
    return suppressed;
  }
}
