/**
 * `npm run fuzz`: mutated CoAP datagrams against a running gateway, as `npm start` runs it
 * (the launcher and its bundles, the simulated TMP102 at a fixed temperature), on loopback only.
 *
 * Each datagram starts from one of a corpus of valid requests (GET, FETCH with CBOR, Observe
 * register and deregister, Block2, discovery, statistics, settings PUT, Empty ACK/RST, ping)
 * and gets one to four mutations: bit flips, byte insertions and deletions, truncation, a
 * reserved token length (9..15), extended or reserved option nibbles (13, 14, 15), a random CBOR
 * body, an absurd Block2 value. Sources rotate over several loopback addresses (127.0.0.1..N)
 * and ports, and the gateway runs with GW_COAP_TRUST_LOOPBACK=0: to it they are strangers, so
 * the amplification rules, address verification and duplicate budget are fuzzed too.
 *
 * A run fails when: a correct `GET /temp` (every `checkEvery` datagrams, retried once) does not
 * get 2.05 with the simulated value marked simulated; any reply is a 5.00 (a handler that
 * threw); the gateway writes an ERROR line or exits; it does not exit 0 within 10 s of SIGTERM
 * at the end; its peak RSS (VmHWM) passes --max-rss-mb.
 *
 *   npm run fuzz -- --count 1000000 --seconds 600      the long run (README, "Fuzzing")
 *   npm run fuzz -- --count 200000 --seconds 90 --max-rss-mb 128    what .ci/run runs
 *
 * Options: --seed N (default 1: the same run twice sends the same datagrams), --count N,
 * --seconds N (stop at whichever comes first), --sources N (client addresses, default 8),
 * --check-every N (default 500), --rate N (datagrams per second at most; default: as fast as
 * it sends), --max-rss-mb N (fail if the peak passes it; default none), --json (one result
 * object on stdout). Exit 0 when every check passed, 1 otherwise.
 */
import type { Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { decode as cborDecode } from 'cbor-x';
import { codeString, encodeMessage, parseMessage, uintOption } from '../gateway/coap/coap-wire.ts';
import { spawnGatewayProcess } from '../test/helpers/gateway-process.ts';
import { prng } from '../test/helpers/prng.ts';
import { positiveOption } from '../bench/lib/positive-option.ts';
import { bindUdp4 } from '../bench/lib/udp-socket.ts';

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
const positive = positiveOption;
const SEED = Number(opts.seed);
const COUNT = positive('count', opts.count);
const SECONDS = positive('seconds', opts.seconds);
const SOURCES = Math.max(1, Math.min(64, positive('sources', opts.sources)));
const CHECK_EVERY = positive('check-every', opts['check-every']);
const MAX_RSS_MB = opts['max-rss-mb'] === undefined ? undefined : Number(opts['max-rss-mb']);
/** Datagrams per second at most (default: as fast as the loop sends them). */
const RATE = opts.rate === undefined ? Infinity : positive('rate', opts.rate);
const MAX_RSS_CHECKED = MAX_RSS_MB === undefined ? undefined : positive('max-rss-mb', opts['max-rss-mb']);
const SIM_CELSIUS = 21.5;
/** Datagrams sent before yielding to the event loop: a bounded burst, so the gateway's receive buffer sees load, not only overflow. */
const BURST = 64;

const ROOT = path.resolve(import.meta.dirname, '..');

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

/** A valid message, written by the gateway's own encoder (the mutations make it invalid). */
function message(type: number, code: number, mid: number, token: number[], options: [number, Uint8Array | string | number][], payload?: Uint8Array): Buffer {
  const wire = options.map(([number, v]) => ({ number, value: typeof v === 'string' ? new TextEncoder().encode(v) : typeof v === 'number' ? uintOption(v) : v }));
  return encodeMessage({ type, code, messageId: mid, token: Uint8Array.from(token), options: wire, payload: payload ?? new Uint8Array(0) });
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
    message(0, PUT, mid, tok, [[11, 'temp'], [11, 'alert'], [12, 60]], Uint8Array.from(Buffer.from('a16468696768181e', 'hex'))), // {"high":30}
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

/** VmRSS or VmHWM (the peak) of a process, in MB. */
function procMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Replies with code 5.00: a handler threw (the gateway answers anything else with what the input deserves). */
let internalErrors = 0;

/** A client socket that counts the 5.00 replies it gets. */
async function bound(address: string): Promise<Socket> {
  const s = await bindUdp4(address);
  s.on('message', (m) => {
    if (m.length >= 2 && m[1] === 0xa0) internalErrors++;
  });
  return s;
}

/**
 * A correct GET /temp from its own socket: 2.05, CBOR, the simulated value, marked simulated.
 * Sent again once (the same Message ID, as a client retransmits) if the first is not answered
 * in 2 s: the fuzz traffic may have filled the gateway's receive buffer at that moment.
 */
async function check(port: number, mid: number): Promise<string | undefined> {
  const s = await bound('127.0.0.1');
  try {
    const request = message(0, GET, mid, [0xc0, 0xde], [[11, 'temp']]);
    let reply: Buffer | undefined;
    for (let attempt = 0; attempt < 2 && reply === undefined; attempt++) {
      reply = await new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 2000);
        s.once('message', (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        s.send(request, port, '127.0.0.1');
      });
    }
    if (!reply) return 'GET /temp: no answer to two tries, 2 s each';
    const parsed = parseMessage(reply);
    if (!parsed.ok) return `GET /temp: a malformed reply (${parsed.problem})`;
    if (parsed.message.code !== 0x45) return `GET /temp: code ${codeString(parsed.message.code)}`;
    const r = cborDecode(parsed.message.payload) as { value: number; sim: boolean };
    if (r.value !== SIM_CELSIUS || r.sim !== true) return `GET /temp: ${JSON.stringify(r)}`;
    return undefined;
  } catch (err) {
    return `GET /temp: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    s.close();
  }
}

async function main(): Promise<number> {
  const gw = spawnGatewayProcess([process.execPath, '--max-semi-space-size=2', '--heap-growing-percent=50', path.join(ROOT, 'gateway/cli/launch.mjs'), 'start', '--driver', 'simulated', '--sim-temp', String(SIM_CELSIUS), '--host', '127.0.0.1', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, GW_COAP_TRUST_LOOPBACK: '0' },
  });
  // A stop of the fuzzer (Ctrl-C, a CI timeout) stops its gateway too.
  const stopChild = (): void => {
    if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
  };
  process.once('exit', stopChild);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const sockets: Socket[] = [];
  const failures: string[] = [];
  try {
    await gw.waitFor(/listening on udp/);
    if (!/listening on udp/.test(gw.out())) throw new Error(`the gateway did not start: ${gw.out()}${gw.err()}`);
    const port = gw.port();
    const pid = gw.child.pid!;
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < SOURCES; i++) sockets.push(await bound(`127.0.0.${1 + i}`));
    const startRss = procMb(pid, 'VmRSS');
    const samples: { sent: number; rssMb: number }[] = [{ sent: 0, rssMb: startRss }];
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
      if (sent % reportEvery < BURST) samples.push({ sent, rssMb: procMb(pid, 'VmRSS') });
    }
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const final = await check(port, 0x1234);
    if (final) failures.push(`at the end: ${final}`);
    samples.push({ sent, rssMb: procMb(pid, 'VmRSS') });
    const vmHwm = procMb(pid, 'VmHWM');
    if (MAX_RSS_CHECKED !== undefined && !(vmHwm <= MAX_RSS_CHECKED)) failures.push(`peak RSS (VmHWM) ${vmHwm.toFixed(1)} MB, over ${MAX_RSS_CHECKED} MB`);
    if (internalErrors > 0) failures.push(`${internalErrors} replies were 5.00 (a handler threw)`);
    for (const s of sockets.splice(0)) s.close();
    gw.child.kill('SIGTERM');
    const code = await Promise.race([gw.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
    if (code !== 0) failures.push(code === 'timeout' ? 'the gateway did not exit within 10 s of SIGTERM' : `the gateway exited ${code} on SIGTERM`);
    const errorLines = `${gw.out()}\n${gw.err()}`.split('\n').filter((l) => / ERROR /.test(l) || /"level":"error"/.test(l));
    if (errorLines.length > 0) failures.push(`the gateway wrote ${errorLines.length} ERROR lines, the first: ${errorLines[0]!.slice(0, 300)}`);
    const peak = Math.max(vmHwm, ...samples.map((x) => x.rssMb).filter(Number.isFinite));
    const result = { seed: SEED, sent, seconds: round(seconds), rate: Math.round(sent / seconds), checks, startRssMb: round(startRss), peakRssMb: round(peak), vmHwmMb: round(vmHwm), samples: samples.map((x) => ({ sent: x.sent, rssMb: round(x.rssMb) })), failures };
    if (opts.json) console.log(JSON.stringify(result));
    else {
      console.log(`fuzz: seed ${SEED}, ${sent} datagrams in ${result.seconds} s (${result.rate}/s) from ${SOURCES} addresses, ${checks} checks of GET /temp`);
      console.log(`RSS: ${result.startRssMb} MB at start, peak ${result.vmHwmMb} MB (VmHWM); by datagrams sent: ${result.samples.map((x) => `${x.sent}:${x.rssMb}`).join(' ')}`);
      console.log(failures.length === 0 ? 'PASSED: every check answered 2.05 with the simulated value, no 5.00 and no ERROR line, SIGTERM exited 0' : `FAILED:\n  ${failures.join('\n  ')}`);
    }
    return failures.length === 0 ? 0 : 1;
  } finally {
    for (const s of sockets) s.close();
    stopChild();
  }
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
