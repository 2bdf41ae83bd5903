/**
 * A Logger in a worker that sends every entry to the main thread, where the module's logger
 * writes it: one log, whichever thread a module runs on (and a test's MemoryLogger sees what
 * a worker's module printed). Entries arrive in the order they were made, before the reply
 * of the call that made them.
 */
import type { MessagePort } from 'node:worker_threads';
import type { LogFields, LogLevel, Logger } from '../../log.ts';

export class PortLogger implements Logger {
  readonly #port: MessagePort;
  /** Which module on the worker the lines are about (a shared worker runs several). */
  readonly #tenant: number;
  readonly #bound: LogFields;

  constructor(port: MessagePort, tenant: number, bound: LogFields = {}) {
    this.#port = port;
    this.#tenant = tenant;
    this.#bound = bound;
  }

  debug(msg: string, fields?: LogFields): void { this.#send('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.#send('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.#send('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.#send('error', msg, fields); }
  child(fields: LogFields): Logger {
    return new PortLogger(this.#port, this.#tenant, { ...this.#bound, ...fields });
  }

  #send(level: LogLevel, msg: string, fields?: LogFields): void {
    const all = { ...this.#bound, ...fields };
    try {
      this.#port.postMessage({ type: 'log', tenant: this.#tenant, level, msg, fields: all });
    } catch {
      // A field that cannot be cloned (a function, a class instance with private state): send text.
      const text = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, typeof v === 'object' || typeof v === 'function' ? String(v) : v]));
      this.#port.postMessage({ type: 'log', tenant: this.#tenant, level, msg, fields: text });
    }
  }
}
