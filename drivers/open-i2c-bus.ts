import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Board, detectBoard } from './board.ts';
import { SystemClock, type Clock } from './clock.ts';
import { I2CError } from './i2c-error.ts';
import type { I2CBus } from './i2c-bus.ts';
import { LinuxI2CBus, type I2cBusModule } from './linux-i2c-bus.ts';
import { SimulatedI2CBus, type SimI2CDevice } from './sim/sim-i2c-bus.ts';
import { createSimulatedTmp102Bus, TMP102_DEFAULT_ADDRESS } from './sim/simulated-tmp102-bus.ts';
import type { TemperatureProfile } from './sim/temperature-profile.ts';
import type { SimulatedTmp102 } from './sim/tmp102.ts';

export type I2CDriverChoice = 'auto' | 'linux' | 'simulated';

export interface OpenI2CBusOptions {
  /**
   * auto: Linux when /dev/i2c-<busNumber> exists; otherwise the simulation, except on a
   * Raspberry Pi, where a missing adapter means I2C is not enabled and is refused.
   */
  driver: I2CDriverChoice;
  /** N of /dev/i2c-N (header pins 3 and 5 are bus 1 on a Raspberry Pi). */
  busNumber: number;
  /** Time for the simulated chip (default: SystemClock). Unused by the Linux bus. */
  clock?: Clock;
  /**
   * What answers on a simulated bus: by default a TMP102 (address default 0x48, temperature
   * source, conversion time). `device` puts another device at `address` instead (one line of
   * `deviceDescription` says what it is); `device: null` leaves the bus empty: every transfer
   * is NACKed, as with a sensor missing.
   */
  simulated?: { address?: number; profile?: TemperatureProfile; conversionTimeMs?: number; device?: SimI2CDevice | null; deviceDescription?: string };
  /** Options for the Linux bus. */
  linux?: { forceAccess?: boolean; module?: I2cBusModule };
  /**
   * Makes the Linux bus (default: a LinuxI2CBus on this thread). The gateway passes one that
   * runs the adapter on a bus thread, so blocking transfers never hold up its event loop.
   */
  linuxBus?: (busNumber: number, forceAccess: boolean) => I2CBus;
  /** Where adapters appear (default /dev); a test seam for the auto choice only. */
  devDirectory?: string;
  /** The board (default: detectBoard()); a test seam for the auto choice only. */
  board?: Board;
}

export interface OpenedI2CBus {
  bus: I2CBus;
  /** One line for the start-up log: which implementation answers and why. */
  description: string;
  /** The simulated chip, to drive its temperature or inject faults; undefined on real hardware or with another device. */
  simulatedTmp102: SimulatedTmp102 | undefined;
  /** The simulated device at the address (the TMP102 or the one given); undefined on real hardware or an empty bus. */
  simulatedDevice: SimI2CDevice | undefined;
}

/**
 * Pick the I2C implementation once, at start-up. Nothing else in the gateway imports
 * LinuxI2CBus or the simulation: they meet only here, behind the I2CBus interface.
 */
export function openI2CBus(options: OpenI2CBusOptions): OpenedI2CBus {
  const { driver, busNumber } = options;
  if (!Number.isInteger(busNumber) || busNumber < 0) throw new RangeError(`busNumber must be a non-negative integer, got ${busNumber}`);
  if (driver !== 'auto' && driver !== 'linux' && driver !== 'simulated') throw new RangeError(`unknown I2C driver "${String(driver)}"`);
  const devicePath = join(options.devDirectory ?? '/dev', `i2c-${busNumber}`);
  const present = existsSync(devicePath);
  const useLinux = driver === 'linux' || (driver === 'auto' && present);
  if (driver === 'auto' && !present) {
    // On the board that should measure, a missing adapter is a set-up fault (I2C not enabled,
    // or the service started before udev made the device), never a reason to serve simulated
    // readings. The simulation there must be asked for by name.
    const board = options.board ?? detectBoard();
    if (board.isRaspberryPi) {
      throw new I2CError('GW_ERR_I2C_NO_ADAPTER', busNumber, options.simulated?.address ?? TMP102_DEFAULT_ADDRESS, {
        errno: 'ENOENT',
        detail: `this is a ${board.model} and ${devicePath} does not exist, so no reading would be a measurement (npm run doctor checks the set-up); to run on the simulated TMP102 instead, ask for it: --driver simulated`,
      });
    }
  }
  const why = driver === 'auto' ? (present ? `found ${devicePath}` : `no ${devicePath}, and this is not a Raspberry Pi`) : `driver: ${driver}`;

  if (useLinux) {
    const forceAccess = options.linux?.forceAccess ?? false;
    const bus = options.linuxBus ? options.linuxBus(busNumber, forceAccess) : new LinuxI2CBus(busNumber, { module: options.linux?.module, forceAccess });
    return { bus, description: `Linux I2C adapter ${devicePath} (${why})`, simulatedTmp102: undefined, simulatedDevice: undefined };
  }
  const sim = options.simulated ?? {};
  if (sim.device !== undefined) {
    const address = sim.address ?? TMP102_DEFAULT_ADDRESS;
    const bus = new SimulatedI2CBus(busNumber);
    if (sim.device !== null) bus.attach(address, sim.device);
    const what = sim.device === null ? 'nothing' : (sim.deviceDescription ?? 'a simulated device');
    return {
      bus,
      description: `simulated bus ${busNumber} (${why}): ${what} at 0x${address.toString(16).padStart(2, '0')}`,
      simulatedTmp102: undefined,
      simulatedDevice: sim.device ?? undefined,
    };
  }
  const { bus, tmp102, address } = createSimulatedTmp102Bus({
    clock: options.clock ?? new SystemClock(),
    busNumber,
    address: sim.address ?? TMP102_DEFAULT_ADDRESS,
    profile: sim.profile,
    conversionTimeMs: sim.conversionTimeMs,
  });
  const hexAddress = `0x${address.toString(16).padStart(2, '0')}`;
  return {
    bus,
    description: `simulated TMP102 at ${hexAddress} on simulated bus ${busNumber} (${why}; ${tmp102.profile.description})`,
    simulatedTmp102: tmp102,
    simulatedDevice: tmp102,
  };
}
