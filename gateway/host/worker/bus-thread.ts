/**
 * A Linux I2C adapter served from its own thread (gateway/host/worker/bus-worker.ts), for the
 * main thread. A transfer on real hardware blocks in an ioctl for up to the adapter's timeout;
 * on the bus thread that delays only the modules waiting for that bus, never CoAP traffic.
 * Modules in workers get their own channel to it (`openChannel`, used by WorkerModule).
 *
 * It is also an I2CBus for the main thread, so it can stand wherever a LinuxI2CBus stood: the
 * service's `hardware.buses`, `transactionCount` for the statistics (counted by the bus on the
 * bus thread and published through shared memory), and the synchronous transfers, which block
 * the calling thread until the bus thread answers: for command-line tools and in-thread
 * modules, not for the gateway's event loop.
 */
import type { Worker } from 'node:worker_threads';
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import { BusChannelClient, type ChannelDescriptor, ChannelView, Slot, createChannel } from './bus-channel.ts';
import type { BusEndpoint, OpenedChannel } from './bus-server.ts';
import { spawnWorker } from './spawn.ts';

export interface BusThreadOptions {
  /** I2C_SLAVE_FORCE (see LinuxI2CBusOptions.forceAccess). */
  forceAccess?: boolean;
  /** `--record`: the bus thread appends every transfer to this file (drivers/recording-bus.ts). */
  record?: { file: string; maxBytes?: number; originMs?: number };
}

export class BusThread implements I2CBus, BusEndpoint {
  readonly kind = 'linux' as const;
  readonly busNumber: number;
  /** Settles when the bus thread has loaded the driver: rejects with why it could not. */
  readonly ready: Promise<void>;
  readonly #worker: Worker;
  readonly #counter: Int32Array;
  readonly #channels = new Map<number, ChannelDescriptor>();
  #nextId = 1;
  #own: BusChannelClient | undefined;
  #closed = false;

  constructor(busNumber: number, options: BusThreadOptions = {}) {
    if (!Number.isInteger(busNumber) || busNumber < 0) throw new RangeError(`bus number must be a non-negative integer, got ${busNumber}`);
    this.busNumber = busNumber;
    const counter = new SharedArrayBuffer(4);
    this.#counter = new Int32Array(counter);
    this.#worker = spawnWorker(new URL('./bus-worker.ts', import.meta.url), { busNumber, forceAccess: options.forceAccess ?? false, counter, ...(options.record ? { record: options.record } : {}) }, { name: `i2c-${busNumber}` });
    this.ready = new Promise<void>((resolve, reject) => {
      this.#worker.once('message', (msg: { type: string; message?: string }) => {
        if (msg.type === 'ready') resolve();
        else reject(new Error(`bus thread for /dev/i2c-${busNumber}: ${msg.message}`));
      });
      this.#worker.once('error', reject);
    });
    // Once started, an idle bus thread never keeps the process alive; pending module calls do
    // (their deadline timers). Until then it does, so that awaiting `ready` is enough.
    const idle = () => this.#worker.unref();
    this.ready.then(idle, idle);
  }

  get transactionCount(): number {
    return Atomics.load(this.#counter, 0);
  }

  /** A new channel served on the bus thread, for one module worker. */
  openChannel(): OpenedChannel {
    if (this.#closed) throw new Error(`bus thread for /dev/i2c-${this.busNumber} is closed`);
    const id = this.#nextId++;
    const descriptor = createChannel(this);
    this.#channels.set(id, descriptor);
    this.#worker.postMessage({ type: 'attach', id, channel: descriptor });
    return {
      descriptor,
      close: () => {
        if (!this.#channels.delete(id) || this.#closed) return;
        this.#worker.postMessage({ type: 'detach', id });
      },
    };
  }

  write(address: number, data: Uint8Array): void {
    this.#client().write(address, data);
  }
  read(address: number, length: number): Uint8Array {
    return this.#client().read(address, length);
  }
  readRegister(address: number, register: number, length: number): Uint8Array {
    return this.#client().readRegister(address, register, length);
  }
  writeRegister(address: number, register: number, data: Uint8Array): void {
    this.#client().writeRegister(address, register, data);
  }

  /** Stops the bus thread (closing the adapter with it). Channels still open fail from now on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The servers die with the thread: mark their channels closed so blocked clients fail.
    for (const descriptor of this.#channels.values()) {
      const view = new ChannelView(descriptor);
      view.set(Slot.CLOSED, 1);
      Atomics.notify(view.slots, Slot.RESP_SEQ);
    }
    this.#channels.clear();
    void this.#worker.terminate();
  }

  #client(): BusChannelClient {
    if (this.#closed) throw new Error(`bus thread for /dev/i2c-${this.busNumber} is closed`);
    this.#own ??= new BusChannelClient(this.openChannel().descriptor);
    return this.#own;
  }
}
