/**
 * SHT3x-DIS data formats (datasheet version 6, section 4.11 "Status Register", section 4.13
 * "Conversion of Signal Output"; alert limit format from the application note "Alert Mode of
 * SHT3x- and STS3x-DIS"). Pure functions, shared by the simulated chip, its tests and, later,
 * the host side of a module that reads the chip.
 */

/** Full scale of a raw 16-bit output: the formulas divide by 2^16 - 1. */
export const SHT3X_RAW_MAX = 0xffff;

/** Status register bits (Table 17). Bits 15, 11, 10 and 4 are cleared by Clear Status (Table 18). */
export const SHT3X_STATUS = {
  alertPending: 1 << 15,
  heaterOn: 1 << 13,
  rhTrackingAlert: 1 << 11,
  tTrackingAlert: 1 << 10,
  resetDetected: 1 << 4,
  /** 1: the last command was not processed (invalid, or its checksum failed). */
  commandFailed: 1 << 1,
  /** 1: the checksum of the last write transfer failed. */
  writeChecksumFailed: 1 << 0,
} as const;

/** What Clear Status (0x3041) clears: "all flags (Bit 15, 11, 10, 4)" (section 4.11). */
export const SHT3X_STATUS_CLEARABLE =
  SHT3X_STATUS.alertPending | SHT3X_STATUS.rhTrackingAlert | SHT3X_STATUS.tTrackingAlert | SHT3X_STATUS.resetDetected;

/** After power-up or any reset: alert pending and system reset detected read 1 (Table 17 defaults). */
export const SHT3X_STATUS_AFTER_RESET = SHT3X_STATUS.alertPending | SHT3X_STATUS.resetDetected;

/** T [°C] = -45 + 175 * S_T / (2^16 - 1) (section 4.13, equation 2). */
export function sht3xRawToCelsius(raw: number): number {
  return -45 + (175 * raw) / SHT3X_RAW_MAX;
}

/** RH [%] = 100 * S_RH / (2^16 - 1) (section 4.13, equation 1). */
export function sht3xRawToPercentRh(raw: number): number {
  return (100 * raw) / SHT3X_RAW_MAX;
}

/**
 * The raw code a measurement of `celsius` gives: the inverse formula, rounded to the nearest code
 * (the datasheet gives no rounding rule: a guess), clamped to the code range, which is exactly the
 * sensor's output range -45..130 °C.
 */
export function sht3xCelsiusToRaw(celsius: number): number {
  if (!Number.isFinite(celsius)) throw new RangeError(`temperature must be finite, got ${celsius}`);
  return clampRaw(Math.round(((celsius + 45) * SHT3X_RAW_MAX) / 175));
}

/** The raw code for `percentRh`, rounded to the nearest code and clamped to 0..100 %RH. */
export function sht3xPercentRhToRaw(percentRh: number): number {
  if (!Number.isFinite(percentRh)) throw new RangeError(`relative humidity must be finite, got ${percentRh}`);
  return clampRaw(Math.round((percentRh * SHT3X_RAW_MAX) / 100));
}

/**
 * Alert limits are one word: RH[15:9] in bits 15..9, T[15:7] in bits 8..0 (Alert Mode note,
 * "Alert limit format"): 7 bits of humidity, 9 of temperature.
 */
export interface Sht3xLimitThresholds {
  /** The raw RH code the limit compares against (its 7 MSBs, low bits 0). */
  rawRh: number;
  /** The raw T code the limit compares against (its 9 MSBs, low bits 0). */
  rawT: number;
}

export function sht3xDecodeLimit(word: number): Sht3xLimitThresholds {
  return { rawRh: word & 0xfe00, rawT: (word & 0x01ff) << 7 };
}

export function sht3xEncodeLimit(percentRh: number, celsius: number): number {
  return (sht3xPercentRhToRaw(percentRh) & 0xfe00) | (sht3xCelsiusToRaw(celsius) >> 7);
}

/** Limits after power-up (Alert Mode note, "Default alert limits"): 80 %RH/60 °C, 79/58, 22/-9, 20/-10. */
export const SHT3X_DEFAULT_LIMITS = {
  highSet: 0xcd33,
  highClear: 0xc92d,
  lowClear: 0x3869,
  lowSet: 0x3466,
} as const;

function clampRaw(raw: number): number {
  return Math.min(SHT3X_RAW_MAX, Math.max(0, raw));
}
