/**
 * The gateway's memory under a full Observe table whose notifications are never acknowledged
 * (issue 12): N observers of /temp (default 8,192, the table's bound), registered with
 * confirmable GETs from raw UDP sockets on many loopback addresses (127.0.0.0/8 is all local on
 * Linux; 64 per address, the per-address bound), which count what they receive and never send
 * an ACK. The gateway runs as `npm start` runs it (bench/lib/servers.ts), on a simulated TMP102
 * whose temperature follows a fast sine, so every conversion changes the reading and every
 * observer has a confirmable notification in transit for the whole run.
 *
 *   npx tsx bench/observer-memory.ts [--observers 8192] [--seconds 60] [--untrusted] [--fill-stores] [--port 5802] [--json]
 *
 * Loopback clients count as verified by default, so the gateway retransmits each CON
 * notification (RFC 7252 section 4.2: 4 times, about 62 to 93 s in all); --untrusted starts it
 * with GW_COAP_TRUST_LOOPBACK=0, so each goes once and the observation ends after its timeout.
 * RSS is sampled every 250 ms (bench/lib/process-memory.ts; the peak is the kernel's VmHWM) and,
 * between samples, a separate client's GET /temp must answer 2.05 with a plausible CBOR reading.
 * --fill-stores also fills duplicate detection and the held Block2 copies to their byte budgets
 * (fillStores, below): the three bounded structures at their worst at once.
 * --node-arg passes a flag to the gateway's node (e.g. --node-arg=--heapsnapshot-signal=SIGUSR2).
 * Exit 0 when every registration was acknowledged with Observe, every check passed and the
 * peak stayed under --max-rss-mb (default 128).
 */
import type { Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { decode as cborDecode } from 'cbor-x';
import { MessageType, Option, type WireMessage, codeByte, encodeMessage, parseMessage, readUint, uintOption } from '../gateway/coap/coap-wire.ts';
import { DEFAULT_OBSERVER_LIMITS } from '../gateway/coap/observe-limits.ts';
import { MemorySampler, memoryOf } from './lib/process-memory.ts';
import { type Simulation, gateway, startServer } from './lib/servers.ts';
import { positiveOption } from './lib/positive-option.ts';
import { bindUdp4 } from './lib/udp-socket.ts';

const { values: opts } = parseArgs({
  options: {
    observers: { type: 'string', default: String(DEFAULT_OBSERVER_LIMITS.total) },
    seconds: { type: 'string', default: '60' },
    untrusted: { type: 'boolean', default: false },
    port: { type: 'string', default: '5802' },
    'max-rss-mb': { type: 'string', default: '128' },
    json: { type: 'boolean', default: false },
    /** Also fill duplicate detection and the held Block2 copies to their byte budgets (below). */
    'fill-stores': { type: 'boolean', default: false },
    /** Passed to the gateway's node, e.g. --node-arg=--heapsnapshot-signal=SIGUSR2 to look at its heap. */
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});

const positive = positiveOption;
const OBSERVERS = Math.floor(positive('observers', opts.observers));
const SECONDS = positive('seconds', opts.seconds);
const PORT = positive('port', opts.port);
const MAX_RSS_MB = positive('max-rss-mb', opts['max-rss-mb']);
const PER_ADDRESS = DEFAULT_OBSERVER_LIMITS.perAddress;
/** 0.0625 °C steps at 4 Hz across 16 °C every 20 s: every conversion is a new value. */
const SIMULATION = { kind: 'sine', mean: 21.5, amplitude: 8, periodSeconds: 20 } as const satisfies Simulation;
/** Registrations awaiting their ACK at once: well inside the gateway's 1 MiB receive buffer. */
const WINDOW = 256;

const GET = codeByte('0.01');
const log = (line: string) => {
  if (!opts.json) console.error(line);
};

/** One source address: a socket with 64 observations (tokens), which never ACKs anything. */
interface Source {
  socket: Socket;
  address: string;
  /** token hex -> resolves with true when the 2.05 with Observe came, false for anything else. */
  waiting: Map<string, (reply: WireMessage) => void>;
  seenMids: Set<number>;
  /** token hex -> notifications received for that observation. */
  perToken: Map<string, number>;
}

/**
 * `repeatedMids`: a datagram with a Message ID already seen, a retransmission of an unchanged
 * notification. With the sine, each retransmission carries the newest value under a new
 * Message ID instead (RFC 7641 section 4.5.2), so they show in the per-observer count.
 */
const counts = { registered: 0, refused: 0, notifications: 0, repeatedMids: 0, other: 0 };

function sourceAddress(i: number): string {
  return `127.1.${Math.floor(i / 200)}.${1 + (i % 200)}`;
}


async function openSource(address: string): Promise<Source> {
  const source: Source = { socket: await bindUdp4(address), address, waiting: new Map(), seenMids: new Set(), perToken: new Map() };
  source.socket.on('message', (d) => {
    const parsed = parseMessage(d);
    if (!parsed.ok) {
      counts.other++;
      return;
    }
    const m = parsed.message;
    const observe = m.options.find((o) => o.number === Option.OBSERVE);
    const tokenHex = Buffer.from(m.token).toString('hex');
    if (m.type === MessageType.ACK) {
      const resolve = source.waiting.get(tokenHex);
      source.waiting.delete(tokenHex);
      resolve?.(m);
      return;
    }
    // A notification (CON, or NON): counted, never acknowledged.
    if (m.code === 0x45 && observe !== undefined) {
      counts.notifications++;
      source.perToken.set(tokenHex, (source.perToken.get(tokenHex) ?? 0) + 1);
      if (source.seenMids.has(m.messageId)) counts.repeatedMids++;
      else source.seenMids.add(m.messageId);
    } else counts.other++;
  });
  return source;
}

function registration(messageId: number, token: Uint8Array): Buffer {
  return encodeMessage({ type: MessageType.CON, code: GET, messageId, token, options: [{ number: Option.OBSERVE, value: uintOption(0) }, { number: Option.URI_PATH, value: Buffer.from('temp') }], payload: new Uint8Array(0) });
}

/** A CON registration: whether it was acknowledged with a 2.05 carrying Observe. */
async function register(source: Source, messageId: number, token: Uint8Array): Promise<boolean> {
  const reply = await confirmable(source, registration(messageId, token), token);
  return reply !== undefined && reply.code === 0x45 && reply.options.some((o) => o.number === Option.OBSERVE);
}

/** A CON request from a source, sent again (same Message ID) every 2 s, 4 tries: its piggybacked reply. */
async function confirmable(source: Source, datagram: Buffer, token: Uint8Array): Promise<WireMessage | undefined> {
  const tokenHex = Buffer.from(token).toString('hex');
  for (let attempt = 0; attempt < 4; attempt++) {
    const answered = await new Promise<WireMessage | undefined>((resolve) => {
      const timer = setTimeout(() => {
        source.waiting.delete(tokenHex);
        resolve(undefined);
      }, 2000);
      source.waiting.set(tokenHex, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      source.socket.send(datagram, PORT, '127.0.0.1');
    });
    if (answered !== undefined) return answered;
  }
  return undefined;
}

/** One CON request from the checker's socket, sent twice at most (2 s each): the parsed reply, or why there is none. */
async function exchange(checker: Socket, messageId: number, options: { number: number; value: Uint8Array }[]): Promise<WireMessage | string> {
  const request = encodeMessage({ type: MessageType.CON, code: GET, messageId, token: Uint8Array.of(0xc0, messageId & 0xff), options, payload: new Uint8Array(0) });
  for (let attempt = 0; attempt < 2; attempt++) {
    const reply = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        checker.off('message', onMessage);
        resolve(undefined);
      }, 2000);
      const onMessage = (m: Buffer) => {
        if (m.length < 4 || m.readUInt16BE(2) !== messageId) return;
        clearTimeout(timer);
        checker.off('message', onMessage);
        resolve(m);
      };
      checker.on('message', onMessage);
      checker.send(request, PORT, '127.0.0.1');
    });
    if (reply === undefined) continue;
    const parsed = parseMessage(reply);
    return parsed.ok ? parsed.message : `malformed reply (${parsed.problem})`;
  }
  return 'no answer to two tries, 2 s each';
}

const uriPath = (...segments: string[]) => segments.map((s) => ({ number: Option.URI_PATH, value: Buffer.from(s) }));

/** A plain GET /temp from its own socket: 2.05, CBOR, a number within the sine's range, marked simulated. */
async function checkTemp(checker: Socket, messageId: number): Promise<string | undefined> {
  const m = await exchange(checker, messageId, uriPath('temp'));
  if (typeof m === 'string') return m;
  if (m.code !== 0x45) return `code ${m.code >> 5}.${String(m.code & 31).padStart(2, '0')}`;
  const cf = m.options.find((o) => o.number === Option.CONTENT_FORMAT);
  if (cf === undefined || readUint(cf.value) !== 60) return 'not application/cbor';
  const r = cborDecode(m.payload) as { sensor?: unknown; value?: unknown; sim?: unknown };
  const lo = SIMULATION.mean - SIMULATION.amplitude - 0.5;
  const hi = SIMULATION.mean + SIMULATION.amplitude + 0.5;
  if (r.sensor !== 'tmp102' || typeof r.value !== 'number' || r.value < lo || r.value > hi || r.sim !== true) return `implausible reading ${JSON.stringify(r)}`;
  return undefined;
}

interface GatewayStats {
  observers: number;
  exchanges: { entries: number; bytes: number; evicted: number; duplicates: number };
}

/**
 * /gw/stats, or undefined. Read block by block (RFC 7959): to a stranger (--untrusted) the
 * gateway cuts it into blocks within the amplification budget.
 */
async function statsNow(checker: Socket, firstMid: number): Promise<GatewayStats | undefined> {
  const parts: Uint8Array[] = [];
  for (let num = 0, szx = 6; num < 64; num++) {
    const m = await exchange(checker, (firstMid + num) & 0xffff, [...uriPath('gw', 'stats'), ...(num === 0 ? [] : [{ number: Option.BLOCK2, value: uintOption((num << 4) | szx) }])]);
    if (typeof m === 'string' || m.code !== 0x45) return undefined;
    parts.push(m.payload);
    const block2 = m.options.find((o) => o.number === Option.BLOCK2);
    if (block2 === undefined) break;
    const v = readUint(block2.value);
    szx = v & 7;
    if ((v & 8) === 0) break;
  }
  return cborDecode(Buffer.concat(parts)) as GatewayStats;
}

/** Observers notified at least once, and the fewest and most notifications one of them received. */
function perObserver(sources: Source[]): { observers: number; min: number; max: number } {
  let min = Infinity;
  let max = 0;
  let observers = 0;
  for (const s of sources) {
    for (const n of s.perToken.values()) {
      observers++;
      min = Math.min(min, n);
      max = Math.max(max, n);
    }
  }
  return { observers, min: min === Infinity ? 0 : min, max };
}

/**
 * --fill-stores: the other two byte budgets filled too, for the worst case of all three at once.
 * 16,384 CON GET /gw/stats padded with 400 bytes of query (a reply of about 450 bytes each, kept
 * for duplicates: the exchange store's budget binds long before its 16,384 entries), then from
 * every address 8 block-wise GETs of /gw/stats (16-byte blocks) with 1,000 bytes of query (a
 * held copy of the whole snapshot each, under a key of about 1 KB: 1,024 of them pass the held
 * copies' budget). /gw/stats answers whatever the query.
 */
async function fillStores(sources: Source[]): Promise<{ whole: number; block0: number }> {
  const stats = [{ number: Option.URI_PATH, value: Buffer.from('gw') }, { number: Option.URI_PATH, value: Buffer.from('stats') }];
  // A Uri-Query option is at most 255 bytes (RFC 7252 section 5.10): the padding is several.
  const request = (messageId: number, token: Uint8Array, query: string[], block0: boolean) =>
    encodeMessage({ type: MessageType.CON, code: GET, messageId, token, options: [...stats, ...query.map((q) => ({ number: Option.URI_QUERY, value: Buffer.from(q) })), ...(block0 ? [{ number: Option.BLOCK2, value: uintOption(0) }] : [])], payload: new Uint8Array(0) });
  const jobs: { source: Source; datagram: Buffer; token: Uint8Array }[] = [];
  for (let n = 0; n < 16_384; n++) {
    const token = Uint8Array.of(0xf1, (n >> 8) & 0xff, n & 0xff);
    jobs.push({ source: sources[n % sources.length]!, datagram: request(0x8000 + n, token, [`a=${'x'.repeat(200)}`, `b=${'x'.repeat(200)}`], false), token });
  }
  for (let n = 0; n < sources.length * 8; n++) {
    const token = Uint8Array.of(0xf2, (n >> 8) & 0xff, n & 0xff);
    jobs.push({ source: sources[n % sources.length]!, datagram: request(0xc000 + n, token, [`a=${'y'.repeat(250)}`, `b=${'y'.repeat(250)}`, `c=${'y'.repeat(250)}`, `d=${'y'.repeat(250)}`, `n=${n}`], true), token });
  }
  let next = 0;
  const answered = { whole: 0, block0: 0 };
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < jobs.length) {
        const { source, datagram, token } = jobs[next++]!;
        const reply = await confirmable(source, datagram, token);
        if (reply?.code !== 0x45) continue;
        if (reply.options.some((o) => o.number === Option.BLOCK2)) answered.block0++;
        else answered.whole++;
      }
    }),
  );
  return answered;
}

async function main(): Promise<number> {
  const env: Record<string, string> = opts.untrusted ? { GW_COAP_TRUST_LOOPBACK: '0' } : {};
  const server = await startServer(gateway('gateway', { pacing: true, env, simulation: SIMULATION, nodeArgs: opts['node-arg'] }), PORT);
  log(`gateway pid ${server.pid} on port ${PORT}${opts.untrusted ? ', GW_COAP_TRUST_LOOPBACK=0' : ''}`);
  const memory = new MemorySampler(server.pid, 250);
  const startRssMb = memoryOf(server.pid)?.rssMb ?? NaN;
  const sources: Source[] = [];
  const failures: string[] = [];
  let checker: Socket | undefined;
  let checks = 0;
  let checksPassed = 0;
  let checkMid = 0x4000;
  let observersAtPeakTable = 0;
  let stopChecks = false;
  let filled: { whole: number; block0: number } | undefined;
  const checkLoop = async () => {
    while (!stopChecks) {
      checks++;
      const problem = await checkTemp(checker!, checkMid++ & 0xffff);
      if (problem === undefined) checksPassed++;
      else failures.push(`GET /temp: ${problem}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  try {
    checker = await bindUdp4('127.0.0.1');
    const addresses = Math.ceil(OBSERVERS / PER_ADDRESS);
    for (let i = 0; i < addresses; i++) sources.push(await openSource(sourceAddress(i)));
    const checking = checkLoop();
    const registeredAt = performance.now();
    // WINDOW registrations in flight at once, addresses interleaved.
    const jobs = Array.from({ length: OBSERVERS }, (_, n) => ({ source: sources[n % addresses]!, n }));
    let next = 0;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < jobs.length) {
          const { source, n } = jobs[next++]!;
          const token = Uint8Array.of(0x0b, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
          if (await register(source, (0x1000 + n) & 0xffff, token)) counts.registered++;
          else counts.refused++;
        }
      }),
    );
    const registrationSeconds = (performance.now() - registeredAt) / 1000;
    const rssAfterRegistrationMb = memoryOf(server.pid)?.rssMb ?? NaN;
    observersAtPeakTable = (await statsNow(checker, 0x6000))?.observers ?? -1;
    log(`registered ${counts.registered} of ${OBSERVERS} in ${registrationSeconds.toFixed(1)} s; table ${observersAtPeakTable}; RSS ${rssAfterRegistrationMb.toFixed(1)} MB`);
    if (opts['fill-stores']) {
      const t0 = performance.now();
      filled = await fillStores(sources);
      log(`stores filled in ${((performance.now() - t0) / 1000).toFixed(1)} s (2.05: ${filled.whole} whole, ${filled.block0} block 0); RSS ${memoryOf(server.pid)?.rssMb.toFixed(1)} MB`);
    }
    const runStart = performance.now();
    while ((performance.now() - runStart) / 1000 < SECONDS) {
      await new Promise((r) => setTimeout(r, 5000));
      const m = memoryOf(server.pid);
      if (m === undefined) {
        failures.push('the gateway exited');
        break;
      }
      log(`t=${((performance.now() - runStart) / 1000).toFixed(0)} s rss ${m.rssMb.toFixed(1)} MB peak ${m.peakMb.toFixed(1)} MB notifications ${counts.notifications} checks ${checksPassed}/${checks}`);
    }
    stopChecks = true;
    await checking;
    const statsAtEnd = await statsNow(checker, 0x7000);
    const end = memoryOf(server.pid);
    memory.stop();
    const peakRssMb = Math.max(memory.peakMb, Math.round((end?.peakMb ?? 0) * 10) / 10);
    if (counts.registered !== OBSERVERS) failures.push(`${OBSERVERS - counts.registered} registrations not acknowledged with Observe`);
    if (!(peakRssMb < MAX_RSS_MB)) failures.push(`peak RSS ${peakRssMb} MB, not under ${MAX_RSS_MB} MB`);
    const summary = {
      mode: opts.untrusted ? 'GW_COAP_TRUST_LOOPBACK=0 (strangers: CON notifications sent once)' : 'loopback trusted (CON notifications retransmitted)',
      observersAsked: OBSERVERS,
      sourceAddresses: addresses,
      observersRegistered: counts.registered,
      registrationSeconds: Math.round(registrationSeconds * 10) / 10,
      observersInTableAfterRegistration: observersAtPeakTable,
      observersInTableAtEnd: statsAtEnd?.observers ?? -1,
      fillStoresAnswered: filled,
      exchangesAtEnd: statsAtEnd?.exchanges,
      runSeconds: SECONDS,
      notificationsReceived: counts.notifications,
      notificationsPerObserver: perObserver(sources),
      repeatedMessageIds: counts.repeatedMids,
      otherDatagrams: counts.other,
      startRssMb: Math.round(startRssMb * 10) / 10,
      rssAfterRegistrationMb: Math.round(rssAfterRegistrationMb * 10) / 10,
      peakRssMb,
      endRssMb: Math.round((end?.rssMb ?? NaN) * 10) / 10,
      getChecks: checks,
      getChecksPassed: checksPassed,
      failures,
      timeline: opts.json ? memory.samples.filter((_, i) => i % 8 === 0) : undefined,
    };
    console.log(JSON.stringify(summary, null, opts.json ? 0 : 2));
    return failures.length === 0 ? 0 : 1;
  } finally {
    stopChecks = true;
    memory.stop();
    for (const s of sources) s.socket.close();
    checker?.close();
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
