/**
 * `npm run bench`: the gateway measured side by side with its references, in one run, so the
 * ratios hold on a shared, noisy machine. Writes bench/results.json and prints a table.
 *
 *   throughput  requests from the Go load generator (bench/loadgen, raw UDP, many sockets),
 *               confirmable GET unless said otherwise, interleaved rounds over
 *                 (a) node-coap   a bare node-coap server answering a constant CBOR payload
 *                 (b) gateway     GET /temp on the simulated TMP102, reads paced by the sensor
 *                 (c) unpaced     the gateway with pacing off: every request runs the WASM
 *                                 module (in its worker thread, the default) and a bus read
 *                 (c') the same with the module on the gateway's thread (isolation "in-thread")
 *                 (d) libcoap     coap-server-notls on its own /time resource (native reference)
 *                 (e) gateway     as (b), non-confirmable GET /temp
 *                 (f) gateway     as (b), FETCH /temp with the CBOR body {"unit":"K"} (RFC 8132)
 *                 (g) gateway     as (b), GET /temp?unit=K
 *               Every scenario runs once per round against a fresh server; the ratios (issue 11:
 *               b/d, b/a, p99 b/d, e/b, f/b, g/b) are of medians over the rounds of this one
 *               run, with each round's own ratio in results.json (ratiosByRound).
 *   wasm        module cold start, host->guest call and guest->host import cost, module sizes
 *   payload     /temp payload bytes per content format against the smallest valid encoding
 *   soak        RSS of the gateway, then of (a), over minutes at full load
 *   sensors     RSS with 1, 2, 4 and 8 sensors, per isolation (shared worker, a worker each,
 *               in-thread): what one more sensor costs (bench/sensor-cost.ts)
 *   oscore      the gateway with an `oscore` section, paced GET /temp as (b), plain CON GET and
 *               OSCORE CON GET (one client context per socket) in interleaved rounds: rps,
 *               p50/p99, the ratio OSCORE/plain, and the bytes of each on the wire
 *               (bench/oscore-cost.ts)
 *   uplink      the gateway paced as (b) with its MQTT uplink off, on (a local Mosquitto,
 *               every reading published) and on with the broker unreachable (readings to the
 *               bounded buffer), in interleaved rounds: rps, p50/p99, the ratios on/off and
 *               unreachable/off (bench/uplink-cost.ts)
 *
 * Options (after `npm run bench --`): --quick (a smoke run: short runs, 20 s soaks),
 * --seconds N (per throughput run, default 10), --rounds N (default 3), --sockets N (default 64),
 * --soak-seconds N (default 300), --only throughput,wasm,payload,soak,sensors,oscore,uplink (the parts not run keep
 * their figures from the results.json already there), --scenarios b,d (only those
 * throughput scenarios; writes bench/results.partial.json, not results.json), --profile (also run the
 * gateway under load with --cpu-prof; the profile goes to bench/profiles/).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../gateway/service/config.ts';
import { type LoadResult, type RequestShape, buildLoadgen, describeRequest, runLoad } from './lib/loadgen.ts';
import { MemorySampler } from './lib/process-memory.ts';
import { type ServerSpec, bareNodeCoap, gateway, libcoapAvailable, libcoapServer, startServer } from './lib/servers.ts';
import { measurePayloadBytes } from './payload-bytes.ts';
import { measureOscoreCost } from './oscore-cost.ts';
import { measureUplinkCost } from './uplink-cost.ts';
import { SENSOR_COUNTS, measureSensorCost } from './sensor-cost.ts';
import { measureWasmPath } from './wasm-path.ts';
import { median } from './lib/median.ts';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    sockets: { type: 'string' },
    'soak-seconds': { type: 'string' },
    only: { type: 'string' },
    scenarios: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opts.seconds ?? (opts.quick ? 3 : 10));
const ROUNDS = Number(opts.rounds ?? (opts.quick ? 1 : 3));
const SOCKETS = Number(opts.sockets ?? 64);
const SOAK_SECONDS = Number(opts['soak-seconds'] ?? (opts.quick ? 20 : 300));
/** `--scenarios b,d`: a quick look at some scenarios while working; results.json is then not written. */
const SCENARIO_FILTER = opts.scenarios === undefined ? undefined : new Set(opts.scenarios.split(','));
const PARTS = new Set((opts.only ?? 'throughput,wasm,payload,soak,sensors,oscore,uplink').split(','));
const SOAK_SOURCES = 32;
/** Past this the soak of bare node-coap stops: the point is made, and the machine is shared. */
const SOAK_RSS_STOP_MB = 6144;

const PORT = { a: 5791, b: 5792, c: 5793, ct: 5797, d: 5794, e: 5798, f: 5799, g: 5800, soak: 5795, profile: 5796, oscore: 5801, uplink: 5802 } as const;
type Scenario = 'a' | 'b' | 'c' | 'ct' | 'd' | 'e' | 'f' | 'g';
/** The order of the table. */
const SCENARIOS: Scenario[] = ['a', 'b', 'c', 'ct', 'd', 'e', 'f', 'g'];
/** The order within a round: (e), (f), (g) right after (b), which they are divided by. */
const RUN_ORDER: Scenario[] = ['a', 'b', 'e', 'f', 'g', 'c', 'ct', 'd'];
const LABEL: Record<Scenario, string> = {
  a: '(a) node-coap, constant CBOR',
  b: '(b) gateway, paced',
  c: '(c) gateway, pacing off',
  ct: "(c') pacing off, module in-thread",
  d: '(d) libcoap coap-server-notls',
  e: '(e) gateway, paced, NON',
  f: '(f) gateway, paced, FETCH CBOR',
  g: '(g) gateway, paced, Uri-Query',
};
/** CBOR {"unit":"K"}: map(1), text(4) "unit", text(1) "K". */
const CBOR_UNIT_K = Uint8Array.from([0xa1, 0x64, 0x75, 0x6e, 0x69, 0x74, 0x61, 0x4b]);
const CONTENT_FORMAT_CBOR = 60;
/** The request of each scenario; the others send a confirmable GET. */
const REQUEST: Partial<Record<Scenario, RequestShape>> = {
  e: { type: 'NON' },
  f: { method: 'FETCH', payload: CBOR_UNIT_K, contentFormat: CONTENT_FORMAT_CBOR },
  g: { query: ['unit=K'] },
};
/** The gateway as `npm start` runs it, under the load of (b), (e), (f), (g): its peak RSS is issue 11's. */
const GATEWAY_DEFAULT: Scenario[] = ['b', 'e', 'f', 'g'];
/** Today's RSS under load, issue 11's ceiling: the peak of (b) in the run the README quotes (2026-11-27). */
const RSS_TODAY_MB = 103;

interface ScenarioResult {
  name: string;
  /** The request as loadgen sent it, e.g. "NON GET /temp". */
  request: string;
  rounds: LoadResult[];
  rps: number;
  p50us: number;
  p99us: number;
  errors: number;
  timeouts: number;
  peakRssMb: number;
  /** Peak RSS of each round's server. */
  peakRssMbByRound: number[];
}

/** A ratio: its key in results.json, what it is, how it is computed and issue 11's goal if any. */
interface RatioSpec {
  key: string;
  label: string;
  of: (s: Partial<Record<Scenario, { rps: number; p99us: number }>>) => number | null;
  goal?: { text: string; met: (v: number) => boolean };
}

const rpsRatio = (x: Scenario, y: Scenario) => (s: Partial<Record<Scenario, { rps: number }>>) => (s[x] && s[y] ? s[x]!.rps / s[y]!.rps : null);
const p99Ratio = (x: Scenario, y: Scenario) => (s: Partial<Record<Scenario, { p99us: number }>>) => (s[x] && s[y] ? s[x]!.p99us / s[y]!.p99us : null);
const atLeast = (min: number) => ({ text: `>= ${min}`, met: (v: number) => v >= min });
const atMost = (max: number) => ({ text: `<= ${max}`, met: (v: number) => v <= max });

const RATIOS: RatioSpec[] = [
  { key: 'b/d', label: '(b) gateway CON GET / (d) libcoap, req/s', of: rpsRatio('b', 'd'), goal: atLeast(0.5) },
  { key: 'b/a', label: '(b) gateway / (a) bare node-coap, req/s', of: rpsRatio('b', 'a'), goal: atLeast(1.5) },
  { key: 'p99 b/d', label: '(b) gateway p99 / (d) libcoap p99', of: p99Ratio('b', 'd'), goal: atMost(2) },
  { key: 'e/b', label: '(e) NON GET / (b) CON GET, req/s', of: rpsRatio('e', 'b'), goal: atLeast(0.8) },
  { key: 'f/b', label: '(f) FETCH CBOR / (b) CON GET, req/s', of: rpsRatio('f', 'b'), goal: atLeast(0.8) },
  { key: 'g/b', label: '(g) GET ?unit=K / (b) CON GET, req/s', of: rpsRatio('g', 'b'), goal: atLeast(0.8) },
  { key: 'p99 b/a', label: '(b) gateway p99 / (a) bare node-coap p99', of: p99Ratio('b', 'a') },
  { key: 'c/a', label: '(c) pacing off / (a), req/s', of: rpsRatio('c', 'a') },
  { key: "c'/a", label: "(c') pacing off, in-thread / (a), req/s", of: rpsRatio('ct', 'a') },
];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function round2(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}

interface ThroughputResult {
  scenarios: Partial<Record<Scenario, ScenarioResult>>;
  /** Of the medians over the rounds, all from this run; null when a scenario was skipped. */
  ratios: Record<string, number | null>;
  /** The same ratio within each round (rounds in order). */
  ratiosByRound: Record<string, Array<number | null>>;
  /** Issue 11's goals and whether this run met them (null: not measured). */
  goals: Record<string, { goal: string; value: number | null; met: boolean | null }>;
  /** Peak RSS (VmHWM) of the gateway in its default configuration under load: the highest of (b), (e), (f), (g). */
  gatewayPeakRssMb: number | null;
}

async function throughput(): Promise<ThroughputResult> {
  const specs = new Map<Scenario, ServerSpec>([
    ['a', bareNodeCoap()],
    ['b', gateway('gateway', { pacing: true })],
    ['e', gateway('gateway', { pacing: true })],
    ['f', gateway('gateway', { pacing: true })],
    ['g', gateway('gateway', { pacing: true })],
    ['c', gateway('gateway-unpaced', { pacing: false })],
    ['ct', gateway('gateway-unpaced-in-thread', { pacing: false, isolation: 'in-thread' })],
  ]);
  if (libcoapAvailable()) specs.set('d', libcoapServer());
  else log('coap-server-notls not found (apt-get install libcoap3-bin): scenario (d) skipped');

  // Each run gets a fresh server, stopped before the next starts: node-coap's cache keeps
  // growing and its garbage collector keeps working after its run, which would take CPU from
  // whichever server is measured next.
  const runs = new Map<Scenario, { name: string; peakMb: number[]; rounds: LoadResult[] }>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of RUN_ORDER) {
      if (SCENARIO_FILTER !== undefined && !SCENARIO_FILTER.has(s)) continue;
      const spec = specs.get(s);
      if (!spec) continue;
      const server = await startServer(spec, PORT[s]);
      const memory = new MemorySampler(server.pid, 500);
      let r: LoadResult;
      try {
        r = await runLoad({ ...REQUEST[s], port: server.port, path: server.path, seconds: SECONDS, sockets: SOCKETS });
      } finally {
        memory.stop();
        await server.stop();
      }
      const entry = runs.get(s) ?? { name: server.name, peakMb: [], rounds: [] };
      entry.rounds.push(r);
      entry.peakMb.push(memory.peakMb);
      runs.set(s, entry);
      log(`round ${round}/${ROUNDS} ${LABEL[s]} [${describeRequest(r)}]: ${Math.round(r.rps)} req/s, p50 ${(r.latency_us.p50 / 1000).toFixed(2)} ms, p99 ${(r.latency_us.p99 / 1000).toFixed(2)} ms, errors ${sum(r.errors)}, timeouts ${r.timeouts}, peak RSS ${memory.peakMb} MB`);
    }
  }
  const scenarios: Partial<Record<Scenario, ScenarioResult>> = {};
  for (const s of SCENARIOS) {
    const run = runs.get(s);
    if (!run) continue;
    const { name, peakMb, rounds } = run;
    scenarios[s] = {
      name,
      request: describeRequest(rounds[0]!),
      rounds,
      rps: Math.round(median(rounds.map((r) => r.rps))),
      p50us: Math.round(median(rounds.map((r) => r.latency_us.p50))),
      p99us: Math.round(median(rounds.map((r) => r.latency_us.p99))),
      errors: rounds.reduce((n, r) => n + sum(r.errors), 0),
      timeouts: rounds.reduce((n, r) => n + r.timeouts, 0),
      peakRssMb: Math.max(...peakMb),
      peakRssMbByRound: peakMb,
    };
  }
  const ratios: Record<string, number | null> = {};
  const ratiosByRound: Record<string, Array<number | null>> = {};
  const goals: ThroughputResult['goals'] = {};
  for (const spec of RATIOS) {
    ratios[spec.key] = round2(spec.of(scenarios));
    ratiosByRound[spec.key] = Array.from({ length: ROUNDS }, (_, i) => {
      const inRound: Partial<Record<Scenario, { rps: number; p99us: number }>> = {};
      for (const [s, { rounds }] of runs) if (rounds[i]) inRound[s] = { rps: rounds[i]!.rps, p99us: rounds[i]!.latency_us.p99 };
      return round2(spec.of(inRound));
    });
    const v = ratios[spec.key]!;
    if (spec.goal) goals[spec.key] = { goal: spec.goal.text, value: v, met: v === null ? null : spec.goal.met(v) };
  }
  const gatewayRss = GATEWAY_DEFAULT.flatMap((s) => (scenarios[s] ? [scenarios[s]!.peakRssMb] : []));
  const gatewayPeakRssMb = gatewayRss.length ? Math.max(...gatewayRss) : null;
  goals['gateway peak RSS MB'] = { goal: `<= ${RSS_TODAY_MB}`, value: gatewayPeakRssMb, met: gatewayPeakRssMb === null ? null : gatewayPeakRssMb <= RSS_TODAY_MB };
  return { scenarios, ratios, ratiosByRound, goals, gatewayPeakRssMb };
}

/** The printed tables of a throughput run: per scenario, then the ratios against issue 11's goals. */
function throughputTables(t: ThroughputResult): string[] {
  const rows: Array<Array<string | number>> = [['scenario', 'request', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'timeouts', 'peak RSS MB']];
  for (const s of SCENARIOS) {
    const r = t.scenarios[s];
    if (r) rows.push([LABEL[s], r.request, thousands(r.rps), (r.p50us / 1000).toFixed(2), (r.p99us / 1000).toFixed(2), r.errors, r.timeouts, r.peakRssMb.toFixed(1)]);
  }
  const byRound = (key: string) => {
    const xs = t.ratiosByRound[key]!.filter((x): x is number => x !== null);
    return ROUNDS > 1 && xs.length ? ` (rounds ${Math.min(...xs).toFixed(2)} to ${Math.max(...xs).toFixed(2)})` : '';
  };
  const verdict = (met: boolean | null | undefined) => (met === undefined ? '' : met === null ? 'n/a' : met ? 'met' : '**missed**');
  const ratioRows: Array<Array<string | number>> = [['ratio', 'this run', 'goal (issue 11)', '']];
  for (const spec of RATIOS) {
    const v = t.ratios[spec.key];
    ratioRows.push([spec.label, v === null || v === undefined ? 'n/a' : `${v.toFixed(2)}${byRound(spec.key)}`, spec.goal?.text ?? '', verdict(t.goals[spec.key]?.met)]);
  }
  const rss = t.goals['gateway peak RSS MB']!;
  ratioRows.push([`gateway peak RSS under load, MB (max of ${GATEWAY_DEFAULT.map((s) => `(${s})`).join(', ')})`, rss.value === null ? 'n/a' : rss.value.toFixed(1), `${rss.goal} (today's)`, verdict(rss.met)]);
  return [
    `Throughput: ${SOCKETS} sockets x 1 request in flight, medians of ${ROUNDS} interleaved ${SECONDS}-s round${ROUNDS === 1 ? '' : 's'}, each server started fresh for its run`,
    '',
    table(rows, 'llrrrrrr'),
    '',
    `Ratios, all from this run (of the medians${ROUNDS > 1 ? "; in brackets the range of each round's own ratio" : ''})`,
    '',
    table(ratioRows, 'lrll'),
    '',
  ];
}

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

interface SoakResult {
  name: string;
  seconds: number;
  requests: number;
  rps: number;
  startRssMb: number;
  maxRssMb: number;
  endRssMb: number;
  peakRssMb: number;
  /** RSS every 10 s. */
  timeline: Array<{ t: number; rssMb: number }>;
  stoppedEarly: string | null;
}

async function soak(spec: ServerSpec): Promise<SoakResult> {
  const server = await startServer(spec, PORT.soak);
  const memory = new MemorySampler(server.pid, 1000);
  let stoppedEarly: string | null = null;
  const guard = setInterval(() => {
    const last = memory.samples.at(-1);
    if (last && last.rssMb > SOAK_RSS_STOP_MB && stoppedEarly === null) {
      stoppedEarly = `RSS passed ${SOAK_RSS_STOP_MB} MB after ${last.t} s`;
      log(`soak ${spec.name}: ${stoppedEarly}; stopping it`);
      void server.stop();
    }
  }, 1000);
  let result: LoadResult | undefined;
  try {
    result = await runLoad({
      port: server.port,
      path: server.path,
      seconds: SOAK_SECONDS,
      sockets: SOCKETS,
      // From 32 client addresses, so the response cache meets its total bound, not only its per-address one.
      sources: SOAK_SOURCES,
      intervalSeconds: 30,
      onProgress: (p) => log(`soak ${spec.name}: ${JSON.stringify(p)} rss ${memory.samples.at(-1)?.rssMb} MB`),
    });
  } catch (err) {
    if (stoppedEarly === null) throw err;
  } finally {
    clearInterval(guard);
    memory.stop();
    await server.stop();
  }
  const rss = memory.samples.map((s) => s.rssMb);
  return {
    name: spec.name,
    seconds: result?.seconds ?? 0,
    requests: result?.ok ?? 0,
    rps: Math.round(result?.rps ?? 0),
    startRssMb: rss[0] ?? NaN,
    maxRssMb: Math.max(...rss),
    endRssMb: rss.at(-1) ?? NaN,
    peakRssMb: memory.peakMb,
    timeline: memory.samples.filter((s, i) => i % 10 === 0),
    stoppedEarly,
  };
}

async function payload() {
  const server = await startServer(gateway('gateway', { pacing: true }), PORT.b);
  try {
    return await measurePayloadBytes(server.port);
  } finally {
    await server.stop();
  }
}

async function profile(): Promise<string> {
  const dir = path.join(PROJECT_ROOT, 'bench', 'profiles');
  mkdirSync(dir, { recursive: true });
  const server = await startServer(gateway('gateway', { pacing: true, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] }), PORT.profile);
  try {
    await runLoad({ port: server.port, path: server.path, seconds: Math.max(SECONDS, 10), sockets: SOCKETS });
  } finally {
    await server.stop();
  }
  return dir;
}

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

/**
 * A Markdown table, its columns padded so it reads as well in a terminal: align has one letter
 * per column, l or r (default: the first left, the others right).
 */
function table(rows: Array<Array<string | number>>, align?: string): string {
  const cells = rows.map((r) => r.map((c) => String(c).replaceAll('|', '\\|')));
  const widths = cells[0]!.map((_, i) => Math.max(3, ...cells.map((r) => r[i]!.length)));
  const right = (i: number) => (align ? align[i] === 'r' : i > 0);
  const line = (r: string[]) => `| ${r.map((c, i) => (right(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    date: new Date().toISOString(),
    settings: { secondsPerRun: SECONDS, rounds: ROUNDS, sockets: SOCKETS, inflightPerSocket: 1, soakSeconds: SOAK_SECONDS, soakSourceAddresses: SOAK_SOURCES },
  };
  if (PARTS.has('throughput') || PARTS.has('soak') || PARTS.has('oscore') || PARTS.has('uplink') || opts.profile) buildLoadgen();
  const out: string[] = [];

  if (PARTS.has('throughput')) {
    const t = await throughput();
    results['throughput'] = t;
    out.push(...throughputTables(t));
  }

  if (PARTS.has('wasm')) {
    const w = await measureWasmPath();
    results['wasm'] = w;
    out.push('WASM path', JSON.stringify(w, null, 2), '');
  }

  if (PARTS.has('payload')) {
    const p = await payload();
    results['payload'] = p;
    out.push('Payload bytes of GET /temp', '', table([['format', 'bytes', 'smallest valid'], ...p.map((x) => [`${x.name} (${x.format})`, x.bytes, x.smallest ?? 'n/a'])]), '');
  }

  if (PARTS.has('soak')) {
    const gw = await soak(gateway('gateway', { pacing: true }));
    const bare = await soak(bareNodeCoap());
    results['soak'] = { gateway: gw, nodeCoap: bare };
    out.push(
      `Soak: ${SOAK_SECONDS} s at full load (${SOCKETS} sockets from ${SOAK_SOURCES} client addresses)`,
      '',
      table(
        [
          ['server', 'req/s', 'requests', 'RSS start MB', 'RSS max MB', 'RSS end MB', 'note'],
          ...[gw, bare].map((s) => [s.name, s.rps, s.requests, s.startRssMb, s.maxRssMb, s.endRssMb, s.stoppedEarly ?? '']),
        ],
        'lrrrrrl',
      ),
      '',
    );
  }

  if (PARTS.has('sensors')) {
    const c = await measureSensorCost(opts.quick ? 1 : 3);
    results['sensors'] = c;
    const isolations = Object.keys(c.rssMb) as Array<keyof typeof c.rssMb>;
    out.push(
      'RSS (MB) with N sensors, lowest while idle after reading each; peak (VmHWM) in brackets',
      '',
      table([
        ['isolation', ...SENSOR_COUNTS.map((n) => `${n}`), 'per added sensor, one bus (1 to 4)', 'two buses (1 to 8)'],
        ...isolations.map((iso) => [iso, ...SENSOR_COUNTS.map((n) => `${c.rssMb[iso][n]} (${c.peakMb[iso][n]})`), c.perAddedSensorMb[iso], c.perAddedSensorTwoBusesMb[iso]]),
      ]),
      '',
    );
  }

  if (PARTS.has('oscore')) {
    const c = await measureOscoreCost({ rounds: ROUNDS, seconds: SECONDS, sockets: SOCKETS, port: PORT.oscore, log });
    results['oscore'] = c;
    const row = (name: string, r: typeof c.plain) => [name, r.request, r.rpsByRound.map(thousands).join(' / '), thousands(r.rps), (r.p50us / 1000).toFixed(2), (r.p99us / 1000).toFixed(2), r.errors, r.timeouts];
    const w = c.wire;
    out.push(
      `OSCORE: the gateway with an oscore section, paced GET /temp, ${SOCKETS} sockets x 1 request in flight (OSCORE: a client context per socket), ${ROUNDS} interleaved ${SECONDS}-s round${ROUNDS === 1 ? '' : 's'}`,
      '',
      table([['request', 'sent as', 'req/s by round', 'req/s (median)', 'p50 ms', 'p99 ms', 'errors', 'timeouts'], row('plain', c.plain), row('OSCORE', c.oscore)], 'llrrrrrr'),
      '',
      `OSCORE / plain, req/s: ${c.ratio.toFixed(2)} (rounds ${c.ratioByRound.map((x) => x.toFixed(2)).join(', ')}); p99: ${c.p99Ratio.toFixed(2)}; Echo challenges by round: ${c.oscore.echoChallengesByRound?.join(', ')}`,
      '',
      table([
        ['GET /temp on the wire, bytes', 'request', 'response'],
        ['plain', w.plain.request, w.plain.response],
        ['OSCORE', w.oscore.request, w.oscore.response],
        ['extra', w.extra.request, w.extra.response],
      ]),
      '',
      'Where the extra bytes are',
      '',
      table([['', 'part', 'bytes'], ...w.breakdown.request.map((x) => ['request', x.part, x.bytes]), ...w.breakdown.response.map((x) => ['response', x.part, x.bytes])], 'llr'),
      '',
    );
  }

  if (PARTS.has('uplink')) {
    const c = await measureUplinkCost({ rounds: ROUNDS, seconds: SECONDS, sockets: SOCKETS, port: PORT.uplink, log });
    results['uplink'] = c;
    const row = (name: string, r: typeof c.off) => [name, r.rpsByRound.map(thousands).join(' / '), thousands(r.rps), (r.p50us / 1000).toFixed(2), (r.p99us / 1000).toFixed(2), r.errors, r.timeouts, r.publishedByRound?.join(' / ') ?? ''];
    out.push(
      `MQTT uplink: the gateway, paced CON GET /temp, ${SOCKETS} sockets x 1 request in flight, uplink off / on (a local Mosquitto) / on with the broker unreachable, ${ROUNDS} interleaved ${SECONDS}-s round${ROUNDS === 1 ? '' : 's'}`,
      '',
      table([['uplink', 'req/s by round', 'req/s (median)', 'p50 ms', 'p99 ms', 'errors', 'timeouts', 'published by round'], row('off', c.off), row('on', c.on), row('unreachable', c.unreachable)], 'lrrrrrrr'),
      '',
      `on / off, req/s: ${c.ratioOn.toFixed(2)} (rounds ${c.ratioOnByRound.map((x) => x.toFixed(2)).join(', ')}); unreachable / off: ${c.ratioUnreachable.toFixed(2)} (rounds ${c.ratioUnreachableByRound.map((x) => x.toFixed(2)).join(', ')}); p99 on / off: ${c.p99RatioOn.toFixed(2)}`,
      '',
    );
  }

  if (opts.profile) out.push(`CPU profile written to ${await profile()}`);

  const file = path.join(PROJECT_ROOT, 'bench', SCENARIO_FILTER === undefined ? 'results.json' : 'results.partial.json');
  // `--only` measures some parts: the others keep the figures of the last run that measured them.
  if (opts.only !== undefined && SCENARIO_FILTER === undefined && existsSync(file)) {
    const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    // The run's date and settings stay those of the parts they describe; a part measured now
    // carries its own date.
    for (const [key, value] of Object.entries(before)) if (!(key in results) || key === 'date' || key === 'settings') results[key] = value;
  }
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  out.push(`results: ${path.relative(PROJECT_ROOT, file)}`);
  console.log(out.join('\n'));
}

await main();
