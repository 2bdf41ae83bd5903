import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../drivers/clock.ts';
import { constantProfile, rampProfile, sineProfile, traceProfile } from '../drivers/sim/temperature-profile.ts';
import { TraceFileError, loadTraceProfile, parseTraceCsv } from '../drivers/sim/temperature-trace.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { temperatureRegisterToCelsius } from '../drivers/sim/tmp102-registers.ts';

const OFFICE_DAY = fileURLToPath(new URL('../fixtures/tmp102-trace-office-day.csv', import.meta.url));

function traceError(text: string): TraceFileError {
  try {
    parseTraceCsv(text, 'test.csv');
  } catch (err) {
    assert.ok(err instanceof TraceFileError);
    assert.equal(err.code, 'GW_ERR_SIM_TRACE_FILE');
    return err;
  }
  assert.fail('expected a TraceFileError');
}

describe('temperature profiles', () => {
  it('constant', () => {
    const p = constantProfile(21.5);
    assert.equal(p.celsiusAt(0), 21.5);
    assert.equal(p.celsiusAt(1e9), 21.5);
  });

  it('ramp: holds from, interpolates, then holds to', () => {
    const p = rampProfile({ from: 20, to: 30, overMs: 10_000, delayMs: 1000 });
    assert.equal(p.celsiusAt(0), 20);
    assert.equal(p.celsiusAt(1000), 20);
    assert.equal(p.celsiusAt(6000), 25);
    assert.equal(p.celsiusAt(11_000), 30);
    assert.equal(p.celsiusAt(99_000), 30);
    assert.throws(() => rampProfile({ from: 0, to: 1, overMs: 0 }), RangeError);
  });

  it('sine: mean at 0, mean + amplitude a quarter period later', () => {
    const p = sineProfile({ mean: 21, amplitude: 3, periodMs: 60_000 });
    assert.equal(p.celsiusAt(0), 21);
    assert.ok(Math.abs(p.celsiusAt(15_000) - 24) < 1e-9);
    assert.ok(Math.abs(p.celsiusAt(45_000) - 18) < 1e-9);
    assert.throws(() => sineProfile({ mean: 21, amplitude: 3, periodMs: -1 }), RangeError);
  });

  it('trace: linear interpolation, first value before the start, last value after the end', () => {
    const p = traceProfile([{ tMs: 1000, celsius: 10 }, { tMs: 3000, celsius: 20 }, { tMs: 4000, celsius: 18 }]);
    assert.equal(p.celsiusAt(0), 10);
    assert.equal(p.celsiusAt(2000), 15);
    assert.equal(p.celsiusAt(3500), 19);
    assert.equal(p.celsiusAt(10_000), 18);
    assert.throws(() => traceProfile([]), RangeError);
    assert.throws(() => traceProfile([{ tMs: 5, celsius: 1 }, { tMs: 5, celsius: 2 }]), RangeError);
  });

  it('the chip can swap profiles at run time; the new one starts where it is set', () => {
    const clock = new ManualClock();
    const chip = new SimulatedTmp102({ clock });
    clock.advanceMs(10_000);
    chip.setProfile(rampProfile({ from: 0, to: 100, overMs: 100_000 }));
    clock.advanceMs(5000); // conversions end at 26 + 250k ms; the last before 15000 is 14776
    const { temperature } = chip.peek();
    assert.equal(temperatureRegisterToCelsius(temperature), 4.75); // 4.776 °C, rounded to 0.0625
  });
});

describe('trace CSV files', () => {
  it('parses samples, skipping comments and blank lines', () => {
    const points = parseTraceCsv('# a comment\n\nseconds,celsius\n0,20.5\n60, 21\r\n120,-3.25\n');
    assert.deepEqual(points, [
      { tMs: 0, celsius: 20.5 },
      { tMs: 60_000, celsius: 21 },
      { tMs: 120_000, celsius: -3.25 },
    ]);
  });

  const bad: Array<[string, string, string, number | undefined]> = [
    ['a wrong header', 'time,temp\n0,20\n', 'header', 1],
    ['a missing column', 'seconds,celsius\n0,20\n60\n', 'columns', 3],
    ['an extra column', 'seconds,celsius\n0,20,1\n', 'columns', 2],
    ['a non-numeric value', 'seconds,celsius\n0,20\n60,warm\n', 'number', 3],
    ['an empty value', 'seconds,celsius\n0,\n', 'number', 2],
    ['a negative time', 'seconds,celsius\n-1,20\n', 'negative-time', 2],
    ['time going backwards', 'seconds,celsius\n0,20\n60,21\n30,22\n', 'time-order', 4],
    ['a repeated time', 'seconds,celsius\n0,20\n0,21\n', 'time-order', 3],
    ['an impossible temperature', 'seconds,celsius\n0,-300\n', 'below-absolute-zero', 2],
    ['an empty file', '', 'empty', undefined],
    ['a header without samples', 'seconds,celsius\n', 'empty', undefined],
  ];
  for (const [what, text, problem, line] of bad) {
    it(`rejects ${what}`, () => {
      const err = traceError(text);
      assert.equal(err.problem, problem);
      assert.equal(err.line, line);
    });
  }

  it('loads the office-day fixture: a realistic day in 0.0625 °C steps', () => {
    const points = parseTraceCsv(readFixture(), 'office');
    assert.ok(points.length >= 90 && points.length <= 110, `${points.length} points`);
    assert.equal(points[0]!.tMs, 0);
    assert.equal(points.at(-1)!.tMs, 24 * 3_600_000);
    for (const p of points) {
      assert.ok(p.celsius > 15 && p.celsius < 30, `${p.celsius} °C`);
      assert.equal(p.celsius * 16, Math.round(p.celsius * 16));
    }
    const profile = loadTraceProfile(OFFICE_DAY);
    assert.match(profile.description, /^trace tmp102-trace-office-day\.csv \(\d+ points over 24\.0 h\)$/);
    const [a, b] = [points[40]!, points[41]!];
    assert.equal(profile.celsiusAt((a.tMs + b.tMs) / 2), (a.celsius + b.celsius) / 2);
  });

  it('drives the simulated chip through the day', () => {
    const clock = new ManualClock();
    const chip = new SimulatedTmp102({ clock, profile: loadTraceProfile(OFFICE_DAY) });
    const points = parseTraceCsv(readFixture());
    clock.advanceMs(14 * 3_600_000 + 26); // a conversion ends exactly at 14:00:00.026
    const expected = traceProfile(points).celsiusAt(14 * 3_600_000 + 26);
    assert.equal(temperatureRegisterToCelsius(chip.peek().temperature), Math.round(expected * 16) / 16);
  });
});

function readFixture(): string {
  return readFileSync(OFFICE_DAY, 'utf8');
}
