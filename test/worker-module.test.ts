/**
 * WorkerModule: the sensor module in a worker thread, with real .wasm files built from Go
 * sources and real workers. The simulated chip stays on this thread and the ManualClock is
 * shared, so a read through a worker is the in-thread read; a looping module is stopped at its
 * deadline while this thread keeps serving; memory ceilings, faults, backoff and quarantine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { declaredMemoryMaxPages, withMemoryCeiling } from '../gateway/host/worker/memory-ceiling.ts';
import { resolveModuleLimits } from '../gateway/host/worker/module-limits.ts';
import { WorkerModule } from '../gateway/host/worker/worker-module.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { makeChain, thrown, wasmPath, TEST_MODULES_SKIP } from './helpers/chain.ts';
import { closeWorkerChains, openWorkerChain, rejection } from './helpers/worker-chain.ts';

const chain = openWorkerChain;
after(closeWorkerChains);

describe('WorkerModule: the same reading as in-thread', () => {
  it('continuous mode: not ready for 35 ms, then the same reading, and the same bus traffic', async () => {
    const inThread = await makeChain({ celsius: -7.5, noStart: true });
    const worker = await chain({ celsius: -7.5 });
    assert.deepEqual(await worker.module.start(), inThread.sensor.start());

    const a = thrown(() => inThread.sensor.read());
    const b = await rejection(worker.module.read());
    assert.equal(b.code, 'GW_ERR_SENSOR_NOT_READY');
    assert.equal(b.code, a.code);
    assert.equal(b.details?.retryAfterMs, 35);

    inThread.clock.advanceMs(35);
    worker.clock.advanceMs(35);
    const expected = inThread.sensor.read();
    const got = await worker.module.read();
    assert.deepEqual(got, expected);
    assert.equal(got.value, -7.5);
    assert.equal(worker.chip.stats.transactions, inThread.chip.stats.transactions, 'one device, the same transfers');
    assert.equal(worker.bus.transactionCount, inThread.bus.transactionCount, 'counted by the bus, on this thread');
    assert.equal(worker.module.stats.i2cTransactions, worker.bus.transactionCount);
    assert.equal(worker.module.stats.calls, 3);
    assert.ok(worker.module.stats.memoryBytes > 0);
  });

  it('one-shot mode: the sleep in the worker ages the chip on this thread', async () => {
    const { clock, chip, module } = await chain({ celsius: 18.25, settings: { mode: 'oneshot' } });
    await module.start();
    clock.advanceMs(40);
    const before = chip.stats.conversions;
    const t0 = clock.monotonicNs();
    assert.equal((await module.read()).value, 18.25);
    const slept = Number(clock.monotonicNs() - t0) / 1e6;
    assert.ok(slept >= 26 && slept <= 60, `the module waited ${slept} ms of shared time for the conversion`);
    assert.equal(chip.stats.conversions - before, 1, 'exactly one conversion per read');
    chip.setTemperature(-3.5);
    assert.equal((await module.read()).value, -3.5);
  });

  it('reconfigure reaches the worker and survives a fresh worker', async () => {
    const { module, clock } = await chain();
    await module.start();
    const info = await module.reconfigure({ alert: { high: 30, low: 25 } });
    assert.equal(info.alert?.high, 30);
    assert.equal(module.info?.alert?.high, 30);
    clock.advanceMs(40);
    assert.equal((await module.read()).value, 21.5);
  });

  it('on the SystemClock the worker keeps its own clock', async () => {
    const { SystemClock } = await import('../drivers/clock.ts');
    const clock = new SystemClock();
    const bus = new SimulatedI2CBus(1);
    const chip = new SimulatedTmp102({ clock });
    chip.setTemperature(12.5);
    bus.attach(0x48, chip);
    const module = await WorkerModule.fromFile(wasmPath('tmp102'), {
      name: 'sys', capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger: new MemoryLogger(), init: { bus: 1, address: 0x48 },
    });
    try {
      await module.start();
      await new Promise((r) => setTimeout(r, 40));
      assert.equal((await module.read()).value, 12.5);
    } finally {
      await module.close();
    }
  });
});

describe('WorkerModule: refusals at load time stay synchronous and coded', () => {
  const options = { name: 'x', capabilities: { i2c: undefined }, bus: undefined, clock: new ManualClock(), logger: new MemoryLogger(), init: { bus: 1, address: 0x48 } };

  it('refuses a module without gw_read before any worker starts', { skip: TEST_MODULES_SKIP }, () => {
    const bytes = new Uint8Array(readFileSync(wasmPath('test/missingexport')));
    assert.equal(thrown(() => WorkerModule.fromBytes(bytes, options)).code, 'GW_ERR_MODULE_MISSING_EXPORT');
    assert.equal(thrown(() => WorkerModule.fromBytes(new TextEncoder().encode('not wasm'), options)).code, 'GW_ERR_MODULE_INVALID');
  });

  it('refuses limits that make no sense, naming the field', () => {
    const err = thrown(() => resolveModuleLimits({ deadlineMs: 0 }));
    assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
    assert.match(err.message, /limits\.deadlineMs/);
    assert.equal(thrown(() => resolveModuleLimits({ i2cRateLimit: { perSecond: 10, burst: 0 } })).code, 'GW_ERR_CONFIG_INVALID');
    assert.deepEqual(resolveModuleLimits({}).i2cRateLimit, { perSecond: 200, burst: 50 });
  });

  it('refuses a Linux bus that is not served from a bus thread', () => {
    const linuxBus = { busNumber: 1, kind: 'linux' as const, transactionCount: 0, write() {}, read: () => new Uint8Array(0), readRegister: () => new Uint8Array(0), writeRegister() {}, close() {} };
    const bytes = new Uint8Array(readFileSync(wasmPath('tmp102')));
    assert.equal(thrown(() => WorkerModule.fromBytes(bytes, { ...options, bus: linuxBus })).code, 'GW_ERR_CONFIG_INVALID');
  });

  it('refuses a module whose initial memory is over the ceiling', () => {
    const bytes = new Uint8Array(readFileSync(wasmPath('tmp102')));
    assert.equal(thrown(() => WorkerModule.fromBytes(bytes, { ...options, limits: { memoryLimitBytes: 2 ** 20 } })).code, 'GW_ERR_MODULE_MEMORY_LIMIT');
  });
});

describe('WorkerModule: a module that loops forever', { skip: TEST_MODULES_SKIP }, () => {
  it('is stopped at its deadline while this thread keeps serving another sensor', async (t) => {
    const clock = new ManualClock();
    const loop = await chain({ module: 'test/loop', clock, limits: { deadlineMs: 400, backoffInitialMs: 1000, backoffMaxMs: 60_000, quarantineAfterFaults: 3, quarantineMs: 300_000 } });
    const good = await chain({ celsius: 23.5, clock });
    await Promise.all([loop.module.start(), good.module.start()]);
    clock.advanceMs(40);

    // Meanwhile: a 5 ms timer measures the event loop's lag, and the other sensor is read again and again.
    let maxLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
    }, 5);
    const latencies: number[] = [];
    let looping = true;
    const reader = (async () => {
      while (looping) {
        const t = performance.now();
        assert.equal((await good.module.read()).value, 23.5);
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const t0 = performance.now();
    const err = await rejection(loop.module.read());
    const took = performance.now() - t0;
    looping = false;
    await reader;
    clearInterval(ticker);

    t.diagnostic(`stopped after ${took.toFixed(0)} ms; ${latencies.length} reads of the other sensor meanwhile, slowest ${Math.max(...latencies).toFixed(1)} ms; event loop lag at most ${maxLag.toFixed(1)} ms`);
    assert.equal(err.code, 'GW_ERR_SENSOR_TIMEOUT');
    assert.equal(err.details?.retryAfterMs, 1000, 'retry after the first backoff');
    assert.ok(took >= 400 && took < 1500, `stopped after ${took.toFixed(0)} ms (deadline 400 ms)`);
    assert.ok(latencies.length >= 5, `the other sensor was read ${latencies.length} times meanwhile`);
    assert.ok(Math.max(...latencies) < 200, `other sensor's slowest read ${Math.max(...latencies).toFixed(1)} ms`);
    assert.ok(maxLag < 200, `event loop lag at most ${maxLag.toFixed(1)} ms`);
    assert.equal(loop.module.stats.restarts, 1);

    // Backoff: refused until the clock has moved on, then a fresh worker (that loops again).
    const waiting = await rejection(loop.module.read());
    assert.equal(waiting.code, 'GW_ERR_SENSOR_RESTARTING');
    assert.ok(waiting.details!.retryAfterMs! > 0 && waiting.details!.retryAfterMs! <= 1000);
    clock.advanceMs(1000);
    const second = await rejection(loop.module.read());
    assert.equal(second.code, 'GW_ERR_SENSOR_TIMEOUT');
    assert.equal(second.details?.retryAfterMs, 2000, 'the backoff doubles');

    // Third fault in a row: quarantine, shown in the stats.
    clock.advanceMs(2000);
    const third = await rejection(loop.module.read());
    assert.equal(third.code, 'GW_ERR_SENSOR_TIMEOUT');
    assert.equal(third.details?.retryAfterMs, 300_000);
    assert.equal(loop.module.stats.quarantined, true);
    const q = await rejection(loop.module.read());
    assert.equal(q.code, 'GW_ERR_SENSOR_QUARANTINED');
    assert.ok(q.details!.retryAfterMs! > 0 && q.details!.retryAfterMs! <= 300_000);
    assert.deepEqual({ restarts: loop.module.stats.restarts, faults: loop.module.stats.faults }, { restarts: 3, faults: 3 });
    assert.ok(loop.logger.entries.some((e) => e.msg === 'module quarantined'));

    // The quarantine ends with the clock; the other sensor never noticed any of it.
    clock.advanceMs(300_000);
    assert.equal(loop.module.stats.quarantined, false);
    assert.equal((await good.module.read()).value, 23.5);
    assert.equal(good.module.stats.faults, 0);
  });

  it('a module that answers between faults is not quarantined', async () => {
    const { module, clock } = await chain({ module: 'test/loop', settings: { healthyReads: 1 }, limits: { deadlineMs: 250, backoffInitialMs: 10, quarantineAfterFaults: 2 } });
    for (let round = 0; round < 2; round++) {
      assert.equal((await module.read()).value, 20, 'a fresh instance answers once');
      assert.equal((await rejection(module.read())).code, 'GW_ERR_SENSOR_TIMEOUT');
      clock.advanceMs(10);
    }
    assert.equal(module.stats.quarantined, false);
    assert.equal(module.stats.restarts, 2);
  });

  it('close() ends a call in flight at once', async () => {
    const { module } = await chain({ module: 'test/loop', limits: { deadlineMs: 10_000 } });
    await module.start();
    const pending = rejection(module.read());
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await module.close();
    const err = await pending;
    assert.equal(err.code, 'GW_ERR_SENSOR_RESTARTING');
    assert.ok(performance.now() - t0 < 1000);
    assert.equal((await rejection(module.read())).code, 'GW_ERR_SENSOR_RESTARTING');
  });
});

describe('WorkerModule: memory ceiling', () => {
  it('the binary gets the ceiling as its memory maximum', () => {
    const bytes = new Uint8Array(readFileSync(wasmPath('tmp102')));
    assert.equal(declaredMemoryMaxPages(bytes), undefined, 'Go declares no maximum');
    const bounded = withMemoryCeiling(bytes, 64 * 2 ** 20, 'x');
    assert.equal(bounded.maxPages, 1024);
    assert.equal(declaredMemoryMaxPages(bounded.bytes), 1024);
    assert.ok(new WebAssembly.Module(bounded.bytes as Uint8Array<ArrayBuffer>), 'still a valid module');
  });

  it('a module growing without bound dies at the ceiling with its code, is recycled, and the process stays up', { skip: TEST_MODULES_SKIP }, async () => {
    const { module, logger } = await chain({ module: 'test/memhog', limits: { memoryLimitBytes: 32 * 2 ** 20 } });
    const err = await rejection(module.read());
    assert.equal(err.code, 'GW_ERR_MODULE_MEMORY_LIMIT');
    assert.equal(module.stats.restarts, 1, 'its worker was recycled');
    assert.ok(logger.entries.some((e) => e.msg.includes('out of memory') && e.fields['stream'] === 'stderr'));
    assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_MEMORY_LIMIT', 'a fresh worker, the same fate');
    assert.equal(module.stats.restarts, 2);
    assert.equal(module.stats.quarantined, false);
  });

  it('memory grown call by call is reported, up to the ceiling', { skip: TEST_MODULES_SKIP }, async () => {
    const { module } = await chain({ module: 'test/memhog', settings: { mib: 4 }, limits: { memoryLimitBytes: 32 * 2 ** 20 } });
    const sizes: number[] = [];
    let code: string | undefined;
    for (let i = 0; i < 10 && !code; i++) {
      try {
        await module.read();
        sizes.push(module.stats.memoryBytes);
      } catch (err) {
        code = (err as { code?: string }).code;
      }
    }
    assert.equal(code, 'GW_ERR_MODULE_MEMORY_LIMIT');
    assert.ok(sizes.length >= 3 && sizes.every((s, i) => i === 0 || s > sizes[i - 1]!), `memory grew: ${sizes.join(', ')}`);
    assert.ok(sizes.every((s) => s <= 32 * 2 ** 20));
  });
});

describe('WorkerModule: faults keep their codes', { skip: TEST_MODULES_SKIP }, () => {
  for (const [module, code] of [
    ['test/trap', 'GW_ERR_MODULE_TRAP'],
    ['test/panic', 'GW_ERR_MODULE_PANIC'],
    ['test/exit', 'GW_ERR_MODULE_EXIT'],
  ] as const) {
    it(`${module} -> ${code}, and the next call gets a fresh instance`, async () => {
      const c = await chain({ module });
      assert.equal((await rejection(c.module.read())).code, code);
      assert.equal((await rejection(c.module.read())).code, code);
      assert.equal(c.module.stats.instancesCreated, 2);
      assert.equal(c.module.stats.faults, 2);
      assert.equal(c.module.stats.restarts, 0, 'the worker itself lives on');
      assert.ok(c.logger.entries.some((e) => e.level === 'error' && e.fields['code'] === code), 'the fault is logged with its code');
    });
  }

  it('five faults in a row quarantine a module', async () => {
    const { module, clock } = await chain({ module: 'test/trap', limits: { quarantineMs: 60_000 } });
    for (let i = 0; i < 5; i++) assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_TRAP');
    assert.equal(module.stats.quarantined, true);
    const err = await rejection(module.read());
    assert.equal(err.code, 'GW_ERR_SENSOR_QUARANTINED');
    assert.equal(err.details?.retryAfterMs, 60_000);
    clock.advanceMs(60_000);
    assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_TRAP', 'runs again after the quarantine');
  });
});
