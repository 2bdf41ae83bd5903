/**
 * `npm run doctor`: checks, in order, what the gateway needs on this machine, and says how to
 * fix each failure: Node version, I2C enabled, permission on /dev/i2c-N, a scan of the bus, the
 * sensor identified by its own module, one reading, the ALERT GPIO (if configured), the UDP port,
 * the OSCORE credentials and state directory (if configured).
 *
 *   npm run doctor                               # TMP102 on /dev/i2c-1 at 0x48, CoAP on [::]:5683
 *   npm run doctor -- --bus 1 --address 0x49
 *   npm run doctor -- --config /etc/coap-gateway.json --sensor outside
 *   npm run doctor -- --driver simulated --json  # the same checks against the simulated chip
 *
 * Exit status: 0 when no check failed (warnings and skips allowed), 1 when one did, 2 for a
 * usage error or an invalid configuration file.
 */
import { DEFAULT_COAP_PORT, DEFAULT_HOST } from '../coap/server.ts';
import { defaultEnvironment } from '../service/doctor/environment.ts';
import { runDoctor } from '../service/doctor/run-doctor.ts';
import { formatReport, reportJson } from '../service/doctor/format-report.ts';
import { UsageError, numberOption, parseCommandLine } from './args.ts';
import { ONE_SENSOR_OPTIONS, oneSensorFromOptions } from './config-options.ts';
import { runCli } from './run-cli.ts';

const USAGE = `usage: npm run doctor -- [options]
  --bus <n>           I2C adapter number (default 1: header pins 3 and 5 on a Raspberry Pi)
  --address <addr>    TMP102 address, 0x48..0x4b (default 0x48)
  --module <file>     sensor module (default: the shipped TMP102 module)
  --config <file>     gateway configuration file (checks its first sensor, or --sensor)
  --sensor <name>     which configured sensor to check
  --driver <d>        linux (default: the real /dev/i2c-<bus>) or simulated (the simulated chip)
  --sim-temp <°C>     temperature of the simulated TMP102 (implies --driver simulated)
  --host <addr>       address the gateway will listen on (default ${DEFAULT_HOST})
  --port <n>          UDP port the gateway will listen on (default ${DEFAULT_COAP_PORT})
  --json              print the results as one JSON document
  -h, --help

Checks, in order: node-version, i2c-enabled, i2c-permission, i2c-scan, sensor-identity,
sensor-reading, alert-gpio, udp-port, oscore (with --config). A check whose prerequisite failed is skipped.
Exit status: 0 when no check failed, 1 when one did, 2 for a usage error.`;

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    ...ONE_SENSOR_OPTIONS,
    host: { value: true },
    port: { value: true },
    json: {},
    help: { short: 'h' },
  });
  if (args.options['help']) {
    console.log(USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const driverOption = args.options['driver'];
  if (driverOption !== undefined && driverOption !== 'linux' && driverOption !== 'simulated') {
    throw new UsageError('--driver must be linux or simulated (the doctor checks the real bus unless told to simulate)');
  }
  const port = numberOption(args, 'port') ?? DEFAULT_COAP_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got ${port}`);
  const host = (args.options['host'] as string | undefined) ?? DEFAULT_HOST;

  // --bus, --address and --module shape the embedded default; beside --config they are refused.
  const { config, sensor } = await oneSensorFromOptions(args);
  // --sim-temp and a configuration's "driver": "simulated" ask for the simulation; "auto" means the real bus here.
  const driver = config.driver === 'simulated' ? 'simulated' : 'linux';

  const env = defaultEnvironment();
  const report = await runDoctor({ sensor, driver, host, port, oscore: config.oscore }, env);
  console.log(args.options['json'] ? reportJson(report) : formatReport(report));
  return report.ok ? 0 : 1;
}

runCli(() => main(process.argv.slice(2)), USAGE);
