/**
 * What the checks share while the doctor runs: what to check (the sensor, the driver, the CoAP
 * address), the machine (DoctorEnvironment), and what earlier checks found (the open bus, the
 * scan, the initialised module), so later checks build on them instead of starting again.
 */
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import type { ScanResult } from '../../../drivers/i2c-scan.ts';
import { openI2CBus } from '../../../drivers/open-i2c-bus.ts';
import type { ModuleHandle } from '../../host/module-handle.ts';
import type { OscoreConfig, SensorConfig } from '../config.ts';
import { profileFromConfig } from '../hardware.ts';
import type { DoctorEnvironment } from './environment.ts';

export interface DoctorTarget {
  sensor: SensorConfig;
  /** linux: /dev/i2c-N; simulated: the simulated TMP102 (checks 2 and 3 do not apply). */
  driver: 'linux' | 'simulated';
  /** Where `npm start` would listen. */
  host: string;
  port: number;
  /** The configuration's OSCORE section, if it has one (oscore-check.ts). */
  oscore?: OscoreConfig | undefined;
}

export interface DoctorContext {
  target: DoctorTarget;
  env: DoctorEnvironment;
  /** The sensor's bus, opened by the first check that needs it, closed when the doctor ends. */
  bus: I2CBus | undefined;
  scan: ScanResult | undefined;
  /** The module after its gw_init succeeded (sensor-identity), for sensor-reading. */
  module: ModuleHandle | undefined;
}

export function devicePath(target: DoctorTarget): string {
  return `/dev/i2c-${target.sensor.bus}`;
}

/** The sensor's bus, opened once: /dev/i2c-N through i2c-bus, or the simulated one. */
export function sensorBus(ctx: DoctorContext): I2CBus {
  if (ctx.bus) return ctx.bus;
  const { sensor, driver } = ctx.target;
  if (driver === 'linux') {
    ctx.bus = openI2CBus({ driver: 'linux', busNumber: sensor.bus, linux: { module: ctx.env.i2cModule } }).bus;
  } else if (ctx.env.simulatedBus) {
    ctx.bus = ctx.env.simulatedBus(sensor.bus, sensor.address);
  } else {
    const profile = profileFromConfig(sensor.simulation, `sensors[${sensor.name}].simulation`);
    ctx.bus = openI2CBus({ driver: 'simulated', busNumber: sensor.bus, clock: ctx.env.clock, simulated: { address: sensor.address, profile } }).bus;
  }
  return ctx.bus;
}
