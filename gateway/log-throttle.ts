/**
 * One log line per key and interval. A failure that every request of a flood repeats (a
 * sensor unplugged while clients keep asking) would otherwise write a line per request:
 * CPU on the hot path, a flooded journal, and, with stderr on a slow pipe, memory that
 * grows with the backlog. The first occurrence is logged at once; later ones within the
 * interval are counted and reported with the next line that gets through, or by `flush()`
 * once the interval is over when no such line comes (`flushEvery()` for a long-lived owner).
 *
 * The same holds for what a module can repeat in a loop (a refused bus transfer, a fault per
 * call): the WASM host keeps one throttle per sensor (gateway/host/sensor-module.ts). A module
 * in a worker thread is throttled there, before a line crosses to the main thread, and its
 * throttle's state goes with the worker's answers so a fresh worker carries on with it
 * (snapshot(), `from`). A key may also be given a rate of several lines per interval (a token
 * bucket: `take(key, { rate })`); the module's own output is budgeted that way
 * (gateway/host/log-budget.ts), so its budget travels with the rest of the throttle.
 */
import type { LogFields, LogLevel, Logger } from './log.ts';

/**
 * A throttle's state as plain data (it crosses postMessage): key, time of its last line, lines
 * held back since, and for a key with a rate of more than one line the tokens left then.
 */
export type ThrottleSnapshot = [key: string, atMs: number, suppressed: number, tokens?: number][];

/** Lines per interval for one key: `lines` refilled evenly over the interval, at most `burst` at once. */
export interface LineRate {
  lines: number;
  burst: number;
}

/** One line per key and interval: what `take(key)` allows without a rate. */
const ONE_LINE: LineRate = { lines: 1, burst: 1 };

/** The last line held back for a key by logThrottled, so that flush() can write it late. */
interface HeldLine {
  logger: Logger;
  level: LogLevel;
  msg: string;
  fields: LogFields;
  countField: string;
}

interface Entry {
  /** Time of the last line let through. */
  at: number;
  /** Tokens left just after that line. */
  tokens: number;
  suppressed: number;
  held?: HeldLine | undefined;
}

export class LogThrottle {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;

  constructor(now: () => number, options: { intervalMs?: number; maxKeys?: number; from?: ThrottleSnapshot } = {}) {
    this.#now = now;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#maxKeys = options.maxKeys ?? 1000;
    for (const [key, at, suppressed, tokens] of (options.from ?? []).slice(-this.#maxKeys)) this.#last.set(key, { at, suppressed, tokens: tokens ?? 0 });
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /**
   * Undefined: stay silent this time (counted). A number: log now, noting that many lines held
   * back since the last. `rate`: more than one line per interval for this key (give the same one
   * on every call). `held`: the line, kept (the latest only) for flush() while it is held back.
   */
  take(key: string, options: { rate?: LineRate; held?: HeldLine } = {}): number | undefined {
    const now = this.#now();
    const rate = options.rate ?? ONE_LINE;
    const last = this.#last.get(key);
    if (last !== undefined && this.#available(last, rate, now) < 1) {
      last.suppressed++;
      if (options.held) last.held = options.held;
      return undefined;
    }
    const tokens = last === undefined ? rate.burst : this.#available(last, rate, now);
    const suppressed = last?.suppressed ?? 0;
    this.#last.delete(key);
    // Bounded like everything a client can make grow: the oldest key is forgotten first.
    if (this.#last.size >= this.#maxKeys) this.#last.delete(this.#last.keys().next().value!);
    this.#last.set(key, { at: now, tokens: tokens - 1, suppressed: 0 });
    return suppressed;
  }

  /**
   * Writes the lines held back by logThrottled whose key may have a line again (its interval is
   * over), each once: the last one held back, with the count of the others in its count field.
   * `all`: every key with a held line, interval or not (at shutdown). Counts kept by `take()`
   * alone (no line to write) and those restored from a snapshot wait for their key's next line.
   * Returns how many lines were written.
   */
  flush(options: { all?: boolean } = {}): number {
    const now = this.#now();
    let written = 0;
    for (const [key, entry] of [...this.#last]) {
      const held = entry.held;
      if (held === undefined || entry.suppressed === 0) continue;
      // The rate of a key logThrottled holds lines for is one line per interval.
      const tokens = this.#available(entry, ONE_LINE, now);
      if (tokens < 1 && !options.all) continue;
      const others = entry.suppressed - 1;
      this.#last.delete(key);
      this.#last.set(key, { at: now, tokens: Math.max(0, tokens - 1), suppressed: 0 });
      held.logger[held.level](held.msg, others > 0 ? { ...held.fields, [held.countField]: others } : held.fields);
      written++;
    }
    return written;
  }

  /**
   * Calls flush() every `ms` (default: the interval) until close(), on a timer that never keeps
   * the process alive. For an owner that lives as long as the process or has a close of its own.
   */
  flushEvery(ms = this.#intervalMs): this {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.flush(), ms);
      this.#timer.unref();
    }
    return this;
  }

  /**
   * Stops flushEvery() and writes every line still held back. `flush: false`: only stops the
   * timer, for a throttle whose counts go on elsewhere (a module worker's, in the snapshot its
   * successor starts from: written here too, they would be counted twice).
   */
  close(options: { flush?: boolean } = {}): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (options.flush ?? true) this.flush({ all: true });
  }

  /** The state, oldest key first, for a LogThrottle made elsewhere to carry on from. */
  snapshot(): ThrottleSnapshot {
    return [...this.#last].map(([key, { at, suppressed, tokens }]) => (tokens > 0 ? [key, at, suppressed, tokens] : [key, at, suppressed]));
  }

  /** Tokens a key has now; computed from its last line, so no rounding builds up between lines. */
  #available(entry: Entry, rate: LineRate, now: number): number {
    const elapsed = Math.max(0, now - entry.at);
    return Math.min(rate.burst, entry.tokens + (elapsed * rate.lines) / this.#intervalMs);
  }
}

export interface ThrottledOptions {
  /** What is counted together; default the message. */
  key?: string;
  /** The field that says how many lines a line stands for besides itself; default `alsoSinceLastLine`. */
  countField?: string;
}

/**
 * `logger[level](msg, fields)`, unless `throttle` holds the line back. A line written after some
 * were held back says how many in `alsoSinceLastLine` (the router's 5.xx lines say
 * `alsoFailedSinceLastLine`); a held-back line is kept so that `throttle.flush()` can write it
 * when no further line comes. The key is the message unless `options.key` says otherwise; the
 * older form `logThrottled(throttle, logger, level, key, msg, fields)` still works.
 */
export function logThrottled(throttle: LogThrottle, logger: Logger, level: LogLevel, msg: string, fields?: LogFields, options?: ThrottledOptions): void;
export function logThrottled(throttle: LogThrottle, logger: Logger, level: LogLevel, key: string, msg: string, fields?: LogFields): void;
export function logThrottled(
  throttle: LogThrottle,
  logger: Logger,
  level: LogLevel,
  first: string,
  second?: string | LogFields,
  third?: LogFields | ThrottledOptions,
): void {
  const legacy = typeof second === 'string';
  const msg = legacy ? second : first;
  const fields = ((legacy ? third : second) as LogFields | undefined) ?? {};
  const options: ThrottledOptions = legacy ? { key: first } : ((third as ThrottledOptions | undefined) ?? {});
  const countField = options.countField ?? 'alsoSinceLastLine';
  const held = throttle.take(options.key ?? msg, { held: { logger, level, msg, fields, countField } });
  if (held === undefined) return;
  logger[level](msg, held > 0 ? { ...fields, [countField]: held } : fields);
}
