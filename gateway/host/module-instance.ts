/**
 * One live instance of a sensor module: instantiation, the reactor start-up, and export calls
 * with their faults turned into coded errors. An instance that faulted is dead; the owner
 * (SensorModule) makes a fresh one. One call at a time (docs/module-abi.md, "Lifecycle").
 */
import type { I2CError } from '../../drivers/i2c-error.ts';
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import { LogThrottle } from '../log-throttle.ts';
import type { Logger } from '../log.ts';
import { ABI_VERSION, GW_NAMESPACE, WASI_NAMESPACE } from './abi.ts';
import type { Capabilities } from './capabilities.ts';
import { GuestMemory } from './guest-memory.ts';
import { CallState, createGwImports } from './gw-imports.ts';
import { LogBudget } from './log-budget.ts';
import { armInterruptPoints, hasInterruptPoints } from './interrupt-points.ts';
import type { TokenBucket } from './token-bucket.ts';
import { ProcExit, SleepBudgetExceeded, WasiPreview1 } from './wasi-preview1.ts';

/** WebAssembly page size (WebAssembly spec 2.3.8 "Memory Types": limits in units of 64 KiB pages). */
const PAGE_BYTES = 65536;

export interface InstanceOptions {
  module: WebAssembly.Module;
  name: string;
  capabilities: Capabilities;
  bus: I2CBus | undefined;
  clock: Clock;
  logger: Logger;
  /** Time one call may spend sleeping (WASI poll_oneoff) before it is ended. */
  sleepBudgetMs: number;
  /** Bus transaction budget shared by every instance of the module; undefined: no limit. */
  rateLimiter?: TokenBucket | undefined;
  /**
   * The module's memory ceiling, when the host set it as the memory's maximum
   * (gateway/host/worker/memory-ceiling.ts): a fault at the ceiling is GW_ERR_MODULE_MEMORY_LIMIT.
   */
  memoryLimitBytes?: number | undefined;
  /**
   * The budget of the host's lines about the module (denied transfers, dropped log lines), shared
   * by every instance of the module like the rate limiter; default: one for this instance.
   */
  logThrottle?: LogThrottle | undefined;
  /**
   * On a shared worker: the longest one export call may run (and sleep) before it is ended,
   * through the interrupt points added to the binary (gateway/host/interrupt-points.ts).
   * `_initialize` gets INITIALIZE_SLICES of them. Undefined: no slice (a thread of its own).
   */
  sliceMs?: number | undefined;
}

/** Thrown in the guest, through an interrupt point or a sleep, when a call runs past its slice. */
export class SliceExceeded extends Error {
  constructor(what: string, sliceMs: number) {
    super(`${what} ran past its ${sliceMs} ms slice of the shared worker`);
    this.name = 'SliceExceeded';
  }
}

/**
 * Loop iterations between two looks at the clock. A Go loop iteration takes some nanoseconds
 * to some microseconds, so a slice is overrun by well under a millisecond, and the look (a
 * call out of wasm and performance.now()) costs nothing measurable at this spacing.
 */
const LOOPS_PER_TICK = 10_000;
/** `_initialize` runs the Go runtime's start-up (and the module's init functions) once per instance. */
const INITIALIZE_SLICES = 5;

export interface CallResult {
  status: number;
  output: Uint8Array | undefined;
  i2cError: I2CError | undefined;
  denial: string | undefined;
  /** Set when the rate limit refused a transfer during the call: ms until a token is back. */
  rateLimitedRetryMs: number | undefined;
  /** Set when output_write refused an output over the limit during the call: its length. */
  refusedOutputBytes?: number | undefined;
}

type ExportName = 'gw_init' | 'gw_read';

/** The host side of one instance (hostImports). */
export interface HostImports {
  /** What the instance is linked against: the WASI subset and the `gw` namespace. */
  imports: WebAssembly.Imports;
  wasi: WasiPreview1;
  state: CallState;
  /** Points the imports at the instance's memory, once the instance exists. */
  bind(instance: WebAssembly.Instance): GuestMemory;
}

/**
 * The imports an instance gets, with the per-call state and log budget they share. Used by
 * ModuleInstance.create, and by the call-cost benchmark (bench/wasm-path.ts) so that an import
 * costs there what it costs a real module.
 */
export function hostImports(options: Pick<InstanceOptions, 'capabilities' | 'bus' | 'clock' | 'logger' | 'sleepBudgetMs' | 'rateLimiter' | 'logThrottle'>): HostImports {
  const { logger } = options;
  const logBudget = new LogBudget();
  const logThrottle = options.logThrottle ?? new LogThrottle(() => monotonicMs(options.clock));
  const wasi = new WasiPreview1({ clock: options.clock, logger, sleepBudgetMs: options.sleepBudgetMs, logBudget, logThrottle });
  const state = new CallState();
  let memory: GuestMemory | undefined;
  const gw = createGwImports({
    memory: () => memory!,
    state,
    capabilities: options.capabilities,
    bus: options.bus,
    logger,
    rateLimiter: options.rateLimiter,
    logBudget,
    logThrottle,
  });
  return {
    imports: { [WASI_NAMESPACE]: wasi.imports(), [GW_NAMESPACE]: gw },
    wasi,
    state,
    bind(instance) {
      memory = new GuestMemory(instance.exports['memory'] as WebAssembly.Memory);
      wasi.bindMemory(memory);
      return memory;
    },
  };
}

export class ModuleInstance {
  readonly #name: string;
  readonly #exports: WebAssembly.Exports;
  readonly #wasi: WasiPreview1;
  readonly #state: CallState;
  readonly #memory: GuestMemory;
  readonly #memoryLimitBytes: number | undefined;
  readonly #sliceMs: number | undefined;
  /** The module's own sleep budget per call (the WASI one is the slice, when that is smaller). */
  readonly #sleepBudgetMs: number;
  /** performance.now() past which the running call is ended; undefined: no slice. */
  #sliceEndsAt: number | undefined;
  #refill: (() => void) | undefined;
  #dead = false;

  private constructor(name: string, exports: WebAssembly.Exports, wasi: WasiPreview1, state: CallState, memory: GuestMemory, memoryLimitBytes: number | undefined, sliceMs: number | undefined, sleepBudgetMs: number) {
    this.#name = name;
    this.#sliceMs = sliceMs;
    this.#sleepBudgetMs = sleepBudgetMs;
    this.#memoryLimitBytes = memoryLimitBytes;
    this.#exports = exports;
    this.#wasi = wasi;
    this.#state = state;
    this.#memory = memory;
  }

  static create(options: InstanceOptions): ModuleInstance {
    const { name } = options;
    // On a shared worker a sleep is bounded by the slice too: sleeping holds the thread.
    const host = hostImports(options.sliceMs === undefined ? options : { ...options, sleepBudgetMs: Math.min(options.sleepBudgetMs, options.sliceMs) });
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(options.module, host.imports);
    } catch (err) {
      // A start function that traps, or a link error the validator did not foresee.
      throw new GatewayError('GW_ERR_MODULE_INVALID', { sensor: name, detail: (err as Error).message }, { cause: err });
    }
    const memory = host.bind(instance);
    const self = new ModuleInstance(name, instance.exports, host.wasi, host.state, memory, options.memoryLimitBytes, options.sliceMs, options.sleepBudgetMs);
    // A binary with interrupt points must be armed, slice or not: its tick slot starts empty.
    if (hasInterruptPoints(options.module)) {
      self.#refill = armInterruptPoints(instance, () => self.#tick(), LOOPS_PER_TICK).refill;
    }

    self.#guarded('_initialize', () => (instance.exports['_initialize'] as () => void)(), INITIALIZE_SLICES);
    const version = self.#guarded('gw_abi_version', () => (instance.exports['gw_abi_version'] as () => number)());
    if (version !== ABI_VERSION) {
      self.#dead = true;
      throw new GatewayError('GW_ERR_MODULE_ABI_VERSION', { sensor: name, detail: `module speaks ABI ${version}, the gateway speaks ${ABI_VERSION}` });
    }
    return self;
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Linear memory size now, in bytes (a module may grow it during calls). */
  get memoryBytes(): number {
    return this.#memory.byteLength;
  }

  call(exportName: ExportName, input: Uint8Array): CallResult {
    if (this.#dead) throw new Error(`instance of ${this.#name} is dead; create a fresh one`);
    this.#state.begin(input);
    const fn = this.#exports[exportName] as (len: number) => number;
    const status = this.#guarded(exportName, () => fn(input.length));
    return {
      status,
      output: this.#state.output,
      i2cError: this.#state.lastI2CError,
      denial: this.#state.lastDenial,
      rateLimitedRetryMs: this.#state.rateLimitedRetryMs,
      refusedOutputBytes: this.#state.refusedOutputBytes,
    };
  }

  /** Bus transactions this instance's imports attempted. */
  get i2cTransactions(): number {
    return this.#state.i2cTransactions;
  }

  #guarded<T>(what: string, run: () => T, slices = 1): T {
    this.#wasi.beginCall();
    const sliceMs = this.#sliceMs === undefined ? undefined : this.#sliceMs * slices;
    this.#sliceEndsAt = sliceMs === undefined ? undefined : performance.now() + sliceMs;
    this.#refill?.();
    try {
      return run();
    } catch (err) {
      this.#dead = true;
      throw this.#classify(what, err, sliceMs);
    } finally {
      this.#sliceEndsAt = undefined;
      this.#wasi.endCall();
    }
  }

  /** Called by the guest's interrupt points every LOOPS_PER_TICK loop iterations. */
  #tick(): void {
    if (this.#sliceEndsAt !== undefined && performance.now() > this.#sliceEndsAt) {
      this.#sliceEndsAt = undefined;
      throw new SliceExceeded(this.#name, this.#sliceMs!);
    }
  }

  #classify(what: string, err: unknown, sliceMs: number | undefined): GatewayError {
    const sensor = this.#name;
    if (err instanceof SliceExceeded) {
      return new GatewayError('GW_ERR_MODULE_DEADLINE', { sensor, detail: `${what} ran past its ${sliceMs} ms slice of the shared worker` }, { cause: err });
    }
    // The panic banner from either compiler's stream (wasi-preview1.ts, AT_LINE_START).
    const panic = this.#wasi.panicReport;
    if (err instanceof ProcExit) {
      if (panic !== undefined) return new GatewayError('GW_ERR_MODULE_PANIC', { sensor, detail: `${what}: ${panic} (exit ${err.exitCode})` }, { cause: err });
      return new GatewayError('GW_ERR_MODULE_EXIT', { sensor, detail: `${what}: proc_exit(${err.exitCode})` }, { cause: err });
    }
    if (this.#atMemoryCeiling()) {
      const said = panic ?? this.#wasi.stderrThisCall.trim().split('\n')[0] ?? '';
      return new GatewayError('GW_ERR_MODULE_MEMORY_LIMIT', {
        sensor,
        detail: `${what}: memory ${this.#memory.byteLength} bytes, ceiling ${this.#memoryLimitBytes} bytes${said ? ` (${said})` : ''}`,
      }, { cause: err });
    }
    if (err instanceof SleepBudgetExceeded) {
      // On a shared worker the sleep budget is the slice when that is the smaller: the call may
      // still be within its own budget, which a worker of its own will tell.
      const cause = this.#sliceMs !== undefined && this.#sliceMs < this.#sleepBudgetMs ? new SliceExceeded(what, sliceMs ?? this.#sliceMs) : err;
      return new GatewayError('GW_ERR_MODULE_DEADLINE', { sensor, detail: `${what}: ${err.message}` }, { cause });
    }
    // Neither compiler's panic reaches proc_exit in a reactor: Go's c-shared runtime prints the
    // report to fd 2 and TinyGo's to fd 1 (its putchar writes to stdout), then both execute
    // `unreachable`. The banner, on either stream, is what makes the trap a panic, so one
    // panic is GW_ERR_MODULE_PANIC whichever compiler built the module.
    if (panic !== undefined) {
      return new GatewayError('GW_ERR_MODULE_PANIC', { sensor, detail: `${what}: ${panic}` }, { cause: err });
    }
    // WebAssembly.RuntimeError for traps; RangeError for a guest stack overflow in V8.
    const message = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
    return new GatewayError('GW_ERR_MODULE_TRAP', { sensor, detail: `${what}: ${message}` }, { cause: err });
  }

  /**
   * A fault is the memory ceiling's doing when a ceiling was set and the guest either said it
   * ran out of memory (Go: "fatal error: out of memory" on fd 2 after memory.grow returned -1;
   * TinyGo: "panic: runtime error: out of memory" on fd 1) or stands less than a page below the
   * maximum. Go asks for its heap in 4 MiB arenas, so the first test is the one that usually decides.
   */
  #atMemoryCeiling(): boolean {
    const limit = this.#memoryLimitBytes;
    if (limit === undefined) return false;
    return /out of memory/i.test(this.#wasi.outputThisCall) || this.#memory.byteLength + PAGE_BYTES > limit;
  }
}
