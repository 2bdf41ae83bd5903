/**
 * Relative humidity profiles for simulated hygrometers (SHT3x): the general quantity profiles
 * (quantity-profile.ts) in %RH. Values outside 0..100 %RH are allowed here on purpose: the chip
 * clamps, as its output code does (SHT3x-DIS section 4.13: S_RH spans 0..2^16-1 for 0..100 %RH),
 * so a profile can drive a sensor into saturation.
 */
import {
  constantQuantity,
  rampQuantity,
  sineQuantity,
  traceQuantity,
  type QuantityPoint,
  type QuantityProfile,
  type QuantityRampOptions,
  type QuantitySineOptions,
} from './quantity-profile.ts';

/** A QuantityProfile whose values are relative humidity in percent. */
export type HumidityProfile = QuantityProfile<'%RH'>;

export const RELATIVE_HUMIDITY_UNIT = '%RH' as const;

export function constantHumidity(percentRh: number): HumidityProfile {
  return constantQuantity(percentRh, RELATIVE_HUMIDITY_UNIT);
}

export function rampHumidity(options: QuantityRampOptions): HumidityProfile {
  return rampQuantity(options, RELATIVE_HUMIDITY_UNIT);
}

export function sineHumidity(options: QuantitySineOptions): HumidityProfile {
  return sineQuantity(options, RELATIVE_HUMIDITY_UNIT);
}

export function traceHumidity(points: readonly QuantityPoint[], name = 'humidity trace'): HumidityProfile {
  return traceQuantity(points, RELATIVE_HUMIDITY_UNIT, name);
}
