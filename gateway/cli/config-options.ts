/**
 * The configuration a command-line tool runs with: `--config <file>` or the embedded default,
 * then `--driver` and `--sim-temp` on top. Shared by `npm start` and `npm run read`, so both
 * read the same options the same way.
 */
import { type DriverChoice, type GatewayConfig, defaultConfig, loadConfigFile } from '../service/config.ts';
import { type OptionSpec, type ParsedArgs, UsageError, numberOption } from './args.ts';

export const CONFIG_OPTIONS: Record<string, OptionSpec> = {
  driver: { value: true },
  'sim-temp': { value: true },
  config: { value: true },
};

const DRIVERS: readonly string[] = ['auto', 'linux', 'simulated'];

/** `defaults` apply without `--config`: the embedded single TMP102's bus, address, module. */
export async function configFromOptions(args: ParsedArgs, defaults: { bus?: number; address?: number; module?: string } = {}): Promise<GatewayConfig> {
  const simCelsius = numberOption(args, 'sim-temp');
  const driver = args.options['driver'] as string | undefined;
  if (driver !== undefined && !DRIVERS.includes(driver)) throw new UsageError('--driver must be auto, linux or simulated');
  if (simCelsius !== undefined && driver === 'linux') throw new UsageError('--sim-temp sets the simulated TMP102; it cannot be combined with --driver linux');

  const file = args.options['config'];
  if (typeof file !== 'string') {
    return defaultConfig({ ...defaults, driver: simCelsius !== undefined ? 'simulated' : (driver as DriverChoice | undefined), simCelsius });
  }
  const config = await loadConfigFile(file);
  if (driver) config.driver = driver as DriverChoice;
  if (simCelsius !== undefined) {
    config.driver = 'simulated';
    for (const s of config.sensors) s.simulation = { kind: 'constant', celsius: simCelsius };
  }
  return config;
}
