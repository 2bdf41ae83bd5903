/**
 * Entry of a module worker: one sensor module's engine (SensorModule, the same code that runs
 * in-thread) on its own thread. This file is only transport: it builds the engine from the
 * compiled module the main thread posted, gives it a bus channel instead of a bus and the
 * shared clock, and answers one call at a time. Capability checks and the rate limit run here,
 * in the engine's gw imports: a denied access never leaves this thread.
 *
 * In:  workerData (ModuleWorkerData), then { type: 'call', id, op, settings? }
 * Out: { type: 'ready' } once, { type: 'log', ... } as the module logs,
 *      { type: 'result', id, ok, value | error, info, stats, logThrottle } per call
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Clock, SharedManualClockView, SystemClock, monotonicMs } from '../../../drivers/clock.ts';
import { LogThrottle } from '../../log-throttle.ts';
import { SensorModule } from '../sensor-module.ts';
import { BusChannelClient } from './bus-channel.ts';
import { type CallRequest, type ClockDescriptor, type ModuleWorkerData, type WorkerMessage, serializeError } from './messages.ts';
import { PortLogger } from './port-logger.ts';

const port = parentPort!;
const data = workerData as ModuleWorkerData;

function clockFrom(descriptor: ClockDescriptor): Clock {
  return descriptor.kind === 'manual' ? new SharedManualClockView(descriptor.state) : new SystemClock();
}

const clock = clockFrom(data.clock);
// Here, where the module's calls run, so a line held back never crosses to the main thread.
const logThrottle = new LogThrottle(() => monotonicMs(clock), { from: data.logThrottle });

const engine = SensorModule.fromModule(data.module, {
  name: data.name,
  capabilities: data.capabilities,
  bus: data.bus ? new BusChannelClient(data.bus) : undefined,
  clock,
  logger: new PortLogger(port),
  init: data.init,
  sleepBudgetMs: data.sleepBudgetMs,
  i2cRateLimit: data.i2cRateLimit,
  memoryLimitBytes: data.memoryLimitBytes,
  logThrottle,
});

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

port.on('message', (req: CallRequest) => {
  if (req.type !== 'call') return;
  let reply: WorkerMessage;
  try {
    const value = req.op === 'start' ? engine.start() : req.op === 'read' ? engine.read() : engine.reconfigure(req.settings ?? {});
    reply = { type: 'result', id: req.id, ok: true, value, info: engine.info, stats: engine.stats, logThrottle: logThrottle.snapshot() };
  } catch (err) {
    reply = { type: 'result', id: req.id, ok: false, error: serializeError(err), info: engine.info, stats: engine.stats, logThrottle: logThrottle.snapshot() };
  }
  post(reply);
});

post({ type: 'ready' });
