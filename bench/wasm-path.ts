/**
 * What the WebAssembly path itself costs, apart from any sensor:
 *   cold start  - a fresh Go TMP102 module to its first good reading on a fresh simulated bus:
 *                 compile, validate, instantiate + _initialize + gw_init, first gw_read; on the
 *                 main thread (with the phases) and through a worker (WorkerModule);
 *   host->guest - one JS call of an exported Go function that does nothing (Go's wasmexport
 *                 entry included), next to an empty JS function called the same way;
 *   guest->host - one call of a `gw` import from Go, with the gateway's real import objects;
 *   sizes       - the .wasm files wasm-src/build.mjs made.
 * The chip's 35 ms first conversion is not ours: the clock is a ManualClock and is advanced past
 * it between gw_init and the first read, so wall time is the gateway's cost alone. Every run
 * compiles anew: the bytes get a unique custom section, which V8 ignores, so no engine cache can
 * hand back an earlier compile. Run: npx tsx bench/wasm-path.ts (a table, then the JSON);
 * `npm run bench` imports measureWasmPath(). Machine noise matters: read medians and spread.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ManualClock } from '../drivers/clock.ts';
import { createSimulatedTmp102Bus } from '../drivers/sim/simulated-tmp102-bus.ts';
import { hostImports } from '../gateway/host/module-instance.ts';
import { compileModule, validateModule } from '../gateway/host/module-validator.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { WorkerModule } from '../gateway/host/worker/worker-module.ts';
import { silentLogger } from '../gateway/log.ts';
import { median } from './lib/median.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GO_DIR = path.join(ROOT, 'build', 'wasm', 'go');
const TINYGO_DIR = path.join(ROOT, 'build', 'wasm', 'tinygo');
const TMP102_FILE = path.join(ROOT, 'modules', 'tmp102.wasm');
const CALLCOST_FILE = path.join(GO_DIR, 'test', 'callcost.wasm');

/** The TMP102's longest conversion (SBOS397, 35 ms max): the module answers NOT_READY until it is over. */
const CHIP_CONVERSION_MS = 35;
const GOAL_MS = 20;
/** The import bench_imports calls: wasm-src/testmodules/callcost/main.go says why it is the cheapest. */
const CHEAP_IMPORT = 'gw.i2c_write';

export interface WasmPathOptions {
  /** Cold starts per path (default 15). */
  runs?: number;
  /** Cold starts through a worker (default `runs`; 0 skips them). */
  workerRuns?: number;
  /** Calls per timed round for the call costs (default 1e6). */
  calls?: number;
  /** Timed rounds for the call costs (default 9). */
  rounds?: number;
}

export interface WasmPathResult {
  machine: { cpu: string; cpus: number; node: string };
  coldStart: {
    medianMs: number;
    minMs: number;
    maxMs: number;
    /** The first run of the process: the host's own JavaScript is not warm yet either. */
    firstMs: number;
    runs: number;
    /** Medians of each phase (they need not add up to medianMs exactly). */
    phases: { compileMs: number; validateMs: number; instantiateInitMs: number; firstReadMs: number };
    chipConversionMsExcluded: number;
    goalMs: number;
    note: string;
  };
  freshInstance: { medianMs: number; minMs: number; runs: number; note: string };
  coldStartWorker: { medianMs: number; minMs: number; maxMs: number; runs: number; note: string } | null;
  hostToGuestNs: {
    /** bench_nop per call minus the empty JS function per call. */
    perCall: number;
    benchNopCall: number;
    emptyJsCall: number;
    calls: number;
    rounds: number;
  };
  guestToHostNs: { perImport: number; import: string; inputReadLen0: number; calls: number; rounds: number; note: string };
  moduleBytes: { go: Record<string, number>; tinygo: Record<string, number> | null; note: string };
}

// ---- statistics ------------------------------------------------------------------------------

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

// ---- cold start ------------------------------------------------------------------------------

/**
 * `bytes` with a custom section (id 0) appended that holds `n`: the same code, but bytes no
 * earlier compile had, so V8's native module cache (keyed by the bytes) cannot answer.
 */
function withNonce(bytes: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const name = new TextEncoder().encode('bench-nonce');
  const payload = [name.length, ...name, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  const out = new Uint8Array(bytes.length + 2 + payload.length);
  out.set(bytes);
  out.set([0, payload.length, ...payload], bytes.length); // size < 128: a one-byte LEB128
  return out;
}

let nonce = Math.floor(Math.random() * 2 ** 30);

function sensorOptions(clock: ManualClock) {
  const { bus } = createSimulatedTmp102Bus({ clock });
  return {
    name: 'tmp102', capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger: silentLogger, init: { bus: 1, address: 0x48 },
  };
}

function checkReading(value: number): void {
  // A cold start that ends in an error is not a cold start: never time a failure path.
  if (!Number.isFinite(value)) throw new Error(`cold start: the first reading is ${value}, not a temperature`);
}

async function coldStartInThread(file: Uint8Array) {
  const clock = new ManualClock();
  const options = sensorOptions(clock);
  const bytes = withNonce(file, nonce++);
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const t1 = performance.now();
  validateModule(module, bytes, options.name);
  const t2 = performance.now();
  const sensor = SensorModule.fromModule(module, options);
  sensor.start();
  const t3 = performance.now();
  clock.advanceMs(CHIP_CONVERSION_MS); // the chip's time, outside the timed phases
  const t4 = performance.now();
  checkReading(sensor.read().value);
  const t5 = performance.now();
  return { compileMs: t1 - t0, validateMs: t2 - t1, instantiateInitMs: t3 - t2, firstReadMs: t5 - t4, totalMs: t3 - t0 + (t5 - t4) };
}

/**
 * A fresh instance of a module already compiled and run once: what the gateway pays to
 * replace an instance after a trap, panic or exit (V8 keeps the functions it compiled lazily
 * for the first instance, so this is instantiation and Go's start-up code running).
 */
async function warmInstance(module: WebAssembly.Module): Promise<number> {
  const clock = new ManualClock();
  const options = sensorOptions(clock);
  const t0 = performance.now();
  const sensor = SensorModule.fromModule(module, options);
  sensor.start();
  const t1 = performance.now();
  clock.advanceMs(CHIP_CONVERSION_MS);
  const t2 = performance.now();
  checkReading(sensor.read().value);
  return t1 - t0 + (performance.now() - t2);
}

/** WorkerModule as the gateway starts it: memory ceiling, sync compile and validation here, then a worker boots, instantiates and initialises. */
async function coldStartWorker(file: Uint8Array): Promise<number> {
  const clock = new ManualClock();
  const bytes = withNonce(file, nonce++);
  const t0 = performance.now();
  const module = WorkerModule.fromBytes(bytes, sensorOptions(clock));
  try {
    await module.start();
    const t1 = performance.now();
    clock.advanceMs(CHIP_CONVERSION_MS);
    const t2 = performance.now();
    checkReading((await module.read()).value);
    return t1 - t0 + (performance.now() - t2);
  } finally {
    await module.close();
  }
}

// ---- call costs ------------------------------------------------------------------------------

export interface CallCostExports {
  benchNop: () => number;
  benchImports: (n: number) => number;
  benchInputRead: (n: number) => number;
}

/**
 * The callcost test module instantiated with the gateway's own imports (hostImports, as
 * ModuleInstance.create links them), so an import costs what it costs a real module. `wrapImports` lets a test see the calls (test/wasm-callcost.test.ts); the bench
 * passes none.
 */
export function instantiateCallCost(wrapImports: (imports: WebAssembly.Imports) => WebAssembly.Imports = (i) => i): CallCostExports {
  const bytes = new Uint8Array(readFileSync(requireFile(CALLCOST_FILE)));
  const module = compileModule(bytes, 'callcost');
  validateModule(module, bytes, 'callcost');
  const clock = new ManualClock();
  const host = hostImports({ capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus: createSimulatedTmp102Bus({ clock }).bus, clock, logger: silentLogger, sleepBudgetMs: 1000 });
  const instance = new WebAssembly.Instance(module, wrapImports(host.imports));
  host.bind(instance);
  (instance.exports['_initialize'] as () => void)();
  host.state.begin(new Uint8Array(0)); // an empty call input: input_read(ptr, 0) answers 0
  const fn = <T>(name: string) => instance.exports[name] as T;
  return { benchNop: fn('bench_nop'), benchImports: fn('bench_imports'), benchInputRead: fn('bench_input_read') };
}

/** ns per call of `fn` over n calls. One loop for every function, so each is called the same way. */
function nsPerCall(fn: () => number, n: number): number {
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sum += fn();
  const ns = Number(process.hrtime.bigint() - t0);
  if (sum !== n) throw new Error(`call cost: ${n} calls returned ${sum}, expected ${n} (each returns 1)`);
  return ns / n;
}

/** ns per import: one export call making n imports, less that export call making none. */
function nsPerImport(run: (n: number) => number, n: number, emptyCallNs: number): number {
  const t0 = process.hrtime.bigint();
  const done = run(n);
  const ns = Number(process.hrtime.bigint() - t0);
  if (done !== n) throw new Error(`call cost: the module reports ${done} of ${n} imports answered as expected`);
  return (ns - emptyCallNs) / n;
}

function measureCalls(calls: number, rounds: number) {
  const m = instantiateCallCost();
  const emptyJs = (): number => 1;
  const imports0 = () => m.benchImports(0) + 1;
  const inputRead0 = () => m.benchInputRead(0) + 1;
  // Warm-up: V8 tiers hot functions up from Liftoff to TurboFan, the JS loop gets optimised.
  for (const f of [m.benchNop, emptyJs, imports0, inputRead0]) nsPerCall(f, Math.min(calls, 200_000));
  m.benchImports(calls);
  m.benchInputRead(calls);

  const nop: number[] = [];
  const js: number[] = [];
  const imp: number[] = [];
  const inp: number[] = [];
  // Interleaved, so a change in machine load during the run hits every series alike.
  for (let r = 0; r < rounds; r++) {
    nop.push(nsPerCall(m.benchNop, calls));
    js.push(nsPerCall(emptyJs, calls));
    imp.push(nsPerImport(m.benchImports, calls, nsPerCall(imports0, 100_000)));
    inp.push(nsPerImport(m.benchInputRead, calls, nsPerCall(inputRead0, 100_000)));
  }
  return { nop: median(nop), js: median(js), imp: median(imp), inp: median(inp) };
}

// ---- sizes -----------------------------------------------------------------------------------

function wasmSizes(dir: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.wasm')).sort()) sizes[f.slice(0, -5)] = statSync(path.join(dir, f)).size;
  return sizes;
}

function requireFile(file: string): string {
  if (!existsSync(file)) throw new Error(`${file} missing: run node wasm-src/build.mjs --test (test modules) first`);
  return file;
}

// ---- the measurement -------------------------------------------------------------------------

export async function measureWasmPath(options: WasmPathOptions = {}): Promise<WasmPathResult> {
  const runs = options.runs ?? 15;
  const workerRuns = options.workerRuns ?? runs;
  const calls = options.calls ?? 1_000_000;
  const rounds = options.rounds ?? 9;
  const file = new Uint8Array(readFileSync(requireFile(TMP102_FILE)));

  const cold: Awaited<ReturnType<typeof coldStartInThread>>[] = [];
  for (let i = 0; i < runs; i++) cold.push(await coldStartInThread(file));
  const totals = cold.map((c) => c.totalMs);

  const compiled = await WebAssembly.compile(withNonce(file, nonce++));
  await warmInstance(compiled); // the first instance pays the lazy compilation
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) warm.push(await warmInstance(compiled));

  const workerTotals: number[] = [];
  for (let i = 0; i < workerRuns; i++) workerTotals.push(await coldStartWorker(file));

  const c = measureCalls(calls, rounds);
  const tinygo = existsSync(TINYGO_DIR) ? wasmSizes(TINYGO_DIR) : null;

  return {
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, node: process.version },
    coldStart: {
      medianMs: round(median(totals)),
      minMs: round(Math.min(...totals)),
      maxMs: round(Math.max(...totals)),
      firstMs: round(totals[0]!),
      runs,
      phases: {
        compileMs: round(median(cold.map((x) => x.compileMs))),
        validateMs: round(median(cold.map((x) => x.validateMs))),
        instantiateInitMs: round(median(cold.map((x) => x.instantiateInitMs))),
        firstReadMs: round(median(cold.map((x) => x.firstReadMs))),
      },
      chipConversionMsExcluded: CHIP_CONVERSION_MS,
      goalMs: GOAL_MS,
      note: 'main thread; WebAssembly.compile of bytes already in memory (file read not included) + the gateway validator + SensorModule.start (instantiate, _initialize, gw_abi_version, gw_init) + one successful gw_read; a fresh bus and ManualClock per run. ' +
        'V8 compiles wasm functions lazily (--wasm-lazy-compilation, on by default in Node 20): ' +
        'compileMs is decoding and validation, and the code generation for what Go runtime start-up runs is paid inside _initialize, in instantiateInitMs',
    },
    freshInstance: {
      medianMs: round(median(warm)),
      minMs: round(Math.min(...warm)),
      runs,
      note: 'a new instance of the module compiled and run once before (instantiate, _initialize, gw_init, first gw_read): what replacing an instance after a trap costs',
    },
    coldStartWorker: workerRuns === 0 ? null : {
      medianMs: round(median(workerTotals)),
      minMs: round(Math.min(...workerTotals)),
      maxMs: round(Math.max(...workerTotals)),
      runs: workerRuns,
      note: 'WorkerModule.fromBytes (memory ceiling, sync compile, validation) + start (a new worker thread boots, instantiates, gw_init) + one successful read over the bus channel; ' +
        'most of it is the worker thread booting (a new V8 isolate loading the bundled host, gateway/host/worker/spawn.ts), which the main-thread figure does not pay',
    },
    hostToGuestNs: { perCall: round(c.nop - c.js), benchNopCall: round(c.nop), emptyJsCall: round(c.js), calls, rounds },
    guestToHostNs: {
      perImport: round(c.imp),
      import: CHEAP_IMPORT,
      inputReadLen0: round(c.inp),
      calls,
      rounds,
      note: `${CHEAP_IMPORT} with address 0x80 returns BAD_ARGUMENT at the first argument check (no memory access, allocation, log or state): the crossing alone. inputReadLen0 is gw.input_read(ptr, 0), the cheapest import real modules make (bounds checks plus two empty typed-array views)`,
    },
    moduleBytes: {
      go: wasmSizes(path.join(ROOT, 'modules')),
      tinygo,
      note: tinygo ? 'build/wasm/tinygo' : 'tinygo is not on the PATH here, so wasm-src/build.mjs built no TinyGo modules: not measured',
    },
  };
}

function printTable(r: WasmPathResult): void {
  const cs = r.coldStart;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const rows: Array<[string, string]> = [
    ['machine', `${r.machine.cpu} x${r.machine.cpus}, node ${r.machine.node}`],
    [`cold start, main thread (${cs.runs} runs)`, `median ${ms(cs.medianMs)}, min ${ms(cs.minMs)}, max ${ms(cs.maxMs)}, first ${ms(cs.firstMs)} (goal < ${cs.goalMs} ms)`],
    ['  compile / validate', `${ms(cs.phases.compileMs)} / ${ms(cs.phases.validateMs)}`],
    ['  instantiate + init / first read', `${ms(cs.phases.instantiateInitMs)} / ${ms(cs.phases.firstReadMs)}`],
    ['  chip conversion excluded', `${cs.chipConversionMsExcluded} ms (ManualClock advanced)`],
  ];
  rows.push([`fresh instance, compiled module (${r.freshInstance.runs} runs)`, `median ${ms(r.freshInstance.medianMs)}, min ${ms(r.freshInstance.minMs)}`]);
  if (r.coldStartWorker) {
    const w = r.coldStartWorker;
    rows.push([`cold start, worker (${w.runs} runs)`, `median ${ms(w.medianMs)}, min ${ms(w.minMs)}, max ${ms(w.maxMs)}`]);
  }
  const h = r.hostToGuestNs;
  const g = r.guestToHostNs;
  rows.push(
    ['host->guest call', `${h.perCall.toFixed(1)} ns (bench_nop ${h.benchNopCall.toFixed(1)} ns - empty JS fn ${h.emptyJsCall.toFixed(1)} ns)`],
    ['guest->host import', `${g.perImport.toFixed(1)} ns (${g.import}); gw.input_read len 0: ${g.inputReadLen0.toFixed(1)} ns`],
  );
  for (const [name, bytes] of Object.entries(r.moduleBytes.go)) rows.push([`go ${name}.wasm`, `${bytes.toLocaleString('en')} bytes`]);
  rows.push(['tinygo', r.moduleBytes.tinygo ? JSON.stringify(r.moduleBytes.tinygo) : `null (${r.moduleBytes.note})`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const result = await measureWasmPath();
  printTable(result);
  console.log(JSON.stringify(result, null, 2));
}
