/**
 * What the simulated TMP102's die "feels": a function of time. The chip samples it at the end of
 * each conversion, so a profile only needs to answer for any instant; it never drives time.
 *
 * `tMs` is milliseconds since the profile was installed on the chip (see SimulatedTmp102.setProfile),
 * so a ramp set at run time starts where it was set.
 */
export interface TemperatureProfile {
  celsiusAt(tMs: number): number;
  /** One line for start-up logs: "constant 21.5 °C", "sine 21 ± 3 °C, period 60 s". */
  readonly description: string;
}

export function constantProfile(celsius: number): TemperatureProfile {
  assertFinite(celsius, 'celsius');
  return { celsiusAt: () => celsius, description: `constant ${celsius} °C` };
}

export interface RampOptions {
  from: number;
  to: number;
  /** Duration of the ramp; the temperature holds `to` afterwards. */
  overMs: number;
  /** Hold `from` until this profile time before ramping (default 0). */
  delayMs?: number;
}

/** Linear ramp from `from` to `to` over `overMs`, then hold: a heater switching on, a door opening. */
export function rampProfile(options: RampOptions): TemperatureProfile {
  const { from, to, overMs, delayMs = 0 } = options;
  assertFinite(from, 'from');
  assertFinite(to, 'to');
  if (!(overMs > 0) || !Number.isFinite(overMs)) throw new RangeError(`overMs must be a positive finite number, got ${overMs}`);
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  return {
    celsiusAt(tMs) {
      const f = Math.min(1, Math.max(0, (tMs - delayMs) / overMs));
      return from + (to - from) * f;
    },
    description: `ramp ${from} -> ${to} °C over ${overMs / 1000} s${delayMs ? ` after ${delayMs / 1000} s` : ''}`,
  };
}

export interface SineOptions {
  mean: number;
  amplitude: number;
  periodMs: number;
  /** Phase offset in radians (default 0: starts at the mean, rising). */
  phase?: number;
}

/** mean + amplitude * sin(2π t / period + phase): a day/night cycle, a thermostat hunting. */
export function sineProfile(options: SineOptions): TemperatureProfile {
  const { mean, amplitude, periodMs, phase = 0 } = options;
  assertFinite(mean, 'mean');
  assertFinite(amplitude, 'amplitude');
  assertFinite(phase, 'phase');
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) throw new RangeError(`periodMs must be a positive finite number, got ${periodMs}`);
  return {
    celsiusAt: (tMs) => mean + amplitude * Math.sin((2 * Math.PI * tMs) / periodMs + phase),
    description: `sine ${mean} ± ${amplitude} °C, period ${periodMs / 1000} s`,
  };
}

export interface TracePoint {
  tMs: number;
  celsius: number;
}

/**
 * A recorded trace: linear interpolation between points, holding the first value before the first
 * point and the last value after the last one. Points must be sorted by strictly increasing time.
 */
export function traceProfile(points: readonly TracePoint[], name = 'trace'): TemperatureProfile {
  if (points.length === 0) throw new RangeError('a trace needs at least one point');
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    assertFinite(p.tMs, `points[${i}].tMs`);
    assertFinite(p.celsius, `points[${i}].celsius`);
    if (i > 0 && !(p.tMs > points[i - 1]!.tMs)) throw new RangeError(`trace times must increase strictly (points[${i}])`);
  }
  const copy = points.map((p) => ({ ...p }));
  const first = copy[0]!;
  const last = copy[copy.length - 1]!;
  return {
    celsiusAt(tMs) {
      if (tMs <= first.tMs) return first.celsius;
      if (tMs >= last.tMs) return last.celsius;
      // Binary search: catch-up after a long pause evaluates the trace once per conversion.
      let lo = 0;
      let hi = copy.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (copy[mid]!.tMs <= tMs) lo = mid;
        else hi = mid;
      }
      const a = copy[lo]!;
      const b = copy[hi]!;
      return a.celsius + ((b.celsius - a.celsius) * (tMs - a.tMs)) / (b.tMs - a.tMs);
    },
    description: `${name} (${copy.length} points over ${((last.tMs - first.tMs) / 3_600_000).toFixed(1)} h)`,
  };
}

function assertFinite(value: number, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${value}`);
}
