/**
 * Duplicate detection (gateway/coap/exchange-store.ts, RFC 7252 section 4.5): a message is a
 * duplicate when the same endpoint (address and port) sent the same Message ID within the
 * exchange lifetime (247 s for a CON, 145 s for a NON, section 4.8.2), whatever its token. A
 * duplicate CON gets the reply sent for the original and is processed once; a duplicate NON is
 * ignored. The store is bounded per client address (its own oldest forgotten first), in total
 * and in bytes (each exchange charged its key and reply). The unit tests drive the store on an
 * injected clock; the rest go through the gateway over real UDP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ManualClock, SystemClock } from '../drivers/clock.ts';
import { ADDRESS_BYTES, DEFAULT_EXCHANGE_LIMITS, EXCHANGE_LIFETIME_MS, ExchangeStore, NON_LIFETIME_MS, exchangeBytes } from '../gateway/coap/exchange-store.ts';
import { resolveModuleLimits } from '../gateway/host/worker/module-limits.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { TEST_MODULES_SKIP, wasmPath } from './helpers/chain.ts';
import { RawClient, type Response, emptyMessage, pathOptions, requestDatagram, toResponse } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { bytesPerItem } from './helpers/heap-cost.ts';

/**
 * Takes the message into the store and says whether it was a duplicate. A message that is not
 * one is recorded (and may push others out), so a test checks what must be held before what
 * must be gone.
 */
function isDuplicate(store: ExchangeStore, address: string, port: number, messageId: number, confirmable = true): boolean {
  return 'duplicate' in store.take(address, port, messageId, confirmable);
}

/** The store's counters without its bytes (the byte bound has tests of its own). */
function counts(store: ExchangeStore): { entries: number; evicted: number; duplicates: number } {
  const { entries, evicted, duplicates } = store.stats;
  return { entries, evicted, duplicates };
}

describe('ExchangeStore: what a duplicate is', () => {
  it('the same endpoint and Message ID within the lifetime; another port or address is another endpoint', () => {
    const store = new ExchangeStore(() => 0);
    assert.equal(isDuplicate(store, '10.0.0.1', 5683, 1), false);
    assert.equal(isDuplicate(store, '10.0.0.1', 5683, 1), true);
    assert.equal(isDuplicate(store, '10.0.0.1', 5684, 1), false, 'another port');
    assert.equal(isDuplicate(store, '10.0.0.2', 5683, 1), false, 'another address');
    assert.equal(isDuplicate(store, '10.0.0.1', 5683, 2), false, 'another Message ID');
    // The store never sees a token: a request reusing a Message ID with another token is the same exchange.
    assert.equal(isDuplicate(store, '10.0.0.1', 5683, 2, true), true);
    assert.equal(isDuplicate(store, '::ffff:10.0.0.1', 5683, 1), false, 'an IPv4-mapped address is another address string');
    assert.deepEqual(counts(store), { entries: 5, evicted: 0, duplicates: 2 });
  });

  it('a duplicate hands back the original exchange, with the reply the server recorded on it', () => {
    let now = 5000;
    const store = new ExchangeStore(() => now);
    const taken = store.take('::1', 40000, 0x1234, true);
    assert.ok('begun' in taken);
    const e = taken.begun;
    assert.equal(e.confirmable, true);
    assert.equal(e.address, '::1');
    assert.equal(e.arrivedAt, 5000);
    assert.equal(e.expiresAt, 5000 + EXCHANGE_LIFETIME_MS);
    assert.equal(e.reply, undefined, 'no reply yet: still being answered');
    assert.equal(e.emptyAckSent, false);
    store.recordReply(e, Buffer.from([0x60, 0x45, 0x12, 0x34]));
    now += 1000;
    const again = store.take('::1', 40000, 0x1234, true);
    assert.ok('duplicate' in again);
    assert.equal(again.duplicate, e);
    assert.ok(Buffer.from(again.duplicate.reply!, 'latin1').equals(Buffer.from([0x60, 0x45, 0x12, 0x34])), 'the bytes are there to answer the duplicate');

    const non = store.take('::1', 40000, 0x1235, false);
    assert.ok('begun' in non);
    assert.equal(non.begun.confirmable, false);
    assert.equal(non.begun.expiresAt, now + NON_LIFETIME_MS);
  });

  it('a CON is a duplicate for EXCHANGE_LIFETIME (247 s) and no longer', () => {
    assert.equal(EXCHANGE_LIFETIME_MS, 247_000);
    let now = 1000;
    const store = new ExchangeStore(() => now);
    store.take('10.0.0.1', 1, 1, true);
    now += 246_999;
    assert.equal(isDuplicate(store, '10.0.0.1', 1, 1), true);
    now += 1;
    assert.equal(isDuplicate(store, '10.0.0.1', 1, 1), false, 'expired: a new exchange');
    assert.equal(store.stats.entries, 1, 'the expired exchange was replaced, not kept beside the new one');
    assert.equal(isDuplicate(store, '10.0.0.1', 1, 1), true, 'and the new one is held for its own lifetime');
    assert.equal(store.stats.evicted, 0, 'expiry is not eviction');
  });

  it('a NON is a duplicate for NON_LIFETIME (145 s) and no longer', () => {
    assert.equal(NON_LIFETIME_MS, 145_000);
    let now = 0;
    const store = new ExchangeStore(() => now);
    store.take('::1', 5683, 1, false);
    now += 144_999;
    assert.equal(isDuplicate(store, '::1', 5683, 1, false), true);
    now += 1;
    assert.equal(isDuplicate(store, '::1', 5683, 1, false), false, 'forgotten after NON_LIFETIME');
    assert.equal(store.stats.evicted, 0);
  });

  it('exchanges past their lifetime are swept, so the store does not keep what nobody can duplicate', () => {
    let now = 1000;
    const store = new ExchangeStore(() => now);
    for (let mid = 0; mid < 50; mid++) store.take(`10.0.0.${mid % 5}`, 5683, mid, mid % 2 === 0);
    assert.equal(store.stats.entries, 50);
    now += EXCHANGE_LIFETIME_MS;
    store.take('10.0.0.9', 5683, 1, true);
    assert.deepEqual(counts(store), { entries: 1, evicted: 0, duplicates: 0 });
  });
});

describe('ExchangeStore: bounds', () => {
  it('one address holds at most perAddress entries, its own oldest forgotten first, whatever its ports; other addresses keep theirs', () => {
    const store = new ExchangeStore(() => 0, { perAddress: 3, total: 100 });
    store.take('10.0.0.2', 5683, 1, true);
    for (let mid = 1; mid <= 5; mid++) store.take('10.0.0.1', 40000 + (mid % 2), mid, true);
    assert.deepEqual(counts(store), { entries: 4, evicted: 2, duplicates: 0 });
    assert.equal(isDuplicate(store, '10.0.0.2', 5683, 1), true, 'the quiet host keeps its exchange');
    for (let mid = 3; mid <= 5; mid++) assert.equal(isDuplicate(store, '10.0.0.1', 40000 + (mid % 2), mid), true, `MID ${mid} is held`);
    assert.equal(store.stats.duplicates, 4);
    // Checked last: a message that is not a duplicate is recorded.
    assert.equal(isDuplicate(store, '10.0.0.1', 40001, 1), false, 'the oldest was forgotten');
    assert.equal(isDuplicate(store, '10.0.0.2', 5683, 1), true, 'still there after more from the busy host');
  });

  it('IPv6 and IPv4-mapped addresses are counted by address, apart from the port', () => {
    const store = new ExchangeStore(() => 0, { perAddress: 2, total: 100 });
    for (let mid = 1; mid <= 3; mid++) store.take('::ffff:127.0.0.1', 50000 + mid, mid, true);
    for (let mid = 1; mid <= 2; mid++) store.take('fe80::1', 5683, mid, true);
    assert.deepEqual(counts(store), { entries: 4, evicted: 1, duplicates: 0 });
    assert.equal(isDuplicate(store, 'fe80::1', 5683, 1), true);
    assert.equal(isDuplicate(store, '::ffff:127.0.0.1', 50003, 3), true);
    assert.equal(isDuplicate(store, '::ffff:127.0.0.1', 50001, 1), false, 'three ports of one address share its two entries');
  });

  it('at most total entries, the oldest forgotten first', () => {
    const store = new ExchangeStore(() => 0, { perAddress: 10, total: 4 });
    for (let i = 1; i <= 6; i++) store.take(`10.0.0.${i}`, 5683, i, true);
    assert.deepEqual(counts(store), { entries: 4, evicted: 2, duplicates: 0 });
    for (let i = 3; i <= 6; i++) assert.equal(isDuplicate(store, `10.0.0.${i}`, 5683, i), true, `10.0.0.${i} is held`);
    assert.equal(isDuplicate(store, '10.0.0.1', 5683, 1), false, 'the oldest went first');
    assert.equal(store.stats.entries, 4);
  });

  it('an address whose last entry the total bound took is counted afresh, never above perAddress', () => {
    const store = new ExchangeStore(() => 0, { perAddress: 2, total: 3 });
    store.take('10.0.0.1', 1, 1, true);
    store.take('10.0.0.2', 1, 1, true);
    store.take('10.0.0.2', 1, 2, true);
    // Full: 10.0.0.1's only entry goes to make room, then 10.0.0.1 fills its quota again.
    for (let mid = 2; mid <= 5; mid++) store.take('10.0.0.1', 1, mid, true);
    assert.ok(store.stats.entries <= 3);
    // Newest first: the held ones answer as duplicates before the forgotten ones are taken anew.
    const held = [5, 4, 3, 2, 1].filter((mid) => isDuplicate(store, '10.0.0.1', 1, mid));
    assert.deepEqual(held, [5, 4], 'never more than perAddress for one address');
  });

  it('counts evictions and duplicates; clear() forgets every exchange', () => {
    const store = new ExchangeStore(() => 0, { perAddress: 2, total: 3 });
    assert.deepEqual(counts(store), { entries: 0, evicted: 0, duplicates: 0 });
    for (let mid = 1; mid <= 4; mid++) store.take('10.0.0.1', 1, mid, true); // 2 forgotten at the address bound
    store.take('10.0.0.2', 1, 1, false);
    store.take('10.0.0.3', 1, 1, true); // the total bound takes 10.0.0.1's oldest left
    assert.deepEqual(counts(store), { entries: 3, evicted: 3, duplicates: 0 });
    assert.equal(isDuplicate(store, '10.0.0.2', 1, 1, false), true);
    assert.equal(isDuplicate(store, '10.0.0.3', 1, 1), true);
    assert.equal(isDuplicate(store, '10.0.0.1', 1, 4), true);
    assert.deepEqual(counts(store), { entries: 3, evicted: 3, duplicates: 3 });
    store.clear();
    assert.equal(store.stats.entries, 0);
    assert.equal(isDuplicate(store, '10.0.0.3', 1, 1), false, 'forgotten by clear()');
  });

  it('defaults to 1,024 per address, 16,384 and 6 MiB in all; refuses limits that are not positive integers', () => {
    assert.deepEqual(DEFAULT_EXCHANGE_LIMITS, { perAddress: 1024, total: 16_384, totalBytes: 6 * 2 ** 20 });
    assert.throws(() => new ExchangeStore(() => 0, { totalBytes: 0 }), /totalBytes/);
    assert.throws(() => new ExchangeStore(() => 0, { total: 0 }), /total/);
    assert.throws(() => new ExchangeStore(() => 0, { perAddress: 1.5 }), /perAddress/);
    assert.throws(() => new ExchangeStore(() => 0, { perAddress: -1 }), /perAddress/);
  });
});

/** Takes a CON from its own address and records a reply of `replyBytes` for it. */
function answered(store: ExchangeStore, i: number, replyBytes: number): void {
  const taken = store.take(`10.1.${i >> 8}.${i & 255}`, 5683, i & 0xffff, true, 12);
  assert.ok('begun' in taken);
  store.recordReply(taken.begun, Buffer.alloc(replyBytes, 0x45));
}

describe('ExchangeStore: bounded in bytes', () => {
  const KEY = '10.1.0.1|5683|1'.length;

  it('large replies: the bytes held stay under totalBytes, the oldest exchanges forgotten first and counted', () => {
    // Room for 10 exchanges with a 1,000-byte reply, each from an address of its own; the
    // entry bounds alone would hold all 100.
    const totalBytes = 10 * (ADDRESS_BYTES + exchangeBytes(KEY, 1000));
    const store = new ExchangeStore(() => 0, { perAddress: 1024, total: 16_384, totalBytes });
    let most = 0;
    for (let i = 1; i <= 100; i++) {
      answered(store, i, 1000);
      most = Math.max(most, store.stats.bytes);
    }
    assert.ok(most <= totalBytes, `at most ${most} of ${totalBytes} bytes held`);
    assert.ok(store.stats.entries >= 9 && store.stats.entries <= 10, `${store.stats.entries} exchanges held`);
    assert.equal(store.stats.evicted, 100 - store.stats.entries, 'every exchange forgotten early is counted');
    // The newest are held (their duplicates get the reply), the oldest are not.
    for (let i = 100; i > 100 - store.stats.entries; i--) assert.equal(isDuplicate(store, `10.1.0.${i}`, 5683, i), true, `exchange ${i} is held`);
    assert.equal(isDuplicate(store, '10.1.0.1', 5683, 1), false, 'the oldest was forgotten');
  });

  it('counts each exchange\'s key and reply, and each address once; a forgotten or expired exchange gives its bytes back', () => {
    let now = 0;
    const store = new ExchangeStore(() => now);
    const taken = store.take('10.1.0.1', 5683, 1, true);
    assert.ok('begun' in taken);
    assert.equal(store.stats.bytes, ADDRESS_BYTES + exchangeBytes(KEY, undefined), 'no reply yet');
    store.recordReply(taken.begun, Buffer.alloc(61));
    assert.equal(store.stats.bytes, ADDRESS_BYTES + exchangeBytes(KEY, 61));
    store.take('10.1.0.1', 5683, 2, true);
    assert.equal(store.stats.bytes, ADDRESS_BYTES + exchangeBytes(KEY, 61) + exchangeBytes(KEY, undefined), 'an address is charged once');
    now += EXCHANGE_LIFETIME_MS;
    store.take('10.1.0.2', 5683, 1, true);
    assert.equal(store.stats.bytes, ADDRESS_BYTES + exchangeBytes(KEY, undefined), 'the expired ones were swept with their bytes and their address');
    store.clear();
    assert.equal(store.stats.bytes, 0);
  });

  it('a reply for an exchange already forgotten is not kept', () => {
    const store = new ExchangeStore(() => 0, { perAddress: 1, total: 10 });
    const first = store.take('10.1.0.1', 5683, 1, true);
    store.take('10.1.0.1', 5683, 2, true); // the address bound forgets the first
    assert.ok('begun' in first);
    store.recordReply(first.begun, Buffer.alloc(500));
    assert.equal(first.begun.reply, undefined);
    assert.equal(store.stats.bytes, ADDRESS_BYTES + exchangeBytes(KEY, undefined));
  });

  it('under the defaults, NON exchanges (no reply kept) are bounded by the entry count; replies by the 6 MiB budget', () => {
    const non = new ExchangeStore(() => 0);
    // 64 clients, each with many requests: sensor nodes polling.
    for (let i = 0; i < DEFAULT_EXCHANGE_LIMITS.total + 1000; i++) non.take(`10.1.0.${i & 63}`, 40000 + (i >> 6), i & 0xffff, false, 12);
    assert.equal(non.stats.entries, DEFAULT_EXCHANGE_LIMITS.total);
    assert.ok(non.stats.bytes <= DEFAULT_EXCHANGE_LIMITS.totalBytes);
    assert.equal(DEFAULT_EXCHANGE_LIMITS.totalBytes, 6 * 2 ** 20);
    for (const replyBytes of [70, 1100]) {
      const store = new ExchangeStore(() => 0);
      let most = 0;
      for (let i = 0; i < DEFAULT_EXCHANGE_LIMITS.total; i++) {
        answered(store, i, replyBytes);
        most = Math.max(most, store.stats.bytes);
      }
      assert.ok(most <= DEFAULT_EXCHANGE_LIMITS.totalBytes, `${most} bytes with ${replyBytes}-byte replies`);
      assert.ok(store.stats.entries < DEFAULT_EXCHANGE_LIMITS.total, `${store.stats.entries} exchanges with a ${replyBytes}-byte reply`);
    }
  });

  it('the charge covers what an exchange costs in memory (heap and outside it)', () => {
    const n = 8192;
    let charged = 0;
    const real = bytesPerItem(n, () => {
      const store = new ExchangeStore(() => 0, { perAddress: n, total: n, totalBytes: 2 ** 40 });
      for (let i = 0; i < n; i++) {
        // An address string of its own per request, as each datagram's rinfo has.
        const taken = store.take(['::ffff:192.0.2', (i >> 8) & 255, i & 255].join('.'), 40000 + (i % 1000), i & 0xffff, true, 12);
        if ('begun' in taken) store.recordReply(taken.begun, Buffer.alloc(70, 0x45));
      }
      charged = store.stats.bytes / n;
      return store;
    });
    assert.ok(real <= charged, `an exchange costs ${real.toFixed(0)} bytes and is charged ${charged.toFixed(0)}`);
    assert.ok(real >= charged / 2, `the charge (${charged.toFixed(0)}) is not far above the cost (${real.toFixed(0)})`);
  });
});

const temp = (r: { messageId?: number; token?: Buffer; confirmable?: boolean } = {}) => requestDatagram({ options: pathOptions('/temp'), ...r });

describe('duplicates through the gateway (real UDP)', () => {
  let gw: TestGateway;
  let client: RawClient;
  const moduleReads = () => gw.service.stats().sensors['tmp102']!.moduleReads;
  const clock = () => gw.clock as ManualClock;

  before(async () => {
    gw = await startTestGateway({ simCelsius: 20 });
    client = await RawClient.open('127.0.0.1', gw.port);
  });

  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('a duplicate CON, even with another token, gets the byte-identical reply and is processed once', async () => {
    clock().advanceMs(300); // past any earlier reading's freshness
    const first = await client.exchange(temp({ messageId: 0x7001, token: Buffer.from('t1') }));
    assert.equal(first?.code, '2.05');
    const reads = moduleReads();
    const calls = gw.service.get('tmp102')!.module.stats.calls;
    const duplicates = gw.server.exchanges.duplicates;
    clock().advanceMs(300); // processing it again would read the sensor again, at a new time
    const again = await client.exchange(temp({ messageId: 0x7001, token: Buffer.from('t2-other') }));
    assert.ok(again);
    assert.equal(again.raw.toString('hex'), first.raw.toString('hex'));
    assert.deepEqual(again.packet.token, Buffer.from('t1'), 'it is the first reply, with the first token');
    assert.equal(moduleReads(), reads);
    assert.equal(gw.service.get('tmp102')!.module.stats.calls, calls);
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);
  });

  it('a duplicate NON is ignored: one response, one read; a new Message ID is a new request', async () => {
    clock().advanceMs(300);
    const reads = moduleReads();
    const duplicates = gw.server.exchanges.duplicates;
    const datagram = temp({ confirmable: false, messageId: 0x4242 });
    const first = await client.exchange(datagram);
    assert.equal(first?.code, '2.05');
    assert.equal(first.packet.confirmable, false);
    clock().advanceMs(300);
    client.send(datagram);
    assert.equal(await client.next(300), undefined, 'the duplicate is ignored');
    assert.equal(moduleReads() - reads, 1);
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);
    const next = await client.exchange(temp({ confirmable: false, messageId: 0x4243 }));
    assert.equal(next?.code, '2.05');
    assert.equal(moduleReads() - reads, 2);
  });

  it('after its lifetime a Message ID is a new request again: 247 s for a CON, 145 s for a NON', async () => {
    const con = temp({ messageId: 0x7201, token: Buffer.from('life') });
    const non = temp({ confirmable: false, messageId: 0x7202 });
    clock().advanceMs(300);
    const first = await client.exchange(con);
    assert.equal((await client.exchange(non))?.code, '2.05');
    const duplicates = gw.server.exchanges.duplicates;

    clock().advanceMs(NON_LIFETIME_MS);
    const nonAgain = await client.exchange(non);
    assert.equal(nonAgain?.code, '2.05', 'the NON is answered again after NON_LIFETIME');
    const conDuplicate = await client.exchange(con);
    assert.deepEqual(conDuplicate?.raw, first?.raw, 'the CON is still a duplicate at 145 s');
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);

    clock().advanceMs(EXCHANGE_LIFETIME_MS - NON_LIFETIME_MS);
    const reads = moduleReads();
    const conAgain = await client.exchange(con);
    assert.equal(conAgain?.code, '2.05');
    assert.equal(conAgain.packet.messageId, 0x7201);
    assert.notDeepEqual(conAgain.raw, first?.raw, 'processed again, not replayed');
    assert.equal(moduleReads(), reads + 1);
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);
  });

  it('/gw/stats reports the store under "exchanges"', async () => {
    const res = await client.exchange(requestDatagram({ options: pathOptions('/gw/stats') }));
    assert.equal(res?.code, '2.05');
    const body = res.cbor as { exchanges: { entries: number; evicted: number; duplicates: number }; responseCache?: unknown };
    assert.deepEqual(Object.keys(body.exchanges).sort(), ['bytes', 'duplicates', 'entries', 'evicted']);
    const { bytes, ...rest } = body.exchanges as typeof body.exchanges & { bytes: number };
    const { bytes: bytesNow, ...restNow } = gw.server.exchanges;
    assert.deepEqual(rest, restNow, 'the stats request itself was taken before the snapshot');
    assert.ok(bytes > 0 && bytes < bytesNow, `${bytes} bytes before its own reply was recorded, ${bytesNow} after`);
    assert.ok(body.exchanges.entries > 0);
    assert.ok(body.exchanges.duplicates >= 3);
    assert.equal(body.responseCache, undefined);
  });
});

/** Sends every datagram, then waits for as many replies (RawClient queues them): a burst, not a lock-step. */
async function burst(client: RawClient, datagrams: Buffer[]): Promise<Response[]> {
  for (const d of datagrams) client.send(d);
  const out: Response[] = [];
  for (let i = 0; i < datagrams.length; i++) {
    const raw = await client.next(1000);
    if (raw === undefined) break;
    out.push(toResponse(raw));
  }
  return out;
}

describe('the bounds through the gateway (real UDP, perAddress 4, total 8)', () => {
  const LIMITS = { perAddress: 4, total: 8 };
  let gw: TestGateway;
  const clients: RawClient[] = [];
  const open = async (localAddress: string) => {
    const c = await RawClient.open('127.0.0.1', gw.port, localAddress);
    clients.push(c);
    return c;
  };

  before(async () => {
    gw = await startTestGateway({ exchanges: LIMITS });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.close();
  });

  it('a flood from one address does not push another address\'s exchange out; the flooder forgets its own oldest', async () => {
    const quiet = await open('127.0.0.2');
    const flooder = await open('127.0.0.1');
    const held = temp({ messageId: 0x7301, token: Buffer.from('quiet') });
    const first = await quiet.exchange(held);
    assert.equal(first?.code, '2.05');
    const own = temp({ messageId: 0x7302, token: Buffer.from('own') });
    const ownFirst = await flooder.exchange(own);
    assert.equal(ownFirst?.code, '2.05');

    const evicted = gw.server.exchanges.evicted;
    const replies = await burst(flooder, Array.from({ length: 200 }, () => temp()));
    assert.equal(replies.length, 200, 'every request of the flood is answered');
    assert.ok(replies.every((r) => r.code === '2.05'));
    assert.ok(gw.server.exchanges.entries <= LIMITS.total);
    assert.ok(gw.server.exchanges.evicted - evicted >= 200 - LIMITS.perAddress, `evicted ${gw.server.exchanges.evicted - evicted}`);

    (gw.clock as ManualClock).advanceMs(300); // a re-read would be a newer reading
    const calls = gw.service.get('tmp102')!.module.stats.calls;
    const duplicates = gw.server.exchanges.duplicates;
    const again = await quiet.exchange(held);
    assert.deepEqual(again?.raw, first.raw, 'the quiet host\'s exchange is still held');
    assert.equal(gw.service.get('tmp102')!.module.stats.calls, calls, 'and not processed again');
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);

    // The flooder's own first exchange went at its bound: its duplicate is processed afresh (GET is idempotent, section 4.5).
    const ownAgain = await flooder.exchange(own);
    assert.equal(ownAgain?.code, '2.05');
    assert.equal(ownAgain.packet.messageId, 0x7302);
    assert.deepEqual(ownAgain.packet.token, Buffer.from('own'));
    assert.notDeepEqual(ownAgain.raw, ownFirst.raw, 'processed again, not replayed');
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);
  });

  it('thousands of requests from many addresses keep the store within its total, every one answered', async () => {
    const many = await Promise.all(Array.from({ length: 12 }, (_, i) => open(`127.0.0.${10 + i}`)));
    const evicted = gw.server.exchanges.evicted;
    let answered = 0;
    let most = 0;
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(many.map((c) => burst(c, Array.from({ length: 25 }, () => temp({ confirmable: round % 2 === 0 })))));
      for (const r of replies) answered += r.filter((x) => x.code === '2.05').length;
      most = Math.max(most, gw.server.exchanges.entries);
    }
    assert.equal(answered, 3000);
    assert.ok(most <= LIMITS.total, `at most ${most} entries held`);
    assert.equal(gw.server.exchanges.entries, LIMITS.total, 'full to its bound, no further');
    assert.ok(gw.server.exchanges.evicted - evicted >= 3000 - LIMITS.total, `evicted ${gw.server.exchanges.evicted - evicted}`);
  });
});

describe('the byte bound through the gateway (real UDP, large replies)', () => {
  // Room for about 6 exchanges whose reply is /gw/stats whole (a few hundred bytes to a verified address).
  const TOTAL_BYTES = 6 * exchangeBytes('127.0.0.1|65535|65535'.length, 500) + ADDRESS_BYTES;
  let gw: TestGateway;
  let client: RawClient;

  before(async () => {
    gw = await startTestGateway({ exchanges: { totalBytes: TOTAL_BYTES } });
    client = await RawClient.open('127.0.0.1', gw.port);
  });

  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('replies of hundreds of bytes: the store stays under totalBytes, the oldest forgotten and counted in /gw/stats', async () => {
    const stats = (messageId: number) => requestDatagram({ options: pathOptions('/gw/stats'), messageId, token: Buffer.from([messageId & 0xff]) });
    const first = await client.exchange(stats(0x7400));
    assert.equal(first?.code, '2.05');
    assert.ok(first.raw.length > 300, `a reply of ${first.raw.length} bytes`);
    let most = 0;
    let last: Response | undefined;
    for (let i = 1; i <= 40; i++) {
      last = await client.exchange(stats(0x7400 + i));
      assert.equal(last?.code, '2.05');
      most = Math.max(most, gw.server.exchanges.bytes);
    }
    assert.ok(most <= TOTAL_BYTES, `at most ${most} of ${TOTAL_BYTES} bytes`);
    assert.ok(gw.server.exchanges.entries <= 7, `${gw.server.exchanges.entries} exchanges held`);
    assert.ok(gw.server.exchanges.evicted >= 34, `${gw.server.exchanges.evicted} forgotten early`);
    const body = last!.cbor as { exchanges: { bytes: number; evicted: number } };
    assert.ok(body.exchanges.bytes <= TOTAL_BYTES && body.exchanges.evicted >= 33, `/gw/stats says ${JSON.stringify(body.exchanges)}`);

    const duplicates = gw.server.exchanges.duplicates;
    const again = await client.exchange(stats(0x7400 + 40));
    assert.deepEqual(again?.raw, last!.raw, 'the newest exchange is held: its duplicate gets the same bytes');
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);
    const oldest = await client.exchange(stats(0x7400));
    assert.equal(oldest?.code, '2.05');
    assert.notDeepEqual(oldest.raw, first.raw, 'the oldest was forgotten: processed again (its uptime and counters moved on)');
    assert.equal(gw.server.exchanges.duplicates, duplicates + 1);
  });
});

describe('a duplicate of a request answered separately (RFC 7252 section 5.2.2; workers, real time)', { skip: TEST_MODULES_SKIP }, () => {
  let gw: TestGateway;

  before(async () => {
    const config = defaultConfig({ driver: 'simulated' });
    const base = config.sensors[0]!;
    // A module that never answers, stopped at 800 ms: later than the 500 ms the server waits
    // before it sends an Empty ACK and the response separately.
    config.sensors.push({ ...base, name: 'slow', path: '/slow', module: wasmPath('test/loop'), address: 0x50, grant: { bus: 1, addresses: [0x50] }, settings: {}, limits: resolveModuleLimits({ deadlineMs: 800, quarantineAfterFaults: 100 }), simulation: { kind: 'constant', celsius: 30 } });
    // ACK_TIMEOUT 200 ms, no random part: the separate response comes again 200 ms after it went, then 400 ms later.
    gw = await startTestGateway({ clock: new SystemClock(), config, observeTiming: { ackTimeoutMs: 200, ackRandomFactor: 1 }, random: () => 0 });
  });

  after(async () => {
    await gw?.close();
  });

  it('is dropped while pending, gets the Empty ACK again once one went; the separate response is retransmitted until acknowledged', async () => {
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const token = Buffer.from('slow');
      const request = requestDatagram({ options: pathOptions('/slow'), messageId: 0x7100, token });
      const duplicates = gw.server.exchanges.duplicates;
      client.send(request);
      await new Promise((r) => setTimeout(r, 100));
      client.send(request);
      assert.equal(await client.next(200), undefined, 'a duplicate of a request still being answered gets nothing yet');
      assert.equal(gw.server.exchanges.duplicates, duplicates + 1);

      const emptyAck = toResponse((await client.next(1000))!);
      assert.equal(emptyAck.packet.ack, true);
      assert.equal(emptyAck.code, '0.00');
      assert.equal(emptyAck.packet.messageId, 0x7100);
      client.send(request);
      const emptyAckAgain = await client.next(200);
      assert.deepEqual(emptyAckAgain, emptyAck.raw, 'the duplicate gets the Empty ACK again');
      assert.equal(gw.server.exchanges.duplicates, duplicates + 2);

      const separate = toResponse((await client.next(1000))!);
      assert.equal(separate.packet.confirmable, true);
      assert.notEqual(separate.packet.messageId, 0x7100, 'a separate response has a Message ID of its own');
      assert.deepEqual(separate.packet.token, token);
      assert.equal((separate.cbor as { code: string }).code, 'GW_ERR_SENSOR_TIMEOUT');
      // Not acknowledged: it comes again after ACK_TIMEOUT (section 4.2).
      const retransmission = await client.next(1000);
      assert.ok(retransmission, 'the separate response is retransmitted');
      assert.deepEqual(retransmission, separate.raw);
      client.send(emptyMessage('ack', separate.packet.messageId));
      assert.equal(await client.next(700), undefined, 'acknowledged: no more retransmissions');

      client.send(request);
      assert.deepEqual(await client.next(200), emptyAck.raw, 'after the separate response, a duplicate still gets the Empty ACK, not a second processing');
      assert.equal(gw.server.exchanges.duplicates, duplicates + 3);
    } finally {
      await client.close();
    }
  });
});
