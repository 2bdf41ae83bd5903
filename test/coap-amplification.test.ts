/**
 * The amplification policy (RFC 7252 section 11.3; RFC 7641 section 7 for Observe): a UDP
 * server must not turn a small datagram with a spoofed source address into a much larger one,
 * or into a stream of them, aimed at a victim.
 *
 * An "unverified" source is an endpoint address that has never acknowledged a confirmable
 * message of ours. To one, a response datagram is at most max(3 x the request datagram, 128)
 * bytes: error bodies carry only the catalogue code, large representations go out block-wise
 * (RFC 7959 section 2.4: the server may choose the block size of a response to a request
 * without Block2), a confirmable notification is not retransmitted and an unanswered one ends
 * the observation. The Observe table is bounded per source address and in all, and a full table
 * makes room by evicting the oldest registration never acknowledged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode } from 'cbor-x';
import type { ManualClock } from '../drivers/clock.ts';
import { RawClient, type Response, block2Of, block2Value, emptyMessage, observeRequest, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient, turn } from './helpers/observe-client.ts';
import { canBind } from './helpers/can-bind.ts';

type Opt = { name: string; value: Buffer };

/** The largest response datagram an unverified source may get for `request`. */
function budget(request: Buffer): number {
  return Math.max(3 * request.length, 128);
}

function get(path: string, extra: Opt[] = [], more: Parameters<typeof requestDatagram>[0] = {}): Buffer {
  return requestDatagram({ ...more, options: [...pathOptions(path), ...extra] });
}

const EXTRA_LOOPBACK_SKIP = (await canBind('127.0.0.2')) ? undefined : 'cannot bind 127.0.0.2 here (needs all of 127.0.0.0/8 on loopback, as on Linux)';

/**
 * Reads on block-wise from a first response that came with Block2 M=1, in its block size, each
 * block a new request with the first one's token. Checks every reply against the budget.
 */
async function readOn(client: RawClient, path: string, first: Response, token: Buffer): Promise<Buffer> {
  const parts = [first.packet.payload];
  let b = block2Of(first)!;
  for (let i = 0; b.more && i < 400; i++) {
    const req = get(path, [{ name: 'Block2', value: block2Value(b.num + 1, b.szx) }], { token });
    const res = await client.exchange(req);
    assert.ok(res, `no reply to block ${b.num + 1} of ${path}`);
    assert.equal(res.code, '2.05', `block ${b.num + 1} of ${path}`);
    assert.ok(res.raw.length <= budget(req), `block ${b.num + 1} of ${path}: ${res.raw.length} bytes for a ${req.length}-byte request (budget ${budget(req)})`);
    const next = block2Of(res);
    assert.ok(next, `block ${b.num + 1} of ${path} carries Block2`);
    assert.equal(next.num * next.size, parts.reduce((n, p) => n + p.length, 0), 'blocks follow each other');
    parts.push(res.packet.payload);
    b = next;
  }
  assert.equal(b.more, false, `${path}: the last block has M=0`);
  return Buffer.concat(parts);
}

describe('amplification: responses to unverified sources (RFC 7252 section 11.3)', () => {
  let gw: TestGateway;
  let client: RawClient;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  it('1. error responses carry only the catalogue code, within the budget', async () => {
    const cases: Array<[string, Buffer, string, string]> = [
      ['GET /temp?unit=X', get('/temp?unit=X'), '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'],
      ['GET /temp?unit=X (NON)', get('/temp?unit=X', [], { confirmable: false }), '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'],
      ['GET /temp?precision=9', get('/temp?precision=9'), '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'],
      ['GET /temp with If-Match', get('/temp', [{ name: 'If-Match', value: Buffer.from('x') }]), '4.02', 'GW_ERR_REQUEST_BAD_OPTION'],
      ['PUT /temp', get('/temp', [], { code: '0.03' }), '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED'],
      ['GET /temp Accept 41', get('/temp', [{ name: 'Accept', value: uint(41) }]), '4.06', 'GW_ERR_REQUEST_NOT_ACCEPTABLE'],
      ['FETCH /temp without Content-Format', get('/temp', [], { code: '0.05' }), '4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT'],
    ];
    for (const [what, req, code, errorCode] of cases) {
      const res = await client.exchange(req);
      assert.ok(res, `${what}: no reply`);
      assert.equal(res.code, code, what);
      assert.deepEqual(res.cbor, { code: errorCode }, `${what}: the code alone, no "detail"`);
      assert.ok(res.raw.length <= budget(req), `${what}: ${res.raw.length} bytes for a ${req.length}-byte request (budget ${budget(req)})`);
    }
  });

  it('2. /gw/stats and /.well-known/core without Block2: the first block within the budget (M=1), the rest read on', async () => {
    for (const path of ['/gw/stats', '/.well-known/core']) {
      const token = Buffer.from([0xb2, path.length]);
      const req = get(path, [], { token });
      const first = await client.exchange(req);
      assert.ok(first, `${path}: no reply`);
      assert.equal(first.code, '2.05', path);
      assert.ok(first.raw.length <= budget(req), `${path}: ${first.raw.length} bytes for a ${req.length}-byte request (budget ${budget(req)})`);
      const b = block2Of(first);
      assert.ok(b, `${path}: the reply carries Block2 (RFC 7959 section 2.4)`);
      assert.equal(b.num, 0);
      assert.equal(b.more, true, `${path}: M=1, more to come`);
      const whole = await readOn(client, path, first, token);
      if (path === '/gw/stats') {
        const map = cborDecode(whole) as Record<string, unknown>;
        assert.ok(map !== null && typeof map === 'object' && 'requests' in map && 'sensors' in map, `${path}: one CBOR map`);
      } else {
        assert.match(whole.toString(), /<\/temp>/);
        assert.match(whole.toString(), /<\/gw\/stats>/);
      }
    }
  });

  it('3. reply bytes / request bytes stays within max(3, 128 / request bytes) for every resource, CON and NON', async (t) => {
    const empty = Buffer.alloc(0);
    const accept = (n: number): Opt => ({ name: 'Accept', value: uint(n) });
    const cases: Array<[string, string, Opt[]]> = [
      ...[60, 112, 110, 50, 0].map((n): [string, string, Opt[]] => [`GET /temp Accept ${n}`, '/temp', [accept(n)]]),
      ['GET /temp/alert', '/temp/alert', []],
      ['GET /gw/stats', '/gw/stats', []],
      ['GET /.well-known/core', '/.well-known/core', []],
      ['GET /x (4.04)', '/x', []],
      ['GET /temp If-Match (4.02)', '/temp', [{ name: 'If-Match', value: empty }]],
    ];
    const rows: string[] = [];
    const over: string[] = [];
    for (const [what, path, extra] of cases) {
      for (const confirmable of [true, false]) {
        const req = get(path, extra, { token: empty, confirmable });
        const res = await client.exchange(req);
        const type = confirmable ? 'CON' : 'NON';
        if (!res) {
          over.push(`${what} ${type}: no reply`);
          continue;
        }
        const ratio = res.raw.length / req.length;
        const limit = Math.max(3, 128 / req.length);
        const kind = res.packet.reset ? 'RST' : `${res.code}${block2Of(res)?.more ? ' M=1' : ''}`;
        rows.push(`${(what + ' ' + type).padEnd(34)} ${String(req.length).padStart(4)} ${String(res.raw.length).padStart(6)} ${ratio.toFixed(2).padStart(6)} ${limit.toFixed(2).padStart(6)}  ${kind}`);
        if (ratio > limit) over.push(`${what} ${type}: ${res.raw.length} / ${req.length} = ${ratio.toFixed(2)} > ${limit.toFixed(2)}`);
      }
    }
    t.diagnostic(`${'request'.padEnd(34)} ${'req'.padStart(4)} ${'reply'.padStart(6)} ${'ratio'.padStart(6)} ${'limit'.padStart(6)}  reply`);
    for (const row of rows) t.diagnostic(row);
    assert.deepEqual(over, []);
  });
});

describe('amplification: Observe (RFC 7641 section 7)', () => {
  let gw: TestGateway | undefined;
  const clients: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const c of clients.splice(0)) await c.close();
    await gw?.close();
  });

  /** 60 s of the gateway's time in 50 ms steps, the temperature moving every second; returns what arrived. */
  async function longSilence(g: TestGateway, c: ObserveClient): Promise<number> {
    const clock = g.clock as ManualClock;
    let received = 0;
    for (let step = 1; step <= 1200; step++) {
      if (step % 20 === 0) g.sim.setTemperature(20 + (step % 40 === 0 ? 1 : 2));
      clock.advanceMs(50);
      await turn();
      await turn();
      received += c.collect(clock).length;
    }
    received += (await c.settle(clock)).length;
    return received;
  }

  for (const confirmable of [true, false]) {
    it(`4. a ${confirmable ? 'CON' : 'NON'} registration never acknowledged: at most 2 datagrams, then the observation ends`, async (t) => {
      await gw?.close();
      gw = await startTestGateway({ simCelsius: 20, observeTiming: { ackTimeoutMs: 100 }, random: () => 0, trustLoopback: false });
      const c = await ObserveClient.open(gw.port);
      clients.push(c);
      c.autoAck = false; // a spoofed source: the victim never answers
      const reg = await c.request('/temp', { token: Buffer.from('v1'), confirmable });
      assert.equal(reg.code, '2.05');
      assert.notEqual(reg.observe, undefined, 'registered');
      assert.equal(gw.server.observers(), 1);
      const later = await longSilence(gw, c);
      t.diagnostic(`60 s, the temperature changing every second: the source received ${1 + later} datagrams`);
      assert.ok(1 + later <= 2, `the source received ${1 + later} datagrams (the registration reply and ${later} more)`);
      assert.equal(gw.server.observers(), 0, 'the observation ended');
    });
  }

  for (const confirmable of [true, false]) {
    it(`5. a ${confirmable ? 'CON' : 'NON'} observer that acknowledges a CON notification keeps being notified`, async () => {
      await gw?.close();
      gw = await startTestGateway({ simCelsius: 20, observeTiming: { ackTimeoutMs: 100 }, random: () => 0, trustLoopback: false });
      const clock = gw.clock as ManualClock;
      const c = await ObserveClient.open(gw.port);
      clients.push(c);
      c.autoAck = true;
      const reg = await c.request('/temp', { token: Buffer.from('v2'), confirmable });
      assert.notEqual(reg.observe, undefined);
      gw.sim.setTemperature(21);
      const first = await c.advance(clock, 400);
      assert.equal(first.length, 1, 'one notification');
      assert.equal(first[0]!.packet.confirmable, true, 'confirmable: it verifies the source');
      await c.settle(clock); // the ACK reaches the gateway
      const values: number[] = [];
      const mids = new Set<number>();
      for (const celsius of [22, 23, 24, 25]) {
        gw.sim.setTemperature(celsius);
        for (const n of await c.advance(clock, 400)) {
          // A retransmission (same Message ID) is the same notification.
          if (!mids.has(n.packet.messageId)) values.push((n.cbor as { value: number }).value);
          mids.add(n.packet.messageId);
        }
        await c.settle(clock);
      }
      assert.deepEqual(values, [22, 23, 24, 25], 'a notification for every change');
      // A long quiet spell does not end it either.
      await c.advance(clock, 10_000, 100);
      assert.equal(gw.server.observers(), 1);
      gw.sim.setTemperature(26);
      const last = await c.advance(clock, 400);
      assert.equal(last.length, 1);
      assert.equal((last[0]!.cbor as { value: number }).value, 26);
    });
  }

  it('6. the Observe table is bounded per address and in all; a full table evicts the oldest never-acknowledged registration', { skip: EXTRA_LOOPBACK_SKIP }, async () => {
    await gw?.close();
    const limits = { perAddress: 64, total: 128 };
    gw = await startTestGateway({ simCelsius: 20, observerLimits: limits, trustLoopback: false });
    const g = gw;
    let most = 0;
    const register = async (c: RawClient, i: number): Promise<Response> => {
      // c.gt=1000: a threshold never crossed, so no notification ever goes out.
      const res = await c.exchange(observeRequest('/temp?c.gt=1000', { token: Buffer.from([0x0b, i >> 8, i & 0xff]) }));
      assert.ok(res, `registration ${i}: no reply`);
      most = Math.max(most, g.server.observers());
      return res;
    };
    const from = async (address: string) => {
      const c = await RawClient.open('127.0.0.1', g.port, address);
      clients.push(c);
      return c;
    };

    const a = await from('127.0.0.1');
    for (let i = 0; i < 100; i++) {
      const res = await register(a, i);
      assert.equal(res.code, '2.05', `registration ${i}`);
      if (i < limits.perAddress) assert.notEqual(res.observe, undefined, `registration ${i} of one address carries Observe`);
      else assert.equal(res.observe, undefined, `registration ${i} of one address: past perAddress, a plain 2.05 (RFC 7641 section 4.1)`);
    }
    assert.equal(g.server.observers(), limits.perAddress);

    const b = await from('127.0.0.2');
    assert.notEqual((await register(b, 1000)).observe, undefined, 'another address still registers');

    // Fill the table: 64 + 1 + 32 + 31 = 128.
    const c3 = await from('127.0.0.3');
    for (let i = 0; i < 32; i++) assert.notEqual((await register(c3, 2000 + i)).observe, undefined, `127.0.0.3 registration ${i}`);
    const c4 = await from('127.0.0.4');
    for (let i = 0; i < 31; i++) assert.notEqual((await register(c4, 3000 + i)).observe, undefined, `127.0.0.4 registration ${i}`);
    assert.equal(g.server.observers(), limits.total);

    const c5 = await from('127.0.0.5');
    assert.notEqual((await register(c5, 4000)).observe, undefined, 'a new address registers in a full table (the oldest unacknowledged one makes room)');
    assert.equal(g.server.observers(), limits.total);
    assert.ok(most <= limits.total, `never more than ${limits.total} observers (saw ${most})`);
  });
});

describe('amplification: verification cannot be had cheaply', () => {
  let gw: TestGateway | undefined;
  const clients: { close(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await gw?.close();
  });

  /** Whether the gateway treats this client's address as verified: error bodies carry `detail` only then. */
  async function verified(c: ObserveClient): Promise<boolean> {
    const res = await c.raw.exchange(get('/temp', [{ name: 'Uri-Query', value: Buffer.from('unit=X') }]));
    assert.equal(res?.code, '4.00');
    return (res.cbor as Record<string, unknown>)['detail'] !== undefined;
  }

  it('a duplicate shorter than its original gets nothing from an unverified address; a true retransmission gets the reply again', async () => {
    await gw?.close();
    gw = await startTestGateway({ simCelsius: 20, trustLoopback: false });
    const c = await RawClient.open('127.0.0.1', gw.port);
    clients.push(c);
    // An unknown elective option (even number, ignored: RFC 7252 section 5.4.1) pads the request
    // to 300 bytes, which buys a budget of 900: the whole of /gw/stats in one datagram.
    const padded = requestDatagram({ messageId: 0x5a5a, token: Buffer.alloc(0), options: [...pathOptions('/gw/stats'), { name: '2050', value: Buffer.alloc(280, 0x61) }] });
    const first = await c.exchange(padded);
    assert.equal(first?.code, '2.05');
    assert.ok(first.raw.length > 300, `a large reply (${first.raw.length} bytes)`);
    c.send(Buffer.from([0x40, 0x01, 0x5a, 0x5a])); // 4 bytes, same Message ID
    assert.equal(await c.next(300), undefined, 'the 4-byte "duplicate" buys nothing');
    const again = await c.exchange(padded);
    assert.deepEqual(again?.raw, first.raw, 'the real retransmission gets the same bytes (RFC 7252 section 4.5)');
  });

  it('an ACK to a NON of ours does not verify the address; an ACK to a CON does', async () => {
    await gw?.close();
    gw = await startTestGateway({ simCelsius: 20, observeTiming: { ackTimeoutMs: 100 }, random: () => 0, trustLoopback: false });
    const clock = gw.clock as ManualClock;
    const c = await ObserveClient.open(gw.port);
    clients.push(c);
    c.autoAck = false;
    const reg = await c.request('/temp', { token: Buffer.from('n1'), confirmable: false });
    assert.equal(reg.packet.confirmable, false, 'a NON response to a NON registration');
    c.raw.send(emptyMessage('ack', reg.packet.messageId));
    await c.settle(clock);
    assert.equal(await verified(c), false, 'an ACK to a NON proves nothing');
    c.autoAck = true; // the notification's ACK goes back at once, within its ACK_TIMEOUT
    gw.sim.setTemperature(21);
    const [n] = await c.advance(clock, 400);
    assert.ok(n?.packet.confirmable, 'the notification to an unverified address is a CON');
    await c.settle(clock);
    assert.equal(await verified(c), true, 'its ACK verifies the address');
  });

  it('an address that sprays ACKs (guessing Message IDs) is not verified by them for 10 minutes', async () => {
    await gw?.close();
    gw = await startTestGateway({ simCelsius: 20, observeTiming: { ackTimeoutMs: 5000 }, random: () => 0, trustLoopback: false });
    const clock = gw.clock as ManualClock;
    const c = await ObserveClient.open(gw.port);
    clients.push(c);
    c.autoAck = false;
    await c.request('/temp', { token: Buffer.from('g1'), confirmable: true });
    for (let mid = 0; mid < 40; mid++) c.raw.send(emptyMessage('ack', mid)); // unmatched guesses
    await c.settle(clock);
    c.autoAck = true; // the right ACK, among the guesses, within its ACK_TIMEOUT
    gw.sim.setTemperature(21);
    const [n] = await c.advance(clock, 400);
    assert.ok(n?.packet.confirmable);
    await c.settle(clock);
    assert.equal(await verified(c), false, 'not believed right after 40 unmatched ACKs');
    assert.equal(gw.server.observers(), 1, 'the matching ACK still counts for its observation');
    await c.advance(clock, 601_000, 10_000);
    gw.sim.setTemperature(22);
    const [m] = await c.advance(clock, 400);
    assert.ok(m?.packet.confirmable, 'still unverified: the next notification is a CON too');
    await c.settle(clock);
    assert.equal(await verified(c), true, '10 minutes later, an ACK verifies it again');
  });
});
