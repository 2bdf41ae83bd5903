/**
 * Entry of a bus thread (gateway/host/worker/bus-thread.ts): the one thread that loads the
 * native i2c-bus addon and opens /dev/i2c-N. The addon is not context-aware: it loads in one
 * thread of a process only, so nothing on the main thread may import drivers/linux-i2c-bus.ts
 * when bus threads are used. Every transfer, with its blocking ioctl (up to the adapter's
 * timeout), runs here and never on the CoAP event loop.
 *
 * Messages in:  { type: 'attach', id, channel }  serve a new channel (a module's worker)
 *               { type: 'detach', id }           stop serving it
 * Messages out: { type: 'ready' } | { type: 'failed', message }
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import type { ChannelDescriptor } from './bus-channel.ts';
import { BusServer } from './bus-server.ts';

interface BusWorkerData {
  busNumber: number;
  forceAccess: boolean;
  /** Int32 cell: the bus's transactionCount, published after every transfer. */
  counter: SharedArrayBuffer;
  /** `--record`: append every transfer to this file; the main thread created it with its header. */
  record?: { file: string; maxBytes?: number; originMs?: number };
}

const data = workerData as BusWorkerData;
const port = parentPort!;
const counter = new Int32Array(data.counter, 0, 1);
const servers = new Map<number, BusServer>();

/** Stands in for a bus that could not be opened: every transfer says why. */
function failedBus(busNumber: number, reason: string): I2CBus {
  const fail = (): never => {
    throw new Error(`bus thread for /dev/i2c-${busNumber} has no bus: ${reason}`);
  };
  return { busNumber, kind: 'linux', transactionCount: 0, write: fail, read: fail, readRegister: fail, writeRegister: fail, close() {} };
}

let bus: I2CBus;
try {
  const { LinuxI2CBus } = await import('../../../drivers/linux-i2c-bus.ts');
  const linux = new LinuxI2CBus(data.busNumber, { forceAccess: data.forceAccess });
  if (data.record) {
    const { TransferRecorder, recordTransfers } = await import('../../../drivers/recording-bus.ts');
    bus = recordTransfers(linux, new TransferRecorder(data.record.file, { append: true, ...(data.record.maxBytes === undefined ? {} : { maxBytes: data.record.maxBytes }), ...(data.record.originMs === undefined ? {} : { originMs: data.record.originMs }) }));
  } else {
    bus = linux;
  }
  port.postMessage({ type: 'ready' });
} catch (err) {
  const reason = err instanceof Error ? err.message : String(err);
  bus = failedBus(data.busNumber, reason);
  port.postMessage({ type: 'failed', message: reason });
}

port.on('message', (msg: { type: 'attach'; id: number; channel: ChannelDescriptor } | { type: 'detach'; id: number }) => {
  if (msg.type === 'attach') {
    servers.set(msg.id, new BusServer(msg.channel, bus, { onServed: () => Atomics.store(counter, 0, bus.transactionCount) }));
  } else if (msg.type === 'detach') {
    servers.get(msg.id)?.close();
    servers.delete(msg.id);
  }
});
