/**
 * The serving end of a bus channel (gateway/host/worker/bus-channel.ts): runs each request on
 * the bus it owns and writes back the bytes or the error. It waits with Atomics.waitAsync, so
 * the thread it runs on keeps its event loop: the main thread keeps answering CoAP while it
 * serves the simulated bus, a bus thread keeps taking new channels while it serves a Linux
 * adapter. The transfer itself is synchronous (I2CBus is): on the main thread only buses that
 * never block (the simulation) are served; a Linux adapter is served on its own bus thread
 * (gateway/host/worker/bus-thread.ts).
 *
 * Several servers may share one bus: they take turns on the thread's event loop, so one
 * transfer runs at a time, as on the wire.
 */
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import { CHANNEL_DATA_BYTES, type ChannelDescriptor, ChannelView, Op, Slot } from './bus-channel.ts';

/** Atomics.waitAsync (ES2024; in Node since 16), typed here because the project's lib is ES2022. */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}).waitAsync;

export class BusServer {
  readonly #view: ChannelView;
  readonly #bus: I2CBus;
  readonly #onServed: (() => void) | undefined;
  #closed = false;

  /** Starts serving at once. `onServed` runs after every transaction (a bus thread publishes its count). */
  constructor(channel: ChannelDescriptor, bus: I2CBus, options: { onServed?: () => void } = {}) {
    this.#view = new ChannelView(channel);
    this.#bus = bus;
    this.#onServed = options.onServed;
    void this.#loop();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops serving; a client blocked on this channel wakes up and fails. The bus stays open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#view.set(Slot.CLOSED, 1);
    Atomics.notify(this.#view.slots, Slot.REQ_SEQ); // ends the pending waitAsync
    Atomics.notify(this.#view.slots, Slot.RESP_SEQ); // wakes a blocked client
  }

  async #loop(): Promise<void> {
    const v = this.#view;
    let seen = v.get(Slot.RESP_SEQ);
    while (!this.#closed) {
      // A pending waitAsync holds no reference on the event loop: an idle server never keeps
      // a process alive.
      const waiting = waitAsync(v.slots, Slot.REQ_SEQ, seen);
      if (waiting.async) await waiting.value;
      if (this.#closed) return;
      const seq = v.get(Slot.REQ_SEQ);
      if (seq === seen) continue;
      seen = seq;
      this.#serve();
      v.set(Slot.SERVED, v.get(Slot.SERVED) + 1);
      v.set(Slot.RESP_SEQ, seq);
      Atomics.notify(v.slots, Slot.RESP_SEQ);
      this.#onServed?.();
    }
  }

  #serve(): void {
    const v = this.#view;
    const op = v.get(Slot.OP);
    const address = v.get(Slot.ADDRESS);
    const register = v.get(Slot.REGISTER);
    const length = Math.min(Math.max(v.get(Slot.LENGTH), 0), CHANNEL_DATA_BYTES);
    try {
      let reply: Uint8Array | undefined;
      switch (op) {
        case Op.WRITE:
          this.#bus.write(address, v.data.slice(0, length));
          break;
        case Op.READ:
          reply = this.#bus.read(address, length);
          break;
        case Op.READ_REGISTER:
          reply = this.#bus.readRegister(address, register, length);
          break;
        case Op.WRITE_REGISTER:
          this.#bus.writeRegister(address, register, v.data.slice(0, length));
          break;
        default:
          throw new RangeError(`unknown bus channel operation ${op}`);
      }
      if (reply && reply.length > CHANNEL_DATA_BYTES) throw new RangeError(`bus returned ${reply.length} bytes, the channel carries ${CHANNEL_DATA_BYTES}`);
      if (reply) v.data.set(reply, 0);
      v.set(Slot.LENGTH, reply?.length ?? 0);
      v.set(Slot.RESULT, 0);
    } catch (err) {
      v.writeError(err);
    }
  }
}

/** Something that hands out served channels to one bus: a bus thread, or this thread's own bus. */
export interface BusEndpoint {
  openChannel(): OpenedChannel;
}

export interface OpenedChannel {
  readonly descriptor: ChannelDescriptor;
  /** Stops serving it (its client fails from then on). */
  close(): void;
}

/**
 * Serves a bus that never blocks (the simulated bus) on the calling thread. One simulated
 * device stays one device whichever thread's module reads it: the chip lives here, tests
 * drive it here, and every worker's transfers arrive here.
 */
export function serveOnThisThread(bus: I2CBus, channel: ChannelDescriptor): OpenedChannel {
  const server = new BusServer(channel, bus);
  return { descriptor: channel, close: () => server.close() };
}
