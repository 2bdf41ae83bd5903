/**
 * The fast path (gateway/coap/fast-path.ts): a confirmable GET of a fresh reading answered
 * without node-coap, with the same bytes node-coap would send, and everything else left to
 * node-coap. Real UDP, simulated TMP102, ManualClock (no time passes unless a test moves it).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { RawClient, type Response, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';

/** Everything but the Message ID and token: the type, code, options and payload bytes. */
function body(res: Response): string {
  const tokenLength = res.raw[0]! & 0x0f;
  return `${res.raw[0]! & 0xf0}/${res.raw.subarray(1, 2).toString('hex')}/${res.raw.subarray(4 + tokenLength).toString('hex')}`;
}

describe('the fast path', () => {
  let gw: TestGateway;
  let client: RawClient;

  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
    client = await RawClient.open('127.0.0.1', gw.port);
  });

  after(async () => {
    await client.close();
    await gw.close();
  });

  beforeEach(async () => {
    // A new conversion period: the next GET has to read, so it goes through node-coap.
    (gw.clock as ManualClock).advanceMs(300);
    client.drain();
  });

  it('answers a GET of a fresh reading with the bytes node-coap sent for the one that read it', async () => {
    const before = gw.server.fastPathAnswers;
    const slow = await client.exchange(requestDatagram({ options: pathOptions('/temp'), messageId: 0x5001, token: Buffer.from('slow') }));
    assert.equal(gw.server.fastPathAnswers, before, 'the first GET of a period reads: node-coap answers it');
    const fast = await client.exchange(requestDatagram({ options: pathOptions('/temp'), messageId: 0x5002, token: Buffer.from('fast') }));
    assert.equal(gw.server.fastPathAnswers, before + 1);
    assert.ok(slow && fast);
    assert.equal(fast.packet.ack, true);
    assert.equal(fast.packet.messageId, 0x5002);
    assert.deepEqual(fast.packet.token, Buffer.from('fast'));
    assert.equal(body(fast), body(slow), 'same type, code, options and payload');
    assert.deepEqual(fast.cbor, { sensor: 'tmp102', value: 21.5, unit: 'Cel', time: (slow.cbor as { time: number }).time, sim: true });
  });

  it('answers each variant (Accept, unit, precision) as node-coap does', async () => {
    for (const [path, accept] of [['/temp?unit=K&precision=1', undefined], ['/temp', 50], ['/temp', 112], ['/temp', 0]] as const) {
      (gw.clock as ManualClock).advanceMs(300);
      const options = [...pathOptions(path), ...(accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }])];
      const before = gw.server.fastPathAnswers;
      const slow = await client.exchange(requestDatagram({ options }));
      const fast = await client.exchange(requestDatagram({ options }));
      assert.equal(gw.server.fastPathAnswers, before + 1, `${path} Accept ${accept}`);
      assert.ok(slow && fast);
      // Content-Format 0 (text/plain): node-coap writes the value as one zero byte, the fast path
      // as the empty value RFC 7252 section 3.2 asks for ("the number 0 is represented with an
      // empty option value"). Both mean 0; everything else is the same.
      const expected = accept === 0 ? body(slow).replace('/c100', '/c0') : body(slow);
      assert.equal(body(fast), expected, `${path} Accept ${accept}`);
    }
  });

  it('a duplicate of a fast-path exchange gets the same bytes, and nothing is read', async () => {
    await client.exchange(requestDatagram({ options: pathOptions('/temp') }));
    const req = requestDatagram({ options: pathOptions('/temp'), messageId: 0x5003, token: Buffer.from('dup') });
    const first = await client.exchange(req);
    const calls = gw.service.get('tmp102')!.module.stats.calls;
    const answered = gw.server.fastPathAnswers;
    const again = await client.exchange(req);
    assert.ok(first && again);
    assert.deepEqual(again.raw, first.raw);
    assert.equal(gw.server.fastPathAnswers, answered, 'a duplicate is not a new answer');
    assert.equal(gw.service.get('tmp102')!.module.stats.calls, calls);
  });

  it('leaves to node-coap: NON, other options, unknown paths, refusals', async () => {
    await client.exchange(requestDatagram({ options: pathOptions('/temp') })); // the reading is fresh from here
    const before = gw.server.fastPathAnswers;
    const non = await client.exchange(requestDatagram({ options: pathOptions('/temp'), confirmable: false }));
    assert.equal(non?.code, '2.05');
    assert.equal(non.packet.confirmable, false);
    assert.equal(non.packet.ack, false);
    const etag = await client.exchange(requestDatagram({ options: [{ name: 'ETag', value: Buffer.from([1, 2]) }, ...pathOptions('/temp')] }));
    assert.equal(etag?.code, '2.05');
    const unknown = await client.exchange(requestDatagram({ options: pathOptions('/nothing') }));
    assert.equal(unknown?.code, '4.04');
    const notAcceptable = await client.exchange(requestDatagram({ options: [...pathOptions('/temp'), { name: 'Accept', value: uint(41) }] }));
    assert.equal(notAcceptable?.code, '4.06');
    const badParameter = await client.exchange(requestDatagram({ options: pathOptions('/temp?unit=F') }));
    assert.equal(badParameter?.code, '4.00');
    const stats = await client.exchange(requestDatagram({ options: pathOptions('/gw/stats') }));
    assert.equal(stats?.code, '2.05');
    assert.equal(gw.server.fastPathAnswers, before, 'none of these went the fast way');
  });

  it('a failing sensor is never answered from the fast path: the failure is reported', async () => {
    gw.sim.inject('nack');
    try {
      const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }));
      assert.equal(res?.code, '5.03');
      const again = await client.exchange(requestDatagram({ options: pathOptions('/temp') }));
      assert.equal(again?.code, '5.03', 'the held failure, not an older reading');
    } finally {
      gw.sim.clearFault();
    }
  });
});
