/**
 * Every host line a module can repeat has a budget (issue 12): one line per sensor, kind and
 * 10 s, and the line after a quiet spell says how many it stood for (`alsoSinceLastLine`).
 * A module that makes 20,000 refused transfers a read wrote 20,000 lines a read before.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock, monotonicMs } from '../drivers/clock.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { GuestMemory } from '../gateway/host/guest-memory.ts';
import { CallState, createGwImports } from '../gateway/host/gw-imports.ts';
import { LogBudget, MAX_LOG_LINES_PER_CALL, MODULE_LOG_RATE, MODULE_LOG_RATE_USED_UP } from '../gateway/host/log-budget.ts';
import { LogThrottle } from '../gateway/log-throttle.ts';
import { type LogEntry, MemoryLogger } from '../gateway/log.ts';
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

describe("a module's own lines: a budget per sensor across calls, not only per call", { skip: TEST_MODULES_SKIP }, () => {
  const own = (entries: LogEntry[], stream: string) => entries.filter((e) => e.fields['stream'] === stream);

  it('in-thread: a module logging without bound on every read gets its burst, then its rate; the drops are counted and flushed', async () => {
    let throttle: LogThrottle | undefined;
    const { sensor, logger, clock } = await makeChain({
      module: 'test/logflood',
      logThrottle: (c) => (throttle = new LogThrottle(() => monotonicMs(c))),
    });
    const before = logger.entries.length;
    for (let i = 0; i < 5; i++) assert.equal(sensor.read().value, 21.5);
    const lines = logger.entries.slice(before);
    // 100 a call (the per-call budget) for two calls: the burst of 200; nothing for the next three.
    assert.equal(MODULE_LOG_RATE.burst, 2 * MAX_LOG_LINES_PER_CALL);
    assert.equal(own(lines, 'gw.log').length, MODULE_LOG_RATE.burst);
    const drops = named(lines, MODULE_LOG_RATE_USED_UP);
    assert.equal(drops.length, 1, 'one line for the drops');
    assert.deepEqual(drops[0]!.fields, { sensor: 'tmp102', linesPer10s: MODULE_LOG_RATE.lines, burst: MODULE_LOG_RATE.burst });

    // No further drop comes: flush() writes the count anyway, once the 10 s are over.
    clock.advanceMs(10_000);
    assert.equal(throttle!.flush(), 2, 'the drops, and the per-call warnings held back');
    const flushed = named(logger.entries, MODULE_LOG_RATE_USED_UP);
    assert.equal(flushed.length, 2);
    // 3 calls x 100 lines dropped: the first line, and the flushed one standing for itself and 298 more.
    assert.equal(flushed[1]!.fields['alsoSinceLastLine'], 3 * MAX_LOG_LINES_PER_CALL - 2);

    // 10 s refilled 100 lines: one more call's worth, then nothing again.
    const mark = logger.entries.length;
    sensor.read();
    sensor.read();
    assert.equal(own(logger.entries.slice(mark), 'gw.log').length, MODULE_LOG_RATE.lines);
  });

  it('in workers: a fresh worker after a fault carries on with its predecessor\'s budget', async () => {
    // memhog dies of its memory ceiling on every read, printing Go's out-of-memory report
    // (about 75 lines) to stderr, and its worker is recycled each time.
    const { module, logger } = await openWorkerChain({ module: 'test/memhog', limits: { memoryLimitBytes: 16 * 2 ** 20 } });
    for (let i = 0; i < 5; i++) assert.equal((await rejection(module.read())).code, 'GW_ERR_MODULE_MEMORY_LIMIT');
    assert.equal(module.stats.restarts, 5, 'five workers');
    const stderr = own(logger.entries, 'stderr').length;
    assert.equal(stderr, MODULE_LOG_RATE.burst, `${stderr} lines of stderr from five workers: one budget between them`);
    assert.equal(named(logger.entries, MODULE_LOG_RATE_USED_UP).length, 1);
  });
});

describe('gw.log, host side', () => {
  it('empty messages count against both budgets like any other line', () => {
    let now = 0;
    const logger = new MemoryLogger();
    const logBudget = new LogBudget();
    const memory = new GuestMemory(new WebAssembly.Memory({ initial: 1 }));
    const gw = createGwImports({
      memory: () => memory, state: new CallState(), capabilities: { i2c: { bus: 1, addresses: [] } }, bus: undefined,
      logger, logBudget, logThrottle: new LogThrottle(() => now),
    });
    const log = gw['log']!;
    const call = () => {
      logBudget.reset();
      for (let i = 0; i < 10_000; i++) log(1, 0, 0);
    };
    call();
    assert.equal(own(logger.entries).length, MAX_LOG_LINES_PER_CALL, 'the per-call budget');
    call();
    call();
    assert.equal(own(logger.entries).length, MODULE_LOG_RATE.burst, 'the budget across calls');
    now = 5_000; // half of the 10 s: half of the rate
    call();
    assert.equal(own(logger.entries).length, MODULE_LOG_RATE.burst + MODULE_LOG_RATE.lines / 2);
    assert.equal(named(logger.entries, MODULE_LOG_RATE_USED_UP).length, 1);
  });

  const own = (entries: LogEntry[]) => entries.filter((e) => e.fields['stream'] === 'gw.log');
});
