/**
 * How much a module may log in one call, across `gw.log` and its stdout/stderr (WASI fd 1 and
 * 2) together. Each line a module logs becomes work for the gateway's main thread (a message
 * from the worker, a write to the log), so an unbounded logger could stall CoAP and delay the
 * very deadline meant to stop it. What goes over the budget is dropped, with one warning.
 *
 * A budget per call is not one per second: a module read every 10 ms (the shortest period),
 * and once more for each request that misses the cache, could still log 100 lines a call,
 * about 10,000 a second. So its lines are also budgeted across calls, per sensor
 * (MODULE_LOG_RATE, takeModuleLine).
 */
import { type LineRate, type LogThrottle, logThrottled } from '../log-throttle.ts';
import type { Logger } from '../log.ts';

export const MAX_LOG_LINES_PER_CALL = 100;
export const MAX_LOG_BYTES_PER_CALL = 16 * 1024;
/**
 * The warning for a call that went over (from `gw.log` or WASI fd 1/2 alike: one message, so one
 * key of the sensor's log throttle, and at most one such line per 10 s however many calls flood).
 */
export const LOG_BUDGET_USED_UP = 'module log budget for this call used up; dropping the rest';

export class LogBudget {
  #lines = 0;
  #bytes = 0;
  #warned = false;

  constructor(
    readonly maxLines = MAX_LOG_LINES_PER_CALL,
    readonly maxBytes = MAX_LOG_BYTES_PER_CALL,
  ) {}

  /** A new call: the budget is full again. */
  reset(): void {
    this.#lines = 0;
    this.#bytes = 0;
    this.#warned = false;
  }

  /** How many of `n` more bytes may be kept (the rest is dropped before it is even decoded). */
  takeBytes(n: number): number {
    const granted = Math.max(0, Math.min(n, this.maxBytes - this.#bytes));
    this.#bytes += granted;
    return granted;
  }

  /** Whether one more line may be logged. */
  takeLine(): boolean {
    if (this.#lines >= this.maxLines) return false;
    this.#lines++;
    return true;
  }

  /** True the first time something is dropped in a call: log the warning then, once. */
  firstDrop(): boolean {
    if (this.#warned) return false;
    this.#warned = true;
    return true;
  }
}

/**
 * A module's own lines across calls, per sensor, per 10 s (the interval of the sensor's log
 * throttle): 100 refilled evenly (10 a second) with a burst of 200, two calls' worth of the
 * per-call budget, so a Go panic report (a few dozen lines) still fits after a chatty call. A
 * module that logs a line per read at 4 Hz keeps well within it; one that logs on every call
 * at 100 Hz gets one line in ten. With at most 64 sensors (gateway/service/config.ts), modules
 * can write at most 640 lines a second between them, sustained.
 *
 * The bucket is a key of the sensor's LogThrottle, not state of its own: the throttle is the
 * one object made per module (not per instance) that a module worker's successor carries on
 * from (ThrottleSnapshot), so neither a fresh instance after a fault nor a fresh worker
 * refills it.
 */
export const MODULE_LOG_RATE: LineRate = { lines: 100, burst: 200 };
/** The bucket's key in the throttle; not a message, so no line is ever written under it. */
const MODULE_LINES_KEY = 'module output lines (budget across calls)';
/**
 * The line for lines dropped past MODULE_LOG_RATE, throttled like the others: one per 10 s;
 * each such line stands for one dropped line, and its `alsoSinceLastLine` for the rest.
 */
export const MODULE_LOG_RATE_USED_UP = 'module log budget across calls used up; dropping lines';

/** Whether the module may write one more line of its own now; a line refused is counted and reported. */
export function takeModuleLine(throttle: LogThrottle, logger: Logger): boolean {
  if (throttle.take(MODULE_LINES_KEY, { rate: MODULE_LOG_RATE }) !== undefined) return true;
  logThrottled(throttle, logger, 'warn', MODULE_LOG_RATE_USED_UP, {
    linesPer10s: MODULE_LOG_RATE.lines,
    burst: MODULE_LOG_RATE.burst,
  });
  return false;
}
