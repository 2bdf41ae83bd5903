/**
 * Drives simulated devices (simulated-device.ts: TMP102s, SHT3xs, register maps, replays) from a
 * scenario (scenario.ts) and from live overrides (a person or a test through
 * gateway/service/simulation-control.ts). Temperature reaches the TMP102 and the SHT3x, humidity
 * the SHT3x; faults and resets every device (on a register map or a replay they apply at the
 * next transaction; on "none" they change nothing).
 *
 *   clock ──ScenarioTimeMap──> scenario time ──Scenario──> temperature, fault, resets
 *                                                  │
 *   live overrides (temperature, humidity, fault) ─┤  per sensor, a SimDeviceScript
 *                                                  v
 *                                     the device (lazy: asks the script while catching up)
 *
 * Precision: a chip's observable state at any instant is a pure function of the scenario, the
 * seed and the live commands with their times. Each chip follows a Tmp102Script that answers
 * for any clock instant; the chip applies scripted fault changes and resets at their exact
 * times, after replaying the conversions before them, and samples the scripted temperature at
 * each conversion's end, however late it is next touched. Timers only touch the chips at
 * change times (so an idle chip's ALERT line is current) and report events; a late timer
 * changes nothing a chip shows. A live command first touches the chips (replaying time up to
 * now with the script as it was), then changes the script from now on.
 *
 * Jumps: the state at the target time applies at once: its fault (jumping out of an unplugged
 * window gives a freshly powered-up chip), its temperature for every conversion that ends after
 * the jump (a ramp in progress continues from its value at the target; nothing is interpolated
 * across the jump). Resets skipped over are not replayed; a reset exactly at the target is made.
 */
import { monotonicMs, type Clock } from '../clock.ts';
import { formatDuration } from './duration.ts';
import type { Scenario } from './scenario.ts';
import { sensorScript, type Override, type SimFault } from './scenario-script.ts';
import { ScenarioTimeMap } from './scenario-time-map.ts';
import { SimulatedSht3x } from './sht3x.ts';
import { type SimDeviceKind, type SimDeviceScript, type SimQuantity, type SimulatedDevice, scriptableQuantities, simulatedDeviceKind } from './simulated-device.ts';
import { SimulatedTmp102 } from './tmp102.ts';
import { TMP102_SPEC_RANGE_C } from './tmp102-registers.ts';

export type { SimFault } from './scenario-script.ts';
export const SIM_FAULTS: readonly SimFault[] = ['nack', 'bus-error', 'timeout', 'stuck', 'unplugged'];

export interface SimEvent {
  scenarioMs: number;
  sensor?: string;
  /** 'scenario': the script did it; 'control': a live override ran out. Commands themselves are the caller's to log. */
  source: 'scenario' | 'control';
  /** One line: "fault unplugged begins", "temperature 21.5 -> 35 °C over 10m", "scenario ended". */
  what: string;
}

export interface SimSensorState {
  /** Which simulated device answers (simulated-device.ts). */
  device: SimDeviceKind;
  /** What the die feels now: what a conversion ending now measures (unless the chip is stuck); undefined for a device without temperature. */
  celsius: number | undefined;
  /** The relative humidity a measurement ending now sees (SHT3x); undefined for a device without humidity. */
  humidity: number | undefined;
  humidityOverride: number | undefined;
  /** The fault the chip shows now, whoever caused it. */
  fault: SimFault | undefined;
  temperatureOverride: number | undefined;
  /** `untilScenarioMs`: the scenario time at which the override runs out if the scenario keeps running (it lasts clock time). */
  faultOverride: { fault: SimFault; untilScenarioMs?: number } | undefined;
  /** Resets made behind the module's back (scenario and live), not the module's own general calls. */
  resets: number;
}

export interface ScenarioRunnerOptions {
  clock: Clock;
  chips: ReadonlyMap<string, SimulatedDevice>;
  scenario?: Scenario;
  onEvent?: (e: SimEvent) => void;
}

/**
 * How far ahead (scenario time) a timer looks for the next change. Bounds one scan of a random
 * rule's slots (60 s in slots of 10 ms: 6,000 hashes); with no change found the runner simply
 * looks again from there.
 */
const LOOKAHEAD_MS = 60_000;

export class ScenarioRunner {
  readonly ended: Promise<void>;
  readonly #clock: Clock;
  readonly #chips: ReadonlyMap<string, SimulatedDevice>;
  readonly #scenario: Scenario | undefined;
  readonly #onEvent: (e: SimEvent) => void;
  readonly #time: ScenarioTimeMap;
  readonly #overrides = new Map<string, Override>();
  readonly #lastFault = new Map<string, SimFault | undefined>();
  #resolveEnded!: () => void;
  #started = false;
  #paused = false;
  #closed = false;
  #endReported = false;
  /** Scenario time up to which events have been reported. */
  #cursorMs = 0;
  #cancelTimer: (() => void) | undefined;

  constructor(options: ScenarioRunnerOptions) {
    this.#clock = options.clock;
    this.#chips = options.chips;
    this.#scenario = options.scenario;
    this.#onEvent = options.onEvent ?? (() => undefined);
    for (const sensor of this.#scenario?.sensors ?? []) {
      const chip = this.#chips.get(sensor);
      if (!chip) throw new RangeError(`scenario "${this.#scenario!.name}" scripts sensor "${sensor}", which is not simulated (simulated: ${[...this.#chips.keys()].join(', ') || 'none'})`);
      const kind = simulatedDeviceKind(chip);
      const scripts = this.#scenario!.scripts(sensor);
      for (const quantity of ['temperature', 'humidity'] as const) {
        if (scripts[quantity] && !scriptableQuantities(kind).includes(quantity)) {
          throw new RangeError(`scenario "${this.#scenario!.name}" scripts the ${quantity} of sensor "${sensor}", a simulated ${kind}, which has none`);
        }
      }
    }
    this.#time = new ScenarioTimeMap(this.#scenario?.durationMs ?? Infinity);
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    // Until start() the chips show the scenario's state at time 0.
    for (const [sensor, chip] of this.#chips) {
      this.#overrides.set(sensor, {});
      chip.setScript(this.#scriptFor(sensor));
    }
  }

  /** Scenario time 0 is now; time runs from here. */
  start(): void {
    this.#live();
    if (this.#started) throw new Error('the scenario runner is already started');
    this.#touchAll();
    const now = this.#now();
    this.#started = true;
    this.#time.set(now, 0, !this.#paused);
    if (this.#scenario) {
      this.#emit({ scenarioMs: 0, source: 'scenario', what: `scenario ${this.#scenario.name} started (seed ${this.#scenario.seed}, ${formatDuration(this.#scenario.durationMs)})` });
    }
    this.#landAt(0);
    this.#arm();
  }

  get sensors(): string[] {
    return [...this.#chips.keys()];
  }
  get scenario(): Scenario | undefined {
    return this.#scenario;
  }
  get timeMs(): number {
    return this.#time.scenarioAt(this.#now());
  }
  get durationMs(): number | undefined {
    return this.#scenario?.durationMs;
  }
  get paused(): boolean {
    return this.#paused;
  }

  /** Scenario time stands still: temperatures and scripted faults hold (a live fault's duration still runs out). */
  pause(): void {
    this.#live();
    if (this.#paused) return;
    this.#retime(() => {
      this.#paused = true;
      return this.#time.scenarioAt(this.#now());
    });
  }

  resume(): void {
    this.#live();
    if (!this.#paused) return;
    this.#retime(() => {
      this.#paused = false;
      return this.#time.scenarioAt(this.#now());
    });
  }

  /** Go to scenario time `toMs` at once (see the file comment for what that does). RangeError outside [0, duration]. */
  jump(toMs: number): void {
    this.#live();
    const duration = this.#scenario?.durationMs;
    if (duration === undefined) throw new RangeError('there is no scenario to jump in');
    if (!(toMs >= 0 && toMs <= duration)) throw new RangeError(`a jump must go to a time in [0, ${formatDuration(duration)}], got ${toMs} ms`);
    this.#retime(() => toMs);
    this.#landAt(toMs);
    this.#arm();
  }

  /**
   * Hold `celsius` until releaseTemperature. RangeError: unknown sensor, a device without
   * temperature, or outside -55..150 °C (SBOS397 specified range; an SHT3x clamps to its
   * -45..130 °C output range, SHT3x-DIS section 4.13).
   */
  setTemperature(sensor: string, celsius: number): void {
    this.#live();
    const chip = this.#chip(sensor, 'temperature');
    const { min, max } = TMP102_SPEC_RANGE_C;
    if (typeof celsius !== 'number' || !(celsius >= min && celsius <= max)) throw new RangeError(`temperature must be in ${min}..${max} °C, got ${celsius}`);
    this.#changeOverride(sensor, chip, (o) => (o.celsius = celsius));
  }

  /** Back to the scenario's timeline (or the chip's configured profile where the scenario has none). */
  releaseTemperature(sensor: string): void {
    this.#live();
    const chip = this.#chip(sensor);
    this.#changeOverride(sensor, chip, (o) => delete o.celsius);
  }

  /** Hold `percentRh` (0..100) until releaseHumidity. RangeError: unknown sensor, a device without humidity, out of range. */
  setHumidity(sensor: string, percentRh: number): void {
    this.#live();
    const chip = this.#chip(sensor, 'humidity');
    if (typeof percentRh !== 'number' || !(percentRh >= 0 && percentRh <= 100)) throw new RangeError(`humidity must be in 0..100 %RH, got ${percentRh}`);
    this.#changeOverride(sensor, chip, (o) => (o.humidity = percentRh));
  }

  /** Back to the scenario's humidity timeline (or the configured profile); nothing for a device without humidity. */
  releaseHumidity(sensor: string): void {
    this.#live();
    const chip = this.#chip(sensor);
    this.#changeOverride(sensor, chip, (o) => delete o.humidity);
  }

  /** Show `fault` over the scenario's until clearFault, or for `forMs` of clock time (it runs out even while paused). */
  injectFault(sensor: string, fault: SimFault, forMs?: number): void {
    this.#live();
    const chip = this.#chip(sensor);
    if (!SIM_FAULTS.includes(fault)) throw new RangeError(`fault must be one of ${SIM_FAULTS.join(', ')}, got ${JSON.stringify(fault)}`);
    if (forMs !== undefined && !(forMs > 0 && Number.isFinite(forMs))) throw new RangeError(`a fault's duration must be > 0 ms, got ${forMs}`);
    this.#changeOverride(sensor, chip, (o) => {
      o.fault = { fault, ...(forMs === undefined ? {} : { untilClockMs: this.#now() + forMs }) };
    });
    this.#arm();
  }

  /** Removes the live fault; the scenario's own faults continue. */
  clearFault(sensor: string): void {
    this.#live();
    const chip = this.#chip(sensor);
    this.#changeOverride(sensor, chip, (o) => delete o.fault);
    this.#arm();
  }

  /** A general call reset behind the module's back, now (nothing on an unplugged chip). */
  resetChip(sensor: string): void {
    this.#live();
    this.#chip(sensor).resetChip();
  }

  sensorState(sensor: string): SimSensorState {
    const chip = this.#chip(sensor);
    chip.update();
    const now = this.#now();
    const override = this.#overrides.get(sensor)!;
    const live = override.fault && (override.fault.untilClockMs === undefined || now < override.fault.untilClockMs) ? override.fault : undefined;
    return {
      device: simulatedDeviceKind(chip),
      celsius: chip instanceof SimulatedTmp102 ? chip.dieCelsius : chip instanceof SimulatedSht3x ? chip.celsius : undefined,
      humidity: chip instanceof SimulatedSht3x ? chip.percentRh : undefined,
      humidityOverride: override.humidity,
      fault: chip.fault,
      temperatureOverride: override.celsius,
      faultOverride: live && {
        fault: live.fault,
        ...(live.untilClockMs === undefined ? {} : { untilScenarioMs: this.#time.scenarioAt(now) + (live.untilClockMs - now) }),
      },
      resets: chip.resets,
    };
  }

  /** Cancels timers and stops scenario time; the chips keep their last state (and their live overrides). */
  close(): void {
    if (this.#closed) return;
    this.#touchAll();
    this.#time.set(this.#now(), this.#time.scenarioAt(this.#now()), false);
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  // ---- internals ----

  #now(): number {
    return monotonicMs(this.#clock);
  }

  #live(): void {
    if (this.#closed) throw new Error('the scenario runner is closed');
  }

  #chip(sensor: string, quantity?: SimQuantity): SimulatedDevice {
    const chip = this.#chips.get(sensor);
    if (!chip) throw new RangeError(`no simulated sensor "${sensor}" (simulated: ${[...this.#chips.keys()].join(', ') || 'none'})`);
    const kind = simulatedDeviceKind(chip);
    if (quantity && !scriptableQuantities(kind).includes(quantity)) throw new RangeError(`sensor "${sensor}" is a simulated ${kind}, which has no ${quantity} to set`);
    return chip;
  }

  // A live change to one sensor's overrides, made as SimulatedTmp102.scriptChanged asks: the chip
  // catches up with the script as it was, then re-reads it from now.
  #changeOverride(sensor: string, chip: SimulatedDevice, change: (override: Override) => void): void {
    chip.update();
    change(this.#overrides.get(sensor)!);
    chip.scriptChanged();
  }

  #touchAll(): void {
    for (const chip of this.#chips.values()) chip.update();
  }

  // Replays every chip up to now with the old mapping, then maps from now on.
  #retime(target: () => number): void {
    this.#touchAll();
    const scenarioMs = target();
    this.#time.set(this.#now(), scenarioMs, this.#started && !this.#paused);
    for (const chip of this.#chips.values()) chip.scriptChanged();
    this.#arm();
  }

  // After a start or a jump: events restart from here, and a reset scheduled exactly here is made.
  #landAt(scenarioMs: number): void {
    this.#cursorMs = scenarioMs;
    const scenario = this.#scenario;
    for (const sensor of this.#chips.keys()) {
      this.#lastFault.set(sensor, scenario?.sensors.includes(sensor) ? scenario.faultAt(sensor, scenarioMs) : undefined);
      if (!scenario?.sensors.includes(sensor)) continue;
      for (const what of [scenario.temperatureChangeAt(sensor, scenarioMs), scenario.humidityChangeAt(sensor, scenarioMs)]) {
        if (what && scenarioMs === 0) this.#emit({ scenarioMs, sensor, source: 'scenario', what });
      }
      const fault = scenario.faultAt(sensor, scenarioMs);
      if (fault && scenarioMs === 0) this.#emit({ scenarioMs, sensor, source: 'scenario', what: `fault ${fault} begins` });
      if (scenario.resetAt(sensor, scenarioMs)) {
        this.#chip(sensor).resetChip();
        this.#emit({ scenarioMs, sensor, source: 'scenario', what: 'chip reset' });
      }
    }
    if (scenario && scenarioMs < scenario.durationMs) this.#endReported = false;
    this.#checkEnd();
  }

  #scriptFor(sensor: string): SimDeviceScript {
    const scenario = this.#scenario?.sensors.includes(sensor) ? this.#scenario : undefined;
    return sensorScript({ sensor, scenario, time: this.#time, override: () => this.#overrides.get(sensor)! });
  }

  // One timer: the earliest scenario change of any sensor, the end, or a live fault running out.
  #arm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    if (this.#closed || !this.#started) return;
    const now = this.#now();
    let wake: number | undefined;
    const offer = (t: number | undefined): void => {
      if (t !== undefined && (wake === undefined || t < wake)) wake = t;
    };
    for (const o of this.#overrides.values()) offer(o.fault?.untilClockMs);
    const scenario = this.#scenario;
    if (scenario && this.#time.running && this.#cursorMs < scenario.durationMs) {
      const horizon = Math.min(scenario.durationMs, this.#cursorMs + LOOKAHEAD_MS);
      let next = horizon;
      for (const sensor of scenario.sensors) next = Math.min(next, scenario.nextChangeAfter(sensor, this.#cursorMs, horizon) ?? horizon);
      offer(this.#time.clockAt(next));
    }
    if (wake === undefined) return;
    // At least a nanosecond when the wake is ahead: a clock that rounds a sub-nanosecond delay
    // to 0 (ManualClock counts whole ns) would otherwise fire again at the same instant, forever.
    const delay = wake > now ? Math.max(wake - now, 1e-6) : 0;
    this.#cancelTimer = this.#clock.schedule(delay, () => this.#tick());
  }

  #tick(): void {
    this.#cancelTimer = undefined;
    if (this.#closed) return;
    this.#touchAll();
    const now = this.#now();
    const scenario = this.#scenario;
    if (scenario) {
      const nowMs = this.#time.scenarioAt(now);
      if (nowMs > this.#cursorMs) this.#reportChanges(scenario, this.#cursorMs, nowMs);
      this.#cursorMs = Math.max(this.#cursorMs, nowMs);
    }
    for (const [sensor, o] of this.#overrides) {
      if (o.fault?.untilClockMs !== undefined && o.fault.untilClockMs <= now) {
        const { fault } = o.fault;
        delete o.fault;
        this.#emit({ scenarioMs: this.#time.scenarioAt(now), sensor, source: 'control', what: `live fault ${fault} ran out` });
      }
    }
    this.#checkEnd();
    this.#arm();
  }

  // Every change in (fromMs, toMs], in time order across sensors.
  #reportChanges(scenario: Scenario, fromMs: number, toMs: number): void {
    const events: SimEvent[] = [];
    for (const sensor of scenario.sensors) {
      for (let t = scenario.nextChangeAfter(sensor, fromMs, toMs); t !== undefined; t = scenario.nextChangeAfter(sensor, t, toMs)) {
        for (const what of [scenario.temperatureChangeAt(sensor, t), scenario.humidityChangeAt(sensor, t)]) {
          if (what) events.push({ scenarioMs: t, sensor, source: 'scenario', what });
        }
        const before = this.#lastFault.get(sensor);
        const after = scenario.faultAt(sensor, t);
        if (before !== after) {
          if (before) events.push({ scenarioMs: t, sensor, source: 'scenario', what: `fault ${before} ends` });
          if (after) events.push({ scenarioMs: t, sensor, source: 'scenario', what: `fault ${after} begins` });
          this.#lastFault.set(sensor, after);
        }
        if (scenario.resetAt(sensor, t)) events.push({ scenarioMs: t, sensor, source: 'scenario', what: 'chip reset' });
      }
    }
    events.sort((a, b) => a.scenarioMs - b.scenarioMs);
    for (const e of events) this.#emit(e);
  }

  #checkEnd(): void {
    const scenario = this.#scenario;
    if (!scenario || !this.#started || this.#endReported) return;
    if (this.#time.scenarioAt(this.#now()) < scenario.durationMs) return;
    this.#endReported = true;
    this.#emit({ scenarioMs: scenario.durationMs, source: 'scenario', what: 'scenario ended' });
    this.#resolveEnded();
  }

  #emit(e: SimEvent): void {
    try {
      this.#onEvent(e);
    } catch {
      // A failing listener must not stop the scenario; reporting is its own business.
    }
  }
}
