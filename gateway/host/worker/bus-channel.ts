/**
 * The synchronous bus channel: how a module's worker makes an I2C transfer on a bus another
 * thread owns. Host imports must answer synchronously (Node 20 has no JS Promise
 * Integration), so the worker blocks in Atomics.wait while the bus owner serves the request
 * (gateway/host/worker/bus-server.ts) without ever blocking its own event loop. The same
 * shape as the Extism JS SDK's host calls from a worker. docs/threading.md draws it.
 *
 * One channel = one SharedArrayBuffer = one client at a time (a module's worker; the client
 * of a BusThread's own synchronous methods). Layout:
 *
 *   Int32 slots (offset 0, 16 slots)        bytes 64..319: data   bytes 320..831: text
 *   0 REQ_SEQ   client bumps after writing a request, then notifies
 *   1 RESP_SEQ  server sets to the REQ_SEQ it answered, then notifies
 *   2 OP        1 write, 2 read, 3 readRegister, 4 writeRegister
 *   3 ADDRESS   4 REGISTER   5 LENGTH (request: bytes to read or to write; reply: bytes read)
 *   6 RESULT    0 ok; k > 0: I2C error code number k (I2C_CODE_LIST); -1: another error
 *   7 ERRNO_LEN 8 TEXT_LEN   lengths of the errno name and the message in the text area
 *   9 CLOSED    1 once the server stopped: a waiting client wakes up and fails
 *  10 SERVED    transactions the server ran for this channel (the module's count)
 *
 * A client that is terminated mid-request (its worker ran past the deadline) leaves at most
 * one request behind; the server finishes it (a transfer is never cut in half) and the reply
 * is never read. Channels are not reused after that: a fresh worker gets a fresh channel.
 */
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import { I2C_ERROR_CODES, I2CError, type I2CErrorCode } from '../../../drivers/i2c-error.ts';

export const Slot = {
  REQ_SEQ: 0,
  RESP_SEQ: 1,
  OP: 2,
  ADDRESS: 3,
  REGISTER: 4,
  LENGTH: 5,
  RESULT: 6,
  ERRNO_LEN: 7,
  TEXT_LEN: 8,
  CLOSED: 9,
  SERVED: 10,
} as const;

export const Op = { WRITE: 1, READ: 2, READ_REGISTER: 3, WRITE_REGISTER: 4 } as const;
export type OpValue = (typeof Op)[keyof typeof Op];

const HEADER_BYTES = 64;
/** Largest transfer the channel carries (the host allows 32, MAX_I2C_TRANSFER; room to spare). */
export const CHANNEL_DATA_BYTES = 256;
const TEXT_BYTES = 512;
const DATA_OFFSET = HEADER_BYTES;
const TEXT_OFFSET = HEADER_BYTES + CHANNEL_DATA_BYTES;
const CHANNEL_BYTES = TEXT_OFFSET + TEXT_BYTES;

/** How often a blocked client looks whether its server went away. */
const CLOSED_POLL_MS = 250;

/** Error code numbers on the wire: index + 1 in this list. */
const I2C_CODE_LIST = Object.keys(I2C_ERROR_CODES) as I2CErrorCode[];

/** What a thread needs to use a channel: structured-cloneable, the buffer is shared. */
export interface ChannelDescriptor {
  readonly buffer: SharedArrayBuffer;
  readonly busNumber: number;
  readonly kind: I2CBus['kind'];
}

export function createChannel(bus: Pick<I2CBus, 'busNumber' | 'kind'>): ChannelDescriptor {
  return { buffer: new SharedArrayBuffer(CHANNEL_BYTES), busNumber: bus.busNumber, kind: bus.kind };
}

/** Transactions served on a channel so far (readable from any thread). */
export function servedCount(channel: ChannelDescriptor): number {
  return Atomics.load(new Int32Array(channel.buffer, 0, 16), Slot.SERVED);
}

/** Views over a channel's buffer, shared by client and server. */
export class ChannelView {
  readonly slots: Int32Array;
  readonly data: Uint8Array;
  readonly text: Uint8Array;

  constructor(channel: ChannelDescriptor) {
    if (channel.buffer.byteLength !== CHANNEL_BYTES) throw new RangeError(`a bus channel is ${CHANNEL_BYTES} bytes, got ${channel.buffer.byteLength}`);
    this.slots = new Int32Array(channel.buffer, 0, 16);
    this.data = new Uint8Array(channel.buffer, DATA_OFFSET, CHANNEL_DATA_BYTES);
    this.text = new Uint8Array(channel.buffer, TEXT_OFFSET, TEXT_BYTES);
  }

  get(slot: number): number {
    return Atomics.load(this.slots, slot);
  }
  set(slot: number, value: number): void {
    Atomics.store(this.slots, slot, value);
  }

  /** Writes the outcome of a failed transfer (server side). */
  writeError(err: unknown): void {
    let errno = '';
    let message: string;
    if (err instanceof I2CError) {
      this.set(Slot.RESULT, I2C_CODE_LIST.indexOf(err.code) + 1);
      errno = err.errno ?? '';
      message = err.message;
    } else {
      this.set(Slot.RESULT, -1);
      message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const encoder = new TextEncoder();
    const errnoBytes = encoder.encode(errno).subarray(0, 32);
    // Text encoding into a shared buffer goes through a private copy (TextEncoder.encodeInto
    // and TextDecoder refuse shared views in some engines).
    const messageBytes = encoder.encode(message).subarray(0, TEXT_BYTES - errnoBytes.length);
    this.text.set(errnoBytes, 0);
    this.text.set(messageBytes, errnoBytes.length);
    this.set(Slot.ERRNO_LEN, errnoBytes.length);
    this.set(Slot.TEXT_LEN, messageBytes.length);
  }

  /** Rebuilds the error the server saw (client side): an I2CError with its code, errno and message. */
  readError(busNumber: number, address: number): Error {
    const result = this.get(Slot.RESULT);
    const errnoLen = this.get(Slot.ERRNO_LEN);
    const textLen = this.get(Slot.TEXT_LEN);
    const decoder = new TextDecoder();
    const errno = decoder.decode(this.text.slice(0, errnoLen));
    const message = decoder.decode(this.text.slice(errnoLen, errnoLen + textLen));
    const code = I2C_CODE_LIST[result - 1];
    if (!code) return new Error(message);
    const err = new I2CError(code, busNumber, address, errno ? { errno } : {});
    err.message = message; // the driver's message, word for word (it has the errno and the detail)
    return err;
  }
}

/**
 * The client end: an I2CBus whose transfers happen on the thread serving the channel. Every
 * call blocks the calling thread until the reply arrives (Atomics.wait: allowed in workers,
 * and on Node's main thread, where only tools should use it).
 */
export class BusChannelClient implements I2CBus {
  readonly busNumber: number;
  readonly kind: I2CBus['kind'];
  readonly #view: ChannelView;
  #transactions = 0;

  constructor(channel: ChannelDescriptor) {
    this.busNumber = channel.busNumber;
    this.kind = channel.kind;
    this.#view = new ChannelView(channel);
  }

  /** Transfers this client asked for (the bus's own count lives with the bus). */
  get transactionCount(): number {
    return this.#transactions;
  }

  write(address: number, data: Uint8Array): void {
    this.#call(Op.WRITE, address, 0, data, data.length);
  }
  read(address: number, length: number): Uint8Array {
    return this.#call(Op.READ, address, 0, undefined, length);
  }
  readRegister(address: number, register: number, length: number): Uint8Array {
    return this.#call(Op.READ_REGISTER, address, register, undefined, length);
  }
  writeRegister(address: number, register: number, data: Uint8Array): void {
    this.#call(Op.WRITE_REGISTER, address, register, data, data.length);
  }

  /** The bus belongs to its owner; closing a client only stops using it. */
  close(): void {}

  #call(op: OpValue, address: number, register: number, data: Uint8Array | undefined, length: number): Uint8Array {
    const v = this.#view;
    if (v.get(Slot.CLOSED)) throw new Error(`bus ${this.busNumber} channel is closed`);
    if (!Number.isInteger(length) || length < 0 || length > CHANNEL_DATA_BYTES) {
      throw new RangeError(`a bus channel carries 0..${CHANNEL_DATA_BYTES} bytes, asked for ${length}`);
    }
    this.#transactions++;
    v.set(Slot.OP, op);
    v.set(Slot.ADDRESS, address);
    v.set(Slot.REGISTER, register);
    v.set(Slot.LENGTH, length);
    if (data) v.data.set(data, 0);
    const answered = v.get(Slot.RESP_SEQ);
    const seq = (v.get(Slot.REQ_SEQ) + 1) | 0;
    // The Atomics.store of REQ_SEQ publishes every field written above (sequentially consistent).
    v.set(Slot.REQ_SEQ, seq);
    Atomics.notify(v.slots, Slot.REQ_SEQ);
    while (v.get(Slot.RESP_SEQ) !== seq) {
      if (v.get(Slot.CLOSED)) throw new Error(`bus ${this.busNumber} channel closed during a transfer`);
      // Bounded waits: a server that closes between the CLOSED check and the wait is seen
      // within one period instead of never.
      Atomics.wait(v.slots, Slot.RESP_SEQ, answered, CLOSED_POLL_MS);
    }
    if (v.get(Slot.RESULT) !== 0) throw v.readError(this.busNumber, address);
    return v.data.slice(0, v.get(Slot.LENGTH));
  }
}
