/**
 * The WASM host against hostile and broken modules, all built from Go sources in
 * wasm-src/testmodules by wasm-src/build.mjs: every fault becomes a coded error and a fresh
 * instance, denied bus accesses never reach the bus, and the host keeps serving.
 */
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode } from 'cbor-x';
import { ManualClock } from '../drivers/clock.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { Status } from '../gateway/host/abi.ts';
import { MAX_LOG_LINES_PER_CALL } from '../gateway/host/log-budget.ts';
import { ModuleInstance } from '../gateway/host/module-instance.ts';
import { compileModule, validateModule } from '../gateway/host/module-validator.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { makeChain, thrown, wasmPath, TEST_MODULES_SKIP } from './helpers/chain.ts';

function loadRefusal(file: string): string | undefined {
  const bytes = new Uint8Array(readFileSync(file));
  try {
    validateModule(compileModule(bytes, 'x'), bytes, 'x');
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('WASM host: refusing modules at load time', () => {
  it('accepts the TMP102 module', () => {
    assert.equal(loadRefusal(wasmPath('tmp102')), undefined);
  });

  it('refuses a missing export', { skip: TEST_MODULES_SKIP }, () => {
    assert.equal(loadRefusal(wasmPath('test/missingexport')), 'GW_ERR_MODULE_MISSING_EXPORT');
  });

  it('refuses an export with the wrong signature, read from the binary', { skip: TEST_MODULES_SKIP }, () => {
    assert.equal(loadRefusal(wasmPath('test/badsignature')), 'GW_ERR_MODULE_MISSING_EXPORT');
  });

  it('refuses an import the ABI does not provide', { skip: TEST_MODULES_SKIP }, () => {
    assert.equal(loadRefusal(wasmPath('test/unknownimport')), 'GW_ERR_MODULE_UNKNOWN_IMPORT');
  });

  it('refuses the wrong ABI version after _initialize', { skip: TEST_MODULES_SKIP }, async () => {
    const err = await makeChain({ module: 'test/wrongabi', noStart: true }).then((c) => thrown(() => c.sensor.start()));
    assert.equal(err.code, 'GW_ERR_MODULE_ABI_VERSION');
  });

  it('refuses a file that is not WebAssembly, and a missing file', async () => {
    const bytes = new TextEncoder().encode('#!/bin/sh\necho not wasm\n');
    assert.equal(thrown(() => compileModule(bytes, 'x')).code, 'GW_ERR_MODULE_INVALID');
    const missing = await SensorModule.fromFile('/nonexistent/tmp102.wasm', {
      name: 'x', capabilities: { i2c: undefined }, bus: undefined, clock: new ManualClock(), logger: new MemoryLogger(), init: { bus: 1, address: 0x48 },
    }).then(() => undefined, (err) => err.code);
    assert.equal(missing, 'GW_ERR_MODULE_NOT_FOUND');
  });
});

describe('WASM host: faults inside calls', { skip: TEST_MODULES_SKIP }, () => {
  for (const [module, code] of [
    ['test/trap', 'GW_ERR_MODULE_TRAP'],
    ['test/panic', 'GW_ERR_MODULE_PANIC'],
    ['test/exit', 'GW_ERR_MODULE_EXIT'],
  ] as const) {
    it(`${module} -> ${code}, and the next call gets a fresh instance`, async () => {
      const { sensor, logger } = await makeChain({ module });
      assert.equal(thrown(() => sensor.read()).code, code);
      assert.equal(sensor.stats.instancesCreated, 1);
      // The host is still alive: the next call instantiates and initialises a new instance.
      assert.equal(thrown(() => sensor.read()).code, code);
      assert.equal(sensor.stats.instancesCreated, 2);
      assert.equal(sensor.stats.faults, 2);
      assert.ok(logger.entries.some((e) => e.level === 'error' && e.fields['code'] === code), 'the fault is logged with its code');
    });
  }

  it('a call that sleeps past its budget ends with GW_ERR_MODULE_DEADLINE without blocking', async () => {
    const { sensor, clock } = await makeChain({ module: 'test/sleeper' });
    const t0 = clock.monotonicNs();
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_DEADLINE');
    assert.ok(clock.monotonicNs() - t0 < 2_000_000_000n, 'the hour-long sleep never happened');
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_DEADLINE');
    assert.equal(sensor.stats.instancesCreated, 2);
  });

  it('keeps the panic message for the operator and out of the error code', async () => {
    const { sensor, logger } = await makeChain({ module: 'test/panic' });
    const err = thrown(() => sensor.read());
    assert.equal(err.code, 'GW_ERR_MODULE_PANIC');
    assert.ok(logger.entries.some((e) => e.msg.includes('panic: sensor exploded') && e.fields['stream'] === 'stderr'));
  });

  it('a faulting module does not disturb a healthy one in the same process', async () => {
    const bad = await makeChain({ module: 'test/trap' });
    const good = await makeChain({ celsius: -12.25 });
    good.clock.advanceMs(250);
    for (let i = 0; i < 3; i++) {
      assert.equal(thrown(() => bad.sensor.read()).code, 'GW_ERR_MODULE_TRAP');
      assert.equal(good.sensor.read().value, -12.25);
    }
  });
});

describe('WASM host: capabilities', { skip: TEST_MODULES_SKIP }, () => {
  it('a denied address returns DENIED to the guest, is logged, and never reaches the bus', async () => {
    const { sensor, bus, chip, logger } = await makeChain({ module: 'test/greedy', settings: { probe: 0x49 } });
    const other = new SimulatedTmp102({ clock: new ManualClock() });
    bus.attach(0x49, other);
    const before = bus.transactionCount;
    const err = thrown(() => sensor.read());
    assert.equal(err.code, 'GW_ERR_CAPABILITY_DENIED');
    assert.equal(bus.transactionCount, before, 'no transaction reached the bus');
    assert.equal(other.stats.transactions, 0);
    assert.equal(chip.stats.transactions, 0);
    const denial = logger.entries.find((e) => e.msg === 'denied I2C access');
    assert.ok(denial, 'denial logged');
    assert.equal(denial.fields['address'], '0x49');
  });

  it('a denied bus number is refused the same way', async () => {
    const { sensor, bus } = await makeChain({ module: 'test/greedy', settings: { probeBus: 2 } });
    const before = bus.transactionCount;
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_CAPABILITY_DENIED');
    assert.equal(bus.transactionCount, before);
  });

  it('the general call address is refused unless granted', async () => {
    const { sensor } = await makeChain({ module: 'test/greedy', settings: { probe: 0x00 } });
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_CAPABILITY_DENIED');
  });

  it('the granted address goes through', async () => {
    const { sensor, chip } = await makeChain({ module: 'test/greedy' });
    // greedy reads the granted device and returns status 0 with no reading: a bad output, but a real transfer.
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    assert.ok(chip.stats.transactions > 0);
  });
});

describe('WASM host: a module that floods the log', { skip: TEST_MODULES_SKIP }, () => {
  for (const via of ['gw', 'stdout'] as const) {
    it(`through ${via === 'gw' ? 'gw.log (300,000 calls)' : 'one 1 MiB write of newlines to stdout'}: at most the per-call budget reaches the log`, async () => {
      const { sensor, logger } = await makeChain({ module: 'test/logflood', settings: { via } });
      const before = logger.entries.length;
      const t0 = performance.now();
      assert.equal(sensor.read().value, 21.5, 'the reading itself is fine');
      const ms = performance.now() - t0;
      const lines = logger.entries.slice(before);
      assert.ok(lines.length <= MAX_LOG_LINES_PER_CALL + 1, `${lines.length} log entries for one call`);
      assert.equal(lines.filter((e) => e.msg.startsWith('module log budget for this call used up')).length, 1, 'one warning');
      assert.ok(ms < 5000, `the call took ${ms.toFixed(0)} ms`);
      // The budget is per call: the next call may log again.
      sensor.read();
      assert.ok(logger.entries.length - before > lines.length);
    });
  }
});

describe('WASM host: out-of-range pointers and lengths', { skip: TEST_MODULES_SKIP }, () => {
  it('every import answers BAD_ARGUMENT and nothing is read or written', async () => {
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    const chip = new SimulatedTmp102({ clock });
    bus.attach(0x48, chip);
    const bytes = new Uint8Array(readFileSync(wasmPath('test/badptr')));
    const module = compileModule(bytes, 'badptr');
    validateModule(module, bytes, 'badptr');
    const logger = new MemoryLogger();
    const instance = ModuleInstance.create({
      module, name: 'badptr', capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger, sleepBudgetMs: 1000,
    });
    const result = instance.call('gw_read', new Uint8Array(0));
    assert.equal(result.status, Status.OK);
    const out = decode(result.output!) as { calls: string[]; statuses: number[] };
    // `log` returns nothing; the guest records 0 for it. Its bad buffers must only be reported.
    const withStatus = out.calls.map((c, i) => [c, out.statuses[i]] as const).filter(([c]) => !c.startsWith('log('));
    assert.equal(withStatus.length, 12, 'all six status-returning imports probed twice');
    for (const [call, status] of withStatus) assert.equal(status, Status.BAD_ARGUMENT, call);
    const warnings = logger.entries.filter((e) => e.msg === 'module passed an out-of-range log buffer');
    // Two bad buffers, one line: the second within 10 s is counted, not written (gateway/log-throttle.ts).
    assert.equal(warnings.length, 1);
    assert.equal(chip.stats.transactions, 0, 'no bad transfer reached the chip');
    assert.equal(instance.dead, false, 'bad arguments are errors for the guest, not faults of the host');
  });
});
