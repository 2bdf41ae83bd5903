/**
 * The one interface the rest of the gateway sees for an I2C adapter.
 *
 * Every byte array is in wire order: exactly the bytes that cross SDA, first byte first.
 * That is the TMP102's order (MSB first, datasheet section 7.5.3) and the order the Go
 * modules expect; the Linux implementation undoes the SMBus "low byte first" word
 * convention so nothing above this file has to know about it.
 *
 * Calls are synchronous on purpose: host imports called from WebAssembly must answer
 * synchronously (Node 20 has no JS Promise Integration), and the real adapter's blocking
 * `*Sync` calls are what i2c-bus offers for that. Failures throw {@link I2CError}.
 *
 * Implementations: `LinuxI2CBus` (drivers/linux-i2c-bus.ts, /dev/i2c-N through i2c-bus) and
 * `SimulatedI2CBus` (drivers/sim/sim-i2c-bus.ts). `openI2CBus` (drivers/open-i2c-bus.ts)
 * picks one once at start-up.
 */
export interface I2CBus {
  /** The adapter number N of /dev/i2c-N (simulated buses use the number they were given). */
  readonly busNumber: number;
  /** "linux" or "simulated": reported at start-up so an operator knows what answered. */
  readonly kind: 'linux' | 'simulated';

  /** START, address+W, data..., STOP. One byte maps to SMBus "send byte". */
  write(address: number, data: Uint8Array): void;
  /** START, address+R, `length` bytes, STOP. One byte maps to SMBus "receive byte". */
  read(address: number, length: number): Uint8Array;
  /**
   * Register read: START, address+W, `register`, repeated START, address+R, `length` bytes, STOP.
   * Two bytes map to SMBus "read word data" (byte-swapped back to wire order).
   */
  readRegister(address: number, register: number, length: number): Uint8Array;
  /** Register write: START, address+W, `register`, data..., STOP. Two bytes map to SMBus "write word data". */
  writeRegister(address: number, register: number, data: Uint8Array): void;

  /** Bus transactions attempted so far (successful or not): what the bus actually saw. */
  readonly transactionCount: number;

  close(): void;
}

/** 7-bit addresses only; 0x00 is the general call address (I2C spec UM10204 section 3.1.13). */
export function assertSevenBitAddress(address: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0x7f) {
    throw new RangeError(`I2C address must be a 7-bit integer, got ${address}`);
  }
}
