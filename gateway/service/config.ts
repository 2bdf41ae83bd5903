/**
 * The gateway configuration file: which sensors exist, where they are, which module reads each
 * one and what that module may touch. Validated as a whole before anything starts; an invalid
 * file is refused with a GW_ERR_CONFIG_INVALID that names the field (e.g. `sensors[0].address`).
 * docs/configuration.md describes every field.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile } from './json-file.ts';
import { type ModuleLimits, resolveModuleLimits } from '../host/worker/module-limits.ts';
import { type AccessConfig, type OscoreConfig, defaultAccessConfig, parseAccess, parseOscore } from './security-config.ts';

import { type MqttConfig, parseMqtt } from './uplink-config.ts';
import { type HttpConfig, parseHttp } from './http-config.ts';
export type { MqttConfig } from './uplink-config.ts';
export type { HttpConfig } from './http-config.ts';
export type { AccessConfig, AccessMethod, AccessRule, OscoreConfig, WriteRate } from './security-config.ts';
export { DEFAULT_ACCESS, DEFAULT_ACCESS_RULES, DEFAULT_RULE_COUNT, DEFAULT_WRITES_PER_CLIENT, MAX_ACCESS_RULES } from './security-config.ts';

import { DEFAULT_SIM_CELSIUS, parseSimulation, type SimulationConfig } from './simulation-config.ts';
export {
  DEFAULT_SIM_CELSIUS,
  DEFAULT_SIM_HUMIDITY,
  MAX_PROFILE_SECONDS,
  SIMULATED_DEVICES,
  SIMULATED_DEVICE_ADDRESSES,
  simulationDevice,
  simulationTemperature,
  withSimulatedTemperature,
} from './simulation-config.ts';
import { fieldChecks, isObj } from './config-fields.ts';

const { invalid, onlyKeys } = fieldChecks('GW_ERR_CONFIG_INVALID');
export type { DeviceSimulationConfig, HumidityProfileConfig, ProfileConfig, RegisterProfileConfig, SimulatedDeviceName, SimulationConfig } from './simulation-config.ts';

export type DriverChoice = 'auto' | 'linux' | 'simulated';

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
  const json = await readJsonFile(file, CONFIG_FILE_MAX_BYTES, invalid);
  return parseConfig(json, path.dirname(path.resolve(file)));
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
      simulation: s['simulation'] === undefined ? { kind: 'constant', celsius: DEFAULT_SIM_CELSIUS } : parseSimulation(s['simulation'], `${f}.simulation`, baseDir, addr, `${f}.address`),
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
