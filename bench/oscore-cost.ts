/**
 * What OSCORE (RFC 8613) costs the gateway per request, side by side with plain CoAP:
 *
 *   plain    CON GET /temp, as throughput scenario (b)
 *   oscore   the same request OSCORE-protected by the load generator (bench/loadgen/oscore.go):
 *            outer CON POST with the OSCORE option (Partial IV, kid), inner GET /temp, each
 *            socket under a client context of its own (the replay window, 32 numbers by
 *            section 7.4, wants one context's requests in sequence order)
 *
 * Both against the same configuration: `npm start` on the simulated TMP102, reads paced as in
 * (b), with an `oscore` section whose credentials hold one context per load-generator socket
 * and one for the byte probe below. The secrets are drawn anew at each invocation and the
 * load generator keeps its sequence numbers between runs (<file>.seq), the gateway its own in
 * the spec's temporary stateDir, so no nonce is ever used twice. Every run gets a fresh gateway
 * process, as in the throughput part: each OSCORE run then starts with the Echo exchange of
 * Appendix B.1.2 (a protected 4.01 with Echo, one per context), inside the load generator's
 * 1-s warm-up. Rounds interleave the two, and alternate which goes first, so a slow spell of a
 * shared machine falls on both; the ratio OSCORE/plain is of the medians over the rounds, each
 * round's own ratio beside it.
 *
 * Bytes on the wire: one exchange each way with a fresh gateway, plain and protected (after the
 * Echo exchange, as in steady state, Partial IV of one byte), protected by the gateway's own OSCORE client
 * (gateway/coap/oscore/oscore-client.ts) rather than the Go one, and split into where OSCORE's
 * bytes go (section 4: the OSCORE option, the inner code, the 8-byte tag).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MessageType, Option, codeByte, codeString, encodeMessage, parseMessage, type WireMessage } from '../gateway/coap/coap-wire.ts';
import { OscoreClient } from '../gateway/coap/oscore/oscore-client.ts';
import { MemorySequence } from '../gateway/coap/oscore/sequence-store.ts';
import { parseClientSettings } from '../gateway/service/oscore-credentials.ts';
import { RawClient } from '../test/helpers/coap-datagram.ts';
import { type LoadResult, runLoad } from './lib/loadgen.ts';
import { type RoundsSummary, round2, roundLine, rpsRatios, summarizeRounds } from './lib/side-by-side.ts';
import { MemorySampler } from './lib/process-memory.ts';
import { type ServerSpec, gateway, startServer } from './lib/servers.ts';

export type OscoreKind = 'plain' | 'oscore';
const KINDS: OscoreKind[] = ['plain', 'oscore'];
/** The gateway reads 256 contexts at most; one is the probe's. */
const MAX_SOCKETS = 255;
const PROBE = 'probe';
const TAG_LENGTH = 8;

export interface OscoreRuns extends RoundsSummary {
  /** Echo challenges the load generator answered per round (OSCORE only; one per context expected). */
  echoChallengesByRound?: number[];
}

export interface WireBytes {
  request: number;
  response: number;
  requestHex: string;
  responseHex: string;
}

export interface OscoreCostResult {
  date: string;
  settings: { rounds: number; secondsPerRun: number; sockets: number; inflightPerSocket: 1 };
  plain: OscoreRuns;
  oscore: OscoreRuns;
  /** Median rps of OSCORE / median rps of plain, and the same within each round. */
  ratio: number;
  ratioByRound: number[];
  /** p99 of OSCORE / p99 of plain (medians over the rounds). */
  p99Ratio: number;
  wire: {
    plain: WireBytes;
    oscore: WireBytes;
    /** OSCORE minus plain. */
    extra: { request: number; response: number };
    /** Where the extra bytes are; each list sums to its extra. */
    breakdown: { request: Array<{ part: string; bytes: number }>; response: Array<{ part: string; bytes: number }> };
    note: string;
  };
  note: string;
}

export async function measureOscoreCost(o: { rounds: number; seconds: number; sockets: number; port: number; log: (line: string) => void }): Promise<OscoreCostResult> {
  if (o.sockets > MAX_SOCKETS) throw new Error(`--sockets ${o.sockets}: OSCORE needs a context per socket, at most ${MAX_SOCKETS}`);
  const files = writeCredentials(o.sockets);
  const spec = gateway('gateway-oscore', { pacing: true, oscore: { credentials: files.gateway } });
  const wire = await measureWire(spec, o.port, files.probe);
  o.log(`oscore: GET /temp on the wire, plain ${wire.plain.request}/${wire.plain.response} bytes, OSCORE ${wire.oscore.request}/${wire.oscore.response} bytes (request/response)`);

  const runs: Record<OscoreKind, { rounds: LoadResult[]; peak: number[] }> = { plain: { rounds: [], peak: [] }, oscore: { rounds: [], peak: [] } };
  for (let round = 1; round <= o.rounds; round++) {
    const order = round % 2 === 1 ? KINDS : [...KINDS].reverse();
    for (const kind of order) {
      const server = await startServer(spec, o.port);
      const memory = new MemorySampler(server.pid, 500);
      let r: LoadResult;
      try {
        r = await runLoad({ port: server.port, path: server.path, seconds: o.seconds, sockets: o.sockets, ...(kind === 'oscore' ? { oscore: files.loadgen } : {}) });
      } finally {
        memory.stop();
        await server.stop();
      }
      runs[kind].rounds.push(r);
      runs[kind].peak.push(memory.peakMb);
      o.log(`oscore round ${round}/${o.rounds} ${kind} ${roundLine(r)}${r.oscore ? `, Echo challenges ${r.oscore.echo_challenges}` : ''}, peak RSS ${memory.peakMb} MB`);
    }
  }
  const summary = (kind: OscoreKind): OscoreRuns => ({
    ...summarizeRounds(runs[kind].rounds, runs[kind].peak),
    ...(kind === 'oscore' ? { echoChallengesByRound: runs[kind].rounds.map((r) => r.oscore?.echo_challenges ?? 0) } : {}),
  });
  const plain = summary('plain');
  const oscore = summary('oscore');
  return {
    date: new Date().toISOString(),
    settings: { rounds: o.rounds, secondsPerRun: o.seconds, sockets: o.sockets, inflightPerSocket: 1 },
    plain,
    oscore,
    ratio: rpsRatios(oscore, plain).ratio,
    ratioByRound: rpsRatios(oscore, plain).byRound,
    p99Ratio: round2(oscore.p99us / plain.p99us),
    wire,
    note: `npm start on the simulated TMP102, paced, with an oscore section; ${o.sockets} sockets x 1 request in flight, ${o.seconds}-s runs after a 1-s warm-up, a fresh gateway process per run, ${o.rounds} interleaved rounds (order alternating); OSCORE: one client context per socket, AES-CCM-16-64-128, ok only if the response verifies with outer 2.04 and inner 2.05`,
  };
}

/** The gateway's credentials and, mirrored (sender and recipient swapped), the load generator's and the probe's. */
function writeCredentials(sockets: number): { gateway: string; loadgen: string; probe: ReturnType<typeof parseClientSettings> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-oscore-cost-'));
  const gatewayClients: Record<string, Record<string, string>> = {};
  const loadgenClients: Record<string, Record<string, string>> = {};
  let probe: Record<string, string> | undefined;
  // One-byte client Sender IDs (the kid of every request): 00.. for the sockets, ff for the probe.
  // The gateway's Sender ID is the empty string for all, as the server of RFC 8613 C.1.
  for (let i = 0; i <= sockets; i++) {
    const name = i < sockets ? `lg-${String(i).padStart(3, '0')}` : PROBE;
    const id = (i < sockets ? i : 0xff).toString(16).padStart(2, '0');
    const secret = randomBytes(16).toString('hex');
    const salt = randomBytes(8).toString('hex');
    gatewayClients[name] = { 'sender-id_hex': '', 'recipient-id_hex': id, secret_hex: secret, salt_hex: salt };
    const client = { 'sender-id_hex': id, 'recipient-id_hex': '', secret_hex: secret, salt_hex: salt };
    if (i < sockets) loadgenClients[name] = client;
    else probe = client;
  }
  const gatewayFile = path.join(dir, 'gateway-clients.json');
  const loadgenFile = path.join(dir, 'loadgen-clients.json');
  writeFileSync(gatewayFile, JSON.stringify({ clients: gatewayClients }, null, 2), { mode: 0o600 });
  writeFileSync(loadgenFile, JSON.stringify({ clients: loadgenClients }, null, 2), { mode: 0o600 });
  return { gateway: gatewayFile, loadgen: loadgenFile, probe: parseClientSettings(probe) };
}

/**
 * One plain and one protected CON GET /temp (no Accept: CBOR, the default) with a 4-byte
 * token as the load generator sends them, and their responses, from a fresh gateway. The
 * protected one is the third of its context: the first is challenged, the second returns the
 * Echo, the third is a request as every later one (Partial IV 2, one byte).
 */
async function measureWire(spec: ServerSpec, port: number, probe: ReturnType<typeof parseClientSettings>): Promise<OscoreCostResult['wire']> {
  const server = await startServer(spec, port);
  const client = await RawClient.open('127.0.0.1', server.port);
  let messageId = 0x2000;
  const exchange = async (m: WireMessage): Promise<{ request: Buffer; response: Buffer; parsed: WireMessage }> => {
    const request = encodeMessage(m);
    client.drain();
    client.send(request);
    const response = await client.next(3000);
    if (!response) throw new Error('oscore probe: no response from the gateway');
    const parsed = parseMessage(response);
    if (!parsed.ok || Buffer.compare(Buffer.from(parsed.message.token), Buffer.from(m.token)) !== 0) throw new Error(`oscore probe: unexpected response ${response.toString('hex')}`);
    return { request, response, parsed: parsed.message };
  };
  const get = (): WireMessage => ({ type: MessageType.CON, code: codeByte('0.01'), messageId: messageId++, token: randomBytes(4), options: [{ number: Option.URI_PATH, value: Buffer.from('temp') }], payload: new Uint8Array(0) });
  const notReady = async (code: number) => {
    // A chip just configured has no conversion yet: 5.03 GW_ERR_SENSOR_NOT_READY for up to 35 ms.
    if (codeString(code) !== '5.03') return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
    return true;
  };
  try {
    let plain = await exchange(get());
    for (let attempt = 0; attempt < 20 && (await notReady(plain.parsed.code)); attempt++) plain = await exchange(get());
    if (codeString(plain.parsed.code) !== '2.05') throw new Error(`oscore probe: plain GET /temp answered ${codeString(plain.parsed.code)}`);
    const oscore = new OscoreClient(probe, new MemorySequence(0));
    let echo: Uint8Array | undefined;
    let protectedExchange: (Awaited<ReturnType<typeof exchange>> & { inner: WireMessage }) | undefined;
    for (let attempt = 0; attempt < 20 && protectedExchange === undefined; attempt++) {
      const { outer, pending } = oscore.protectRequest(get(), echo ? { echo } : {});
      const ex = await exchange(outer);
      const r = oscore.unprotectResponse(ex.parsed, pending);
      if (!r.ok) throw new Error(`oscore probe: ${r.error.code} ${r.diagnostic ?? ''}`);
      if (r.echo) {
        echo = r.echo;
        continue;
      }
      if (echo !== undefined) {
        echo = undefined; // the request with Echo passed: the next one is as in steady state
        continue;
      }
      if (await notReady(r.inner.code)) continue;
      if (codeString(ex.parsed.code) !== '2.04' || codeString(r.inner.code) !== '2.05') throw new Error(`oscore probe: outer ${codeString(ex.parsed.code)}, inner ${codeString(r.inner.code)}`);
      protectedExchange = { ...ex, inner: r.inner };
    }
    if (!protectedExchange) throw new Error('oscore probe: no steady-state protected exchange after the Echo exchange');
    return wireBreakdown(plain, protectedExchange);
  } finally {
    await client.close();
    await server.stop();
  }
}

/** A datagram's parts (RFC 7252 section 3): header, token, options, payload marker, payload. */
function parts(datagram: Buffer): { token: number; options: number; marker: number; payload: number; message: WireMessage } {
  const parsed = parseMessage(datagram);
  if (!parsed.ok) throw new Error(`does not parse: ${datagram.toString('hex')}`);
  const m = parsed.message;
  const marker = m.payload.length > 0 ? 1 : 0;
  return { token: m.token.length, options: datagram.length - 4 - m.token.length - marker - m.payload.length, marker, payload: m.payload.length, message: m };
}

/**
 * The extra bytes of the protected exchange, by origin (RFC 8613 sections 4 to 6): the outer
 * options (here only the OSCORE option: its delta/length byte, flags, Partial IV, kid), the
 * ciphertext's inner code and its 8-byte tag, the inner payload marker, and whatever the inner
 * options and payload differ from the plain ones (the same options, moved inside; 0 when the
 * reading's payload is the same length).
 */
function wireBreakdown(plain: { request: Buffer; response: Buffer }, prot: { request: Buffer; response: Buffer; inner: WireMessage }): OscoreCostResult['wire'] {
  const plainReq = parts(plain.request);
  const plainRes = parts(plain.response);
  const protReq = parts(prot.request);
  const protRes = parts(prot.response);
  const oscoreOption = (p: ReturnType<typeof parts>) => p.message.options.find((x) => x.number === Option.OSCORE)!.value;
  const reqOption = oscoreOption(protReq);
  const pivLength = reqOption.length > 0 ? reqOption[0]! & 0x07 : 0;
  const kidLength = reqOption.length - 1 - pivLength; // no kid context in these credentials
  const sequence = reqOption.subarray(1, 1 + pivLength).reduce((n, b) => n * 256 + b, 0);
  // Inside the ciphertext: code (1), options, marker and payload if any, tag (8). The plain
  // request's options (Uri-Path) are the inner ones; a plain response's options and payload
  // are the inner ones when the reading encodes to the same length.
  const reqInner = protReq.payload - TAG_LENGTH - 1;
  const innerMarker = prot.inner.payload.length > 0 ? 1 : 0;
  const innerOptions = protRes.payload - TAG_LENGTH - 1 - innerMarker - prot.inner.payload.length;
  const request = [
    { part: `OSCORE option: its option header byte (1) and value: flags (1), Partial IV (${pivLength}), kid (${kidLength})`, bytes: protReq.options },
    { part: 'payload marker 0xFF before the ciphertext (the plain GET has no payload)', bytes: protReq.marker - plainReq.marker },
    { part: 'inner code (0.01 GET) at the head of the plaintext; the outer code is POST', bytes: 1 },
    { part: 'inner options (Uri-Path "temp", moved inside) minus the plain options', bytes: reqInner - plainReq.options - plainReq.marker - plainReq.payload },
    { part: 'AES-CCM-16-64-128 tag', bytes: TAG_LENGTH },
  ];
  const resOption = oscoreOption(protRes);
  const response = [
    { part: `outer options: the OSCORE option only (${resOption.length === 0 ? 'empty value, the request nonce protects the response: its option header byte' : `${resOption.length}-byte value and its header`}); the outer code 2.04 takes the header byte of the plain 2.05`, bytes: protRes.options },
    { part: 'inner code (2.05) at the head of the plaintext', bytes: 1 },
    { part: 'inner payload marker 0xFF (the outer one, before the ciphertext, stands where the plain one was)', bytes: innerMarker },
    { part: "inner options (Content-Format..., moved inside) minus the plain response's options", bytes: innerOptions - plainRes.options },
    { part: 'inner payload minus the plain payload (the same reading, 0 unless it encodes to another length)', bytes: prot.inner.payload.length - plainRes.payload },
    { part: 'AES-CCM-16-64-128 tag', bytes: TAG_LENGTH },
  ];
  const w = (req: Buffer, res: Buffer): WireBytes => ({ request: req.length, response: res.length, requestHex: req.toString('hex'), responseHex: res.toString('hex') });
  const extra = { request: prot.request.length - plain.request.length, response: prot.response.length - plain.response.length };
  const sum = (xs: Array<{ bytes: number }>) => xs.reduce((n, x) => n + x.bytes, 0);
  if (sum(request) !== extra.request || sum(response) !== extra.response) throw new Error(`oscore probe: breakdown ${sum(request)}/${sum(response)} does not add up to ${extra.request}/${extra.response}`);
  return {
    plain: w(plain.request, plain.response),
    oscore: w(prot.request, prot.response),
    extra,
    breakdown: { request, response },
    note: `CON GET /temp, 4-byte token, no Accept (CBOR), one exchange each from a fresh gateway; the protected request has a Partial IV of ${pivLength} byte(s) (sequence number ${sequence} of a fresh context, after the Echo exchange): the load generator's requests carry 2 bytes from sequence number 256 and 3 from 65,536 (see request.bytes of each OSCORE round)`,
  };
}
