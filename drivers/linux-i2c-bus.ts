import { createRequire } from 'node:module';
import type { I2cBusSync, OpenOptions } from 'i2c-bus';
import { assertSevenBitAddress, type I2CBus } from './i2c-bus.ts';
import { I2CError, type I2CErrorCode } from './i2c-error.ts';

/** The part of the i2c-bus module this class needs; tests inject a fake to check the errno mapping. */
export interface I2cBusModule {
  openSync(busNumber: number, options?: OpenOptions): I2cBusSync;
}

export interface LinuxI2CBusOptions {
  /** Default: the real `i2c-bus` package. */
  module?: I2cBusModule;
  /** I2C_SLAVE_FORCE: talk to an address a kernel driver has bound (i2cdetect shows UU). Use with care. */
  forceAccess?: boolean;
}

/**
 * The i2c-bus addon is loaded when the first LinuxI2CBus is made, not when this file is
 * imported: it is not context-aware, so a process may load it in one thread only, and the
 * gateway loads it in its bus thread (gateway/host/worker/bus-worker.ts), not the main thread.
 */
function loadI2cBus(): I2cBusModule {
  return createRequire(import.meta.url)('i2c-bus') as I2cBusModule;
}

/** Largest SMBus / I2C block transfer (I2C_SMBUS_BLOCK_MAX in linux/i2c.h). */
const SMBUS_BLOCK_MAX = 32;

/**
 * errno names from the i2c-dev ioctls and from opening /dev/i2c-N, to catalogue codes. NACK is
 * EREMOTEIO on bcm2835 and RP1 (Raspberry Pi) and ENXIO on other adapters; EAGAIN is lost
 * arbitration (Linux Documentation/i2c/fault-codes.rst). ENODEV is what i2c-stub answers for
 * an address it has no chip at (drivers/i2c/busses/i2c-stub.c, stub_xfer): no device there,
 * which for a user is the same fault as a NACK.
 */
const ERRNO_TO_CODE: Readonly<Record<string, I2CErrorCode>> = {
  EREMOTEIO: 'GW_ERR_I2C_NACK',
  ENXIO: 'GW_ERR_I2C_NACK',
  ENODEV: 'GW_ERR_I2C_NACK',
  EIO: 'GW_ERR_I2C_BUS',
  EAGAIN: 'GW_ERR_I2C_BUS',
  EPROTO: 'GW_ERR_I2C_BUS',
  ETIMEDOUT: 'GW_ERR_I2C_TIMEOUT',
  EACCES: 'GW_ERR_I2C_PERMISSION',
  EPERM: 'GW_ERR_I2C_PERMISSION',
  ENOENT: 'GW_ERR_I2C_NO_ADAPTER',
  EBUSY: 'GW_ERR_I2C_BUSY',
  EOPNOTSUPP: 'GW_ERR_I2C_UNSUPPORTED',
  ENOTSUP: 'GW_ERR_I2C_UNSUPPORTED',
  EINVAL: 'GW_ERR_I2C_UNSUPPORTED',
};

/** The catalogue code for an errno name; unknown ones are bus errors (the errno is kept on the I2CError). */
export function i2cErrorCodeForErrno(errno: string | undefined): I2CErrorCode {
  return (errno !== undefined && ERRNO_TO_CODE[errno]) || 'GW_ERR_I2C_BUS';
}

/**
 * /dev/i2c-N through the i2c-bus package. Register transfers use SMBus calls because every
 * adapter supports them (some are SMBus-only); SMBus words travel low byte first, so this class
 * swaps them to and from wire order, the TMP102's MSB-first order (SBOS397 "Temperature Register").
 *
 * i2c-bus opens /dev/i2c-N lazily, on the first transfer: a missing adapter (ENOENT), missing
 * permission (EACCES) or a claimed address (EBUSY) surfaces as the first transfer's error.
 */
export class LinuxI2CBus implements I2CBus {
  readonly kind = 'linux' as const;
  readonly busNumber: number;
  #bus: I2cBusSync;
  #transactions = 0;

  constructor(busNumber: number, options: LinuxI2CBusOptions = {}) {
    if (!Number.isInteger(busNumber) || busNumber < 0) throw new RangeError(`bus number must be a non-negative integer, got ${busNumber}`);
    this.busNumber = busNumber;
    const module = options.module ?? loadI2cBus();
    this.#bus = module.openSync(busNumber, { forceAccess: options.forceAccess ?? false });
  }

  get transactionCount(): number {
    return this.#transactions;
  }

  write(address: number, data: Uint8Array): void {
    this.#transfer(address, (bus) => {
      if (data.length === 0) bus.writeQuickSync(address, 0);
      else if (data.length === 1) bus.sendByteSync(address, data[0]!);
      else {
        const written = bus.i2cWriteSync(address, data.length, Buffer.from(data));
        if (written !== data.length) throw shortTransfer('write', written, data.length);
      }
    });
  }

  read(address: number, length: number): Uint8Array {
    assertLength(length);
    return this.#transfer(address, (bus) => {
      if (length === 1) return Uint8Array.of(bus.receiveByteSync(address));
      const buffer = Buffer.alloc(length);
      const got = bus.i2cReadSync(address, length, buffer);
      if (got !== length) throw shortTransfer('read', got, length);
      return new Uint8Array(buffer);
    });
  }

  readRegister(address: number, register: number, length: number): Uint8Array {
    assertByte(register, 'register');
    assertLength(length);
    if (length > SMBUS_BLOCK_MAX) throw this.#tooLong(address, length);
    return this.#transfer(address, (bus) => {
      if (length === 1) return Uint8Array.of(bus.readByteSync(address, register));
      if (length === 2) {
        const word = bus.readWordSync(address, register);
        return Uint8Array.of(word & 0xff, word >> 8); // SMBus low byte came first on the wire
      }
      const buffer = Buffer.alloc(length);
      const got = bus.readI2cBlockSync(address, register, length, buffer);
      if (got !== length) throw shortTransfer('block read', got, length);
      return new Uint8Array(buffer);
    });
  }

  writeRegister(address: number, register: number, data: Uint8Array): void {
    assertByte(register, 'register');
    if (data.length > SMBUS_BLOCK_MAX) throw this.#tooLong(address, data.length);
    this.#transfer(address, (bus) => {
      if (data.length === 0) bus.sendByteSync(address, register); // pointer-only write
      else if (data.length === 1) bus.writeByteSync(address, register, data[0]!);
      else if (data.length === 2) bus.writeWordSync(address, register, data[0]! | (data[1]! << 8)); // first wire byte is the SMBus low byte
      else bus.writeI2cBlockSync(address, register, data.length, Buffer.from(data));
    });
  }

  close(): void {
    try {
      this.#bus.closeSync();
    } catch (err) {
      throw this.#mapError(err, 0);
    }
  }

  // One call, one attempted transaction, counted even if opening /dev/i2c-N fails first.
  #transfer<T>(address: number, body: (bus: I2cBusSync) => T): T {
    assertSevenBitAddress(address);
    this.#transactions++;
    try {
      return body(this.#bus);
    } catch (err) {
      throw this.#mapError(err, address);
    }
  }

  #mapError(err: unknown, address: number): I2CError {
    if (err instanceof I2CError) return err;
    const errno = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
    const detail = err instanceof Error ? err.message : String(err);
    return new I2CError(i2cErrorCodeForErrno(errno), this.busNumber, address, { errno, detail, cause: err });
  }

  #tooLong(address: number, length: number): I2CError {
    return new I2CError('GW_ERR_I2C_UNSUPPORTED', this.busNumber, address, {
      detail: `SMBus block transfers carry at most ${SMBUS_BLOCK_MAX} bytes, asked for ${length}`,
    });
  }
}

function shortTransfer(what: string, got: number, wanted: number): Error {
  return new Error(`short ${what}: ${got} of ${wanted} bytes`);
}

function assertByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${what} must be a byte, got ${value}`);
}

function assertLength(length: number): void {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`length must be a positive integer, got ${length}`);
}
