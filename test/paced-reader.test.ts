import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { GatewayError } from '../gateway/errors.ts';
import type { Reading } from '../gateway/host/sensor-module.ts';
import { PacedReader } from '../gateway/service/paced-reader.ts';
import { makeChain } from './helpers/chain.ts';

function reading(value: number): Reading {
  return { sensor: 's', value, unit: 'Cel', timeMs: 0, raw: 0, bits: 12, measurements: [{ quantity: 'temperature', unit: 'Cel', value, raw: 0 }] };
}

async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected a rejection');
}

describe('PacedReader', () => {
  it('reuses a reading for one period, with the time left as freshness', async () => {
    const clock = new ManualClock();
    let n = 0;
    const paced = new PacedReader(() => reading(++n), { clock, periodMs: () => 250 });
    const first = await paced.read();
    assert.deepEqual([first.reading.value, first.freshForMs, first.fromCache], [1, 250, false]);
    clock.advanceMs(100);
    const second = await paced.read();
    assert.deepEqual([second.reading.value, second.freshForMs, second.fromCache], [1, 150, true]);
    clock.advanceMs(150);
    assert.equal((await paced.read()).reading.value, 2, 'a new read once the period is over');
    assert.deepEqual(paced.stats, { sourceReads: 2, cacheHits: 1, sharedReads: 0 });
  });

  it('with pacing off, every request reads: nothing reused, nothing shared', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const paced = new PacedReader(async () => {
      await Promise.resolve();
      return reading(++calls);
    }, { clock, periodMs: () => 250, enabled: false });
    const concurrent = await Promise.all([paced.read(), paced.read(), paced.read()]);
    assert.deepEqual(concurrent.map((r) => r.reading.value).sort(), [1, 2, 3]);
    const next = await paced.read();
    assert.deepEqual([next.reading.value, next.fromCache, next.freshForMs], [4, false, 250]);
    assert.deepEqual(paced.stats, { sourceReads: 4, cacheHits: 0, sharedReads: 0 });
  });

  it('concurrent requests share one in-flight read', async () => {
    const clock = new ManualClock();
    let release!: (r: Reading) => void;
    let calls = 0;
    const paced = new PacedReader(() => {
      calls++;
      return new Promise<Reading>((resolve) => (release = resolve));
    }, { clock, periodMs: () => 250 });
    const all = Array.from({ length: 50 }, () => paced.read());
    release(reading(7));
    const results = await Promise.all(all);
    assert.equal(calls, 1);
    assert.ok(results.every((r) => r.reading.value === 7));
    assert.equal(paced.stats.sharedReads, 49);
  });

  it('after invalidate, a read in flight is neither joined nor kept: the next request reads anew', async () => {
    const clock = new ManualClock();
    const releases: Array<(r: Reading) => void> = [];
    const paced = new PacedReader(() => new Promise<Reading>((resolve) => releases.push(resolve)), { clock, periodMs: () => 250 });
    const before = paced.read(); // begun before the event
    paced.invalidate(); // e.g. an ALERT edge: the temperature just crossed a limit
    const after = paced.read();
    assert.equal(releases.length, 2, 'the request after the event started its own read');
    releases[0]!(reading(20));
    releases[1]!(reading(35));
    assert.equal((await before).reading.value, 20);
    assert.equal((await after).reading.value, 35);
    const next = await paced.read();
    assert.deepEqual([next.reading.value, next.fromCache], [35, true], 'only the post-event value is kept');
  });

  it('reports a failure as a failure, never the older value, and holds it one period', async () => {
    const clock = new ManualClock();
    let fail = false;
    let calls = 0;
    const paced = new PacedReader(() => {
      calls++;
      if (fail) throw new GatewayError('GW_ERR_I2C_NACK', { sensor: 's' });
      return reading(calls);
    }, { clock, periodMs: () => 250 });
    await paced.read();
    clock.advanceMs(250);
    fail = true;
    assert.equal((await rejection(paced.read())).code, 'GW_ERR_I2C_NACK');
    clock.advanceMs(100);
    assert.equal((await rejection(paced.read())).code, 'GW_ERR_I2C_NACK', 'the failure is not replaced by the old value');
    assert.equal(calls, 2, 'the absent sensor is not asked again within the period');
    clock.advanceMs(150);
    fail = false;
    assert.equal((await paced.read()).reading.value, 3);
  });

  it('counts a not-ready retry time down', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const paced = new PacedReader(() => {
      calls++;
      throw new GatewayError('GW_ERR_SENSOR_NOT_READY', { retryAfterMs: 35 });
    }, { clock, periodMs: () => 250 });
    assert.equal((await rejection(paced.read())).details.retryAfterMs, 35);
    clock.advanceMs(20);
    assert.equal((await rejection(paced.read())).details.retryAfterMs, 15);
    clock.advanceMs(15);
    await rejection(paced.read());
    assert.equal(calls, 2, 'asked again once the retry time passed');
  });

  it('through the real chain, 50 concurrent clients cost at most one bus read per conversion', async () => {
    const { clock, bus, sensor } = await makeChain();
    clock.advanceMs(40);
    const paced = new PacedReader(() => sensor.read(), { clock, periodMs: () => sensor.info?.periodMs });
    const before = bus.transactionCount;
    const seconds = 5;
    for (let t = 0; t < seconds * 1000; t += 10) {
      await Promise.all(Array.from({ length: 50 }, () => paced.read()));
      clock.advanceMs(10);
    }
    const perSecond = (bus.transactionCount - before) / seconds;
    assert.ok(perSecond <= 4, `${perSecond} bus transactions per second at 4 Hz`);
    assert.ok(perSecond >= 3.8, `but it does read each new conversion (${perSecond}/s)`);
  });
});
