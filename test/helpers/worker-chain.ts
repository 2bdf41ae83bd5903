/**
 * The chain of test/helpers/chain.ts with the module in a worker thread: the simulated bus
 * and chip stay on this thread (the test drives them), the ManualClock is shared with the
 * worker, and WorkerModule is the handle. Close what you make: `close()` ends the workers.
 */
import { ManualClock } from '../../drivers/clock.ts';
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import type { SimulatedI2CBus } from '../../drivers/sim/sim-i2c-bus.ts';
import { createSimulatedTmp102Bus } from '../../drivers/sim/simulated-tmp102-bus.ts';
import { constantProfile } from '../../drivers/sim/temperature-profile.ts';
import type { SimulatedTmp102 } from '../../drivers/sim/tmp102.ts';
import type { I2CGrant } from '../../gateway/host/capabilities.ts';
import type { ModuleLimits } from '../../gateway/host/worker/module-limits.ts';
import { WorkerModule } from '../../gateway/host/worker/worker-module.ts';
import { MemoryLogger } from '../../gateway/log.ts';
import { wasmPath } from './chain.ts';

export interface WorkerChain {
  clock: ManualClock;
  bus: SimulatedI2CBus;
  chip: SimulatedTmp102;
  logger: MemoryLogger;
  module: WorkerModule;
  close(): Promise<void>;
}

export interface WorkerChainOptions {
  module?: string;
  celsius?: number;
  settings?: Record<string, unknown>;
  address?: number;
  grant?: I2CGrant;
  limits?: Partial<ModuleLimits>;
  /** Replace the bus the module sees (a BusThread). */
  bus?: I2CBus;
  clock?: ManualClock;
  logger?: MemoryLogger;
}

export async function makeWorkerChain(options: WorkerChainOptions = {}): Promise<WorkerChain> {
  const clock = options.clock ?? new ManualClock();
  const logger = options.logger ?? new MemoryLogger();
  const address = options.address ?? 0x48;
  const { bus, tmp102: chip } = createSimulatedTmp102Bus({ clock, profile: constantProfile(options.celsius ?? 21.5) });
  const module = await WorkerModule.fromFile(wasmPath(options.module ?? 'tmp102'), {
    name: options.module ?? 'tmp102',
    capabilities: { i2c: options.grant ?? { bus: options.bus?.busNumber ?? 1, addresses: [address] } },
    bus: options.bus ?? bus,
    clock,
    logger,
    init: { bus: options.bus?.busNumber ?? 1, address, settings: options.settings ?? {} },
    limits: options.limits,
  });
  return { clock, bus, chip, logger, module, close: () => module.close() };
}

const opened: WorkerChain[] = [];

/** makeWorkerChain, remembered so that `closeWorkerChains()` (in an `after` hook) ends its worker. */
export async function openWorkerChain(options: WorkerChainOptions = {}): Promise<WorkerChain> {
  const c = await makeWorkerChain(options);
  opened.push(c);
  return c;
}

export async function closeWorkerChains(): Promise<void> {
  await Promise.all(opened.splice(0).map((c) => c.close()));
}

/** The rejection of `promise` (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; details?: { retryAfterMs?: number; detail?: string } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, the promise resolved');
}
