/**
 * `npm run fuzz`: mutated CoAP datagrams against a running gateway, as `npm start` runs it
 * (the launcher and its bundles, the simulated TMP102 at a fixed temperature), on loopback only.
 *
 * Each datagram starts from one of a corpus of valid requests (GET, FETCH with CBOR, Observe
 * register and deregister, Block2, discovery, statistics, settings PUT, Empty ACK/RST, ping)
 * and gets one to four mutations: bit flips, byte insertions and deletions, truncation, a
 * reserved token length (9..15), extended or reserved option nibbles (13, 14, 15), a random CBOR
 * body, an absurd Block2 value. Sources rotate over several loopback addresses (127.0.0.1..N)
 * and ports. Every `checkEvery` datagrams a correct `GET /temp` must get 2.05 with the
 * simulated value, marked simulated; the gateway must not exit; RSS is sampled from /proc.
 *
 *   npm run fuzz -- --count 1000000 --seconds 900     the long run (README, "Fuzzing")
 *   npm run fuzz -- --count 50000 --seconds 90        what .ci/run runs
 *
 * Options: --seed N (default 1: the same run twice sends the same datagrams), --count N,
 * --seconds N (stop at whichever comes first), --sources N (client addresses, default 8),
 * --check-every N (default 500), --rate N (datagrams per second at most; default: as fast as
 * it sends), --max-rss-mb N (fail if the peak passes it; default none), --json (one result
 * object on stdout). Exit 0 when every check passed, 1 otherwise.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decode as cborDecode } from 'cbor-x';
import { spawnGatewayProcess } from '../test/helpers/gateway-process.ts';
import { prng } from '../test/helpers/prng.ts';

const { values: opts } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    count: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '120' },
    sources: { type: 'string', default: '8' },
    'check-every': { type: 'string', default: '500' },
    'max-rss-mb': { type: 'string' },
    rate: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const SEED = Number(opts.seed);
const COUNT = Number(opts.count);
const SECONDS = Number(opts.seconds);
const SOURCES = Math.max(1, Math.min(64, Number(opts.sources)));
const CHECK_EVERY = Number(opts['check-every']);
const MAX_RSS_MB = opts['max-rss-mb'] === undefined ? undefined : Number(opts['max-rss-mb']);
/** Datagrams per second at most (default: as fast as the loop sends them). */
const RATE = opts.rate === undefined ? Infinity : Number(opts.rate);
const SIM_CELSIUS = 21.5;
/** Datagrams sent before yielding to the event loop: a bounded burst, so the gateway's receive buffer sees load, not only overflow. */
const BURST = 64;

const ROOT = path.resolve(import.meta.dirname, '..');

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

/** A CoAP option in RFC 7252 section 3.1 encoding, delta from `prev`. */
function option(prev: number, number: number, value: Uint8Array): number[] {
  const nib = (n: number) => (n < 13 ? [n, []] : n < 269 ? [13, [n - 13]] : [14, [(n - 269) >> 8, (n - 269) & 0xff]]) as [number, number[]];
  const [d, dx] = nib(number - prev);
  const [l, lx] = nib(value.length);
  return [(d << 4) | l, ...dx, ...lx, ...value];
}

function message(type: number, code: number, mid: number, token: number[], options: [number, Uint8Array | string | number][], payload?: Uint8Array): Buffer {
  const out = [0x40 | (type << 4) | token.length, code, mid >> 8, mid & 0xff, ...token];
  let prev = 0;
  for (const [n, v] of [...options].sort((a, b) => a[0] - b[0])) {
    const value = typeof v === 'string' ? Buffer.from(v) : typeof v === 'number' ? uintBytes(v) : v;
    out.push(...option(prev, n, value));
    prev = n;
  }
  if (payload && payload.length > 0) out.push(0xff, ...payload);
  return Buffer.from(out);
}

function uintBytes(n: number): Uint8Array {
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return Uint8Array.from(b);
}

const GET = 1;
const PUT = 3;
const FETCH = 5;
const KELVIN = Uint8Array.from(Buffer.from('a164756e6974614b', 'hex')); // {"unit":"K"}

/** Valid datagrams to start from (Message ID and token are filled in per datagram). */
function corpus(mid: number, tok: number[]): Buffer[] {
  return [
    message(0, GET, mid, tok, [[11, 'temp']]),
    message(1, GET, mid, tok, [[11, 'temp'], [17, 60]]),
    message(0, GET, mid, tok, [[11, 'temp'], [15, 'unit=K'], [15, 'precision=1'], [17, 112]]),
    message(0, FETCH, mid, tok, [[11, 'temp'], [12, 60]], KELVIN),
    message(0, GET, mid, tok, [[6, 0], [11, 'temp'], [15, 'c.pmin=1']]),
    message(1, GET, mid, tok, [[6, 1], [11, 'temp']]),
    message(0, GET, mid, tok, [[11, 'gw'], [11, 'stats'], [23, 0x02]]),
    message(0, GET, mid, tok, [[11, '.well-known'], [11, 'core'], [23, 0x11]]),
    message(0, PUT, mid, tok, [[11, 'temp'], [11, 'alert'], [12, 60]], Uint8Array.from(Buffer.from('a1646869676818', 'hex'))),
    Buffer.from([0x60, 0, mid >> 8, mid & 0xff]), // Empty ACK
    Buffer.from([0x70, 0, mid >> 8, mid & 0xff]), // RST
    Buffer.from([0x40, 0, mid >> 8, mid & 0xff]), // ping
  ];
}

/** Random CBOR-ish bytes: well-formed heads with random content, or raw noise. */
function randomCbor(): Uint8Array {
  const n = 1 + int(40);
  const b = Array.from({ length: n }, () => int(256));
  if (rand() < 0.5) b[0] = pick([0xa1, 0xa2, 0xbf, 0x9f, 0xd8, 0xf9, 0xfb, 0x7f, 0x5f, 0xa0]);
  return Uint8Array.from(b);
}

function mutate(d: Buffer): Buffer {
  let b = [...d];
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(9)) {
      case 0: // bit flip
        if (b.length) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // insert a byte
        b.splice(int(b.length + 1), 0, int(256));
        break;
      case 2: // delete a byte
        if (b.length > 1) b.splice(int(b.length), 1);
        break;
      case 3: // truncate
        b = b.slice(0, int(b.length + 1));
        break;
      case 4: // reserved token length 9..15
        if (b.length) b[0] = (b[0]! & 0xf0) | (9 + int(7));
        break;
      case 5: {
        // an option byte with extended or reserved nibbles, and what follows it
        const at = 4 + ((b[0] ?? 0) & 0x0f);
        b.splice(Math.min(at, b.length), 0, (pick([13, 14, 15]) << 4) | pick([0, 5, 13, 14, 15]), int(256), int(256));
        break;
      }
      case 6: // a random CBOR body on a method with one
        if (b.length > 1) {
          b[1] = pick([2, 3, 5]);
          b = [...b, 0xff, ...randomCbor()];
        }
        break;
      case 7: // an absurd Block2 value appended as the last option (delta may be wrong: that is the point)
        b.splice(4 + ((b[0] ?? 0) & 0x0f), 0, 0xd3, 23 - 13, 0xff, 0xff, 0xff);
        break;
      case 8: // random bytes at the end
        b.push(...Array.from({ length: 1 + int(16) }, () => int(256)));
        break;
    }
  }
  return Buffer.from(b.slice(0, 1400));
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function bound(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('message', () => {}); // replies are read and dropped: the gateway may answer anything
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  return s;
}

/** A correct GET /temp from its own socket: 2.05, CBOR, the simulated value, marked simulated. */
async function check(port: number, mid: number): Promise<string | undefined> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const reply = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      s.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      s.send(message(0, GET, mid, [0xc0, 0xde], [[11, 'temp']]), port, '127.0.0.1');
    });
    if (!reply) return 'GET /temp: no answer within 2 s';
    if (reply[1] !== 0x45) return `GET /temp: code ${reply[1]! >> 5}.${String(reply[1]! & 31).padStart(2, '0')}`;
    const body = reply.subarray(reply.indexOf(0xff, 6) + 1);
    const r = cborDecode(body) as { value: number; sim: boolean };
    if (r.value !== SIM_CELSIUS || r.sim !== true) return `GET /temp: ${JSON.stringify(r)}`;
    return undefined;
  } catch (err) {
    return `GET /temp: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    s.close();
  }
}

async function main(): Promise<number> {
  const gw = spawnGatewayProcess([process.execPath, '--max-semi-space-size=2', '--heap-growing-percent=50', path.join(ROOT, 'gateway/cli/launch.mjs'), 'start', '--driver', 'simulated', '--sim-temp', String(SIM_CELSIUS), '--host', '127.0.0.1', '--port', '0'], { cwd: ROOT });
  await gw.waitFor(/listening on udp/);
  const port = gw.port();
  const pid = gw.child.pid!;
  await new Promise((r) => setTimeout(r, 100));
  const sockets = await Promise.all(Array.from({ length: SOURCES }, (_, i) => bound(`127.0.0.${1 + i}`)));
  const startRss = rssMb(pid);
  const samples: { sent: number; rssMb: number }[] = [{ sent: 0, rssMb: startRss }];
  const failures: string[] = [];
  const started = Date.now();
  let sent = 0;
  let checks = 0;
  let mid = int(0x10000);
  const reportEvery = Math.max(1000, Math.floor(COUNT / 10));
  while (sent < COUNT && Date.now() - started < SECONDS * 1000) {
    for (let i = 0; i < BURST && sent < COUNT; i++, sent++) {
      mid = (mid + 1) & 0xffff;
      const tok = Array.from({ length: int(9) }, () => int(256));
      const d = rand() < 0.1 ? pick(corpus(mid, tok)) : mutate(pick(corpus(mid, tok)));
      pick(sockets).send(d, port, '127.0.0.1');
    }
    const ahead = sent / RATE - (Date.now() - started) / 1000;
    await new Promise((r) => (ahead > 0.001 ? setTimeout(r, ahead * 1000) : setImmediate(r)));
    if (sent % CHECK_EVERY < BURST) {
      checks++;
      const problem = await check(port, (mid + 0x8000) & 0xffff);
      if (problem) failures.push(`after ${sent} datagrams: ${problem}`);
      if (gw.child.exitCode !== null || gw.child.signalCode !== null) {
        failures.push(`the gateway exited (${gw.child.exitCode ?? gw.child.signalCode}) after ${sent} datagrams: ${gw.err().slice(-500)}`);
        break;
      }
      if (failures.length >= 5) break;
    }
    if (sent % reportEvery < BURST) samples.push({ sent, rssMb: rssMb(pid) });
  }
  const seconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const final = await check(port, 0x1234);
  if (final) failures.push(`at the end: ${final}`);
  samples.push({ sent, rssMb: rssMb(pid) });
  const peakRssMb = Math.max(...samples.map((s) => s.rssMb).filter(Number.isFinite));
  if (MAX_RSS_MB !== undefined && peakRssMb > MAX_RSS_MB) failures.push(`RSS peaked at ${peakRssMb.toFixed(1)} MB, over ${MAX_RSS_MB} MB`);
  const vmHwm = (() => {
    try {
      return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    } catch {
      return NaN;
    }
  })();
  for (const s of sockets) s.close();
  gw.child.kill('SIGTERM');
  const code = await gw.exited;
  if (code !== 0) failures.push(`the gateway exited ${code} on SIGTERM`);
  const result = { seed: SEED, sent, seconds: Math.round(seconds * 10) / 10, rate: Math.round(sent / seconds), checks, startRssMb: round(startRss), peakRssMb: round(peakRssMb), vmHwmMb: round(vmHwm), samples: samples.map((s) => ({ sent: s.sent, rssMb: round(s.rssMb) })), failures };
  if (opts.json) console.log(JSON.stringify(result));
  else {
    console.log(`fuzz: seed ${SEED}, ${sent} datagrams in ${result.seconds} s (${result.rate}/s) from ${SOURCES} addresses, ${checks} checks of GET /temp`);
    console.log(`RSS: ${result.startRssMb} MB at start, peak ${result.peakRssMb} MB (VmHWM ${result.vmHwmMb} MB); by datagrams sent: ${result.samples.map((s) => `${s.sent}:${s.rssMb}`).join(' ')}`);
    console.log(failures.length === 0 ? 'PASSED: every check answered 2.05 with the simulated value, the gateway never exited, SIGTERM exited 0' : `FAILED:\n  ${failures.join('\n  ')}`);
  }
  return failures.length === 0 ? 0 : 1;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
