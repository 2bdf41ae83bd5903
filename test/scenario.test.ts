/**
 * The scenario model (drivers/sim/scenario.ts): every segment kind, fault precedence, random
 * slots drawn from the seed (stable across runs: exact outcomes pinned), next-change search.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Scenario, type FaultRule, type ScenarioDefinition, type TemperatureSegment } from '../drivers/sim/scenario.ts';
import { fmix32, slotHash } from '../drivers/sim/scenario-hash.ts';
import { traceProfile } from '../drivers/sim/temperature-profile.ts';

const S = 'tmp102';

function scenario(temperature: TemperatureSegment[] | undefined, faults: FaultRule[] = [], extra: Partial<ScenarioDefinition> = {}): Scenario {
  return new Scenario({ name: 'test', seed: 1, durationMs: 3_600_000, sensors: { [S]: { ...(temperature ? { temperature } : {}), faults } }, ...extra });
}

const random: FaultRule = { kind: 'random', fault: 'nack', fromMs: 0, untilMs: 100_000, everyMs: 5_000, probability: 0.3, forMs: 1_000 };
const slots = (s: Scenario): string => Array.from({ length: 20 }, (_, k) => (s.slotActive(S, 0, k) ? '1' : '0')).join('');
const close = (actual: number | undefined, expected: number): void => assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

describe('scenario temperature timeline', () => {
  it('constant segments hold until the next starts (a step)', () => {
    const s = scenario([{ kind: 'constant', atMs: 0, celsius: 21.5 }, { kind: 'constant', atMs: 10_000, celsius: 30 }]);
    assert.equal(s.temperatureAt(S, 0), 21.5);
    assert.equal(s.temperatureAt(S, 9_999), 21.5);
    assert.equal(s.temperatureAt(S, 10_000), 30);
    assert.equal(s.temperatureAt(S, 3_000_000), 30);
  });

  it('a ramp starts from the value the timeline has when it starts, then holds its target', () => {
    const s = scenario([
      { kind: 'constant', atMs: 0, celsius: 20 },
      { kind: 'ramp', atMs: 60_000, to: 30, overMs: 100_000 },
      { kind: 'ramp', atMs: 110_000, to: 0, overMs: 50_000 }, // starts mid-ramp, at 25 °C
    ]);
    assert.equal(s.temperatureAt(S, 60_000), 20);
    close(s.temperatureAt(S, 85_000), 22.5);
    close(s.temperatureAt(S, 110_000), 25);
    close(s.temperatureAt(S, 135_000), 12.5);
    close(s.temperatureAt(S, 500_000), 0);
  });

  it('a ramp that opens the timeline needs "from"', () => {
    assert.throws(() => scenario([{ kind: 'ramp', atMs: 0, to: 30, overMs: 1000 }]), RangeError);
    close(scenario([{ kind: 'ramp', atMs: 0, from: 10, to: 30, overMs: 1000 }]).temperatureAt(S, 500), 20);
  });

  it('a sine is timed from its segment start, shifted by its phase', () => {
    const s = scenario([
      { kind: 'constant', atMs: 0, celsius: 0 },
      { kind: 'sine', atMs: 10_000, mean: 21, amplitude: 3, periodMs: 60_000 },
      { kind: 'sine', atMs: 100_000, mean: 21, amplitude: 3, periodMs: 60_000, phaseMs: 15_000 },
    ]);
    close(s.temperatureAt(S, 10_000), 21);
    close(s.temperatureAt(S, 25_000), 24);
    close(s.temperatureAt(S, 55_000), 18);
    close(s.temperatureAt(S, 100_000), 24); // a quarter period of phase: starts at the peak
  });

  it('a trace plays from its segment start, skipping its offset, then holds its last value', () => {
    const profile = traceProfile([{ tMs: 0, celsius: 10 }, { tMs: 10_000, celsius: 20 }, { tMs: 20_000, celsius: 0 }]);
    const s = scenario([
      { kind: 'constant', atMs: 0, celsius: 5 },
      { kind: 'trace', atMs: 30_000, profile, lengthMs: 20_000, offsetMs: 5_000 },
    ]);
    close(s.temperatureAt(S, 30_000), 15);
    close(s.temperatureAt(S, 35_000), 20);
    close(s.temperatureAt(S, 40_000), 10);
    close(s.temperatureAt(S, 100_000), 0);
  });

  it('leaves the temperature to the chip where a sensor has no timeline', () => {
    assert.equal(scenario(undefined, [{ kind: 'window', fault: 'nack', atMs: 0, forMs: 1 }]).temperatureAt(S, 0), undefined);
  });

  it('refuses segments out of order, a first segment after 0, an unknown sensor', () => {
    assert.throws(() => scenario([{ kind: 'constant', atMs: 1, celsius: 1 }]), RangeError);
    assert.throws(() => scenario([{ kind: 'constant', atMs: 0, celsius: 1 }, { kind: 'constant', atMs: 0, celsius: 2 }]), RangeError);
    assert.throws(() => scenario([{ kind: 'constant', atMs: 0, celsius: 1 }]).temperatureAt('other', 0), RangeError);
  });
});

describe('scenario faults', () => {
  it('a window is active on [at, at + for)', () => {
    const s = scenario(undefined, [{ kind: 'window', fault: 'unplugged', atMs: 30_000, forMs: 30_000 }]);
    assert.equal(s.faultAt(S, 29_999), undefined);
    assert.equal(s.faultAt(S, 30_000), 'unplugged');
    assert.equal(s.faultAt(S, 59_999), 'unplugged');
    assert.equal(s.faultAt(S, 60_000), undefined);
  });

  it('overlapping rules: the most severe wins (unplugged > timeout > bus-error > nack > stuck)', () => {
    const order = ['stuck', 'nack', 'bus-error', 'timeout', 'unplugged'] as const;
    // Each fault from 10 s * its rank to 100 s: the later, more severe one takes over.
    const rules: FaultRule[] = order.map((fault, i) => ({ kind: 'window', fault, atMs: 10_000 * (i + 1), forMs: 100_000 - 10_000 * (i + 1) }));
    const s = scenario(undefined, [...rules].reverse());
    order.forEach((fault, i) => assert.equal(s.faultAt(S, 10_000 * (i + 1) + 5_000), fault));
    // The unplugged window is shorter than the stuck one: stuck shows again after it.
    const t = scenario(undefined, [{ kind: 'window', fault: 'stuck', atMs: 0, forMs: 50_000 }, { kind: 'window', fault: 'unplugged', atMs: 10_000, forMs: 10_000 }]);
    assert.deepEqual([5_000, 15_000, 25_000, 55_000].map((ms) => t.faultAt(S, ms)), ['stuck', 'unplugged', 'stuck', undefined]);
  });

  it('counts resets at or before a time', () => {
    const s = scenario(undefined, [{ kind: 'reset', atMs: 70_000 }, { kind: 'reset', atMs: 80_000 }]);
    assert.deepEqual([69_999, 70_000, 79_999, 80_000].map((ms) => s.resetsUntil(S, ms)), [0, 1, 1, 2]);
    assert.equal(s.resetAt(S, 70_000), true);
    assert.equal(s.resetAt(S, 70_001), false);
  });

  it('the slot hash is stable across runs and machines (exact values pinned)', () => {
    assert.equal(fmix32(0), 0);
    assert.equal(fmix32(1), 0x514e28b7);
    assert.deepEqual([0, 1, 2, 3].map((k) => slotHash(1, S, 0, k)), [SLOT_HASHES[0], SLOT_HASHES[1], SLOT_HASHES[2], SLOT_HASHES[3]]);
  });

  it('random slots are drawn from the seed: pinned for seeds 1 and 2, different between them', () => {
    const one = scenario(undefined, [random]);
    assert.equal(slots(one), SLOTS_SEED_1);
    assert.equal(slots(one.withSeed(2)), SLOTS_SEED_2);
    assert.notEqual(SLOTS_SEED_1, SLOTS_SEED_2);
  });

  it('a slot carries its fault for "for" from the slot start, whatever the order of questions', () => {
    const s = scenario(undefined, [random]);
    const k = SLOTS_SEED_1.indexOf('1');
    const start = k * 5_000;
    const times = [start + 999, start, start + 1_000, start - 1, start + 500];
    const forward = times.map((ms) => s.faultAt(S, ms));
    const backward = [...times].reverse().map((ms) => s.faultAt(S, ms)).reverse();
    assert.deepEqual(forward, ['nack', 'nack', undefined, undefined, 'nack']);
    assert.deepEqual(backward, forward);
  });

  it('probability 0 never fires, 1 always does; the rule index is part of the draw', () => {
    assert.equal(slots(scenario(undefined, [{ ...random, probability: 0 } as FaultRule])), '0'.repeat(20));
    assert.equal(slots(scenario(undefined, [{ ...random, probability: 1 } as FaultRule])), '1'.repeat(20));
    const second = scenario(undefined, [{ kind: 'reset', atMs: 1 }, random]);
    const asSecond = Array.from({ length: 20 }, (_, k) => (second.slotActive(S, 1, k) ? '1' : '0')).join('');
    assert.notEqual(asSecond, SLOTS_SEED_1);
  });
});

describe('scenario next change', () => {
  it('lists segment starts, fault changes and resets in order, and nothing past the duration', () => {
    const s = scenario(
      [{ kind: 'constant', atMs: 0, celsius: 20 }, { kind: 'ramp', atMs: 10_000, to: 30, overMs: 60_000 }],
      [{ kind: 'window', fault: 'nack', atMs: 5_000, forMs: 10_000 }, { kind: 'reset', atMs: 40_000 }],
      { durationMs: 50_000 },
    );
    const changes: number[] = [];
    for (let t = s.nextChangeAfter(S, 0); t !== undefined; t = s.nextChangeAfter(S, t)) changes.push(t);
    assert.deepEqual(changes, [5_000, 10_000, 15_000, 40_000]);
    assert.equal(s.nextFaultChangeAfter(S, 5_000), 15_000);
    assert.equal(s.nextChangeAfter(S, 0, 4_999), undefined);
  });

  it('skips a change hidden by a more severe fault', () => {
    const s = scenario(undefined, [{ kind: 'window', fault: 'unplugged', atMs: 0, forMs: 60_000 }, { kind: 'window', fault: 'nack', atMs: 10_000, forMs: 10_000 }]);
    assert.equal(s.nextFaultChangeAfter(S, 0), 60_000);
  });

  it('finds the random slots that fire, and only those', () => {
    const s = scenario(undefined, [random]);
    const starts: number[] = [];
    for (let t = s.nextFaultChangeAfter(S, -1, 100_000); t !== undefined; t = s.nextFaultChangeAfter(S, t, 100_000)) if (s.faultAt(S, t)) starts.push(t / 5_000);
    assert.deepEqual(starts, [...SLOTS_SEED_1].flatMap((bit, k) => (bit === '1' ? [k] : [])));
  });

  it('the duration, when absent, is the end of the last timed item', () => {
    const s = new Scenario({ name: 't', seed: 0, sensors: { [S]: { temperature: [{ kind: 'constant', atMs: 0, celsius: 1 }, { kind: 'ramp', atMs: 10_000, to: 2, overMs: 5_000 }], faults: [{ kind: 'window', fault: 'nack', atMs: 1_000, forMs: 12_000 }] } } });
    assert.equal(s.durationMs, 15_000);
    assert.throws(() => new Scenario({ name: 't', seed: 0, sensors: { [S]: { temperature: [{ kind: 'constant', atMs: 0, celsius: 1 }] } } }), RangeError);
  });
});

// Pinned outputs: a change to the hash or the draw would silently redraw every shipped scenario.
const SLOT_HASHES = [0xeb355a93, 0xfbe8f214, 0xe6cad44a, 0x19cc3ecd];
const SLOTS_SEED_1 = '00010010010101100100';
const SLOTS_SEED_2 = '10001000000001000001';
