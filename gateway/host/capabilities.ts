/**
 * What the operator lets a module touch. A module names a bus and an address in every I2C
 * import; the host answers only when both were granted in the configuration. Everything else is
 * refused before it reaches the driver (docs/module-abi.md, "Capabilities").
 */
export interface I2CGrant {
  /** The adapter number N of /dev/i2c-N. */
  readonly bus: number;
  /** 7-bit addresses. 0x00 (general call) and 0x0C (SMBus alert response) only when listed. */
  readonly addresses: readonly number[];
}

export interface Capabilities {
  readonly i2c: I2CGrant | undefined;
}

export type AccessVerdict = { allowed: true } | { allowed: false; reason: string };

export function checkI2CAccess(caps: Capabilities, bus: number, address: number): AccessVerdict {
  if (!caps.i2c) return { allowed: false, reason: 'no I2C access granted' };
  if (bus !== caps.i2c.bus) return { allowed: false, reason: `bus ${bus} not granted (granted: ${caps.i2c.bus})` };
  if (!caps.i2c.addresses.includes(address)) {
    return { allowed: false, reason: `address ${hex(address)} not granted (granted: ${caps.i2c.addresses.map(hex).join(', ') || 'none'})` };
  }
  return { allowed: true };
}

export function hex(address: number): string {
  return '0x' + (address >>> 0).toString(16).padStart(2, '0');
}
