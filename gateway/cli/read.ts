/**
 * `npm run read`: read the sensor once through its WASM module and print the reading, every
 * quantity of it (an ABI 1.1 module may measure several: docs/module-abi.md).
 *
 *   npm run read                              # TMP102 on bus 1 at 0x48, or the simulation
 *   npm run read -- --sim-temp -12.25 --json  # the simulated TMP102 at -12.25 °C, as JSON
 *   npm run read -- --bus 1 --address 0x49
 *
 * Exit status: 0 with a reading, 1 when the sensor failed (the error code is printed),
 * 2 for a usage error.
 */
import { SystemClock } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { Measurement, Reading } from '../host/sensor-module.ts';
import { readWhenReady } from '../service/read-when-ready.ts';
import { SensorService } from '../service/sensor-service.ts';
import { UsageError, parseCommandLine } from './args.ts';
import { ONE_SENSOR_OPTIONS, oneSensorFromOptions } from './config-options.ts';
import { LOG_OPTIONS, loggerFromOptions, logOptionsUsage } from './log-options.ts';
import { runCli } from './run-cli.ts';

const USAGE = `usage: npm run read -- [options]
  --bus <n>           I2C adapter number (default 1: header pins 3 and 5 on a Raspberry Pi)
  --address <addr>    TMP102 address, 0x48..0x4b (default 0x48)
  --driver <d>        auto (default: /dev/i2c-<bus> if present; else simulated, except on a
                      Raspberry Pi, where a missing adapter is an error), linux, simulated
  --sim-temp <°C>     temperature of the simulated TMP102, -55..150 (implies --driver simulated)
  --module <file>     sensor module (default modules/tmp102.wasm)
  --config <file>     gateway configuration file (reads its first sensor, or --sensor);
                      not with --bus, --address or --module
  --sensor <name>     which configured sensor to read
  --json              print the reading as JSON (every quantity under "measurements")
${logOptionsUsage({ level: 'error' })}`;


async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    ...ONE_SENSOR_OPTIONS,
    json: {},
    ...LOG_OPTIONS,
    help: { short: 'h' },
  });
  if (args.options['help']) {
    console.log(USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const json = args.options['json'] === true;
  const logger = loggerFromOptions(args, { level: 'error' });

  const { config, sensor: sensorConfig } = await oneSensorFromOptions(args);
  config.sensors = [sensorConfig];

  const clock = new SystemClock();
  let service: SensorService | undefined;
  try {
    service = await SensorService.start(config, { clock, logger });
    const source = service.hardware.descriptions[0] ?? '';
    const simulated = service.list().find((e) => e.config.name === sensorConfig.name)?.simulated === true;
    if (!json) console.error(`reading ${sensorConfig.name} via ${source}`);
    const reading = await readWhenReady(() => service!.read(sensorConfig.name), clock);
    console.log(json ? JSON.stringify(toJson(reading, source, simulated)) : formatReading(reading, simulated));
    return 0;
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    if (json) console.log(JSON.stringify({ error: { code: err.code, message: err.message, ...pick(err.details) } }));
    else console.error(`error ${err.code}: ${err.message}`);
    return 1;
  } finally {
    await service?.close();
  }
}

function toJson(r: Reading, source: string, simulated: boolean) {
  return {
    sensor: r.sensor,
    value: r.value,
    unit: r.unit,
    simulated,
    time: new Date(r.timeMs).toISOString(),
    raw: register(r.raw),
    bits: r.bits,
    source,
    measurements: r.measurements.map((m) => ({ quantity: m.quantity, value: m.value, unit: m.unit, ...(m.raw === undefined ? {} : { raw: register(m.raw) }) })),
  };
}

/**
 * One line whatever the number of quantities: `tmp102: 21.5 °C  (...)` for one, as before
 * ABI 1.1, and `env: temperature 21.5 °C, humidity 45.2 %RH  (...)` for several.
 */
function formatReading(r: Reading, simulated: boolean): string {
  // On stdout, the one line a script keeps: a simulated value says so in it, not only on stderr.
  const what = simulated ? 'SIMULATED, not a measurement; ' : '';
  const time = new Date(r.timeMs).toISOString();
  if (r.measurements.length <= 1) return `${r.sensor}: ${formatValue(r.value, r.unit)}  (${what}${r.bits}-bit, register ${register(r.raw)}, ${time})`;
  const values = r.measurements.map((m) => `${m.quantity} ${formatValue(m.value, m.unit)}`).join(', ');
  const registers = r.measurements.filter((m): m is Measurement & { raw: number } => m.raw !== undefined).map((m) => `${m.quantity} ${register(m.raw)}`).join(', ');
  return `${r.sensor}: ${values}  (${what}${r.bits}-bit, registers ${registers}, ${time})`;
}

/**
 * Four decimals at most, as the CoAP front's default precision: a TMP102 value (a multiple of
 * 0.0625 °C) prints exactly, an SHT3x's (175/65535 °C steps) without float noise; `--json` keeps
 * the exact value. The SenML symbol is printed as it is, but for "Cel" (RFC 8428 section 12.1),
 * which a person reads as °C.
 */
function formatValue(value: number, unit: string): string {
  return `${String(Number(value.toFixed(4)))} ${unit === 'Cel' ? '°C' : unit}`;
}

function register(raw: number): string {
  return '0x' + raw.toString(16).padStart(4, '0');
}

function pick(d: GatewayError['details']) {
  return d.retryAfterMs === undefined ? {} : { retryAfterMs: d.retryAfterMs };
}

runCli(() => main(process.argv.slice(2)), USAGE);
