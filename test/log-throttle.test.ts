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

  it('logThrottled keys on the message unless told otherwise; the older form with a key still works', () => {
    const t = new LogThrottle(() => 0);
    const logger = new MemoryLogger();
    logThrottled(t, logger, 'warn', 'denied I2C access', { address: '0x49' });
    logThrottled(t, logger, 'warn', 'denied I2C access', { address: '0x4a' });
    logThrottled(t, logger, 'warn', 'request failed', { path: '/a' }, { key: '/a 5.03' });
    logThrottled(t, logger, 'warn', 'request failed', { path: '/b' }, { key: '/b 5.03' });
    logThrottled(t, logger, 'error', 'handler /a', 'request handler failed', { path: '/a' });
    logThrottled(t, logger, 'error', 'handler /b', 'request handler failed', { path: '/b' });
    assert.deepEqual(logger.entries.map((e) => [e.msg, e.fields['address'] ?? e.fields['path']]), [
      ['denied I2C access', '0x49'],
      ['request failed', '/a'],
      ['request failed', '/b'],
      ['request handler failed', '/a'],
      ['request handler failed', '/b'],
    ]);
  });

  it('a key with a rate lets that many lines through per interval, refilled evenly, and the snapshot carries its tokens', () => {
    let now = 0;
    const t = new LogThrottle(() => now);
    const rate = { lines: 10, burst: 20 };
    let taken = 0;
    for (let i = 0; i < 100; i++) if (t.take('out', { rate }) !== undefined) taken++;
    assert.equal(taken, 20, 'the burst');
    now = 5_000;
    const next = new LogThrottle(() => now, { from: structuredClone(t.snapshot()) });
    for (let i = 0; i < 100; i++) if (next.take('out', { rate }) !== undefined) taken++;
    assert.equal(taken, 25, 'half an interval: half the rate, in a throttle carrying on from the snapshot');
  });

  it('flush() writes a held-back count when no further line comes, once the interval is over', () => {
    let now = 0;
    const t = new LogThrottle(() => now);
    const logger = new MemoryLogger();
    for (let i = 0; i < 5; i++) logThrottled(t, logger, 'warn', 'denied I2C access', { try: i });
    logThrottled(t, logger, 'warn', 'request failed', { path: '/a' }, { key: '/a', countField: 'alsoFailedSinceLastLine' });
    logThrottled(t, logger, 'warn', 'request failed', { path: '/a' }, { key: '/a', countField: 'alsoFailedSinceLastLine' });
    t.take('counted only'); // no line to write: its count waits for its next line
    t.take('counted only');
    assert.equal(logger.entries.length, 2);
    now = 9_999;
    assert.equal(t.flush(), 0, 'within the interval: nothing more');
    now = 10_000;
    assert.equal(t.flush(), 2);
    // The last line held back, standing for itself and the others: 1 + 1 + 3 = 5 in all.
    assert.deepEqual(logger.entries.slice(2), [
      { level: 'warn', msg: 'denied I2C access', fields: { try: 4, alsoSinceLastLine: 3 } },
      { level: 'warn', msg: 'request failed', fields: { path: '/a' } },
    ]);
    assert.equal(t.flush(), 0, 'nothing held back any more');
    // The flushed line used the key's line for this interval.
    logThrottled(t, logger, 'warn', 'denied I2C access', { try: 5 });
    assert.equal(logger.entries.length, 4);
    now = 20_000;
    logThrottled(t, logger, 'warn', 'denied I2C access', { try: 6 });
    assert.deepEqual(logger.entries.at(-1), { level: 'warn', msg: 'denied I2C access', fields: { try: 6, alsoSinceLastLine: 1 } });
    assert.equal(t.take('counted only'), 1);
  });

  it('close() writes what is still held back, interval or not; flushEvery() flushes on a timer', async () => {
    let now = 0;
    const t = new LogThrottle(() => now);
    const logger = new MemoryLogger();
    logThrottled(t, logger, 'warn', 'a');
    logThrottled(t, logger, 'warn', 'a');
    t.close();
    assert.deepEqual(logger.entries.map((e) => e.msg), ['a', 'a']);

    const timed = new LogThrottle(() => now, { intervalMs: 10_000 }).flushEvery(5);
    try {
      logThrottled(timed, logger, 'warn', 'b');
      logThrottled(timed, logger, 'warn', 'b', { n: 2 });
      now = 10_000;
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(logger.entries.slice(2), [{ level: 'warn', msg: 'b', fields: {} }, { level: 'warn', msg: 'b', fields: { n: 2 } }]);
    } finally {
      timed.close();
    }

    // Stopped without a flush: the count stays (a module worker's goes on in its snapshot).
    const quiet = new LogThrottle(() => now).flushEvery(5);
    logThrottled(quiet, logger, 'warn', 'c');
    logThrottled(quiet, logger, 'warn', 'c');
    quiet.close({ flush: false });
    now += 20_000;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(logger.entries.filter((e) => e.msg === 'c').length, 1);
    assert.deepEqual(quiet.snapshot().map(([key, , suppressed]) => [key, suppressed]), [['c', 1]]);
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
