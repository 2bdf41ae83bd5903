/**
 * The sensor service on a ManualClock: paced reads, the live feed observers use, the ALERT pin
 * of the simulated TMP102 triggering reads ahead of the pacing, and the statistics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import type { SensorUpdate } from '../gateway/service/sensor-feed.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { InThreadModule } from '../gateway/host/in-thread-module.ts';
import { WorkerModule } from '../gateway/host/worker/worker-module.ts';
import { simulatedTmp102 } from '../gateway/service/hardware.ts';

async function startService(celsius = 21.5, options: { pacing?: boolean } = {}) {
  const clock = new ManualClock();
  const config = defaultConfig({ driver: 'simulated', simCelsius: celsius });
  if (options.pacing !== undefined) config.sensors[0]!.pacing = options.pacing;
  // In-thread: each read completes within the step of simulated time that started it.
  const service = await SensorService.start(config, { clock, logger: new MemoryLogger(), isolation: 'in-thread' });
  const chip = simulatedTmp102(service.hardware, 'tmp102');
  return { clock, service, chip };
}

/** Advance in small steps so scheduled work and its promises settle as time passes. */
async function advance(clock: ManualClock, ms: number, step = 5): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advanceMs(Math.min(step, ms - t));
    await new Promise((r) => setImmediate(r));
  }
}

describe('SensorService', () => {
  it('paces reads: many requests within one period cost one bus read', async () => {
    const { clock, service } = await startService();
    await advance(clock, 40);
    const before = service.stats().i2cTransactions;
    const readings = await Promise.all(Array.from({ length: 100 }, () => service.readFresh('tmp102')));
    assert.ok(readings.every((r) => r.reading.value === 21.5));
    assert.equal(service.stats().i2cTransactions - before, 1);
    assert.ok(readings[0]!.freshForMs > 0 && readings[0]!.freshForMs <= 250);
    service.close();
  });

  it('a sensor configured in-thread runs on this thread in a service of workers; the others stay in workers', async () => {
    const config = defaultConfig({ driver: 'simulated' });
    config.sensors.push({ ...config.sensors[0]!, name: 'trusted', path: '/temp/2', address: 0x49, grant: { bus: 1, addresses: [0x49] }, isolation: 'in-thread' });
    const service = await SensorService.start(config, { clock: new ManualClock(), logger: new MemoryLogger(), isolation: 'worker' });
    try {
      assert.ok(service.get('tmp102')!.module instanceof WorkerModule);
      assert.ok(service.get('trusted')!.module instanceof InThreadModule);
    } finally {
      await service.close();
    }
  });

  it('an in-thread module keeps its bus rate limit', async () => {
    const config = defaultConfig({ driver: 'simulated' });
    const sensor = config.sensors[0]!;
    config.sensors[0] = { ...sensor, isolation: 'in-thread', pacing: false, limits: { ...sensor.limits, i2cRateLimit: { perSecond: 1, burst: 10 } } };
    const clock = new ManualClock();
    const service = await SensorService.start(config, { clock, logger: new MemoryLogger(), isolation: 'worker' });
    try {
      await advance(clock, 40);
      const codes = new Set<string>();
      for (let i = 0; i < 20; i++) {
        try {
          await service.readFresh('tmp102');
          codes.add('ok');
        } catch (err) {
          codes.add((err as { code: string }).code);
        }
      }
      assert.deepEqual([...codes].sort(), ['GW_ERR_I2C_RATE_LIMITED', 'ok']);
    } finally {
      await service.close();
    }
  });

  it('with pacing off, every request costs a module call and a bus read', async () => {
    const { clock, service } = await startService(21.5, { pacing: false });
    await advance(clock, 40);
    const before = service.stats();
    const readings = await Promise.all(Array.from({ length: 20 }, () => service.readFresh('tmp102')));
    assert.ok(readings.every((r) => r.reading.value === 21.5 && !r.fromCache));
    assert.equal(service.stats().moduleCalls - before.moduleCalls, 20);
    assert.equal(service.stats().i2cTransactions - before.i2cTransactions, 20);
    await service.close();
  });

  it('feeds subscribers once per conversion period, with one read for 1,000 of them', async () => {
    const { clock, service } = await startService();
    const counts = new Array(1000).fill(0);
    const offs = counts.map((_, i) => service.subscribe('tmp102', (u) => u.ok && counts[i]++));
    await advance(clock, 40); // past the 35 ms after configuration
    const reads0 = service.stats().sensors['tmp102']!.moduleReads;
    const bus0 = service.stats().i2cTransactions;
    await advance(clock, 5000);
    const reads = service.stats().sensors['tmp102']!.moduleReads - reads0;
    const bus = service.stats().i2cTransactions - bus0;
    assert.ok(reads >= 18 && reads <= 20, `${reads} module reads in 5 s at 4 Hz`);
    assert.equal(bus, reads, 'one bus transaction per read');
    assert.ok(counts.every((c) => c === counts[0]) && counts[0] >= 18, 'every subscriber saw every update');
    assert.equal(service.stats().sensors['tmp102']!.observers, 1000);
    for (const off of offs) off();
    const afterBus = service.stats().i2cTransactions;
    await advance(clock, 2000);
    assert.equal(service.stats().i2cTransactions, afterBus, 'no reads once nobody listens');
    service.close();
  });

  it('an over-temperature ALERT edge triggers a read before the next paced one', async () => {
    const { clock, service, chip } = await startService(25);
    await advance(clock, 40);
    await service.setAlertSettings('tmp102', { high: 30, low: 28 });
    const updates: Array<{ cause: string; value?: number; at: number }> = [];
    service.subscribe('tmp102', (u: SensorUpdate) => updates.push({ cause: u.cause, value: u.ok ? u.reading.reading.value : undefined, at: Number(clock.monotonicNs()) / 1e6 }));
    await advance(clock, 600);
    chip.setTemperature(35);
    await advance(clock, 600);
    const alert = updates.find((u) => u.cause === 'alert');
    assert.ok(alert, `an alert update arrived: ${JSON.stringify(updates)}`);
    assert.equal(alert.value, 35);
    const periodBefore = updates.filter((u) => u.cause !== 'alert' && u.at < alert.at).at(-1)!;
    assert.ok(alert.at - periodBefore.at < 250, 'the alert read came before the next paced read was due');
    assert.ok(service.stats().sensors['tmp102']!.alertEdges >= 1);
    service.close();
  });

  it('alert settings: read back from the chip, changed in part, refused when invalid', async () => {
    const { clock, service } = await startService();
    await advance(clock, 40);
    assert.deepEqual(service.alertSettings('tmp102'), { high: 80, low: 75, mode: 'comparator', polarity: 'active-low', faults: 1 });
    assert.deepEqual(await service.setAlertSettings('tmp102', { high: -5.5, low: -10 }), { high: -5.5, low: -10, mode: 'comparator', polarity: 'active-low', faults: 1 });
    await assert.rejects(service.setAlertSettings('tmp102', { low: 0 }), { code: 'GW_ERR_MODULE_BAD_CONFIG' });
    assert.equal(service.alertSettings('tmp102')!.low, -10, 'a refused change leaves the chip as it was');
    assert.equal((await service.readFresh('tmp102')).reading.value, 21.5);
    service.close();
  });
});
