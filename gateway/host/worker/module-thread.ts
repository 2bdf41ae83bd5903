/**
 * One module worker as the main thread sees it: started, called with a deadline, terminated.
 * It knows nothing of backoff or quarantine (WorkerModule decides those); it only reports
 * what happened to a call: a result, a timeout (the worker has been terminated), or the
 * worker's death (a crash, or V8 ran out of the worker's JS heap).
 */
import type { Worker } from 'node:worker_threads';
import { GatewayError } from '../../errors.ts';
import type { ThrottleSnapshot } from '../../log-throttle.ts';
import type { Logger } from '../../log.ts';
import type { SensorModuleStats } from '../sensor-module.ts';
import { servedCount } from './bus-channel.ts';
import type { OpenedChannel } from './bus-server.ts';
import type { CallOp, ModuleWorkerData, WorkerMessage } from './messages.ts';
import { spawnWorker } from './spawn.ts';

export type ResultMessage = Extract<WorkerMessage, { type: 'result' }>;

export type CallOutcome =
  | { kind: 'result'; message: ResultMessage }
  /** The call ran past its deadline; the worker is being terminated. */
  | { kind: 'timeout' }
  /** The worker died (or was closed) before answering. */
  | { kind: 'died'; error: GatewayError };

export interface ModuleThreadOptions {
  data: Omit<ModuleWorkerData, 'bus'>;
  channel: OpenedChannel | undefined;
  logger: Logger;
  bootTimeoutMs: number;
  workerHeapMb: number;
}

const ENTRY = new URL('./module-worker.ts', import.meta.url);

const EMPTY_STATS: SensorModuleStats = { calls: 0, faults: 0, instancesCreated: 0, i2cTransactions: 0, memoryBytes: 0 };

export class ModuleThread {
  /** Resolves when the worker is ready for calls; rejects (GatewayError) when it could not start. */
  readonly ready: Promise<void>;
  /** The engine's counters as of its last answer. */
  lastStats: SensorModuleStats = EMPTY_STATS;
  /** The module's log throttle as of the worker's last answer (what it started with, before one). */
  lastLogThrottle: ThrottleSnapshot;
  readonly #worker: Worker;
  readonly #channel: OpenedChannel | undefined;
  readonly #logger: Logger;
  readonly #sensor: string;
  readonly #pending = new Map<number, (outcome: CallOutcome) => void>();
  #nextId = 1;
  #gone: GatewayError | undefined;

  constructor(options: ModuleThreadOptions) {
    this.#channel = options.channel;
    this.#logger = options.logger;
    this.#sensor = options.data.name;
    this.lastLogThrottle = options.data.logThrottle;
    this.#worker = spawnWorker(ENTRY, { ...options.data, bus: options.channel?.descriptor }, {
      name: `module ${options.data.name}`,
      // Bounds the worker's JS heap (the engine's own objects); wasm memory is bounded in the
      // module binary (memory-ceiling.ts), which resourceLimits do not cover.
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb, maxYoungGenerationSizeMb: Math.max(4, Math.ceil(options.workerHeapMb / 8)) },
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.#die(new GatewayError('GW_ERR_MODULE_WORKER_FAILED', { sensor: this.#sensor, detail: `the worker did not start within ${options.bootTimeoutMs} ms` })));
        void this.#worker.terminate();
      }, options.bootTimeoutMs);
      this.#worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (msg.type === 'log') {
          this.#logger[msg.level](msg.msg, msg.fields);
        } else if (msg.type === 'result') {
          this.lastStats = msg.stats;
          this.lastLogThrottle = msg.logThrottle;
          const settle = this.#pending.get(msg.id);
          this.#pending.delete(msg.id);
          settle?.({ kind: 'result', message: msg });
        }
      });
      this.#worker.on('error', (err: Error & { code?: string }) => {
        clearTimeout(timer);
        const outOfMemory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
        reject(this.#die(new GatewayError(outOfMemory ? 'GW_ERR_MODULE_MEMORY_LIMIT' : 'GW_ERR_MODULE_WORKER_FAILED', {
          sensor: this.#sensor,
          detail: outOfMemory ? `the worker ran out of its ${options.workerHeapMb} MiB JS heap` : `${err.name}: ${err.message}`,
        }, { cause: err })));
      });
      this.#worker.on('exit', (code) => {
        clearTimeout(timer);
        reject(this.#die(new GatewayError('GW_ERR_MODULE_WORKER_FAILED', { sensor: this.#sensor, detail: `the worker exited (code ${code})` })));
      });
    });
    this.ready.catch(() => {}); // the caller awaits it; a prewarmed worker's failure is seen on its first call
    // An idle worker never holds the process open; a pending call does, through its deadline
    // timer. After the listeners: adding a 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  /** Bus transactions the bus owner ran for this worker (survives the worker's termination). */
  get servedTransactions(): number {
    return this.#channel ? servedCount(this.#channel.descriptor) : 0;
  }

  get alive(): boolean {
    return this.#gone === undefined;
  }

  /** One call; never rejects: the outcome says what happened. */
  call(op: CallOp, settings: Record<string, unknown> | undefined, deadlineMs: number): Promise<CallOutcome> {
    if (this.#gone) return Promise.resolve({ kind: 'died', error: this.#gone });
    const id = this.#nextId++;
    return new Promise<CallOutcome>((resolve) => {
      // Wall-clock time, whatever the module's Clock: a busy loop moves no ManualClock.
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ kind: 'timeout' });
        void this.terminate();
      }, deadlineMs);
      this.#pending.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      this.#worker.postMessage({ type: 'call', id, op, settings });
    });
  }

  /**
   * Stops the worker (V8 interrupts even a pure wasm loop within milliseconds) and the bus
   * channel serving it. Pending calls end as `died` with `reason`.
   */
  async terminate(reason?: GatewayError): Promise<void> {
    this.#die(reason ?? new GatewayError('GW_ERR_SENSOR_RESTARTING', { sensor: this.#sensor, retryAfterMs: 0, detail: 'the module worker was stopped' }));
    await this.#worker.terminate();
  }

  #die(error: GatewayError): GatewayError {
    if (this.#gone) return this.#gone;
    this.#gone = error;
    this.#channel?.close();
    for (const settle of this.#pending.values()) settle({ kind: 'died', error });
    this.#pending.clear();
    return error;
  }
}
