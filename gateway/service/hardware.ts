/**
 * Opens the I2C buses the configured sensors need, once, at start-up. On a bus without
 * /dev/i2c-N (driver "auto", on a machine that is not a Raspberry Pi) every configured sensor
 * gets the simulated device its `simulation` names (docs/configuration.md,
 * "sensors[].simulation"): a TMP102 (the default), an SHT3x, a register map, a replay of a
 * recording, or nothing at all; on a Raspberry Pi a missing adapter is refused
 * (drivers/open-i2c-bus.ts) unless the simulation is asked for (driver "simulated").
 *
 * With `record`, every transfer on the buses opened here is written to a file
 * (drivers/recording-bus.ts), for a replay device to answer later.
 */
import type { Clock } from '../../drivers/clock.ts';
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import type { Board } from '../../drivers/board.ts';
import { BoundedFileError, readBoundedFileSync } from '../../drivers/bounded-file.ts';
import { I2CError } from '../../drivers/i2c-error.ts';
import { openI2CBus } from '../../drivers/open-i2c-bus.ts';
import { RECORDING_MAX_BYTES, RecordingFormatError, TransferRecorder, parseRecording, recordTransfers } from '../../drivers/recording-bus.ts';
import { constantHumidity, rampHumidity, sineHumidity, type HumidityProfile } from '../../drivers/sim/humidity-profile.ts';
import { RegisterMapDevice } from '../../drivers/sim/register-map-device.ts';
import { ReplayDevice, type ReplayDeviation } from '../../drivers/sim/replay-device.ts';
import { SimulatedSht3x } from '../../drivers/sim/sht3x.ts';
import { SimulatedI2CBus, type SimI2CDevice } from '../../drivers/sim/sim-i2c-bus.ts';
import { AbsentDevice, type SimQuantity, type SimulatedDevice, scriptableQuantities } from '../../drivers/sim/simulated-device.ts';
import { type TemperatureProfile, constantProfile, rampProfile, sineProfile } from '../../drivers/sim/temperature-profile.ts';
import { loadTraceProfile } from '../../drivers/sim/temperature-trace.ts';
import { SimulatedTmp102 } from '../../drivers/sim/tmp102.ts';
import { GatewayError, fromI2CError } from '../errors.ts';
import { DEFAULT_SIM_CELSIUS, SIMULATED_DEVICE_ADDRESSES, type GatewayConfig, type HumidityProfileConfig, type ProfileConfig, type SensorConfig, type SimulationConfig, simulationDevice, simulationTemperature } from './config.ts';

export type { SimulatedDevice } from '../../drivers/sim/simulated-device.ts';

export interface Hardware {
  buses: Map<number, I2CBus>;
  /**
   * The simulated devices by sensor name; empty on real hardware. Narrow a value with
   * `instanceof SimulatedTmp102` / `SimulatedSht3x` or `simulatedDeviceKind` for what only one
   * kind has (ALERT, registers).
   */
  simulated: Map<string, SimulatedDevice>;
  /** One line per bus: what answers and why. */
  descriptions: string[];
  close(): void;
}

/**
 * The temperature profile of a simulation (a bare profile, or a tmp102's or sht3x's
 * `temperature`; the default constant for a device without one, which never uses it).
 */
export function profileFromConfig(p: SimulationConfig, field: string): TemperatureProfile {
  const temperature = simulationTemperature(p);
  const f = temperature !== undefined && 'device' in p ? `${field}.temperature` : field;
  return temperatureProfile(temperature ?? { kind: 'constant', celsius: DEFAULT_SIM_CELSIUS }, f);
}

function temperatureProfile(p: ProfileConfig, field: string): TemperatureProfile {
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

function humidityProfile(p: HumidityProfileConfig): HumidityProfile {
  switch (p.kind) {
    case 'constant':
      return constantHumidity(p.percent);
    case 'ramp':
      return rampHumidity({ from: p.from, to: p.to, overMs: p.overSeconds * 1000 });
    case 'sine':
      return sineHumidity({ mean: p.mean, amplitude: p.amplitude, periodMs: p.periodSeconds * 1000 });
  }
}

export interface HardwareOptions {
  /** Makes a Linux bus (the service passes one that runs on a bus thread). */
  linuxBus?: (busNumber: number, forceAccess: boolean, record?: { file: string; maxBytes?: number; originMs?: number }) => I2CBus;
  /** The board and where adapters appear, for the auto choice (tests; default: this machine). */
  board?: Board;
  devDirectory?: string;
  /**
   * `--record <file>`: write every transfer of the buses opened here to `file` (JSON lines,
   * drivers/recording-bus.ts), at most `maxBytes`. A bus that serves worker threads itself
   * (a BusThread: it has `openChannel`) is not wrapped here: its transfers never pass through
   * this thread, so it records on its own thread.
   */
  record?: { file: string; maxBytes?: number };
  /** Hears a replay device's deviations (the module asked what the recording does not have next). */
  onReplayDeviation?: (sensor: string, deviation: ReplayDeviation) => void;
}

/** The largest recording a replay device reads: what --record writes by default. */
export const REPLAY_FILE_MAX_BYTES = RECORDING_MAX_BYTES;

interface BuiltDevice {
  device: SimulatedDevice;
  /** What sits on the bus: null for `none`. */
  onBus: SimI2CDevice | null;
  description: string;
}

function buildDevice(sensor: SensorConfig, field: string, clock: Clock, options: HardwareOptions): BuiltDevice {
  const sim = sensor.simulation;
  if (!('device' in sim) || sim.device === 'tmp102') {
    const profile = profileFromConfig(sim, field);
    const chip = new SimulatedTmp102({ clock, profile });
    return { device: chip, onBus: chip, description: `simulated TMP102 (${profile.description})` };
  }
  switch (sim.device) {
    case 'sht3x': {
      const temperature = temperatureProfile(sim.temperature, `${field}.temperature`);
      const humidity = humidityProfile(sim.humidity);
      const chip = new SimulatedSht3x({ clock, temperature, humidity });
      return { device: chip, onBus: chip, description: `simulated SHT3x (${temperature.description}; ${humidity.description})` };
    }
    case 'registers': {
      const profiles = sim.profiles.map((p, i) => {
        const profile = temperatureProfile(p.profile, `${field}.profiles[${i}].profile`);
        return { register: p.register, scale: p.scale, offset: p.offset, valueAt: (t: number) => profile.celsiusAt(t), description: profile.description };
      });
      const device = new RegisterMapDevice({ clock, width: sim.width, byteOrder: sim.byteOrder, registers: new Map(sim.registers), writable: sim.writable, readOnlyWrite: sim.readOnlyWrite, profiles });
      return { device, onBus: device, description: `simulated ${device.description}` };
    }
    case 'replay': {
      const device = new ReplayDevice({
        clock,
        transfers: recordedTransfers(sensor, sim.file, `${field}.file`),
        atEnd: sim.atEnd,
        source: sim.file,
        ...(options.onReplayDeviation ? { onDeviation: (d: ReplayDeviation) => options.onReplayDeviation!(sensor.name, d) } : {}),
      });
      return { device, onBus: device, description: `simulated device: ${device.description}` };
    }
    case 'none': {
      const device = new AbsentDevice();
      return { device, onBus: null, description: `no device (${device.description})` };
    }
  }
}

function recordedTransfers(sensor: SensorConfig, file: string, field: string) {
  let text: string;
  try {
    text = readBoundedFileSync(file, { maxBytes: REPLAY_FILE_MAX_BYTES }).toString('utf8');
  } catch (err) {
    throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}: ${err instanceof BoundedFileError ? err.message : String(err)}` }, { cause: err });
  }
  let all;
  try {
    all = parseRecording(text, file);
  } catch (err) {
    if (err instanceof RecordingFormatError) throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}: ${err.message}` }, { cause: err });
    throw err;
  }
  const mine = all.filter((t) => t.bus === sensor.bus && t.address === sensor.address);
  if (mine.length === 0) {
    throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}: ${file} has no transfers for bus ${sensor.bus} address 0x${sensor.address.toString(16).padStart(2, '0')} (it has ${all.length} for other devices)` });
  }
  return mine;
}

export function openHardware(config: GatewayConfig, clock: Clock, options: HardwareOptions = {}): Hardware {
  const buses = new Map<number, I2CBus>();
  const simulated = new Map<string, SimulatedDevice>();
  const descriptions: string[] = [];
  const closeAll = () => {
    for (const bus of buses.values()) bus.close();
  };

  // The recording file is created (truncated, with its header) before any bus thread starts
  // appending to it.
  let recorder: TransferRecorder | undefined;
  if (options.record) {
    try {
      recorder = new TransferRecorder(options.record.file, { clock, ...(options.record.maxBytes === undefined ? {} : { maxBytes: options.record.maxBytes }) });
    } catch (err) {
      throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `--record: cannot write ${options.record.file}: ${(err as Error).message}` }, { cause: err });
    }
  }

  try {
    config.sensors.forEach((sensor, i) => {
      const field = `sensors[${i}].simulation`;
      const existing = buses.get(sensor.bus);
      if (!existing) {
        // The TMP102 as openI2CBus has always made it (same chip, same start-up line); any other device as built here.
        const tmp102 = simulationDevice(sensor.simulation) === 'tmp102';
        const built = tmp102 || config.driver === 'linux' ? undefined : buildDevice(sensor, field, clock, options);
        let opened;
        try {
          opened = openI2CBus({
            driver: config.driver,
            busNumber: sensor.bus,
            clock,
            simulated: built ? { address: sensor.address, device: built.onBus, deviceDescription: built.description } : { address: sensor.address, profile: profileFromConfig(sensor.simulation, field) },
            // A bus thread records on its own thread (it serves the module workers directly), appending to the file opened below.
            ...(options.linuxBus ? { linuxBus: (n: number, force: boolean) => options.linuxBus!(n, force, options.record && recorder ? { ...options.record, originMs: recorder.originMs } : undefined) } : {}),
            board: options.board,
            devDirectory: options.devDirectory,
          });
        } catch (err) {
          throw err instanceof I2CError ? fromI2CError(err, { sensor: sensor.name }) : err;
        }
        buses.set(sensor.bus, opened.bus);
        descriptions.push(opened.description);
        const device = built?.device ?? opened.simulatedTmp102;
        if (opened.bus instanceof SimulatedI2CBus && device) simulated.set(sensor.name, device);
      } else if (existing instanceof SimulatedI2CBus) {
        const shared = existing.device(sensor.address);
        if (shared) {
          // Two sensors sharing one chip read the same device; the second is just as simulated.
          for (const device of simulated.values()) if ((device as unknown) === shared) simulated.set(sensor.name, device);
          return;
        }
        const built = buildDevice(sensor, field, clock, options);
        if (built.onBus) existing.attach(sensor.address, built.onBus);
        simulated.set(sensor.name, built.device);
        descriptions.push(`${built.description} at 0x${sensor.address.toString(16)} on simulated bus ${sensor.bus}`);
      }
    });
  } catch (err) {
    closeAll();
    throw err;
  }

  if (recorder && options.record) {
    for (const [n, bus] of buses) {
      if ('openChannel' in bus) {
        descriptions.push(`bus ${n}: every transfer recorded to ${options.record.file} by its bus thread`);
        continue;
      }
      buses.set(n, recordTransfers(bus, recorder));
      descriptions.push(`bus ${n}: every transfer recorded to ${options.record.file}`);
    }
  }

  // A configuration written before simulation.device existed gets a TMP102 wherever its sensor
  // is; at an address no TMP102 can have, say so (its module will most likely not recognise it).
  config.sensors.forEach((sensor, i) => {
    const device = (sensor.simulation as { device?: string }).device;
    if (device === undefined && simulated.has(sensor.name) && !SIMULATED_DEVICE_ADDRESSES.tmp102!.includes(sensor.address)) {
      descriptions.push(`note: sensor ${sensor.name} is simulated as a TMP102 at 0x${sensor.address.toString(16)}, an address a TMP102 cannot have (0x48..0x4b): name its chip in sensors[${i}].simulation.device (docs/simulation.md)`);
    }
  });

  return {
    buses,
    simulated,
    descriptions,
    close() {
      closeAll();
      recorder?.close();
    },
  };
}

/**
 * The simulated TMP102 of sensor `name`, for what only a TMP102 has (its ALERT line, its
 * registers); throws a RangeError naming what answers instead. Tests drive chips through it.
 */
export function simulatedTmp102(hardware: Pick<Hardware, 'simulated'>, name: string): SimulatedTmp102 {
  const device = hardware.simulated.get(name);
  if (device instanceof SimulatedTmp102) return device;
  throw new RangeError(device === undefined ? `sensor "${name}" is not simulated` : `sensor "${name}" is a simulated ${'kind' in device ? device.kind : 'sht3x'}, not a TMP102`);
}

/**
 * What each sensor's simulated device lets a scenario drive (temperature, humidity), by name:
 * for loadScenarioFile's `quantities`, so a humidity timeline for a TMP102 is refused naming
 * its field before anything starts.
 */
export function simulatedQuantities(config: GatewayConfig): Record<string, readonly SimQuantity[]> {
  return Object.fromEntries(config.sensors.map((s) => [s.name, scriptableQuantities(simulationDevice(s.simulation))]));
}
