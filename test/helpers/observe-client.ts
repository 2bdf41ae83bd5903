/**
 * An RFC 7641 client over a raw UDP socket for tests on a ManualClock: registers, moves the
 * gateway's time in small steps while collecting what arrives (each datagram stamped with the
 * clock time it was seen at), and answers confirmable notifications with an Empty ACK unless
 * told not to, so a test can play a client that went away.
 */
import type { ManualClock } from '../../drivers/clock.ts';
import { RawClient, type Response, emptyMessage, observeRequest, toResponse } from './coap-datagram.ts';

export interface Seen extends Response {
  /** The ManualClock's monotonic time (ms) when the datagram was taken from the socket. */
  atMs: number;
}

export function nowMs(clock: ManualClock): number {
  return Number(clock.monotonicNs()) / 1e6;
}

/** Lets promise continuations and socket I/O run between clock steps. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ObserveClient {
  readonly raw: RawClient;
  /** Answer CON notifications with an Empty ACK (default true). */
  autoAck = true;
  readonly seen: Seen[] = [];

  private constructor(raw: RawClient) {
    this.raw = raw;
  }

  static async open(port: number, host = '127.0.0.1'): Promise<ObserveClient> {
    return new ObserveClient(await RawClient.open(host, port));
  }

  /** Sends a registration (or any Observe request) and waits for its response. */
  async request(path: string, o: Parameters<typeof observeRequest>[1]): Promise<Response> {
    const res = await this.raw.exchange(observeRequest(path, o), 2000);
    if (!res) throw new Error(`no response to ${path}`);
    return res;
  }

  /** Takes what has arrived, stamping it with the clock's time and ACKing CONs if autoAck. */
  collect(clock: ManualClock): Seen[] {
    const out: Seen[] = [];
    for (const raw of this.raw.takeAll()) {
      const r = { ...toResponse(raw), atMs: nowMs(clock) };
      if (this.autoAck && r.packet.confirmable) this.raw.send(emptyMessage('ack', r.packet.messageId));
      out.push(r);
    }
    this.seen.push(...out);
    return out;
  }

  /** Advances the clock by `ms` in `stepMs` steps, collecting after each. Returns what arrived. */
  async advance(clock: ManualClock, ms: number, stepMs = 10): Promise<Seen[]> {
    const out: Seen[] = [];
    for (let t = 0; t < ms; t += stepMs) {
      clock.advanceMs(Math.min(stepMs, ms - t));
      await turn();
      await turn();
      out.push(...this.collect(clock));
    }
    return out;
  }

  /** Waits a little real time (datagrams in flight) and collects. */
  async settle(clock: ManualClock, realMs = 30): Promise<Seen[]> {
    await new Promise((resolve) => setTimeout(resolve, realMs));
    return this.collect(clock);
  }

  close(): Promise<void> {
    return this.raw.close();
  }
}
