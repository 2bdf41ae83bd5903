/**
 * The `gw` namespace of module ABI v1: input/output passing, logging and I2C with capability
 * checks. Each function sees only a narrow context (the call's bytes, the grant, the bus), never
 * the host's internals. Guest arguments are untrusted i32 values: every pointer is bounds-checked
 * and every failure becomes a status code for the guest; nothing a guest passes can throw here.
 */
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import { I2CError } from '../../drivers/i2c-error.ts';
import { type LogThrottle, logThrottled } from '../log-throttle.ts';
import type { Logger } from '../log.ts';
import { I2C_ERROR_STATUS, MAX_I2C_TRANSFER, MAX_OUTPUT_BYTES, Status } from './abi.ts';
import { type Capabilities, checkI2CAccess, hex } from './capabilities.ts';
import type { GuestMemory } from './guest-memory.ts';
import { LOG_BUDGET_USED_UP, type LogBudget, takeModuleLine } from './log-budget.ts';
import type { TokenBucket } from './token-bucket.ts';

/** Per-call state the host reads back after an export returns. */
export class CallState {
  input: Uint8Array = new Uint8Array(0);
  inputOffset = 0;
  output: Uint8Array | undefined;
  /** The last driver error an import hit during this call, kept for the precise error code. */
  lastI2CError: I2CError | undefined;
  /** The last access the capability check refused during this call. */
  lastDenial: string | undefined;
  /** Set when the rate limit refused a transfer during this call: ms until a token is back. */
  rateLimitedRetryMs: number | undefined;
  /** Set when output_write refused an output over MAX_OUTPUT_BYTES during this call: its length. */
  refusedOutputBytes: number | undefined;
  i2cTransactions = 0;

  begin(input: Uint8Array): void {
    this.input = input;
    this.inputOffset = 0;
    this.output = undefined;
    this.lastI2CError = undefined;
    this.lastDenial = undefined;
    this.rateLimitedRetryMs = undefined;
    this.refusedOutputBytes = undefined;
  }
}

export interface GwImportContext {
  readonly memory: () => GuestMemory;
  readonly state: CallState;
  readonly capabilities: Capabilities;
  /** The bus the grant refers to; undefined when no I2C was configured. */
  readonly bus: I2CBus | undefined;
  readonly logger: Logger;
  /** The module's bus transaction budget; undefined: no limit. */
  readonly rateLimiter?: TokenBucket | undefined;
  /** Shared with WASI stdout/stderr: what the module may log in one call. */
  readonly logBudget: LogBudget;
  /**
   * The budget of the host's own lines about this module, across calls (one per kind and 10 s):
   * a module can repeat a refused import thousands of times in one call. It also holds the
   * module's budget of its own lines across calls (log-budget.ts, takeModuleLine).
   */
  readonly logThrottle: LogThrottle;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export function createGwImports(ctx: GwImportContext): Record<string, (...args: number[]) => number | void> {
  const { state, logger } = ctx;
  const line = (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => logThrottled(ctx.logThrottle, logger, level, msg, fields);

  /** Capability and argument checks shared by the four I2C imports. */
  function guard(op: string, bus: number, addr: number, ptr: number, len: number): number | undefined {
    if (addr < 0 || addr > 0x7f || (len >>> 0) > MAX_I2C_TRANSFER || !ctx.memory().inBounds(ptr, len)) {
      return Status.BAD_ARGUMENT;
    }
    const verdict = checkI2CAccess(ctx.capabilities, bus, addr);
    if (!verdict.allowed) {
      state.lastDenial = verdict.reason;
      line('warn', 'denied I2C access', { op, bus, address: hex(addr), reason: verdict.reason });
      return Status.DENIED;
    }
    if (!ctx.bus) return Status.I2C_UNAVAILABLE;
    // After the capability check: a denied access never reaches the bus, so costs no token.
    if (ctx.rateLimiter && !ctx.rateLimiter.take()) {
      const retryAfterMs = Math.max(1, ctx.rateLimiter.retryAfterMs);
      // At most once per call, and within the budget across calls: a module spinning on a
      // refused import must not flood the log.
      if (state.rateLimitedRetryMs === undefined) line('warn', 'I2C rate limit reached', { op, bus, address: hex(addr), retryAfterMs });
      state.rateLimitedRetryMs = retryAfterMs;
      return Status.RATE_LIMITED;
    }
    return undefined;
  }

  function transfer(run: (bus: I2CBus) => void): number {
    state.i2cTransactions++;
    try {
      run(ctx.bus!);
      return Status.OK;
    } catch (err) {
      if (err instanceof I2CError) {
        state.lastI2CError = err;
        return I2C_ERROR_STATUS[err.code] ?? Status.I2C_BUS;
      }
      // A driver bug must not unwind through the guest: report it and give the guest a status.
      line('error', 'I2C driver failed unexpectedly', { error: String(err) });
      return Status.I2C_BUS;
    }
  }

  return {
    input_read(ptr: number, len: number): number {
      // The whole buffer the guest names must be its own, whatever is copied into it.
      if (!ctx.memory().inBounds(ptr, len)) return Status.BAD_ARGUMENT;
      const remaining = state.input.length - state.inputOffset;
      const n = Math.min(len >>> 0, remaining);
      if (!ctx.memory().write(ptr, state.input.subarray(state.inputOffset, state.inputOffset + n))) {
        return Status.BAD_ARGUMENT;
      }
      state.inputOffset += n;
      return n;
    },

    output_write(ptr: number, len: number): number {
      if ((len >>> 0) > MAX_OUTPUT_BYTES) {
        // Remembered: a module that passes this status on has failed by saying too much, which
        // sensor-module.ts reports as bad output (never a stopped gateway, issue 14).
        state.refusedOutputBytes = len >>> 0;
        return Status.BAD_ARGUMENT;
      }
      const bytes = ctx.memory().read(ptr, len);
      if (!bytes) return Status.BAD_ARGUMENT;
      state.output = bytes;
      return Status.OK;
    },

    log(level: number, ptr: number, len: number): void {
      if (!ctx.memory().inBounds(ptr, len)) {
        line('warn', 'module passed an out-of-range log buffer', { ptr: ptr >>> 0, len: len >>> 0 });
        return;
      }
      const budget = ctx.logBudget;
      // An empty message is a line too: past the budget it is dropped like any other.
      const keep = budget.takeLine() ? budget.takeBytes(Math.min(len >>> 0, 1024)) : -1;
      if (keep < 0 || (keep === 0 && (len >>> 0) > 0)) {
        if (budget.firstDrop()) line('warn', LOG_BUDGET_USED_UP, { maxLines: budget.maxLines, maxBytes: budget.maxBytes });
        return;
      }
      // Within this call's budget; then within the sensor's, across calls.
      if (!takeModuleLine(ctx.logThrottle, logger)) return;
      const bytes = ctx.memory().read(ptr, keep)!;
      const name = LOG_LEVELS[level] ?? 'info';
      logger[name](new TextDecoder().decode(bytes), { stream: 'gw.log' });
    },

    i2c_write(bus: number, addr: number, ptr: number, len: number): number {
      const refused = guard('write', bus, addr, ptr, len);
      if (refused !== undefined) return refused;
      const data = ctx.memory().read(ptr, len)!;
      return transfer((b) => b.write(addr, data));
    },

    i2c_read(bus: number, addr: number, ptr: number, len: number): number {
      const refused = guard('read', bus, addr, ptr, len);
      if (refused !== undefined) return refused;
      let data: Uint8Array | undefined;
      const status = transfer((b) => {
        data = b.read(addr, len >>> 0);
      });
      if (status !== Status.OK) return status;
      return ctx.memory().write(ptr, data!) ? Status.OK : Status.BAD_ARGUMENT;
    },

    i2c_read_reg(bus: number, addr: number, reg: number, ptr: number, len: number): number {
      if (reg < 0 || reg > 0xff) return Status.BAD_ARGUMENT;
      const refused = guard('read_reg', bus, addr, ptr, len);
      if (refused !== undefined) return refused;
      let data: Uint8Array | undefined;
      const status = transfer((b) => {
        data = b.readRegister(addr, reg, len >>> 0);
      });
      if (status !== Status.OK) return status;
      return ctx.memory().write(ptr, data!) ? Status.OK : Status.BAD_ARGUMENT;
    },

    i2c_write_reg(bus: number, addr: number, reg: number, ptr: number, len: number): number {
      if (reg < 0 || reg > 0xff) return Status.BAD_ARGUMENT;
      const refused = guard('write_reg', bus, addr, ptr, len);
      if (refused !== undefined) return refused;
      const data = ctx.memory().read(ptr, len)!;
      return transfer((b) => b.writeRegister(addr, reg, data));
    },
  };
}
