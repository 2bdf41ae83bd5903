/**
 * What an Observation (observation.ts) shares with the layer that owns the socket, the
 * registry and the Message ID routes (observe-layer.ts): the data it is given and the narrow
 * set of things it may ask for. An observation never sees the socket or the other observers.
 */
import type { Clock } from '../../drivers/clock.ts';
import type { SensorUpdate } from '../service/sensor-feed.ts';
import type { Block2Request } from './inbound-request.ts';
import type { ObserveTiming } from './observe-timing.ts';
import type { AwaitsReply, Peer } from './reliability.ts';

export type { Peer } from './reliability.ts';

/** How the registration was asked, for the encoding of every notification. */
export interface ObservationWire {
  /** Its Block2 size, if it gave one: notifications are cut to block 0 of that size (RFC 7959 section 2.6). */
  block2: Block2Request | undefined;
  /** Its size: the amplification budget while the address is unverified. */
  requestBytes: number;
  /** Where the rest of a notification cut in blocks is held for the client's GETs (server.ts holdKey). */
  holdKey: string;
  /** Set when the registration came over OSCORE: protects each notification (oscore-front.ts, RFC 8613 section 4.1.3.5). */
  protect?: ((plain: Buffer) => Buffer) | undefined;
}

/** An observation as the layer sees it (observation.ts implements it). */
export interface ObserverRef extends AwaitsReply {
  readonly key: string;
  readonly peer: Peer;
  readonly token: Uint8Array;
  readonly sensor: string;
  readonly wire: ObservationWire;
  /** Bytes charged against the table's byte budget while registered (observe-limits.ts, observationBytes). */
  readonly bytes: number;
  offer(state: FeedState): void;
  /** Its 24 h confirmable check is due (RFC 7641 section 4.5; ObservationHost.confirmLater). */
  confirm(): void;
  close(): void;
}

/** A feed update as the observers share it; `memo` caches representations by request shape. */
export interface FeedState {
  update: SensorUpdate;
  receivedAtMs: number;
  memo: Map<string, unknown>;
}

/** A notification's content for one observer; `value` undefined for an error. */
export interface Rendered {
  code: string;
  contentFormat: number;
  maxAge: number;
  payload: Uint8Array;
  value: number | undefined;
}

/** What an observation may ask of the layer. */
export interface ObservationHost {
  readonly clock: Clock;
  readonly timing: ObserveTiming;
  random(): number;
  send(datagram: Buffer, peer: Peer): void;
  newMessageId(peer: Peer): number;
  /** Route ACK/RST with this Message ID from this peer to the observation; `confirmable`: the message was a CON. */
  track(peer: Peer, messageId: number, obs: ObserverRef, confirmable: boolean): void;
  untrack(peer: Peer, messageId: number): void;
  /** Whether the peer's address has acknowledged a confirmable message of ours (reliability.ts). */
  isVerified(peer: Peer): boolean;
  /** Retransmissions a confirmable notification to this peer gets now (none while unverified). */
  maxRetransmit(peer: Peer): number;
  /** A notification in the one response encoding (response-writer.ts). */
  encode(obs: ObserverRef, type: number, messageId: number, r: Rendered, seq: number | undefined): Buffer;
  notified(code: string): void;
  /**
   * Calls obs.confirm() confirmEveryMs from now, instead of any earlier call: at the start and
   * at each ACK. The layer keeps one timer for all observations (8,192 timers of their own cost
   * about 4 MB).
   */
  confirmLater(obs: ObserverRef): void;
  /** The observation is over for the client (it may still be retransmitting its final error notification: finished() follows). */
  ended(obs: ObserverRef, reason: 'reset' | 'timeout' | 'error', detail?: string): void;
  /** Nothing of the observation is left running (no timer, no route). */
  finished(obs: ObserverRef): void;
}
