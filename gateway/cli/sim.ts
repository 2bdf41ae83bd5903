/**
 * `npm run sim`: live control of a gateway running on simulated sensors (docs/simulation.md,
 * "Live control"), over CoAP: GET and POST /gw/sim.
 *
 *   npm run sim -- status
 *   npm run sim -- set 31.5
 *   npm run sim -- set -12.5 --sensor outdoor
 *   npm run sim -- fault unplugged 30s
 *   npm run sim -- jump 10m --gateway coap://[::1]:5684
 *
 * Prints one line saying what changed (the gateway's own words, as it logged them). Exit
 * status: 0 when the gateway answered 2.04 or 2.05, 1 for any other answer (its error code on
 * stderr), a timeout or a network error, 2 for a usage error.
 */
import { OscoreExchange } from '../client/oscore-exchange.ts';
import { CoapExchange, type ClientResponse, type RequestSpec, ResponseTimeoutError } from '../client/coap-exchange.ts';
import { contentFormatOf } from '../client/describe-response.ts';
import { renderPayload } from '../client/render-payload.ts';
import { CBOR_CONTENT_FORMAT, encodeJsonPayload } from '../client/request-body.ts';
import { statusLine } from '../client/response-codes.ts';
import { COAP_DEFAULT_PORT, TargetUnreachableError, parseCoapUri, resolveTarget } from '../client/target.ts';
import { formatDuration, parseDuration } from '../../drivers/sim/duration.ts';
import { UsageError, numberOption, parseCommandLine } from './args.ts';
import { runCli } from './run-cli.ts';
import { formatScenarioTime } from '../service/simulation-control.ts';
import { type Output, STDIO } from './output.ts';

const FAULTS = ['nack', 'bus-error', 'timeout', 'stuck', 'unplugged'];
/** The issue's own spelling (`npm run sim -- fault unplug 30s`) is taken for "unplugged". */
const FAULT_ALIASES: Record<string, string> = { unplug: 'unplugged' };
const DEFAULT_GATEWAY = `coap://127.0.0.1:${COAP_DEFAULT_PORT}`;
const TIMEOUT_MS = 10_000;

const USAGE = `usage: npm run sim -- <command> [options]
commands:
  status                  the scenario, each simulated sensor and the recent changes
  set <°C>                hold the temperature at <°C> (-55..150) until release
  set [<°C>] --humidity <%RH>  hold the humidity too (a simulated SHT3x), 0..100
  release                 back to the scenario's (or the configured) temperature
  fault <kind> [for]      inject a fault: nack, bus-error, timeout, stuck or unplugged (unplug),
                          until clear, or for a duration such as 30s, 5m
  clear                   clear the injected fault (the scenario's own faults go on)
  reset                   reset the chip to its power-on registers, as a general call does
  pause | resume          stop or restart the scenario's time
  jump <time>             move the scenario to <time> (90s, 10m, 1h)
options:
  --sensor <name>         the simulated sensor (needed when there are several)
  --gateway <coap-uri>    the gateway (default ${DEFAULT_GATEWAY})
  --port <n>              shortcut for --gateway coap://127.0.0.1:<n>
  --oscore <file>         protect the request with OSCORE, as npm run client does (docs/security.md)
  --json                  status: print the state as JSON
  -h, --help

Only this machine and OSCORE clients may control a gateway by default (docs/security.md).
Exit status: 0 when the gateway answered 2.04 or 2.05, 1 for another answer (its error code on
stderr), a timeout or a network error, 2 for a usage error.`;


/** What to send: GET for status, else POST with the command. */
type Request = { kind: 'status' } | { kind: 'command'; body: Record<string, unknown> };

/** The command words to a request, refusing what the gateway would refuse anyway as a usage error. */
function requestFrom(words: readonly string[], sensor: string | undefined, humidity: number | undefined): Request {
  const [op, ...rest] = words;
  if (op === undefined) throw new UsageError('missing the command (status, set, release, fault, clear, reset, pause, resume, jump)');
  const takes = (min: number, max: number) => {
    if (rest.length < min) throw new UsageError(`${op} needs ${min === 1 ? 'an argument' : `${min} arguments`}`);
    if (rest.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(rest[max])} after ${op}`);
  };
  const withSensor = (body: Record<string, unknown>) => (sensor === undefined ? body : { ...body, sensor });
  switch (op) {
    case 'status':
      takes(0, 0);
      return { kind: 'status' };
    case 'set': {
      takes(humidity === undefined ? 1 : 0, 1);
      const text = rest[0];
      if (text === undefined) return { kind: 'command', body: withSensor({ op: 'set', humidity }) };
      const celsius = /^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(celsius)) throw new UsageError(`set takes a temperature in °C such as 31.5 or -12.5, got ${JSON.stringify(text)}`);
      return { kind: 'command', body: withSensor({ op: 'set', celsius, ...(humidity === undefined ? {} : { humidity }) }) };
    }
    case 'fault': {
      takes(1, 2);
      const fault = FAULT_ALIASES[rest[0]!] ?? rest[0]!;
      if (!FAULTS.includes(fault)) throw new UsageError(`fault takes one of ${FAULTS.join(', ')}, got ${JSON.stringify(rest[0])}`);
      const body: Record<string, unknown> = { op: 'fault', fault };
      if (rest[1] !== undefined) body['for'] = formatDuration(durationArgument('fault', rest[1]));
      return { kind: 'command', body: withSensor(body) };
    }
    case 'release':
    case 'clear':
    case 'reset':
      takes(0, 0);
      return { kind: 'command', body: withSensor({ op }) };
    case 'pause':
    case 'resume':
      takes(0, 0);
      if (sensor !== undefined) throw new UsageError(`${op} moves the scenario's time for every sensor; --sensor does not apply`);
      return { kind: 'command', body: { op } };
    case 'jump':
      takes(1, 1);
      if (sensor !== undefined) throw new UsageError("jump moves the scenario's time for every sensor; --sensor does not apply");
      return { kind: 'command', body: { op: 'jump', to: formatDuration(durationArgument('jump', rest[0]!)) } };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(op)}`);
  }
}

function durationArgument(op: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`${op}: ${(err as Error).message}`);
  }
}

/** --gateway and --port to the /gw/sim target; a path in --gateway is a mistake, not ignored. */
function targetFrom(gateway: string | undefined, port: number | undefined) {
  if (gateway !== undefined && port !== undefined) throw new UsageError('give --gateway or --port, not both (--gateway coap://host:port)');
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`--port must be 1..65535, got ${port}`);
  const base = parseCoapUri(gateway ?? (port === undefined ? DEFAULT_GATEWAY : `coap://127.0.0.1:${port}`));
  if (base.path.length > 0 || base.query.length > 0) throw new UsageError('--gateway takes coap://host[:port], without a path (the control is at /gw/sim)');
  return { ...base, path: [Buffer.from('gw'), Buffer.from('sim')], uri: `${base.uri.replace(/\/$/, '')}/gw/sim` };
}

async function main(argv: string[], io: Output): Promise<number> {
  const args = parseCommandLine(argv, {
    sensor: { value: true },
    humidity: { value: true },
    gateway: { value: true },
    port: { value: true },
    oscore: { value: true },
    json: {},
    help: { short: 'h' },
  });
  if (args.options['help']) {
    io.out(USAGE);
    return 0;
  }
  const sensor = args.options['sensor'] as string | undefined;
  if (sensor === '') throw new UsageError('--sensor needs a sensor name');
  const humidity = numberOption(args, 'humidity');
  if (humidity !== undefined && args.positionals[0] !== 'set') throw new UsageError('--humidity goes with set');
  const request = requestFrom(args.positionals, sensor, humidity);
  const json = args.options['json'] === true;
  if (json && request.kind !== 'status') throw new UsageError('--json applies to status');
  const target = targetFrom(args.options['gateway'] as string | undefined, numberOption(args, 'port'));
  const oscoreFile = args.options['oscore'] as string | undefined;

  const address = await resolveTarget(target);
  const spec: RequestSpec =
    request.kind === 'status'
      ? { method: 'GET', target, address, confirmable: true, accept: CBOR_CONTENT_FORMAT }
      : { method: 'POST', target, address, confirmable: true, accept: CBOR_CONTENT_FORMAT, contentFormat: CBOR_CONTENT_FORMAT, payload: encodeJsonPayload(JSON.stringify(request.body)) };
  const exchange = oscoreFile === undefined ? CoapExchange.for(address) : await OscoreExchange.open(address, target.port, oscoreFile);
  let res: ClientResponse;
  try {
    res = await exchange.request(spec, TIMEOUT_MS);
  } catch (err) {
    if (err instanceof ResponseTimeoutError || err instanceof TargetUnreachableError) {
      io.err(`error: ${err.message} (is the gateway running on ${target.host} port ${target.port}?)`);
      return 1;
    }
    throw err;
  } finally {
    if (exchange instanceof OscoreExchange) await exchange.close();
  }
  const body = decoded(res);
  if (res.code !== '2.04' && res.code !== '2.05') {
    const code = typeof body?.['code'] === 'string' ? body['code'] : undefined;
    const detail = typeof body?.['detail'] === 'string' ? `: ${body['detail']}` : '';
    io.err(`error: ${statusLine(res.code)}${code ? ` ${code}` : ''}${detail}`);
    if (res.code === '4.04' && code === 'GW_ERR_REQUEST_NOT_FOUND') io.err('note: the gateway serves /gw/sim only when it runs on simulated sensors');
    return 1;
  }
  if (body === undefined) {
    io.err(`error: ${statusLine(res.code)} without a readable body`);
    return 1;
  }
  if (request.kind === 'status') {
    io.out(json ? JSON.stringify(body, null, 2) : formatStatus(body));
    return 0;
  }
  const change = body['change'] as { sensor?: string | null; what?: string } | undefined;
  io.out(change?.what ? `${change.sensor ? `${change.sensor}: ` : ''}${change.what}` : statusLine(res.code));
  return 0;
}

/** The CBOR (or JSON) body as a map; undefined when there is none or it does not decode. */
function decoded(res: ClientResponse): Record<string, unknown> | undefined {
  const rendered = renderPayload(res.payload, contentFormatOf(res));
  if (rendered.problem !== undefined || rendered.text === '') return undefined;
  try {
    const v = JSON.parse(rendered.text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * GET /gw/sim for people:
 *
 *   scenario heat-wave (fixtures/scenarios/heat-wave.json, seed 1): 2m10s of 30m, running; time x10
 *   tmp102: 40 °C held (live), fault unplugged (live, until 3m), 1 reset
 *   recent changes:
 *     2026-11-30T09:40:01.250Z  at 2m10s  127.0.0.1  tmp102: temperature held at 40 °C
 */
function formatStatus(s: Record<string, unknown>): string {
  const lines: string[] = [];
  const scale = typeof s['timeScale'] === 'number' && s['timeScale'] !== 1 ? `; time x${s['timeScale']}` : '';
  const sc = s['scenario'] as { name: string; file: string | null; seed: number; timeMs: number; durationMs: number | null; paused: boolean; ended: boolean } | null | undefined;
  if (sc) {
    const where = sc.file ? `${sc.file}, seed ${sc.seed}` : `seed ${sc.seed}`;
    const state = sc.ended ? 'ended' : sc.paused ? 'paused' : 'running';
    lines.push(`scenario ${sc.name} (${where}): ${formatScenarioTime(sc.timeMs)}${sc.durationMs === null ? '' : ` of ${formatScenarioTime(sc.durationMs)}`}, ${state}${scale}`);
  } else lines.push(`no scenario: the configured temperatures${scale}`);
  const sensors = (s['sensors'] ?? {}) as Record<string, { celsius: number; fault: string | null; temperatureOverride: number | null; faultOverride: { fault: string; untilScenarioMs: number | null } | null; resets: number }>;
  for (const [name, st] of Object.entries(sensors)) {
    const parts = [`${st.celsius} °C${st.temperatureOverride === null ? '' : ' held (live)'}`];
    if (st.fault !== null) {
      const live = st.faultOverride !== null && st.faultOverride.fault === st.fault;
      const until = live && st.faultOverride!.untilScenarioMs !== null ? `, until ${formatScenarioTime(st.faultOverride!.untilScenarioMs)}` : '';
      parts.push(`fault ${st.fault} (${live ? `live${until}` : 'scenario'})`);
    } else parts.push('no fault');
    if (st.resets > 0) parts.push(`${st.resets} reset${st.resets === 1 ? '' : 's'}`);
    lines.push(`${name}: ${parts.join(', ')}`);
  }
  const changes = (s['changes'] ?? []) as Array<{ time: string; scenarioMs: number; source: string; sensor: string | null; what: string }>;
  lines.push(changes.length === 0 ? 'no changes yet' : 'recent changes:');
  for (const c of changes) lines.push(`  ${c.time}  at ${formatScenarioTime(c.scenarioMs)}  ${c.source}  ${c.sensor ? `${c.sensor}: ` : ''}${c.what}`);
  return lines.join('\n');
}

runCli(() => main(process.argv.slice(2), STDIO), USAGE);
