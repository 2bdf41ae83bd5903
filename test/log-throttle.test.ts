/**
 * Failures repeated by every request of a flood are logged once per path, code and 10 s
 * (gateway/log-throttle.ts), with the count of what was held back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { LogThrottle } from '../gateway/log-throttle.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { startTestGateway } from './helpers/gateway.ts';

describe('LogThrottle', () => {
  it('lets the first line through, counts the rest for an interval, then reports the count', () => {
    let now = 0;
    const t = new LogThrottle(() => now, { intervalMs: 10_000 });
    assert.equal(t.take('a'), 0);
    for (let i = 0; i < 5; i++) assert.equal(t.take('a'), undefined);
    assert.equal(t.take('b'), 0, 'another key is not held back');
    now = 10_000;
    assert.equal(t.take('a'), 5);
    assert.equal(t.take('a'), undefined);
  });

  it('forgets the oldest key past its bound', () => {
    const t = new LogThrottle(() => 0, { maxKeys: 2 });
    t.take('a');
    t.take('b');
    t.take('c');
    assert.equal(t.take('a'), 0, 'a was forgotten: logged again');
    assert.equal(t.take('c'), undefined);
  });
});

describe('a sensor failing under a flood of requests', () => {
  it('logs one warning per 10 s, not one per request, and every request still gets its 5.03', async () => {
    const logger = new MemoryLogger('warn');
    const gw = await startTestGateway({ logger });
    const client = await RawClient.open('127.0.0.1', gw.port);
    const clock = gw.clock as ManualClock;
    try {
      gw.sim.inject('nack');
      clock.advanceMs(300);
      const failed = () => logger.entries.filter((e) => e.msg === 'request failed');
      for (let i = 0; i < 50; i++) {
        const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }));
        assert.equal(res?.code, '5.03');
        clock.advanceMs(100);
      }
      assert.equal(failed().length, 1);
      clock.advanceMs(10_000);
      assert.equal((await client.exchange(requestDatagram({ options: pathOptions('/temp') })))?.code, '5.03');
      assert.equal(failed().length, 2);
      assert.deepEqual(failed()[1]!.fields, { component: 'coap', path: '/temp', code: '5.03', alsoFailedSinceLastLine: 49 });
    } finally {
      gw.sim.clearFault();
      await client.close();
      await gw.close();
    }
  });
});
