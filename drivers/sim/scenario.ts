/**
 * A simulation scenario (docs/simulation.md, "Scenarios"): per simulated sensor, a temperature
 * timeline, a humidity timeline (SHT3x) and fault rules, with a seed for the random ones. Everything here is a pure function
 * of scenario time (ms since the scenario started) and the seed: the same scenario and seed
 * give the same temperatures, faults and resets at the same instants on every run, whoever
 * asks and in whatever order. Driving chips with it is scenario-runner.ts's job; reading and
 * validating a file is gateway/service/scenario-file.ts's.
 */
import { FaultSchedule, type FaultRule, type ScenarioFault } from './scenario-faults.ts';
import { TemperatureTimeline, type TemperatureSegment } from './scenario-timeline.ts';

export { FAULT_SEVERITY, MAX_RANDOM_SLOTS, type FaultRule, type ScenarioFault } from './scenario-faults.ts';
export type { TemperatureSegment } from './scenario-timeline.ts';

/**
 * The longest scenario: a year, the longest simulated profile the configuration accepts
 * (gateway/service/config.ts, MAX_PROFILE_SECONDS). Longer is a unit mistake.
 */
export const MAX_SCENARIO_MS = 365 * 86_400_000;

/**
 * A humidity timeline: the temperature timeline's segments (scenario-timeline.ts) with values in
 * %RH (a constant's `celsius`, a ramp's `from`/`to`, a sine's `mean`/`amplitude` are %RH here).
 */
export type HumiditySegment = TemperatureSegment;

export interface SensorScript {
  /** Absent: the sensor keeps the temperature profile it was configured with. */
  temperature?: readonly TemperatureSegment[];
  /** Absent: the sensor keeps its configured humidity profile. Only a device that measures humidity (SHT3x) takes one. */
  humidity?: readonly HumiditySegment[];
  faults?: readonly FaultRule[];
}

export interface ScenarioDefinition {
  name: string;
  description?: string;
  /** uint32; decides the random fault rules' slots. */
  seed: number;
  /** Absent: the end of the last timed item (a segment start, a ramp's end, a trace's end, a fault's end, a reset). */
  durationMs?: number;
  sensors: Readonly<Record<string, SensorScript>>;
}

interface SensorModel {
  timeline: TemperatureTimeline | undefined;
  humidity: TemperatureTimeline | undefined;
  faults: FaultSchedule;
}

export class Scenario {
  readonly name: string;
  readonly description: string;
  readonly seed: number;
  readonly durationMs: number;
  readonly #definition: ScenarioDefinition;
  readonly #sensors = new Map<string, SensorModel>();

  constructor(definition: ScenarioDefinition) {
    const { name, seed } = definition;
    if (typeof name !== 'string' || name === '') throw new RangeError('a scenario needs a name');
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new RangeError(`seed must be a uint32, got ${seed}`);
    this.name = name;
    this.description = definition.description ?? '';
    this.seed = seed;
    this.#definition = definition;
    let end = 0;
    for (const [sensor, script] of Object.entries(definition.sensors)) {
      const timeline = script.temperature?.length ? new TemperatureTimeline(script.temperature) : undefined;
      const humidity = script.humidity?.length ? new TemperatureTimeline(script.humidity) : undefined;
      const faults = new FaultSchedule(script.faults ?? [], seed, sensor);
      this.#sensors.set(sensor, { timeline, humidity, faults });
      end = Math.max(end, timeline?.endMs ?? 0, humidity?.endMs ?? 0, ...faults.rules.map(ruleEnd));
    }
    const duration = definition.durationMs ?? end;
    if (!(duration > 0) || !(duration <= MAX_SCENARIO_MS)) {
      throw new RangeError(`the duration must be in (0, ${MAX_SCENARIO_MS}] ms, got ${duration}${definition.durationMs === undefined ? ' (nothing happens after 0: give a duration)' : ''}`);
    }
    this.durationMs = duration;
  }

  /** The same scenario with another seed (`--seed`). */
  withSeed(seed: number): Scenario {
    return new Scenario({ ...this.#definition, seed });
  }

  /** The sensors the scenario scripts, in file order. */
  get sensors(): string[] {
    return [...this.#sensors.keys()];
  }

  /** The temperature at `tMs`, or undefined when the scenario leaves this sensor's temperature alone. */
  temperatureAt(sensor: string, tMs: number): number | undefined {
    return this.#model(sensor).timeline?.celsiusAt(tMs);
  }

  /** Whether the scenario scripts this sensor's temperature, its humidity. */
  scripts(sensor: string): { temperature: boolean; humidity: boolean } {
    const model = this.#model(sensor);
    return { temperature: model.timeline !== undefined, humidity: model.humidity !== undefined };
  }

  /** The relative humidity at `tMs`, or undefined when the scenario leaves this sensor's humidity alone. */
  humidityAt(sensor: string, tMs: number): number | undefined {
    return this.#model(sensor).humidity?.celsiusAt(tMs);
  }

  /** What the humidity segment starting exactly at `tMs` does, for events; undefined if none starts then. */
  humidityChangeAt(sensor: string, tMs: number): string | undefined {
    const timeline = this.#model(sensor).humidity;
    if (!timeline) return undefined;
    const index = timeline.indexAt(tMs);
    // The timeline describes itself in temperature words; the same segment in %RH.
    return timeline.segments[index]!.atMs === tMs ? timeline.describe(index).replace(/^temperature/, 'humidity').replaceAll('°C', '%RH') : undefined;
  }

  /** What the temperature segment starting exactly at `tMs` does, for events; undefined if none starts then. */
  temperatureChangeAt(sensor: string, tMs: number): string | undefined {
    const timeline = this.#model(sensor).timeline;
    if (!timeline) return undefined;
    const index = timeline.indexAt(tMs);
    return timeline.segments[index]!.atMs === tMs ? timeline.describe(index) : undefined;
  }

  /** The fault in effect at `tMs` (the most severe of overlapping rules), or undefined. */
  faultAt(sensor: string, tMs: number): ScenarioFault | undefined {
    return this.#model(sensor).faults.faultAt(tMs);
  }

  /** Chip resets scheduled at or before `tMs`. */
  resetsUntil(sensor: string, tMs: number): number {
    return this.#model(sensor).faults.resetsUntil(tMs);
  }

  /** Whether a reset is scheduled exactly at `tMs`. */
  resetAt(sensor: string, tMs: number): boolean {
    return this.#model(sensor).faults.resetAt(tMs);
  }

  /** Whether slot `slot` of the random rule at `faults[ruleIndex]` carries its fault (for tests and docs). */
  slotActive(sensor: string, ruleIndex: number, slot: number): boolean {
    return this.#model(sensor).faults.slotActive(ruleIndex, slot);
  }

  /**
   * The next instant in (tMs, untilMs] (default: the duration) at which anything of `sensor`
   * changes: a temperature or humidity segment starts, the fault in effect changes, a reset happens. Ramps,
   * sines and traces also change continuously within their segments; that is not counted.
   */
  nextChangeAfter(sensor: string, tMs: number, untilMs = this.durationMs): number | undefined {
    const model = this.#model(sensor);
    const times = [model.timeline?.nextStartAfter(tMs, untilMs), model.humidity?.nextStartAfter(tMs, untilMs), model.faults.nextChangeAfter(tMs, untilMs)].filter((t): t is number => t !== undefined);
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** Like nextChangeAfter, counting only fault changes and resets: what a chip must apply at an exact instant. */
  nextFaultChangeAfter(sensor: string, tMs: number, untilMs = this.durationMs): number | undefined {
    return this.#model(sensor).faults.nextChangeAfter(tMs, untilMs);
  }

  #model(sensor: string): SensorModel {
    const model = this.#sensors.get(sensor);
    if (!model) throw new RangeError(`scenario "${this.name}" has no sensor "${sensor}"`);
    return model;
  }
}

function ruleEnd(rule: FaultRule): number {
  if (rule.kind === 'reset') return rule.atMs;
  if (rule.kind === 'window') return rule.atMs + rule.forMs;
  return rule.untilMs;
}
