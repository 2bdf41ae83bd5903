/**
 * Echo as address verification (RFC 9175 section 2.4, echo-values.ts): a response that the
 * amplification budget cut short for an unverified address carries an Echo option; a request
 * that repeats it verifies the address, and from then on that address gets full-size
 * responses. A forged value, or one issued to another address, verifies nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawClient, block2Of, block2Value, optionValue, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { LIBCOAP_CLIENT, LIBCOAP_HINT, peerOrSkip, runProcess } from './helpers/peers.ts';
import { canBind } from './helpers/can-bind.ts';

const ECHO = '252';

function discovery(extra: { name: string; value: Buffer }[] = [], token?: Buffer): Buffer {
  return requestDatagram({ options: [...pathOptions('/.well-known/core'), ...extra], ...(token ? { token } : {}) });
}


const SECOND_LOOPBACK_SKIP = (await canBind('127.0.0.2')) ? false : 'cannot bind 127.0.0.2 here';

describe('Echo verifies a client address (RFC 9175 section 2.4)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
  });
  after(async () => {
    await gw.close();
  });

  it('a response cut for the budget carries Echo; repeating it verifies the address, and the next transfer gets full blocks', async () => {
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const req = discovery();
      const first = (await client.exchange(req))!;
      assert.equal(first.code, '2.05');
      assert.ok(first.raw.length <= Math.max(3 * req.length, 128), 'within the budget, Echo included');
      const echo = optionValue(first.packet, ECHO);
      assert.ok(echo, 'the cut response carries an Echo option');
      assert.equal(echo.length, 12);
      const small = block2Of(first)!;
      assert.ok(small.size < 1024, `a small block while unverified (${small.size})`);

      // The client echoes the value in its next request (RFC 9175 section 2.3).
      const next = (await client.exchange(discovery([{ name: 'Block2', value: block2Value(small.num + 1, small.szx) }, { name: ECHO, value: echo }])))!;
      assert.equal(next.code, '2.05');
      assert.equal(optionValue(next.packet, ECHO), undefined, 'verified now: no more Echo');

      const again = (await client.exchange(discovery()))!;
      assert.equal(again.code, '2.05');
      assert.equal(optionValue(again.packet, ECHO), undefined);
      const b = block2Of(again);
      assert.ok(b === undefined || b.size === 1024, `full-size now (${b?.size ?? 'whole'})`);
      assert.ok(again.raw.length > first.raw.length, 'a larger response than the budget allowed before');
    } finally {
      client.close();
    }
  });

  it('a forged Echo value verifies nothing', async () => {
    // A gateway of its own: the first test verified 127.0.0.1 on the shared one.
    const own = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
    const c = await RawClient.open('127.0.0.1', own.port);
    try {
      await c.exchange(discovery([{ name: ECHO, value: Buffer.alloc(12, 0x5a) }]));
      const res = (await c.exchange(discovery()))!;
      assert.ok(optionValue(res.packet, ECHO), 'still unverified: the response carries Echo again');
      assert.ok(block2Of(res)!.size < 1024);
    } finally {
      c.close();
      await own.close();
    }
  });

  it('an Echo value sent to one address does not verify another', { skip: SECOND_LOOPBACK_SKIP }, async () => {
    const own = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
    const a = await RawClient.open('127.0.0.1', own.port);
    const b = await RawClient.open('127.0.0.1', own.port, '127.0.0.2');
    try {
      const echo = optionValue((await a.exchange(discovery()))!.packet, ECHO)!;
      assert.ok(echo);
      await b.exchange(discovery([{ name: ECHO, value: echo }]));
      const res = (await b.exchange(discovery()))!;
      assert.ok(optionValue(res.packet, ECHO), '127.0.0.2 is still unverified');
      const resA = (await a.exchange(discovery()))!;
      assert.ok(optionValue(resA.packet, ECHO), '127.0.0.1 too: it never echoed');
    } finally {
      a.close();
      b.close();
      await own.close();
    }
  });

  it('libcoap (coap-client-notls 4.3.1) echoes the value by itself, and its address is verified from then on', async (t) => {
    const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
    if (bin === undefined) return;
    const own = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
    try {
      const run = await runProcess(bin, ['-v', '7', '-B', '5', `coap://127.0.0.1:${own.port}/.well-known/core`]);
      const sent = run.stdout.toString('utf8').split('\n').filter((l) => l.includes('t:CON c:GET'));
      assert.ok(sent.length >= 2, `block-wise: several requests (${sent.length})`);
      assert.match(sent[1]!, /Echo:0x[0-9a-f]{24}/, 'the second request repeats the Echo of the first response');
      const c = await RawClient.open('127.0.0.1', own.port);
      try {
        const res = (await c.exchange(discovery()))!;
        assert.equal(optionValue(res.packet, ECHO), undefined, '127.0.0.1 is verified now');
      } finally {
        c.close();
      }
    } finally {
      await own.close();
    }
  });
});
