/**
 * The gateway configuration file: which sensors exist, where they are, which module reads each
 * one and what that module may touch. Validated as a whole before anything starts; an invalid
 * file is refused with a GW_ERR_CONFIG_INVALID that names the field (e.g. `sensors[0].address`).
 * docs/configuration.md describes every field.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoundedFileError, readBoundedFile } from '../../drivers/bounded-file.ts';
import { GatewayError } from '../errors.ts';
import { type ModuleLimits, resolveModuleLimits } from '../host/worker/module-limits.ts';
import { type AccessConfig, type OscoreConfig, defaultAccessConfig, parseAccess, parseOscore } from './security-config.ts';

import { type MqttConfig, parseMqtt } from './uplink-config.ts';
import { type HttpConfig, parseHttp } from './http-config.ts';
export type { MqttConfig } from './uplink-config.ts';
export type { HttpConfig } from './http-config.ts';
export type { AccessConfig, AccessMethod, AccessRule, OscoreConfig, WriteRate } from './security-config.ts';
export { DEFAULT_ACCESS, DEFAULT_ACCESS_RULES, DEFAULT_RULE_COUNT, DEFAULT_WRITES_PER_CLIENT, MAX_ACCESS_RULES } from './security-config.ts';

export type DriverChoice = 'auto' | 'linux' | 'simulated';

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

export interface SensorConfig {
  name: string;
  /** Absolute path of the .wasm file. */
  module: string;
  /** CoAP resource path, e.g. "/temp". */
  path: string;
  bus: number;
  address: number;
  grant: { bus: number; addresses: number[] };
  settings: Record<string, unknown>;
  /** What answers when the bus is simulated: a device and its profiles (a bare profile: a TMP102). */
  simulation: SimulationConfig;
  /** Header GPIO (BCM number) the sensor's ALERT pin is wired to, on real hardware. */
  alertGpio?: number;
  /** Expected sha256 of the module file (lowercase hex); a mismatch refuses the module. */
  sha256?: string;
  /** What the module may cost: call deadline, memory ceiling, bus rate... (defaults filled in). */
  limits: ModuleLimits;
  /**
   * Default true: requests share one read per conversion period (paced-reader.ts). False: every
   * request runs the module and reads the bus (for measurements, or a chip in one-shot mode
   * whose every request should start a conversion); the bus rate limit still applies.
   */
  pacing?: boolean;
  /**
   * Where the module runs; default the service's (a worker thread under `npm start`).
   * "in-thread": on the gateway's own thread, without the thread hop (about 10 µs a read
   * instead of 100 on the simulated bus; a Linux bus transfer blocks the thread while it runs)
   * and without the limits that need a worker (deadline, memory ceiling, restart back-off,
   * quarantine): only for a module you trust not to loop or hog memory.
   */
  isolation?: 'shared' | 'worker' | 'in-thread';
}

export interface GatewayConfig {
  driver: DriverChoice;
  sensors: SensorConfig[];
  /** Who may do what (the operator's rules, then the defaults) and the per-client write rate. */
  access: AccessConfig;
  /** OSCORE (RFC 8613): where the credentials and the sequence-number state are; absent: no OSCORE. */
  oscore?: OscoreConfig;
  /** The MQTT uplink (docs/uplink.md); absent: none. */
  mqtt?: MqttConfig;
  /** The HTTP view (docs/http.md); absent: none. */
  http?: HttpConfig;
}

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Shipped in the repository, built reproducibly from wasm-src/modules/tmp102 (wasm-src/build.mjs). */
export const DEFAULT_TMP102_MODULE = path.join(PROJECT_ROOT, 'modules', 'tmp102.wasm');
export const DEFAULT_SIM_CELSIUS = 21.5;

/** The embedded default: one TMP102 at 0x48 on bus 1, served at /temp. */
export function defaultConfig(overrides: { bus?: number; address?: number; simCelsius?: number; driver?: DriverChoice; module?: string } = {}): GatewayConfig {
  const bus = overrides.bus ?? 1;
  const address = overrides.address ?? 0x48;
  return {
    driver: overrides.driver ?? 'auto',
    access: defaultAccessConfig(),
    sensors: [
      {
        name: 'tmp102',
        module: overrides.module ?? DEFAULT_TMP102_MODULE,
        path: '/temp',
        bus,
        address,
        grant: { bus, addresses: [address] },
        settings: {},
        limits: resolveModuleLimits({}),
        simulation: { kind: 'constant', celsius: overrides.simCelsius ?? DEFAULT_SIM_CELSIUS },
      },
    ],
  };
}

/**
 * The largest configuration file accepted. A sensor takes a few hundred bytes of JSON, so 1 MiB is
 * thousands of sensors; what it bounds is `--config /dev/zero` or a log file given by mistake,
 * which were read whole (and then parsed) before anything looked at them. docs/configuration.md.
 */
export const CONFIG_FILE_MAX_BYTES = 2 ** 20;

/**
 * The most sensors one gateway serves. Each costs a worker thread of its own (7 to 10 MB,
 * docs/threading.md) or a share of one, its compiled module and the module's memory (a few MiB
 * for the TMP102's), and a stream of reads: 64 workers of their own are 450 to 640 MB before
 * their modules' memory, most of a Raspberry Pi 3's 1 GB. No real bus holds more either: an I2C address has 7 bits, 112 of them usable (0x08..0x77,
 * the rest reserved by the I2C specification, UM10204 section 3.1.12), and a TMP102 can take
 * only 4 (its ADD0 pin). A longer list is a generated file gone wrong, refused before any of it
 * is parsed. docs/configuration.md.
 */
export const MAX_SENSORS = 64;

export async function loadConfigFile(file: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = (await readBoundedFile(file, { maxBytes: CONFIG_FILE_MAX_BYTES })).toString('utf8');
  } catch (err) {
    throw invalid('(file)', err instanceof BoundedFileError ? err.message : `cannot read ${file}: ${String(err)}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid('(file)', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(json, path.dirname(path.resolve(file)));
}

function invalid(field: string, problem: string, cause?: unknown): GatewayError {
  return new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}: ${problem}` }, { cause });
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Obj, field: string, allowed: string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw invalid(`${field}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

/** Accepts 72, "72", "0x48". 7-bit addresses only. */
function address(v: unknown, field: string): number {
  const n = typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0x7f) throw invalid(field, `must be a 7-bit I2C address such as "0x48", got ${JSON.stringify(v)}`);
  return n;
}

function busNumber(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw invalid(field, `must be an I2C adapter number 0..255, got ${JSON.stringify(v)}`);
  return v;
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

function simulation(v: unknown, field: string, baseDir: string, addr: number, addressField: string): SimulationConfig {
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

/**
 * Validates a parsed configuration; relative paths resolve against `baseDir`. `env` supplies
 * $STATE_DIRECTORY, the default of oscore.stateDir (security-config.ts).
 */
export function parseConfig(json: unknown, baseDir: string): GatewayConfig {
  if (!isObj(json)) throw invalid('(root)', 'must be a JSON object');
  onlyKeys(json, '(root)', ['$schema', 'driver', 'sensors', 'access', 'oscore', 'mqtt', 'http']);
  const driver = json['driver'] ?? 'auto';
  if (driver !== 'auto' && driver !== 'linux' && driver !== 'simulated') throw invalid('driver', `must be "auto", "linux" or "simulated", got ${JSON.stringify(driver)}`);
  const sensorsRaw = json['sensors'];
  if (!Array.isArray(sensorsRaw) || sensorsRaw.length === 0) throw invalid('sensors', 'must be a non-empty array');
  if (sensorsRaw.length > MAX_SENSORS) throw invalid('sensors', `must have at most ${MAX_SENSORS} sensors, got ${sensorsRaw.length}`);

  const sensors = sensorsRaw.map((s, i): SensorConfig => {
    const f = `sensors[${i}]`;
    if (!isObj(s)) throw invalid(f, 'must be an object');
    onlyKeys(s, f, ['name', 'module', 'path', 'bus', 'address', 'grant', 'settings', 'simulation', 'alertGpio', 'sha256', 'limits', 'pacing', 'isolation']);
    const name = s['name'];
    if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/i.test(name)) throw invalid(`${f}.name`, 'must be 1-32 letters, digits, "-" or "_"');
    const resPath = s['path'] ?? '/temp';
    if (typeof resPath !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(resPath) || resPath.startsWith('/.well-known')) {
      throw invalid(`${f}.path`, 'must be a resource path such as "/temp" or "/temp/2"');
    }
    const moduleFile = s['module'] ?? DEFAULT_TMP102_MODULE;
    if (typeof moduleFile !== 'string' || moduleFile === '') throw invalid(`${f}.module`, 'must be the path of a .wasm file');
    const bus = busNumber(s['bus'] ?? 1, `${f}.bus`);
    const addr = address(s['address'] ?? 0x48, `${f}.address`);

    let grant = { bus, addresses: [addr] };
    if (s['grant'] !== undefined) {
      const g = s['grant'];
      if (!isObj(g)) throw invalid(`${f}.grant`, 'must be an object { "bus": n, "addresses": [...] }');
      onlyKeys(g, `${f}.grant`, ['bus', 'addresses']);
      const addrs = g['addresses'];
      if (!Array.isArray(addrs)) throw invalid(`${f}.grant.addresses`, 'must be an array of addresses');
      grant = { bus: busNumber(g['bus'], `${f}.grant.bus`), addresses: addrs.map((a, j) => address(a, `${f}.grant.addresses[${j}]`)) };
      // A grant adds to the sensor's own device; one that leaves it out can never work.
      if (grant.bus !== bus) throw invalid(`${f}.grant.bus`, `must be the sensor's own bus ${bus}`);
      if (!grant.addresses.includes(addr)) throw invalid(`${f}.grant.addresses`, `must include the sensor's own address 0x${addr.toString(16)}`);
    }

    const settings = s['settings'] ?? {};
    if (!isObj(settings)) throw invalid(`${f}.settings`, 'must be an object');
    const alertGpio = s['alertGpio'];
    if (alertGpio !== undefined && (typeof alertGpio !== 'number' || !Number.isInteger(alertGpio) || alertGpio < 0 || alertGpio > 53)) {
      throw invalid(`${f}.alertGpio`, 'must be a header GPIO number 0..53 (BCM numbering, e.g. 17 for pin 11)');
    }
    const sha256 = s['sha256'];
    if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256))) {
      throw invalid(`${f}.sha256`, 'must be the module file\'s SHA-256 as 64 hex digits (sha256sum prints it)');
    }
    const pacing = s['pacing'];
    if (pacing !== undefined && typeof pacing !== 'boolean') throw invalid(`${f}.pacing`, 'must be true (share one read per conversion period) or false (read on every request)');
    const isolation = s['isolation'];
    if (isolation !== undefined && isolation !== 'shared' && isolation !== 'worker' && isolation !== 'in-thread') {
      throw invalid(`${f}.isolation`, 'must be "shared" (the default: a worker shared with the bus\'s other modules), "worker" (a worker of its own) or "in-thread" (a trusted module, no worker limits)');
    }
    const limitsRaw = s['limits'] ?? {};
    if (!isObj(limitsRaw)) throw invalid(`${f}.limits`, 'must be an object');
    onlyKeys(limitsRaw, `${f}.limits`, ['deadlineMs', 'bootTimeoutMs', 'backoffInitialMs', 'backoffMaxMs', 'quarantineAfterFaults', 'quarantineMs', 'memoryLimitBytes', 'workerHeapMb', 'i2cRateLimit']);
    const limits = resolveModuleLimits(limitsRaw as Partial<ModuleLimits>, `${f}.limits`);
    return {
      limits,
      ...(alertGpio === undefined ? {} : { alertGpio: alertGpio as number }),
      ...(sha256 === undefined ? {} : { sha256: (sha256 as string).toLowerCase() }),
      ...(pacing === undefined ? {} : { pacing }),
      ...(isolation === undefined ? {} : { isolation }),
      name,
      module: path.resolve(baseDir, moduleFile),
      path: resPath,
      bus,
      address: addr,
      grant,
      settings,
      simulation: s['simulation'] === undefined ? { kind: 'constant', celsius: DEFAULT_SIM_CELSIUS } : simulation(s['simulation'], `${f}.simulation`, baseDir, addr, `${f}.address`),
    };
  });

  for (const key of ['name', 'path'] as const) {
    const seen = new Set<string>();
    sensors.forEach((s, i) => {
      if (seen.has(s[key])) throw invalid(`sensors[${i}].${key}`, `duplicate ${key} ${JSON.stringify(s[key])}`);
      seen.add(s[key]);
    });
  }
  // One chip, one module: two modules configuring the same device would undo each other.
  const devices = new Map<string, number>();
  sensors.forEach((s, i) => {
    const key = `${s.bus}/${s.address}`;
    const other = devices.get(key);
    if (other !== undefined) throw invalid(`sensors[${i}].address`, `bus ${s.bus} address 0x${s.address.toString(16)} is already sensors[${other}]'s device`);
    devices.set(key, i);
  });
  // The gateway's own resources: /gw/... and each sensor's <path>/alert.
  const paths = new Set(sensors.map((s) => s.path));
  sensors.forEach((s, i) => {
    if (s.path === '/gw' || s.path.startsWith('/gw/')) throw invalid(`sensors[${i}].path`, '/gw/... is the gateway\'s own (statistics)');
    if (s.path.endsWith('/alert') && paths.has(s.path.slice(0, -'/alert'.length))) {
      throw invalid(`sensors[${i}].path`, `${s.path} is the alert resource of the sensor at ${s.path.slice(0, -'/alert'.length)}`);
    }
  });
  const access = parseAccess(json['access']);
  const oscore = parseOscore(json['oscore'], baseDir);
  const mqtt = parseMqtt(json['mqtt'], baseDir);
  const http = parseHttp(json['http']);
  return { driver, sensors, access, ...(oscore === undefined ? {} : { oscore }), ...(mqtt === undefined ? {} : { mqtt }), ...(http === undefined ? {} : { http }) };
}
