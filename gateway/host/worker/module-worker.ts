/**
 * Entry of a module worker: the engines (SensorModule, the same code that runs in-thread) of
 * one or more sensor modules on one thread. A worker of its own runs one module; a shared
 * worker runs several (docs/threading.md, "Shared workers"). This file is only transport: it
 * builds each engine from the compiled module the main thread posted, gives it a bus channel
 * instead of a bus and the shared clock, and answers one call at a time. Capability checks
 * and the rate limit run here, in the engine's gw imports: a denied access never leaves this
 * thread.
 *
 * In:  workerData (ModuleWorkerData), then WorkerRequest: add / call / remove, per tenant
 * Out: { type: 'ready' } once, { type: 'log', tenant, ... } as a module logs,
 *      { type: 'result', tenant, id, ok, value | error, info, stats, logThrottle } per call
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Clock, ScaledClock, SharedManualClockView, SystemClock, monotonicMs } from '../../../drivers/clock.ts';
import { GatewayError } from '../../errors.ts';
import { LogThrottle } from '../../log-throttle.ts';
import { SensorModule } from '../sensor-module.ts';
import { SliceExceeded } from '../module-instance.ts';
import { BusChannelClient } from './bus-channel.ts';
import { type ClockDescriptor, EMPTY_STATS, type ModuleWorkerData, type TenantData, type WorkerMessage, type WorkerRequest, serializeError } from './messages.ts';
import { PortLogger } from './port-logger.ts';

const port = parentPort!;
const data = workerData as ModuleWorkerData;

function clockFrom(descriptor: ClockDescriptor): Clock {
  switch (descriptor.kind) {
    case 'manual':
      return new SharedManualClockView(descriptor.state);
    case 'scaled':
      return ScaledClock.sharing(descriptor.state);
    case 'system':
      return new SystemClock();
  }
}

const clock = clockFrom(data.clock);

interface Tenant {
  engine: SensorModule;
  logThrottle: LogThrottle;
  bus: BusChannelClient | undefined;
}

const tenants = new Map<number, Tenant>();

function addTenant(id: number, t: TenantData): void {
  // Here, where the module's calls run, so a line held back never crosses to the main thread.
  // flushEvery: a count held back is written when its interval is over, even if no line of its
  // kind comes (the timer never keeps the worker alive).
  const logThrottle = new LogThrottle(() => monotonicMs(clock), { from: t.logThrottle }).flushEvery();
  const bus = t.bus ? new BusChannelClient(t.bus) : undefined;
  const engine = SensorModule.fromModule(t.module, {
    name: t.name,
    capabilities: t.capabilities,
    bus,
    clock,
    logger: new PortLogger(port, id),
    init: t.init,
    sleepBudgetMs: t.sleepBudgetMs,
    i2cRateLimit: t.i2cRateLimit,
    memoryLimitBytes: t.memoryLimitBytes,
    logThrottle,
    sliceMs: t.sliceMs,
  });
  tenants.set(id, { engine, logThrottle, bus });
}

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

port.on('message', (req: WorkerRequest) => {
  if (req.type === 'add') {
    addTenant(req.tenant, req.data);
    return;
  }
  if (req.type === 'remove') {
    // The engine, its instance and their memory go with the last reference. The throttle's
    // held counts travel on with the module (its last answer's snapshot), not written here.
    tenants.get(req.tenant)?.logThrottle.close({ flush: false });
    tenants.delete(req.tenant);
    return;
  }
  if (req.type !== 'call') return;
  const tenant = tenants.get(req.tenant);
  if (!tenant) {
    // Removed while the call was on its way. Its owner no longer waits for it, but the main
    // thread matches answers to calls in order: every call gets one.
    const error = serializeError(new GatewayError('GW_ERR_SENSOR_RESTARTING', { retryAfterMs: 0, detail: 'the module left this worker' }));
    post({ type: 'result', tenant: req.tenant, id: req.id, ok: false, error, info: undefined, stats: EMPTY_STATS, logThrottle: [] });
    return;
  }
  const { engine, logThrottle } = tenant;
  let reply: WorkerMessage;
  try {
    const value = req.op === 'start' ? engine.start() : req.op === 'read' ? engine.read() : engine.reconfigure(req.settings ?? {});
    reply = { type: 'result', tenant: req.tenant, id: req.id, ok: true, value, info: engine.info, stats: engine.stats, logThrottle: logThrottle.snapshot() };
  } catch (err) {
    const sliceExceeded = err instanceof GatewayError && err.cause instanceof SliceExceeded;
    reply = { type: 'result', tenant: req.tenant, id: req.id, ok: false, error: serializeError(err), sliceExceeded, info: engine.info, stats: engine.stats, logThrottle: logThrottle.snapshot() };
  }
  post(reply);
});

post({ type: 'ready' });
