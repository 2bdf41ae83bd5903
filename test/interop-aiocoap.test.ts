/**
 * Interop with aiocoap's aiocoap-client, an independent Python implementation: it reads /temp
 * from the gateway as CBOR and as SenML-CBOR and sends a FETCH whose CBOR body aiocoap encodes
 * itself from diagnostic notation, over IPv4 and IPv6 loopback; the test decodes the raw bytes
 * aiocoap wrote to stdout and compares them with the simulated TMP102, which each payload marks
 * as simulated. Discovery is fetched by aiocoap and read by aiocoap's own link-format parser.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { AIOCOAP_CLIENT, AIOCOAP_HINT, aiocoapParseLinks, aiocoapRequest, peerOrSkip } from './helpers/peers.ts';
import { isKelvinOf, readingFromCbor, readingFromSenmlCbor } from './helpers/reading-payloads.ts';

// Multiples of 0.0625 °C, the TMP102's 12-bit resolution, so the chip reports them exactly.
const CASES = [
  { family: 'IPv4', host: '127.0.0.1', urlHost: '127.0.0.1', celsius: 31.0625 },
  { family: 'IPv6', host: '::1', urlHost: '[::1]', celsius: -4.5 },
];

for (const c of CASES) {
  describe(`aiocoap ${AIOCOAP_CLIENT} against the gateway over ${c.family} (${c.host})`, () => {
    let gw: TestGateway;
    let url: string;
    before(async () => {
      gw = await startTestGateway({ simCelsius: c.celsius, host: c.host });
      url = `coap://${c.urlHost}:${gw.port}/temp`;
    });
    after(() => gw?.close());

    it('GET /temp with Accept 60 (CBOR) gives the simulated temperature', async (t) => {
      const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
      if (!bin) return;
      const res = await aiocoapRequest(bin, { url, accept: 60 });
      assert.equal(res.process.timedOut, false);
      assert.equal(res.process.exitCode, 0, res.process.stderr);
      assert.equal(res.code, '2.05', res.process.stderr);
      assert.deepEqual(readingFromCbor(res.payload), { value: c.celsius, unit: 'Cel', simulated: true });
    });

    it('GET /temp with Accept 112 (SenML-CBOR) gives the simulated temperature', async (t) => {
      const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
      if (!bin) return;
      const res = await aiocoapRequest(bin, { url, accept: 112 });
      assert.equal(res.code, '2.05', res.process.stderr);
      assert.deepEqual(readingFromSenmlCbor(res.payload), { value: c.celsius, unit: 'Cel', simulated: true });
    });

    it('FETCH /temp with {"unit": "K", "precision": 1} encoded by aiocoap gives kelvin', async (t) => {
      const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
      if (!bin) return;
      const res = await aiocoapRequest(bin, { url, method: 'fetch', accept: 60, cborDiagnostic: '{"unit": "K", "precision": 1}' });
      assert.equal(res.code, '2.05', res.process.stderr);
      const reading = readingFromCbor(res.payload);
      assert.equal(reading.unit, 'K');
      assert.equal(reading.simulated, true);
      assert.ok(isKelvinOf(reading.value, c.celsius, 1), `${reading.value} K is not ${c.celsius} °C to one decimal`);
    });

    it('GET /.well-known/core: aiocoap\'s link-format parser reads every link, the simulated sensor\'s sim=1 included', async (t) => {
      const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
      if (!bin) return;
      const res = await aiocoapRequest(bin, { url: `coap://${c.urlHost}:${gw.port}/.well-known/core`, accept: 40 });
      assert.equal(res.code, '2.05', res.process.stderr);
      const links = await aiocoapParseLinks(res.payload.toString('utf8'));
      assert.deepEqual(links.map((l) => l.href), ['/temp', '/temp/alert', '/gw/stats']);
      assert.deepEqual(links[0]!.attributes, [['rt', 'temperature'], ['if', 'core.s'], ['ct', '60 112 110 50 0'], ['obs', null], ['sim', '1']]);
    });

    it('a FETCH body the gateway refuses gets 4.00 with the error code, and aiocoap exits 1', async (t) => {
      const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
      if (!bin) return;
      const res = await aiocoapRequest(bin, { url, method: 'fetch', cborDiagnostic: '{"unit": "furlong"}' });
      assert.equal(res.code, '4.00', res.process.stderr);
      assert.equal(res.process.exitCode, 1);
      // aiocoap writes the error body's raw bytes to stderr; CBOR text strings show through.
      assert.match(res.process.stderr, /GW_ERR_REQUEST_BAD_PARAMETER/);
    });
  });
}
