/**
 * A simulation scenario (docs/simulation.md, "Scenarios"): per simulated sensor, a temperature
 * timeline and fault rules, with a seed for the random ones. Everything here is a pure function
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

export interface SensorScript {
  /** Absent: the sensor keeps the temperature profile it was configured with. */
  temperature?: readonly TemperatureSegment[];
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
      const faults = new FaultSchedule(script.faults ?? [], seed, sensor);
      this.#sensors.set(sensor, { timeline, faults });
      end = Math.max(end, timeline?.endMs ?? 0, ...faults.rules.map(ruleEnd));
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
   * changes: a temperature segment starts, the fault in effect changes, a reset happens. Ramps,
   * sines and traces also change continuously within their segments; that is not counted.
   */
  nextChangeAfter(sensor: string, tMs: number, untilMs = this.durationMs): number | undefined {
    const model = this.#model(sensor);
    const segment = model.timeline?.nextStartAfter(tMs, untilMs);
    const fault = model.faults.nextChangeAfter(tMs, untilMs);
    if (segment === undefined) return fault;
    return fault === undefined ? segment : Math.min(segment, fault);
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
