/**
 * Scenario files (gateway/service/scenario-file.ts): the shipped ones load for the default
 * sensor, and every invalid field is refused with GW_ERR_SCENARIO_INVALID naming it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../gateway/errors.ts';
import { loadScenarioFile, parseScenario } from '../gateway/service/scenario-file.ts';

const SCENARIOS = fileURLToPath(new URL('../fixtures/scenarios/', import.meta.url));
const SENSORS = ['tmp102'];

async function refused(json: unknown, field: string, options: { sensors?: string[]; seed?: number } = {}): Promise<void> {
  try {
    parseScenario(json, { sensors: options.sensors ?? SENSORS, baseDir: SCENARIOS, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, 'GW_ERR_SCENARIO_INVALID');
    assert.ok(String(err.details.detail).startsWith(`${field}: `), `expected the detail to name ${field}, got ${err.details.detail}`);
    return;
  }
  assert.fail(`expected ${field} to be refused`);
}

const valid = (sensor: Record<string, unknown>, root: Record<string, unknown> = {}) => ({ name: 't', seed: 1, duration: '90s', sensors: { tmp102: sensor }, ...root });
const constant = [{ at: '0s', constant: 21.5 }];

describe('shipped scenarios', () => {
  it("docs/simulation.md's example loads as it is written", () => {
    const doc = readFileSync(new URL('../docs/simulation.md', import.meta.url), 'utf8');
    const at = doc.indexOf('### An example');
    const json = /```json\n([\s\S]*?)```/.exec(doc.slice(at))![1]!;
    const s = parseScenario(JSON.parse(json), { sensors: SENSORS, baseDir: SCENARIOS });
    assert.equal(s.durationMs, 3_600_000);
  });

  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'));

  it('are the four the docs list', () => {
    assert.deepEqual(files.sort(), ['flaky-sensor.json', 'heat-wave.json', 'office-day.json', 'unplugged-30s.json']);
  });

  for (const file of files) {
    it(`${file} loads for the default sensor "tmp102"`, async () => {
      const s = await loadScenarioFile(path.join(SCENARIOS, file), { sensors: SENSORS });
      assert.equal(`${s.name}.json`, file);
      assert.deepEqual(s.sensors, ['tmp102']);
    });
  }

  it('heat-wave crosses T_HIGH (80 °C) going up and T_LOW (75 °C) coming down', async () => {
    const s = await loadScenarioFile(path.join(SCENARIOS, 'heat-wave.json'), { sensors: SENSORS });
    const samples = Array.from({ length: s.durationMs / 60_000 + 1 }, (_, i) => s.temperatureAt('tmp102', i * 60_000)!);
    const peak = samples.indexOf(Math.max(...samples));
    assert.ok(samples[0]! < 75 && samples[peak]! > 80 && samples.at(-1)! < 75);
  });

  it('unplugged-30s: unplugged from 5 s to 35 s, 45 s long', async () => {
    const s = await loadScenarioFile(path.join(SCENARIOS, 'unplugged-30s.json'), { sensors: SENSORS });
    assert.deepEqual([4_999, 5_000, 34_999, 35_000].map((ms) => s.faultAt('tmp102', ms)), [undefined, 'unplugged', 'unplugged', undefined]);
    assert.equal(s.durationMs, 45_000);
  });

  it('flaky-sensor draws NACKs, bus errors and timeouts from its seed; --seed overrides it', async () => {
    const file = path.join(SCENARIOS, 'flaky-sensor.json');
    const faults = (s: Awaited<ReturnType<typeof loadScenarioFile>>): string[] => {
      const seen: string[] = [];
      for (let t = s.nextChangeAfter('tmp102', 0); t !== undefined; t = s.nextChangeAfter('tmp102', t)) seen.push(`${t}:${s.faultAt('tmp102', t) ?? '-'}`);
      return seen;
    };
    const own = await loadScenarioFile(file, { sensors: SENSORS });
    const text = faults(own).join(' ');
    for (const fault of ['nack', 'bus-error', 'timeout']) assert.ok(text.includes(`:${fault}`), fault);
    const reseeded = await loadScenarioFile(file, { sensors: SENSORS, seed: 4 });
    assert.equal(reseeded.seed, 4);
    assert.notDeepEqual(faults(reseeded), faults(own));
    assert.deepEqual(faults(await loadScenarioFile(file, { sensors: SENSORS })), faults(own));
  });

  it('office-day plays the office trace over 24 h', async () => {
    const s = await loadScenarioFile(path.join(SCENARIOS, 'office-day.json'), { sensors: SENSORS });
    assert.equal(s.durationMs, 86_400_000);
    assert.equal(s.temperatureAt('tmp102', 0), 19.9375);
    assert.equal(s.temperatureAt('tmp102', 86_400_000), 19.25);
  });
});

describe('invalid scenarios are refused naming the field', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'scenario-file-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('(file): missing, not JSON', async () => {
    for (const [name, content] of [['missing.json', undefined], ['broken.json', '{"name": ']] as const) {
      const file = path.join(dir, name);
      if (content !== undefined) writeFileSync(file, content);
      await assert.rejects(loadScenarioFile(file, { sensors: SENSORS }), (err: GatewayError) => err.code === 'GW_ERR_SCENARIO_INVALID' && String(err.details.detail).startsWith('(file): '));
    }
  });

  const cases: Array<[string, unknown, string]> = [
    ['root not an object', [], '(root)'],
    ['unknown root field', { ...valid({ temperature: constant }), colour: 'red' }, 'colour'],
    ['name missing', { ...valid({ temperature: constant }), name: undefined }, 'name'],
    ['seed not a uint32', valid({ temperature: constant }, { seed: -1 }), 'seed'],
    ['seed fractional', valid({ temperature: constant }, { seed: 1.5 }), 'seed'],
    ['duration garbage', valid({ temperature: constant }, { duration: 'soon' }), 'duration'],
    ['duration over a year', valid({ temperature: constant }, { duration: '400d' }), 'duration'],
    ['no sensors', { name: 't', sensors: {} }, 'sensors'],
    ['sensor not simulated', { name: 't', duration: '1m', sensors: { tmp103: { temperature: constant } } }, 'sensors.tmp103'],
    ['unknown sensor field', valid({ temperature: constant, humidity: [] }), 'sensors.tmp102.humidity'],
    ['empty timeline', valid({ temperature: [] }), 'sensors.tmp102.temperature'],
    ['first segment after 0', valid({ temperature: [{ at: '1s', constant: 20 }] }), 'sensors.tmp102.temperature[0].at'],
    ['two kinds in a segment', valid({ temperature: [{ at: '0s', constant: 20, step: 21 }] }), 'sensors.tmp102.temperature[0]'],
    ['segments out of order', valid({ temperature: [{ at: '0s', constant: 20 }, { at: '10s', constant: 21 }, { at: '5s', constant: 22 }] }), 'sensors.tmp102.temperature[2].at'],
    ['temperature above 150', valid({ temperature: [{ at: '0s', constant: 151 }] }), 'sensors.tmp102.temperature[0].constant'],
    ['ramp without over', valid({ temperature: [...constant, { at: '10s', ramp: { to: 30 } }] }), 'sensors.tmp102.temperature[1].ramp.over'],
    ['ramp opening without from', valid({ temperature: [{ at: '0s', ramp: { to: 30, over: '1m' } }] }), 'sensors.tmp102.temperature[0].ramp.from'],
    ['ramp unknown field', valid({ temperature: [...constant, { at: '10s', ramp: { to: 30, over: '1m', speed: 2 } }] }), 'sensors.tmp102.temperature[1].ramp.speed'],
    ['sine leaving the range', valid({ temperature: [{ at: '0s', sine: { mean: 140, amplitude: 20, period: '1m' } }] }), 'sensors.tmp102.temperature[0].sine.amplitude'],
    ['sine period 0', valid({ temperature: [{ at: '0s', sine: { mean: 20, amplitude: 2, period: 0 } }] }), 'sensors.tmp102.temperature[0].sine.period'],
    ['trace file missing', valid({ temperature: [{ at: '0s', trace: { file: 'nowhere.csv' } }] }), 'sensors.tmp102.temperature[0].trace.file'],
    ['trace offset past its end', valid({ temperature: [{ at: '0s', trace: { file: '../tmp102-trace-office-day.csv', offset: '2d' } }] }), 'sensors.tmp102.temperature[0].trace.offset'],
    ['segment after the duration', valid({ temperature: [...constant, { at: '2m', constant: 30 }] }), 'sensors.tmp102.temperature[1].at'],
    ['unknown fault', valid({ faults: [{ fault: 'melted', at: '1s', for: '1s' }] }), 'sensors.tmp102.faults[0].fault'],
    ['window without for', valid({ faults: [{ fault: 'nack', at: '1s' }] }), 'sensors.tmp102.faults[0].for'],
    ['window and random mixed', valid({ faults: [{ fault: 'nack', at: '1s', every: '5s', probability: 0.1 }] }), 'sensors.tmp102.faults[0].at'],
    ['reset with a length', valid({ faults: [{ fault: 'reset', at: '1s', for: '1s' }] }), 'sensors.tmp102.faults[0].for'],
    ['probability above 1', valid({ faults: [{ at: '0s', fault: 'unplugged', for: '1s' }, { fault: 'nack', every: '5s', probability: 0.5 }, { fault: 'nack', every: '5s', probability: 1.5 }] }), 'sensors.tmp102.faults[2].probability'],
    ['random for longer than every', valid({ faults: [{ fault: 'nack', every: '5s', probability: 0.5, for: '6s' }] }), 'sensors.tmp102.faults[0].for'],
    ['random until before from', valid({ faults: [{ fault: 'nack', from: '30s', until: '10s', every: '5s', probability: 0.5 }] }), 'sensors.tmp102.faults[0].until'],
    ['random until missing without a duration', { name: 't', sensors: { tmp102: { faults: [{ fault: 'nack', every: '5s', probability: 0.5 }] } } }, 'sensors.tmp102.faults[0].until'],
    ['too many slots', valid({ faults: [{ fault: 'nack', until: '365d', every: '1ms', probability: 0.5 }] }, { duration: undefined }), 'sensors.tmp102.faults[0].every'],
    ['nothing after 0 and no duration', { name: 't', sensors: { tmp102: { temperature: constant } } }, 'duration'],
  ];
  for (const [what, json, field] of cases) {
    it(`${what}: ${field}`, async () => refused(json, field));
  }

  it('--seed out of range', async () => refused(valid({ temperature: constant }), '--seed', { seed: 2 ** 32 }));
});
