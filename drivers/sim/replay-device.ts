/**
 * `"device": "replay"`: answers a module's transfers from a recording made with --record
 * (drivers/recording-bus.ts), so a module can be tested against what a real chip said.
 *
 * Matching: the device takes the recorded transfers of its bus and address, in order. Each
 * transfer the module makes must match the next one: the same wire shape (a write: `write` or
 * `writeRegister`; a read; a write then read: `readRegister`), the same bytes written and, for a
 * read, the same length. A match is answered as recorded: the bytes read, or the recorded error
 * (a NACK recorded is a NACK replayed). Time is not replayed: answers come as fast as asked.
 *
 * Deviation (the module asked something else): the transfer is refused with GW_ERR_I2C_NACK,
 * whose detail names the entry expected and the transfer made (the gateway logs the module's
 * failure with it; `onDeviation` hears it too), and the device is out of step. While out of
 * step, each transfer is looked for from the expected entry onwards (and from the start when
 * looping); the first match puts the device back in step and is answered, so a module that
 * retries its set-up after the NACK (the TMP102 module does) finds its place again. A transfer
 * found nowhere is NACKed again.
 *
 * At the end of the recording: `atEnd: "hold"` (the default) answers each transfer with the
 * last recorded answer to the same request, so a module that keeps polling keeps reading the
 * last value; `"loop"` starts again from the first entry that matches.
 */
import type { Clock } from '../clock.ts';
import type { RecordedTransfer } from '../recording-bus.ts';
import { toHex } from '../recording-bus.ts';
import { SimI2CFault, type SimI2CDevice } from './sim-i2c-bus.ts';
import { FaultControlledDevice } from './fault-controlled-device.ts';
import { DeviceFaults, type FaultOnlyDevice } from './simulated-device.ts';

export type ReplayAtEnd = 'hold' | 'loop';

/** A transfer as the device sees it: what crossed the wire. */
export interface WireTransfer {
  shape: 'write' | 'read' | 'write-read';
  written: Uint8Array;
  length?: number;
}

export interface ReplayDeviation {
  /** Index (among this device's entries) of the entry expected, or undefined past the end. */
  expectedIndex: number | undefined;
  expected: string | undefined;
  got: string;
}

export interface ReplayDeviceOptions {
  clock: Clock;
  /** The recording's transfers for this device's bus and address, in order (at least one). */
  transfers: readonly RecordedTransfer[];
  atEnd?: ReplayAtEnd;
  /** Where the recording came from, for descriptions and details. */
  source?: string;
  onDeviation?: (d: ReplayDeviation) => void;
}

export class ReplayDevice extends FaultControlledDevice implements SimI2CDevice, FaultOnlyDevice {
  readonly kind = 'replay' as const;
  readonly description: string;
  readonly #entries: readonly RecordedTransfer[];
  readonly #atEnd: ReplayAtEnd;
  readonly #onDeviation: ((d: ReplayDeviation) => void) | undefined;
  readonly #faults: DeviceFaults;
  #cursor = 0;
  #inStep = true;
  #deviations = 0;
  #lastAnswer: Uint8Array | undefined;

  constructor(options: ReplayDeviceOptions) {
    super();
    if (options.transfers.length === 0) throw new RangeError('a replay needs at least one recorded transfer');
    const atEnd = options.atEnd ?? 'hold';
    if (atEnd !== 'hold' && atEnd !== 'loop') throw new RangeError(`atEnd must be 'hold' or 'loop', got ${String(atEnd)}`);
    this.#entries = options.transfers.map((t) => ({ ...t }));
    this.#atEnd = atEnd;
    this.#onDeviation = options.onDeviation;
    this.#faults = new DeviceFaults(options.clock, 'replay', () => this.#rewind());
    this.description = `replay of ${this.#entries.length} recorded transfers${options.source ? ` from ${options.source}` : ''} (then ${atEnd})`;
  }

  /** Index of the next entry expected (equal to the number of entries once played through). */
  get position(): number {
    return this.#cursor;
  }
  get deviations(): number {
    return this.#deviations;
  }
  get inStep(): boolean {
    return this.#inStep;
  }

  // Faults and scripts (FaultOnlyDevice): FaultControlledDevice hands them to DeviceFaults; a reset starts the recording again.
  protected override get faults(): DeviceFaults {
    return this.#faults;
  }

  // ---- SimI2CDevice ----

  onWrite(bytes: Uint8Array): void {
    this.#answer({ shape: 'write', written: bytes });
  }

  onRead(length: number): Uint8Array {
    return this.#answer({ shape: 'read', written: new Uint8Array(0), length })!;
  }

  onWriteRead(bytes: Uint8Array, length: number): Uint8Array {
    return this.#answer({ shape: 'write-read', written: bytes, length })!;
  }

  // ---- internals ----

  #answer(t: WireTransfer): Uint8Array | undefined {
    // 'stuck': the last answer again, whatever was asked (a read of another length gets 0xFF past it).
    if (this.#faults.admit()) return t.length === undefined ? undefined : fit(this.#lastAnswer, t.length);
    const index = this.#find(t);
    if (index === undefined) return this.#deviate(t);
    this.#inStep = true;
    this.#cursor = Math.min(index + 1, this.#entries.length);
    return this.#replay(this.#entries[index]!);
  }

  #find(t: WireTransfer): number | undefined {
    const n = this.#entries.length;
    if (this.#cursor < n) {
      if (matches(this.#entries[this.#cursor]!, t)) return this.#cursor;
      if (this.#inStep) return undefined; // the first transfer off the recording is refused
      const later = this.#search(t, this.#cursor + 1, n);
      if (later !== undefined || this.#atEnd !== 'loop') return later;
      return this.#search(t, 0, this.#cursor);
    }
    // Played through.
    if (this.#atEnd === 'loop') return this.#search(t, 0, n);
    for (let i = n - 1; i >= 0; i--) if (matches(this.#entries[i]!, t)) return i;
    return undefined;
  }

  #search(t: WireTransfer, from: number, to: number): number | undefined {
    for (let i = from; i < to; i++) if (matches(this.#entries[i]!, t)) return i;
    return undefined;
  }

  #replay(entry: RecordedTransfer): Uint8Array | undefined {
    if (entry.error !== undefined) throw new SimI2CFault(entry.error, `replayed: the recording has ${entry.error} here`);
    if (entry.read === undefined) return undefined;
    this.#lastAnswer = entry.read;
    return Uint8Array.from(entry.read);
  }

  #deviate(t: WireTransfer): never {
    const expectedIndex = this.#cursor < this.#entries.length ? this.#cursor : undefined;
    const expected = expectedIndex === undefined ? undefined : describeRecorded(this.#entries[expectedIndex]!);
    const got = describeWire(t);
    this.#inStep = false;
    this.#deviations++;
    try {
      this.#onDeviation?.({ expectedIndex, expected, got });
    } catch {
      // A listener's failure is its own; the module still gets its NACK.
    }
    const detail = expected === undefined ? `replay: ${got} was never recorded` : `replay deviation at recorded transfer ${expectedIndex! + 1}: expected ${expected}, got ${got}`;
    throw new SimI2CFault('GW_ERR_I2C_NACK', detail);
  }

  #rewind(): void {
    this.#cursor = 0;
    this.#inStep = true;
  }
}

function shapeOf(kind: RecordedTransfer['kind']): WireTransfer['shape'] {
  return kind === 'read' ? 'read' : kind === 'readRegister' ? 'write-read' : 'write';
}

function matches(entry: RecordedTransfer, t: WireTransfer): boolean {
  if (shapeOf(entry.kind) !== t.shape) return false;
  if (t.length !== undefined && entry.length !== t.length) return false;
  if (entry.written.length !== t.written.length) return false;
  return entry.written.every((b, i) => b === t.written[i]);
}

function describeRecorded(e: RecordedTransfer): string {
  return describeWire({ shape: shapeOf(e.kind), written: e.written, ...(e.length === undefined ? {} : { length: e.length }) });
}

function describeWire(t: WireTransfer): string {
  const w = `[${toHex(t.written)}]`;
  if (t.shape === 'write') return `write ${w}`;
  if (t.shape === 'read') return `read of ${t.length} bytes`;
  return `write ${w} then read of ${t.length} bytes`;
}

function fit(bytes: Uint8Array | undefined, length: number): Uint8Array {
  const out = new Uint8Array(length).fill(0xff);
  if (bytes) out.set(bytes.subarray(0, length));
  return out;
}
