/**
 * What an Observation (observation.ts) shares with the layer that owns the socket, the
 * registry and the Message ID routes (observe-layer.ts): the data it is given and the narrow
 * set of things it may ask for. An observation never sees the socket or the other observers.
 */
import type { Clock } from '../../drivers/clock.ts';
import type { SensorUpdate } from '../service/sensor-feed.ts';
import type { Observation } from './observation.ts';
import type { ObserveTiming } from './observe-timing.ts';

export interface Peer {
  address: string;
  port: number;
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
  /** Route ACK/RST with this Message ID from this peer to the observation. */
  track(peer: Peer, messageId: number, obs: Observation): void;
  untrack(peer: Peer, messageId: number): void;
  /** Whether the peer's address has acknowledged a confirmable message of ours (reliability.ts). */
  isVerified(peer: Peer): boolean;
  /** Retransmissions a confirmable notification to this peer gets now (none while unverified). */
  maxRetransmit(peer: Peer): number;
  /** A notification in the one response encoding (response-writer.ts). */
  encode(obs: Observation, type: number, messageId: number, r: Rendered, seq: number | undefined): Buffer;
  notified(code: string): void;
  ended(obs: Observation, reason: 'reset' | 'timeout' | 'error'): void;
}
