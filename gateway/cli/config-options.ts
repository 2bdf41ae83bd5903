/**
 * The configuration a command-line tool runs with: `--config <file>` or the embedded default,
 * then `--driver` and `--sim-temp` on top. Shared by `npm start`, `npm run read` and `npm run
 * doctor`, so all read the same options the same way. `--bus`, `--address` and `--module`
 * shape the embedded default only, and are refused beside `--config`.
 */
import { type DriverChoice, type GatewayConfig, type SensorConfig, defaultConfig, loadConfigFile, withSimulatedTemperature } from '../service/config.ts';
import { type OptionSpec, type ParsedArgs, UsageError, addressOption, busOption, numberOption, tmp102AddressOption } from './args.ts';

export const CONFIG_OPTIONS: Record<string, OptionSpec> = {
  driver: { value: true },
  'sim-temp': { value: true },
  config: { value: true },
};

const DRIVERS: readonly string[] = ['auto', 'linux', 'simulated'];

/**
 * The TMP102's operating range (datasheet SBOS397, "Absolute maximum ratings" and section 7.5.3):
 * a simulated chip outside it would be a chip that cannot exist. Above 127.9375 °C the chip
 * reads that value in 12-bit mode, and up to 150 °C in extended (13-bit) mode, as a real one does.
 */
export const SIM_CELSIUS_RANGE = { min: -55, max: 150 } as const;

/** `defaults` apply without `--config`: the embedded single TMP102's bus, address, module. */
export async function configFromOptions(args: ParsedArgs, defaults: { bus?: number; address?: number; module?: string } = {}): Promise<GatewayConfig> {
  const simCelsius = numberOption(args, 'sim-temp');
  if (simCelsius !== undefined && (simCelsius < SIM_CELSIUS_RANGE.min || simCelsius > SIM_CELSIUS_RANGE.max)) {
    throw new UsageError(`--sim-temp must be within the TMP102's range, ${SIM_CELSIUS_RANGE.min}..${SIM_CELSIUS_RANGE.max} °C, got ${simCelsius}`);
  }
  const driver = args.options['driver'] as string | undefined;
  if (driver !== undefined && !DRIVERS.includes(driver)) throw new UsageError('--driver must be auto, linux or simulated');
  if (simCelsius !== undefined && driver === 'linux') throw new UsageError('--sim-temp sets the simulated TMP102; it cannot be combined with --driver linux');

  const file = args.options['config'];
  // A configuration file names each sensor's bus, address and module; a flag that would be
  // silently overridden by it (or silently override it) is refused instead.
  const overridden = Object.entries(defaults).filter(([, v]) => v !== undefined).map(([k]) => `--${k}`);
  if (typeof file === 'string' && overridden.length > 0) {
    throw new UsageError(`${overridden.join(', ')} cannot be combined with --config: the configuration file names each sensor's bus, address and module (choose one with --sensor)`);
  }
  if (typeof file !== 'string') {
    return defaultConfig({ ...defaults, driver: simCelsius !== undefined ? 'simulated' : (driver as DriverChoice | undefined), simCelsius });
  }
  const config = await loadConfigFile(file);
  if (driver) config.driver = driver as DriverChoice;
  if (simCelsius !== undefined) {
    config.driver = 'simulated';
    // An SHT3x stays an SHT3x (its humidity as configured); only the temperature is set.
    for (const s of config.sensors) s.simulation = withSimulatedTemperature(s.simulation, simCelsius);
  }
  return config;
}

/** The options of the one-sensor tools (`npm run read`, `npm run doctor`) on top of CONFIG_OPTIONS. */
export const ONE_SENSOR_OPTIONS: Record<string, OptionSpec> = {
  ...CONFIG_OPTIONS,
  bus: { value: true },
  address: { value: true },
  module: { value: true },
  sensor: { value: true },
};

/**
 * The configuration and the one sensor a one-sensor tool works on: `--sensor <name>` of the
 * configuration, or its first sensor; `--bus`, `--address` and `--module` shape the embedded
 * default (and are refused beside `--config`).
 */
export async function oneSensorFromOptions(args: ParsedArgs): Promise<{ config: GatewayConfig; sensor: SensorConfig }> {
  const config = await configFromOptions(args, {
    bus: busOption(args, 'bus'),
    // The embedded default is a TMP102; with a module of one's own any 7-bit address goes.
    address: args.options['module'] === undefined ? tmp102AddressOption(args, 'address') : addressOption(args, 'address'),
    module: args.options['module'] as string | undefined,
  });
  const wanted = (args.options['sensor'] as string | undefined) ?? config.sensors[0]!.name;
  const sensor = config.sensors.find((s) => s.name === wanted);
  if (!sensor) throw new UsageError(`no sensor named ${wanted} in the configuration (${config.sensors.map((s) => s.name).join(', ')})`);
  return { config, sensor };
}
