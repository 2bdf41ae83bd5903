/**
 * ScenarioRunner (drivers/sim/scenario-runner.ts) driving a real SimulatedTmp102 on a
 * SimulatedI2CBus with a ManualClock: what the chip's registers and bus answers show at given
 * instants, and that they do not depend on how often the chip is read or when timers fire.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, type Clock } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { Scenario, type FaultRule, type TemperatureSegment } from '../drivers/sim/scenario.ts';
import { ScenarioRunner, type SimEvent } from '../drivers/sim/scenario-runner.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { celsiusToCount, celsiusToLimitRegister, temperatureCountToRegister, temperatureRegisterToCelsius } from '../drivers/sim/tmp102-registers.ts';

const ADDR = 0x48;
const S = 'tmp102';
/** Power-up conversion ends 26 ms after the start, then one every 250 ms (CR=10, 4 Hz). */
const FIRST_END = 26;
const PERIOD = 250;

/** A clock whose timers never fire: the runner's timers must not matter to what a chip shows. */
class TimerlessClock implements Clock {
  readonly inner = new ManualClock();
  monotonicNs(): bigint {
    return this.inner.monotonicNs();
  }
  realtimeNs(): bigint {
    return this.inner.realtimeNs();
  }
  sleep(ns: bigint): void {
    this.inner.sleep(ns);
  }
  schedule(): () => void {
    return () => undefined;
  }
  advanceMs(ms: number): void {
    this.inner.advanceMs(ms);
  }
}

function makeScenario(temperature: TemperatureSegment[] | undefined, faults: FaultRule[] = [], durationMs = 120_000, seed = 7): Scenario {
  return new Scenario({ name: 'test', seed, durationMs, sensors: { [S]: { ...(temperature ? { temperature } : {}), faults } } });
}

function setup(scenario: Scenario | undefined, clock: ManualClock | TimerlessClock = new ManualClock()) {
  const bus = new SimulatedI2CBus(1);
  const chip = new SimulatedTmp102({ clock });
  bus.attach(ADDR, chip);
  const events: SimEvent[] = [];
  const runner = new ScenarioRunner({ clock, chips: new Map([[S, chip]]), ...(scenario ? { scenario } : {}), onEvent: (e) => events.push(e) });
  runner.start();
  const start = Number(clock.monotonicNs()) / 1e6;
  /** Moves the clock to scenario-start + `ms` (never backwards). */
  const at = (ms: number): void => clock.advanceMs(start + ms - Number(clock.monotonicNs()) / 1e6);
  const readWord = (register: number): number => {
    const [msb, lsb] = bus.readRegister(ADDR, register, 2);
    return (msb! << 8) | lsb!;
  };
  /** The temperature register in °C, or the error code the bus gave. */
  const read = (): number | string => {
    try {
      return temperatureRegisterToCelsius(readWord(0));
    } catch (err) {
      if (err instanceof I2CError) return err.code;
      throw err;
    }
  };
  return { clock, bus, chip, runner, events, at, read, readWord };
}

/** What the 12-bit register holds for a die temperature. */
const quantized = (celsius: number): number => temperatureRegisterToCelsius(temperatureCountToRegister(celsiusToCount(celsius, false), false));
/** The end of the last conversion at or before `ms` (chip and scenario start together). */
const lastEnd = (ms: number): number => FIRST_END + Math.floor((ms - FIRST_END) / PERIOD) * PERIOD;

describe('ScenarioRunner: temperature', () => {
  const timeline: TemperatureSegment[] = [
    { kind: 'constant', atMs: 0, celsius: 20 },
    { kind: 'ramp', atMs: 10_000, to: 30, overMs: 10_000 },
    { kind: 'constant', atMs: 30_000, celsius: 25 },
  ];

  it('the temperature register follows the timeline, sampled at each conversion end', () => {
    const scenario = makeScenario(timeline);
    const { at, read } = setup(scenario);
    for (const ms of [100, 9_990, 12_345, 15_000, 19_999, 29_999, 30_100, 60_000]) {
      at(ms);
      assert.equal(read(), quantized(scenario.temperatureAt(S, lastEnd(ms))!), `at ${ms} ms`);
    }
  });

  it('an override holds until released, then the timeline is back', () => {
    const scenario = makeScenario(timeline);
    const { at, read, runner } = setup(scenario);
    at(1_000);
    runner.setTemperature(S, 40);
    assert.equal(read(), 20, 'the register changes only when a conversion ends');
    at(1_000 + PERIOD);
    assert.equal(read(), 40);
    at(15_000);
    assert.equal(read(), 40);
    assert.equal(runner.sensorState(S).temperatureOverride, 40);
    runner.releaseTemperature(S);
    at(15_000 + PERIOD);
    assert.equal(read(), quantized(scenario.temperatureAt(S, lastEnd(15_000 + PERIOD))!));
    assert.throws(() => runner.setTemperature(S, 151), RangeError);
    assert.throws(() => runner.setTemperature(S, -56), RangeError);
    assert.throws(() => runner.setTemperature('other', 20), RangeError);
  });

  it('without a scenario the chip keeps its own profile until an override', () => {
    const { at, read, runner } = setup(undefined);
    at(500);
    assert.equal(read(), 21.5);
    runner.setTemperature(S, -12.5);
    at(800);
    assert.equal(read(), -12.5);
    runner.releaseTemperature(S);
    at(1_100);
    assert.equal(read(), 21.5);
    assert.equal(runner.durationMs, undefined);
    assert.throws(() => runner.jump(0), RangeError);
  });
});

describe('ScenarioRunner: faults', () => {
  it('a fault window refuses transactions exactly inside [at, at + for)', () => {
    const { at, read } = setup(makeScenario([{ kind: 'constant', atMs: 0, celsius: 20 }], [{ kind: 'window', fault: 'timeout', atMs: 5_000, forMs: 1_000 }]));
    at(4_999.999);
    assert.equal(read(), 20);
    at(5_000);
    assert.equal(read(), 'GW_ERR_I2C_TIMEOUT');
    at(5_999.999);
    assert.equal(read(), 'GW_ERR_I2C_TIMEOUT');
    at(6_000);
    assert.equal(read(), 20);
  });

  it('unplugged then plugged back: NACKs, then a chip in its power-up state, even when first read long after', () => {
    const { at, read, readWord, bus, chip } = setup(makeScenario([{ kind: 'constant', atMs: 0, celsius: 22 }], [{ kind: 'window', fault: 'unplugged', atMs: 5_000, forMs: 30_000 }]));
    at(1_000);
    bus.writeRegister(ADDR, 3, Uint8Array.of(celsiusToLimitRegister(30) >> 8, 0)); // the module's own T_HIGH
    assert.equal(readWord(3), celsiusToLimitRegister(30));
    at(20_000);
    assert.equal(read(), 'GW_ERR_I2C_NACK');
    at(35_010); // first touch after the replug at 35 s: the power-up conversion (35.000-35.026) is still running
    assert.equal(read(), 0);
    assert.equal(readWord(1), 0x60a0);
    assert.equal(readWord(3), 0x5000, 'T_HIGH back to its power-up 80 °C');
    at(35_026);
    assert.equal(read(), 22);
    assert.equal(chip.stats.refused, 1);
  });

  it('a reset in the scenario puts the chip back to power-up values behind the module', () => {
    const { at, read, readWord, bus, runner } = setup(makeScenario([{ kind: 'constant', atMs: 0, celsius: 22 }], [{ kind: 'reset', atMs: 10_000 }]));
    at(1_000);
    bus.writeRegister(ADDR, 3, Uint8Array.of(celsiusToLimitRegister(30) >> 8, 0));
    at(10_010);
    assert.equal(readWord(3), 0x5000);
    assert.equal(read(), 0, 'the power-up conversion started at 10 s');
    at(10_026);
    assert.equal(read(), 22);
    assert.equal(runner.sensorState(S).resets, 1);
    runner.resetChip(S);
    assert.equal(read(), 0);
    assert.equal(runner.sensorState(S).resets, 2);
  });

  it('a live fault wins over the scenario, lasts clock time even while paused, and clear hands back to the scenario', () => {
    const { at, read, runner, events } = setup(makeScenario([{ kind: 'constant', atMs: 0, celsius: 20 }], [{ kind: 'window', fault: 'nack', atMs: 10_000, forMs: 20_000 }]));
    at(1_000);
    runner.pause();
    runner.injectFault(S, 'bus-error', 2_000);
    assert.equal(read(), 'GW_ERR_I2C_BUS');
    assert.deepEqual(runner.sensorState(S).faultOverride, { fault: 'bus-error', untilScenarioMs: 3_000 });
    at(2_999);
    assert.equal(read(), 'GW_ERR_I2C_BUS');
    at(3_000);
    assert.equal(read(), 20);
    assert.equal(runner.timeMs, 1_000, 'paused: scenario time stood still');
    assert.ok(events.some((e) => e.source === 'control' && e.what === 'live fault bus-error ran out'));
    runner.resume();
    at(2_000 + 10_000); // scenario time 10 s: the scenario's nack window
    assert.equal(read(), 'GW_ERR_I2C_NACK');
    runner.injectFault(S, 'timeout');
    assert.equal(read(), 'GW_ERR_I2C_TIMEOUT');
    runner.clearFault(S);
    assert.equal(read(), 'GW_ERR_I2C_NACK', 'the scenario fault continues');
    assert.throws(() => runner.injectFault(S, 'melted' as never), RangeError);
  });
});

describe('ScenarioRunner: pause, jump, end', () => {
  const timeline: TemperatureSegment[] = [{ kind: 'constant', atMs: 0, celsius: 20 }, { kind: 'ramp', atMs: 10_000, to: 30, overMs: 10_000 }];
  const faults: FaultRule[] = [{ kind: 'window', fault: 'unplugged', atMs: 40_000, forMs: 10_000 }];

  it('pause holds the temperature; resume runs on from there', () => {
    const { at, read, runner } = setup(makeScenario(timeline, faults));
    at(15_000);
    runner.pause();
    assert.equal(runner.paused, true);
    at(100_000);
    assert.equal(runner.timeMs, 15_000);
    assert.equal(read(), 25);
    runner.resume();
    at(105_000);
    assert.equal(runner.timeMs, 20_000);
    assert.equal(read(), quantized(30 - (20_000 - (lastEnd(105_000) - 85_000)) / 1_000));
  });

  it('a jump applies the state at the target at once: into a window, out of it, mid-ramp', () => {
    const { at, read, readWord, runner } = setup(makeScenario(timeline, faults));
    at(1_000);
    runner.jump(45_000);
    assert.equal(runner.timeMs, 45_000);
    assert.equal(read(), 'GW_ERR_I2C_NACK');
    runner.jump(15_000);
    assert.equal(read(), 0, 'plugged back: power-up state');
    assert.equal(readWord(1), 0x60a0);
    at(1_026);
    assert.equal(read(), 25, 'the ramp continues from its value at the target');
    assert.throws(() => runner.jump(-1), RangeError);
    assert.throws(() => runner.jump(120_001), RangeError);
  });

  it('ended resolves when scenario time reaches the duration, with the events in order', async () => {
    const { at, runner, events } = setup(makeScenario(timeline, faults, 60_000));
    let ended = false;
    void runner.ended.then(() => (ended = true));
    at(59_999);
    await Promise.resolve();
    assert.equal(ended, false);
    at(60_000);
    await runner.ended;
    assert.equal(runner.timeMs, 60_000);
    at(70_000);
    assert.equal(runner.timeMs, 60_000, 'time stands at the end');
    assert.deepEqual(events.map((e) => `${e.scenarioMs} ${e.what}`), [
      '0 scenario test started (seed 7, 1m)',
      '0 temperature 20 °C',
      '10000 temperature 20 -> 30 °C over 10s',
      '40000 fault unplugged begins',
      '50000 fault unplugged ends',
      '60000 scenario ended',
    ]);
    // A jump back runs it again from there, with its events.
    events.length = 0;
    runner.jump(45_000);
    at(90_000);
    assert.equal(runner.timeMs, 60_000);
    assert.deepEqual(events.map((e) => `${e.scenarioMs} ${e.what}`), ['50000 fault unplugged ends', '60000 scenario ended']);
  });

  it('refuses a scenario naming a sensor that is not simulated', () => {
    const clock = new ManualClock();
    const scenario = new Scenario({ name: 'x', seed: 0, durationMs: 1_000, sensors: { other: { temperature: [{ kind: 'constant', atMs: 0, celsius: 1 }] } } });
    assert.throws(() => new ScenarioRunner({ clock, chips: new Map([[S, new SimulatedTmp102({ clock })]]), scenario }), RangeError);
  });
});

describe('ScenarioRunner: the same scenario and seed give the same chip on every run', () => {
  const scenario = makeScenario(
    [{ kind: 'constant', atMs: 0, celsius: 21 }, { kind: 'ramp', atMs: 3_000, to: 85, overMs: 20_000 }, { kind: 'sine', atMs: 30_000, mean: 40, amplitude: 30, periodMs: 7_000 }],
    [
      { kind: 'random', fault: 'nack', fromMs: 0, untilMs: 60_000, everyMs: 700, probability: 0.2, forMs: 300 },
      { kind: 'random', fault: 'stuck', fromMs: 0, untilMs: 60_000, everyMs: 1_900, probability: 0.3 },
      { kind: 'window', fault: 'unplugged', atMs: 17_010, forMs: 2_345 },
      { kind: 'reset', atMs: 22_013 },
    ],
    60_000,
    99,
  );
  /** Live commands at fixed scenario-start offsets, the same in every run. */
  const commands: Array<[number, (r: ScenarioRunner) => void]> = [
    [5_000, (r) => r.setTemperature(S, 90)],
    [8_000, (r) => r.releaseTemperature(S)],
    [12_000, (r) => r.injectFault(S, 'timeout', 1_500)],
    [20_000, (r) => r.pause()],
    [24_000, (r) => r.resume()],
    [28_000, (r) => r.jump(33_000)],
    [31_000, (r) => r.resetChip(S)],
  ];
  /** Instants every run looks at (ms since start). */
  const common = Array.from({ length: 80 }, (_, i) => 500 * i + 13);

  function run(clock: ManualClock | TimerlessClock, extraReads: (from: number, to: number) => number[]): string[] {
    const { at, read, chip, runner } = setup(scenario, clock);
    chip.onAlertChange(() => undefined);
    const seen: string[] = [];
    const pending = [...commands];
    let now = 0;
    for (const instant of common) {
      for (const extra of extraReads(now, instant)) {
        while (pending.length && pending[0]![0] <= extra) {
          at(pending[0]![0]);
          pending.shift()![1](runner);
        }
        at(extra);
        read();
      }
      while (pending.length && pending[0]![0] <= instant) {
        at(pending[0]![0]);
        pending.shift()![1](runner);
      }
      at(instant);
      const regs = chip.peek();
      seen.push(`${instant}: ${read()} alert=${chip.alertPinLevel} config=${regs.configuration.toString(16)} fault=${chip.fault} resets=${chip.resets}`);
      now = instant;
    }
    return seen;
  }

  it('reading every 37 ms, at scattered instants, or only at the common instants with no timers at all: the same answers', () => {
    const dense = run(new ManualClock(), (from, to) => {
      const out: number[] = [];
      for (let t = from + 37; t < to; t += 37) out.push(t);
      return out;
    });
    let x = 12345;
    const scattered = run(new ManualClock(), (from, to) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const t = from + ((x % 1000) / 1000) * (to - from);
      return t > from && t < to ? [t] : [];
    });
    const sparse = run(new TimerlessClock(), () => []);
    assert.deepEqual(scattered, dense);
    assert.deepEqual(sparse, dense);
    if (process.env['SHOW_RUN']) console.log(dense.join('\n'));
    // The run saw what the scenario is about: every kind of answer.
    const text = dense.join('\n');
    for (const expected of ['GW_ERR_I2C_NACK', 'GW_ERR_I2C_TIMEOUT', 'resets=2']) assert.ok(text.includes(expected), expected);
  });

  it('another seed draws other slots', () => {
    const a = makeScenario(undefined, [{ kind: 'random', fault: 'nack', fromMs: 0, untilMs: 60_000, everyMs: 700, probability: 0.2 }], 60_000, 99);
    const b = a.withSeed(100);
    const faults = (s: Scenario): string => common.map((ms) => s.faultAt(S, ms) ?? '-').join(',');
    assert.notEqual(faults(a), faults(b));
  });
});
