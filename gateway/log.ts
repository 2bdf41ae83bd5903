/**
 * A small structured logger. Modules' stdout/stderr and the host's security events (denied bus
 * accesses) go through it, so tests can assert that a denial was logged.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogEntry {
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

type Sink = (entry: LogEntry) => void;

class SinkLogger implements Logger {
  readonly #sink: Sink;
  readonly #min: number;
  readonly #bound: LogFields;

  constructor(sink: Sink, minLevel: LogLevel, bound: LogFields) {
    this.#sink = sink;
    this.#min = LEVELS[minLevel];
    this.#bound = bound;
  }
  #emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < this.#min) return;
    this.#sink({ level, msg, fields: { ...this.#bound, ...fields } });
  }
  debug(msg: string, fields?: LogFields): void { this.#emit('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.#emit('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.#emit('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.#emit('error', msg, fields); }
  child(fields: LogFields): Logger {
    return new SinkLogger(this.#sink, levelName(this.#min), { ...this.#bound, ...fields });
  }
}

function levelName(n: number): LogLevel {
  return (Object.entries(LEVELS).find(([, v]) => v === n)?.[0] ?? 'info') as LogLevel;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256) return String(v);
  return JSON.stringify(v) ?? String(v);
}

/** Human-readable lines on stderr: `12:00:01.123 WARN msg key=value`. Keeps stdout for program output. */
export function createConsoleLogger(minLevel: LogLevel = 'info', stream: NodeJS.WritableStream = process.stderr): Logger {
  return new SinkLogger((e) => {
    const time = new Date().toISOString().slice(11, 23);
    const kv = Object.entries(e.fields).map(([k, v]) => `${k}=${formatValue(v)}`).join(' ');
    stream.write(`${time} ${e.level.toUpperCase().padEnd(5)} ${e.msg}${kv ? ' ' + kv : ''}\n`);
  }, minLevel, {});
}

/** Keeps entries in memory: for tests and for reporting what a module printed. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  readonly #inner: Logger;
  constructor(minLevel: LogLevel = 'debug') {
    this.#inner = new SinkLogger((e) => this.entries.push(e), minLevel, {});
  }
  debug(msg: string, fields?: LogFields): void { this.#inner.debug(msg, fields); }
  info(msg: string, fields?: LogFields): void { this.#inner.info(msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.#inner.warn(msg, fields); }
  error(msg: string, fields?: LogFields): void { this.#inner.error(msg, fields); }
  child(fields: LogFields): Logger { return this.#inner.child(fields); }
}

export const silentLogger: Logger = new SinkLogger(() => {}, 'error', {});
