/**
 * Scenario files (`npm start -- --scenario <file>`, docs/simulation.md "Scenarios"): read with a
 * ceiling, validated strictly, every problem refused as GW_ERR_SCENARIO_INVALID naming the field
 * (`sensors.tmp102.faults[2].probability: must be 0..1`), the way config.ts names its fields.
 * A scenario that would misbehave half an hour into a run is refused before the gateway starts.
 */
import path from 'node:path';
import { BoundedFileError, readBoundedFileSync } from '../../drivers/bounded-file.ts';
import { parseDuration } from '../../drivers/sim/duration.ts';
import { MAX_RANDOM_SLOTS, MAX_SCENARIO_MS, Scenario, type FaultRule, type ScenarioFault, type SensorScript, type TemperatureSegment } from '../../drivers/sim/scenario.ts';
import type { SimQuantity } from '../../drivers/sim/simulated-device.ts';
import { traceProfile } from '../../drivers/sim/temperature-profile.ts';
import { TRACE_FILE_MAX_BYTES, parseTraceCsv } from '../../drivers/sim/temperature-trace.ts';
import { TMP102_SPEC_RANGE_C } from '../../drivers/sim/tmp102-registers.ts';
import { readJsonFile } from './json-file.ts';
import { type Obj, fieldChecks, isObj } from './config-fields.ts';

const { invalid, onlyKeys } = fieldChecks('GW_ERR_SCENARIO_INVALID');

/** Like the configuration file's ceiling: a scenario is a few kilobytes; 1 MiB bounds a wrong path (/dev/zero, a log). */
export const SCENARIO_FILE_MAX_BYTES = 2 ** 20;
/** Segments per sensor: a minute-by-minute day is 1,440; longer recordings belong in a trace file. */
export const MAX_SEGMENTS = 10_000;
/** Fault rules per sensor: every chip access looks at each rule, so they stay few. */
export const MAX_FAULT_RULES = 256;

const FAULTS: readonly ScenarioFault[] = ['nack', 'bus-error', 'timeout', 'stuck', 'unplugged'];
const SEGMENT_KINDS = ['constant', 'step', 'ramp', 'sine', 'trace'] as const;

export interface ScenarioFileOptions {
  /** The simulated sensors by name; the file may script only these. */
  sensors: readonly string[];
  /**
   * What each sensor's device has to script (hardware.ts simulatedQuantities); a timeline of
   * a quantity the device lacks is refused naming the field. Absent: not checked here (the
   * scenario runner refuses it when it starts).
   */
  quantities?: Readonly<Record<string, readonly SimQuantity[]>>;
  /** Overrides the file's seed (`--seed`). */
  seed?: number;
}

export async function loadScenarioFile(file: string, options: ScenarioFileOptions): Promise<Scenario> {
  const json = await readJsonFile(file, SCENARIO_FILE_MAX_BYTES, invalid);
  return parseScenario(json, { ...options, baseDir: path.dirname(path.resolve(file)) });
}

/** Validates a parsed scenario; trace files resolve against `baseDir`. */
export function parseScenario(json: unknown, options: ScenarioFileOptions & { baseDir: string }): Scenario {
  if (!isObj(json)) throw invalid('(root)', 'must be a JSON object');
  onlyKeys(json, '', ['$schema', 'name', 'description', 'seed', 'duration', 'sensors']);
  const name = json['name'];
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name)) throw invalid('name', 'must be 1-64 letters, digits, spaces, ".", "-" or "_", starting with a letter or digit');
  const description = json['description'] ?? '';
  if (typeof description !== 'string' || description.length > 1000) throw invalid('description', 'must be a string of at most 1000 characters');
  const seed = options.seed ?? json['seed'] ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw invalid(options.seed === undefined ? 'seed' : '--seed', `must be an integer 0..4294967295 (uint32), got ${JSON.stringify(seed)}`);
  }
  const durationMs = json['duration'] === undefined ? undefined : duration(json['duration'], 'duration', { positive: true });

  const sensorsRaw = json['sensors'];
  if (!isObj(sensorsRaw) || Object.keys(sensorsRaw).length === 0) throw invalid('sensors', 'must be an object with at least one sensor, e.g. {"tmp102": {...}}');
  const sensors: Record<string, SensorScript> = {};
  for (const [sensor, raw] of Object.entries(sensorsRaw)) {
    const f = `sensors.${sensor}`;
    if (!options.sensors.includes(sensor)) throw invalid(f, `no simulated sensor named ${JSON.stringify(sensor)} (simulated: ${options.sensors.join(', ') || 'none'})`);
    if (!isObj(raw)) throw invalid(f, 'must be an object with "temperature", "humidity" and/or "faults"');
    onlyKeys(raw, f, ['temperature', 'humidity', 'faults']);
    if (raw['temperature'] === undefined && raw['humidity'] === undefined && raw['faults'] === undefined) throw invalid(f, 'must have "temperature", "humidity" or "faults"');
    const has = options.quantities?.[sensor];
    for (const quantity of ['temperature', 'humidity'] as const) {
      if (raw[quantity] !== undefined && has !== undefined && !has.includes(quantity)) {
        throw invalid(`${f}.${quantity}`, `sensor ${JSON.stringify(sensor)}'s simulated device has no ${quantity} (it has: ${has.join(', ') || 'faults only'})`);
      }
    }
    sensors[sensor] = {
      ...(raw['temperature'] === undefined ? {} : { temperature: timeline(raw['temperature'], `${f}.temperature`, options.baseDir, durationMs, CELSIUS) }),
      ...(raw['humidity'] === undefined ? {} : { humidity: timeline(raw['humidity'], `${f}.humidity`, options.baseDir, durationMs, PERCENT_RH) }),
      ...(raw['faults'] === undefined ? {} : { faults: faultRules(raw['faults'], `${f}.faults`, durationMs) }),
    };
  }
  try {
    return new Scenario({ name, description, seed, ...(durationMs === undefined ? {} : { durationMs }), sensors });
  } catch (err) {
    // What the fields cannot say on their own: a scenario where nothing happens after 0 s, or that runs past a year.
    throw invalid('duration', (err as Error).message, err);
  }
}

function required(o: Obj, key: string, field: string): unknown {
  if (o[key] === undefined) throw invalid(`${field}.${key}`, 'is required');
  return o[key];
}

/** "30s", "10m", 90 (seconds): drivers/sim/duration.ts, the same parser as `npm run sim`. */
function duration(v: unknown, field: string, opts: { positive?: boolean } = {}): number {
  if (typeof v !== 'string' && typeof v !== 'number') throw invalid(field, `must be a duration such as "30s", "10m", "1h" or a number of seconds, got ${JSON.stringify(v)}`);
  let ms: number;
  try {
    ms = parseDuration(v);
  } catch (err) {
    throw invalid(field, (err as Error).message);
  }
  if (opts.positive && ms <= 0) throw invalid(field, 'must be longer than 0');
  if (ms > MAX_SCENARIO_MS) throw invalid(field, `must be at most a year (365d), got ${JSON.stringify(v)}`);
  return ms;
}

/** What a timeline's values are and may be. */
interface Quantity {
  unit: string;
  min: number;
  max: number;
  /** Why those bounds, for the refusal. */
  range: string;
  /** A trace file (seconds,celsius CSV) can drive it. */
  traces: boolean;
}

/** A temperature the TMP102 is specified for: -55..150 °C (SBOS397 "Recommended Operating Conditions"). */
const CELSIUS: Quantity = { unit: '°C', ...TMP102_SPEC_RANGE_C, range: "the TMP102's specified range", traces: true };
/** Relative humidity: 0..100 %RH, what the SHT3x's output code spans (SHT3x-DIS section 4.13). */
const PERCENT_RH: Quantity = { unit: '%RH', min: 0, max: 100, range: 'relative humidity', traces: false };

function valueOf(v: unknown, field: string, q: Quantity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a number of ${q.unit}, got ${JSON.stringify(v)}`);
  if (v < q.min || v > q.max) throw invalid(field, `must be ${q.min}..${q.max} ${q.unit} (${q.range}), got ${v}`);
  return v;
}

function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function notAfterEnd(atMs: number, durationMs: number | undefined, field: string): void {
  if (durationMs !== undefined && atMs > durationMs) throw invalid(field, `is after the scenario's duration: it would never happen`);
}

function timeline(v: unknown, field: string, baseDir: string, durationMs: number | undefined, q: Quantity): TemperatureSegment[] {
  const celsius = (value: unknown, f: string) => valueOf(value, f, q);
  if (!Array.isArray(v) || v.length === 0) throw invalid(field, 'must be a non-empty array of segments such as {"at": "0s", "constant": 21.5}');
  if (v.length > MAX_SEGMENTS) throw invalid(field, `must have at most ${MAX_SEGMENTS} segments (use a trace file for a long recording), got ${v.length}`);
  let previousAt = -1;
  return v.map((raw, i): TemperatureSegment => {
    const f = `${field}[${i}]`;
    if (!isObj(raw)) throw invalid(f, 'must be an object such as {"at": "0s", "constant": 21.5}');
    const kinds = SEGMENT_KINDS.filter((k) => raw[k] !== undefined);
    onlyKeys(raw, f, ['at', ...SEGMENT_KINDS]);
    if (kinds.length !== 1) throw invalid(f, `must have exactly one of ${SEGMENT_KINDS.join(', ')}`);
    const atMs = duration(required(raw, 'at', f), `${f}.at`);
    if (i === 0 && atMs !== 0) throw invalid(`${f}.at`, 'the first segment must start at 0s: the timeline needs a value from the start');
    if (atMs <= previousAt) throw invalid(`${f}.at`, 'segments must start at strictly increasing times');
    notAfterEnd(atMs, durationMs, `${f}.at`);
    previousAt = atMs;
    const kind = kinds[0]!;
    const body = raw[kind];
    const k = `${f}.${kind}`;
    switch (kind) {
      case 'constant':
      case 'step':
        return { kind: 'constant', atMs, celsius: celsius(body, k) };
      case 'ramp': {
        if (!isObj(body)) throw invalid(k, `must be an object {"to": ${q.unit}, "over": duration, "from"?: ${q.unit}}`);
        onlyKeys(body, k, ['from', 'to', 'over']);
        if (i === 0 && body['from'] === undefined) throw invalid(`${k}.from`, 'is required when the timeline starts with a ramp');
        return {
          kind: 'ramp',
          atMs,
          to: celsius(required(body, 'to', k), `${k}.to`),
          overMs: duration(required(body, 'over', k), `${k}.over`, { positive: true }),
          ...(body['from'] === undefined ? {} : { from: celsius(body['from'], `${k}.from`) }),
        };
      }
      case 'sine': {
        if (!isObj(body)) throw invalid(k, `must be an object {"mean": ${q.unit}, "amplitude": ${q.unit}, "period": duration, "phase"?: duration}`);
        onlyKeys(body, k, ['mean', 'amplitude', 'period', 'phase']);
        const mean = celsius(required(body, 'mean', k), `${k}.mean`);
        const amplitude = finite(required(body, 'amplitude', k), `${k}.amplitude`);
        const { min, max } = q;
        if (amplitude < 0 || mean - amplitude < min || mean + amplitude > max) throw invalid(`${k}.amplitude`, `must be >= 0 and keep mean ± amplitude within ${min}..${max} ${q.unit}`);
        return {
          kind: 'sine',
          atMs,
          mean,
          amplitude,
          periodMs: duration(required(body, 'period', k), `${k}.period`, { positive: true }),
          ...(body['phase'] === undefined ? {} : { phaseMs: duration(body['phase'], `${k}.phase`) }),
        };
      }
      case 'trace': {
        if (!q.traces) throw invalid(k, `a trace file holds °C; a ${q.unit} timeline takes constant, step, ramp and sine segments`);
        if (!isObj(body)) throw invalid(k, 'must be an object {"file": "day.csv", "offset"?: duration}');
        onlyKeys(body, k, ['file', 'offset']);
        const file = required(body, 'file', k);
        if (typeof file !== 'string' || file === '') throw invalid(`${k}.file`, 'must be the path of a seconds,celsius CSV, relative to the scenario file');
        const resolved = path.resolve(baseDir, file);
        let points;
        try {
          points = parseTraceCsv(readBoundedFileSync(resolved, { maxBytes: TRACE_FILE_MAX_BYTES }).toString('utf8'), path.basename(resolved));
        } catch (err) {
          throw invalid(`${k}.file`, (err as Error).message, err);
        }
        const lengthMs = points[points.length - 1]!.tMs;
        const offsetMs = body['offset'] === undefined ? 0 : duration(body['offset'], `${k}.offset`);
        if (offsetMs > lengthMs) throw invalid(`${k}.offset`, `must be within the trace, which ends at ${lengthMs / 1000} s`);
        return { kind: 'trace', atMs, profile: traceProfile(points, `trace ${path.basename(resolved)}`), lengthMs, ...(offsetMs ? { offsetMs } : {}) };
      }
    }
  });
}

function faultRules(v: unknown, field: string, durationMs: number | undefined): FaultRule[] {
  if (!Array.isArray(v)) throw invalid(field, 'must be an array of fault rules');
  if (v.length > MAX_FAULT_RULES) throw invalid(field, `must have at most ${MAX_FAULT_RULES} rules, got ${v.length}`);
  return v.map((raw, i): FaultRule => {
    const f = `${field}[${i}]`;
    if (!isObj(raw)) throw invalid(f, 'must be an object such as {"fault": "unplugged", "at": "30s", "for": "30s"}');
    const fault = raw['fault'];
    if (fault === 'reset') {
      onlyKeys(raw, f, ['fault', 'at']);
      const atMs = duration(required(raw, 'at', f), `${f}.at`);
      notAfterEnd(atMs, durationMs, `${f}.at`);
      return { kind: 'reset', atMs };
    }
    if (typeof fault !== 'string' || !FAULTS.includes(fault as ScenarioFault)) throw invalid(`${f}.fault`, `must be one of ${[...FAULTS, 'reset'].join(', ')}, got ${JSON.stringify(fault)}`);
    const random = raw['every'] !== undefined || raw['probability'] !== undefined || raw['from'] !== undefined || raw['until'] !== undefined;
    if (!random) {
      onlyKeys(raw, f, ['fault', 'at', 'for']);
      const atMs = duration(required(raw, 'at', f), `${f}.at`);
      notAfterEnd(atMs, durationMs, `${f}.at`);
      return { kind: 'window', fault: fault as ScenarioFault, atMs, forMs: duration(required(raw, 'for', f), `${f}.for`, { positive: true }) };
    }
    if (raw['at'] !== undefined) throw invalid(`${f}.at`, 'a rule is either a window (at, for) or random slots (from, until, every, probability, for), not both');
    onlyKeys(raw, f, ['fault', 'from', 'until', 'every', 'probability', 'for']);
    const fromMs = raw['from'] === undefined ? 0 : duration(raw['from'], `${f}.from`);
    notAfterEnd(fromMs, durationMs, `${f}.from`);
    if (raw['until'] === undefined && durationMs === undefined) throw invalid(`${f}.until`, 'is required when the scenario has no duration');
    const untilMs = raw['until'] === undefined ? durationMs! : duration(raw['until'], `${f}.until`);
    if (untilMs <= fromMs) throw invalid(`${f}.until`, 'must be after "from"');
    const everyMs = duration(required(raw, 'every', f), `${f}.every`, { positive: true });
    if ((untilMs - fromMs) / everyMs > MAX_RANDOM_SLOTS) throw invalid(`${f}.every`, `makes more than ${MAX_RANDOM_SLOTS} slots between "from" and "until"`);
    const probability = required(raw, 'probability', f);
    if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) throw invalid(`${f}.probability`, `must be 0..1, got ${JSON.stringify(probability)}`);
    let forMs: number | undefined;
    if (raw['for'] !== undefined) {
      forMs = duration(raw['for'], `${f}.for`, { positive: true });
      if (forMs > everyMs) throw invalid(`${f}.for`, 'must be at most "every" (a slot carries the fault for part of itself)');
    }
    return { kind: 'random', fault: fault as ScenarioFault, fromMs, untilMs, everyMs, probability, ...(forMs === undefined ? {} : { forMs }) };
  });
}
