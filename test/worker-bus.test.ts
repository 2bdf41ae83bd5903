/**
 * Bus access from module workers: capability checks and the rate limit stay in the worker
 * (a refused transfer never reaches the bus), transfers on a simulated bus are served on this
 * thread (one device, whichever thread reads it, counted by the bus), a Linux adapter is served
 * from its bus thread, and the shared ManualClock is one time for every thread.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock, SharedManualClockView } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { BusThread } from '../gateway/host/worker/bus-thread.ts';
import { thrown, TEST_MODULES_SKIP } from './helpers/chain.ts';
import { closeWorkerChains, openWorkerChain, rejection } from './helpers/worker-chain.ts';

const chain = openWorkerChain;
after(closeWorkerChains);

describe('module workers: capabilities', () => {
  it('greedy cannot reach an unauthorised address: DENIED in the worker, logged here, no transaction on the bus', { skip: TEST_MODULES_SKIP }, async () => {
    const { module, bus, chip, logger } = await chain({ module: 'test/greedy', settings: { probe: 0x49 } });
    const other = new SimulatedTmp102({ clock: new ManualClock() });
    bus.attach(0x49, other);
    await module.start();
    const before = bus.transactionCount;
    const err = await rejection(module.read());
    assert.equal(err.code, 'GW_ERR_CAPABILITY_DENIED');
    assert.equal(bus.transactionCount, before, 'no transaction reached the bus');
    assert.equal(other.stats.transactions, 0, 'the chip at 0x49 saw nothing');
    assert.equal(chip.stats.transactions, 0);
    const denial = logger.entries.find((e) => e.msg === 'denied I2C access');
    assert.ok(denial, 'the denial made in the worker is logged on this thread');
    assert.equal(denial.fields['address'], '0x49');
    assert.equal(module.stats.faults, 0, 'a refusal is not a fault');
  });

  it('the granted address goes through to the chip on this thread', { skip: TEST_MODULES_SKIP }, async () => {
    const { module, chip } = await chain({ module: 'test/greedy' });
    assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    assert.ok(chip.stats.transactions > 0);
  });

  it('badptr: every out-of-range pointer is refused in the worker; nothing reaches the chip; the worker lives on', { skip: TEST_MODULES_SKIP }, async () => {
    const { module, chip, logger } = await chain({ module: 'test/badptr' });
    // badptr answers status 0 with its probe results instead of a reading.
    assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    // Two bad buffers, one line: the second within 10 s is counted, not written (gateway/log-throttle.ts).
    assert.equal(logger.entries.filter((e) => e.msg === 'module passed an out-of-range log buffer').length, 1);
    assert.equal(chip.stats.transactions, 0, 'no bad transfer reached the chip');
    assert.deepEqual({ faults: module.stats.faults, restarts: module.stats.restarts, instances: module.stats.instancesCreated }, { faults: 0, restarts: 0, instances: 1 });
  });
});

describe('module workers: bus transaction rate limit', () => {
  it('past the burst the import answers RATE_LIMITED; refused transfers never reach the bus', { skip: TEST_MODULES_SKIP }, async () => {
    const { module, chip, bus, clock, logger } = await chain({ module: 'test/hammer', settings: { count: 100 } });
    await module.start();
    const before = chip.stats.transactions;
    const err = await rejection(module.read());
    assert.equal(err.code, 'GW_ERR_I2C_RATE_LIMITED');
    assert.equal(err.details?.retryAfterMs, 5, 'one token every 5 ms at 200/s');
    assert.equal(chip.stats.transactions - before, 50, 'the burst of 50, no more');
    assert.equal(bus.transactionCount, chip.stats.transactions);
    assert.equal(module.stats.i2cTransactions, bus.transactionCount);
    assert.equal(logger.entries.filter((e) => e.msg === 'I2C rate limit reached').length, 1, 'logged once per call');
    // The bucket refills with the (shared) clock: 100 ms at 200/s is 20 transactions.
    clock.advanceMs(100);
    await rejection(module.read());
    assert.equal(chip.stats.transactions - before, 70);
  });

  it('a TMP102 within its limit never notices it; a tight limit gives a coded 5.03-style error', async () => {
    const { module, clock } = await chain({ limits: { i2cRateLimit: { perSecond: 1, burst: 4 } } });
    const err = await rejection(module.start());
    assert.equal(err.code, 'GW_ERR_I2C_RATE_LIMITED', 'gw_init needs more than 4 transfers');
    assert.ok(err.details!.retryAfterMs! > 0);
    clock.advanceMs(60_000);
    const relaxed = await chain({ limits: { i2cRateLimit: { perSecond: 200, burst: 50 } } });
    await relaxed.module.start();
    relaxed.clock.advanceMs(40);
    assert.equal((await relaxed.module.read()).value, 21.5);
  });
});

describe('module workers: a Linux adapter on its bus thread', () => {
  it('a missing adapter (bus 97) is ENOENT -> GW_ERR_I2C_NO_ADAPTER through the worker and the bus thread', async (t) => {
    const busThread = new BusThread(97);
    t.after(async () => {
      await closeWorkerChains(); // the module workers first, then the thread they talk to
      busThread.close();
    });
    await busThread.ready;
    const { module } = await chain({ bus: busThread });
    const err = await rejection(module.start());
    assert.equal(err.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.match(err.message, /ENOENT/);
    assert.ok(busThread.transactionCount >= 1, 'counted where the bus is');
    assert.equal(module.stats.i2cTransactions, busThread.transactionCount);

    // The same bus from this thread (for tools): a blocking call answered by the bus thread.
    const direct = thrown(() => busThread.readRegister(0x48, 0, 2));
    assert.ok(direct instanceof I2CError);
    assert.equal(direct.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.equal((direct as I2CError).errno, 'ENOENT');
    assert.equal((direct as I2CError).busNumber, 97);
  });
});

describe('ManualClock shared with another thread', () => {
  it('a view sees the same time, its sleeps move it for everyone, and it cannot schedule', () => {
    const clock = new ManualClock({ startMonotonicMs: 5 });
    const view = new SharedManualClockView(clock.share());
    assert.equal(view.monotonicNs(), clock.monotonicNs());
    assert.equal(view.realtimeNs(), clock.realtimeNs());
    view.sleep(7_000_000n);
    assert.equal(clock.monotonicNs(), 12_000_000n);
    clock.advanceMs(3);
    assert.equal(view.monotonicNs(), 15_000_000n);
    assert.throws(() => view.schedule());
  });

  it('a timer due during a concurrent sleep still runs, and the clock never runs backwards', () => {
    const clock = new ManualClock({ startMonotonicMs: 0 });
    const view = new SharedManualClockView(clock.share());
    const seen: bigint[] = [];
    clock.schedule(10, () => {
      seen.push(clock.monotonicNs());
      view.sleep(50_000_000n); // as if a worker slept meanwhile
    });
    clock.advanceMs(20);
    assert.deepEqual(seen, [10_000_000n]);
    assert.equal(clock.monotonicNs(), 60_000_000n, 'the later time wins');
  });
});
