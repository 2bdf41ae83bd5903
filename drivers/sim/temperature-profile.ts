/**
 * What the simulated TMP102's die "feels": a function of time. The chip samples it at the end of
 * each conversion, so a profile only needs to answer for any instant; it never drives time.
 *
 * `tMs` is milliseconds since the profile was installed on the chip (see SimulatedTmp102.setProfile),
 * so a ramp set at run time starts where it was set.
 *
 * The Celsius face of quantity-profile.ts: the shapes (ramp, sine, trace) and their checks live
 * there once; this file names the value `celsius` and keeps the TMP102's descriptions.
 */
import {
  constantQuantity,
  interpolatedTrace,
  rampQuantity,
  sineQuantity,
  type QuantityProfile,
  type QuantityRampOptions,
  type QuantitySineOptions,
} from './quantity-profile.ts';

export interface TemperatureProfile {
  celsiusAt(tMs: number): number;
  /** One line for start-up logs: "constant 21.5 °C", "sine 21 ± 3 °C, period 60 s". */
  readonly description: string;
}

const CELSIUS = '°C';

export function constantProfile(celsius: number): TemperatureProfile {
  return celsiusFace(constantQuantity(celsius, CELSIUS, 'celsius'));
}

/** Options of rampProfile; `from` and `to` in °C, and the temperature holds `to` after `overMs`. */
export type RampOptions = QuantityRampOptions;

/** Linear ramp from `from` to `to` over `overMs`, then hold: a heater switching on, a door opening. */
export function rampProfile(options: RampOptions): TemperatureProfile {
  return celsiusFace(rampQuantity(options, CELSIUS));
}

/** Options of sineProfile; `mean` and `amplitude` in °C. */
export type SineOptions = QuantitySineOptions;

/** mean + amplitude * sin(2π t / period + phase): a day/night cycle, a thermostat hunting. */
export function sineProfile(options: SineOptions): TemperatureProfile {
  return celsiusFace(sineQuantity(options, CELSIUS));
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
  const trace = interpolatedTrace(
    points.map((p) => ({ tMs: p.tMs, value: p.celsius })),
    'celsius',
  );
  return { celsiusAt: trace.valueAt, description: `${name} (${trace.summary})` };
}

function celsiusFace(quantity: QuantityProfile<typeof CELSIUS>): TemperatureProfile {
  return { celsiusAt: (tMs) => quantity.valueAt(tMs), description: quantity.description };
}
