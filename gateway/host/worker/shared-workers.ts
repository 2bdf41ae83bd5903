/**
 * The shared module workers: one per bus (and clock), for the modules that run `shared`
 * (docs/threading.md, "Shared workers"). A Node.js worker costs about 7.7 MB of RSS before it
 * runs anything (measured here: 8 idle workers, docs/threading.md), more than a Go module's
 * instance; modules that share a worker share that cost.
 *
 * Why per bus: a call blocks its thread while its bus transfers run (the `gw` imports are
 * synchronous), and modules on one bus wait for each other's transfers anyway, since the bus
 * runs one at a time. Modules on different buses never wait for each other's bus.
 */
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import type { ClockDescriptor } from './messages.ts';
import { ModuleWorkerThread } from './module-worker-thread.ts';

const NO_BUS = {};
const byClock = new WeakMap<object, Map<object, ModuleWorkerThread>>();

export interface SharedWorkerOptions {
  clock: object;
  clockDescriptor: ClockDescriptor;
  bus: I2CBus | undefined;
  busLabel: string;
  bootTimeoutMs: number;
  workerHeapMb: number;
}

/** The live shared worker of this bus and clock, started if there is none. */
export function sharedWorkerFor(options: SharedWorkerOptions): ModuleWorkerThread {
  let byBus = byClock.get(options.clock);
  if (!byBus) byClock.set(options.clock, (byBus = new Map()));
  const key: object = options.bus ?? NO_BUS;
  const known = byBus.get(key);
  if (known?.alive) return known;
  const thread: ModuleWorkerThread = new ModuleWorkerThread(
    { name: `shared ${options.busLabel}`, clock: options.clockDescriptor, bootTimeoutMs: options.bootTimeoutMs, workerHeapMb: options.workerHeapMb },
    // Gone (crashed, stopped by its watchdog, or emptied): the next module to join starts a new one.
    () => {
      if (byBus.get(key) === thread) byBus.delete(key);
    },
  );
  byBus.set(key, thread);
  return thread;
}

/** The shared workers running now for this clock (one per bus with a sharing module). */
export function sharedWorkerCount(clock: object): number {
  return byClock.get(clock)?.size ?? 0;
}
