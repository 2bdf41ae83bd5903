/**
 * One module on a worker thread, as WorkerModule sees it: started, called with a deadline,
 * stopped. The thread is its own (a worker of its own, terminated with the module) or shared
 * with the other modules of its bus (shared-workers.ts; the module only leaves it). It knows
 * nothing of backoff, quarantine or moving between workers (WorkerModule decides those); it
 * only reports what happened to a call.
 */
import { GatewayError } from '../../errors.ts';
import type { ThrottleSnapshot } from '../../log-throttle.ts';
import type { Logger } from '../../log.ts';
import type { SensorModuleStats } from '../sensor-module.ts';
import { servedCount } from './bus-channel.ts';
import type { OpenedChannel } from './bus-server.ts';
import { type CallOp, type ClockDescriptor, EMPTY_STATS, type TenantData } from './messages.ts';
import { type CallOutcome, ModuleWorkerThread } from './module-worker-thread.ts';

export type { CallOutcome, ResultMessage } from './module-worker-thread.ts';

export interface ModuleThreadOptions {
  data: Omit<TenantData, 'bus'>;
  channel: OpenedChannel | undefined;
  logger: Logger;
  clock: ClockDescriptor;
  bootTimeoutMs: number;
  workerHeapMb: number;
  /** A shared worker to join; without one the module gets a worker of its own. */
  shared?: ModuleWorkerThread | undefined;
}

export class ModuleThread {
  /** Resolves when the worker is ready for calls; rejects (GatewayError) when it could not start. */
  readonly ready: Promise<void>;
  /** The engine's counters as of its last answer. */
  lastStats: SensorModuleStats = EMPTY_STATS;
  /** The module's log throttle as of the worker's last answer (what it started with, before one). */
  lastLogThrottle: ThrottleSnapshot;
  /** True on a shared worker. */
  readonly shared: boolean;
  readonly #thread: ModuleWorkerThread;
  readonly #tenant: number;
  readonly #channel: OpenedChannel | undefined;
  readonly #sensor: string;
  #nextId = 1;
  #gone: GatewayError | undefined;

  constructor(options: ModuleThreadOptions) {
    this.#channel = options.channel;
    this.#sensor = options.data.name;
    this.lastLogThrottle = options.data.logThrottle;
    this.shared = options.shared !== undefined;
    this.#thread = options.shared ?? new ModuleWorkerThread({ name: options.data.name, clock: options.clock, bootTimeoutMs: options.bootTimeoutMs, workerHeapMb: options.workerHeapMb });
    this.#tenant = this.#thread.add({ ...options.data, bus: options.channel?.descriptor }, {
      logger: options.logger,
      onGone: (error) => this.#die(error),
      onThrottle: (snapshot) => (this.lastLogThrottle = snapshot),
    });
    this.ready = this.#thread.ready;
  }

  /** Bus transactions the bus owner ran for this module (survives the worker's termination). */
  get servedTransactions(): number {
    return this.#channel ? servedCount(this.#channel.descriptor) : 0;
  }

  get alive(): boolean {
    return this.#gone === undefined;
  }

  /**
   * One call; never rejects: the outcome says what happened. `budgetMs`: on a worker of its
   * own, the module's deadline; on a shared one, how long the worker may be held before it is
   * stopped for everyone (the module's slice is enforced inside the worker, this is the backstop).
   */
  async call(op: CallOp, settings: Record<string, unknown> | undefined, budgetMs: number): Promise<CallOutcome> {
    if (this.#gone) return { kind: 'died', error: this.#gone };
    const outcome = await this.#thread.call(this.#tenant, op, settings, budgetMs, this.#nextId++);
    if (outcome.kind === 'result') this.lastStats = outcome.message.stats;
    return outcome;
  }

  /**
   * Takes the module off its worker: a worker of its own is terminated (V8 interrupts even a
   * pure wasm loop within milliseconds), a shared one goes on serving the others. The bus
   * channel is closed; pending calls end as `died` with `reason`.
   */
  async terminate(reason?: GatewayError): Promise<void> {
    const error = this.#die(reason ?? new GatewayError('GW_ERR_SENSOR_RESTARTING', { sensor: this.#sensor, retryAfterMs: 0, detail: 'the module worker was stopped' }));
    if (!this.shared) return this.#thread.terminate(error);
    this.#thread.remove(this.#tenant, error);
    // The last module off a shared worker ends it: an idle worker still costs its memory.
    if (this.#thread.tenantCount === 0) await this.#thread.terminate(error);
  }

  #die(error: GatewayError): GatewayError {
    if (this.#gone) return this.#gone;
    this.#gone = error;
    this.#channel?.close();
    return error;
  }
}
