/**
 * OSCORE (RFC 8613) end to end with aiocoap, an independent implementation, against the gateway
 * as `npm start` runs it (a process, so that it can be killed with SIGKILL and started again),
 * over IPv4 and IPv6 loopback. Every datagram goes through a recording relay
 * (helpers/udp-recorder.ts), so what aiocoap reports is checked against what was on the wire:
 *
 *   aiocoap-client / aiocoap library ──▶ UdpRecorder (127.0.0.1 or ::1) ──▶ gateway process
 *   (fixtures/oscore/interop/aiocoap,      records, re-injects              (--config with
 *    copied per gateway run)                                                 oscore + access)
 *
 * - Readings over OSCORE in CBOR, SenML-CBOR and SenML-JSON equal the plain GET's, simulated;
 *   on the wire only ciphertext, outer codes POST/FETCH and 2.04/2.05 (section 4.2).
 * - The access policy: PUT /temp/alert by the client a rule names (2.04), by no client (4.01
 *   GW_ERR_ACCESS_UNAUTHORIZED), by another authenticated one (4.03 GW_ERR_ACCESS_FORBIDDEN).
 * - Observe: notifications with the gateway's own, increasing Partial IVs (section 4.1.3.5.2).
 * - Section 8.2's errors, unprotected with their diagnostic payloads: a replayed request
 *   (re-injected with a new Message ID), a wrong key, an unknown kid, a malformed option.
 * - SIGKILL during protected traffic and a start on the same port and state directory: the
 *   first request of a client is answered with a protected 4.01 + Echo under the gateway's own
 *   Partial IV (Appendix B.1.2), which aiocoap answers by itself; and no (sender ID, Partial IV)
 *   pair is used twice, before and after the kill (sections 5.2, 7.5.1 and Appendix B.1.1),
 *   with enough notifications that the gateway's reserve of 64 sequence numbers is crossed
 *   several times.
 *
 * aiocoap's contexts live on disk (sequence numbers, replay window): one copy of the fixtures
 * per gateway run, shared by that run's tests, as a client keeps its context as long as the
 * server keeps its replay window (a fresh copy would start again at sequence number 0, a replay).
 *
 * Missing aiocoap or its oscore extra skips the tests, except under COAP_INTEROP_REQUIRED=1
 * (.ci/run), where it fails them (skipOrFail). OSCORE_INTEROP_GATEWAY="<command>" runs another
 * server that takes the gateway's `start --config F --host H --port P` and prints its banner
 * instead of gateway/cli/launch.mjs (to try the test's expectations on another implementation).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TestContext, after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Decoder } from 'cbor-x';
import { type GatewayProcess, spawnGatewayProcess } from './helpers/gateway-process.ts';
import {
  AiocoapOscoreClients,
  GATEWAY_OSCORE_CREDENTIALS,
  type OscoreClientName,
  type OscoreExchange,
  aiocoapOscoreClient,
  aiocoapPlainRequest,
  clientSettings,
} from './helpers/peer-aiocoap-oscore.ts';
import { skipOrFail } from './helpers/peers.ts';
import { type DecodedReading, readingFromCbor, readingFromSenmlCbor } from './helpers/reading-payloads.ts';
import { OPTION_OBSERVE, OPTION_OSCORE, type RecordedDatagram, UdpRecorder, optionOffset, optionValues } from './helpers/udp-recorder.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAUNCH = path.join(ROOT, 'gateway/cli/launch.mjs');

const FAMILIES = [
  { family: 'IPv4', host: '127.0.0.1', celsius: 23.25 },
  { family: 'IPv6', host: '::1', celsius: -7.5 },
];

/** CoAP option numbers (RFC 7252 section 12.2) that RFC 8613 section 4.1 puts inside only (class E). */
const URI_PATH = 11;
const CONTENT_FORMAT = 12;
const ACCEPT = 17;

const cbor = new Decoder({ mapsAsObjects: true, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

/** The sender ID (hex) of each side of each client context, from the fixtures. */
const KID = {
  thermostat: clientSettings('thermostat-app')['sender-id_hex'],
  monitor: clientSettings('monitor')['sender-id_hex'],
};
/** The gateway's sender ID in the context whose client sends `kid`. */
function gatewayIdFor(kid: string): string {
  for (const name of ['thermostat-app', 'monitor'] as const) {
    const s = clientSettings(name);
    if (s['sender-id_hex'] === kid) return s['recipient-id_hex'];
  }
  return `?(${kid})`;
}

// ---------------------------------------------------------------- the gateway as a process

interface RunningGateway {
  port: number;
  process: GatewayProcess;
  /** SIGKILL: no chance to persist anything (section 7.5.1's reboot). */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

function gatewayCommand(): string[] {
  const other = process.env['OSCORE_INTEROP_GATEWAY'];
  return other ? other.split(' ').filter((s) => s !== '') : [process.execPath, LAUNCH];
}

async function startGateway(configFile: string, host: string, port = 0): Promise<RunningGateway> {
  const proc = spawnGatewayProcess([...gatewayCommand(), 'start', '--config', configFile, '--host', host, '--port', String(port)], { cwd: ROOT });
  await proc.waitFor(/listening on udp \S+:\d+/, 20_000);
  const m = /listening on udp (?:\[[^\]]+\]|[0-9.]+):(\d+)/.exec(proc.out());
  if (!m) {
    proc.child.kill('SIGKILL');
    throw new Error(`the gateway did not start:\n${proc.out()}\n${proc.err()}`);
  }
  // The simulated TMP102's first conversion takes up to 35 ms after its module starts.
  await sleep(100);
  const ended = () => proc.child.exitCode !== null || proc.child.signalCode !== null;
  return {
    port: Number(m[1]),
    process: proc,
    async kill9() {
      if (!ended()) proc.child.kill('SIGKILL');
      await proc.exited;
    },
    async stop() {
      if (ended()) return;
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

/** Paths of the fast-changing sensors (a 2 s sine read 8 times a second: every conversion a new value). */
function fastPaths(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `/fast${i + 1}`);
}

/**
 * The configuration the gateway runs with: /temp constant (values comparable with a plain GET),
 * `fast` sensors on simulated buses 2 and 3, OSCORE with the fixtures' credentials and a state
 * directory in `dir`, and one access rule: PUT /temp/alert for thermostat-app only. Everything
 * else falls to the default rules (reading: local addresses or any OSCORE client).
 */
async function writeConfig(dir: string, opts: { celsius: number; fast: number }): Promise<string> {
  const fast = fastPaths(opts.fast).map((p, i) => ({
    name: `fast${i + 1}`,
    path: p,
    bus: 2 + Math.floor(i / 4),
    address: `0x${(0x48 + (i % 4)).toString(16)}`,
    settings: { rateHz: 8 },
    simulation: { kind: 'sine', mean: 20, amplitude: 10, periodSeconds: 2 },
  }));
  const config = {
    driver: 'simulated',
    sensors: [{ name: 'tmp102', path: '/temp', address: '0x48', simulation: { kind: 'constant', celsius: opts.celsius } }, ...fast],
    oscore: { credentials: GATEWAY_OSCORE_CREDENTIALS, stateDir: path.join(dir, 'oscore-state'), sequenceReserve: 64 },
    access: { rules: [{ path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app'] }] },
  };
  const file = path.join(dir, 'gateway.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

// ---------------------------------------------------------------- reading the wire

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

const isMessage = (r: RecordedDatagram) => r.coap !== undefined && r.coap.code !== '0.00';
const hasOscore = (r: RecordedDatagram) => optionValues(r.coap, OPTION_OSCORE).length > 0;

/** The client's protected requests among `records` (kid `kid` if given), retransmissions (same Message ID and bytes) once. */
function protectedRequests(records: RecordedDatagram[], kid?: string): RecordedDatagram[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    if (r.direction !== 'to-server' || !isMessage(r) || !hasOscore(r) || (kid !== undefined && r.oscore?.kid !== kid)) return false;
    const key = `${r.client} ${r.bytes.toString('hex')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The first response (not an empty ACK) to `request` among `records`. */
function responseTo(records: RecordedDatagram[], request: RecordedDatagram): RecordedDatagram | undefined {
  return records.find((r) => r.index > request.index && r.direction === 'to-client' && r.client === request.client && isMessage(r) && r.coap!.token.equals(request.coap!.token));
}

function text(r: RecordedDatagram | undefined): string {
  return r?.coap?.payload.toString('utf8') ?? '';
}

/** {"code": ...} of a CBOR error body. */
function errorCode(payload: Buffer | undefined): unknown {
  try {
    return (cbor.decode(payload ?? Buffer.alloc(0)) as { code?: unknown }).code;
  } catch {
    return undefined;
  }
}

/** A SenML-JSON pack (RFC 8428 section 5): the first record with a value, base fields applied, "sim_" understood. */
function readingFromSenmlJson(payload: Buffer): DecodedReading {
  const pack = JSON.parse(payload.toString('utf8')) as Record<string, unknown>[];
  let bu: string | undefined;
  let bv = 0;
  let simulated = false;
  for (const rec of pack) {
    for (const key of Object.keys(rec)) if (key.endsWith('_') && key !== 'sim_') throw new Error(`must-understand SenML label ${key}`);
    if (rec['sim_'] !== undefined) simulated = rec['sim_'] === true;
    if (typeof rec['bu'] === 'string') bu = rec['bu'];
    if (typeof rec['bv'] === 'number') bv = rec['bv'];
    if (typeof rec['v'] === 'number') return { value: bv + rec['v'], unit: (rec['u'] as string | undefined) ?? bu ?? '', simulated };
  }
  throw new Error(`no SenML record with a value: ${payload.toString('utf8')}`);
}

/** The wire of a protected exchange carries none of the reading's text (section 4: Uri-Path, payload, Content-Format are encrypted). */
function assertCiphertextOnly(records: RecordedDatagram[], words: string[]): void {
  for (const r of records.filter((x) => isMessage(x) && hasOscore(x))) {
    for (const w of words) assert.ok(!r.bytes.includes(Buffer.from(w)), `"${w}" in clear in ${describeOne(r)}`);
    for (const n of [URI_PATH, CONTENT_FORMAT, ACCEPT]) assert.equal(optionValues(r.coap, n).length, 0, `class E option ${n} outside the OSCORE payload: ${describeOne(r)}`);
  }
}

function describeOne(r: RecordedDatagram): string {
  const c = r.coap;
  return c ? `#${r.index} ${r.direction} ${c.type} ${c.code} mid=${c.messageId} tok=${c.token.toString('hex')} piv=${r.oscore?.partialIv ?? '-'} kid=${r.oscore?.kid ?? '-'} ${r.bytes.toString('hex')}` : `#${r.index} not CoAP`;
}

/**
 * Every protected message that carries a Partial IV, by the nonce's (sender ID, Partial IV)
 * (section 5.2): the client's requests by their kid; the gateway's messages (notifications, the
 * 4.01 + Echo) by the gateway's sender ID in the context of the request they answer (a
 * response carries no kid: the request with its token says whose context it is). A repeated
 * datagram (a CoAP retransmission, same ciphertext) is one use; two different ciphertexts under
 * one pair are a nonce used twice.
 */
function nonceUses(records: RecordedDatagram[]) {
  const contextOfToken = new Map<string, string>();
  for (const r of records) {
    if (r.direction === 'to-server' && r.oscore?.kid !== undefined) contextOfToken.set(`${r.client} ${r.coap!.token.toString('hex')}`, r.oscore.kid);
  }
  const gateway = new Map<string, { piv: number; sender: string; ciphertexts: Set<string>; records: RecordedDatagram[] }>();
  const client = new Map<string, { piv: number; sender: string; ciphertexts: Set<string>; records: RecordedDatagram[] }>();
  for (const r of records) {
    if (!isMessage(r) || r.oscore?.partialIv === undefined || r.injected) continue;
    const kid = r.direction === 'to-server' ? r.oscore.kid : contextOfToken.get(`${r.client} ${r.coap!.token.toString('hex')}`);
    if (kid === undefined) continue;
    const sender = r.direction === 'to-server' ? kid : gatewayIdFor(kid);
    const table = r.direction === 'to-server' ? client : gateway;
    const key = `${sender}/${r.oscore.partialIv}`;
    const entry = table.get(key) ?? { piv: r.oscore.partialIv, sender, ciphertexts: new Set<string>(), records: [] };
    entry.ciphertexts.add(r.coap!.payload.toString('hex'));
    entry.records.push(r);
    table.set(key, entry);
  }
  const reused = (t: typeof gateway) => [...t.values()].filter((e) => e.ciphertexts.size > 1);
  return { gateway, client, gatewayReused: reused(gateway), clientReused: reused(client) };
}

/** Runs `name`'s GETs of `url` one after another until `stop` (which resolves once the one in flight is done). */
function requestLoop(clients: AiocoapOscoreClients, name: OscoreClientName, url: string) {
  let running = true;
  const results: OscoreExchange[] = [];
  const done = (async () => {
    while (running) results.push(await clients.request(name, { url, accept: 60, timeoutMs: 6000 }));
  })();
  return {
    results,
    stop: async () => {
      running = false;
      await done;
      return results;
    },
  };
}

// ---------------------------------------------------------------- the tests

const peer = aiocoapOscoreClient();

/** aiocoap-client's path, or undefined after skipping (failing, in CI) the test. */
async function needAiocoap(t: TestContext): Promise<string | undefined> {
  const p = await peer;
  return 'bin' in p ? p.bin : skipOrFail(t, p.missing);
}

for (const f of FAMILIES) {
  describe(`OSCORE with aiocoap against the gateway over ${f.family} (${f.host})`, () => {
    let dir: string;
    let gw: RunningGateway | undefined;
    let rec: UdpRecorder | undefined;
    let clients: AiocoapOscoreClients | undefined;

    before(async () => {
      const p = await peer;
      if (!('bin' in p)) return;
      dir = await mkdtemp(path.join(tmpdir(), 'gw-oscore-'));
      gw = await startGateway(await writeConfig(dir, { celsius: f.celsius, fast: 1 }), f.host);
      rec = await UdpRecorder.start({ host: f.host, targetPort: gw.port });
      // wrong-key starts far past thermostat-app's sequence numbers: see AiocoapOscoreClients.create.
      clients = await AiocoapOscoreClients.create(p.bin, ['thermostat-app', 'monitor', 'wrong-key', 'unknown-kid'], { 'wrong-key': 1_000_000 });
    });
    after(async () => {
      await rec?.close();
      await gw?.stop();
      await clients?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('GET /temp over OSCORE in CBOR, SenML-CBOR and SenML-JSON: the plain GET\'s simulated value, only ciphertext on the wire', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin || !rec || !clients) return;
      const url = rec.url('/temp');
      const plain = await aiocoapPlainRequest(bin, { url, accept: 60 });
      assert.equal(plain.code, '2.05', plain.process.stderr);
      const expected = readingFromCbor(plain.payload);
      assert.deepEqual(expected, { value: f.celsius, unit: 'Cel', simulated: true });

      const from = rec.records.length;
      const asCbor = await clients.request('thermostat-app', { url, accept: 60 });
      assert.equal(asCbor.process.exitCode, 0, asCbor.process.stderr);
      assert.equal(asCbor.code, '2.05', asCbor.process.stderr);
      assert.deepEqual(readingFromCbor(asCbor.payload), expected);
      const asSenml = await clients.request('thermostat-app', { url, accept: 112 });
      assert.equal(asSenml.code, '2.05', asSenml.process.stderr);
      assert.deepEqual(readingFromSenmlCbor(asSenml.payload), expected);
      const asSenmlJson = await clients.request('thermostat-app', { url, accept: 110 });
      assert.equal(asSenmlJson.code, '2.05', asSenmlJson.process.stderr);
      assert.deepEqual(readingFromSenmlJson(asSenmlJson.payload), expected);

      const wire = rec.records.slice(from).filter(isMessage);
      const requests = protectedRequests(wire);
      assert.ok(requests.length >= 3, rec.dump(wire));
      for (const r of requests) {
        assert.equal(r.oscore?.kid, KID.thermostat, describeOne(r));
        assert.ok(r.coap!.code === '0.02' || r.coap!.code === '0.05', `outer code of a protected request is POST or FETCH (section 4.2): ${describeOne(r)}`);
      }
      const responses = wire.filter((r) => r.direction === 'to-client');
      assert.ok(responses.length >= 3 && responses.every(hasOscore), `every response protected:\n${rec.dump(responses)}`);
      for (const r of responses) assert.equal(r.coap!.code, '2.04', `outer code of a protected response without Observe is 2.04 (section 4.2): ${describeOne(r)}`);
      assertCiphertextOnly(wire, ['Cel', 'tmp102', 'temp', 'sim']);
    });

    it('PUT /temp/alert: thermostat-app 2.04; without OSCORE 4.01 GW_ERR_ACCESS_UNAUTHORIZED; monitor 4.03 GW_ERR_ACCESS_FORBIDDEN; nothing changed by the refused ones', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin || !rec || !clients) return;
      const url = rec.url('/temp/alert');
      const settings = async () => {
        const res = await aiocoapPlainRequest(bin, { url, accept: 60 });
        assert.equal(res.code, '2.05', res.process.stderr);
        return cbor.decode(res.payload) as { high: number; low: number };
      };

      const put = await clients.request('thermostat-app', { url, method: 'put', cborDiagnostic: '{"high": 33.5, "low": 31}' });
      assert.equal(put.code, '2.04', put.process.stderr);
      assert.equal(put.process.exitCode, 0);
      const held = cbor.decode(put.payload) as { high: number; low: number };
      assert.deepEqual([held.high, held.low], [33.5, 31], 'the 2.04 carries the settings the chip now holds');
      const changed = await settings();
      assert.equal(changed.high, 33.5);
      assert.equal(changed.low, 31);

      let from = rec.records.length;
      const anonymous = await aiocoapPlainRequest(bin, { url, method: 'put', cborDiagnostic: '{"high": 40, "low": 35}' });
      assert.equal(anonymous.code, '4.01', anonymous.process.stderr);
      assert.notEqual(anonymous.process.exitCode, 0);
      const refusal = rec.records.slice(from).find((r) => r.direction === 'to-client' && isMessage(r));
      assert.ok(refusal && !hasOscore(refusal), rec.dump(rec.records.slice(from)));
      assert.equal(refusal.coap!.code, '4.01');
      assert.equal(errorCode(refusal.coap!.payload), 'GW_ERR_ACCESS_UNAUTHORIZED', describeOne(refusal));
      assert.deepEqual(await settings(), changed);

      from = rec.records.length;
      const monitor = await clients.request('monitor', { url, method: 'put', cborDiagnostic: '{"high": 45, "low": 40}' });
      assert.equal(monitor.code, '4.03', monitor.process.stderr);
      assert.notEqual(monitor.process.exitCode, 0);
      // aiocoap-client writes the (decrypted) error body to stderr, raw: CBOR text strings show through.
      assert.match(monitor.process.stderr, /GW_ERR_ACCESS_FORBIDDEN/);
      const forbidden = rec.records.slice(from).filter((r) => r.direction === 'to-client' && isMessage(r)).at(-1);
      assert.ok(forbidden && hasOscore(forbidden), `the 4.03 travels protected (outer 2.04):\n${rec.dump(rec.records.slice(from))}`);
      assert.equal(forbidden.coap!.code, '2.04', describeOne(forbidden));
      assert.deepEqual(await settings(), changed);
    });

    it('Observe over OSCORE: changing notifications, each after the first under the gateway\'s own increasing Partial IV', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin || !rec || !clients) return;
      const from = rec.records.length;
      const observer = clients.observe('thermostat-app', [rec.url('/fast1')], 60);
      await observer.waitForNotifications(4, 8000);
      const end = await observer.stop();
      const responses = observer.responses();
      assert.deepEqual(observer.errors(), [], end.stderr);
      assert.equal(responses[0]?.kind, 'R', `${end.stdout}${end.stderr}`);
      assert.equal(responses[0]!.code, '2.05');
      const readings = responses.map((r) => readingFromCbor(r.payload));
      assert.ok(readings.length >= 3, `at least 2 notifications after the registration's response: ${end.stdout}`);
      assert.ok(readings.every((r) => r.simulated && r.unit === 'Cel'));
      assert.ok(new Set(readings.map((r) => r.value)).size >= 2, `changing values: ${readings.map((r) => r.value).join(' ')}`);

      // The registration: a protected FETCH with an outer Observe (section 4.1.3.5, 4.2); its
      // notifications: same token, protected, outer 2.05 with Observe.
      const wire = rec.records.slice(from);
      const registrations = protectedRequests(wire, KID.thermostat).filter((r) => optionValues(r.coap, OPTION_OBSERVE).length > 0);
      const byResponses = registrations.map((r) => ({ r, n: rec!.responsesTo(r).length })).sort((a, b) => b.n - a.n);
      const registration = byResponses[0]?.r;
      assert.ok(registration, rec.dump(wire));
      assert.equal(registration.coap!.code, '0.05', `an Observe registration travels as FETCH (section 4.2): ${describeOne(registration)}`);
      const notifications = uniqueByMessageId(rec.responsesTo(registration));
      assert.ok(notifications.length >= 3, rec.dump(wire));
      for (const n of notifications) {
        assert.ok(hasOscore(n), describeOne(n));
        assert.equal(n.coap!.code, '2.05', `outer code of a notification is 2.05 (section 4.2): ${describeOne(n)}`);
        assert.equal(optionValues(n.coap, OPTION_OBSERVE).length, 1, `outer Observe on a notification: ${describeOne(n)}`);
      }
      const pivs = notifications.slice(1).map((n) => n.oscore?.partialIv);
      assert.ok(pivs.every((p) => p !== undefined), `every notification after the first carries the gateway's Partial IV (section 4.1.3.5.2):\n${rec.dump(notifications)}`);
      assert.ok(pivs.every((p, i) => i === 0 || p! > pivs[i - 1]!), `strictly increasing: ${pivs.join(' ')}`);
      assertCiphertextOnly(wire, ['Cel', 'fast1']);
    });

    it('a replayed request (re-injected with a new Message ID): 4.01 "Replay detected", unprotected; a malformed OSCORE option: 4.02 "Failed to decode COSE"', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin || !rec || !clients) return;
      const from = rec.records.length;
      const res = await clients.request('monitor', { url: rec.url('/temp'), accept: 60 });
      assert.equal(res.code, '2.05', res.process.stderr);
      const accepted = protectedRequests(rec.records.slice(from), KID.monitor).at(-1);
      assert.ok(accepted, rec.dump(rec.records.slice(from)));

      const mid = (accepted.coap!.messageId + 0x8000) & 0xffff;
      const answer = rec.next((r) => r.direction === 'to-client' && r.client === accepted.client && r.coap?.messageId === mid);
      await rec.reinject(accepted, mid);
      const replayAnswer = await answer;
      assert.ok(replayAnswer, `no answer to the replay:\n${rec.dump(rec.records.slice(from))}`);
      assert.equal(replayAnswer.coap!.code, '4.01', describeOne(replayAnswer));
      assert.ok(!hasOscore(replayAnswer), `section 8.2: the error is not protected: ${describeOne(replayAnswer)}`);
      assert.match(text(replayAnswer), /Replay detected/);

      // The reserved flag bits set (section 6.1: "the message is considered to be malformed").
      const mid2 = (mid + 1) & 0xffff;
      const answer2 = rec.next((r) => r.direction === 'to-client' && r.client === accepted.client && r.coap?.messageId === mid2);
      const at = optionOffset(accepted, OPTION_OSCORE)!;
      await rec.reinject(accepted, mid2, (bytes) => void (bytes[at] = bytes[at]! | 0x20));
      const malformedAnswer = await answer2;
      assert.ok(malformedAnswer, `no answer to the malformed option:\n${rec.dump(rec.records.slice(from))}`);
      assert.equal(malformedAnswer.coap!.code, '4.02', describeOne(malformedAnswer));
      assert.ok(!hasOscore(malformedAnswer), describeOne(malformedAnswer));
      assert.match(text(malformedAnswer), /Failed to decode COSE/);

      // Neither disturbed the context: monitor's next request is served.
      const again = await clients.request('monitor', { url: rec.url('/temp'), accept: 60 });
      assert.equal(again.code, '2.05', again.process.stderr);
    });

    // Message deduplication does not depend on the address family: over IPv4 only (it costs an ACK_TIMEOUT).
    if (f.family === 'IPv4') it('a lost response: aiocoap\'s retransmission (same Message ID, same Partial IV) is answered as a duplicate, not as a replay', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin || !rec || !clients) return;
      // The first protected answer to monitor is dropped: aiocoap retransmits the CON after
      // ACK_TIMEOUT (2 to 3 s, RFC 7252 section 4.8). Message deduplication (section 4.5) comes
      // before OSCORE: the retransmission must get the response again, not 4.01 "Replay detected".
      const from = rec.records.length;
      let drops = 0;
      const undo = rec.drop((r) => r.direction === 'to-client' && isMessage(r) && hasOscore(r) && r.index >= from && drops++ === 0);
      try {
        const res = await clients.request('monitor', { url: rec.url('/temp'), accept: 60 });
        const wire = rec.records.slice(from);
        assert.equal(res.code, '2.05', `${res.process.stderr}\n${rec.dump(wire)}`);
        const lost = wire.find((r) => r.dropped);
        assert.ok(lost, rec.dump(wire));
        const original = wire.find((r) => r.direction === 'to-server' && r.client === lost.client && r.coap?.messageId === lost.coap!.messageId);
        const retransmissions = wire.filter((r) => r.direction === 'to-server' && original && r.bytes.equals(original.bytes));
        assert.ok(retransmissions.length >= 2, `aiocoap retransmitted:\n${rec.dump(wire)}`);
        const again = wire.filter((r) => r.direction === 'to-client' && !r.dropped && r.coap?.messageId === lost.coap!.messageId);
        assert.ok(again.length >= 1 && again.every(hasOscore), `the duplicate answered, protected:\n${rec.dump(wire)}`);
        assert.doesNotMatch(again.map(text).join(' '), /Replay detected/);
      } finally {
        undo();
      }
    });

    it('a wrong key: 4.00 "Decryption failed"; an unknown kid: 4.01 "Security context not found"; both unprotected, aiocoap exits non-zero', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin || !rec || !clients) return;
      for (const [name, kid, code, diagnostic] of [
        ['wrong-key', KID.thermostat, '4.00', /Decryption failed/],
        ['unknown-kid', clientSettings('unknown-kid')['sender-id_hex'], '4.01', /Security context not found/],
      ] as const) {
        const from = rec.records.length;
        const res: OscoreExchange = await clients.request(name, { url: rec.url('/temp'), accept: 60 });
        assert.equal(res.process.timedOut, false);
        assert.notEqual(res.process.exitCode, 0, `${name}: ${res.process.stderr}`);
        // aiocoap takes an unprotected answer to a protected request for no answer at all.
        assert.match(res.process.stderr, /NotAProtectedMessage|Object-Security/, name);
        const request = protectedRequests(rec.records.slice(from), kid)[0];
        assert.ok(request, `${name}:\n${rec.dump(rec.records.slice(from))}`);
        const answer = responseTo(rec.records, request);
        assert.ok(answer, `${name}: no answer\n${rec.dump(rec.records.slice(from))}`);
        assert.equal(answer.coap!.code, code, `${name}: ${describeOne(answer)}`);
        assert.ok(!hasOscore(answer), `${name}: section 8.2's error is not protected: ${describeOne(answer)}`);
        assert.match(text(answer), diagnostic, name);
      }
    });
  });

  describe(`OSCORE right after a gateway start, and across a gateway killed with SIGKILL and started again, over ${f.family} (${f.host})`, () => {
    it('six observations at once as a client\'s first requests after a start: each registered after one Echo round (Appendix B.1.2)', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin) return;
      const FAST = 6;
      const dir = await mkdtemp(path.join(tmpdir(), 'gw-oscore-echo-'));
      const clients = await AiocoapOscoreClients.create(bin, ['thermostat-app']);
      const gw = await startGateway(await writeConfig(dir, { celsius: f.celsius, fast: FAST }), f.host);
      const rec = await UdpRecorder.start({ host: f.host, targetPort: gw.port });
      const observer = clients.observe('thermostat-app', fastPaths(FAST).map((p) => rec.url(p)), 60);
      try {
        await waitUntil(() => observer.responses().filter((r) => r.kind === 'R').length + observer.errors().length >= FAST, 8000);
        await observer.stop();
        // aiocoap answers one 4.01 + Echo per request (transports/oscore.py): a second one ends it.
        const requests = protectedRequests(rec.records, KID.thermostat);
        const answers = requests.map((r) => `piv ${r.oscore?.partialIv} -> ${(() => {
          const a = responseTo(rec.records, r);
          return a ? `${a.coap!.code}${a.oscore?.partialIv !== undefined ? ` (gateway piv ${a.oscore.partialIv})` : ''}` : 'nothing';
        })()}`);
        assert.deepEqual(
          observer.responses().filter((r) => r.kind === 'R').map((r) => r.code),
          Array(FAST).fill('2.05'),
          `each registration's response, as aiocoap saw it (a 4.01 here: a second challenge after the Echo was answered); on the wire, each request and its answer's outer code:\n${answers.join('\n')}`,
        );
      } finally {
        await observer.stop();
        await rec.close();
        await gw.stop();
        await clients.cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });


    it('the next request succeeds after a protected 4.01 + Echo under the gateway\'s Partial IV; no (sender ID, Partial IV) twice before and after', async (t) => {
      const bin = await needAiocoap(t);
      if (!bin) return;
      const FAST = 6;
      const dir = await mkdtemp(path.join(tmpdir(), 'gw-oscore-restart-'));
      const config = await writeConfig(dir, { celsius: f.celsius, fast: FAST });
      const clients = await AiocoapOscoreClients.create(bin, ['thermostat-app', 'monitor']);
      let gw = await startGateway(config, f.host);
      const rec = await UdpRecorder.start({ host: f.host, targetPort: gw.port });
      const fastUrls = fastPaths(FAST).map((p) => rec.url(p));
      const cleanups: (() => Promise<unknown>)[] = [];
      try {
        const gatewayPivs = (from: number, to = rec.records.length) => {
          const { gateway } = nonceUses(rec.records.slice(from, to));
          return [...gateway.values()];
        };

        // Before: one GET (the gateway's Echo round after a start, Appendix B.1.2), then six
        // observations (about 48 notifications a second) and GETs in a loop, until the gateway
        // used 80 Partial IVs: its reserve of 64 crossed before the kill.
        const warmUp = await clients.request('thermostat-app', { url: rec.url('/temp'), accept: 60 });
        assert.equal(warmUp.code, '2.05', `${warmUp.process.stderr}\n${rec.dump()}\n${gw.process.out()}${gw.process.err()}`);
        const observerA = clients.observe('thermostat-app', fastUrls, 60);
        cleanups.push(() => observerA.stop());
        const getsA = requestLoop(clients, 'monitor', rec.url('/temp'));
        cleanups.push(() => getsA.stop());
        await waitUntil(() => observerA.responses().filter((r) => r.kind === 'R').length === FAST, 5000);
        assert.deepEqual(observerA.responses().filter((r) => r.kind === 'R').map((r) => r.code), Array(FAST).fill('2.05'), `registrations: ${observerA.errors().join(' ')}`);
        assert.ok(await waitUntil(() => gatewayPivs(0).length >= 80, 10_000), `80 gateway Partial IVs before the kill, got ${gatewayPivs(0).length}`);
        const killedAt = rec.records.length;
        await gw.kill9();
        const getsADone = getsA.stop();
        await observerA.stop();
        assert.deepEqual(observerA.errors(), [], observerA.stderr());

        gw = await startGateway(config, f.host, gw.port);
        const restartedAt = rec.records.length;

        // One command after the restart: aiocoap sends two requests (the second with the Echo).
        const commandFrom = rec.records.length;
        const first = await clients.request('thermostat-app', { url: rec.url('/temp'), accept: 60 });
        const commandWire = rec.records.slice(commandFrom);
        const evidence = () => `aiocoap:\n${first.process.stderr}\nwire:\n${rec.dump(commandWire)}\nthe restarted gateway (exit ${gw.process.child.exitCode ?? gw.process.child.signalCode ?? 'still running'}):\n${gw.process.out()}${gw.process.err()}`;
        assert.equal(first.process.exitCode, 0, evidence());
        assert.equal(first.code, '2.05', evidence());
        assert.deepEqual(readingFromCbor(first.payload), { value: f.celsius, unit: 'Cel', simulated: true });
        assert.ok(first.echoAnswered, `aiocoap answered a 4.01 + Echo (RFC 8613 Appendix B.1.2): ${first.process.stderr}`);
        const requests = protectedRequests(commandWire, KID.thermostat);
        assert.equal(new Set(requests.map((r) => r.oscore?.partialIv)).size, 2, `two requests for one command:\n${rec.dump(commandWire)}`);
        const challenge = responseTo(rec.records, requests[0]!);
        assert.ok(challenge && hasOscore(challenge), `the challenge is protected:\n${rec.dump(commandWire)}`);
        assert.notEqual(challenge.oscore?.partialIv, undefined, `the 4.01 + Echo carries the gateway's own Partial IV (Appendix B.1.2): ${describeOne(challenge)}`);
        const success = responseTo(rec.records, requests[1]!);
        assert.ok(success && hasOscore(success), rec.dump(commandWire));

        // The GET in flight at the kill (monitor's context: apart from the command above) has
        // ended meanwhile: its retransmission reached the new gateway, or it timed out.
        const resultsA = await getsADone;
        assert.ok(resultsA.filter((r) => r.code === '2.05').length >= 1, 'GETs were served before the kill');

        // After: the same traffic again, until as many gateway Partial IVs again.
        const observerB = clients.observe('thermostat-app', fastUrls, 60);
        cleanups.push(() => observerB.stop());
        const getsB = requestLoop(clients, 'monitor', rec.url('/temp'));
        cleanups.push(() => getsB.stop());
        await waitUntil(() => observerB.responses().filter((r) => r.kind === 'R').length === FAST, 5000);
        assert.deepEqual(observerB.responses().filter((r) => r.kind === 'R').map((r) => r.code), Array(FAST).fill('2.05'), `registrations after the restart: ${observerB.errors().join(' ')}`);
        assert.ok(await waitUntil(() => gatewayPivs(restartedAt).length >= 80, 10_000), `80 gateway Partial IVs after the restart, got ${gatewayPivs(restartedAt).length}`);
        await observerB.stop();
        const resultsB = await getsB.stop();
        assert.deepEqual(observerB.errors(), [], observerB.stderr());
        assert.ok(observerB.responses().filter((r) => r.kind === 'N').length > 0, 'notifications after the restart');
        assert.ok(resultsB.every((r) => r.code === '2.05'), resultsB.map((r) => r.process.stderr).join('\n'));

        // The nonces. The test must see both sides of the kill to mean anything.
        const before = gatewayPivs(0, killedAt);
        const afterRestart = gatewayPivs(restartedAt);
        const range = (e: typeof before) =>
          [...new Set(e.map((x) => x.sender))].map((sender) => {
            const p = e.filter((x) => x.sender === sender).map((x) => x.piv);
            return `sender ${sender}: ${p.length} from ${Math.min(...p)} to ${Math.max(...p)}`;
          }).join(', ') || 'none';
        t.diagnostic(`gateway Partial IVs before the kill: ${range(before)}; after the restart: ${range(afterRestart)}; datagrams recorded: ${rec.records.length}; GETs: ${resultsA.length} + ${resultsB.length}`);
        assert.ok(before.length > 0, `gateway Partial IVs before the kill:\n${rec.dump(rec.records.slice(0, killedAt).slice(-20))}`);
        assert.ok(afterRestart.length > 0, 'gateway Partial IVs after the restart');
        const uses = nonceUses(rec.records);
        const show = (reused: typeof uses.gatewayReused) => reused.map((e) => `${e.sender}/${e.piv}:\n${e.records.map(describeOne).join('\n')}`).join('\n');
        assert.deepEqual(uses.gatewayReused.map((e) => `${e.sender}/${e.piv}`), [], `the gateway used a nonce twice (sections 5.2, 7.5.1):\n${show(uses.gatewayReused)}`);
        assert.deepEqual(uses.clientReused.map((e) => `${e.sender}/${e.piv}`), [], `aiocoap used a nonce twice:\n${show(uses.clientReused)}`);

        // Per gateway sender ID: the run crossed the 64-number reserve several times, and the
        // restarted gateway starts past everything the killed one used (Appendix B.1.1).
        const thermostatGateway = gatewayIdFor(KID.thermostat);
        const pivsOf = (entries: typeof before, sender: string) => entries.filter((e) => e.sender === sender).map((e) => e.piv);
        const all = pivsOf([...uses.gateway.values()], thermostatGateway);
        assert.ok(new Set(all.map((p) => Math.floor(p / 64))).size >= 3, `the reserve of 64 crossed several times: Partial IVs ${Math.min(...all)}..${Math.max(...all)} (${all.length})`);
        for (const sender of new Set(before.map((e) => e.sender))) {
          const b = pivsOf(before, sender);
          const a = pivsOf(afterRestart, sender);
          if (a.length === 0) continue;
          assert.ok(Math.min(...a) > Math.max(...b), `sender ${sender}: after the restart from ${Math.min(...a)}, before the kill up to ${Math.max(...b)}`);
        }
      } finally {
        for (const c of cleanups) await c().catch(() => {});
        await rec.close();
        await gw.stop();
        await clients.cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Notifications once each: a CON retransmitted keeps its Message ID (RFC 7252 section 4.2). */
function uniqueByMessageId(records: RecordedDatagram[]): RecordedDatagram[] {
  const seen = new Set<number>();
  return records.filter((r) => (seen.has(r.coap!.messageId) ? false : (seen.add(r.coap!.messageId), true)));
}
