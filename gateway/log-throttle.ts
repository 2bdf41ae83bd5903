/**
 * One log line per key and interval. A failure that every request of a flood repeats (a
 * sensor unplugged while clients keep asking) would otherwise write a line per request:
 * CPU on the hot path, a flooded journal, and, with stderr on a slow pipe, memory that
 * grows with the backlog. The first occurrence is logged at once; later ones within the
 * interval are counted and reported with the next line that gets through.
 *
 * The same holds for what a module can repeat in a loop (a refused bus transfer, a fault per
 * call): the WASM host keeps one throttle per sensor (gateway/host/sensor-module.ts). A module
 * in a worker thread is throttled there, before a line crosses to the main thread, and its
 * throttle's state goes with the worker's answers so a fresh worker carries on with it
 * (snapshot(), `from`).
 */
import type { LogFields, LogLevel, Logger } from './log.ts';

/** A throttle's state as plain data (it crosses postMessage): key, time of its last line, lines held back since. */
export type ThrottleSnapshot = [key: string, atMs: number, suppressed: number][];

export class LogThrottle {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(now: () => number, options: { intervalMs?: number; maxKeys?: number; from?: ThrottleSnapshot } = {}) {
    this.#now = now;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#maxKeys = options.maxKeys ?? 1000;
    for (const [key, at, suppressed] of (options.from ?? []).slice(-this.#maxKeys)) this.#last.set(key, { at, suppressed });
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

  /** The state, oldest key first, for a LogThrottle made elsewhere to carry on from. */
  snapshot(): ThrottleSnapshot {
    return [...this.#last].map(([key, { at, suppressed }]) => [key, at, suppressed]);
  }
}

/**
 * `logger[level](msg, fields)`, unless `throttle` holds `key` back. A line written after some
 * were held back says how many in `alsoSinceLastLine` (the router's 5.xx lines say
 * `alsoFailedSinceLastLine`).
 */
export function logThrottled(throttle: LogThrottle, logger: Logger, level: LogLevel, key: string, msg: string, fields: LogFields = {}): void {
  const held = throttle.take(key);
  if (held === undefined) return;
  logger[level](msg, held > 0 ? { ...fields, alsoSinceLastLine: held } : fields);
}
