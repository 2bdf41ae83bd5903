/**
 * The TMP102 datasheet's (TI SBOS397) example temperatures, shared by every tier that checks
 * readings to the LSB: test/chain.test.ts (simulated TMP102) and
 * test/kernel/i2c-stub.kernel-test.ts (the kernel's i2c-stub, and the simulation again in the
 * same run), so both check the same expected readings.
 */

/** SBOS397 "12-Bit Temperature Data Format" table: °C -> 12-bit count. */
export const TABLE_12 = [
  [127.9375, 0x7ff], [100, 0x640], [80, 0x500], [75, 0x4b0], [50, 0x320], [25, 0x190],
  [0.25, 0x004], [0, 0x000], [-0.25, 0xffc], [-25, 0xe70], [-55, 0xc90],
] as const;

/** SBOS397 "13-Bit Temperature Data Format" table (extended mode, EM=1): °C -> 13-bit count. */
export const TABLE_13 = [
  [150, 0x0960], [128, 0x0800], [127.9375, 0x07ff], [100, 0x0640], [80, 0x0500], [75, 0x04b0],
  [50, 0x0320], [25, 0x0190], [0.25, 0x0004], [0, 0x0000], [-0.25, 0x1ffc], [-25, 0x1e70], [-55, 0x1c90],
] as const;

/** Temperature register (wire order, MSB first) for a 12-bit count: left-justified, D3..D0 = 0. */
export function register12(count: number): number {
  return (count << 4) & 0xffff;
}

/** Temperature register for a 13-bit count (extended mode): left-justified, D0 = 1 flags EM. */
export function register13(count: number): number {
  return ((count << 3) | 1) & 0xffff;
}

/** Configuration register at power-up (SBOS397 "Configuration Register"): R1R0 = 11, CR = 10 (4 Hz). */
export const POWER_ON_CONFIG = 0x60a0;
