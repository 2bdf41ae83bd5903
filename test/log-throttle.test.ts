/**
 * Failures repeated by every request of a flood are logged once per path, code and 10 s
 * (gateway/log-throttle.ts), with the count of what was held back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { LogThrottle, logThrottled } from '../gateway/log-throttle.ts';
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

  it('carries on from a snapshot: a fresh module worker does not get a fresh budget', () => {
    let now = 0;
    const t = new LogThrottle(() => now);
    t.take('denied');
    t.take('denied');
    t.take('denied');
    const next = new LogThrottle(() => now, { from: structuredClone(t.snapshot()) });
    now = 5_000;
    assert.equal(next.take('denied'), undefined, 'still within the interval the first one started');
    now = 10_000;
    assert.equal(next.take('denied'), 3, 'the held-back count came along');
  });

  it('logThrottled writes the first line, holds the rest, and says how many the next one stands for', () => {
    let now = 0;
    const t = new LogThrottle(() => now);
    const logger = new MemoryLogger();
    for (let i = 0; i < 1000; i++) logThrottled(t, logger, 'warn', 'k', 'denied I2C access', { address: '0x49' });
    assert.deepEqual(logger.entries, [{ level: 'warn', msg: 'denied I2C access', fields: { address: '0x49' } }]);
    now = 10_000;
    logThrottled(t, logger, 'warn', 'k', 'denied I2C access', { address: '0x49' });
    assert.deepEqual(logger.entries[1], { level: 'warn', msg: 'denied I2C access', fields: { address: '0x49', alsoSinceLastLine: 999 } });
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
