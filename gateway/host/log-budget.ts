/**
 * How much a module may log in one call, across `gw.log` and its stdout/stderr (WASI fd 1 and
 * 2) together. Each line a module logs becomes work for the gateway's main thread (a message
 * from the worker, a write to the log), so an unbounded logger could stall CoAP and delay the
 * very deadline meant to stop it. What goes over the budget is dropped, with one warning.
 */
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
