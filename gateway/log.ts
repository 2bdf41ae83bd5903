/**
 * A small structured logger. Modules' stdout/stderr and the host's security events (denied bus
 * accesses) go through it, so tests can assert that a denial was logged.
 *
 * The console logger writes one line per call on stderr (stdout is kept for program output),
 * as text or as JSON (docs/logging.md):
 *
 *   2026-11-29T22:31:15.123Z WARN  request failed component=coap path=/temp code=5.03
 *   {"time":"2026-11-29T22:31:15.123Z","level":"warn","msg":"request failed","component":"coap","path":"/temp","code":"5.03"}
 *
 * Under systemd, when stderr is the journal (JOURNAL_STREAM, sd-daemon(3)), each line starts
 * with its syslog priority, `<4>` for a warning, so `journalctl -p warning` filters; text lines
 * then leave the time to journald, which stamps every line it receives.
 */
import { isJournalStream } from './journal-stream.mjs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type LogFormat = 'text' | 'json';

export const LOG_LEVEL_NAMES: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const LOG_FORMAT_NAMES: readonly LogFormat[] = ['text', 'json'];

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /**
   * Whether a call at this level would write anything, so a caller can skip building an
   * expensive entry (the per-request debug line). Optional so that every existing Logger
   * keeps compiling; use isLevelEnabled(logger, level), which treats its absence as "yes".
   */
  isLevelEnabled?(level: LogLevel): boolean;
}

/** True unless the logger says it drops this level (a Logger without isLevelEnabled may write anything). */
export function isLevelEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.isLevelEnabled?.(level) ?? true;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** sd-daemon(3): SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG. */
const SYSLOG_PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

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

  /** `min`: the lowest level number written (LEVELS); Infinity writes nothing. */
  constructor(sink: Sink, min: number, bound: LogFields) {
    this.#sink = sink;
    this.#min = min;
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
    return new SinkLogger(this.#sink, this.#min, { ...this.#bound, ...fields });
  }
  isLevelEnabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.#min;
  }
}

// ---- rendering ------------------------------------------------------------------------------

/**
 * Characters that must not reach the output raw: line breaks (journald and every line-based
 * reader split on \n, and a module's text may contain one), the other C0 and C1 controls
 * (terminal escape sequences in a module's text would reach the operator's terminal), DEL, and
 * U+2028/U+2029 (line breaks to some JSON and JavaScript readers).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    default: return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
}

/** Text with every unsafe character written as an escape: one line, whatever it held. */
export function escapeLine(s: string): string {
  return String(s).replace(UNSAFE, escapeChar);
}

/**
 * JSON.stringify for log values: bigint as its decimal string, an Error as
 * {name, message, code?, stack?}, undefined, NaN and Infinity as null and strings, a function
 * by name, a repeated object (a cycle) as "[Circular]", a Map as an object, a Set as an array.
 * Throws only when a getter or toJSON does; safeStringify then names what failed.
 */
function stringify(value: unknown): string {
  const seen = new WeakSet<object>();
  const replacer = (_key: string, v: unknown): unknown => {
    switch (typeof v) {
      case 'bigint': return v.toString();
      case 'undefined': return null;
      case 'number': return Number.isFinite(v) ? v : String(v);
      case 'function': return `[Function ${v.name || 'anonymous'}]`;
      case 'symbol': return v.toString();
      case 'object': {
        if (v === null) return v;
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
        if (v instanceof Error) return errorObject(v);
        if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), x]));
        if (v instanceof Set) return [...v];
        return v;
      }
      default: return v;
    }
  };
  return JSON.stringify(value, replacer) ?? 'null';
}

/** stringify that never throws: a value that cannot be written says why instead. */
function safeStringify(value: unknown): string {
  try {
    return stringify(value);
  } catch (err) {
    return JSON.stringify(unserializable(err));
  }
}

function unserializable(err: unknown): string {
  return `[unserializable: ${err instanceof Error ? err.message : String(err)}]`;
}

/** A JSON line's object as text; a field that cannot be written is replaced, the rest kept. */
function stringifyLine(line: LogFields): string {
  try {
    return stringify(line);
  } catch {
    for (const [k, v] of Object.entries(line)) {
      try {
        stringify(v);
      } catch (err) {
        line[k] = unserializable(err);
      }
    }
    return safeStringify(line);
  }
}

function errorObject(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out['code'] = code;
  if (e.stack !== undefined) out['stack'] = e.stack;
  return out;
}

/** A text-format value: bare when it is a plain word, quoted and escaped otherwise. */
function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=\\]+$/.test(v) ? escapeLine(v) : escapeLine(JSON.stringify(v));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === undefined) return 'undefined';
  // An Error reads best as its own text; JSON.stringify would give {}.
  if (v instanceof Error) return escapeLine(JSON.stringify(`${v.name}: ${v.message}`));
  return escapeLine(safeStringify(v));
}

/** Keys a field cannot take in a JSON line; a clashing field gets underscores in front (`_time`). */
const RESERVED = new Set(['time', 'level', 'msg']);

function jsonKey(key: string, taken: LogFields): string {
  if (!RESERVED.has(key)) return key;
  let k = `_${key}`;
  while (Object.hasOwn(taken, k)) k = `_${k}`;
  return k;
}

export interface RenderOptions {
  format: LogFormat;
  /** Prefix each line with its sd-daemon(3) priority (`<4>`), for journald. */
  journal: boolean;
  /** Milliseconds since the epoch, for the line's time. */
  now: number;
}

/** One entry as the console logger writes it: one line, with its newline. */
export function renderLine(e: LogEntry, o: RenderOptions): string {
  const prefix = o.journal ? `<${SYSLOG_PRIORITY[e.level]}>` : '';
  const time = new Date(o.now).toISOString();
  if (o.format === 'json') {
    // No prototype: a field named __proto__ is an ordinary key here, not a prototype change.
    const line: LogFields = Object.assign(Object.create(null) as LogFields, { time, level: e.level, msg: e.msg });
    for (const [k, v] of Object.entries(e.fields)) line[jsonKey(k, e.fields)] = v;
    // JSON escapes C0 controls itself; DEL, C1 and U+2028/9 can only be inside strings, where an escape is valid JSON.
    return `${prefix}${escapeLine(stringifyLine(line))}\n`;
  }
  const kv = Object.entries(e.fields).map(([k, v]) => `${escapeLine(k)}=${formatValue(v)}`).join(' ');
  // journald stamps each line with its own receive time (µs); a second timestamp in the
  // message would only repeat it in every `journalctl` line.
  const stamp = o.journal ? '' : `${time} `;
  return `${prefix}${stamp}${e.level.toUpperCase().padEnd(5)} ${escapeLine(e.msg)}${kv ? ' ' + kv : ''}\n`;
}

// ---- journald detection ---------------------------------------------------------------------

// isJournalStream (gateway/journal-stream.mjs, shared with the launcher) compares JOURNAL_STREAM
// with fstat of the descriptor (sd-daemon(3)); re-exported for the tests and the CLIs.
export { isJournalStream };

/**
 * The priority prefix (`<3>` for 'error') when `stream` (default stderr) is the journal, else ''.
 * For text written to stderr without the logger (a CLI's fatal error, a usage error): without
 * it journald files such a line at the unit's SyslogLevel= (info), and `journalctl -p warning`
 * would not show why the service stopped. Prefix each line of a multi-line text.
 */
export function journalPrefix(level: LogLevel, o: { env?: NodeJS.ProcessEnv; stream?: NodeJS.WritableStream } = {}): string {
  return isJournalStream(o.env ?? process.env, fdOf(o.stream ?? process.stderr)) ? `<${SYSLOG_PRIORITY[level]}>` : '';
}

function fdOf(stream: NodeJS.WritableStream): number | undefined {
  const fd = (stream as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : undefined;
}

// ---- the console logger ---------------------------------------------------------------------

export interface ConsoleLoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Default 'text'. */
  format?: LogFormat;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream;
  /** Priority prefixes and no text timestamp. Default: whether JOURNAL_STREAM names the stream's descriptor. */
  journal?: boolean;
  /** Where JOURNAL_STREAM is read. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default Date.now (injected for testability). */
  now?: () => number;
}

/**
 * Lines on stderr, one write per entry (a reader of the pipe never sees half a line).
 * `createConsoleLogger('debug')` and `createConsoleLogger('info', stream)` still work.
 */
export function createConsoleLogger(options?: ConsoleLoggerOptions): Logger;
export function createConsoleLogger(minLevel: LogLevel, stream?: NodeJS.WritableStream): Logger;
export function createConsoleLogger(arg: LogLevel | ConsoleLoggerOptions = {}, legacyStream?: NodeJS.WritableStream): Logger {
  const o: ConsoleLoggerOptions = typeof arg === 'string' ? { level: arg, ...(legacyStream ? { stream: legacyStream } : {}) } : arg;
  const stream = o.stream ?? process.stderr;
  const render: Omit<RenderOptions, 'now'> = {
    format: o.format ?? 'text',
    journal: o.journal ?? isJournalStream(o.env ?? process.env, fdOf(stream)),
  };
  const now = o.now ?? Date.now;
  return new SinkLogger((e) => {
    stream.write(renderLine(e, { ...render, now: now() }));
  }, LEVELS[o.level ?? 'info'], {});
}

/** Keeps entries in memory: for tests and for reporting what a module printed. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  readonly #inner: Logger;
  constructor(minLevel: LogLevel = 'debug') {
    this.#inner = new SinkLogger((e) => this.entries.push(e), LEVELS[minLevel], {});
  }
  debug(msg: string, fields?: LogFields): void { this.#inner.debug(msg, fields); }
  info(msg: string, fields?: LogFields): void { this.#inner.info(msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.#inner.warn(msg, fields); }
  error(msg: string, fields?: LogFields): void { this.#inner.error(msg, fields); }
  child(fields: LogFields): Logger { return this.#inner.child(fields); }
  isLevelEnabled(level: LogLevel): boolean { return isLevelEnabled(this.#inner, level); }
}

/** Writes nothing, and says so: isLevelEnabled is false for every level. */
export const silentLogger: Logger = new SinkLogger(() => {}, Infinity, {});
