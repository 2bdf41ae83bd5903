/**
 * One module worker thread as the main thread sees it: started, its modules' calls routed to
 * it and their answers back, stopped. It runs one module (a worker of its own) or several (a
 * shared worker, docs/threading.md "Shared workers"); each is a tenant, known by a number.
 *
 * The worker answers one call at a time, in the order they were posted. So the call at the
 * head of the queue is the one running, since the answer before it came (or since it was
 * posted): its watchdog counts from then. A call past its budget has the whole worker
 * terminated (V8 interrupts even a pure wasm loop within milliseconds): that call ends as
 * `timeout`, every other call queued behind it as `evicted` (it never started, so it may run
 * again elsewhere), and every tenant learns that its worker is gone.
 */
import type { Worker } from 'node:worker_threads';
import { GatewayError } from '../../errors.ts';
import type { ThrottleSnapshot } from '../../log-throttle.ts';
import type { Logger } from '../../log.ts';
import type { CallOp, ClockDescriptor, TenantData, WorkerMessage, WorkerRequest } from './messages.ts';
import { spawnWorker } from './spawn.ts';

export type ResultMessage = Extract<WorkerMessage, { type: 'result' }>;

export type CallOutcome =
  | { kind: 'result'; message: ResultMessage }
  /** The call ran past its budget; the worker is being terminated. */
  | { kind: 'timeout' }
  /** The worker died (or was closed) while running the call, or before answering it. */
  | { kind: 'died'; error: GatewayError }
  /** The worker went away for another tenant's sake before this call started: it may be sent again. */
  | { kind: 'evicted'; error: GatewayError };

export interface TenantEvents {
  logger: Logger;
  /** The worker is gone: the tenant must not use it again. */
  onGone(error: GatewayError): void;
  onThrottle(snapshot: ThrottleSnapshot): void;
}

export interface ModuleWorkerThreadOptions {
  /** For the thread's name and its errors: the sensor, or "shared bus 1". */
  name: string;
  clock: ClockDescriptor;
  bootTimeoutMs: number;
  workerHeapMb: number;
}

const ENTRY = new URL('./module-worker.ts', import.meta.url);

interface QueuedCall {
  tenant: number;
  id: number;
  budgetMs: number;
  settle(outcome: CallOutcome): void;
}

export class ModuleWorkerThread {
  /** Resolves when the worker is ready for calls; rejects (GatewayError) when it could not start. */
  readonly ready: Promise<void>;
  readonly name: string;
  readonly #worker: Worker;
  readonly #tenants = new Map<number, TenantEvents>();
  /** Calls posted and not answered, in the order the worker runs them. */
  readonly #queue: QueuedCall[] = [];
  #watchdog: NodeJS.Timeout | undefined;
  #nextTenant = 1;
  #gone: GatewayError | undefined;
  #onGone: (() => void) | undefined;

  constructor(options: ModuleWorkerThreadOptions, onGone?: () => void) {
    this.name = options.name;
    this.#onGone = onGone;
    this.#worker = spawnWorker(ENTRY, { clock: options.clock }, {
      name: `module ${options.name}`,
      // Bounds the worker's JS heap (the engines' own objects); wasm memory is bounded in each
      // module binary (memory-ceiling.ts), which resourceLimits do not cover.
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb, maxYoungGenerationSizeMb: Math.max(4, Math.ceil(options.workerHeapMb / 8)) },
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.#die(new GatewayError('GW_ERR_MODULE_WORKER_FAILED', { sensor: this.name, detail: `the worker did not start within ${options.bootTimeoutMs} ms` })));
        void this.#worker.terminate();
      }, options.bootTimeoutMs);
      this.#worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (msg.type === 'log') {
          this.#tenants.get(msg.tenant)?.logger[msg.level](msg.msg, msg.fields);
        } else if (msg.type === 'result') {
          const head = this.#queue[0];
          if (head === undefined || head.tenant !== msg.tenant || head.id !== msg.id) {
            // Answers come in the order of the calls; one out of order means the queue no longer
            // says who is waiting for what: stop the worker rather than answer the wrong module.
            this.#die(new GatewayError('GW_ERR_MODULE_WORKER_FAILED', { sensor: this.name, detail: `answer for call ${msg.tenant}/${msg.id} out of order` }));
            void this.#worker.terminate();
            return;
          }
          this.#tenants.get(msg.tenant)?.onThrottle(msg.logThrottle);
          this.#answered({ kind: 'result', message: msg });
        }
      });
      this.#worker.on('error', (err: Error & { code?: string }) => {
        clearTimeout(timer);
        const outOfMemory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
        reject(this.#die(new GatewayError(outOfMemory ? 'GW_ERR_MODULE_MEMORY_LIMIT' : 'GW_ERR_MODULE_WORKER_FAILED', {
          sensor: this.name,
          detail: outOfMemory ? `the worker ran out of its ${options.workerHeapMb} MiB JS heap` : `${err.name}: ${err.message}`,
        }, { cause: err })));
      });
      this.#worker.on('exit', (code) => {
        clearTimeout(timer);
        reject(this.#die(new GatewayError('GW_ERR_MODULE_WORKER_FAILED', { sensor: this.name, detail: `the worker exited (code ${code})` })));
      });
    });
    this.ready.catch(() => {}); // the caller awaits it; a prewarmed worker's failure is seen on its first call
    // An idle worker never holds the process open; a pending call does, through its watchdog
    // timer. After the listeners: adding a 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  get alive(): boolean {
    return this.#gone === undefined;
  }

  get tenantCount(): number {
    return this.#tenants.size;
  }

  /** Puts a module on the worker; its number addresses its calls. */
  add(data: TenantData, events: TenantEvents): number {
    const tenant = this.#nextTenant++;
    this.#tenants.set(tenant, events);
    if (this.#gone) {
      queueMicrotask(() => events.onGone(this.#gone!));
    } else {
      this.#post({ type: 'add', tenant, data });
    }
    return tenant;
  }

  /** Takes a module off the worker (its engine and memory go); its queued calls end as `died`. */
  remove(tenant: number, reason: GatewayError): void {
    if (!this.#tenants.delete(tenant)) return;
    if (!this.#gone) this.#post({ type: 'remove', tenant });
    for (const call of this.#queue) if (call.tenant === tenant) call.settle({ kind: 'died', error: reason });
  }

  /** One call; never rejects: the outcome says what happened. `budgetMs` counts from when the worker starts it. */
  call(tenant: number, op: CallOp, settings: Record<string, unknown> | undefined, budgetMs: number, id: number): Promise<CallOutcome> {
    if (this.#gone) return Promise.resolve({ kind: 'died', error: this.#gone });
    return new Promise<CallOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: CallOutcome) => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      this.#queue.push({ tenant, id, budgetMs, settle });
      this.#post({ type: 'call', tenant, id, op, settings });
      if (this.#queue.length === 1) this.#armWatchdog();
    });
  }

  /** Stops the worker and fails every call still queued with `reason`. */
  async terminate(reason: GatewayError): Promise<void> {
    this.#die(reason);
    await this.#worker.terminate();
  }

  #post(request: WorkerRequest): void {
    this.#worker.postMessage(request);
  }

  /** The worker answers in order: the answer is the head's; the next call starts now. */
  #answered(outcome: CallOutcome): void {
    const head = this.#queue.shift();
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    if (this.#queue.length > 0) this.#armWatchdog();
    head?.settle(outcome);
  }

  #armWatchdog(): void {
    const head = this.#queue[0]!;
    // Wall-clock time, whatever the modules' Clock: a busy loop moves no ManualClock.
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      this.#queue.shift();
      head.settle({ kind: 'timeout' });
      this.#die(new GatewayError('GW_ERR_SENSOR_RESTARTING', { sensor: this.name, retryAfterMs: 0, detail: 'a module on the worker ran past its budget; the worker was stopped' }), false);
      void this.#worker.terminate();
    }, head.budgetMs);
  }

  /** `headRunning`: the first queued call was running when the worker went (false when its watchdog already took it off). */
  #die(error: GatewayError, headRunning = true): GatewayError {
    if (this.#gone) return this.#gone;
    this.#gone = error;
    clearTimeout(this.#watchdog);
    const queue = this.#queue.splice(0);
    // The running call died with the worker; the rest never started.
    queue.forEach((call, i) => call.settle(i === 0 && headRunning ? { kind: 'died', error } : { kind: 'evicted', error }));
    for (const events of this.#tenants.values()) events.onGone(error);
    this.#onGone?.();
    return error;
  }
}
