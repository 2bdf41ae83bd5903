/**
 * Recording of bus transfers (`npm start -- --record <file>`), for a replay device to answer a
 * module later without the hardware (drivers/sim/replay-device.ts).
 *
 * The file is JSON lines: a header, then one line per transfer, in the order the bus saw them:
 *
 *   {"recording":"gw-i2c-transfers","version":1,"started":"2026-11-30T10:00:00.000Z"}
 *   {"time":0.41,"bus":1,"address":72,"kind":"readRegister","written":"01","length":2,"read":"60a0"}
 *   {"time":0.52,"bus":1,"address":72,"kind":"writeRegister","written":"0160a0"}
 *   {"time":9.8,"bus":1,"address":73,"kind":"read","written":"","length":2,"error":"GW_ERR_I2C_NACK"}
 *   {"truncated":true,"time":...}            once, when the file reached its ceiling
 *
 * `time` is milliseconds since the recording started (the clock's monotonic time), `kind` the
 * I2CBus method, `written` the bytes that crossed SDA from the master in wire order (for the
 * register calls the register byte first), `read` what came back, or `error` the I2CError code.
 * Several buses may share one recorder (one file); each line names its bus.
 *
 * Bounded: past `maxBytes` nothing more is written but one `truncated` line, so a forgotten
 * --record cannot fill the SD card (a TMP102 read at 4 Hz writes about 400 bytes a second: the
 * default 16 MiB is half a day). Writes are synchronous, like the transfers they follow: a
 * line is on its way to the file before the module sees the transfer's result.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { monotonicMs, SystemClock, type Clock } from './clock.ts';
import { I2CError, I2C_ERROR_CODES, type I2CErrorCode } from './i2c-error.ts';
import type { I2CBus } from './i2c-bus.ts';

export const RECORDING_FORMAT = 'gw-i2c-transfers';
export const RECORDING_VERSION = 1;
/** The default ceiling of a recording file. */
export const RECORDING_MAX_BYTES = 16 * 2 ** 20;

export type TransferKind = 'write' | 'read' | 'readRegister' | 'writeRegister';
export const TRANSFER_KINDS: readonly TransferKind[] = ['write', 'read', 'readRegister', 'writeRegister'];

export interface RecordedTransfer {
  time: number;
  bus: number;
  address: number;
  kind: TransferKind;
  /** Bytes written, wire order (the register byte first for the register calls). */
  written: Uint8Array;
  /** Bytes asked for (read and readRegister). */
  length?: number;
  /** What came back, when it succeeded. */
  read?: Uint8Array;
  /** The error code, when it failed. */
  error?: I2CErrorCode;
}

export interface TransferRecorderOptions {
  /** Default {@link RECORDING_MAX_BYTES}. */
  maxBytes?: number;
  /** Default SystemClock: `time` is this clock's monotonic ms since the recorder opened. */
  clock?: Clock;
  /**
   * Add to the file instead of starting it afresh (the header is written only to an empty
   * file): for a second writer of the same recording, such as a bus thread. Each line is one
   * write(2) on an O_APPEND descriptor, so lines from several writers never interleave.
   */
  append?: boolean;
  /**
   * The monotonic ms (of `clock`) that `time` counts from: a second writer passes the first's
   * `originMs`, so that the lines of both count from the same instant (process.hrtime is one
   * clock for every thread of the process). Default: now.
   */
  originMs?: number;
}

/** One recording file, shared by every bus that records into it. Created (truncated) on open unless `append`. */
export class TransferRecorder {
  readonly file: string;
  readonly maxBytes: number;
  readonly #clock: Clock;
  /** What `time` counts from, for a second writer of the same file (TransferRecorderOptions.originMs). */
  readonly originMs: number;
  #fd: number | undefined;
  #bytes = 0;
  #lines = 0;
  #truncated = false;

  constructor(file: string, options: TransferRecorderOptions = {}) {
    const maxBytes = options.maxBytes ?? RECORDING_MAX_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 256) throw new RangeError(`maxBytes must be an integer >= 256, got ${maxBytes}`);
    this.file = file;
    this.maxBytes = maxBytes;
    this.#clock = options.clock ?? new SystemClock();
    this.originMs = options.originMs ?? monotonicMs(this.#clock);
    // A fresh recording each run (truncated here), then written only through O_APPEND, by this
    // writer and any other (a bus thread): each line lands at the end of the file whoever wrote
    // last, never over another's. 0o644: it holds bus traffic, nothing secret.
    if (!options.append) closeSync(openSync(file, 'w', 0o644));
    this.#fd = openSync(file, 'a', 0o644);
    this.#bytes = fstatSync(this.#fd).size;
    if (this.#bytes === 0) {
      const started = new Date(Number(this.#clock.realtimeNs() / 1_000_000n)).toISOString();
      this.#write(JSON.stringify({ recording: RECORDING_FORMAT, version: RECORDING_VERSION, started }));
    }
  }

  /** Transfers written so far (the header and the truncation line not counted). */
  get transfers(): number {
    return this.#lines;
  }
  get truncated(): boolean {
    return this.#truncated;
  }

  record(t: Omit<RecordedTransfer, 'time'>): void {
    if (this.#fd === undefined || this.#truncated) return;
    const time = Math.round((monotonicMs(this.#clock) - this.originMs) * 1000) / 1000;
    const line = JSON.stringify({
      time,
      bus: t.bus,
      address: t.address,
      kind: t.kind,
      written: toHex(t.written),
      ...(t.length === undefined ? {} : { length: t.length }),
      ...(t.read === undefined ? {} : { read: toHex(t.read) }),
      ...(t.error === undefined ? {} : { error: t.error }),
    });
    // Room is kept for the truncation line. The size is the file's, as every writer left it, so
    // the ceiling holds for all of them together (a line another writer adds between this check
    // and this write can still pass it by one line each).
    this.#bytes = fstatSync(this.#fd).size;
    if (this.#bytes + line.length + 1 + 64 > this.maxBytes) {
      this.#truncated = true;
      this.#write(JSON.stringify({ truncated: true, time }));
      return;
    }
    this.#lines++;
    this.#write(line);
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #write(line: string): void {
    const buffer = Buffer.from(line + '\n', 'utf8');
    writeSync(this.#fd!, buffer);
    this.#bytes += buffer.length;
  }
}

/**
 * `bus`, with every transfer written to `recorder` (or to a new recorder on `file`). The
 * transfers and their results are unchanged; closing the bus closes a recorder made here.
 */
export function recordTransfers(bus: I2CBus, target: TransferRecorder | string, options: TransferRecorderOptions = {}): I2CBus {
  const own = typeof target === 'string';
  const recorder = own ? new TransferRecorder(target, options) : target;
  const run = <T>(address: number, kind: TransferKind, written: Uint8Array, length: number | undefined, transfer: () => T): T => {
    const base = { bus: bus.busNumber, address, kind, written: Uint8Array.from(written), ...(length === undefined ? {} : { length }) };
    let result: T;
    try {
      result = transfer();
    } catch (err) {
      if (err instanceof I2CError) recorder.record({ ...base, error: err.code });
      throw err;
    }
    recorder.record(result instanceof Uint8Array ? { ...base, read: Uint8Array.from(result) } : base);
    return result;
  };
  return {
    get busNumber() {
      return bus.busNumber;
    },
    get kind() {
      return bus.kind;
    },
    get transactionCount() {
      return bus.transactionCount;
    },
    write: (address, data) => run(address, 'write', data, undefined, () => bus.write(address, data)),
    read: (address, length) => run(address, 'read', new Uint8Array(0), length, () => bus.read(address, length)),
    readRegister: (address, register, length) => run(address, 'readRegister', Uint8Array.of(register), length, () => bus.readRegister(address, register, length)),
    writeRegister: (address, register, data) => {
      const written = new Uint8Array(data.length + 1);
      written[0] = register;
      written.set(data, 1);
      return run(address, 'writeRegister', written, undefined, () => bus.writeRegister(address, register, data));
    },
    close() {
      bus.close();
      if (own) recorder.close();
    },
  };
}

export class RecordingFormatError extends Error {
  override readonly name = 'RecordingFormatError';
}

/**
 * The transfers of a recording file's text, in order. Throws RecordingFormatError naming the
 * line for anything else: a recording that cannot be trusted is refused whole.
 */
export function parseRecording(text: string, source = 'recording'): RecordedTransfer[] {
  const lines = text.split('\n');
  const out: RecordedTransfer[] = [];
  let header = false;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${source} line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new RecordingFormatError(`${where}: not JSON`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecordingFormatError(`${where}: must be a JSON object`);
    const o = v as Record<string, unknown>;
    if (!header) {
      if (o['recording'] !== RECORDING_FORMAT || o['version'] !== RECORDING_VERSION) {
        throw new RecordingFormatError(`${where}: not a transfer recording (the first line must be {"recording":"${RECORDING_FORMAT}","version":${RECORDING_VERSION},...}: a file written by --record)`);
      }
      header = true;
      return;
    }
    if (o['truncated'] === true) return;
    out.push(transferFrom(o, where));
  });
  if (!header) throw new RecordingFormatError(`${source}: empty (no header line)`);
  return out;
}

function transferFrom(o: Record<string, unknown>, where: string): RecordedTransfer {
  const int = (key: string, min: number, max: number): number => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RecordingFormatError(`${where}: ${key} must be an integer ${min}..${max}`);
    return v;
  };
  const time = o['time'];
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new RecordingFormatError(`${where}: time must be a number of ms >= 0`);
  const kind = o['kind'];
  if (typeof kind !== 'string' || !(TRANSFER_KINDS as readonly string[]).includes(kind)) throw new RecordingFormatError(`${where}: kind must be one of ${TRANSFER_KINDS.join(', ')}`);
  const written = fromHex(o['written'], `${where}: written`);
  const reads = kind === 'read' || kind === 'readRegister';
  const t: RecordedTransfer = { time, bus: int('bus', 0, 255), address: int('address', 0, 0x7f), kind: kind as TransferKind, written };
  if (reads) t.length = int('length', 0, 65535);
  const error = o['error'];
  if (error !== undefined) {
    if (typeof error !== 'string' || !Object.hasOwn(I2C_ERROR_CODES, error)) throw new RecordingFormatError(`${where}: error must be an I2C error code (${Object.keys(I2C_ERROR_CODES).join(', ')})`);
    t.error = error as I2CErrorCode;
  } else if (reads) {
    t.read = fromHex(o['read'], `${where}: read`);
    if (t.read.length !== t.length) throw new RecordingFormatError(`${where}: read has ${t.read.length} bytes, length says ${t.length}`);
  }
  return t;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function fromHex(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || !/^(?:[0-9a-f]{2})*$/i.test(v)) throw new RecordingFormatError(`${what} must be hex bytes such as "01a0"`);
  return Uint8Array.from(Buffer.from(v, 'hex'));
}
