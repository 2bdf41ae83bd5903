/**
 * The byte budgets of what the gateway holds for its clients besides duplicate detection
 * (test/exchange-store.test.ts has that one): the representations held for block-wise
 * transfers (gateway/coap/block2.ts, HeldRepresentations) and the Observe table
 * (gateway/coap/observe-layer.ts). Each is bounded in entries and in bytes; filled with large
 * entries, the bytes stay under the budget and the oldest go first (for the Observe table, the
 * oldest of an address that never acknowledged a notification), and each charge is checked
 * against what an entry really costs in memory where that can be measured in isolation.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DEFAULT_HOLD_LIMITS, HELD_BYTES, HeldRepresentations, entityTag, heldBytes } from '../gateway/coap/block2.ts';
import { stringBytes } from '../gateway/coap/flat-string.ts';
import { DEFAULT_OBSERVER_LIMITS, OBSERVATION_BYTES, observationBytes } from '../gateway/coap/observe-limits.ts';
import type { Reply } from '../gateway/coap/reply.ts';
import { RawClient, type Response, block2Value, observeRequest, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { bytesPerItem } from './helpers/heap-cost.ts';

function representation(bytes: number, fill = 0x41): { reply: Reply; etag: Uint8Array } {
  const reply: Reply = { code: '2.05', contentFormat: 60, maxAge: 0, payload: new Uint8Array(bytes).fill(fill) };
  return { reply, etag: entityTag(reply) };
}

const key = (i: number) => `192.0.2.${i & 255}|${40000 + i}|0.01|/gw/stats||60|`;

describe('held representations (Block2): bounded in bytes', () => {
  it('large bodies: the bytes held stay under totalBytes, the least recently used forgotten first', () => {
    // Room for 4 bodies of 100 kB; the entry bounds alone would hold all 50.
    const totalBytes = 4 * heldBytes(key(10).length, 100_000) + 1000;
    const held = new HeldRepresentations(() => 0, { perAddress: 8, total: 1024, totalBytes });
    let most = 0;
    for (let i = 10; i < 60; i++) {
      held.hold(key(i), `192.0.2.${i}`, representation(100_000, i));
      most = Math.max(most, held.stats.bytes);
    }
    assert.ok(most <= totalBytes, `at most ${most} of ${totalBytes} bytes held`);
    assert.equal(held.stats.entries, 4);
    for (let i = 56; i < 60; i++) assert.equal(held.get(key(i))?.reply.payload[0], i, `the body of transfer ${i} is held`);
    assert.equal(held.get(key(10)), undefined, 'the oldest was forgotten');
    assert.equal(held.get(key(55)), undefined);
  });

  it('a representation larger than the whole budget is not held; one held is charged its key and body', () => {
    const held = new HeldRepresentations(() => 0, { totalBytes: 10_000 });
    held.hold(key(1), '192.0.2.1', representation(20_000));
    assert.deepEqual(held.stats, { entries: 0, bytes: 0 });
    held.hold(key(2), '192.0.2.2', representation(400));
    assert.deepEqual(held.stats, { entries: 1, bytes: HELD_BYTES + stringBytes(key(2).length) + 400 });
    held.hold(key(2), '192.0.2.2', representation(300));
    assert.deepEqual(held.stats, { entries: 1, bytes: HELD_BYTES + stringBytes(key(2).length) + 300 }, 'a new copy for the same transfer replaces the old');
    held.clear();
    assert.deepEqual(held.stats, { entries: 0, bytes: 0 });
  });

  it('a key of 60 kB (a request can carry that much query) is charged as such: 1,024 of them cannot take 60 MB', () => {
    const held = new HeldRepresentations(() => 0, { perAddress: 1024 });
    for (let i = 0; i < 1024; i++) held.hold(`${key(i)}${'q'.repeat(60_000)}${i}`, '192.0.2.1', representation(64));
    assert.ok(held.stats.bytes <= DEFAULT_HOLD_LIMITS.totalBytes);
    assert.ok(held.stats.entries < 80, `${held.stats.entries} held`);
  });

  it('defaults: 8 per address, 1,024 and 2 MiB in all; refuses limits that are not positive integers', () => {
    assert.deepEqual(DEFAULT_HOLD_LIMITS, { perAddress: 8, total: 1024, totalBytes: 2 * 2 ** 20 });
    // A full table of ordinary transfers (/gw/stats, about 400 bytes, a 60-character key) fits.
    assert.ok(DEFAULT_HOLD_LIMITS.total * heldBytes(60, 400) <= DEFAULT_HOLD_LIMITS.totalBytes);
    assert.throws(() => new HeldRepresentations(() => 0, { totalBytes: 0 }), /totalBytes/);
    assert.throws(() => new HeldRepresentations(() => 0, { total: 1.5 }), /total/);
  });

  it('the charge covers what a held representation costs in memory (heap and outside it)', () => {
    const n = 1024;
    let charged = 0;
    const real = bytesPerItem(n, () => {
      const held = new HeldRepresentations(() => 0, { perAddress: n, total: n, totalBytes: 2 ** 40 });
      for (let i = 0; i < n; i++) held.hold(['192.0.2', i & 255, 40000 + i].join('|'), ['192.0.2', i & 255].join('.'), representation(400, i));
      charged = held.stats.bytes / n;
      return held;
    });
    assert.ok(real <= charged, `a held representation costs ${real.toFixed(0)} bytes and is charged ${charged.toFixed(0)}`);
    assert.ok(real >= charged / 2, `the charge (${charged.toFixed(0)}) is not far above the cost (${real.toFixed(0)})`);
  });
});

describe('held representations through the gateway (real UDP)', () => {
  let gw: TestGateway | undefined;
  const clients: RawClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await gw?.close();
  });

  it('block-wise /gw/stats for many clients: the copies held stay under totalBytes', async () => {
    // /gw/stats is a few hundred bytes: room for about 3 copies.
    const totalBytes = 3 * heldBytes(60, 500);
    gw = await startTestGateway({ held: { perAddress: 100, totalBytes } });
    let most = 0;
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.open('127.0.0.1', gw.port);
      clients.push(c);
      // Block 0 of 16 bytes: the rest of the snapshot is held for this client's next blocks.
      const res = await c.exchange(requestDatagram({ options: [...pathOptions('/gw/stats'), { name: 'Block2', value: block2Value(0, 0) }] }));
      assert.equal(res?.code, '2.05');
      most = Math.max(most, gw.server.held.bytes);
    }
    assert.ok(most > 0 && most <= totalBytes, `at most ${most} of ${totalBytes} bytes held`);
    assert.ok(gw.server.held.entries <= 3);
  });
});

describe('the Observe table: bounded in bytes', () => {
  it('charges a registration for what varies with it: key, holdKey, token, one notification', () => {
    const base = { key: '127.0.0.1|40000|0b01', holdKey: '127.0.0.1|40000|0.01|/temp|||', tokenBytes: 2, payloadBytes: 52 };
    const small = observationBytes(base);
    assert.ok(small > OBSERVATION_BYTES && small < OBSERVATION_BYTES + 400, `${small}`);
    // A FETCH with a 256-byte body: its holdKey carries the body in hex.
    assert.equal(observationBytes({ ...base, holdKey: base.holdKey + 'ab'.repeat(256) }) - small, stringBytes(base.holdKey.length + 512) - stringBytes(base.holdKey.length));
    // A representation over one block: the notification kept is block 0, at most 1,024 bytes of payload.
    assert.equal(observationBytes({ ...base, payloadBytes: 5000 }), observationBytes({ ...base, payloadBytes: 2000 }));
  });

  it('defaults: 64 per address, 8,192 and 20 MiB in all; 8,192 registrations of a reading fit', () => {
    assert.deepEqual(DEFAULT_OBSERVER_LIMITS, { perAddress: 64, total: 8192, totalBytes: 20 * 2 ** 20 });
    // The longest address (an IPv4-mapped IPv6 one), an 8-byte token, SenML-JSON with the simulated mark.
    const token = 'ab'.repeat(8);
    const reading = observationBytes({ key: `::ffff:255.255.255.255|65535|${token}`, holdKey: '::ffff:255.255.255.255|65535|0.01|/temp|unit=K\u0000precision=1|110|', tokenBytes: 8, payloadBytes: 100 });
    assert.ok(DEFAULT_OBSERVER_LIMITS.total * reading <= DEFAULT_OBSERVER_LIMITS.totalBytes, `8,192 x ${reading} bytes`);
  });

  describe('through the gateway (real UDP, a registration that is never notified: c.gt=1000)', () => {
    let gw: TestGateway | undefined;
    let client: RawClient | undefined;
    afterEach(async () => {
      await client?.close();
      await gw?.close();
    });

    const register = (c: RawClient, i: number): Promise<Response | undefined> => c.exchange(observeRequest('/temp?c.gt=1000', { token: Buffer.from([0x0b, i]) }));

    /** What one such registration from this kind of client is charged, measured on a gateway with the default budget. */
    async function chargeOfOne(): Promise<number> {
      const g = await startTestGateway({ simCelsius: 20 });
      const c = await RawClient.open('127.0.0.1', g.port);
      try {
        assert.notEqual((await register(c, 0))?.observe, undefined);
        return g.server.observerBytes;
      } finally {
        await c.close();
        await g.close();
      }
    }

    it('strangers: a full budget takes new registrations in place of the oldest; the bytes never pass it', async () => {
      const one = await chargeOfOne();
      // Room for 3 (a port of another length changes a charge by a few bytes).
      const totalBytes = Math.floor(3.5 * one);
      gw = await startTestGateway({ simCelsius: 20, trustLoopback: false, observerLimits: { totalBytes } });
      client = await RawClient.open('127.0.0.1', gw.port);
      let most = 0;
      for (let i = 0; i < 10; i++) {
        const res = await register(client, i);
        assert.equal(res?.code, '2.05');
        assert.equal(res.observe, 1, `registration ${i} is added (the oldest makes room)`);
        most = Math.max(most, gw.server.observerBytes);
        assert.ok(gw.server.observers() <= 3);
      }
      assert.ok(most <= totalBytes, `at most ${most} of ${totalBytes} bytes`);
      assert.equal(gw.server.observers(), 3);
      // The newest is registered: the same token again re-registers and continues its sequence (RFC 7641 section 3.4).
      assert.equal((await register(client, 9))?.observe, 2, 'registration 9 was held');
      // The oldest was evicted: the same token again is a new registration.
      assert.equal((await register(client, 0))?.observe, 1, 'registration 0 was evicted');
      assert.equal(gw.server.observers(), 3);
    });

    it('verified clients are never evicted for a newcomer: past the budget a registration is answered without Observe', async () => {
      const one = await chargeOfOne();
      const totalBytes = Math.floor(3.5 * one);
      gw = await startTestGateway({ simCelsius: 20, observerLimits: { totalBytes } });
      client = await RawClient.open('127.0.0.1', gw.port);
      for (let i = 0; i < 3; i++) assert.equal((await register(client, i))?.observe, 1, `registration ${i}`);
      const refused = await register(client, 3);
      assert.equal(refused?.code, '2.05');
      assert.equal(refused.observe, undefined, 'the reading, without Observe: not added (RFC 7641 section 4.1)');
      assert.equal(gw.server.observers(), 3);
      assert.ok(gw.server.observerBytes <= totalBytes);
      assert.equal((await register(client, 0))?.observe, 2, 'the first registration is still there');
    });
  });
});
