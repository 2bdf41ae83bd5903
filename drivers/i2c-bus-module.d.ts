/**
 * The slice of the `i2c-bus` npm package (v5.2.3, CommonJS, no bundled types) that
 * drivers/linux-i2c-bus.ts uses. Errors are Node errno exceptions: `err.code` is the errno name
 * (EREMOTEIO, ENOENT, ...), from fs.openSync on /dev/i2c-N or from the native ioctl wrappers.
 */
declare module 'i2c-bus' {
  export interface OpenOptions {
    /** Use I2C_SLAVE_FORCE: talk to an address a kernel driver has claimed. */
    forceAccess?: boolean;
  }

  /** The synchronous half of i2c-bus's Bus class. Words are SMBus words: low byte first on the wire. */
  export interface I2cBusSync {
    closeSync(): void;
    /** SMBus quick command (no data). */
    writeQuickSync(address: number, bit: number): I2cBusSync;
    /** SMBus receive byte. */
    receiveByteSync(address: number): number;
    /** SMBus send byte. */
    sendByteSync(address: number, byte: number): I2cBusSync;
    /** SMBus read byte data. */
    readByteSync(address: number, command: number): number;
    /** SMBus read word data: the first byte on the wire is the low byte of the result. */
    readWordSync(address: number, command: number): number;
    /** SMBus write byte data. */
    writeByteSync(address: number, command: number, byte: number): I2cBusSync;
    /** SMBus write word data: the low byte of `word` goes on the wire first. */
    writeWordSync(address: number, command: number, word: number): I2cBusSync;
    /** SMBus/I2C block read (repeated start, up to 32 bytes). Returns the number of bytes read. */
    readI2cBlockSync(address: number, command: number, length: number, buffer: Buffer): number;
    /** I2C block write (command then up to 32 bytes). */
    writeI2cBlockSync(address: number, command: number, length: number, buffer: Buffer): I2cBusSync;
    /** Plain I2C read (fs read on the fd). Returns the number of bytes read. */
    i2cReadSync(address: number, length: number, buffer: Buffer): number;
    /** Plain I2C write (fs write on the fd). Returns the number of bytes written. */
    i2cWriteSync(address: number, length: number, buffer: Buffer): number;
  }

  /** Does not touch /dev/i2c-N: the file is opened on the first transfer. */
  export function openSync(busNumber: number, options?: OpenOptions): I2cBusSync;

  const i2c: { openSync: typeof openSync };
  export default i2c;
}
