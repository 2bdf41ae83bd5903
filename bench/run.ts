/**
 * `npm run bench`: the gateway measured side by side with its references, in one run, so the
 * ratios hold on a shared, noisy machine. Writes bench/results.json and prints a table.
 *
 *   throughput  confirmable GET from the Go load generator (bench/loadgen, raw UDP, many
 *               sockets), interleaved rounds over
 *                 (a) node-coap   a bare node-coap server answering a constant CBOR payload
 *                 (b) gateway     GET /temp on the simulated TMP102, reads paced by the sensor
 *                 (c) unpaced     the gateway with pacing off: every request runs the WASM
 *                                 module (in its worker thread, the default) and a bus read
 *                 (c') the same with the module on the gateway's thread (isolation "in-thread")
 *                 (d) libcoap     coap-server-notls on its own /time resource (native reference)
 *   wasm        module cold start, host->guest call and guest->host import cost, module sizes
 *   payload     /temp payload bytes per content format against the smallest valid encoding
 *   soak        RSS of the gateway, then of (a), over minutes at full load
 *
 * Options (after `npm run bench --`): --quick (a smoke run: short runs, 20 s soaks),
 * --seconds N (per throughput run, default 10), --rounds N (default 3), --sockets N (default 64),
 * --soak-seconds N (default 300), --only throughput,wasm,payload,soak, --profile (also run the
 * gateway under load with --cpu-prof; the profile goes to bench/profiles/).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../gateway/service/config.ts';
import { type LoadResult, buildLoadgen, runLoad } from './lib/loadgen.ts';
import { MemorySampler } from './lib/process-memory.ts';
import { type ServerSpec, bareNodeCoap, gateway, libcoapAvailable, libcoapServer, startServer } from './lib/servers.ts';
import { measurePayloadBytes } from './payload-bytes.ts';
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
    profile: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opts.seconds ?? (opts.quick ? 3 : 10));
const ROUNDS = Number(opts.rounds ?? (opts.quick ? 1 : 3));
const SOCKETS = Number(opts.sockets ?? 64);
const SOAK_SECONDS = Number(opts['soak-seconds'] ?? (opts.quick ? 20 : 300));
const PARTS = new Set((opts.only ?? 'throughput,wasm,payload,soak').split(','));
const SOAK_SOURCES = 32;
/** Past this the soak of bare node-coap stops: the point is made, and the machine is shared. */
const SOAK_RSS_STOP_MB = 6144;

const PORT = { a: 5791, b: 5792, c: 5793, ct: 5797, d: 5794, soak: 5795, profile: 5796 } as const;
type Scenario = 'a' | 'b' | 'c' | 'ct' | 'd';
const SCENARIOS: Scenario[] = ['a', 'b', 'c', 'ct', 'd'];
const LABEL: Record<Scenario, string> = {
  a: '(a) node-coap, constant CBOR',
  b: '(b) gateway, paced',
  c: '(c) gateway, pacing off',
  ct: "(c') pacing off, module in-thread",
  d: '(d) libcoap coap-server-notls',
};

interface ScenarioResult {
  name: string;
  rounds: LoadResult[];
  rps: number;
  p50us: number;
  p99us: number;
  errors: number;
  timeouts: number;
  peakRssMb: number;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function throughput(): Promise<{ scenarios: Partial<Record<Scenario, ScenarioResult>>; ratios: Record<string, number | null> }> {
  const specs: Array<[Scenario, ServerSpec]> = [
    ['a', bareNodeCoap()],
    ['b', gateway('gateway', { pacing: true })],
    ['c', gateway('gateway-unpaced', { pacing: false })],
    ['ct', gateway('gateway-unpaced-in-thread', { pacing: false, isolation: 'in-thread' })],
  ];
  if (libcoapAvailable()) specs.push(['d', libcoapServer()]);
  else log('coap-server-notls not found (apt-get install libcoap3-bin): scenario (d) skipped');

  // Each run gets a fresh server, stopped before the next starts: node-coap's cache keeps
  // growing and its garbage collector keeps working after its run, which would take CPU from
  // whichever server is measured next.
  const runs = new Map<Scenario, { name: string; peakMb: number; rounds: LoadResult[] }>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [s, spec] of specs) {
      const server = await startServer(spec, PORT[s]);
      const memory = new MemorySampler(server.pid, 500);
      let r: LoadResult;
      try {
        r = await runLoad({ port: server.port, path: server.path, seconds: SECONDS, sockets: SOCKETS });
      } finally {
        memory.stop();
        await server.stop();
      }
      const entry = runs.get(s) ?? { name: server.name, peakMb: 0, rounds: [] };
      entry.rounds.push(r);
      entry.peakMb = Math.max(entry.peakMb, memory.peakMb);
      runs.set(s, entry);
      log(`round ${round}/${ROUNDS} ${LABEL[s]}: ${Math.round(r.rps)} req/s, p50 ${(r.latency_us.p50 / 1000).toFixed(2)} ms, p99 ${(r.latency_us.p99 / 1000).toFixed(2)} ms, errors ${sum(r.errors)}, timeouts ${r.timeouts}, peak RSS ${memory.peakMb} MB`);
    }
  }
  const scenarios: Partial<Record<Scenario, ScenarioResult>> = {};
  for (const [s, { name, peakMb, rounds }] of runs) {
    scenarios[s] = {
      name,
      rounds,
      rps: Math.round(median(rounds.map((r) => r.rps))),
      p50us: Math.round(median(rounds.map((r) => r.latency_us.p50))),
      p99us: Math.round(median(rounds.map((r) => r.latency_us.p99))),
      errors: rounds.reduce((n, r) => n + sum(r.errors), 0),
      timeouts: rounds.reduce((n, r) => n + r.timeouts, 0),
      peakRssMb: peakMb,
    };
  }
  const ratio = (x?: ScenarioResult, y?: ScenarioResult) => (x && y ? Math.round((x.rps / y.rps) * 100) / 100 : null);
  const p99ratio = (x?: ScenarioResult, y?: ScenarioResult) => (x && y ? Math.round((x.p99us / y.p99us) * 100) / 100 : null);
  return {
    scenarios,
    ratios: {
      'b/a': ratio(scenarios.b, scenarios.a),
      'c/a': ratio(scenarios.c, scenarios.a),
      "c'/a": ratio(scenarios.ct, scenarios.a),
      'b/d': ratio(scenarios.b, scenarios.d),
      'p99 b/a': p99ratio(scenarios.b, scenarios.a),
    },
  };
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

function table(rows: Array<Array<string | number>>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    date: new Date().toISOString(),
    settings: { secondsPerRun: SECONDS, rounds: ROUNDS, sockets: SOCKETS, inflightPerSocket: 1, soakSeconds: SOAK_SECONDS, soakSourceAddresses: SOAK_SOURCES },
  };
  if (PARTS.has('throughput') || PARTS.has('soak') || opts.profile) buildLoadgen();
  const out: string[] = [];

  if (PARTS.has('throughput')) {
    const t = await throughput();
    results['throughput'] = t;
    const rows: Array<Array<string | number>> = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'timeouts', 'peak RSS MB']];
    for (const s of SCENARIOS) {
      const r = t.scenarios[s];
      if (r) rows.push([LABEL[s], r.rps, (r.p50us / 1000).toFixed(2), (r.p99us / 1000).toFixed(2), r.errors, r.timeouts, r.peakRssMb]);
    }
    out.push(`Confirmable GET, ${SOCKETS} sockets x 1 in flight, median of ${ROUNDS} interleaved ${SECONDS}-s rounds`, table(rows), `ratios: ${Object.entries(t.ratios).map(([k, v]) => `${k} ${v ?? 'n/a'}`).join(', ')}`, '');
  }

  if (PARTS.has('wasm')) {
    const w = await measureWasmPath();
    results['wasm'] = w;
    out.push('WASM path', JSON.stringify(w, null, 2), '');
  }

  if (PARTS.has('payload')) {
    const p = await payload();
    results['payload'] = p;
    out.push('Payload bytes of GET /temp', table([['format', 'bytes', 'smallest valid'], ...p.map((x) => [`${x.name} (${x.format})`, x.bytes, x.smallest ?? 'n/a'])]), '');
  }

  if (PARTS.has('soak')) {
    const gw = await soak(gateway('gateway', { pacing: true }));
    const bare = await soak(bareNodeCoap());
    results['soak'] = { gateway: gw, nodeCoap: bare };
    out.push(
      `Soak: ${SOAK_SECONDS} s at full load (${SOCKETS} sockets from ${SOAK_SOURCES} client addresses)`,
      table([
        ['server', 'req/s', 'requests', 'RSS start MB', 'RSS max MB', 'RSS end MB', 'note'],
        ...[gw, bare].map((s) => [s.name, s.rps, s.requests, s.startRssMb, s.maxRssMb, s.endRssMb, s.stoppedEarly ?? '']),
      ]),
      '',
    );
  }

  if (opts.profile) out.push(`CPU profile written to ${await profile()}`);

  const file = path.join(PROJECT_ROOT, 'bench', 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  out.push(`results: ${path.relative(PROJECT_ROOT, file)}`);
  console.log(out.join('\n'));
}

await main();
