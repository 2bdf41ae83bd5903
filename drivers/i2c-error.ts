/**
 * Errors an I2C adapter can report. The codes are part of the gateway's one error catalogue
 * (gateway/errors.ts re-exports them with their CoAP mapping); drivers sit below the gateway
 * and so declare their slice of it here.
 */
export const I2C_ERROR_CODES = {
  /** No device acknowledged its address (EREMOTEIO on bcm2835 / RP1, ENXIO on other adapters). */
  GW_ERR_I2C_NACK: 'No device answered at this I2C address: check wiring, power and the ADD0 pin',
  /** A transfer started but failed on the wire (EIO, lost arbitration EAGAIN, protocol errors). */
  GW_ERR_I2C_BUS: 'I2C bus error during the transfer',
  /** The adapter gave up waiting (ETIMEDOUT): SCL held low, a stuck bus. */
  GW_ERR_I2C_TIMEOUT: 'I2C transfer timed out: the bus may be stuck (SCL held low)',
  /** EACCES / EPERM on /dev/i2c-N. */
  GW_ERR_I2C_PERMISSION: 'Permission denied on the I2C device: add the user to group i2c (sudo usermod -aG i2c $USER) and log in again',
  /** ENOENT: /dev/i2c-N does not exist. */
  GW_ERR_I2C_NO_ADAPTER: 'No such I2C adapter: enable I2C (raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot',
  /** EBUSY: a kernel driver owns the address (i2cdetect shows UU). */
  GW_ERR_I2C_BUSY: 'A kernel driver owns this I2C address (i2cdetect shows UU): unbind it or remove its dtoverlay',
  /** EOPNOTSUPP / EINVAL: the adapter cannot do this kind of transfer (an SMBus-only adapter asked for plain I2C). */
  GW_ERR_I2C_UNSUPPORTED: 'The I2C adapter does not support this kind of transfer',
} as const;

export type I2CErrorCode = keyof typeof I2C_ERROR_CODES;

export class I2CError extends Error {
  override readonly name = 'I2CError';
  readonly code: I2CErrorCode;
  readonly busNumber: number;
  readonly address: number;
  /** The kernel's errno name (EREMOTEIO, EACCES...) when the error came from the kernel. */
  readonly errno: string | undefined;

  constructor(code: I2CErrorCode, busNumber: number, address: number, options: { errno?: string; detail?: string; cause?: unknown } = {}) {
    const where = `bus ${busNumber}, address 0x${address.toString(16).padStart(2, '0')}`;
    const errno = options.errno ? ` [${options.errno}]` : '';
    const detail = options.detail ? `: ${options.detail}` : '';
    super(`${I2C_ERROR_CODES[code]} (${where})${errno}${detail}`, { cause: options.cause });
    this.code = code;
    this.busNumber = busNumber;
    this.address = address;
    this.errno = options.errno;
  }
}
