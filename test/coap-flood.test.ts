/**
 * Hostile input over loopback: a bounded flood of malformed and truncated datagrams and random
 * CBOR bodies, then GET /temp must still answer correctly. Seeded, so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawClient, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { startTestGateway } from './helpers/gateway.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('CoAP server under a flood of bad datagrams', () => {
  it('survives 10,000 malformed, truncated and random-CBOR datagrams, logs no failure, and still answers GET /temp', async () => {
    // The server catches and logs what goes wrong inside it: a flood that only hit those
    // catch blocks would still answer GET /temp, so the log must show no error either.
    const logger = new MemoryLogger();
    const gw = await startTestGateway({ simCelsius: 23.125, logger });
    const attacker = await RawClient.open('127.0.0.1', gw.port);
    const rand = prng(0xc0a9);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const good = requestDatagram({ options: pathOptions('/temp') });
    try {
      for (let i = 0; i < 10_000; i++) {
        let d: Buffer;
        switch (i % 5) {
          case 0: // random bytes
            d = bytes(Math.floor(rand() * 64));
            break;
          case 1: // a valid request cut short
            d = good.subarray(0, Math.floor(rand() * good.length));
            break;
          case 2: // a valid request with flipped bytes
            d = Buffer.from(good);
            { const at = Math.floor(rand() * d.length); d[at] = d[at]! ^ (1 << Math.floor(rand() * 8)); }
            break;
          case 3: // FETCH/POST with a random body claiming to be CBOR
            d = requestDatagram({ code: rand() < 0.5 ? '0.05' : '0.02', options: [...pathOptions('/temp'), { name: 'Content-Format', value: uint(60) }], payload: bytes(1 + Math.floor(rand() * 40)) });
            break;
          default: // random options after a valid header
            d = Buffer.concat([Buffer.from([0x40 | (Math.floor(rand() * 4) << 4), 0x01, i >> 8, i & 0xff]), bytes(Math.floor(rand() * 32))]);
        }
        attacker.send(d);
        if (i % 200 === 199) await new Promise((r) => setImmediate(r)); // let the server drain its socket
      }
      await new Promise((r) => setTimeout(r, 200));
      attacker.drain();
      await attacker.close();

      const client = await RawClient.open('127.0.0.1', gw.port);
      try {
        const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }), 2000);
        assert.equal(res?.code, '2.05');
        assert.deepEqual((res.cbor as { value: number; unit: string }).value, 23.125);
        const failures = logger.entries.filter((e) => e.level === 'error');
        assert.deepEqual(failures.map((e) => `${e.msg} ${JSON.stringify(e.fields)}`), [], 'nothing failed inside the gateway');
      } finally {
        await client.close();
      }
    } finally {
      await gw.close();
    }
  });
});
