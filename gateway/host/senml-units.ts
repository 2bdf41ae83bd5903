/**
 * The SenML units a module may report (docs/module-abi.md, "Units"): the symbols of the IANA
 * "SenML Units" registry as RFC 8428 section 12.1 created it and RFC 8798 section 2 extended it
 * (primary units), and of the "Secondary Units" registry RFC 8798 section 3 created, each with
 * its conversion to a primary unit (primary = scale * secondary + offset).
 *
 * A SenML record's `u` must be a registered symbol (RFC 8428 section 4.5.1, section 12.1); a
 * secondary unit may appear only where the receiver is known to understand it (RFC 8798 section
 * 3), so the gateway accepts it from a module and leaves the conversion to whoever needs it.
 * Symbols are case-sensitive ("Cel", not "cel"). Units marked deprecated in the registry
 * ("NOT RECOMMENDED to be produced by new implementations but are in active use") are still
 * registered and accepted.
 */

export interface PrimaryUnit {
  description: string;
  /** Marked with an asterisk in the registry: accepted, not recommended for new producers. */
  deprecated?: true;
}

export interface SecondaryUnit {
  description: string;
  /** The primary unit it converts to. */
  primary: string;
  /** primary value = scale * secondary value + offset (RFC 8798 section 3, Table 2). */
  scale: number;
  offset: number;
}

/** RFC 8428 section 12.1, Table 6: the registry's initial content. */
const RFC8428_UNITS: Record<string, PrimaryUnit> = {
  m: { description: 'meter' },
  kg: { description: 'kilogram' },
  g: { description: 'gram', deprecated: true },
  s: { description: 'second' },
  A: { description: 'ampere' },
  K: { description: 'kelvin' },
  cd: { description: 'candela' },
  mol: { description: 'mole' },
  Hz: { description: 'hertz' },
  rad: { description: 'radian' },
  sr: { description: 'steradian' },
  N: { description: 'newton' },
  Pa: { description: 'pascal' },
  J: { description: 'joule' },
  W: { description: 'watt' },
  C: { description: 'coulomb' },
  V: { description: 'volt' },
  F: { description: 'farad' },
  Ohm: { description: 'ohm' },
  S: { description: 'siemens' },
  Wb: { description: 'weber' },
  T: { description: 'tesla' },
  H: { description: 'henry' },
  Cel: { description: 'degrees Celsius' },
  lm: { description: 'lumen' },
  lx: { description: 'lux' },
  Bq: { description: 'becquerel' },
  Gy: { description: 'gray' },
  Sv: { description: 'sievert' },
  kat: { description: 'katal' },
  m2: { description: 'square meter (area)' },
  m3: { description: 'cubic meter (volume)' },
  l: { description: 'liter (volume)', deprecated: true },
  'm/s': { description: 'meter per second (velocity)' },
  'm/s2': { description: 'meter per square second (acceleration)' },
  'm3/s': { description: 'cubic meter per second (flow rate)' },
  'l/s': { description: 'liter per second (flow rate)', deprecated: true },
  'W/m2': { description: 'watt per square meter (irradiance)' },
  'cd/m2': { description: 'candela per square meter (luminance)' },
  bit: { description: 'bit (information content)' },
  'bit/s': { description: 'bit per second (data rate)' },
  lat: { description: 'degrees latitude' },
  lon: { description: 'degrees longitude' },
  pH: { description: 'pH value (acidity; logarithmic quantity)' },
  dB: { description: 'decibel (logarithmic quantity)' },
  dBW: { description: 'decibel relative to 1 W (power level)' },
  Bspl: { description: 'bel (sound pressure level; logarithmic quantity)', deprecated: true },
  count: { description: '1 (counter value)' },
  '/': { description: '1 (ratio, e.g., value of a switch)' },
  '%': { description: '1 (ratio, e.g., value of a switch)', deprecated: true },
  '%RH': { description: 'percentage (relative humidity)' },
  '%EL': { description: 'percentage (remaining battery energy level)' },
  EL: { description: 'seconds (remaining battery energy level)' },
  '1/s': { description: '1 per second (event rate)' },
  '1/min': { description: '1 per minute (event rate, "rpm")', deprecated: true },
  'beat/min': { description: '1 per minute (heart rate in beats per minute)', deprecated: true },
  beats: { description: '1 (cumulative number of heart beats)', deprecated: true },
  'S/m': { description: 'siemens per meter (conductivity)' },
};

/** RFC 8798 section 2, Table 1: primary units it added to the same registry. */
const RFC8798_PRIMARY_UNITS: Record<string, PrimaryUnit> = {
  B: { description: 'byte (information content)' },
  VA: { description: 'volt-ampere (apparent power)' },
  VAs: { description: 'volt-ampere second (apparent energy)' },
  var: { description: 'volt-ampere reactive (reactive power)' },
  vars: { description: 'volt-ampere-reactive second (reactive energy)' },
  'J/m': { description: 'joule per meter (energy per distance)' },
  'kg/m3': { description: 'kilogram per cubic meter (mass density, mass concentration)' },
  deg: { description: 'degree (angle)', deprecated: true },
};

const sec = (description: string, primary: string, scale: number, offset = 0): SecondaryUnit => ({ description, primary, scale, offset });

/** RFC 8798 section 3, Table 2: the secondary units registry's initial content. */
const RFC8798_SECONDARY_UNITS: Record<string, SecondaryUnit> = {
  ms: sec('millisecond', 's', 1 / 1000),
  min: sec('minute', 's', 60),
  h: sec('hour', 's', 3600),
  MHz: sec('megahertz', 'Hz', 1_000_000),
  kW: sec('kilowatt', 'W', 1000),
  kVA: sec('kilovolt-ampere', 'VA', 1000),
  kvar: sec('kilovar', 'var', 1000),
  Ah: sec('ampere-hour', 'C', 3600),
  Wh: sec('watt-hour', 'J', 3600),
  kWh: sec('kilowatt-hour', 'J', 3_600_000),
  varh: sec('var-hour', 'vars', 3600),
  kvarh: sec('kilovar-hour', 'vars', 3_600_000),
  kVAh: sec('kilovolt-ampere-hour', 'VAs', 3_600_000),
  'Wh/km': sec('watt-hour per kilometer', 'J/m', 3.6),
  KiB: sec('kibibyte', 'B', 1024),
  GB: sec('gigabyte', 'B', 1e9),
  'Mbit/s': sec('megabit per second', 'bit/s', 1_000_000),
  'B/s': sec('byte per second', 'bit/s', 8),
  'MB/s': sec('megabyte per second', 'bit/s', 8_000_000),
  mV: sec('millivolt', 'V', 1 / 1000),
  mA: sec('milliampere', 'A', 1 / 1000),
  dBm: sec('decibel (milliwatt)', 'dBW', 1, -30),
  'ug/m3': sec('microgram per cubic meter', 'kg/m3', 1e-9),
  'mm/h': sec('millimeter per hour', 'm/s', 1 / 3_600_000),
  'm/h': sec('meter per hour', 'm/s', 1 / 3600),
  ppm: sec('parts per million', '/', 1e-6),
  '/100': sec('percent', '/', 1 / 100),
  '/1000': sec('permille', '/', 1 / 1000),
  hPa: sec('hectopascal', 'Pa', 100),
  mm: sec('millimeter', 'm', 1 / 1000),
  cm: sec('centimeter', 'm', 1 / 100),
  km: sec('kilometer', 'm', 1000),
  'km/h': sec('kilometer per hour', 'm/s', 1 / 3.6),
};

/** Every primary unit: RFC 8428 section 12.1 and RFC 8798 section 2. */
export const SENML_PRIMARY_UNITS: ReadonlyMap<string, PrimaryUnit> = new Map(Object.entries({ ...RFC8428_UNITS, ...RFC8798_PRIMARY_UNITS }));
/** Every secondary unit: RFC 8798 section 3. */
export const SENML_SECONDARY_UNITS: ReadonlyMap<string, SecondaryUnit> = new Map(Object.entries(RFC8798_SECONDARY_UNITS));

/** Whether `unit` is a registered SenML unit symbol, primary or secondary (case-sensitive). */
export function isSenmlUnit(unit: string): boolean {
  return SENML_PRIMARY_UNITS.has(unit) || SENML_SECONDARY_UNITS.has(unit);
}
