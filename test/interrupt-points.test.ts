/**
 * Interrupt points (gateway/host/interrupt-points.ts): the rewritten binary still compiles and
 * behaves as before, calls the host's tick every N loop-header entries, and a tick that throws
 * ends a call that would otherwise never return, on hand-assembled modules, on every Go-built
 * test module and on the shipped TMP102 module with the host's real imports.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decode, encode } from 'cbor-x';
import { ManualClock } from '../drivers/clock.ts';
import { createSimulatedTmp102Bus } from '../drivers/sim/simulated-tmp102-bus.ts';
import { constantProfile } from '../drivers/sim/temperature-profile.ts';
import { FUEL_EXPORT, TICK_EXPORT, addInterruptPoints, armInterruptPoints, hasInterruptPoints } from '../gateway/host/interrupt-points.ts';
import { hostImports } from '../gateway/host/module-instance.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { TEST_MODULES_SKIP, wasmPath } from './helpers/chain.ts';

// ---- a few bytes of assembler: sizes are computed, every instruction is written out ---------

/** Unsigned LEB128 (WebAssembly spec 5.2.2). */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
}
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (s: string): number[] => [...leb(s.length), ...Buffer.from(s, 'utf8')];
const section = (id: number, content: number[]): number[] => [id, ...leb(content.length), ...content];
/** A function body: locals as [count, valtype] groups, then the instructions, then `end`. */
const body = (locals: Array<[number, number]>, code: number[]): number[] => {
  const b = [...vec(locals.map(([n, t]) => [...leb(n), t])), ...code, 0x0b];
  return [...leb(b.length), ...b];
};
const module = (...sections: number[][]): Uint8Array<ArrayBuffer> => Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...sections.flat()]);
const I32 = 0x7f;
const F64 = (x: number): number[] => [...new Uint8Array(new Float64Array([x]).buffer)];
const F32 = (x: number): number[] => [...new Uint8Array(new Float32Array([x]).buffer)];

/** Types: 0 is [] -> [], 1 is [i32] -> [i32]. */
const TYPES = section(1, vec([[0x60, 0x00, 0x00], [0x60, 0x01, I32, 0x01, I32]]));

/** spin: loops forever; count(n): n+1 loop-header entries, returns n; tailSpin: tail-calls itself forever, no loop. */
const LOOPS = module(
  TYPES,
  section(3, vec([[0], [1], [0]])), // function section: spin has type 0, count type 1, tailSpin type 0
  section(7, vec([[...name('spin'), 0x00, 0], [...name('count'), 0x00, 1], [...name('tailSpin'), 0x00, 2]])),
  section(10, vec([
    body([], [
      0x03, 0x40, //       loop
      0x0c, 0x00, //         br 0     (back to the loop header)
      0x0b, //             end
    ]),
    body([[1, I32]], [ //  local 1: i
      0x02, 0x40, //       block
      0x03, 0x40, //         loop
      0x20, 0x01, //           local.get 1
      0x20, 0x00, //           local.get 0
      0x4f, //                 i32.ge_u
      0x0d, 0x01, //           br_if 1  (out of the block when i >= n)
      0x20, 0x01, //           local.get 1
      0x41, 0x01, //           i32.const 1
      0x6a, //                 i32.add
      0x21, 0x01, //           local.set 1
      0x0c, 0x00, //           br 0     (next iteration)
      0x0b, //               end
      0x0b, //             end
      0x20, 0x01, //       local.get 1
    ]),
    body([], [
      0x12, 0x02, //       return_call 2 (itself: the stack does not grow)
    ]),
  ])),
);

/**
 * One function, mix(x), that uses an immediate of every shape the decoder knows, with loops that
 * take parameters and return results; plus tail calls and call_indirect through table 0, so the
 * appended table is table 1.
 */
const MIX = module(
  TYPES,
  section(3, vec([[1], [1], [1], [1]])), // count, mix, tail, tailIndirect: all [i32] -> [i32]
  section(4, vec([[0x70, 0x00, 0x01]])), // table 0: funcref, min 1
  section(5, vec([[0x00, 0x01]])), // memory 0: min 1 page
  section(7, vec([[...name('mix'), 0x00, 1], [...name('tail'), 0x00, 2], [...name('tailIndirect'), 0x00, 3]])),
  section(9, vec([[0x00, 0x41, 0x00, 0x0b, ...vec([[0]])]])), // elem: table 0 at i32.const 0 = [count]
  section(10, vec([
    body([[1, I32]], [0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x01]), // count, as above
    body([], [
      0x41, 0x00, 0x41, 0x07, 0x41, 0x10, 0xfc, 0x0b, 0x00, //       memory.fill(0, 7, 16)
      0x41, 0x20, 0x41, 0x00, 0x41, 0x10, 0xfc, 0x0a, 0x00, 0x00, // memory.copy(32, 0, 16)
      0x41, 0x20, 0x28, 0x02, 0x00, //                               i32.load align=4 offset=0 (32)
      0x3f, 0x00, 0x6a, //                                           memory.size; i32.add
      0xfc, 0x10, 0x00, 0x6a, //                                     table.size 0; i32.add
      0x44, ...F64(2.5), 0xfc, 0x02, 0x6a, //                        f64.const 2.5; i32.trunc_sat_f64_s; i32.add
      0x43, ...F32(1.5), 0x1a, //                                    f32.const 1.5; drop
      0x42, 0xac, 0x02, 0xa7, 0x6a, //                               i64.const 300; i32.wrap_i64; i32.add
      0xd0, 0x70, 0xd1, 0x6a, //                                     ref.null func; ref.is_null; i32.add
      0x41, 0x05, 0x41, 0x06, 0x20, 0x00, 0x1c, 0x01, I32, 0x6a, //  select (result i32) 5 6 x; i32.add
      0x02, I32, //                                                  block (result i32)
      0x41, 0xe4, 0x00, //                                             i32.const 100
      0x20, 0x00, 0x0e, 0x01, 0x00, 0x00, //                           local.get 0; br_table 0 0
      0x0b, 0x6a, //                                                 end; i32.add
      0x03, 0x01, //                                                 loop (type 1): takes the sum
      0x41, 0x01, 0x6a, //                                             i32.const 1; i32.add
      0x0b, //                                                       end
      0x03, I32, 0x41, 0x03, 0x0b, 0x6a, //                          loop (result i32) i32.const 3 end; i32.add
      0x20, 0x00, 0x41, 0x00, 0x11, 0x01, 0x00, 0x6a, //             count(x) through table 0; i32.add
      0xc0, //                                                       i32.extend8_s
    ]),
    body([], [0x20, 0x00, 0x12, 0x00]), //                           tail(x): return_call count
    body([], [0x20, 0x00, 0x41, 0x00, 0x13, 0x01, 0x00]), //         tailIndirect(x): return_call_indirect (type 1) table 0 slot 0
  ])),
);

/** v128.const 0; drop: valid (Node 20 has SIMD), and refused. */
const SIMD = module(
  section(1, vec([[0x60, 0x00, 0x00]])),
  section(3, vec([[0]])),
  section(10, vec([body([], [0xfd, 0x0c, ...new Array(16).fill(0), 0x1a])])),
);

/** try ... end (legacy exception handling, which Node 20 validates): refused. */
const TRY = module(
  section(1, vec([[0x60, 0x00, 0x00]])),
  section(3, vec([[0]])),
  section(10, vec([body([], [0x06, 0x40, 0x0b])])),
);

/** A start function (section 8) that loops forever: it would run before the tick is armed. */
const STARTS = module(
  section(1, vec([[0x60, 0x00, 0x00]])),
  section(3, vec([[0]])),
  section(8, [0x00]),
  section(10, vec([body([], [0x03, 0x40, 0x0c, 0x00, 0x0b])])), // loop br 0 end
);

/** Exports a global of its own under the fuel counter's name. */
const CLASH = module(
  section(6, vec([[I32, 0x00, 0x41, 0x00, 0x0b]])), // global 0: i32, const 0
  section(7, vec([[...name(FUEL_EXPORT), 0x03, 0]])),
);

function instrumented(bytes: Uint8Array): { module: WebAssembly.Module; loopHeaders: number } {
  const result = addInterruptPoints(bytes);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return { module: new WebAssembly.Module(result.bytes as Uint8Array<ArrayBuffer>), loopHeaders: result.loopHeaders };
}

/** A tick that counts, and throws `error` at call number `throwAt` (never when undefined). */
function countingTick(throwAt?: number, error = new Error('slice over')) {
  const tick = Object.assign(() => {
    tick.calls++;
    if (tick.calls === throwAt) throw error;
  }, { calls: 0, error });
  return tick;
}

describe('interrupt points: hand-assembled modules', () => {
  it('a loop that never ends is ended by the tick that throws, after exactly K ticks', () => {
    const { module: m, loopHeaders } = instrumented(LOOPS);
    assert.equal(loopHeaders, 2);
    const instance = new WebAssembly.Instance(m);
    const tick = countingTick(7);
    armInterruptPoints(instance, tick, 1000);
    assert.throws(() => (instance.exports['spin'] as () => void)(), (err) => err === tick.error);
    assert.equal(tick.calls, 7);
  });

  it('a function that tail-calls itself forever, without a loop, is ended the same way', () => {
    const instance = new WebAssembly.Instance(instrumented(LOOPS).module);
    const tick = countingTick(3);
    armInterruptPoints(instance, tick, 100);
    assert.throws(() => (instance.exports['tailSpin'] as () => void)(), (err) => err === tick.error);
    assert.equal(tick.calls, 3);
  });

  it('a tick that returns lets a finite loop finish, once every N loop-header entries', () => {
    const instance = new WebAssembly.Instance(instrumented(LOOPS).module);
    const count = instance.exports['count'] as (n: number) => number;
    const tick = countingTick();
    const { refill } = armInterruptPoints(instance, tick, 10);
    assert.equal(count(1000), 1000); // 1001 entries: ticks at the 10th, 20th, ... 1000th
    assert.equal(tick.calls, 100);
    // The counter carries across calls (1 left after 1001 entries) unless refilled.
    tick.calls = 0;
    assert.equal(count(8), 8); // 9 entries
    assert.equal(tick.calls, 1);
    tick.calls = 0;
    refill();
    assert.equal(count(8), 8);
    refill();
    assert.equal(count(8), 8);
    assert.equal(tick.calls, 0);
  });

  it('a call after one that a tick ended gets its ticks again once refilled', () => {
    const instance = new WebAssembly.Instance(instrumented(LOOPS).module);
    const tick = countingTick(1);
    const { refill } = armInterruptPoints(instance, tick, 5);
    assert.throws(() => (instance.exports['spin'] as () => void)(), (err) => err === tick.error);
    refill();
    assert.equal((instance.exports['count'] as (n: number) => number)(9), 9); // 10 entries, ticks 2 and 3
    assert.equal(tick.calls, 3);
  });

  it('before arming, a module runs 2^31-1 loop-header entries on its initial fuel', () => {
    const { module: m } = instrumented(LOOPS);
    assert.equal(hasInterruptPoints(m), true);
    assert.equal(hasInterruptPoints(new WebAssembly.Module(LOOPS)), false);
    const instance = new WebAssembly.Instance(m);
    assert.equal((instance.exports[FUEL_EXPORT] as WebAssembly.Global).value, 0x7fffffff);
    assert.equal((instance.exports['count'] as (n: number) => number)(100), 100);
  });

  it('every immediate shape decodes: the instrumented module computes what the original does', () => {
    const plain = new WebAssembly.Instance(new WebAssembly.Module(MIX)).exports;
    const { module: m, loopHeaders } = instrumented(MIX);
    assert.equal(loopHeaders, 3);
    const metered = new WebAssembly.Instance(m);
    const tick = countingTick();
    armInterruptPoints(metered, tick, 3);
    for (const fn of ['mix', 'tail', 'tailIndirect']) {
      for (const x of [0, 1, 2, 7]) {
        assert.equal((metered.exports[fn] as (x: number) => number)(x), (plain[fn] as (x: number) => number)(x), `${fn}(${x})`);
      }
    }
    assert.ok(tick.calls > 0);
    // The appended table is table 1: table 0 is the module's own, and still has count in slot 0.
    assert.equal((metered.exports[TICK_EXPORT] as WebAssembly.Table).length, 1);
  });

  it('refuses SIMD and exception handling, naming the opcode and where it is', () => {
    for (const [bytes, opcode, what] of [[SIMD, 0xfd, 'opcode 0xfd 0x0c (SIMD)'], [TRY, 0x06, 'opcode 0x06 (exception handling)']] as const) {
      assert.ok(WebAssembly.validate(bytes), 'the fixture is a valid module');
      const result = addInterruptPoints(bytes);
      assert.equal(result.ok, false);
      assert.equal(result.ok ? '' : result.reason, `${what} at byte ${bytes.lastIndexOf(opcode)} of the module (function 0)`);
    }
  });

  it('refuses a module with a start function: it runs inside instantiation, before the tick can be armed', () => {
    assert.ok(WebAssembly.validate(STARTS));
    const result = addInterruptPoints(STARTS);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, /start function/);
  });

  it('refuses a module that already exports __gw_fuel, and so an instrumented one', () => {
    assert.ok(WebAssembly.validate(CLASH));
    const clash = addInterruptPoints(CLASH);
    assert.equal(clash.ok, false);
    assert.match(clash.ok ? '' : clash.reason, /__gw_fuel/);
    const once = addInterruptPoints(LOOPS);
    assert.ok(once.ok);
    const twice = addInterruptPoints(once.bytes);
    assert.equal(twice.ok, false);
    assert.match(twice.ok ? '' : twice.reason, /already exports "__gw_fuel"/);
  });

  it('creates the sections a module lacks, in the order the spec requires', () => {
    const { module: m, loopHeaders } = instrumented(module()); // no section at all
    assert.equal(loopHeaders, 0);
    assert.deepEqual(WebAssembly.Module.exports(m), [{ name: FUEL_EXPORT, kind: 'global' }, { name: TICK_EXPORT, kind: 'table' }]);
    armInterruptPoints(new WebAssembly.Instance(m), () => {}, 1);
  });

  it('says why, without throwing, for bytes that are not a module', () => {
    assert.equal(addInterruptPoints(new Uint8Array([1, 2, 3])).ok, false);
    assert.equal(addInterruptPoints(LOOPS.subarray(0, LOOPS.length - 3)).ok, false);
  });
});

// ---- Go-built modules --------------------------------------------------------------------------

const GO_TEST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'build', 'wasm', 'go', 'test');

describe('interrupt points: Go modules', () => {
  const files = [wasmPath('tmp102'), ...(TEST_MODULES_SKIP ? [] : readdirSync(GO_TEST_DIR).filter((f) => f.endsWith('.wasm')).sort().map((f) => path.join(GO_TEST_DIR, f)))];
  for (const file of files) {
    it(`${path.basename(file)}: compiles, keeps its imports and exports, and has loop headers`, () => {
      const bytes = new Uint8Array(readFileSync(file));
      const { module: m, loopHeaders } = instrumented(bytes);
      const original = new WebAssembly.Module(bytes);
      assert.ok(loopHeaders > 0);
      assert.deepEqual(WebAssembly.Module.imports(m), WebAssembly.Module.imports(original));
      assert.deepEqual(WebAssembly.Module.exports(m), [
        ...WebAssembly.Module.exports(original),
        { name: FUEL_EXPORT, kind: 'global' },
        { name: TICK_EXPORT, kind: 'table' },
      ]);
    });
  }
});

/** A module instance on a simulated bus with a TMP102 at 0x48, linked against the host's real imports. */
function onSimulatedBus(m: WebAssembly.Module) {
  const clock = new ManualClock();
  const { bus } = createSimulatedTmp102Bus({ clock, profile: constantProfile(21.5) });
  const host = hostImports({ capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger: new MemoryLogger(), sleepBudgetMs: 1000 });
  const instance = new WebAssembly.Instance(m, host.imports);
  host.bind(instance);
  /** One export call as ModuleInstance makes it: per-call state and WASI accounting around it. */
  const call = (exportName: 'gw_init' | 'gw_read', input: Uint8Array): { status: number; output: unknown } => {
    host.wasi.beginCall();
    host.state.begin(input);
    try {
      const status = (instance.exports[exportName] as (len: number) => number)(input.length);
      return { status, output: host.state.output && decode(host.state.output) };
    } finally {
      host.wasi.endCall();
    }
  };
  const init = encode({ bus: 1, address: 0x48, settings: {} });
  return { instance, clock, call, init: new Uint8Array(init.buffer, init.byteOffset, init.length) };
}

describe('interrupt points: the TMP102 module end to end', () => {
  /** _initialize, gw_init, 250 ms for a conversion, gw_read: the reading and what gw_init said. */
  function readOnce(m: WebAssembly.Module, arm?: (instance: WebAssembly.Instance) => void) {
    const { instance, clock, call, init } = onSimulatedBus(m);
    arm?.(instance);
    (instance.exports['_initialize'] as () => void)();
    const info = call('gw_init', init);
    assert.equal(info.status, 0);
    clock.advanceMs(250);
    const reading = call('gw_read', new Uint8Array(0));
    assert.equal(reading.status, 0);
    return { info: info.output, reading: reading.output };
  }

  it('reads what the uninstrumented module reads, with ticks along the way', () => {
    const bytes = new Uint8Array(readFileSync(wasmPath('tmp102')));
    const plain = readOnce(new WebAssembly.Module(bytes));
    const tick = countingTick();
    const metered = readOnce(instrumented(bytes).module, (instance) => armInterruptPoints(instance, tick, 100));
    assert.deepEqual(metered, plain);
    assert.equal((plain.reading as { value: number }).value, 21.5);
    assert.ok(tick.calls > 0, 'the Go runtime loops at least 100 times from _initialize to a reading');
  });

  it('test/loop: gw_read that spins forever throws the tick\'s error at the 1000th tick', { skip: TEST_MODULES_SKIP }, () => {
    const { instance, call, init } = onSimulatedBus(instrumented(new Uint8Array(readFileSync(wasmPath('test/loop')))).module);
    const tick = countingTick(1000);
    const { refill } = armInterruptPoints(instance, tick, 1000);
    (instance.exports['_initialize'] as () => void)();
    assert.equal(call('gw_init', init).status, 0);
    tick.calls = 0;
    refill();
    assert.throws(() => call('gw_read', new Uint8Array(0)), (err) => err === tick.error);
    assert.equal(tick.calls, 1000);
  });
});
