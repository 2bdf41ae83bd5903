/**
 * What a simulated sensing element "feels", for any quantity: a function of time, sampled by the
 * chip at the end of each measurement. temperature-profile.ts is the TMP102's Celsius-only view
 * of the same idea; this is the general form a chip with several quantities (SHT3x: temperature
 * and relative humidity) needs, with the unit carried along so a description can say what it is.
 *
 * `tMs` is milliseconds since the profile was installed on the chip, as for TemperatureProfile.
 */
export interface QuantityProfile<U extends string = string> {
  valueAt(tMs: number): number;
  /** Unit of `valueAt`, as in the profile's description: "°C", "%RH". */
  readonly unit: U;
  /** One line for start-up logs: "constant 45 %RH", "sine 50 ± 10 %RH, period 60 s". */
  readonly description: string;
}

/** `what` names the value in the error message ("celsius" for temperature-profile.ts's constantProfile). */
export function constantQuantity<U extends string>(value: number, unit: U, what = 'value'): QuantityProfile<U> {
  assertFinite(value, what);
  return { valueAt: () => value, unit, description: `constant ${value} ${unit}` };
}

export interface QuantityRampOptions {
  from: number;
  to: number;
  /** Duration of the ramp; the value holds `to` afterwards. */
  overMs: number;
  /** Hold `from` until this profile time before ramping (default 0). */
  delayMs?: number;
}

/** Linear ramp from `from` to `to` over `overMs`, then hold. */
export function rampQuantity<U extends string>(options: QuantityRampOptions, unit: U): QuantityProfile<U> {
  const { from, to, overMs, delayMs = 0 } = options;
  assertFinite(from, 'from');
  assertFinite(to, 'to');
  if (!(overMs > 0) || !Number.isFinite(overMs)) throw new RangeError(`overMs must be a positive finite number, got ${overMs}`);
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`delayMs must be >= 0, got ${delayMs}`);
  return {
    valueAt(tMs) {
      const f = Math.min(1, Math.max(0, (tMs - delayMs) / overMs));
      return from + (to - from) * f;
    },
    unit,
    description: `ramp ${from} -> ${to} ${unit} over ${overMs / 1000} s${delayMs ? ` after ${delayMs / 1000} s` : ''}`,
  };
}

export interface QuantitySineOptions {
  mean: number;
  amplitude: number;
  periodMs: number;
  /** Phase offset in radians (default 0: starts at the mean, rising). */
  phase?: number;
}

/** mean + amplitude * sin(2π t / period + phase). */
export function sineQuantity<U extends string>(options: QuantitySineOptions, unit: U): QuantityProfile<U> {
  const { mean, amplitude, periodMs, phase = 0 } = options;
  assertFinite(mean, 'mean');
  assertFinite(amplitude, 'amplitude');
  assertFinite(phase, 'phase');
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) throw new RangeError(`periodMs must be a positive finite number, got ${periodMs}`);
  return {
    valueAt: (tMs) => mean + amplitude * Math.sin((2 * Math.PI * tMs) / periodMs + phase),
    unit,
    description: `sine ${mean} ± ${amplitude} ${unit}, period ${periodMs / 1000} s`,
  };
}

export interface QuantityPoint {
  tMs: number;
  value: number;
}

/**
 * A recorded trace: linear interpolation between points, holding the first value before the first
 * point and the last after the last. Times must increase strictly.
 */
export function traceQuantity<U extends string>(points: readonly QuantityPoint[], unit: U, name = 'trace'): QuantityProfile<U> {
  const trace = interpolatedTrace(points);
  return { valueAt: trace.valueAt, unit, description: `${name} (${trace.summary}, ${unit})` };
}

export interface InterpolatedTrace {
  valueAt(tMs: number): number;
  /** "N points over H.h h", for a description. */
  readonly summary: string;
}

/**
 * The validated, copied trace behind traceQuantity (and temperature-profile.ts's traceProfile);
 * `field` names the value in error messages ("value", "celsius").
 */
export function interpolatedTrace(points: readonly QuantityPoint[], field = 'value'): InterpolatedTrace {
  if (points.length === 0) throw new RangeError('a trace needs at least one point');
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    assertFinite(p.tMs, `points[${i}].tMs`);
    assertFinite(p.value, `points[${i}].${field}`);
    if (i > 0 && !(p.tMs > points[i - 1]!.tMs)) throw new RangeError(`trace times must increase strictly (points[${i}])`);
  }
  const copy = points.map((p) => ({ ...p }));
  const first = copy[0]!;
  const last = copy[copy.length - 1]!;
  return {
    valueAt(tMs) {
      if (tMs <= first.tMs) return first.value;
      if (tMs >= last.tMs) return last.value;
      // Binary search: a catch-up after a long pause samples the trace once per measurement.
      let lo = 0;
      let hi = copy.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (copy[mid]!.tMs <= tMs) lo = mid;
        else hi = mid;
      }
      const a = copy[lo]!;
      const b = copy[hi]!;
      return a.value + ((b.value - a.value) * (tMs - a.tMs)) / (b.tMs - a.tMs);
    },
    summary: `${copy.length} points over ${((last.tMs - first.tMs) / 3_600_000).toFixed(1)} h`,
  };
}

/**
 * The TMP102's kind of profile (temperature-profile.ts's TemperatureProfile, typed by its shape so
 * that this file does not import it back: no cycle) seen as a general one: every existing
 * temperature profile serves a multi-quantity chip unchanged.
 */
export function temperatureQuantity(profile: { celsiusAt(tMs: number): number; readonly description: string }): QuantityProfile<'°C'> {
  return { valueAt: (tMs) => profile.celsiusAt(tMs), unit: '°C', description: profile.description };
}

function assertFinite(value: number, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${value}`);
}
