import { assertSevenBitAddress, type I2CBus } from '../i2c-bus.ts';
import { I2CError, type I2CErrorCode } from '../i2c-error.ts';

/** I2C general call address (UM10204 section 3.1.13). */
export const GENERAL_CALL_ADDRESS = 0x00;
/** "Reset and write programmable part of slave address by hardware" (UM10204 3.1.13; SBOS397 "General Call"). */
export const GENERAL_CALL_RESET = 0x06;
/** SMBus Alert Response Address, 0001 100 (SMBus 2.0 appendix; SBOS397 "SMBus Alert Function"). */
export const SMBUS_ALERT_RESPONSE_ADDRESS = 0x0c;

/**
 * What a simulated device throws to refuse a transfer. The device does not know which bus or
 * address it sits at; the bus turns this into an {@link I2CError} carrying both.
 */
export class SimI2CFault extends Error {
  override readonly name = 'SimI2CFault';
  readonly code: I2CErrorCode;
  constructor(code: I2CErrorCode, detail?: string) {
    super(detail ?? code);
    this.code = code;
  }
}

/**
 * A device on a {@link SimulatedI2CBus}. Each method is one bus transaction (START ... STOP) as
 * seen by the device after it acknowledged its address; throw {@link SimI2CFault} to NACK or fail.
 */
export interface SimI2CDevice {
  /** START, address+W, `bytes`, STOP. An empty array is an SMBus quick write. */
  onWrite(bytes: Uint8Array): void;
  /** START, address+R, `length` bytes, STOP. */
  onRead(length: number): Uint8Array;
  /**
   * START, address+W, `bytes`, repeated START, address+R, `length` bytes, STOP: one transaction.
   * Optional; without it the bus calls onWrite then onRead.
   */
  onWriteRead?(bytes: Uint8Array, length: number): Uint8Array;
  /** A general call write (address 0x00). Return true to acknowledge; absent means the device ignores general calls. */
  onGeneralCall?(bytes: Uint8Array): boolean;
  /** Whether the device would answer the SMBus alert response address now. */
  smbusAlertPending?(): boolean;
  /** The device won alert-response arbitration: return its address byte and clear its alert as it chooses. */
  onSmbusAlertResponse?(address: number): number;
}

/**
 * An I2C adapter in memory: product code, chosen at start-up when there is no /dev/i2c-N, and the
 * bus every test drives. Devices answer by 7-bit address; nobody at an address is a NACK, as on
 * the wire (the Linux adapter reports EREMOTEIO/ENXIO, mapped to the same code).
 */
export class SimulatedI2CBus implements I2CBus {
  readonly kind = 'simulated' as const;
  readonly busNumber: number;
  #devices = new Map<number, SimI2CDevice>();
  #transactions = 0;
  #closed = false;

  constructor(busNumber = 1) {
    if (!Number.isInteger(busNumber) || busNumber < 0) throw new RangeError(`bus number must be a non-negative integer, got ${busNumber}`);
    this.busNumber = busNumber;
  }

  get transactionCount(): number {
    return this.#transactions;
  }

  /** Addresses with a device attached, ascending (what a scan would find, faults aside). */
  get addresses(): number[] {
    return [...this.#devices.keys()].sort((a, b) => a - b);
  }

  attach(address: number, device: SimI2CDevice): void {
    assertSevenBitAddress(address);
    if (address === GENERAL_CALL_ADDRESS || address === SMBUS_ALERT_RESPONSE_ADDRESS) {
      throw new RangeError(`address 0x${hex(address)} is reserved (general call / SMBus alert response)`);
    }
    if (this.#devices.has(address)) throw new RangeError(`address 0x${hex(address)} is already taken on simulated bus ${this.busNumber}`);
    this.#devices.set(address, device);
  }

  detach(address: number): void {
    this.#devices.delete(address);
  }

  device(address: number): SimI2CDevice | undefined {
    return this.#devices.get(address);
  }

  write(address: number, data: Uint8Array): void {
    this.#begin(address);
    if (address === GENERAL_CALL_ADDRESS) return this.#generalCall(data);
    const device = this.#target(address);
    this.#run(address, () => device.onWrite(Uint8Array.from(data)));
  }

  read(address: number, length: number): Uint8Array {
    this.#begin(address);
    assertLength(length, 0);
    if (address === SMBUS_ALERT_RESPONSE_ADDRESS) return this.#alertResponse(length);
    const device = this.#target(address);
    return this.#run(address, () => checkedLength(device.onRead(length), length));
  }

  readRegister(address: number, register: number, length: number): Uint8Array {
    this.#begin(address);
    assertByte(register, 'register');
    assertLength(length, 1);
    const device = this.#target(address);
    const pointer = Uint8Array.of(register);
    return this.#run(address, () => {
      if (device.onWriteRead) return checkedLength(device.onWriteRead(pointer, length), length);
      device.onWrite(pointer);
      return checkedLength(device.onRead(length), length);
    });
  }

  writeRegister(address: number, register: number, data: Uint8Array): void {
    this.#begin(address);
    assertByte(register, 'register');
    const device = this.#target(address);
    const bytes = new Uint8Array(data.length + 1);
    bytes[0] = register;
    bytes.set(data, 1);
    this.#run(address, () => device.onWrite(bytes));
  }

  close(): void {
    this.#closed = true;
  }

  // Every call is one attempted transaction, counted before anything can fail.
  #begin(address: number): void {
    if (this.#closed) throw new Error(`simulated I2C bus ${this.busNumber} is closed`);
    assertSevenBitAddress(address);
    this.#transactions++;
  }

  #target(address: number): SimI2CDevice {
    const device = address === GENERAL_CALL_ADDRESS || address === SMBUS_ALERT_RESPONSE_ADDRESS ? undefined : this.#devices.get(address);
    if (!device) throw new I2CError('GW_ERR_I2C_NACK', this.busNumber, address, { detail: 'no simulated device at this address' });
    return device;
  }

  #run<T>(address: number, transfer: () => T): T {
    try {
      return transfer();
    } catch (err) {
      if (err instanceof SimI2CFault) throw new I2CError(err.code, this.busNumber, address, { detail: err.message, cause: err });
      throw err;
    }
  }

  // General call: every device that supports it sees the bytes; the transfer succeeds if at least
  // one acknowledged (the address byte is ACKed by anyone listening; UM10204 3.1.13).
  #generalCall(data: Uint8Array): void {
    let acknowledged = false;
    for (const device of this.#devices.values()) {
      if (device.onGeneralCall?.(Uint8Array.from(data))) acknowledged = true;
    }
    if (!acknowledged) throw new I2CError('GW_ERR_I2C_NACK', this.busNumber, GENERAL_CALL_ADDRESS, { detail: 'no device acknowledged the general call' });
  }

  // Alerting devices all answer and arbitrate on their address byte; the lowest address wins
  // (SBOS397 "SMBus Alert Function"). Bytes beyond the first are the released bus (0xFF).
  #alertResponse(length: number): Uint8Array {
    const winner = this.addresses.find((address) => this.#devices.get(address)?.smbusAlertPending?.() === true);
    const device = winner === undefined ? undefined : this.#devices.get(winner);
    if (winner === undefined || !device?.onSmbusAlertResponse) {
      throw new I2CError('GW_ERR_I2C_NACK', this.busNumber, SMBUS_ALERT_RESPONSE_ADDRESS, { detail: 'no device is alerting' });
    }
    const out = new Uint8Array(length).fill(0xff);
    const byte = this.#run(SMBUS_ALERT_RESPONSE_ADDRESS, () => device.onSmbusAlertResponse!(winner));
    if (length > 0) out[0] = byte;
    return out;
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function assertByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${what} must be a byte, got ${value}`);
}

function assertLength(length: number, min: number): void {
  if (!Number.isInteger(length) || length < min) throw new RangeError(`length must be an integer >= ${min}, got ${length}`);
}

function checkedLength(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length !== length) throw new Error(`simulated device returned ${bytes.length} bytes for a ${length}-byte read`);
  return bytes;
}
