/**
 * The callcost benchmark module (wasm-src/testmodules/callcost, timed by bench/wasm-path.ts):
 * the gateway accepts it like any module, and its loops really make the import calls the
 * benchmark divides by, through the gateway's own imports, so the figures cannot come from a
 * loop that does nothing. Behaviour only: nothing here is timed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { Status } from '../gateway/host/abi.ts';
import { compileModule, validateModule } from '../gateway/host/module-validator.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { instantiateCallCost } from '../bench/wasm-path.ts';
import { wasmPath, TEST_MODULES_SKIP } from './helpers/chain.ts';

type Fn = (...args: unknown[]) => unknown;

/** The import objects with every function counted; `results` keeps what the real gw.i2c_write answered. */
function counted() {
  const calls = new Map<string, number>();
  const results: unknown[] = [];
  const countedFn = (key: string, fn: Fn) => (...args: unknown[]) => {
    calls.set(key, (calls.get(key) ?? 0) + 1);
    const result = fn(...args);
    if (key === 'gw.i2c_write') results.push(result);
    return result;
  };
  const wrap = (imports: WebAssembly.Imports): WebAssembly.Imports => {
    const out: WebAssembly.Imports = {};
    for (const [ns, fns] of Object.entries(imports)) {
      out[ns] = Object.fromEntries(Object.entries(fns as Record<string, Fn>).map(([name, fn]) => [name, countedFn(`${ns}.${name}`, fn)]));
    }
    return out;
  };
  const total = () => [...calls.values()].reduce((a, b) => a + b, 0);
  return { calls, results, wrap, total, reset: () => { calls.clear(); results.length = 0; } };
}

describe('callcost benchmark module', { skip: TEST_MODULES_SKIP }, () => {
  it('passes the gateway validator and starts like a sensor module', () => {
    const bytes = new Uint8Array(readFileSync(wasmPath('test/callcost')));
    validateModule(compileModule(bytes, 'callcost'), bytes, 'callcost');
    const sensor = SensorModule.fromBytes(bytes, {
      name: 'callcost', capabilities: { i2c: undefined }, bus: undefined, clock: new ManualClock(), logger: new MemoryLogger(), init: { bus: 1, address: 0x48 },
    });
    assert.equal(sensor.start().name, 'callcost');
  });

  it('bench_imports(n) calls gw.i2c_write n times, each refused by the real host with BAD_ARGUMENT', () => {
    const c = counted();
    const m = instantiateCallCost(c.wrap);
    c.reset(); // forget what _initialize called
    assert.equal(m.benchImports(1000), 1000);
    assert.equal(c.calls.get('gw.i2c_write'), 1000);
    assert.equal(c.total(), 1000, 'no other import in the loop');
    assert.ok(c.results.every((r) => r === Status.BAD_ARGUMENT), 'the first argument check answered');

    c.reset();
    assert.equal(m.benchImports(0), 0);
    assert.equal(c.total(), 0);
  });

  it('bench_input_read(n) calls gw.input_read n times, each copying 0 bytes', () => {
    const c = counted();
    const m = instantiateCallCost(c.wrap);
    c.reset();
    assert.equal(m.benchInputRead(500), 500);
    assert.equal(c.calls.get('gw.input_read'), 500);
    assert.equal(c.total(), 500);
  });

  it('bench_nop returns 1 and calls no import at all (no Go scheduler call into WASI per call)', () => {
    const c = counted();
    const m = instantiateCallCost(c.wrap);
    c.reset();
    for (let i = 0; i < 1000; i++) assert.equal(m.benchNop(), 1);
    assert.equal(c.total(), 0);
  });
});
