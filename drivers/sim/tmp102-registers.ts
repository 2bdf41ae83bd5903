/**
 * TMP102 register map and data formats (TI SBOS397), shared by the simulated chip and its tests.
 *
 * Citations name the datasheet's section titles rather than numbers: TI renumbered the
 * sections between revisions ("Configuration Register" is 7.5.3 in revision H and moved to
 * chapter 6 in the 2024 revision).
 */

/** Pointer values P1P0 ("Pointer Register": Pointer Addresses table). P7..P2 must be 0. */
export const TMP102_REGISTER = {
  temperature: 0b00,
  configuration: 0b01,
  tLow: 0b10,
  tHigh: 0b11,
} as const;

/**
 * Configuration register bits as a 16-bit word in wire order (byte 1 = high byte):
 * byte 1 = OS R1 R0 F1 F0 POL TM SD, byte 2 = CR1 CR0 AL EM 0 0 0 0
 * ("Configuration Register": Configuration and Power-Up/Reset Format table).
 */
export const TMP102_CONFIG = {
  OS: 0x8000,
  R1R0: 0x6000,
  F1F0: 0x1800,
  POL: 0x0400,
  TM: 0x0200,
  SD: 0x0100,
  CR1CR0: 0x00c0,
  AL: 0x0020,
  EM: 0x0010,
} as const;

/** Bits a write can change and that are stored; OS is an action, R1R0 and AL are read-only. */
export const TMP102_CONFIG_WRITABLE =
  TMP102_CONFIG.F1F0 | TMP102_CONFIG.POL | TMP102_CONFIG.TM | TMP102_CONFIG.SD | TMP102_CONFIG.CR1CR0 | TMP102_CONFIG.EM;

/** Power-up / general call reset values (configuration table; "High- and Low-Limit Registers"). */
export const TMP102_POWER_ON = {
  configuration: 0x60a0,
  /** 75 °C */
  tLow: 0x4b00,
  /** 80 °C */
  tHigh: 0x5000,
  /** "After power-up the temperature register reads 0 °C until the first conversion is complete." */
  temperature: 0x0000,
} as const;

/** CR1CR0 -> period between conversion starts ("Conversion Rate" table: 0.25, 1, 4, 8 Hz). */
export const TMP102_CONVERSION_PERIOD_MS = [4000, 1000, 250, 125] as const;

/** F1F0 -> consecutive faults before ALERT changes ("Fault Queue" table: 1, 2, 4, 6). */
export const TMP102_FAULT_QUEUE = [1, 2, 4, 6] as const;

/** Electrical Characteristics: conversion time 26 ms typical, 35 ms maximum. */
export const TMP102_CONVERSION_TIME_MS = { typical: 26, max: 35 } as const;

/** Specified operating range ("Recommended Operating Conditions"): -55 °C to 150 °C. */
export const TMP102_SPEC_RANGE_C = { min: -55, max: 150 } as const;

/** One LSB is 0.0625 °C in both formats ("Digital Temperature Output"). */
export const TMP102_LSB_C = 0.0625;

const COUNT_12_BIT = { min: -2048, max: 2047 } as const;
const COUNT_13_BIT = { min: -4096, max: 4095 } as const;

/**
 * The count (in 0.0625 °C steps) a conversion of `celsius` produces.
 * Guesses, documented because the datasheet does not specify them:
 * - the sensed temperature is clamped to the specified range -55..150 °C (the chip's
 *   behaviour outside it is unspecified; the simulation never reports beyond it);
 * - quantisation rounds to the nearest LSB (the datasheet gives no rounding rule);
 * - 12-bit mode saturates at the format's limits (127.9375 °C = 0x7FF), which is why
 *   extended mode exists ("Extended Mode (EM)": "temperatures above 128 °C").
 */
export function celsiusToCount(celsius: number, extended: boolean): number {
  if (!Number.isFinite(celsius)) throw new RangeError(`temperature must be finite, got ${celsius}`);
  const sensed = Math.min(TMP102_SPEC_RANGE_C.max, Math.max(TMP102_SPEC_RANGE_C.min, celsius));
  const count = Math.round(sensed / TMP102_LSB_C);
  const range = extended ? COUNT_13_BIT : COUNT_12_BIT;
  return Math.min(range.max, Math.max(range.min, count)) | 0;
}

/**
 * Temperature register contents for a count: 12-bit left-justified (`count << 4`, D0..D3 = 0), or in
 * extended mode 13-bit (`count << 3`) with D0 = 1 to flag the format ("Temperature Register":
 * Byte 1 and Byte 2 tables).
 */
export function temperatureCountToRegister(count: number, extended: boolean): number {
  return extended ? (((count & 0x1fff) << 3) | 1) : (count & 0x0fff) << 4;
}

/** Decode a temperature register word, reading its D0 format flag ("read EM instead of assuming"). */
export function temperatureRegisterToCelsius(word: number): number {
  const extended = (word & 1) === 1;
  return limitRegisterToCount(word, extended) * TMP102_LSB_C;
}

/**
 * T_LOW / T_HIGH register contents for a count: same layout as the temperature register, but the
 * unused low bits read 0, D0 included ("High- and Low-Limit Registers": T_HIGH/T_LOW byte tables).
 */
export function limitCountToRegister(count: number, extended: boolean): number {
  return extended ? (count & 0x1fff) << 3 : (count & 0x0fff) << 4;
}

/** Signed count from a 16-bit register word in the given format. */
export function limitRegisterToCount(word: number, extended: boolean): number {
  const signed = (word << 16) >> 16;
  return extended ? signed >> 3 : signed >> 4;
}

/** Mask of the limit-register bits that exist in a format (the rest read 0). */
export function limitRegisterMask(extended: boolean): number {
  return extended ? 0xfff8 : 0xfff0;
}

/** Convenience for tests and the host: the limit register word for a temperature. */
export function celsiusToLimitRegister(celsius: number, extended = false): number {
  return limitCountToRegister(celsiusToCount(celsius, extended), extended);
}
