/**
 * Opens the I2C buses the configured sensors need, once, at start-up. On a bus without
 * /dev/i2c-N (driver "auto", on a machine that is not a Raspberry Pi) every configured sensor
 * gets a simulated TMP102 at its address, following the sensor's configured temperature
 * profile; on a Raspberry Pi a missing adapter is refused (drivers/open-i2c-bus.ts) unless the
 * simulation is asked for (driver "simulated").
 */
import type { Clock } from '../../drivers/clock.ts';
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import type { Board } from '../../drivers/board.ts';
import { I2CError } from '../../drivers/i2c-error.ts';
import { openI2CBus } from '../../drivers/open-i2c-bus.ts';
import { SimulatedI2CBus } from '../../drivers/sim/sim-i2c-bus.ts';
import { type TemperatureProfile, constantProfile, rampProfile, sineProfile } from '../../drivers/sim/temperature-profile.ts';
import { loadTraceProfile } from '../../drivers/sim/temperature-trace.ts';
import { SimulatedTmp102 } from '../../drivers/sim/tmp102.ts';
import { GatewayError, fromI2CError } from '../errors.ts';
import type { GatewayConfig, ProfileConfig } from './config.ts';

export interface Hardware {
  buses: Map<number, I2CBus>;
  /** The simulated chips by sensor name; empty on real hardware. */
  simulated: Map<string, SimulatedTmp102>;
  /** One line per bus: what answers and why. */
  descriptions: string[];
  close(): void;
}

export function profileFromConfig(p: ProfileConfig, field: string): TemperatureProfile {
  switch (p.kind) {
    case 'constant':
      return constantProfile(p.celsius);
    case 'ramp':
      return rampProfile({ from: p.from, to: p.to, overMs: p.overSeconds * 1000 });
    case 'sine':
      return sineProfile({ mean: p.mean, amplitude: p.amplitude, periodMs: p.periodSeconds * 1000 });
    case 'trace':
      try {
        return loadTraceProfile(p.file);
      } catch (err) {
        throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}.file: ${(err as Error).message}` }, { cause: err });
      }
  }
}

export interface HardwareOptions {
  /** Makes a Linux bus (the service passes one that runs on a bus thread). */
  linuxBus?: (busNumber: number, forceAccess: boolean) => I2CBus;
  /** The board and where adapters appear, for the auto choice (tests; default: this machine). */
  board?: Board;
  devDirectory?: string;
}

export function openHardware(config: GatewayConfig, clock: Clock, options: HardwareOptions = {}): Hardware {
  const buses = new Map<number, I2CBus>();
  const simulated = new Map<string, SimulatedTmp102>();
  const descriptions: string[] = [];

  config.sensors.forEach((sensor, i) => {
    const profile = profileFromConfig(sensor.simulation, `sensors[${i}].simulation`);
    const existing = buses.get(sensor.bus);
    if (!existing) {
      let opened;
      try {
        opened = openI2CBus({ driver: config.driver, busNumber: sensor.bus, clock, simulated: { address: sensor.address, profile }, linuxBus: options.linuxBus, board: options.board, devDirectory: options.devDirectory });
      } catch (err) {
        for (const bus of buses.values()) bus.close();
        throw err instanceof I2CError ? fromI2CError(err, { sensor: sensor.name }) : err;
      }
      buses.set(sensor.bus, opened.bus);
      descriptions.push(opened.description);
      if (opened.simulatedTmp102) simulated.set(sensor.name, opened.simulatedTmp102);
    } else if (existing instanceof SimulatedI2CBus) {
      const shared = existing.device(sensor.address);
      if (shared) {
        // Two sensors sharing one chip read the same device; the second is just as simulated.
        if (shared instanceof SimulatedTmp102) simulated.set(sensor.name, shared);
        return;
      }
      const chip = new SimulatedTmp102({ clock, profile });
      existing.attach(sensor.address, chip);
      simulated.set(sensor.name, chip);
      descriptions.push(`simulated TMP102 at 0x${sensor.address.toString(16)} on simulated bus ${sensor.bus} (${profile.description})`);
    }
  });

  return {
    buses,
    simulated,
    descriptions,
    close() {
      for (const bus of buses.values()) bus.close();
    },
  };
}
