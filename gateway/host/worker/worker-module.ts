/**
 * A sensor module in its own worker thread, behind the ModuleHandle interface: the engine
 * (SensorModule) runs there unchanged; this class is the transport and the policy around it
 * (docs/threading.md):
 *
 *   - load: compile and validate on the calling thread, so refusals stay synchronous and
 *     coded; the binary gets its memory maximum first (memory-ceiling.ts); the compiled
 *     WebAssembly.Module is posted to each worker (compiled once, shared);
 *   - deadline: a call that runs past `deadlineMs` has its worker terminated; the call
 *     rejects with GW_ERR_SENSOR_TIMEOUT and a fresh worker takes over after a backoff
 *     (1 s doubling to 60 s), during which calls reject with GW_ERR_SENSOR_RESTARTING;
 *   - quarantine: after `quarantineAfterFaults` faults in a row (timeouts, traps, panics,
 *     exits, memory ceiling, worker failures, with no successful call between) the module is
 *     kept from running for `quarantineMs`: GW_ERR_SENSOR_QUARANTINED, stats.quarantined;
 *   - memory: a fault at the ceiling (GW_ERR_MODULE_MEMORY_LIMIT), or an instance found at
 *     its ceiling after a call, recycles the worker, which frees the memory at once;
 *   - bus: the worker's transfers go through a bus channel, served on this thread for a
 *     simulated bus, on the bus thread for a Linux adapter (BusThread).
 *
 * Backoff and quarantine windows use the module's Clock (a test advances a ManualClock past
 * them); the call deadline is wall-clock time (a busy loop moves no ManualClock).
 */
import { createHash } from 'node:crypto';
import { type Clock, ManualClock, ScaledClock, SystemClock, monotonicMs } from '../../../drivers/clock.ts';
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import { type ErrorCode, GatewayError } from '../../errors.ts';
import { LogThrottle, type ThrottleSnapshot, logThrottled } from '../../log-throttle.ts';
import type { Logger } from '../../log.ts';
import type { ModuleHandle, ModuleHandleStats } from '../module-handle.ts';
import { addInterruptPoints } from '../interrupt-points.ts';
import { compileModule, compileModuleAsync, validateModule } from '../module-validator.ts';
import type { ModuleInfo, Reading, SensorModuleOptions } from '../sensor-module.ts';
import { createChannel } from './bus-channel.ts';
import { type BusEndpoint, type OpenedChannel, serveOnThisThread } from './bus-server.ts';
import { withMemoryCeiling } from './memory-ceiling.ts';
import type { CallOp, ClockDescriptor } from './messages.ts';
import { deserializeError } from './messages.ts';
import { type ModuleLimits, resolveModuleLimits } from './module-limits.ts';
import { ModuleThread } from './module-thread.ts';
import { sharedWorkerFor } from './shared-workers.ts';
import { readModuleBytes } from '../module-file.ts';

export interface WorkerModuleOptions extends Omit<SensorModuleOptions, 'i2cRateLimit' | 'memoryLimitBytes' | 'logThrottle' | 'sliceMs'> {
  /** Per-module limits; each missing field takes its default (DEFAULT_MODULE_LIMITS). */
  limits?: Partial<ModuleLimits>;
  /**
   * Start on the shared worker of the module's bus (shared-workers.ts) instead of a worker of
   * its own. A module that runs past its slice there, or faults in any way, leaves it for a
   * worker of its own for good (docs/threading.md, "Shared workers").
   */
  shared?: boolean;
}

/**
 * The longest one call of a module may hold a shared worker, and so delay the other modules
 * on it. A TMP102 read takes well under a millisecond of module time, a one-shot conversion
 * 26 ms of sleep (TMP102 datasheet, 6.5 "Electrical Characteristics", conversion time); an
 * SHT31 high-repeatability measurement 15 ms. `_initialize` (the Go runtime starting) gets
 * five slices (module-instance.ts).
 */
export const SHARED_SLICE_MS = 200;
/**
 * The most a call that makes an instance may legitimately hold a shared worker: `_initialize`'s
 * five slices (module-instance.ts, INITIALIZE_SLICES) and `gw_init`'s one.
 */
const SHARED_START_MS = 6 * SHARED_SLICE_MS;
/**
 * Past the module's deadline (or SHARED_START_MS, if longer) plus this, a shared worker that has
 * not answered is stopped for everyone: the slice is enforced inside the worker, this catches
 * what the slice cannot see.
 */
const SHARED_BACKSTOP_GRACE_MS = 500;

/** Faults after which the whole worker is recycled, not only the engine's instance. */
const MEMORY_CODES: ReadonlySet<ErrorCode> = new Set(['GW_ERR_MODULE_MEMORY_LIMIT']);

export class WorkerModule implements ModuleHandle {
  readonly limits: Readonly<ModuleLimits>;
  readonly #module: WebAssembly.Module;
  readonly #options: WorkerModuleOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #clockDescriptor: ClockDescriptor;
  readonly #bus: I2CBus | undefined;
  /** The gw_init input for every new worker: reconfigure() replaces its settings. */
  #init: WorkerModuleOptions['init'];
  #thread: ModuleThread | undefined;
  #info: ModuleInfo | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #consecutiveFaults = 0;
  #nextBackoffMs: number;
  #backoffUntilMs = 0;
  #quarantineUntilMs = 0;
  #restarts = 0;
  /** Counters of workers that are gone. */
  #past = { calls: 0, faults: 0, instancesCreated: 0, i2cTransactions: 0 };
  /** The engine's log throttle as the last worker left it; the next worker carries on from it. */
  #engineLogThrottle: ThrottleSnapshot = [];
  /**
   * This thread's lines about the module. Timeouts and worker failures are also spaced by the
   * backoff, but a module that reaches its memory ceiling on every successful read recycles a
   * worker per read with no backoff at all.
   */
  readonly #logThrottle: LogThrottle;
  /** On its bus's shared worker (until it leaves it for good), or on a worker of its own. */
  #shared: boolean;

  private constructor(module: WebAssembly.Module, options: WorkerModuleOptions, limits: ModuleLimits, shared: boolean) {
    this.#module = module;
    this.#shared = shared;
    this.#options = options;
    this.limits = Object.freeze(limits);
    this.#log = options.logger.child({ sensor: options.name });
    this.#clock = options.clock;
    this.#clockDescriptor = describeClock(options.clock);
    this.#nextBackoffMs = limits.backoffInitialMs;
    // A count held back is written when its 10 s are over, even if no line of its kind comes.
    this.#logThrottle = new LogThrottle(() => this.#nowMs()).flushEvery();
    this.#init = { ...options.init };
    const bus = options.bus;
    if (bus && !isBusEndpoint(bus) && bus.kind === 'linux') {
      // A blocking ioctl must never run on the event loop that serves CoAP.
      throw new GatewayError('GW_ERR_CONFIG_INVALID', { sensor: options.name, detail: `bus ${bus.busNumber} is a Linux adapter: open it with BusThread so its transfers run on a bus thread` });
    }
    this.#bus = bus;
  }

  static async fromFile(path: string, options: WorkerModuleOptions): Promise<WorkerModule> {
    return WorkerModule.fromBytes(await readModuleBytes(path, options.name), options);
  }

  /** Bounds, compiles and validates now (throws the coded refusal); no worker starts until the first call. */
  static fromBytes(bytes: Uint8Array, options: WorkerModuleOptions): WorkerModule {
    const prepared = prepare(bytes, options);
    const module = compileModule(prepared.bytes, options.name);
    validateModule(module, prepared.bounded, options.name);
    return new WorkerModule(module, options, prepared.limits, prepared.shared);
  }

  /**
   * As fromBytes, but compiles off the calling thread (WebAssembly.compile): a hot reload of a
   * 2 MB Go module does not hold up the CoAP event loop while V8 compiles it. `sha256`: of
   * `bytes`, when the caller has it already (module-factory.ts hashes every file it reads).
   */
  static async load(bytes: Uint8Array, options: WorkerModuleOptions, sha256?: string): Promise<WorkerModule> {
    const limits = resolveModuleLimits(options.limits);
    const key = `${sha256 ?? createHash('sha256').update(bytes).digest('hex')} ${limits.memoryLimitBytes} ${options.shared ? 'shared' : 'own'}`;
    const known = compiledModules.get(key);
    const module = known?.module.deref();
    if (known && module) {
      if (known.refusal) warnCannotShare(options, known.refusal);
      return new WorkerModule(module, options, limits, options.shared === true && known.refusal === undefined);
    }
    const prepared = prepare(bytes, options);
    const compiled = await compileModuleAsync(prepared.bytes, options.name);
    validateModule(compiled, prepared.bounded, options.name);
    compiledModules.set(key, { module: new WeakRef(compiled), refusal: prepared.refusal });
    return new WorkerModule(compiled, options, prepared.limits, prepared.shared);
  }

  get name(): string {
    return this.#options.name;
  }

  get info(): ModuleInfo | undefined {
    return this.#info;
  }

  get stats(): ModuleHandleStats {
    const thread = this.#thread;
    const now = thread?.lastStats;
    return {
      calls: this.#past.calls + (now?.calls ?? 0),
      faults: this.#past.faults + (now?.faults ?? 0),
      instancesCreated: this.#past.instancesCreated + (now?.instancesCreated ?? 0),
      i2cTransactions: this.#past.i2cTransactions + (thread?.servedTransactions ?? 0),
      memoryBytes: now?.memoryBytes ?? 0,
      quarantined: this.#quarantineUntilMs > this.#nowMs(),
      restarts: this.#restarts,
      thread: this.#shared ? 'shared' : 'own',
    };
  }

  start(): Promise<ModuleInfo> {
    return this.#serial(() => this.#call('start') as Promise<ModuleInfo>);
  }

  read(): Promise<Reading> {
    return this.#serial(() => this.#call('read') as Promise<Reading>);
  }

  reconfigure(settings: Record<string, unknown>): Promise<ModuleInfo> {
    return this.#serial(async () => {
      const info = (await this.#call('reconfigure', settings)) as ModuleInfo;
      // A worker started later initialises with these settings, as SensorModule keeps them.
      this.#init = { ...this.#init, settings };
      return info;
    });
  }

  /** Stops the worker now; a call in flight rejects with GW_ERR_SENSOR_RESTARTING. */
  async drain(): Promise<void> {
    await this.#tail;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#logThrottle.close();
    await this.#retire(false);
  }

  // One call at a time, as the ABI wants (docs/module-abi.md, "Lifecycle").
  #serial<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(run);
    this.#tail = result.catch(() => {});
    return result;
  }

  async #call(op: CallOp, settings?: Record<string, unknown>): Promise<Reading | ModuleInfo> {
    this.#admit();
    // A call is sent again, at most once, when it never ran to its end for reasons that are not
    // its module's own limits: its shared worker was stopped for another module (`evicted`), or
    // it ran past the shared worker's slice and now goes to a worker of its own.
    for (let resent = false; ; resent = true) {
      let thread: ModuleThread;
      try {
        thread = await this.#ensureThread();
      } catch (err) {
        if (this.#closed) throw this.#closedError();
        await this.#retire(false);
        throw this.#afterLoss(err as GatewayError);
      }
      const faultsBefore = thread.lastStats.faults;
      const budgetMs = thread.shared ? Math.max(this.limits.deadlineMs, SHARED_START_MS) + SHARED_BACKSTOP_GRACE_MS : this.limits.deadlineMs;
      const outcome = await thread.call(op, settings, budgetMs);
      if (this.#closed) throw this.#closedError();

      if (outcome.kind === 'evicted' && !resent) {
        await this.#retire(false);
        continue;
      }
      if (outcome.kind === 'result' && outcome.message.sliceExceeded && thread.shared && !resent) {
        this.#leaveShared('it held the shared worker past its slice', { op, sliceMs: SHARED_SLICE_MS });
        await this.#retire(false);
        continue;
      }
      if (outcome.kind === 'timeout') {
        if (thread.shared) this.#leaveShared('the shared worker stopped answering during its call', { op });
        await this.#retire(true);
        this.#line('error', 'module ran past its deadline; worker terminated', { op, deadlineMs: this.limits.deadlineMs });
        throw this.#afterLoss(new GatewayError('GW_ERR_SENSOR_TIMEOUT', { sensor: this.name, detail: `${op} ran past its ${this.limits.deadlineMs} ms deadline` }));
      }
      if (outcome.kind === 'died' || outcome.kind === 'evicted') {
        if (thread.shared && outcome.kind === 'died') this.#leaveShared('its shared worker failed during its call', { op });
        await this.#retire(outcome.kind === 'died');
        this.#line('error', 'module worker failed', { op, code: outcome.error.code, detail: outcome.error.details.detail });
        throw this.#afterLoss(outcome.error);
      }

      const { message } = outcome;
      if (message.info) this.#info = message.info;
      if (message.ok) {
        this.#consecutiveFaults = 0;
        this.#nextBackoffMs = this.limits.backoffInitialMs;
        if (message.stats.memoryBytes >= this.limits.memoryLimitBytes) {
          this.#line('warn', 'module instance at its memory ceiling; recycling its worker', { memoryBytes: message.stats.memoryBytes, limit: this.limits.memoryLimitBytes });
          if (thread.shared) this.#leaveShared('its instance reached its memory ceiling', { op });
          this.#restarts++;
          await this.#retire(false);
        }
        return message.value!;
      }
      const error = deserializeError(message.error!);
      if (message.stats.faults > faultsBefore) {
        if (thread.shared) {
          // A module that faults does not get to fault again beside the others.
          this.#leaveShared('it faulted', { op, code: error.code });
          await this.#retire(false);
        } else if (MEMORY_CODES.has(error.code)) {
          // Dropping the instance inside the worker frees its memory only when V8 gets round to
          // it; ending the worker frees it now.
          this.#restarts++;
          await this.#retire(false);
        }
        this.#countFault();
      }
      throw error;
    }
  }

  /** For good: from now on the module runs on a worker of its own, with its own limits. */
  #leaveShared(why: string, fields: Record<string, unknown>): void {
    if (!this.#shared) return;
    this.#shared = false;
    this.#log.warn(`module moved to a worker of its own: ${why}`, fields);
  }

  /** Refuses a call while the module is quarantined or waiting out its restart backoff. */
  #admit(): void {
    if (this.#closed) throw this.#closedError();
    const now = this.#nowMs();
    if (this.#quarantineUntilMs > now) {
      throw new GatewayError('GW_ERR_SENSOR_QUARANTINED', { sensor: this.name, retryAfterMs: Math.ceil(this.#quarantineUntilMs - now), detail: `after ${this.limits.quarantineAfterFaults} faults in a row` });
    }
    if (this.#quarantineUntilMs !== 0) {
      this.#log.info('module quarantine over');
      this.#quarantineUntilMs = 0;
      this.#consecutiveFaults = 0;
      this.#nextBackoffMs = this.limits.backoffInitialMs;
    }
    if (this.#backoffUntilMs > now) {
      throw new GatewayError('GW_ERR_SENSOR_RESTARTING', { sensor: this.name, retryAfterMs: Math.ceil(this.#backoffUntilMs - now) });
    }
  }

  /**
   * After a worker was lost (timeout, crash): count the fault, then either quarantine or set
   * the restart backoff and start the next worker now, so it has booted when the wait is over.
   * Returns `error` with the time until the module may run again.
   */
  #afterLoss(error: GatewayError): GatewayError {
    this.#restarts++;
    if (this.#countFault()) return error.withRetryAfter(this.limits.quarantineMs);
    const delay = this.#nextBackoffMs;
    this.#nextBackoffMs = Math.min(delay * 2, this.limits.backoffMaxMs);
    this.#backoffUntilMs = this.#nowMs() + delay;
    void this.#ensureThread().catch(() => {});
    return error.withRetryAfter(delay);
  }

  /** Counts one fault; true when it put the module in quarantine. */
  #countFault(): boolean {
    this.#consecutiveFaults++;
    if (this.#consecutiveFaults < this.limits.quarantineAfterFaults) return false;
    this.#quarantineUntilMs = this.#nowMs() + this.limits.quarantineMs;
    this.#log.error('module quarantined', { faults: this.#consecutiveFaults, forMs: this.limits.quarantineMs });
    void this.#retire(false);
    return true;
  }

  async #ensureThread(): Promise<ModuleThread> {
    if (this.#closed) throw this.#closedError();
    // A shared worker stopped (or crashed) for another module's sake while this one had no call
    // on it: nothing of this module failed, so it goes to a new shared worker, counting nothing.
    if (this.#thread && !this.#thread.alive && this.#thread.shared) await this.#retire(false);
    if (!this.#thread) this.#thread = this.#spawn();
    const thread = this.#thread;
    await thread.ready;
    return thread;
  }

  #spawn(): ModuleThread {
    const o = this.#options;
    const shared = this.#shared
      ? sharedWorkerFor({ clock: this.#clock, clockDescriptor: this.#clockDescriptor, bus: this.#bus, busLabel: `bus ${o.init.bus}`, bootTimeoutMs: this.limits.bootTimeoutMs, workerHeapMb: this.limits.workerHeapMb })
      : undefined;
    return new ModuleThread({
      shared,
      clock: this.#clockDescriptor,
      data: {
        module: this.#module,
        name: o.name,
        capabilities: o.capabilities,
        init: this.#init,
        sleepBudgetMs: o.sleepBudgetMs,
        i2cRateLimit: this.limits.i2cRateLimit === false ? undefined : this.limits.i2cRateLimit,
        memoryLimitBytes: this.limits.memoryLimitBytes,
        logThrottle: this.#engineLogThrottle,
        // A deadline shorter than the slice is honoured: past it the call goes to a worker of its
        // own, where the deadline ends it.
        sliceMs: shared ? Math.min(SHARED_SLICE_MS, this.limits.deadlineMs) : undefined,
      },
      channel: this.#openChannel(),
      logger: o.logger,
      bootTimeoutMs: this.limits.bootTimeoutMs,
      workerHeapMb: this.limits.workerHeapMb,
    });
  }

  #openChannel(): OpenedChannel | undefined {
    const bus = this.#bus;
    if (!bus) return undefined;
    if (isBusEndpoint(bus)) return bus.openChannel();
    return serveOnThisThread(bus, createChannel(bus));
  }

  /** Ends the current worker, keeping its counters. `midCall`: it died answering a call it never reported. */
  async #retire(midCall: boolean): Promise<void> {
    const thread = this.#thread;
    if (!thread) return;
    this.#thread = undefined;
    const s = thread.lastStats;
    this.#past.calls += s.calls + (midCall ? 1 : 0);
    this.#past.faults += s.faults + (midCall ? 1 : 0);
    this.#past.instancesCreated += s.instancesCreated;
    this.#engineLogThrottle = thread.lastLogThrottle;
    await thread.terminate();
    this.#past.i2cTransactions += thread.servedTransactions;
  }

  /** One line per message and 10 s, with the count of those held back (gateway/log-throttle.ts). */
  #line(level: 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    logThrottled(this.#logThrottle, this.#log, level, msg, fields);
  }

  #closedError(): GatewayError {
    return new GatewayError('GW_ERR_SENSOR_RESTARTING', { sensor: this.name, retryAfterMs: 1000, detail: 'the module was closed (replaced or shutting down)' });
  }

  #nowMs(): number {
    return monotonicMs(this.#clock);
  }
}

/**
 * Compiled modules by content, memory ceiling and interrupt points, while some sensor uses them:
 * eight sensors with one module file read it eight times but rewrite and compile it once (each
 * rewrite makes megabytes of garbage on the main thread, and takes milliseconds of it).
 */
const compiledModules = new Map<string, { module: WeakRef<WebAssembly.Module>; refusal: string | undefined }>();

interface Prepared {
  limits: ModuleLimits;
  /** With its memory ceiling: what the validator reads. */
  bounded: Uint8Array;
  /** What is compiled: `bounded`, with interrupt points when the module is to share a worker. */
  bytes: Uint8Array;
  shared: boolean;
  /** Why the module cannot share a worker, when it was to. */
  refusal?: string;
}

function prepare(bytes: Uint8Array, options: WorkerModuleOptions): Prepared {
  const limits = resolveModuleLimits(options.limits);
  const bounded = withMemoryCeiling(bytes, limits.memoryLimitBytes, options.name).bytes;
  if (!options.shared) return { limits, bounded, bytes: bounded, shared: false };
  const metered = addInterruptPoints(bounded);
  if (metered.ok) return { limits, bounded, bytes: metered.bytes, shared: true };
  warnCannotShare(options, metered.reason);
  return { limits, bounded, bytes: bounded, shared: false, refusal: metered.reason };
}

/** Without interrupt points a runaway loop could only be stopped by stopping the thread, and with it every other module on it. */
function warnCannotShare(options: WorkerModuleOptions, reason: string): void {
  options.logger.child({ sensor: options.name }).warn('module runs in a worker of its own: it cannot share one', { reason });
}

function isBusEndpoint(bus: I2CBus): bus is I2CBus & BusEndpoint {
  return typeof (bus as Partial<BusEndpoint>).openChannel === 'function';
}

function describeClock(clock: Clock): ClockDescriptor {
  if (clock instanceof ManualClock) return { kind: 'manual', state: clock.share() };
  if (clock instanceof ScaledClock) return { kind: 'scaled', state: clock.share() };
  if (clock instanceof SystemClock) return { kind: 'system' };
  throw new TypeError('WorkerModule needs a SystemClock, a ManualClock or a ScaledClock (another clock cannot be shared with a worker thread)');
}
