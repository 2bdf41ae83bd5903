/**
 * Interop with go-coap v3.8.0 (github.com/plgd-dev/go-coap/v3), an independent Go implementation,
 * used the way its users write clients: udp.Dial with the library's defaults (CON requests, its
 * own tokens, block-wise transfer on), Get/Fetch/Observe, Observation.Cancel. The client lives in
 * test/peers/gocoap/ and is built once per source change (test/helpers/peer-gocoap.ts); each
 * exchange prints what the application received and the test decodes it with cbor-x.
 *
 * The FETCH body is whatever fxamacker/cbor v2.10.0's default cbor.Marshal writes for a Go
 * map[string]string{"unit": "K"}: a CBOR encoder independent of ours and of libcoap's
 * hand-written bytes. Observe runs in real time (SystemClock): the test changes the simulated
 * temperature each time the peer announces a notification on stderr.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode } from 'cbor-x';
import { SystemClock } from '../drivers/clock.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { type GocoapExchange, type GocoapRun, buildGocoapPeer, goOrSkip, runGocoapPeer } from './helpers/peer-gocoap.ts';
import { findExecutable } from './helpers/peers.ts';
import { readingFromCbor, readingFromSenmlCbor } from './helpers/reading-payloads.ts';

const CELSIUS = 21.5;

let built: Promise<string> | undefined;

/** Builds the peer in `before` when Go is there; each test then skips or fails through goOrSkip. */
function buildOnce(): void {
  const go = findExecutable('go');
  if (go && !built) {
    built = buildGocoapPeer(go);
    built.catch(() => {}); // reported by the test that awaits it
  }
}

async function peer(t: Parameters<typeof goOrSkip>[0]): Promise<string | undefined> {
  if (!goOrSkip(t)) return undefined;
  buildOnce();
  return built;
}

async function exchange(bin: string, name: GocoapExchange, target: string, onStderrLine?: (line: string) => void): Promise<GocoapRun> {
  const run = await runGocoapPeer(bin, name, target, onStderrLine);
  assert.equal(run.timedOut, false, `${name} finished`);
  assert.equal(run.result.error, undefined, `${name}: ${run.result.error} ${run.stderr}`);
  return run;
}

function payload(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

function assertStats(bytes: Buffer, label: string): void {
  const stats = cborDecode(bytes) as Record<string, unknown>;
  assert.equal(typeof stats, 'object', label);
  assert.ok(stats !== null && !Array.isArray(stats) && !Buffer.isBuffer(stats), `${label}: a CBOR map`);
  assert.deepEqual(stats['simulatedSensors'], ['tmp102'], label);
  assert.equal(typeof stats['sensors'], 'object', label);
}

function assertLinkFormat(text: string, label: string): void {
  assert.match(text, /^<\/temp>;rt="temperature"/, label);
  assert.match(text, /<\/gw\/stats>/, label);
}

before(async () => {
  buildOnce();
  await built?.catch(() => undefined);
});

describe('go-coap v3.8.0 client against the gateway over IPv4', () => {
  let gw: TestGateway;
  let target: string;
  before(async () => {
    gw = await startTestGateway({ simCelsius: CELSIUS });
    target = `127.0.0.1:${gw.port}`;
  });
  after(() => gw?.close());

  it('get-cbor: GET /temp, Accept 60, gives the simulated reading', async (t) => {
    const bin = await peer(t);
    if (!bin) return;
    const { result } = await exchange(bin, 'get-cbor', target);
    assert.equal(result.code, '2.05');
    assert.equal(result.contentFormat, 60);
    assert.deepEqual(readingFromCbor(payload(result.payloadHex)), { value: CELSIUS, unit: 'Cel', simulated: true });
  });

  it('get-senml-cbor: GET /temp, Accept 112, gives a SenML pack with the simulated reading', async (t) => {
    const bin = await peer(t);
    if (!bin) return;
    const { result } = await exchange(bin, 'get-senml-cbor', target);
    assert.equal(result.code, '2.05');
    assert.equal(result.contentFormat, 112);
    assert.deepEqual(readingFromSenmlCbor(payload(result.payloadHex)), { value: CELSIUS, unit: 'Cel', simulated: true });
  });

  it("fetch-cbor: FETCH /temp with fxamacker/cbor's {\"unit\":\"K\"} gives kelvin", async (t) => {
    const bin = await peer(t);
    if (!bin) return;
    const { result } = await exchange(bin, 'fetch-cbor', target);
    const body = payload(result.requestHex ?? '');
    assert.deepEqual(cborDecode(body), { unit: 'K' }, `the body fxamacker/cbor wrote: ${body.toString('hex')}`);
    assert.equal(result.code, '2.05', `the gateway answered ${result.code}: ${payload(result.payloadHex).toString('utf8')} (body ${body.toString('hex')})`);
    const reading = readingFromCbor(payload(result.payloadHex));
    assert.equal(reading.unit, 'K');
    assert.equal(reading.simulated, true);
    assert.ok(Math.abs(reading.value - (CELSIUS + 273.15)) < 1e-9, `${reading.value} K is ${CELSIUS} °C`);
  });

  it('discovery: GET /.well-known/core gives link-format', async (t) => {
    const bin = await peer(t);
    if (!bin) return;
    const { result } = await exchange(bin, 'discovery', target);
    assert.equal(result.code, '2.05');
    assert.equal(result.contentFormat, 40);
    assertLinkFormat(payload(result.payloadHex).toString('utf8'), 'discovery');
  });

});

/**
 * go-coap's WithBlockwise(true, SZXn, ...) sends no Block2 option in a GET (no early negotiation,
 * RFC 7959 section 2.4): it follows blocks only when the server starts them, and then asks for
 * the later ones at min(server's size, its own). A gateway that trusts loopback answers these
 * resources in one datagram, so the block-wise reads run against one that does not: to it the
 * test is a stranger and gets 64-byte blocks (the amplification budget, docs/coap-api.md); go-coap
 * continues at 16 (block 0 of 64 bytes, then block 4 of 16 bytes, ...) or at 64. That the
 * transfer really was block-wise shows in the gateway holding the representation for the client.
 */
describe('go-coap v3.8.0 block-wise reads from a gateway that does not trust loopback', () => {
  let gw: TestGateway;
  let trusted: TestGateway;
  let target: string;
  before(async () => {
    gw = await startTestGateway({ simCelsius: CELSIUS, trustLoopback: false });
    trusted = await startTestGateway({ simCelsius: CELSIUS });
    target = `127.0.0.1:${gw.port}`;
  });
  after(async () => {
    await gw?.close();
    await trusted?.close();
  });

  for (const size of [16, 64] as const) {
    it(`block-wellknown-${size}: /.well-known/core, continued in ${size}-byte blocks, reassembles the listing`, async (t) => {
      const bin = await peer(t);
      if (!bin) return;
      const whole = await exchange(bin, 'discovery', `127.0.0.1:${trusted.port}`);
      assert.equal(trusted.server.held.entries, 0, 'to a trusted client the listing is one datagram');
      const held = gw.server.held.entries;
      const { result } = await exchange(bin, `block-wellknown-${size}`, target);
      assert.equal(result.code, '2.05');
      assert.equal(result.contentFormat, 40);
      assert.ok(gw.server.held.entries > held, 'the gateway served it in blocks');
      assert.equal(payload(result.payloadHex).toString('utf8'), payload(whole.result.payloadHex).toString('utf8'));
      assertLinkFormat(payload(result.payloadHex).toString('utf8'), `block ${size}`);
    });

    it(`block-stats-${size}: /gw/stats, continued in ${size}-byte blocks, reassembles one CBOR map`, async (t) => {
      const bin = await peer(t);
      if (!bin) return;
      const held = gw.server.held.entries;
      const { result } = await exchange(bin, `block-stats-${size}`, target);
      assert.equal(result.code, '2.05');
      assert.equal(result.contentFormat, 60);
      assert.ok(gw.server.held.entries > held, 'the gateway served it in blocks');
      assertStats(payload(result.payloadHex), `/gw/stats, ${size}-byte blocks`);
    });
  }
});

describe('go-coap v3.8.0 Observe and Observation.Cancel (real time)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ clock: new SystemClock(), simCelsius: CELSIUS });
  });
  after(() => gw?.close());

  it('observe-cancel: two notifications after the registration, then deregistration', async (t) => {
    const bin = await peer(t);
    if (!bin) return;
    // Multiples of 0.0625 °C (the TMP102's resolution), one step per notification announced.
    const temps = [CELSIUS, CELSIUS + 1, CELSIUS + 2];
    const { result } = await exchange(bin, 'observe-cancel', `127.0.0.1:${gw.port}`, (line) => {
      const n = /^notification (\d+)$/.exec(line)?.[1];
      if (n !== undefined && temps[Number(n)] !== undefined) gw.sim.setTemperature(temps[Number(n)]!);
    });
    const seen = result.observe ?? [];
    assert.ok(seen.length >= 3, `the registration response and two notifications: ${JSON.stringify(seen)}`);
    assert.ok(seen.every((m) => m.code === '2.05' && m.contentFormat === 60));
    const values = seen.map((m) => readingFromCbor(payload(m.payloadHex)));
    assert.deepEqual(values.slice(0, 3), temps.map((value) => ({ value, unit: 'Cel', simulated: true })));
    const seqs = seen.map((m) => m.observeSeq);
    assert.ok(seqs.every((s) => typeof s === 'number'), `every message carried Observe: ${seqs.join(' ')}`);
    assert.ok(seqs.every((s, i) => i === 0 || s! > seqs[i - 1]!), `Observe numbers increase: ${seqs.join(' ')}`);
    assert.equal(result.cancel, 'ok', 'Observation.Cancel (GET with Observe=1) got 2.05');
    assert.equal(gw.server.observers(), 0, 'the gateway dropped the observation');
  });
});

describe('go-coap v3.8.0 client over IPv6 loopback', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ simCelsius: CELSIUS, host: '::1' });
  });
  after(() => gw?.close());

  it('get-ipv6: GET /temp to [::1]:port', async (t) => {
    const bin = await peer(t);
    if (!bin) return;
    const { result } = await exchange(bin, 'get-ipv6', `[::1]:${gw.port}`);
    assert.equal(result.code, '2.05');
    assert.deepEqual(readingFromCbor(payload(result.payloadHex)), { value: CELSIUS, unit: 'Cel', simulated: true });
  });
});
