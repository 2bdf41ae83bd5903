/**
 * A sensor module as the rest of the gateway sees it: load once, `read()` many times. Faults
 * are reported as GatewayErrors and healed by a fresh instance on the next call, so one bad
 * call never takes the host down (docs/module-abi.md, "Lifecycle", step 5).
 *
 * Everything here is synchronous: the host imports must be (Node 20 has no JS Promise
 * Integration). WorkerModule (gateway/host/worker/) runs this same engine in a worker thread
 * so a slow bus transfer or a runaway module cannot hold up the CoAP event loop.
 */
import { encode } from 'cbor-x';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import { GatewayError } from '../errors.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { Logger } from '../log.ts';
import { MAX_OUTPUT_BYTES, STATUS_ERROR_CODES, Status } from './abi.ts';
import type { Capabilities } from './capabilities.ts';
import { type CallResult, ModuleInstance, SliceExceeded } from './module-instance.ts';
import { readModuleBytes } from './module-file.ts';
import {
  INIT_OUTPUT_RETRY_MS,
  type Measurement,
  type ModuleInfo,
  type QuantityInfo,
  decodeOutput,
  measurementsOf,
  parseErrorOutput,
  parseInitOutput,
  parseReadOutput,
} from './module-output.ts';
import { isSenmlUnit } from './senml-units.ts';
import { compileModule, validateModule } from './module-validator.ts';
import { type RateLimit, TokenBucket } from './token-bucket.ts';

export interface SensorModuleOptions {
  /** The sensor's name: in logs, errors and readings. */
  name: string;
  capabilities: Capabilities;
  bus: I2CBus | undefined;
  clock: Clock;
  logger: Logger;
  /** The `gw_init` input: where the sensor is and how to set it up. */
  init: { bus: number; address: number; settings?: Record<string, unknown> };
  /** Time one call may spend sleeping before it is ended (default 1000 ms). */
  sleepBudgetMs?: number;
  /** Bus transactions the module may make (token bucket); default: no limit. */
  i2cRateLimit?: RateLimit | undefined;
  /**
   * The memory maximum the module's binary was given (gateway/host/worker/memory-ceiling.ts),
   * so a fault at it is reported as GW_ERR_MODULE_MEMORY_LIMIT. Setting it here alone bounds nothing.
   */
  memoryLimitBytes?: number | undefined;
  /**
   * The budget of the host's lines this module can cause (gateway/log-throttle.ts: one line per
   * kind and 10 s, with the count of those held back). Default: a new one. A module worker passes
   * one that carries on from its predecessor's.
   */
  logThrottle?: LogThrottle | undefined;
  /**
   * On a shared worker: how long one call may hold the thread (module-instance.ts). The binary
   * must have interrupt points (gateway/host/interrupt-points.ts) for loops to be ended.
   */
  sliceMs?: number | undefined;
}

export type { AlertInfo, AlertMode, AlertPolarity, Measurement, ModuleInfo, QuantityInfo } from './module-output.ts';

/** `value`, `unit`, `raw` and `bits` are the primary quantity's, as in ABI 1.0. */
export interface Reading {
  sensor: string;
  value: number;
  unit: string;
  /** Wall-clock time of the read, milliseconds since the Unix epoch. */
  timeMs: number;
  /** The register value as read, for diagnostics. */
  raw: number;
  bits: number;
  /** Every quantity measured, the primary first; one entry for a 1.0 module. */
  measurements: Measurement[];
}

export interface SensorModuleStats {
  calls: number;
  faults: number;
  instancesCreated: number;
  i2cTransactions: number;
  memoryBytes: number;
}

const EMPTY = new Uint8Array(0);

export class SensorModule {
  readonly #module: WebAssembly.Module;
  readonly #options: SensorModuleOptions;
  #initInput: Uint8Array;
  readonly #log: Logger;
  #instance: ModuleInstance | undefined;
  #info: ModuleInfo | undefined;
  /** The ABI 1.1 `quantities` the module declared (its reads must carry `values`); undefined for 1.0. */
  #declared: QuantityInfo[] | undefined;
  #stats = { calls: 0, faults: 0, instancesCreated: 0, i2cTransactions: 0 };
  readonly #rateLimiter: TokenBucket | undefined;
  readonly #logThrottle: LogThrottle;

  private constructor(module: WebAssembly.Module, options: SensorModuleOptions) {
    this.#module = module;
    this.#options = options;
    // One bucket per module, not per instance: a fresh instance after a fault gets no new budget.
    this.#rateLimiter = options.i2cRateLimit ? new TokenBucket(options.i2cRateLimit, options.clock) : undefined;
    this.#log = options.logger.child({ sensor: options.name });
    // One per module, not per instance, like the rate limiter: a fault must not reset it.
    this.#logThrottle = options.logThrottle ?? new LogThrottle(() => monotonicMs(options.clock));
    this.#initInput = this.#encodeInit(options.init.settings ?? {});
  }

  #encodeInit(settings: Record<string, unknown>): Uint8Array {
    return new Uint8Array(encode({ bus: this.#options.init.bus, address: this.#options.init.address, settings }));
  }

  /**
   * Reads, compiles and validates a module file. Nothing runs yet: `start()` (or the first
   * `read()`) instantiates and initialises it, so a sensor that is absent at start-up can
   * come good later without reloading.
   */
  static async fromFile(path: string, options: SensorModuleOptions): Promise<SensorModule> {
    return SensorModule.fromBytes(await readModuleBytes(path, options.name), options);
  }

  static fromBytes(bytes: Uint8Array, options: SensorModuleOptions): SensorModule {
    const module = compileModule(bytes, options.name);
    validateModule(module, bytes, options.name);
    return new SensorModule(module, options);
  }

  /**
   * From a module compiled and validated elsewhere (WorkerModule compiles and validates on the
   * main thread, so load-time refusals stay there, and posts the compiled module to its worker).
   */
  static fromModule(module: WebAssembly.Module, options: SensorModuleOptions): SensorModule {
    return new SensorModule(module, options);
  }

  /** Instantiates and initialises the module now; throws what `gw_init` reported. */
  start(): ModuleInfo {
    this.#ensureInstance();
    return this.#info!;
  }

  get name(): string {
    return this.#options.name;
  }

  /** What `gw_init` announced; undefined until an instance initialised. */
  get info(): ModuleInfo | undefined {
    return this.#info;
  }

  get stats(): SensorModuleStats {
    return {
      ...this.#stats,
      i2cTransactions: this.#stats.i2cTransactions + (this.#instance?.i2cTransactions ?? 0),
      memoryBytes: this.#instance?.memoryBytes ?? 0,
    };
  }

  /** One reading through the module. Throws GatewayError; never returns a stale or placeholder value. */
  read(): Reading {
    const instance = this.#ensureInstance();
    const info = this.#info!;
    // Checked before the module runs: no read of it can be served, so none costs a bus transfer.
    const unknown = info.quantities.find((q) => !isSenmlUnit(q.unit));
    if (unknown) throw this.#unknownUnit(unknown);
    const result = this.#call(instance, 'gw_read', EMPTY);
    if (result.status !== Status.OK) throw this.#statusError(result);
    const out = parseReadOutput(decodeOutput(result.output, 'gw_read', this.name), this.name, this.#declared);
    return {
      sensor: this.name,
      value: out.value,
      unit: info.unit,
      timeMs: Number(this.#options.clock.realtimeNs() / 1_000_000n),
      raw: out.raw,
      bits: out.bits,
      measurements: measurementsOf(info.quantities, out),
    };
  }

  /**
   * A unit outside the SenML registry (RFC 8428 section 12.1, RFC 8798; senml-units.ts) cannot
   * go into a SenML record's `u`, and a client could not tell what the value means: every read
   * fails with GW_ERR_MODULE_BAD_UNIT. It is not a refusal of the module, which loads and
   * initialises (docs/module-abi.md, "Units"): the other sensors, and this one's settings, are
   * unaffected. One line per sensor and 10 s, with the count.
   */
  #unknownUnit(q: QuantityInfo): GatewayError {
    const detail = `quantity ${q.name} has unit ${JSON.stringify(q.unit.slice(0, 32))}, not a symbol of the SenML units registry (RFC 8428 section 12.1, RFC 8798)`;
    logThrottled(this.#logThrottle, this.#log, 'error', 'module unit outside the SenML registry; every read fails', { quantity: q.name, unit: q.unit.slice(0, 32) }, { key: 'module bad unit' });
    return new GatewayError('GW_ERR_MODULE_BAD_UNIT', { sensor: this.name, detail });
  }

  /** `gw_init`'s output, checked; the quantities a 1.1 module declared are kept for its reads. */
  #parseInit(output: Uint8Array | undefined): ModuleInfo {
    const out = decodeOutput(output, 'gw_init', this.name);
    const info = parseInitOutput(out, this.name);
    this.#declared = out['quantities'] === undefined ? undefined : info.quantities;
    return info;
  }

  /**
   * Applies new module settings (same bus and address) by calling `gw_init` again on the live
   * instance, or on a fresh one when there is none (docs/module-abi.md, "Lifecycle": gw_init may
   * be called again). On success the new settings replace the old ones, also for any instance
   * made after a fault, and `info` is what the module announced. On failure (for example
   * GW_ERR_MODULE_BAD_CONFIG) the old settings stay, both here and in the module, and the
   * mapped GatewayError is thrown.
   */
  reconfigure(settings: Record<string, unknown>): ModuleInfo {
    const input = this.#encodeInit(settings);
    const live = this.#instance && !this.#instance.dead ? this.#instance : undefined;
    if (!live) {
      this.#ensureInstance(input);
    } else {
      const result = this.#call(live, 'gw_init', input);
      if (result.status !== Status.OK) throw this.#statusError(result);
      this.#info = this.#parseInit(result.output);
    }
    this.#initInput = input;
    // A client's PUT of alert settings ends here: a flood of them must not flood the log.
    logThrottled(this.#logThrottle, this.#log, 'info', 'module reconfigured', { settings });
    return this.#info!;
  }

  #ensureInstance(initInput: Uint8Array = this.#initInput): ModuleInstance {
    if (this.#instance && !this.#instance.dead) return this.#instance;
    if (this.#instance) this.#stats.i2cTransactions += this.#instance.i2cTransactions;
    this.#instance = undefined;
    const o = this.#options;
    this.#stats.instancesCreated++;
    const instance = this.#counted(() => ModuleInstance.create({
      module: this.#module,
      name: o.name,
      capabilities: o.capabilities,
      bus: o.bus,
      clock: o.clock,
      logger: this.#log,
      sleepBudgetMs: o.sleepBudgetMs ?? 1000,
      rateLimiter: this.#rateLimiter,
      memoryLimitBytes: o.memoryLimitBytes,
      logThrottle: this.#logThrottle,
      sliceMs: o.sliceMs,
    }));
    const result = this.#call(instance, 'gw_init', initInput);
    try {
      if (result.status !== Status.OK) throw this.#statusError(result);
      this.#info = this.#parseInit(result.output);
    } catch (err) {
      throw this.#unusableInit(err);
    }
    this.#instance = instance;
    if (this.#stats.instancesCreated > 1) logThrottled(this.#logThrottle, this.#log, 'info', 'module instance replaced', { instances: this.#stats.instancesCreated });
    return instance;
  }

  /**
   * A fresh instance's gw_init that ended in GW_ERR_MODULE_BAD_OUTPUT (output malformed, out of
   * bounds or missing, which is what an output over MAX_OUTPUT_BYTES becomes; or a status
   * outside the ABI) leaves no instance to use. It counts as a fault, like a trap: in a worker
   * that moves the module off a shared thread and, after 5 in a row, into quarantine
   * (worker-module.ts). Until a gw_init succeeds no period is known to pace reads by, so the
   * error carries INIT_OUTPUT_RETRY_MS: the failure is answered that long before a read makes
   * another instance (service/paced-reader.ts). Any other error passes unchanged.
   */
  #unusableInit(err: unknown): unknown {
    if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_MODULE_BAD_OUTPUT') return err;
    this.#stats.faults++;
    logThrottled(this.#logThrottle, this.#log, 'error', 'module fault; the instance will be replaced', { code: err.code, detail: err.details.detail }, { key: `module fault ${err.code}` });
    return err.details.retryAfterMs === undefined ? err.withRetryAfter(INIT_OUTPUT_RETRY_MS) : err;
  }

  #call(instance: ModuleInstance, name: 'gw_init' | 'gw_read', input: Uint8Array): CallResult {
    this.#stats.calls++;
    return this.#counted(() => instance.call(name, input));
  }

  /**
   * Runs module code (an export call, or an instance's creation with its `_initialize`) and
   * counts what it throws as a fault: a Go `init()` that panics is a fault like any other. A
   * call ended by its shared worker's slice is not: the module's own limits were not reached,
   * and the call is sent again on a worker of its own (worker-module.ts), where it counts.
   */
  #counted<T>(run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (err instanceof GatewayError && err.cause instanceof SliceExceeded) throw err;
      this.#stats.faults++;
      // A module can fault on every call: one line per fault code and 10 s, with the count.
      if (err instanceof GatewayError) logThrottled(this.#logThrottle, this.#log, 'error', 'module fault; the instance will be replaced', { code: err.code, detail: err.details.detail }, { key: `module fault ${err.code}` });
      throw err;
    }
  }

  /**
   * Maps a negative status to the catalogue, keeping the precise driver error where there is
   * one, and the module's own `detail` beside it: the driver says what failed on the bus, the
   * module what it was doing (docs/module-abi.md, "Output on failure"). A `code` the module may
   * report replaces the status's; facts the host saw itself (a refused transfer, a denied
   * access) and a status outside the ABI are not the module's to rename.
   */
  #statusError(result: CallResult): GatewayError {
    const sensor = this.name;
    const out = parseErrorOutput(result.output, sensor);
    const moduleDetail = out.detail ? { detail: out.detail } : {};
    // A refused transfer explains the failure whatever status the module made of it (a module
    // built before RATE_LIMITED existed reports an unknown import status as INTERNAL).
    if (result.rateLimitedRetryMs !== undefined && result.status !== Status.DENIED) {
      return new GatewayError('GW_ERR_I2C_RATE_LIMITED', { sensor, retryAfterMs: result.rateLimitedRetryMs, ...moduleDetail });
    }
    // An output over the limit that the module passed on as BAD_ARGUMENT: it said too much, as
    // when it ignores the refusal and returns OK without output (GW_ERR_MODULE_BAD_OUTPUT, which
    // at gw_init serves the sensor as failing instead of stopping the gateway).
    if (result.status === Status.BAD_ARGUMENT && result.refusedOutputBytes !== undefined) {
      return new GatewayError('GW_ERR_MODULE_BAD_OUTPUT', { sensor, detail: `output of ${result.refusedOutputBytes} bytes refused: more than ${MAX_OUTPUT_BYTES}` });
    }
    const statusCode = STATUS_ERROR_CODES[result.status];
    if (!statusCode) {
      return new GatewayError('GW_ERR_MODULE_BAD_OUTPUT', { sensor, detail: `unknown status ${result.status}${out.detail ? ` (module: ${out.detail})` : ''}` });
    }
    if (result.status === Status.DENIED) {
      const detail = result.denial && out.detail ? `${result.denial} (module: ${out.detail})` : (result.denial ?? out.detail);
      return new GatewayError('GW_ERR_CAPABILITY_DENIED', { sensor, ...(detail ? { detail } : {}) });
    }
    if (out.ignoredCode) {
      // A module can fail on every call: one line per sensor and 10 s, with the count.
      logThrottled(this.#logThrottle, this.#log, 'debug', 'module failure code ignored; the status decides', { status: result.status, code: out.ignoredCode.code, reason: out.ignoredCode.reason });
    }
    const isI2C = (result.status <= Status.I2C_NACK && result.status >= Status.I2C_TIMEOUT) || result.status === Status.I2C_UNAVAILABLE;
    // The driver's error of this call, when the module's status says an I2C call failed or the
    // module named the sensor's state instead (and so took the failed transfer into account).
    const driver = isI2C || out.code ? result.i2cError : undefined;
    const retry = out.retryAfterMs === undefined ? {} : { retryAfterMs: out.retryAfterMs };
    if (out.code) {
      const detail = [out.detail, driver && `driver: ${driver.message}`].filter(Boolean).join('; ');
      return new GatewayError(out.code, { sensor, ...retry, ...(detail ? { detail } : {}) }, driver ? { cause: driver } : {});
    }
    if (driver) {
      // The driver's message leads (it is the actionable one: GW_ERR_I2C_PERMISSION says to
      // join group i2c), the module's detail follows, into every line that logs the error.
      return new GatewayError(driver.code, { sensor, ...moduleDetail }, { cause: driver, message: out.detail ? `${driver.message} (module: ${out.detail})` : driver.message });
    }
    return new GatewayError(statusCode, { sensor, ...retry, ...moduleDetail });
  }
}
