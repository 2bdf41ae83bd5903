/**
 * The per-sensor write budget (SensorService.setAlertSettings, alertWriteBudget): however many
 * clients write a sensor's alert settings, writes never take the bus time its reads and
 * observers need. The incident it answers: 28,810 PUT /temp/alert in 10 s used up the TMP102
 * module's i2cRateLimit (200/s, burst 50, shared by reads and writes), and GET /temp got 5.03
 * GW_ERR_I2C_RATE_LIMITED 367 times out of 379. Real SensorService, real TMP102 module, the
 * simulated chip, a ManualClock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { AlertResource } from '../gateway/coap/alert-resource.ts';
import { ContentFormat } from '../gateway/coap/content-formats.ts';
import { encodeCbor } from '../gateway/coap/cbor-preferred.ts';
import { Method } from '../gateway/coap/reply.ts';
import { GatewayError } from '../gateway/errors.ts';
import { DEFAULT_I2C_RATE_LIMIT } from '../gateway/host/token-bucket.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import type { SensorUpdate } from '../gateway/service/sensor-feed.ts';
import { ALERT_WRITE_BUDGET, ALERT_WRITE_TRANSACTIONS, SensorService, alertWriteBudget } from '../gateway/service/sensor-service.ts';

async function startService() {
  const clock = new ManualClock();
  const config = defaultConfig({ driver: 'simulated' });
  // In-thread: each module call completes within the step of simulated time that started it.
  const service = await SensorService.start(config, { clock, logger: new MemoryLogger(), isolation: 'in-thread' });
  await advance(clock, 40); // the first conversion
  return { clock, service };
}

async function advance(clock: ManualClock, ms: number, step = 5): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advanceMs(Math.min(step, ms - t));
    await new Promise((r) => setImmediate(r));
  }
}

/** An alert change that is always valid, different each time: high 30..39 °C, low 10 °C. */
const change = (i: number) => ({ high: 30 + (i % 10), low: 10 });

describe('the per-sensor alert write budget', () => {
  it(`one alert write costs ${ALERT_WRITE_TRANSACTIONS} bus transactions on the TMP102, whatever it changes`, async () => {
    const { clock, service } = await startService();
    try {
      const changes = [{ high: 30, low: 20 }, { low: 21 }, { mode: 'interrupt' as const }, { high: 31, low: 22, mode: 'comparator' as const, polarity: 'active-high' as const, faults: 4 }];
      for (const c of changes) {
        const before = service.stats().i2cTransactions;
        await service.setAlertSettings('tmp102', c);
        assert.equal(service.stats().i2cTransactions - before, ALERT_WRITE_TRANSACTIONS, JSON.stringify(c));
        await advance(clock, 1000);
      }
    } finally {
      await service.close();
    }
  });

  it('takes at most a quarter of the module\'s i2cRateLimit, and scales down with it', () => {
    const budget = alertWriteBudget(DEFAULT_I2C_RATE_LIMIT);
    assert.deepEqual(budget, ALERT_WRITE_BUDGET);
    assert.deepEqual(budget, { perSecond: 2, burst: 5 });
    for (const i2c of [DEFAULT_I2C_RATE_LIMIT, { perSecond: 100, burst: 20 }, { perSecond: 20, burst: 5 }, { perSecond: 1000, burst: 1000 }, { perSecond: 50000, burst: 50000 }]) {
      const b = alertWriteBudget(i2c);
      const label = JSON.stringify(i2c);
      assert.ok(b.perSecond * ALERT_WRITE_TRANSACTIONS <= i2c.perSecond / 4, `${label}: sustained`);
      if (b.burst > 1) assert.ok((b.burst + b.perSecond) * ALERT_WRITE_TRANSACTIONS <= (i2c.burst + i2c.perSecond) / 4, `${label}: any one second`);
      assert.ok(b.perSecond <= ALERT_WRITE_BUDGET.perSecond && b.burst <= ALERT_WRITE_BUDGET.burst && b.burst >= 1 && b.perSecond > 0, label);
    }
    assert.deepEqual(alertWriteBudget(false), ALERT_WRITE_BUDGET, 'no bus limit: the default still bounds writes');
  });

  it('a flood of writes from many clients, interleaved with reads: every read and every notification succeeds, the writes stay within the budget', async () => {
    const { clock, service } = await startService();
    const updates: SensorUpdate[] = [];
    const unsubscribe = service.subscribe('tmp102', (u) => updates.push(u));
    const outcomes = new Map<string, number>();
    const retryTimes: number[] = [];
    let reads = 0;
    const FLOOD_MS = 3000;
    const WRITES_PER_MS = 4; // 12,000 writes in 3 s: the incident's rate (2,881/s) and more
    try {
      for (let ms = 0; ms < FLOOD_MS; ms++) {
        const calls: Array<Promise<unknown>> = [];
        for (let w = 0; w < WRITES_PER_MS; w++) {
          // "Clients" 0..999: the service has no notion of them; each one's writes would pass a
          // per-client limiter, so only the sensor's own budget stands between them and the bus.
          calls.push(service.setAlertSettings('tmp102', change(ms * WRITES_PER_MS + w)).then(
            () => outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1),
            (err: unknown) => {
              const code = err instanceof GatewayError ? err.code : String(err);
              outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
              if (err instanceof GatewayError && err.code === 'GW_ERR_WRITE_RATE_LIMITED') retryTimes.push(err.details.retryAfterMs!);
            },
          ));
          // A read between the writes of the same millisecond, as GETs arrive among PUTs.
          if (w === 1) {
            calls.push(service.readFresh('tmp102').then(() => reads++));
          }
        }
        await Promise.all(calls);
        clock.advanceMs(1);
        await new Promise((r) => setImmediate(r));
      }
      await advance(clock, 500);
    } finally {
      unsubscribe();
      await service.close();
    }
    // Every read got a value: none was refused for the bus rate (a rejection fails Promise.all above).
    assert.equal(reads, FLOOD_MS);
    const failedUpdates = updates.filter((u) => !u.ok);
    assert.deepEqual(failedUpdates.map((u) => (u.ok ? '' : u.error.code)), [], 'the observer never missed a reading');
    assert.ok(updates.length >= FLOOD_MS / 250, `the observer got a reading every period (${updates.length})`);
    // Writes: the burst, then 2 a second; the rest refused before reaching the module.
    const ok = outcomes.get('ok') ?? 0;
    const budget = alertWriteBudget(DEFAULT_I2C_RATE_LIMIT);
    const allowed = budget.burst + Math.floor((FLOOD_MS / 1000) * budget.perSecond);
    assert.ok(ok <= allowed && ok >= allowed - 1, `${ok} writes went through, the budget allows ${allowed} in ${FLOOD_MS} ms`);
    assert.deepEqual([...outcomes.keys()].sort(), ['GW_ERR_WRITE_RATE_LIMITED', 'ok'], JSON.stringify([...outcomes]));
    assert.equal(ok + outcomes.get('GW_ERR_WRITE_RATE_LIMITED')!, FLOOD_MS * WRITES_PER_MS);
    assert.ok(retryTimes.every((t) => t > 0 && t <= 1000 / budget.perSecond), 'retryAfterMs: at most one refill interval');
  });

  it('over CoAP the alert resource answers a write past the budget with 4.29 and Max-Age, and the chip keeps its settings', async () => {
    const { clock, service } = await startService();
    try {
      const resource = new AlertResource(service, 'tmp102');
      const put = (high: number) => resource.handle({ method: Method.PUT, path: '/temp/alert', query: [], accept: undefined, contentFormat: ContentFormat.CBOR, body: encodeCbor({ high, low: 10 }) });
      for (let i = 0; i < ALERT_WRITE_BUDGET.burst; i++) assert.equal((await put(30 + i)).code, '2.04', `write ${i}`);
      const refused = await put(50);
      assert.equal(refused.code, '4.29');
      assert.equal(refused.maxAge, 1, 'RFC 8516: Max-Age is when to retry (500 ms, rounded up to 1 s)');
      assert.equal(service.alertSettings('tmp102')!.high, 30 + ALERT_WRITE_BUDGET.burst - 1, 'the refused write never reached the chip');
      await advance(clock, 500);
      assert.equal((await put(50)).code, '2.04');
    } finally {
      await service.close();
    }
  });
});
