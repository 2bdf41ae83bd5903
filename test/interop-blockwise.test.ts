/**
 * Block-wise reads (RFC 7959) of the gateway's two large resources by independent clients:
 * libcoap's coap-client-notls at every block size it can ask for (-b 16 .. -b 1024), and
 * aiocoap, which asks for no size but follows the blocks the server chooses with a fresh token
 * per block (RFC 7959 section 2.4 allows it). /gw/stats changes with every request, so a read
 * only reassembles if the gateway serves every block from one held representation; the test
 * checks the reassembled body is one valid CBOR map or the same link-format text a single read
 * gives. The aiocoap read runs against a gateway that does not trust loopback: to it the test is
 * a stranger, and gets small blocks (the amplification budget, docs/coap-api.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode } from 'cbor-x';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { AIOCOAP_CLIENT, AIOCOAP_HINT, LIBCOAP_CLIENT, LIBCOAP_HINT, aiocoapRequest, libcoapRequest, peerOrSkip } from './helpers/peers.ts';

const SIZES = [16, 32, 64, 128, 256, 512, 1024];

function assertStats(payload: Buffer, label: string): void {
  const stats = cborDecode(payload) as Record<string, unknown>;
  assert.equal(typeof stats, 'object', label);
  assert.deepEqual(stats['simulatedSensors'], ['tmp102'], label);
  assert.equal(typeof stats['sensors'], 'object', label);
}

describe('libcoap reads /gw/stats and /.well-known/core block-wise at every block size', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
  });
  after(() => gw?.close());

  for (const size of SIZES) {
    it(`-b ${size}`, async (t) => {
      const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
      if (!bin) return;
      const stats = await libcoapRequest(bin, { url: `coap://127.0.0.1:${gw.port}/gw/stats`, blockSize: size });
      assert.equal(stats.process.timedOut, false, `-b ${size} /gw/stats finished`);
      assert.equal(stats.code, '2.05');
      assertStats(stats.payload, `/gw/stats -b ${size}`);
      const whole = await libcoapRequest(bin, { url: `coap://127.0.0.1:${gw.port}/.well-known/core` });
      const core = await libcoapRequest(bin, { url: `coap://127.0.0.1:${gw.port}/.well-known/core`, blockSize: size });
      assert.equal(core.process.timedOut, false);
      assert.equal(core.code, '2.05');
      assert.equal(core.payload.toString('utf8'), whole.payload.toString('utf8'));
      assert.match(core.payload.toString('utf8'), /<\/temp>/);
    });
  }
});

describe('aiocoap reads the blocks a stranger is given, a fresh token for each', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
  });
  after(() => gw?.close());

  it('GET /gw/stats reassembles one snapshot', async (t) => {
    const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
    if (!bin) return;
    const res = await aiocoapRequest(bin, { url: `coap://127.0.0.1:${gw.port}/gw/stats`, accept: 60 });
    assert.equal(res.code, '2.05', res.process.stderr);
    assertStats(res.payload, 'aiocoap /gw/stats');
  });

  it('GET /.well-known/core reassembles the listing', async (t) => {
    const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
    if (!bin) return;
    const res = await aiocoapRequest(bin, { url: `coap://127.0.0.1:${gw.port}/.well-known/core`, accept: 40 });
    assert.equal(res.code, '2.05', res.process.stderr);
    assert.match(res.payload.toString('utf8'), /^<\/temp>;rt="temperature"/);
    assert.match(res.payload.toString('utf8'), /<\/gw\/stats>/);
  });
});
