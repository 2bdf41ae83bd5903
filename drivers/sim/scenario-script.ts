/**
 * One sensor's script (a Tmp102Script with humidity: simulated-device.ts) under a ScenarioRunner: the scenario's timeline and
 * faults seen through the clock-to-scenario mapping, under the sensor's live overrides. Every
 * answer is a function of the clock instant asked about, the mapping and the overrides, which
 * only change (in the runner) after the chip has been replayed up to the change.
 */
import type { Scenario } from './scenario.ts';
import type { ScenarioTimeMap } from './scenario-time-map.ts';
import type { SimDeviceScript } from './simulated-device.ts';

export type SimFault = 'nack' | 'bus-error' | 'timeout' | 'stuck' | 'unplugged';

/** A sensor's live overrides: a held temperature, a held humidity; a fault, until a clock instant or until cleared. */
export interface Override {
  celsius?: number;
  humidity?: number;
  fault?: { fault: SimFault; untilClockMs?: number };
}

export interface SensorScriptOptions {
  sensor: string;
  /** Undefined when the scenario does not script this sensor (or there is none). */
  scenario: Scenario | undefined;
  time: ScenarioTimeMap;
  override: () => Override;
}

export function sensorScript({ sensor, scenario, time, override }: SensorScriptOptions): SimDeviceScript {
  const liveFault = (t: number): SimFault | undefined => {
    const f = override().fault;
    return f && (f.untilClockMs === undefined || t < f.untilClockMs) ? f.fault : undefined;
  };
  // The exact scenario time of the last transition handed to the chip: clock <-> scenario
  // conversions round, and the chip asks about that same instant right after.
  let last: { clockMs: number; scenarioMs: number; version: number } | undefined;
  const scenarioAt = (t: number): number =>
    last && last.clockMs === t && last.version === time.version ? last.scenarioMs : time.scenarioAt(t);
  return {
    celsiusAt: (t) => override().celsius ?? scenario?.temperatureAt(sensor, time.scenarioAt(t)),
    humidityAt: (t) => override().humidity ?? scenario?.humidityAt(sensor, time.scenarioAt(t)),
    faultAt: (t) => liveFault(t) ?? scenario?.faultAt(sensor, scenarioAt(t)),
    resetAt: (t) => scenario !== undefined && time.runningAt(t) && scenario.resetAt(sensor, scenarioAt(t)),
    nextTransition: (after, until) => {
      let best: number | undefined;
      const expiry = override().fault?.untilClockMs;
      if (expiry !== undefined && expiry > after && expiry <= until) best = expiry;
      if (scenario && time.running) {
        const from = scenarioAt(after);
        const to = time.scenarioAt(until);
        const change = to > from ? scenario.nextFaultChangeAfter(sensor, from, to) : undefined;
        const clock = change === undefined ? undefined : time.clockAt(change);
        if (clock !== undefined && clock > after && clock <= until && (best === undefined || clock < best)) {
          best = clock;
          last = { clockMs: clock, scenarioMs: change!, version: time.version };
        }
      }
      return best;
    },
  };
}
