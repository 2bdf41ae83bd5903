/**
 * What the SHT3x's on-chip heater does to a measurement. The datasheet (section 4.10) says only
 * that it is "meant for plausibility checking only" and that the temperature increase "depends on
 * various parameters and lies in the range of a few degrees centigrade". The simulation models
 * the heated die as the environment plus a fixed rise, reached at once (the real die takes
 * seconds to warm up: a guess), and keeps the water vapour pressure of the air:
 * relative humidity at the warmer die falls as the saturation pressure rises, which is the
 * plausibility check the heater exists for (a humidity reading that does not drop when heated
 * points at a wet or damaged sensor).
 */

/** Default rise of the die temperature with the heater on, in °C ("a few degrees centigrade"). */
export const SHT3X_HEATER_RISE_C = 3;

/**
 * Saturation vapour pressure over water (Magnus formula with Sensirion's coefficients 17.62 and
 * 243.12 °C, application note "Humidity at a Glance"), in hPa. Only ratios are used here.
 */
export function saturationVapourPressureHpa(celsius: number): number {
  return 6.112 * Math.exp((17.62 * celsius) / (243.12 + celsius));
}

export interface Sht3xEnvironment {
  celsius: number;
  percentRh: number;
}

/** The environment as the heated die senses it: `riseC` warmer, same vapour pressure, so lower RH. */
export function heatedEnvironment(environment: Sht3xEnvironment, riseC: number): Sht3xEnvironment {
  if (riseC === 0) return environment;
  const celsius = environment.celsius + riseC;
  const percentRh = (environment.percentRh * saturationVapourPressureHpa(environment.celsius)) / saturationVapourPressureHpa(celsius);
  return { celsius, percentRh };
}
