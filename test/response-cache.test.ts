/**
 * The duplicate-CON response cache (gateway/coap/response-cache.ts): bounded per client
 * address, in total and in time, and still answering duplicates (RFC 7252 section 4.5) and
 * retransmitting separate responses until they are acknowledged (section 5.2.2). The unit
 * tests drive the cache with node-coap's key format; the rest go through the gateway over UDP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, SystemClock } from '../drivers/clock.ts';
import { type CachedMessage, ResponseCache } from '../gateway/coap/response-cache.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { resolveModuleLimits } from '../gateway/host/worker/module-limits.ts';
import { wasmPath, TEST_MODULES_SKIP } from './helpers/chain.ts';
import { RawClient, emptyMessage, pathOptions, requestDatagram, toResponse } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';

/** A message of the given type (RFC 7252 section 3) with a sender that records its resets. */
function message(type: 'CON' | 'NON' | 'ACK' | 'RST'): CachedMessage & { resets: number } {
  const t = { CON: 0, NON: 1, ACK: 2, RST: 3 }[type];
  const m = Buffer.from([0x40 | (t << 4), 0x45, 0x12, 0x34]) as CachedMessage & { resets: number };
  m.resets = 0;
  m.sender = { reset: () => m.resets++ };
  return m;
}

/** node-coap's key: `${address}:${port}/${messageId}` and the token in hex. */
const key = (address: string, port: number, mid: number) => `${address}:${port}/${mid}cafe`;

describe('ResponseCache: bounds', () => {
  it('one address holds at most perAddress entries, its own oldest forgotten first; other addresses keep theirs', () => {
    const now = 0;
    const cache = new ResponseCache(() => now, { perAddress: 3, total: 100 });
    cache.set(key('10.0.0.2', 5683, 1), message('ACK'));
    for (let mid = 1; mid <= 5; mid++) cache.set(key('10.0.0.1', 40000 + (mid % 2), mid), message('ACK'));
    assert.equal(cache.size, 4);
    assert.equal(cache.peek(key('10.0.0.1', 40001, 1)), undefined);
    assert.equal(cache.peek(key('10.0.0.1', 40000, 2)), undefined);
    for (let mid = 3; mid <= 5; mid++) assert.ok(cache.peek(key('10.0.0.1', 40000 + (mid % 2), mid)));
    assert.ok(cache.peek(key('10.0.0.2', 5683, 1)), 'the quiet host keeps its exchange');
    assert.equal(cache.stats.evicted, 2);
  });

  it('IPv6 and IPv4-mapped addresses are told apart from the port', () => {
    const cache = new ResponseCache(() => 0, { perAddress: 2, total: 100 });
    for (let mid = 1; mid <= 3; mid++) cache.set(key('::ffff:127.0.0.1', 50000 + mid, mid), message('ACK'));
    for (let mid = 1; mid <= 2; mid++) cache.set(key('fe80::1', 5683, mid), message('ACK'));
    assert.equal(cache.size, 4);
    assert.equal(cache.peek(key('::ffff:127.0.0.1', 50001, 1)), undefined);
    assert.ok(cache.peek(key('fe80::1', 5683, 1)));
  });

  it('an address whose last entry the total bound took is still counted afresh', () => {
    const cache = new ResponseCache(() => 0, { perAddress: 2, total: 3 });
    cache.set(key('10.0.0.1', 1, 1), message('ACK'));
    cache.set(key('10.0.0.2', 1, 1), message('ACK'));
    cache.set(key('10.0.0.2', 1, 2), message('ACK'));
    // Full: 10.0.0.1's only entry goes to make room, then 10.0.0.1 fills its quota again.
    for (let mid = 2; mid <= 5; mid++) cache.set(key('10.0.0.1', 1, mid), message('ACK'));
    const held = [1, 2, 3, 4, 5].filter((mid) => cache.peek(key('10.0.0.1', 1, mid)) !== undefined);
    assert.deepEqual(held, [4, 5], 'never more than perAddress for one address');
  });

  it('at most total entries, the oldest forgotten first', () => {
    const cache = new ResponseCache(() => 0, { perAddress: 10, total: 4 });
    for (let i = 1; i <= 6; i++) cache.set(key(`10.0.0.${i}`, 5683, i), message('ACK'));
    assert.equal(cache.size, 4);
    assert.equal(cache.peek(key('10.0.0.1', 5683, 1)), undefined);
    assert.equal(cache.peek(key('10.0.0.2', 5683, 2)), undefined);
    assert.ok(cache.peek(key('10.0.0.6', 5683, 6)));
  });

  it('an entry lives its lifetime and no longer', () => {
    let now = 1000;
    const cache = new ResponseCache(() => now, { lifetimeMs: 247_000 });
    cache.set(key('10.0.0.1', 1, 1), message('ACK'));
    now += 246_999;
    assert.ok(cache.peek(key('10.0.0.1', 1, 1)));
    cache.set(key('10.0.0.1', 1, 2), message('ACK'));
    now += 1;
    assert.equal(cache.peek(key('10.0.0.1', 1, 1)), undefined);
    assert.equal(cache.size, 1);
    now += 247_000;
    assert.equal(cache.purgeStale(), true);
    assert.equal(cache.size, 0);
  });

  it('refuses limits that are not positive integers', () => {
    assert.throws(() => new ResponseCache(() => 0, { total: 0 }), /total/);
    assert.throws(() => new ResponseCache(() => 0, { perAddress: 1.5 }), /perAddress/);
  });
});

describe('ResponseCache: the senders node-coap attaches', () => {
  it('a piggybacked ACK, a NON and a RST keep only their bytes: the sender is stopped once it has sent', async () => {
    const cache = new ResponseCache(() => 0);
    const sent = (['ACK', 'NON', 'RST'] as const).map((t, i) => {
      const m = message(t);
      cache.set(key('10.0.0.1', 1, i), m);
      return m;
    });
    await Promise.resolve();
    for (const m of sent) {
      assert.equal(m.resets, 1);
      assert.equal(m.sender, undefined);
    }
    assert.ok(Buffer.from([0x60, 0x45, 0x12, 0x34]).equals(cache.peek(key('10.0.0.1', 1, 0))!), 'the bytes are still there to answer a duplicate');
  });

  it('a confirmable (separate) response keeps retransmitting until its ACK deletes it', async () => {
    const cache = new ResponseCache(() => 0);
    const m = message('CON');
    cache.set(key('10.0.0.1', 1, 7), m);
    await Promise.resolve();
    assert.equal(m.resets, 0);
    assert.ok(m.sender);
    assert.equal(cache.delete(key('10.0.0.1', 1, 7)), true);
    assert.equal(m.resets, 1);
  });

  it('a confirmable response forgotten at a bound, or at clear(), stops retransmitting', () => {
    const cache = new ResponseCache(() => 0, { perAddress: 1, total: 10 });
    const first = message('CON');
    cache.set(key('10.0.0.1', 1, 1), first);
    cache.set(key('10.0.0.1', 1, 2), message('CON'));
    assert.equal(first.resets, 1);
    const second = cache.peek(key('10.0.0.1', 1, 2)) as ReturnType<typeof message>;
    cache.clear();
    assert.equal(second.resets, 1);
    assert.equal(cache.size, 0);
  });
});

describe('the gateway under many exchanges from one host (real UDP)', () => {
  let gw: TestGateway;
  let clients: RawClient[];
  const PER_ADDRESS = 64;

  before(async () => {
    gw = await startTestGateway({ responseCache: { perAddress: PER_ADDRESS, total: 1000 } });
    clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.open('127.0.0.1', gw.port)));
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw.close();
  });

  it('holds at most its bound however many exchanges arrive, answering every one', async () => {
    let ok = 0;
    for (let i = 0; i < 300; i++) {
      const client = clients[i % clients.length]!;
      const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }));
      if (res?.code === '2.05') ok++;
    }
    assert.equal(ok, 300);
    const stats = gw.server.responseCache;
    assert.equal(stats.entries, PER_ADDRESS, 'the cache is the one node-coap uses, and it is full to its bound');
    assert.ok(stats.evicted >= 300 - PER_ADDRESS, `evicted ${stats.evicted}`);
  });

  it('a duplicate of a held exchange gets the same bytes, without reading again', async () => {
    const client = clients[0]!;
    const req = requestDatagram({ options: pathOptions('/temp'), messageId: 0x7001, token: Buffer.from('held') });
    const first = await client.exchange(req);
    const calls = gw.service.get('tmp102')!.module.stats.calls;
    const matches = gw.server.responseCache.matches;
    (gw.clock as ManualClock).advanceMs(300);
    const again = await client.exchange(req);
    assert.ok(first && again);
    assert.deepEqual(again.raw, first.raw);
    assert.equal(gw.service.get('tmp102')!.module.stats.calls, calls);
    assert.equal(gw.server.responseCache.matches, matches + 1);
  });

  it('a duplicate of an exchange forgotten at the bound is answered afresh (GET is idempotent, RFC 7252 section 4.5)', async () => {
    const client = clients[1]!;
    const req = requestDatagram({ options: pathOptions('/temp'), messageId: 0x7002, token: Buffer.from('gone') });
    const first = await client.exchange(req);
    for (let i = 0; i < PER_ADDRESS; i++) await clients[2]!.exchange(requestDatagram({ options: pathOptions('/temp') }));
    (gw.clock as ManualClock).advanceMs(300); // a new conversion: a fresh reading has a new time
    const again = await client.exchange(req);
    assert.equal(first?.code, '2.05');
    assert.equal(again?.code, '2.05');
    assert.equal(again.packet.messageId, 0x7002);
    assert.deepEqual(again.packet.token, Buffer.from('gone'));
    assert.notDeepEqual(again.raw, first.raw, 'processed again, not replayed');
  });

  it('/gw/stats reports the cache', async () => {
    const res = await clients[3]!.exchange(requestDatagram({ options: pathOptions('/gw/stats') }));
    const cache = (res?.cbor as { responseCache: { entries: number; evicted: number; matches: number } }).responseCache;
    assert.ok(cache.entries > 0 && cache.entries <= PER_ADDRESS);
    assert.ok(cache.evicted > 0);
    assert.ok(cache.matches >= 1);
  });
});

describe('a separate response (RFC 7252 section 5.2.2) through the bounded cache (workers, real time)', { skip: TEST_MODULES_SKIP }, () => {
  let gw: TestGateway;

  before(async () => {
    const config = defaultConfig({ driver: 'simulated' });
    const base = config.sensors[0]!;
    // A module that never answers, stopped at 800 ms: later than the 500 ms node-coap waits
    // before it sends an empty ACK and the response separately.
    config.sensors.push({ ...base, name: 'slow', path: '/slow', module: wasmPath('test/loop'), address: 0x50, grant: { bus: 1, addresses: [0x50] }, settings: {}, limits: resolveModuleLimits({ deadlineMs: 800, quarantineAfterFaults: 100 }), simulation: { kind: 'constant', celsius: 30 } });
    gw = await startTestGateway({ clock: new SystemClock(), config });
  });

  after(async () => {
    await gw?.close();
  });

  it('is retransmitted until the client acknowledges it, then forgotten', async () => {
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const token = Buffer.from('slow');
      client.send(requestDatagram({ options: pathOptions('/slow'), messageId: 0x7100, token }));
      const emptyAck = toResponse((await client.next(2000))!);
      assert.equal(emptyAck.packet.ack, true);
      assert.equal(emptyAck.code, '0.00');
      const separate = toResponse((await client.next(2000))!);
      assert.equal(separate.packet.confirmable, true);
      assert.deepEqual(separate.packet.token, token);
      assert.equal((separate.cbor as { code: string }).code, 'GW_ERR_SENSOR_TIMEOUT');
      // Not acknowledged: it comes again after ACK_TIMEOUT (2 to 3 s, section 4.8).
      const retransmission = await client.next(3500);
      assert.ok(retransmission, 'the separate response is retransmitted');
      assert.deepEqual(retransmission, separate.raw);
      const held = gw.server.responseCache.entries;
      client.send(emptyMessage('ack', separate.packet.messageId));
      const deadline = Date.now() + 1000;
      while (gw.server.responseCache.entries === held && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(gw.server.responseCache.entries, held - 1, 'the ACK ended the exchange and stopped its sender');
    } finally {
      await client.close();
    }
  });
});
