/**
 * Turns a sensor's configuration into a running ModuleHandle: reads the module file, checks
 * its sha256 when one is configured (before any byte of it is compiled), validates it against
 * the ABI and wires it to the sensor's bus and capability grant.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { InThreadModule } from '../host/in-thread-module.ts';
import { readModuleBytes } from '../host/module-file.ts';
import type { ModuleHandle } from '../host/module-handle.ts';
import { SensorModule } from '../host/sensor-module.ts';
import { WorkerModule } from '../host/worker/worker-module.ts';
import type { SensorConfig } from './config.ts';
import type { Hardware } from './hardware.ts';

/**
 * Where modules run (docs/threading.md). `shared` (the gateway's default): on a worker thread
 * shared with the other modules of the same bus, each with its configured limits (deadline,
 * memory ceiling, bus rate, backoff, quarantine), and moved to a worker of its own for good
 * once it runs past its slice or faults. `worker`: each in its own worker thread from the start,
 * with the same limits. `in-thread`: on the calling thread, without those limits (a one-shot
 * tool, or a test of module logic).
 */
export type Isolation = 'shared' | 'worker' | 'in-thread';

export interface ModuleFactoryOptions {
  clock: Clock;
  logger: Logger;
  hardware: Hardware;
  isolation: Isolation;
  sleepBudgetMs?: number;
}

export interface LoadedModule {
  handle: ModuleHandle;
  /** SHA-256 of the bytes that were loaded (lowercase hex). */
  sha256: string;
}

export async function readModuleFile(sensor: SensorConfig): Promise<{ bytes: Uint8Array; sha256: string }> {
  const bytes = await readModuleBytes(sensor.module, sensor.name);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sensor.sha256 !== undefined && sensor.sha256 !== sha256) {
    throw new GatewayError('GW_ERR_MODULE_CHECKSUM', { sensor: sensor.name, detail: `${sensor.module} has sha256 ${sha256}, configured ${sensor.sha256}` });
  }
  return { bytes, sha256 };
}

export async function loadModule(sensor: SensorConfig, options: ModuleFactoryOptions): Promise<LoadedModule> {
  const { bytes, sha256 } = await readModuleFile(sensor);
  const options_ = {
    name: sensor.name,
    capabilities: { i2c: sensor.grant },
    bus: options.hardware.buses.get(sensor.grant.bus),
    clock: options.clock,
    logger: options.logger,
    init: { bus: sensor.bus, address: sensor.address, settings: sensor.settings },
    sleepBudgetMs: options.sleepBudgetMs,
  };
  // A sensor may run its (trusted) module on the calling thread in a service of workers.
  const isolation = sensor.isolation ?? options.isolation;
  if (isolation !== 'in-thread') {
    return { handle: await WorkerModule.load(bytes, { ...options_, limits: sensor.limits, shared: isolation === 'shared' }, sha256), sha256 };
  }
  // The bus rate limit is enforced by the host's imports, on whichever thread they run.
  const i2cRateLimit = sensor.limits.i2cRateLimit === false ? undefined : sensor.limits.i2cRateLimit;
  return { handle: new InThreadModule(SensorModule.fromBytes(bytes, { ...options_, i2cRateLimit })), sha256 };
}
