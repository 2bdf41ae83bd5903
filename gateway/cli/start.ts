/**
 * `npm start`: the gateway. Serves CoAP on UDP port 5683 on all interfaces (IPv6 and IPv4 on
 * one dual-stack socket), reading the TMP102 on /dev/i2c-1 or, without I2C hardware, the
 * simulated TMP102.
 *
 *   npm start
 *   npm start -- --sim-temp -12.25 --port 5684
 *   npm start -- --config fixtures/gateway.example.json --host 127.0.0.1
 *
 * Module files are watched: replacing one hot-reloads its sensor (observers kept); SIGHUP
 * reloads every sensor, taking new `sha256` values from the configuration file.
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 when start-up fails (port taken, module missing...),
 * 2 for a usage error or an invalid configuration file (the message names the field).
 */
import { type Clock, ScaledClock, SystemClock } from '../../drivers/clock.ts';
import { ScenarioRunner, type SimEvent } from '../../drivers/sim/scenario-runner.ts';
import { bindCoapSocket } from '../bind-socket.ts';
import { DEFAULT_COAP_PORT, DEFAULT_HOST, GatewayServer } from '../coap/server.ts';
import { checkPolicyNames, openOscore } from '../coap/oscore-startup.ts';
import { HttpView } from '../http/http-view.ts';
import { MqttUplink } from '../mqtt/uplink.ts';
import type { OscoreServer } from '../coap/oscore/oscore-server.ts';
import { DEFAULT_RULE_COUNT, type GatewayConfig, loadConfigFile } from '../service/config.ts';
import { reloadAll } from '../service/reload-all.ts';
import { SensorService } from '../service/sensor-service.ts';
import { openHardware, simulatedQuantities } from '../service/hardware.ts';
import { loadScenarioFile } from '../service/scenario-file.ts';
import type { Scenario } from '../../drivers/sim/scenario.ts';
import { SimulationControl } from '../service/simulation-control.ts';
import { formatDuration } from '../../drivers/sim/duration.ts';
import { UsageError, numberOption, parseCommandLine } from './args.ts';
import { CONFIG_OPTIONS, configFromOptions } from './config-options.ts';
import { LOG_OPTIONS, loggerFromOptions, logOptionsUsage } from './log-options.ts';
import { runCli } from './run-cli.ts';
import { SIMULATION_OPTIONS, simulationOptions } from './simulation-options.ts';

const USAGE = `usage: npm start -- [options]
  --host <addr>       address to listen on (default :: = every IPv6 and IPv4 interface)
  --port <n>          UDP port (default 5683; 0 = any free port)
  --driver <d>        auto (default: /dev/i2c-N if present; else simulated, except on a
                      Raspberry Pi, where a missing adapter is an error), linux, simulated
  --sim-temp <°C>     temperature of the simulated TMP102, -55..150 (implies --driver simulated)
  --config <file>     gateway configuration file (docs/configuration.md)
  --no-watch          do not reload a sensor when its module file changes (SIGHUP still does)
  --record <file>     write every I2C transfer to <file> (JSON lines, at most 16 MiB), for a
                      "replay" simulated device later (docs/simulation.md, "Record and replay")
  --scenario <file>   play a scenario on the simulated sensors (docs/simulation.md; implies
                      --driver simulated); --seed <n> overrides the file's seed
  --time-scale <n>    run the simulated sensors' time n times faster, 1..1000 (implies --driver
                      simulated; CoAP retransmission stays on real time)
  --exit-after-scenario  stop when the scenario ends (exit 0); stdout is JSON lines, the first
                      one with the port; the banner goes to stderr. Default port then: any free
${logOptionsUsage({ level: 'info' })}`;

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    host: { value: true },
    port: { value: true },
    ...CONFIG_OPTIONS,
    'no-watch': {},
    record: { value: true },
    ...SIMULATION_OPTIONS,
    ...LOG_OPTIONS,
    help: { short: 'h' },
  });
  if (args.options['help']) {
    console.log(USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const sim = simulationOptions(args);
  // A machine-readable run picks a free port unless told one: two CI jobs on one machine never collide.
  const port = numberOption(args, 'port') ?? (sim.exitAfterScenario ? 0 : DEFAULT_COAP_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got ${port}`);
  const host = (args.options['host'] as string | undefined) ?? DEFAULT_HOST;
  const config = await configFromOptions(args);
  // A scenario never plays on a real chip, nor does real hardware run faster: a file that asks for
  // the Linux driver is refused, not quietly overridden (--driver simulated on the command line wins).
  if (sim.any && config.driver === 'linux') throw new UsageError('--scenario and --time-scale drive simulated sensors, and the configuration file says "driver": "linux": give --driver simulated to simulate its sensors');
  if (sim.any) config.driver = 'simulated';
  // Before the socket and the modules: a broken scenario file is reported at once (exit 2).
  const scenario: Scenario | undefined = sim.scenario === undefined ? undefined : await loadScenarioFile(sim.scenario, { sensors: config.sensors.map((s) => s.name), quantities: simulatedQuantities(config), ...(sim.seed !== undefined ? { seed: sim.seed } : {}) });
  const logger = loggerFromOptions(args, { level: 'info' });

  // The socket first: a taken port or a wrong --host is reported before any module loads.
  const socket = await bindCoapSocket(host, port);
  // Two clocks: the sensors' world (conversions, pacing, Observe periods, Max-Age) runs on
  // `clock`, N times faster under --time-scale; the network's timers (retransmission, duplicate
  // detection, Echo, OSCORE, write limits) on real time, whatever the scale (docs/simulation.md).
  const networkClock = new SystemClock();
  const clock: Clock = sim.timeScale === 1 ? networkClock : new ScaledClock(sim.timeScale);
  // --exit-after-scenario: stdout carries JSON lines only, for a machine; people read stderr.
  const emit = sim.exitAfterScenario ? (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`) : undefined;
  let service: SensorService;
  let server: GatewayServer;
  let oscore: OscoreServer | undefined;
  let uplink: MqttUplink | undefined;
  try {
    // Credentials and sequence numbers before any module loads: a broken file is reported at once.
    oscore = config.oscore ? await openOscore(config.oscore, networkClock) : undefined;
    checkPolicyNames(config.access, oscore?.clients);
    // --record: every bus transfer to a file a `replay` device answers from later (docs/simulation.md).
    const record = args.options['record'] as string | undefined;
    service = await SensorService.start(config, {
      clock,
      logger,
      openHardware: (c, clk, o) => openHardware(c, clk, { ...o, ...(record !== undefined ? { record: { file: record } } : {}), onReplayDeviation: (sensor, d) => logger.warn('replay deviation', { sensor, ...d }) }),
    });
  } catch (err) {
    await oscore?.close();
    socket.close();
    throw err;
  }
  try {
    // Returns at once and connects in the background: an unreachable broker never delays or
    // stops CoAP service (docs/uplink.md). Unreadable TLS or password files stop the start.
    uplink = config.mqtt ? MqttUplink.start({ config: config.mqtt, service, logger, clock: networkClock }) : undefined;
  } catch (err) {
    await oscore?.close();
    await service.close();
    socket.close();
    throw err;
  }
  const uplinkStats = uplink ? { uplinkStats: () => uplink!.stats() } : {};
  // Live control (and the scenario, if any) whenever a sensor is simulated: /gw/sim, npm run sim.
  let runner: ScenarioRunner | undefined;
  let control: SimulationControl | undefined;
  if (service.hardware.simulated.size > 0) {
    try {
      const onEvent = (e: SimEvent) => {
        control?.recordEvent(e);
        emit?.({ event: 'simulation', scenarioMs: e.scenarioMs, ...(e.sensor !== undefined ? { sensor: e.sensor } : {}), source: e.source, what: e.what });
      };
      runner = new ScenarioRunner({ clock, chips: service.hardware.simulated, ...(scenario ? { scenario } : {}), onEvent });
      control = new SimulationControl({ driver: runner, logger, clock, timeScale: sim.timeScale, ...(sim.scenario !== undefined ? { scenarioFile: sim.scenario } : {}) });
    } catch (err) {
      await oscore?.close();
      await uplink?.close();
      await service.close();
      socket.close();
      throw err;
    }
  }
  try {
    // GW_COAP_TRUST_LOOPBACK=0 makes clients on this machine strangers, so that the
    // amplification rules can be tried from it (npm run fuzz does); docs/coap-api.md.
    server = await GatewayServer.start({ service, logger, clock, networkClock, timeScale: sim.timeScale, ...(control ? { simulation: control } : {}), socket, trustLoopback: process.env['GW_COAP_TRUST_LOOPBACK'] !== '0', access: config.access, ...(oscore ? { oscore } : {}), ...uplinkStats });
  } catch (err) {
    runner?.close();
    control?.close();
    await oscore?.close();
    await uplink?.close();
    await service.close();
    throw err;
  }
  let http: HttpView | undefined;
  try {
    // Off unless configured: the view listens on TCP, and by default on this machine only (docs/http.md).
    http = config.http ? await HttpView.start({ config: config.http, server, service, logger, clock: networkClock }) : undefined;
  } catch (err) {
    runner?.close();
    control?.close();
    await server.close();
    await uplink?.close();
    await service.close();
    throw err;
  }
  const simulated = service.list().filter((e) => e.simulated).map((e) => e.config.name);
  const where = server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
  const family = server.dualStack ? 'IPv4 and IPv6' : server.host.includes(':') ? 'IPv6' : 'IPv4';
  const urlHost = host.includes(':') ? `[${host === '::' ? '::1' : host}]` : host;
  const stopWatching = args.options['no-watch'] ? () => {} : service.watchModuleFiles();
  const configFile = args.options['config'] as string | undefined;
  const onSighup = async () => {
    // New checksums come from the configuration file, re-read (and re-validated) on each signal.
    let fresh: GatewayConfig | undefined;
    if (configFile) {
      try {
        fresh = await loadConfigFile(configFile);
      } catch (err) {
        logger.error('SIGHUP: configuration not re-read; reloading with the old checksums', { detail: err instanceof Error ? err.message : String(err) });
      }
    }
    // With the file re-read, its checksum (or its absence) is the one in force. All at once: a
    // looping module's reload must not hold up the others' (reload-all.ts).
    const sha256Of = (name: string) => (fresh ? (fresh.sensors.find((s) => s.name === name)?.sha256 ?? null) : undefined);
    await Promise.all(reloadAll(service, sha256Of).values());
  };
  process.on('SIGHUP', () => void onSighup());

  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      runner?.close();
      control?.close();
      logger.info('stopping', { signal });
      Promise.all([server.close(), http?.close(), uplink?.close()]).then(
        () => service.close().then(() => resolve(0)),
        (err: unknown) => {
          logger.error('error while stopping', { detail: String(err) });
          void service.close().then(() => resolve(1));
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    if (sim.exitAfterScenario && runner) {
      void runner.ended.then(() => {
        emit?.({ event: 'scenario-ended', scenario: scenario!.name, seed: scenario!.seed, durationMs: scenario!.durationMs });
        stop('scenario ended');
      });
    }
  });

  // The port first: a device project's CI reads this line to know where to send requests.
  emit?.({ event: 'listening', port: server.port, host: server.host, ...(scenario ? { scenario: scenario.name, seed: scenario.seed, durationMs: scenario.durationMs } : {}), timeScale: sim.timeScale });
  // The scenario's time 0 is now, when the gateway can be asked.
  runner?.start();

  // The banner last, once the signal handlers are in place: a supervisor (or a test) that stops
  // the gateway as soon as it reads "listening" gets a clean stop, never the default SIGTERM death.
  // One write: a reader of the pipe sees the whole banner at once.
  (emit ? console.error : console.log)(
    [
      `coap-sensor-gateway listening on udp ${where} (${family})`,
      ...service.hardware.descriptions.map((line) => `  ${line}`),
      ...service.list().map((e) => `  coap://${urlHost}:${server.port}${e.config.path}  sensor ${e.config.name}`),
      oscore ? `  OSCORE: ${oscore.clients.length} client${oscore.clients.length === 1 ? '' : 's'} (${oscore.clients.join(', ')}); sequence numbers in ${config.oscore!.stateDir}` : '  OSCORE: not configured (docs/security.md)',
      `  access: ${config.access.rules.length - DEFAULT_RULE_COUNT} rule(s) of the configuration, then the defaults (docs/security.md)`,
      ...(uplink ? [`  MQTT uplink: ${config.mqtt!.url} as ${config.mqtt!.gatewayId}, topics ${config.mqtt!.topicPrefix}/${config.mqtt!.gatewayId}/...${config.mqtt!.discovery.enabled ? `, Home Assistant discovery under ${config.mqtt!.discovery.prefix}/` : ''} (docs/uplink.md)`] : []),
      ...(http ? [`  HTTP view: http://${config.http!.host.includes(':') ? `[${config.http!.host}]` : config.http!.host}:${http.port}/ (readings, /metrics, a live page; docs/http.md)`] : []),
      ...(scenario ? [`  scenario: ${scenario.name} (seed ${scenario.seed}, ${formatDuration(scenario.durationMs)} of simulated time): ${scenario.description}`] : []),
      ...(sim.timeScale !== 1 ? [`  time scale: x${sim.timeScale} (the sensors' time; CoAP retransmission runs on real time)`] : []),
      ...(control ? [`  live control: npm run sim -- status (coap://${urlHost}:${server.port}/gw/sim; docs/simulation.md)`] : []),
      ...(simulated.length > 0 ? [`  SIMULATED: ${simulated.join(', ')} ${simulated.length > 1 ? 'are' : 'is'} not measured; every reading of ${simulated.length > 1 ? 'them' : 'it'} says so ("sim": true; in SenML "sim_": true)`] : []),
    ].join('\n'),
  );

  return stopped;
}

runCli(() => main(process.argv.slice(2)), USAGE);
