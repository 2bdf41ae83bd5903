/**
 * `sensors[].simulation` (docs/configuration.md, "sensors[].simulation"): what answers for a
 * sensor on a simulated bus, its device and that device's profiles, validated the way config.ts
 * validates the rest of the file (GW_ERR_CONFIG_INVALID naming the field). Kept apart from
 * config.ts, which re-exports it, because it is a language of its own (profiles, register maps,
 * recordings) that only a simulated bus reads.
 */
import path from 'node:path';
import { type Obj, fieldChecks, isObj } from './config-fields.ts';

const { invalid, onlyKeys } = fieldChecks('GW_ERR_CONFIG_INVALID');

/** The temperature of a simulated sensor when the configuration gives none (°C). */
export const DEFAULT_SIM_CELSIUS = 21.5;

export type ProfileConfig =
  | { kind: 'constant'; celsius: number }
  | { kind: 'ramp'; from: number; to: number; overSeconds: number }
  | { kind: 'sine'; mean: number; amplitude: number; periodSeconds: number }
  | { kind: 'trace'; file: string };

/** A simulated SHT3x's relative humidity (drivers/sim/humidity-profile.ts), in %RH. */
export type HumidityProfileConfig =
  | { kind: 'constant'; percent: number }
  | { kind: 'ramp'; from: number; to: number; overSeconds: number }
  | { kind: 'sine'; mean: number; amplitude: number; periodSeconds: number };

/** A register of a `registers` device that follows a profile: round(value * scale + offset). */
export interface RegisterProfileConfig {
  register: number;
  profile: ProfileConfig;
  scale: number;
  offset: number;
}

/** `sensors[].simulation` with a `device` (docs/configuration.md, "sensors[].simulation"). */
export type DeviceSimulationConfig =
  | { device: 'tmp102'; temperature: ProfileConfig }
  | { device: 'sht3x'; temperature: ProfileConfig; humidity: HumidityProfileConfig }
  | {
      device: 'registers';
      width: 8 | 16;
      byteOrder: 'msb-first' | 'lsb-first';
      /** [register, initial value], ascending. */
      registers: Array<[number, number]>;
      writable: number[];
      readOnlyWrite: 'nack' | 'ignore';
      profiles: RegisterProfileConfig[];
    }
  | { device: 'replay'; file: string; atEnd: 'hold' | 'loop' }
  | { device: 'none' };

/**
 * What answers for a sensor on a simulated bus. A bare temperature profile (no `device`) is the
 * form every configuration used before devices existed: a TMP102 at the sensor's address,
 * whatever that address (kept so those files run unchanged; name the device to have the
 * address checked).
 */
export type SimulationConfig = ProfileConfig | DeviceSimulationConfig;

export type SimulatedDeviceName = DeviceSimulationConfig['device'];
export const SIMULATED_DEVICES: readonly SimulatedDeviceName[] = ['tmp102', 'sht3x', 'registers', 'replay', 'none'];

/** The device a simulation names (a bare profile: the TMP102). */
export function simulationDevice(sim: SimulationConfig): SimulatedDeviceName {
  return 'device' in sim ? sim.device : 'tmp102';
}

/**
 * The temperature profile a simulation gives, or undefined for a device without one: what
 * `--sim-temp` and the doctor's simulated chip use.
 */
export function simulationTemperature(sim: SimulationConfig): ProfileConfig | undefined {
  if (!('device' in sim)) return sim;
  return sim.device === 'tmp102' || sim.device === 'sht3x' ? sim.temperature : undefined;
}

/** `sim` with its temperature held at `celsius` (`--sim-temp`): the device and its other settings kept. */
export function withSimulatedTemperature(sim: SimulationConfig, celsius: number): SimulationConfig {
  const temperature: ProfileConfig = { kind: 'constant', celsius };
  if (!('device' in sim)) return temperature;
  return sim.device === 'tmp102' || sim.device === 'sht3x' ? { ...sim, temperature } : sim;
}

function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function profile(v: unknown, field: string, baseDir: string): ProfileConfig {
  if (!isObj(v)) throw invalid(field, 'must be an object with a "kind"');
  switch (v['kind']) {
    case 'constant':
      onlyKeys(v, field, ['kind', 'celsius']);
      return { kind: 'constant', celsius: finite(v['celsius'], `${field}.celsius`) };
    case 'ramp':
      onlyKeys(v, field, ['kind', 'from', 'to', 'overSeconds']);
      return { kind: 'ramp', from: finite(v['from'], `${field}.from`), to: finite(v['to'], `${field}.to`), overSeconds: profileSeconds(v['overSeconds'], `${field}.overSeconds`) };
    case 'sine':
      onlyKeys(v, field, ['kind', 'mean', 'amplitude', 'periodSeconds']);
      return { kind: 'sine', mean: finite(v['mean'], `${field}.mean`), amplitude: finite(v['amplitude'], `${field}.amplitude`), periodSeconds: profileSeconds(v['periodSeconds'], `${field}.periodSeconds`) };
    case 'trace':
      onlyKeys(v, field, ['kind', 'file']);
      if (typeof v['file'] !== 'string' || v['file'] === '') throw invalid(`${field}.file`, 'must be the path of a CSV trace');
      return { kind: 'trace', file: path.resolve(baseDir, v['file']) };
    default:
      throw invalid(`${field}.kind`, `must be one of constant, ramp, sine, trace; got ${JSON.stringify(v['kind'])}`);
  }
}

/**
 * The longest ramp or sine period of a simulated temperature: a year. Over any run of the
 * gateway a longer one is indistinguishable from a constant, so a larger value is a unit
 * mistake (milliseconds given as seconds).
 */
export const MAX_PROFILE_SECONDS = 365 * 86_400;

function profileSeconds(v: unknown, field: string): number {
  const n = finite(v, field);
  if (n <= 0) throw invalid(field, 'must be greater than 0');
  if (n > MAX_PROFILE_SECONDS) throw invalid(field, `must be at most ${MAX_PROFILE_SECONDS} (a year), got ${n}`);
  return n;
}

/** The addresses each chip can have, by its address pins: SBOS397 Table 4 (ADD0); SHT3x-DIS Table 7 (ADDR). */
export const SIMULATED_DEVICE_ADDRESSES: Readonly<Partial<Record<SimulatedDeviceName, readonly number[]>>> = {
  tmp102: [0x48, 0x49, 0x4a, 0x4b],
  sht3x: [0x44, 0x45],
};

/**
 * Validates `sensors[i].simulation` (at `field`) for a sensor at `addr` (its own field:
 * `addressField`, named when the device cannot answer there); relative paths resolve against `baseDir`.
 */
export function parseSimulation(v: unknown, field: string, baseDir: string, addr: number, addressField: string): SimulationConfig {
  if (!isObj(v)) throw invalid(field, 'must be an object with a "device" or a temperature profile "kind"');
  if (v['device'] === undefined) return profile(v, field, baseDir);
  const device = v['device'];
  if (typeof device !== 'string' || !(SIMULATED_DEVICES as readonly string[]).includes(device)) {
    throw invalid(`${field}.device`, `must be one of ${SIMULATED_DEVICES.join(', ')}; got ${JSON.stringify(device)}`);
  }
  const allowed = SIMULATED_DEVICE_ADDRESSES[device as SimulatedDeviceName];
  if (allowed && !allowed.includes(addr)) {
    throw invalid(addressField, `a simulated ${device} answers only at ${allowed.map(hex).join(', ')} (its address pins), not ${hex(addr)}: change the address or simulation.device`);
  }
  switch (device as SimulatedDeviceName) {
    case 'tmp102': {
      // The profile's keys beside "device" (the form without a device, plus the device), or in "temperature".
      if (v['temperature'] !== undefined) {
        onlyKeys(v, field, ['device', 'temperature']);
        return { device: 'tmp102', temperature: profile(v['temperature'], `${field}.temperature`, baseDir) };
      }
      const { device: _, ...rest } = v;
      return { device: 'tmp102', temperature: Object.keys(rest).length === 0 ? defaultTemperature() : profile(rest, field, baseDir) };
    }
    case 'sht3x':
      onlyKeys(v, field, ['device', 'temperature', 'humidity']);
      return {
        device: 'sht3x',
        temperature: v['temperature'] === undefined ? defaultTemperature() : profile(v['temperature'], `${field}.temperature`, baseDir),
        humidity: v['humidity'] === undefined ? { kind: 'constant', percent: DEFAULT_SIM_HUMIDITY } : humidityProfile(v['humidity'], `${field}.humidity`),
      };
    case 'registers':
      return registerMap(v, field, baseDir);
    case 'replay': {
      onlyKeys(v, field, ['device', 'file', 'atEnd']);
      if (typeof v['file'] !== 'string' || v['file'] === '') throw invalid(`${field}.file`, 'must be the path of a recording made with --record');
      const atEnd = v['atEnd'] ?? 'hold';
      if (atEnd !== 'hold' && atEnd !== 'loop') throw invalid(`${field}.atEnd`, `must be "hold" (keep answering the last answers) or "loop" (start again); got ${JSON.stringify(atEnd)}`);
      return { device: 'replay', file: path.resolve(baseDir, v['file']), atEnd };
    }
    case 'none':
      onlyKeys(v, field, ['device']);
      return { device: 'none' };
  }
}

export const DEFAULT_SIM_HUMIDITY = 45;

function defaultTemperature(): ProfileConfig {
  return { kind: 'constant', celsius: DEFAULT_SIM_CELSIUS };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

/** Relative humidity, 0..100 %RH: what the SHT3x's output code spans (SHT3x-DIS section 4.13). */
function percentRh(v: unknown, field: string): number {
  const n = finite(v, field);
  if (n < 0 || n > 100) throw invalid(field, `must be 0..100 (%RH), got ${n}`);
  return n;
}

function humidityProfile(v: unknown, field: string): HumidityProfileConfig {
  if (!isObj(v)) throw invalid(field, 'must be an object with a "kind"');
  switch (v['kind']) {
    case 'constant':
      onlyKeys(v, field, ['kind', 'percent']);
      return { kind: 'constant', percent: percentRh(v['percent'], `${field}.percent`) };
    case 'ramp':
      onlyKeys(v, field, ['kind', 'from', 'to', 'overSeconds']);
      return { kind: 'ramp', from: percentRh(v['from'], `${field}.from`), to: percentRh(v['to'], `${field}.to`), overSeconds: profileSeconds(v['overSeconds'], `${field}.overSeconds`) };
    case 'sine': {
      onlyKeys(v, field, ['kind', 'mean', 'amplitude', 'periodSeconds']);
      const mean = percentRh(v['mean'], `${field}.mean`);
      const amplitude = finite(v['amplitude'], `${field}.amplitude`);
      if (amplitude < 0 || mean - amplitude < 0 || mean + amplitude > 100) throw invalid(`${field}.amplitude`, 'must be >= 0 and keep mean ± amplitude within 0..100 %RH');
      return { kind: 'sine', mean, amplitude, periodSeconds: profileSeconds(v['periodSeconds'], `${field}.periodSeconds`) };
    }
    default:
      throw invalid(`${field}.kind`, `must be one of constant, ramp, sine; got ${JSON.stringify(v['kind'])}`);
  }
}

/** A register number or value: 37, "37", "0x25". */
function integerIn(v: unknown, field: string, max: number, what: string): number {
  const n = typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) throw invalid(field, `must be ${what} 0..${max} (a number or "0x.."), got ${JSON.stringify(v)}`);
  return n;
}

function registerMap(v: Obj, field: string, baseDir: string): DeviceSimulationConfig {
  onlyKeys(v, field, ['device', 'width', 'byteOrder', 'registers', 'writable', 'readOnlyWrite', 'profiles']);
  const width = v['width'] ?? 8;
  if (width !== 8 && width !== 16) throw invalid(`${field}.width`, `must be 8 or 16 (bits per register), got ${JSON.stringify(width)}`);
  const byteOrder = v['byteOrder'] ?? 'msb-first';
  if (byteOrder !== 'msb-first' && byteOrder !== 'lsb-first') throw invalid(`${field}.byteOrder`, `must be "msb-first" or "lsb-first", got ${JSON.stringify(byteOrder)}`);
  const readOnlyWrite = v['readOnlyWrite'] ?? 'nack';
  if (readOnlyWrite !== 'nack' && readOnlyWrite !== 'ignore') throw invalid(`${field}.readOnlyWrite`, `must be "nack" or "ignore", got ${JSON.stringify(readOnlyWrite)}`);
  const raw = v['registers'];
  if (!isObj(raw) || Object.keys(raw).length === 0) throw invalid(`${field}.registers`, 'must be an object of register: initial value, such as {"0x00": "0x1900", "0x01": 24736}');
  const registers = new Map<number, number>();
  for (const [key, value] of Object.entries(raw)) {
    const register = integerIn(key, `${field}.registers.${key}`, 0xff, 'a register number');
    if (registers.has(register)) throw invalid(`${field}.registers.${key}`, `register ${hex(register)} is given twice`);
    registers.set(register, integerIn(value, `${field}.registers.${key}`, 2 ** width - 1, `a ${width}-bit value`));
  }
  const known = (r: number, f: string): number => {
    if (!registers.has(r)) throw invalid(f, `register ${hex(r)} is not in ${field}.registers`);
    return r;
  };
  const writableRaw = v['writable'] ?? [];
  if (!Array.isArray(writableRaw)) throw invalid(`${field}.writable`, 'must be an array of register numbers');
  const writable = writableRaw.map((r, i) => known(integerIn(r, `${field}.writable[${i}]`, 0xff, 'a register number'), `${field}.writable[${i}]`));
  const profilesRaw = v['profiles'] ?? [];
  if (!Array.isArray(profilesRaw)) throw invalid(`${field}.profiles`, 'must be an array such as [{"register": "0x00", "profile": {...}, "scale": 256}]');
  const profiled = new Set<number>();
  const profiles = profilesRaw.map((p, i): RegisterProfileConfig => {
    const f = `${field}.profiles[${i}]`;
    if (!isObj(p)) throw invalid(f, 'must be an object {"register", "profile", "scale"?, "offset"?}');
    onlyKeys(p, f, ['register', 'profile', 'scale', 'offset']);
    const register = known(integerIn(p['register'], `${f}.register`, 0xff, 'a register number'), `${f}.register`);
    if (writable.includes(register)) throw invalid(`${f}.register`, `register ${hex(register)} follows a profile, so it cannot be writable`);
    if (profiled.has(register)) throw invalid(`${f}.register`, `register ${hex(register)} already has a profile`);
    profiled.add(register);
    return { register, profile: profile(p['profile'], `${f}.profile`, baseDir), scale: p['scale'] === undefined ? 1 : finite(p['scale'], `${f}.scale`), offset: p['offset'] === undefined ? 0 : finite(p['offset'], `${f}.offset`) };
  });
  return { device: 'registers', width, byteOrder, registers: [...registers].sort((a, b) => a[0] - b[0]), writable, readOnlyWrite, profiles };
}

