/**
 * Interop with Eclipse Californium 3.14.0 (Java), the CoAP library most Java users reach for:
 * test/peers/californium/ is a CoapClient program written the way its users write one, with
 * the library's defaults (its own block-wise layer, which asks for each block with a new token,
 * and its own Observe handling). It reads /temp as CBOR and SenML-CBOR, over IPv4 and IPv6;
 * sends a FETCH whose body Jackson wrote with its defaults, an indefinite-length map
 * (bf 64 756e6974 61 4b ff, RFC 8949 section 3.2.2), which CBOR decoders must accept;
 * discovers; reads /.well-known/core and /gw/stats block-wise with Block2 early negotiation
 * (RFC 7959 section 2.4) at 16 and 64 bytes; observes /temp while the simulated TMP102 ramps
 * and cancels with proactiveCancel() (a GET with Observe=1, RFC 7641 section 3.6).
 *
 * The test decodes the bytes Californium received, with cbor-x, not with the gateway's code.
 * Each exchange is its own JVM (about 0.4 s); they run concurrently.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decoder } from 'cbor-x';
import { SystemClock } from '../drivers/clock.ts';
import { rampProfile } from '../drivers/sim/temperature-profile.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { type CaliforniumResult, californiumExchange, californiumOrSkip, payloadOf } from './helpers/peer-californium.ts';
import { readingFromCbor, readingFromSenmlCbor } from './helpers/reading-payloads.ts';

// Maps stay Maps so SenML's integer labels stay integers.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

const CELSIUS = 21.5;
/** What Jackson 2.23.0's `new ObjectMapper(new CBORFactory()).writeValueAsBytes(Map.of("unit", "K"))` writes. */
const JACKSON_UNIT_K = 'bf64756e6974614bff';

function ok(r: CaliforniumResult): string {
  return `${r.exchange}: code ${r.code}, errors ${JSON.stringify(r.errors)}, payload ${r.payloadHex ?? ''}\n${r.process.stderr.slice(0, 2000)}`;
}

function assertContent(r: CaliforniumResult, contentFormat: number): Buffer {
  assert.equal(r.process.timedOut, false, ok(r));
  assert.deepEqual(r.errors, [], ok(r));
  assert.equal(r.code, '2.05', ok(r));
  assert.equal(r.contentFormat, contentFormat, ok(r));
  return payloadOf(r);
}

/** The blocks of one block-wise GET: every request asked for `size`, every response gave it, new token each. */
function assertBlocks(r: CaliforniumResult, size: number): void {
  const sent = r.messages.filter((m) => m.dir === 'sent');
  const received = r.messages.filter((m) => m.dir === 'received');
  assert.ok(sent.length >= 2, `more than one block: ${JSON.stringify(r.messages)}`);
  sent.forEach((m, i) => assert.equal(m.block2, `${i}/0/${size}`, `request ${i} asks for block ${i} of ${size} bytes`));
  received.forEach((m, i) => assert.match(m.block2 ?? '', new RegExp(`^${i}/[01]/${size}$`), `response ${i}: ${JSON.stringify(m)}`));
  // Californium's default (BLOCKWISE_REUSE_TOKEN false): a fresh token per block.
  assert.equal(new Set(sent.map((m) => m.token)).size, sent.length, 'a new token for each block');
}

/** Every block received carries an ETag, and the same one: the transfer is one representation. */
function assertOneEtag(r: CaliforniumResult): void {
  const received = r.messages.filter((m) => m.dir === 'received');
  for (const m of received) assert.ok(typeof m.etag === 'string' && m.etag.length > 0, `an ETag on every block: ${JSON.stringify(m)}`);
  assert.equal(new Set(received.map((m) => m.etag)).size, 1, `one ETag on every block: ${received.map((m) => m.etag).join(' ')}`);
}

function assertStats(payload: Buffer, label: string): void {
  const stats = decoder.decode(payload) as unknown;
  assert.ok(stats instanceof Map, `${label}: one CBOR map (${payload.toString('hex')})`);
  assert.deepEqual(stats.get('simulatedSensors'), ['tmp102'], label);
  assert.ok(stats.get('sensors') instanceof Map, label);
}

// Two JVMs at a time: on 2 shared cores, eleven at once risk a CON retransmission, which the
// block sequence checks would take for a wrong block.
describe('Californium 3.14.0 CoapClient against the gateway', { concurrency: 2 }, () => {
  let gw: TestGateway;
  let gw6: TestGateway;
  let observed: TestGateway;
  let stranger: TestGateway;
  before(async () => {
    [gw, gw6, observed, stranger] = await Promise.all([
      startTestGateway({ simCelsius: CELSIUS }),
      startTestGateway({ simCelsius: CELSIUS, host: '::1' }),
      // Real time for Observe: the gateway notifies as conversions (4 Hz) bring new values.
      startTestGateway({ simCelsius: 20, clock: new SystemClock() }),
      // To this one the peer is unverified: large responses come in small blocks (amplification budget).
      startTestGateway({ simCelsius: CELSIUS, trustLoopback: false }),
    ]);
  });
  after(() => Promise.all([gw?.close(), gw6?.close(), observed?.close(), stranger?.close()]));

  it('GET /temp, Accept 60: the simulated reading as a CBOR map', async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    const r = await californiumExchange(peer, 'get-cbor', '127.0.0.1', gw.port);
    assert.deepEqual(readingFromCbor(assertContent(r, 60)), { value: CELSIUS, unit: 'Cel', simulated: true });
  });

  it('GET /temp, Accept 112: a SenML-CBOR pack with integer labels', async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    const r = await californiumExchange(peer, 'get-senml-cbor', '127.0.0.1', gw.port);
    const payload = assertContent(r, 112);
    assert.deepEqual(readingFromSenmlCbor(payload), { value: CELSIUS, unit: 'Cel', simulated: true });
    const [rec] = decoder.decode(payload) as Map<unknown, unknown>[];
    // RFC 8428 section 6: bn -2, bt -3, n 0, u 1, v 2; "sim_" the gateway's must-understand label.
    assert.deepEqual([...rec!.keys()], [-2, -3, 0, 1, 2, 'sim_']);
    assert.equal(rec!.get(-2), 'tmp102/');
    assert.equal(rec!.get(0), 'temperature');
  });

  it('GET /temp over IPv6 ([::1])', async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    const r = await californiumExchange(peer, 'get-ipv6', '::1', gw6.port);
    assert.deepEqual(readingFromCbor(assertContent(r, 60)), { value: CELSIUS, unit: 'Cel', simulated: true });
  });

  it("FETCH /temp with Jackson's default CBOR for {unit: K} (an indefinite-length map) gives kelvin", async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    const r = await californiumExchange(peer, 'fetch-cbor', '127.0.0.1', gw.port);
    assert.equal(r.requestHex, JACKSON_UNIT_K, 'the body Jackson wrote');
    assert.deepEqual(readingFromCbor(assertContent(r, 60)), { value: 294.65, unit: 'K', simulated: true });
  });

  it('discovery: GET /.well-known/core as link-format', async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    const r = await californiumExchange(peer, 'discovery', '127.0.0.1', gw.port);
    const text = assertContent(r, 40).toString('utf8');
    assert.match(text, /^<\/temp>;rt="temperature";if="core\.s";ct="60 112 110 50 0";obs/);
    assert.match(text, /,<\/temp\/alert>;/);
    assert.match(text, /,<\/gw\/stats>;rt="gw\.stats"/);
  });

  for (const size of [16, 64] as const) {
    it(`block-wise GET /.well-known/core in ${size}-byte blocks reassembles the listing`, async (t) => {
      const peer = californiumOrSkip(t);
      if (!peer) return;
      const [whole, blocks] = await Promise.all([
        californiumExchange(peer, 'discovery', '127.0.0.1', gw.port),
        californiumExchange(peer, `block-wellknown-${size}`, '127.0.0.1', gw.port),
      ]);
      assert.equal(assertContent(blocks, 40).toString('utf8'), assertContent(whole, 40).toString('utf8'));
      assertBlocks(blocks, size);
    });

    it(`block-wise GET /gw/stats in ${size}-byte blocks reassembles one CBOR map`, async (t) => {
      const peer = californiumOrSkip(t);
      if (!peer) return;
      const r = await californiumExchange(peer, `block-stats-${size}`, '127.0.0.1', gw.port);
      assertStats(assertContent(r, 60), `/gw/stats in ${size}-byte blocks`);
      assertBlocks(r, size);
      // Californium checks that every block carries the first block's ETag (RFC 7959 section 2.4),
      // but only when the first has one: the test asks that every block has it.
      assertOneEtag(r);
    });
  }

  it('a plain GET /gw/stats from a stranger follows the blocks the gateway chooses, one ETag throughout', async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    const r = await californiumExchange(peer, 'get-stats', '127.0.0.1', stranger.port);
    assertStats(assertContent(r, 60), '/gw/stats to a stranger');
    const received = r.messages.filter((m) => m.dir === 'received');
    assert.ok(received.length >= 2, `block-wise: ${JSON.stringify(r.messages)}`);
    assertOneEtag(r);
  });

  it('observe /temp: notifications while the temperature ramps, then proactiveCancel() ends it', async (t) => {
    const peer = californiumOrSkip(t);
    if (!peer) return;
    // Slow enough to outlast the JVM's start while the other exchanges' JVMs share the 2 cores
    // (up to 4 s here), fast enough that each 250 ms conversion is a new value (0.125 °C a step).
    observed.sim.setProfile(rampProfile({ from: 20, to: 30, overMs: 20_000 }));
    // One conversion period, so no reading from before the ramp is still served.
    await new Promise((r) => setTimeout(r, 300));
    const r = await californiumExchange(peer, 'observe-cancel', '127.0.0.1', observed.port);
    assert.equal(r.code, '2.05', ok(r));
    const loads = r.observe ?? [];
    assert.ok(loads.length >= 3, `the registration response and at least 2 notifications: ${JSON.stringify(loads)}`);
    const values = loads.map((n) => {
      assert.equal(n.code, '2.05');
      assert.equal(n.contentFormat, 60);
      assert.equal(typeof n.observeSeq, 'number', 'each carries Observe');
      const reading = readingFromCbor(payloadOf(n));
      assert.equal(reading.unit, 'Cel');
      assert.equal(reading.simulated, true);
      return reading.value;
    });
    assert.ok(values.every((v, i) => i === 0 || v > values[i - 1]!), `each a newer value: ${values.join(' ')}`);
    const seqs = loads.map((n) => n.observeSeq!);
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `Observe sequence numbers increase: ${seqs.join(' ')}`);
    // proactiveCancel(): a GET with Observe=1, answered without Observe (RFC 7641 section 3.6).
    const cancelGet = r.messages.filter((m) => m.dir === 'sent' && m.observe === 1);
    assert.equal(cancelGet.length, 1, `one deregistering GET: ${JSON.stringify(r.messages)}`);
    assert.equal(r.cancel?.code, '2.05', ok(r));
    assert.equal(r.cancel?.observeSeq, undefined, 'the deregistration response carries no Observe');
    assert.equal(r.canceled, true);
    assert.deepEqual(r.errors, [], ok(r));
    assert.equal(observed.server.observers(), 0, 'the gateway dropped the observation');
  });
});
