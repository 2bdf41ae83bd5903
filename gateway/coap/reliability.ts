/**
 * The gateway's side of the message layer for what it sends (RFC 7252 sections 4.2-4.4): its
 * Message IDs, the confirmable messages awaiting an ACK, the matching of every Empty ACK and
 * RST that arrives, and which client addresses have proven they receive what is sent to them.
 *
 * - An Empty ACK or RST is matched by endpoint and Message ID against what this gateway sent
 *   (a CON notification, a separate response, and the last few NON notifications, whose RST
 *   ends an observation); an unmatched one is ignored. Neither is ever answered (sections 4.2,
 *   4.3): a reply to a RST would let a spoofed source aim the gateway at a victim.
 * - An address is *verified* once an ACK from it matches a confirmable message of ours: only a
 *   host that receives our datagrams can do that (return routability, the same proof RFC 9175
 *   section 2.4's Echo gives). Until then a confirmable message to it is sent once and not
 *   retransmitted, and responses to it keep within the amplification budget (server.ts).
 *   Verified addresses are remembered for VERIFIED_TTL_MS, at most MAX_VERIFIED of them.
 *   Loopback addresses count as verified unless `trustLoopback` is off: the kernel drops a
 *   datagram from the network that claims a loopback source (a "martian"), so only a process
 *   on this machine can send from one, and it needs no amplifier.
 */
import { randomInt } from 'node:crypto';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { MessageType } from './coap-wire.ts';
import { type ObserveTiming, initialTimeoutMs } from './observe-timing.ts';

export interface Peer {
  address: string;
  port: number;
}

/** Something of ours the peer may ACK or RST: an observation's notifications, a separate response. */
export interface AwaitsReply {
  acknowledged(messageId: number): void;
  rejected(messageId: number): void;
}

/** How long an address stays verified after its last matching ACK. */
export const VERIFIED_TTL_MS = 60 * 60 * 1000;
/** Verified addresses remembered, least recently verified forgotten first. */
export const MAX_VERIFIED = 4096;

export class Reliability {
  readonly #clock: Clock;
  readonly #timing: ObserveTiming;
  readonly #random: () => number;
  readonly #send: (datagram: Buffer, peer: Peer) => void;
  readonly #routes = new Map<string, AwaitsReply>();
  /** address -> monotonic ms of its last matching ACK, least recent first. */
  readonly #verified = new Map<string, number>();
  readonly #cancels = new Set<() => void>();
  readonly #trustLoopback: boolean;
  #nextMid = randomInt(0x10000);
  #closed = false;

  constructor(o: { clock: Clock; timing: ObserveTiming; random: () => number; send: (datagram: Buffer, peer: Peer) => void; trustLoopback: boolean }) {
    this.#trustLoopback = o.trustLoopback;
    this.#clock = o.clock;
    this.#timing = o.timing;
    this.#random = o.random;
    this.#send = o.send;
  }

  get timing(): ObserveTiming {
    return this.#timing;
  }

  random(): number {
    return this.#random();
  }

  /** A Message ID for a new message of ours to this peer, skipping IDs still awaiting its reply. */
  newMessageId(peer: Peer): number {
    for (let i = 0; i < 0x10000; i++) {
      this.#nextMid = (this.#nextMid + 1) & 0xffff;
      if (!this.#routes.has(routeKey(peer, this.#nextMid))) return this.#nextMid;
    }
    return this.#nextMid;
  }

  track(peer: Peer, messageId: number, owner: AwaitsReply): void {
    this.#routes.set(routeKey(peer, messageId), owner);
  }

  untrack(peer: Peer, messageId: number): void {
    this.#routes.delete(routeKey(peer, messageId));
  }

  /** An Empty ACK or RST arrived: hands it to what it answers. Never answered, whatever it is. */
  match(type: number, peer: Peer, messageId: number): boolean {
    const owner = this.#routes.get(routeKey(peer, messageId));
    if (owner === undefined) return false;
    if (type === MessageType.ACK) {
      this.#markVerified(peer.address);
      owner.acknowledged(messageId);
    } else owner.rejected(messageId);
    return true;
  }

  isVerified(address: string): boolean {
    if (this.#trustLoopback && isLoopback(address)) return true;
    const at = this.#verified.get(address);
    if (at === undefined) return false;
    if (monotonicMs(this.#clock) - at < VERIFIED_TTL_MS) return true;
    this.#verified.delete(address);
    return false;
  }

  /** Retransmissions a confirmable message to this address gets: none until the address is verified. */
  maxRetransmit(address: string): number {
    return this.isVerified(address) ? this.#timing.maxRetransmit : 0;
  }

  /**
   * Sends a confirmable message (a separate response, RFC 7252 section 5.2.2) and retransmits it
   * with exponential back-off (section 4.2) until it is acknowledged or rejected, or gives up.
   */
  sendConfirmable(peer: Peer, build: (messageId: number) => Buffer): void {
    if (this.#closed) return;
    const mid = this.newMessageId(peer);
    const datagram = build(mid);
    const retransmissions = this.maxRetransmit(peer.address);
    let attempt = 0;
    let timeoutMs = initialTimeoutMs(this.#timing, this.#random());
    let cancel = (): void => {};
    const finish = (): void => {
      cancel();
      this.#cancels.delete(cancelOuter);
      this.untrack(peer, mid);
    };
    const cancelOuter = (): void => cancel();
    const arm = (): void => {
      cancel = this.#clock.schedule(timeoutMs, () => {
        if (attempt >= retransmissions) {
          finish();
          return;
        }
        attempt++;
        timeoutMs *= 2;
        this.#send(datagram, peer);
        arm();
      });
    };
    this.track(peer, mid, { acknowledged: finish, rejected: finish });
    this.#cancels.add(cancelOuter);
    this.#send(datagram, peer);
    arm();
  }

  close(): void {
    this.#closed = true;
    for (const cancel of this.#cancels) cancel();
    this.#cancels.clear();
    this.#routes.clear();
  }

  #markVerified(address: string): void {
    this.#verified.delete(address);
    this.#verified.set(address, monotonicMs(this.#clock));
    if (this.#verified.size > MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value!);
  }
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function routeKey(peer: Peer, messageId: number): string {
  return `${peer.address}|${peer.port}|${messageId}`;
}
