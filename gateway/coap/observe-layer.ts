/**
 * Observe (RFC 7641), owned here rather than left to node-coap: node-coap 1.5.0's
 * ObserveWriteStream has no deregistration by Observe=1, no Max-Age, no periodic CON, no
 * retransmission on our clock, and ties CON/NON to the request's type. The server hands this
 * layer every datagram the guard passed, before node-coap parses it:
 *
 *   GET/FETCH + Observe=0 on an observable resource ──> registration, answered here
 *   GET/FETCH + Observe=1 ──> deregistration (section 3.6), then node-coap answers it as a plain GET
 *   any other request with Observe ──> node-coap, without the option (section 2: served as a plain request)
 *   Empty ACK/RST whose Message ID is one of our notifications' ──> that observation
 *   everything else ──> node-coap unchanged
 *
 * Registrations are keyed by endpoint and token (section 3.1: the same token from the same
 * endpoint re-registers and replaces). Each sensor has one feed subscription shared by all its
 * observers (service.subscribe), so a thousand observers cost one bus read per conversion;
 * each update is encoded once per request shape (unit, precision, format), not per observer.
 */
import { randomInt } from 'node:crypto';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import type { Logger } from '../log.ts';
import type { SensorUpdate } from '../service/sensor-feed.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { MessageType, type WireMessage, codeByte, encodeMessage, readUint } from './coap-wire.ts';
import { Option } from './datagram-guard.ts';
import { errorReply } from './error-response.ts';
import { type FeedState, Observation, type ObservationHost, type Peer, type Rendered } from './observation.ts';
import { DEFAULT_OBSERVE_TIMING, type ObserveTiming, checkTiming } from './observe-timing.ts';
import { type ReadingRequest, type ReadingResource, freshMaxAge } from './reading-resource.ts';
import { type Reply, type RequestView, fromError } from './reply.ts';
import type { ResponseCounter } from './response-counter.ts';
import { replyDatagram, requestViewOf } from './wire-request.ts';

export interface ObserveLayerOptions {
  service: SensorService;
  clock: Clock;
  logger: Logger;
  counter: ResponseCounter;
  /** The observable resource at a path, if any. */
  resourceAt: (path: string) => ReadingResource | undefined;
  send: (datagram: Buffer, peer: Peer) => void;
  timing?: Partial<ObserveTiming>;
  /** In [0, 1): the random part of the first retransmission timeout. */
  random?: () => number;
}

interface Channel {
  unsubscribe: () => void;
  observers: Set<Observation>;
}

const GET = codeByte('0.01');
const FETCH = codeByte('0.05');

/**
 * How many observations the gateway keeps: per source address (a device, or a proxy in front
 * of many) and in all. Each costs about 4 KiB; the total bounds memory on a Pi.
 */
export const OBSERVER_LIMITS = { perAddress: 1024, total: 8192 } as const;

export class ObserveLayer {
  readonly #o: ObserveLayerOptions;
  readonly #host: ObservationHost;
  readonly #registry = new Map<string, Observation>();
  readonly #routes = new Map<string, Observation>();
  readonly #channels = new Map<string, Channel>();
  readonly #inProgress = new Set<string>();
  #nextMid = randomInt(0x10000);
  #closed = false;

  constructor(options: ObserveLayerOptions) {
    this.#o = options;
    const timing = checkTiming({ ...DEFAULT_OBSERVE_TIMING, ...options.timing });
    const random = options.random ?? Math.random;
    const log = options.logger;
    this.#host = {
      clock: options.clock,
      timing,
      random,
      send: (d, peer) => {
        if (!this.#closed) options.send(d, peer);
      },
      newMessageId: (peer) => this.#newMessageId(peer),
      track: (peer, mid, obs) => this.#routes.set(routeKey(peer, mid), obs),
      untrack: (peer, mid) => this.#routes.delete(routeKey(peer, mid)),
      notified: (code) => options.counter.count('notifications', code),
      ended: (obs, reason) => {
        log.debug('observation ended', { peer: `${obs.peer.address}:${obs.peer.port}`, sensor: obs.sensor, reason });
        this.#detach(obs);
      },
    };
  }

  /** Registered observers, in all or for one sensor. */
  observers(sensor?: string): number {
    if (sensor === undefined) return this.#registry.size;
    return this.#channels.get(sensor)?.observers.size ?? 0;
  }

  /**
   * Takes a datagram the guard passed. Returns the datagram node-coap should see (without any
   * Observe option: node-coap must not start its own observe stream), or undefined when consumed.
   */
  intercept(m: WireMessage, raw: Buffer, peer: Peer): Buffer | undefined {
    if (m.code === 0) {
      // The guard passes only Empty ACKs and RSTs here. RFC 7252 section 4.4: matched by Message ID and endpoint.
      const obs = this.#routes.get(routeKey(peer, m.messageId));
      if (!obs) return raw;
      if (m.type === MessageType.ACK) obs.acknowledged(m.messageId);
      else obs.rejected();
      return undefined;
    }
    const observe = m.options.find((o) => o.number === Option.OBSERVE);
    if (!observe) return raw;
    const stripped = encodeMessage({ ...m, options: m.options.filter((o) => o.number !== Option.OBSERVE) });
    if ((m.code !== GET && m.code !== FETCH) || observe.value.length > 3) return stripped;
    const value = readUint(observe.value);
    if (value === 1) {
      this.#deregister(registrationKey(peer, m.token));
      return stripped;
    }
    const view = requestViewOf(m);
    const resource = value === 0 ? this.#o.resourceAt(view.path) : undefined;
    if (!resource) return stripped;
    this.#register(m, peer, view, resource).catch((err: unknown) => {
      this.#o.logger.error('observe registration failed', { detail: err instanceof Error ? err.message : String(err) });
    });
    return undefined;
  }

  close(): void {
    this.#closed = true;
    for (const obs of this.#registry.values()) obs.close();
    for (const obs of this.#routes.values()) obs.close();
    for (const c of this.#channels.values()) c.unsubscribe();
    this.#registry.clear();
    this.#routes.clear();
    this.#channels.clear();
  }

  async #register(m: WireMessage, peer: Peer, view: RequestView, resource: ReadingResource): Promise<void> {
    const key = registrationKey(peer, m.token);
    const existing = this.#registry.get(key);
    // A retransmitted registration (same Message ID): the same answer, processed once (RFC 7252 section 4.5).
    if (existing && m.type === MessageType.CON && existing.requestMid === m.messageId && existing.response) {
      this.#host.send(existing.response, peer);
      return;
    }
    const attempt = `${key}/${m.messageId}`;
    if (this.#inProgress.has(attempt)) return;
    this.#inProgress.add(attempt);
    try {
      let prepared: ReadingRequest;
      let state: FeedState;
      try {
        prepared = resource.prepare(view);
        const fresh = await this.#o.service.readFresh(resource.sensor);
        state = { update: { sensor: resource.sensor, cause: 'subscribe', ok: true, reading: fresh }, receivedAtMs: this.#now(), memo: new Map() };
      } catch (err) {
        // Not added (RFC 7641 section 4.1): the error goes back without Observe, and a
        // previous registration with this token is over.
        this.#deregister(key);
        this.#refuse(m, peer, fromError(errorReply(err)));
        return;
      }
      if (this.#closed) return;
      const previous = this.#registry.get(key);
      if (!previous && this.#overLimit(peer)) {
        // RFC 7641 section 4.1: a server may answer a registration without adding the client
        // to its list; the client sees a response without Observe. Memory stays bounded
        // whatever one address (or many) asks for.
        const r = render(resource, prepared, state, this.#now());
        this.#refuse(m, peer, { code: r.code as Reply['code'], contentFormat: r.contentFormat, maxAge: r.maxAge, payload: r.payload });
        return;
      }
      if (previous) {
        previous.close();
        this.#detach(previous);
      }
      const obs = new Observation({
        host: this.#host,
        key,
        peer,
        token: Uint8Array.from(m.token),
        sensor: resource.sensor,
        confirmable: m.type === MessageType.CON,
        conditions: prepared.conditions,
        render: (s, now) => render(resource, prepared, s, now),
        ...(previous ? { previousSeq: previous.seq } : {}),
      });
      this.#registry.set(key, obs);
      this.#channel(resource.sensor).observers.add(obs);
      const r = obs.start(m.type, m.messageId, state);
      this.#o.counter.count('requests', r.code);
    } finally {
      this.#inProgress.delete(attempt);
    }
  }

  /** Too many observers from this address, or in all (OBSERVER_LIMITS). */
  #overLimit(peer: Peer): boolean {
    if (this.#registry.size >= OBSERVER_LIMITS.total) return true;
    let fromPeer = 0;
    for (const obs of this.#registry.values()) if (obs.peer.address === peer.address && ++fromPeer >= OBSERVER_LIMITS.perAddress) return true;
    return false;
  }

  #refuse(m: WireMessage, peer: Peer, reply: Reply): void {
    const con = m.type === MessageType.CON;
    const datagram = replyDatagram(reply, { type: con ? MessageType.ACK : MessageType.NON, messageId: con ? m.messageId : this.#newMessageId(peer), token: m.token });
    this.#o.counter.count('requests', reply.code);
    this.#host.send(datagram, peer);
  }

  #deregister(key: string): void {
    const obs = this.#registry.get(key);
    if (!obs) return;
    obs.close();
    this.#detach(obs);
  }

  #detach(obs: Observation): void {
    if (this.#registry.get(obs.key) === obs) this.#registry.delete(obs.key);
    const channel = this.#channels.get(obs.sensor);
    if (!channel) return;
    channel.observers.delete(obs);
    if (channel.observers.size === 0) {
      channel.unsubscribe();
      this.#channels.delete(obs.sensor);
    }
  }

  /** The sensor's one feed subscription, opened with its first observer. */
  #channel(sensor: string): Channel {
    let channel = this.#channels.get(sensor);
    if (channel) return channel;
    const observers = new Set<Observation>();
    const unsubscribe = this.#o.service.subscribe(sensor, (update: SensorUpdate) => {
      const state: FeedState = { update, receivedAtMs: this.#now(), memo: new Map() };
      for (const obs of [...observers]) obs.offer(state);
    });
    channel = { unsubscribe, observers };
    this.#channels.set(sensor, channel);
    return channel;
  }

  /** Message IDs for our own messages; skips IDs still awaiting an ACK from that peer. */
  #newMessageId(peer: Peer): number {
    for (let i = 0; i < 0x10000; i++) {
      this.#nextMid = (this.#nextMid + 1) & 0xffff;
      if (!this.#routes.has(routeKey(peer, this.#nextMid))) return this.#nextMid;
    }
    return this.#nextMid;
  }

  #now(): number {
    return monotonicMs(this.#o.clock);
  }
}

/** A notification's content for one observer; encodings are shared between observers that asked alike. */
function render(resource: ReadingResource, req: ReadingRequest, state: FeedState, nowMs: number): Rendered {
  const u = state.update;
  if (!u.ok) {
    const e = errorReply(u.error);
    return { code: e.code, contentFormat: e.contentFormat, maxAge: e.maxAge, payload: e.payload, value: undefined };
  }
  const shape = `${req.format}|${req.params.unit ?? ''}|${req.params.precision}`;
  let rep = state.memo.get(shape) as { value: number; payload: Uint8Array } | undefined;
  if (!rep) {
    rep = resource.represent(u.reading.reading, req);
    state.memo.set(shape, rep);
  }
  // Max-Age counts down from when the feed read the value (a pmax notification goes out later).
  const maxAge = freshMaxAge(u.reading.freshForMs - (nowMs - state.receivedAtMs));
  return { code: '2.05', contentFormat: req.format, maxAge, payload: rep.payload, value: rep.value };
}

function registrationKey(peer: Peer, token: Uint8Array): string {
  return `${peer.address}|${peer.port}|${Buffer.from(token).toString('hex')}`;
}

function routeKey(peer: Peer, mid: number): string {
  return `${peer.address}|${peer.port}|${mid}`;
}
