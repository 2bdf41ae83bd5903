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
 *   host that receives our datagrams can know its Message ID (return routability; RFC 9175
 *   section 2.4's Echo proves the same with a longer value). For that proof to hold, Message
 *   IDs cannot be guessed: each endpoint gets its own sequence from a random start (which also
 *   keeps an ID from coming back to the same endpoint within EXCHANGE_LIFETIME unless it gets
 *   65,536 messages in 247 s, RFC 7252 section 4.4), an ACK to a NON of ours proves nothing,
 *   and an address that sends more than MAX_UNMATCHED unmatched ACKs or RSTs in
 *   UNMATCHED_WINDOW_MS is not verified by ACKs until its window has passed. Even with the 64
 *   observations an address may hold all awaiting an ACK (64 live IDs of 65,536), guessing
 *   then takes about 1,000 guesses, over 40 hours at 4 per 10 minutes. When more addresses
 *   are being counted than MAX_UNMATCHED_ADDRESSES, none is forgotten inside its window: no
 *   new address is verified until one's window ends (a flood of spoofed ACKs cannot reset
 *   the count). An address already verified stays verified by its ACKs whatever else claims
 *   its name. Until verified, a confirmable message to an address is sent once and not
 *   retransmitted, and responses to it keep within the amplification budget
 *   (response-writer.ts). Verified addresses are remembered for VERIFIED_TTL_MS (longer than
 *   RFC 7641's 24 hours between confirmable notifications, so an observer that acknowledges
 *   only those stays verified), at most MAX_VERIFIED of them.
 *   Loopback addresses count as verified unless `trustLoopback` is off: the kernel drops a
 *   datagram from the network that claims a loopback source (a "martian"), so only a process
 *   on this machine can send from one, and it needs no amplifier.
 */
import { randomFillSync } from 'node:crypto';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { MessageType } from './coap-wire.ts';
import { EXCHANGE_LIFETIME_MS } from './exchange-store.ts';
import { flat } from './flat-string.ts';
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

/** How long an address stays verified after its last matching ACK: past the 24 h of RFC 7641 section 4.5. */
export const VERIFIED_TTL_MS = 25 * 60 * 60 * 1000;
/** Verified addresses remembered, least recently verified forgotten first. */
export const MAX_VERIFIED = 4096;
/** Endpoints whose Message ID sequence is remembered, least recently used forgotten first. */
export const MAX_SEQUENCES = 16_384;
/** Unmatched ACKs and RSTs an address may send in a window before its ACKs stop verifying it. */
export const MAX_UNMATCHED = 4;
export const UNMATCHED_WINDOW_MS = 10 * 60_000;
/** Addresses whose unmatched ACKs and RSTs are counted at once. */
export const MAX_UNMATCHED_ADDRESSES = 4096;

export class Reliability {
  /**
   * The network's clock (server.ts networkClock): retransmission timeouts race the peer's real
   * ACK_TIMEOUT and EXCHANGE_LIFETIME is the peer's real time, so none of this runs faster when
   * the sensors' time is scaled (docs/simulation.md, "Time that runs faster").
   */
  readonly #clock: Clock;
  readonly #timing: ObserveTiming;
  readonly #random: () => number;
  readonly #send: (datagram: Buffer, peer: Peer) => void;
  /**
   * endpoint|Message ID -> what it answers: a confirmable message's in `#routes`, a NON's in
   * `#nonRoutes` (only an ACK of a confirmable message proves the address; an ACK to a NON is
   * meaningless). Two maps of owners rather than one of {owner, confirmable}: no object per
   * message sent, and 8,192 observers each have up to 5 Message IDs routed.
   */
  readonly #routes = new Map<string, AwaitsReply>();
  readonly #nonRoutes = new Map<string, AwaitsReply>();
  /** address -> monotonic ms of its last matching ACK, least recent first. */
  readonly #verified = new Map<string, number>();
  /** endpoint -> the last Message ID it was sent and when, least recently used first. */
  readonly #sequences = new Map<string, { mid: number; atMs: number }>();
  /** address -> unmatched ACKs and RSTs in the current window. */
  readonly #unmatched = new Map<string, { count: number; since: number }>();
  /** Set while the unmatched table is full of addresses inside their window: no new address is verified by ACK. */
  #saturatedUntil = 0;
  readonly #cancels = new Set<() => void>();
  readonly #trustLoopback: boolean;
  readonly #randomPool = new Uint16Array(1024);
  #randomAt = 1024;
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

  /**
   * A Message ID for a new message of ours to this peer: the next of its own sequence, which
   * starts at a random value, skipping IDs still awaiting its reply.
   */
  newMessageId(peer: Peer): number {
    // Flat: it may become the sequence's key (flat-string.ts).
    const endpoint = flat(`${peer.address}|${peer.port}`);
    const now = monotonicMs(this.#clock);
    const seq = this.#sequences.get(endpoint);
    let mid = seq?.mid ?? this.#random16();
    for (let i = 0; i < 0x10000; i++) {
      mid = (mid + 1) & 0xffff;
      const key = `${endpoint}|${mid}`;
      if (!this.#routes.has(key) && !this.#nonRoutes.has(key)) break;
    }
    if (seq !== undefined) {
      this.#sequences.delete(endpoint);
      seq.mid = mid;
      seq.atMs = now;
      this.#sequences.set(endpoint, seq);
      return mid;
    }
    // A sequence is forgotten only once idle for EXCHANGE_LIFETIME, so that a new random start
    // cannot land on IDs the endpoint saw lately; with none idle (a flood of new endpoints),
    // the newcomer's ID stays random, each time.
    if (this.#sequences.size >= MAX_SEQUENCES) {
      const oldest = this.#sequences.entries().next().value!;
      if (now - oldest[1].atMs < EXCHANGE_LIFETIME_MS) return mid;
      this.#sequences.delete(oldest[0]);
    }
    this.#sequences.set(endpoint, { mid, atMs: now });
    return mid;
  }

  /** Routes an ACK or RST with this Message ID from this peer to `owner`; `confirmable`: the message was a CON. */
  track(peer: Peer, messageId: number, owner: AwaitsReply, confirmable: boolean): void {
    const key = flat(routeKey(peer, messageId));
    (confirmable ? this.#nonRoutes : this.#routes).delete(key);
    (confirmable ? this.#routes : this.#nonRoutes).set(key, owner);
  }

  untrack(peer: Peer, messageId: number): void {
    const key = routeKey(peer, messageId);
    if (!this.#routes.delete(key)) this.#nonRoutes.delete(key);
  }

  /** An Empty ACK or RST arrived: hands it to what it answers. Never answered, whatever it is. */
  match(type: number, peer: Peer, messageId: number): void {
    const key = routeKey(peer, messageId);
    const con = this.#routes.get(key);
    const owner = con ?? this.#nonRoutes.get(key);
    if (owner === undefined) {
      this.#countUnmatched(peer.address);
      return;
    }
    if (type === MessageType.ACK) {
      if (con === undefined) return;
      if (this.isVerified(peer.address) || !this.#guessing(peer.address)) this.#markVerified(peer.address);
      owner.acknowledged(messageId);
    } else owner.rejected(messageId);
  }

  /** The address repeated an Echo value it was sent (echo-values.ts, RFC 9175 section 2.4). */
  verifiedByEcho(address: string): void {
    this.#markVerified(address);
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
    this.track(peer, mid, { acknowledged: finish, rejected: finish }, true);
    this.#cancels.add(cancelOuter);
    this.#send(datagram, peer);
    arm();
  }

  close(): void {
    this.#closed = true;
    for (const cancel of this.#cancels) cancel();
    this.#cancels.clear();
    this.#routes.clear();
    this.#nonRoutes.clear();
  }

  /** A fresh random 16-bit value from a pool refilled by the CSPRNG (a start no one can predict). */
  #random16(): number {
    if (this.#randomAt >= this.#randomPool.length) {
      randomFillSync(this.#randomPool);
      this.#randomAt = 0;
    }
    return this.#randomPool[this.#randomAt++]!;
  }

  #countUnmatched(address: string): void {
    const now = monotonicMs(this.#clock);
    const u = this.#unmatched.get(address);
    if (u !== undefined && now - u.since < UNMATCHED_WINDOW_MS) {
      u.count++;
      return;
    }
    if (u !== undefined) this.#unmatched.delete(address);
    else if (this.#unmatched.size >= MAX_UNMATCHED_ADDRESSES) {
      const [oldest, first] = this.#unmatched.entries().next().value!;
      if (now - first.since < UNMATCHED_WINDOW_MS) {
        // Full of addresses inside their window: forgetting one would reset its count.
        this.#saturatedUntil = first.since + UNMATCHED_WINDOW_MS;
        return;
      }
      this.#unmatched.delete(oldest);
    }
    this.#unmatched.set(address, { count: 1, since: now });
  }

  /** Whether ACKs from this address cannot be believed now: it sent too many unmatched ones lately, or too many addresses did. */
  #guessing(address: string): boolean {
    const now = monotonicMs(this.#clock);
    if (now < this.#saturatedUntil) return true;
    const u = this.#unmatched.get(address);
    return u !== undefined && u.count > MAX_UNMATCHED && now - u.since < UNMATCHED_WINDOW_MS;
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
