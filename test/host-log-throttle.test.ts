/**
 * Every host line a module can repeat has a budget (issue 12): one line per sensor, kind and
 * 10 s, and the line after a quiet spell says how many it stood for (`alsoSinceLastLine`).
 * A module that makes 20,000 refused transfers a read wrote 20,000 lines a read before.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import type { LogEntry } from '../gateway/log.ts';
import { makeChain, thrown, TEST_MODULES_SKIP } from './helpers/chain.ts';
import { closeWorkerChains, openWorkerChain, rejection } from './helpers/worker-chain.ts';

after(closeWorkerChains);

/** greedy probing 0x49, which the grant (0x48 only) does not cover: every attempt is refused. */
const DENIED = { module: 'test/greedy', settings: { probe: 0x49, count: 20_000 } };

const named = (entries: LogEntry[], msg: string) => entries.filter((e) => e.msg === msg);

describe('denied I2C access: a budget per sensor, not a line per attempt', { skip: TEST_MODULES_SKIP }, () => {
  it('in-thread: 3 reads of 20,000 refused transfers each make one line; 10 s later one more carries the count', async () => {
    const { sensor, bus, logger, clock } = await makeChain(DENIED);
    const other = new SimulatedTmp102({ clock: new ManualClock() });
    bus.attach(0x49, other);
    for (let i = 0; i < 3; i++) {
      assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_CAPABILITY_DENIED');
      clock.advanceMs(1000);
    }
    assert.equal(other.stats.transactions, 0, 'still nothing reached the chip');
    const denials = named(logger.entries, 'denied I2C access');
    assert.equal(denials.length, 1);
    assert.deepEqual(denials[0]!.fields, { sensor: 'tmp102', op: 'read_reg', bus: 1, address: '0x49', reason: denials[0]!.fields['reason'] });
    assert.ok(logger.entries.length < 10, `${logger.entries.length} lines in all`);

    clock.advanceMs(10_000);
    thrown(() => sensor.read());
    const after = named(logger.entries, 'denied I2C access');
    assert.equal(after.length, 2);
    assert.equal(after[1]!.fields['alsoSinceLastLine'], 3 * 20_000 - 1, 'the line stands for every attempt held back since the first');
  });

  it('in a worker: held back where the module runs, so the flood never crosses to the main thread', async () => {
    const { module, logger, clock } = await openWorkerChain(DENIED);
    await module.start();
    for (let i = 0; i < 3; i++) {
      assert.equal((await rejection(module.read())).code, 'GW_ERR_CAPABILITY_DENIED');
      clock.advanceMs(1000);
    }
    assert.equal(named(logger.entries, 'denied I2C access').length, 1);
    assert.ok(logger.entries.length < 10, `${logger.entries.length} lines reached this thread`);
    clock.advanceMs(10_000);
    await rejection(module.read());
    const denials = named(logger.entries, 'denied I2C access');
    assert.equal(denials.length, 2);
    assert.equal(denials[1]!.fields['alsoSinceLastLine'], 59_999);
    assert.equal(denials[1]!.fields['sensor'], 'test/greedy');
  });
});

describe('other lines a module can repeat', { skip: TEST_MODULES_SKIP }, () => {
  it('a fault on every call: one "module fault" and one "instance replaced" line per 10 s, per fault code', async () => {
    const { sensor, logger, clock } = await makeChain({ module: 'test/trap' });
    for (let i = 0; i < 20; i++) assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_TRAP');
    assert.equal(sensor.stats.faults, 20);
    assert.equal(named(logger.entries, 'module fault; the instance will be replaced').length, 1);
    assert.ok(named(logger.entries, 'module instance replaced').length <= 1);
    clock.advanceMs(10_000);
    thrown(() => sensor.read());
    const faults = named(logger.entries, 'module fault; the instance will be replaced');
    assert.equal(faults.length, 2);
    assert.equal(faults[1]!.fields['alsoSinceLastLine'], 19);
    assert.equal(faults[1]!.fields['code'], 'GW_ERR_MODULE_TRAP');
  });

  it('the rate limit: at most once per call, and once per 10 s across calls', async () => {
    const { module, logger, clock } = await openWorkerChain({ module: 'test/hammer', settings: { count: 100 } });
    await module.start();
    for (let i = 0; i < 5; i++) {
      assert.equal((await rejection(module.read())).code, 'GW_ERR_I2C_RATE_LIMITED');
      clock.advanceMs(300); // the bucket refills: each read hits the limit again
    }
    assert.equal(named(logger.entries, 'I2C rate limit reached').length, 1);
    clock.advanceMs(10_000);
    await rejection(module.read());
    const lines = named(logger.entries, 'I2C rate limit reached');
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.fields['alsoSinceLastLine'], 4);
  });

  it('the budget survives a worker recycled at its memory ceiling on every read', async () => {
    const { module, logger, clock } = await openWorkerChain({ module: 'test/memhog', limits: { memoryLimitBytes: 16 * 2 ** 20 } });
    for (let i = 0; i < 3; i++) assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_MEMORY_LIMIT');
    assert.equal(module.stats.restarts, 3, 'three workers');
    assert.equal(named(logger.entries, 'module fault; the instance will be replaced').length, 1, 'one line, not one per worker');
    clock.advanceMs(10_000);
    await rejection(module.read());
    const faults = named(logger.entries, 'module fault; the instance will be replaced');
    assert.equal(faults.length, 2);
    assert.equal(faults[1]!.fields['alsoSinceLastLine'], 2);
  });
});
