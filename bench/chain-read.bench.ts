/**
 * What the WebAssembly module costs per reading, measured side by side on one machine:
 *   direct  - the same TMP102 register read and decode done in TypeScript on the simulated bus
 *   wasm    - a reading through the Go module, the WASM host and the same simulated bus
 * and what an instance costs to start and to keep (instantiate + _initialize + gw_init; linear
 * memory). Run: npm run bench:chain  (machine noise matters: read the ratio, not the absolutes).
 */
import os from 'node:os';
import { ManualClock } from '../drivers/clock.ts';
import type { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { createSimulatedTmp102Bus } from '../drivers/sim/simulated-tmp102-bus.ts';
import { silentLogger } from '../gateway/log.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { DEFAULT_TMP102_MODULE } from '../gateway/service/config.ts';
import { median } from './lib/median.ts';

const READS = Number(process.env['BENCH_READS'] ?? 20_000);
const ROUNDS = 5;

function setup() {
  const clock = new ManualClock();
  const { bus, tmp102: chip } = createSimulatedTmp102Bus({ clock });
  return { clock, bus, chip };
}

function directRead(bus: SimulatedI2CBus): number {
  const b = bus.readRegister(0x48, 0x00, 2);
  const raw = (b[0]! << 8) | b[1]!;
  return (raw & 1 ? (raw << 16) >> 19 : (raw << 16) >> 20) * 0.0625;
}

function opsPerSecond(n: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const direct = setup();
const wasm = setup();
const options = (clock: ManualClock, bus: SimulatedI2CBus) => ({
  name: 'tmp102', capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger: silentLogger, init: { bus: 1, address: 0x48 },
});
const sensor = await SensorModule.fromFile(DEFAULT_TMP102_MODULE, options(wasm.clock, wasm.bus));
sensor.start();
wasm.clock.advanceMs(250);
direct.clock.advanceMs(250);

// Warm-up, then alternate the two in rounds so drift in machine load hits both alike.
opsPerSecond(2000, () => directRead(direct.bus));
opsPerSecond(2000, () => sensor.read());
const directRates: number[] = [];
const wasmRates: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  directRates.push(opsPerSecond(READS, () => directRead(direct.bus)));
  wasmRates.push(opsPerSecond(READS, () => sensor.read()));
}

// Start-up cost: a fresh SensorModule each time, file read and compile included.
const startTimes: number[] = [];
for (let i = 0; i < 10; i++) {
  const t = setup();
  const t0 = process.hrtime.bigint();
  const s = await SensorModule.fromFile(DEFAULT_TMP102_MODULE, options(t.clock, t.bus));
  s.start();
  startTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
}

const d = median(directRates);
const w = median(wasmRates);
console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, node ${process.version}`);
console.log(`reads per round: ${READS}, rounds: ${ROUNDS} (medians)`);
console.log(`direct TypeScript register read : ${Math.round(d).toLocaleString('en')} reads/s`);
console.log(`through the Go WASM module      : ${Math.round(w).toLocaleString('en')} reads/s`);
console.log(`ratio direct/wasm               : ${(d / w).toFixed(1)}x  (${((1e6 / w) - (1e6 / d)).toFixed(2)} µs added per reading)`);
console.log(`module load + start (median)    : ${median(startTimes).toFixed(1)} ms (read file, compile, validate, instantiate, _initialize, gw_init)`);
console.log(`linear memory per instance      : ${(sensor.stats.memoryBytes / 1024 / 1024).toFixed(1)} MiB`);
