import type { Clock } from '../clock.ts';
import { SimulatedI2CBus } from './sim-i2c-bus.ts';
import type { TemperatureProfile } from './temperature-profile.ts';
import { SimulatedTmp102 } from './tmp102.ts';

/** ADD0 to GND (SBOS397 "Serial Bus Address" table): the usual breakout wiring. */
export const TMP102_DEFAULT_ADDRESS = 0x48;

export interface SimulatedTmp102BusOptions {
  clock: Clock;
  busNumber?: number;
  /** 0x48..0x4B by ADD0 (default 0x48). */
  address?: number;
  profile?: TemperatureProfile;
  conversionTimeMs?: number;
}

/** A simulated bus with one simulated TMP102 on it: what the gateway runs on a machine without I2C. */
export function createSimulatedTmp102Bus(options: SimulatedTmp102BusOptions): { bus: SimulatedI2CBus; tmp102: SimulatedTmp102; address: number } {
  const address = options.address ?? TMP102_DEFAULT_ADDRESS;
  const bus = new SimulatedI2CBus(options.busNumber ?? 1);
  const tmp102 = new SimulatedTmp102({ clock: options.clock, profile: options.profile, conversionTimeMs: options.conversionTimeMs });
  bus.attach(address, tmp102);
  return { bus, tmp102, address };
}
