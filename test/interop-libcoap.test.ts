/**
 * Interop with libcoap 4.3.1's coap-client-notls, an independent C implementation: it reads
 * /temp from the gateway as CBOR and as SenML-CBOR and sends a FETCH with a CBOR body, over IPv4
 * and IPv6 loopback; the test decodes the bytes libcoap wrote (-o file) and compares them with
 * the simulated TMP102.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { LIBCOAP_CLIENT, LIBCOAP_HINT, libcoapRequest, peerOrSkip } from './helpers/peers.ts';
import { isKelvinOf, readingFromCbor, readingFromSenmlCbor } from './helpers/reading-payloads.ts';

// Multiples of 0.0625 °C, the TMP102's 12-bit resolution, so the chip reports them exactly.
const CASES = [
  { family: 'IPv4', host: '127.0.0.1', urlHost: '127.0.0.1', celsius: -12.25 },
  { family: 'IPv6', host: '::1', urlHost: '[::1]', celsius: 23.5625 },
];

// {"unit": "K", "precision": 1} written out byte by byte (RFC 8949 preferred serialization),
// so the body does not come from the CBOR library the gateway uses.
const FETCH_BODY = Buffer.from('a2' + '64756e6974' + '614b' + '69707265636973696f6e' + '01', 'hex');

for (const c of CASES) {
  describe(`libcoap ${LIBCOAP_CLIENT} against the gateway over ${c.family} (${c.host})`, () => {
    let gw: TestGateway;
    let url: string;
    before(async () => {
      gw = await startTestGateway({ simCelsius: c.celsius, host: c.host });
      url = `coap://${c.urlHost}:${gw.port}/temp`;
    });
    after(() => gw?.close());

    it('GET /temp with Accept 60 (CBOR) gives the simulated temperature', async (t) => {
      const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
      if (!bin) return;
      const res = await libcoapRequest(bin, { url, accept: 60 });
      assert.equal(res.process.timedOut, false);
      assert.equal(res.code, '2.05', res.process.stdout.toString());
      assert.deepEqual(readingFromCbor(res.payload), { value: c.celsius, unit: 'Cel', simulated: true });
    });

    it('GET /temp with Accept 112 (SenML-CBOR) gives the simulated temperature', async (t) => {
      const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
      if (!bin) return;
      const res = await libcoapRequest(bin, { url, accept: 112 });
      assert.equal(res.code, '2.05', res.process.stdout.toString());
      assert.deepEqual(readingFromSenmlCbor(res.payload), { value: c.celsius, unit: 'Cel', simulated: true });
    });

    it('FETCH /temp with a CBOR body {"unit":"K","precision":1} gives kelvin', async (t) => {
      const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
      if (!bin) return;
      const res = await libcoapRequest(bin, { url, method: 'fetch', accept: 60, cborBody: FETCH_BODY });
      assert.equal(res.code, '2.05', res.process.stdout.toString());
      const reading = readingFromCbor(res.payload);
      assert.equal(reading.unit, 'K');
      assert.equal(reading.simulated, true);
      assert.ok(isKelvinOf(reading.value, c.celsius, 1), `${reading.value} K is not ${c.celsius} °C to one decimal`);
    });

    it('a block-wise GET in 16-byte blocks (-b 16, Block2 SZX 0) reassembles the reading (RFC 7959)', async (t) => {
      const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
      if (!bin) return;
      const res = await libcoapRequest(bin, { url, accept: 60, blockSize: 16 });
      assert.equal(res.process.timedOut, false);
      assert.equal(res.code, '2.05', res.process.stdout.toString());
      assert.deepEqual(readingFromCbor(res.payload), { value: c.celsius, unit: 'Cel', simulated: true });
    });

    it('an Accept the resource cannot meet gets 4.06 (RFC 7252 section 5.10.4), though libcoap still exits 0', async (t) => {
      const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
      if (!bin) return;
      const res = await libcoapRequest(bin, { url, accept: 41 });
      assert.equal(res.code, '4.06');
      assert.match(res.process.stderr, /4\.06/);
      assert.equal(res.process.exitCode, 0, 'libcoap 4.3.1 does not report the response code in its exit status');
    });
  });
}
