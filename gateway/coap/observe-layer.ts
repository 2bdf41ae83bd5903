/**
 * Observe (RFC 7641) on the gateway's own message layer. The server (server.ts) hands it:
 *
 *   GET/FETCH + Observe=0 on an observable resource ──> register(): the registration, answered by the server
 *   GET/FETCH + Observe=1 ──> deregister() (section 3.6), then the server answers it as a plain request
 *
 * Other requests carrying Observe are served as plain requests (section 2). ACKs and RSTs of
 * notifications come through Reliability (reliability.ts), which routes them by Message ID.
 *
 * Registrations are keyed by endpoint and token (section 3.1: the same token from the same
 * endpoint re-registers and replaces). Each sensor has one feed subscription shared by all its
 * observers (service.subscribe), so a thousand observers cost one bus read per conversion;
 * each update is encoded once per request shape (unit, precision, format), not per observer.
 *
 * The table is bounded so that strangers cannot hold it full (docs/coap-api.md, "Observe
 * table"): one address holds at most `perAddress` registrations (the next gets the reading
 * without Observe, as section 4.1 allows), and when the whole table is full, in registrations
 * or in bytes (observe-limits.ts), a new registration takes the place of the oldest ones whose
 * address never acknowledged a notification. A spoofed source never acknowledges, so it can
 * only ever displace others like it; registrations of clients that have acknowledged are kept.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import type { Logger } from '../log.ts';
import type { SensorUpdate } from '../service/sensor-feed.ts';
import type { SensorService } from '../service/sensor-service.ts';
import type { HeldRepresentation } from './block2.ts';
import { errorReply } from './error-response.ts';
import { flat } from './flat-string.ts';
import type { InboundRequest } from './inbound-request.ts';
import { type FeedState, Observation, type Peer, type Rendered, type TimedObservationHost } from './observation.ts';
import type { ObservationWire, ObserverRef } from './observe-host.ts';
import { DEFAULT_OBSERVER_LIMITS, type ObserverLimits, observationBytes } from './observe-limits.ts';
import type { ObservableResource } from './observable-resource.ts';
import { type ReadingRequest, freshMaxAge } from './reading-resource.ts';
import type { Reliability } from './reliability.ts';
import { type Reply, fromError } from './reply.ts';
import type { ServedBy } from './request-log.ts';
import type { ResponseCounter } from './response-counter.ts';
import { writeResponse } from './response-writer.ts';

/** What answers a request: a Reply, and on a registration its Observe value and a hook for the message that carried it. */
export interface Outcome {
  reply: Reply;
  via: ServedBy;
  observe?: number;
  held?: HeldRepresentation;
  /** The message that carried the reply, when it was piggybacked or a NON. */
  sent?: (type: number, messageId: number) => void;
  /** Sends the reply as a separate CON itself (a registration: the observation owns that CON's retransmission). */
  sendConfirmable?: (messageId: number, datagram: Buffer) => void;
}

export interface ObserveLayerOptions {
  service: SensorService;
  /** The sensor's clock: c.pmin, c.pmax and the Max-Age countdown (observation.ts). */
  clock: Clock;
  /** Real time: retransmissions and the 24 h confirmable check (default: `clock`). */
  networkClock?: Clock;
  logger: Logger;
  counter: ResponseCounter;
  reliability: Reliability;
  /** The observable resource at a path, if any: a reading, one quantity of it, or a multi-quantity pack. */
  resourceAt: (path: string) => ObservableResource | undefined;
  send: (datagram: Buffer, peer: Peer) => void;
  /** Holds a notification cut in blocks, for the client's GETs of the other blocks (RFC 7959 section 2.6). */
  hold: (key: string, address: string, rep: HeldRepresentation) => void;
  limits?: Partial<ObserverLimits>;
}

interface Channel {
  unsubscribe: () => void;
  observers: Set<ObserverRef>;
}

export class ObserveLayer {
  readonly #o: ObserveLayerOptions;
  readonly #limits: ObserverLimits;
  readonly #host: TimedObservationHost;
  readonly #networkClock: Clock;
  /** key -> observation, oldest registration first. */
  readonly #registry = new Map<string, Observation>();
  readonly #perAddress = new Map<string, number>();
  readonly #channels = new Map<string, Channel>();
  /** Every observation with a timer or a route left, registered or ending (an error notification in transit). */
  readonly #live = new Set<ObserverRef>();
  /** Registrations waiting for their first reading, by key; a deregistration meanwhile cancels them. */
  readonly #reading = new Map<string, Set<{ cancelled: boolean }>>();
  /** Bytes charged by the registrations in #registry (observationBytes). */
  #bytes = 0;
  /**
   * Observations by when their 24 h confirmable check is due (RFC 7641 section 4.5), soonest
   * first: each is (re)inserted at now + confirmEveryMs on the network's monotonic clock, so
   * insertion order is due order. One timer, for the first.
   */
  readonly #confirmDue = new Map<ObserverRef, number>();
  #confirmTimer: (() => void) | undefined;
  #closed = false;

  constructor(options: ObserveLayerOptions) {
    this.#o = options;
    this.#limits = { ...DEFAULT_OBSERVER_LIMITS, ...options.limits };
    for (const [name, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`observer limit ${name} must be a positive integer, got ${v}`);
    }
    const log = options.logger;
    const reliability = options.reliability;
    this.#networkClock = options.networkClock ?? options.clock;
    this.#host = {
      clock: options.clock,
      networkClock: this.#networkClock,
      timing: reliability.timing,
      random: () => reliability.random(),
      send: (d, peer) => {
        if (!this.#closed) options.send(d, peer);
      },
      newMessageId: (peer) => reliability.newMessageId(peer),
      track: (peer, mid, obs, confirmable) => reliability.track(peer, mid, obs, confirmable),
      untrack: (peer, mid) => reliability.untrack(peer, mid),
      isVerified: (peer) => reliability.isVerified(peer.address),
      maxRetransmit: (peer) => reliability.maxRetransmit(peer.address),
      encode: (obs, type, messageId, r, seq) => {
        // A client that registered with a Block2 size gets block 0 of each notification, and
        // the rest is held for its GETs (RFC 7959 section 2.6). Block 0 always exists.
        const block2 = obs.wire.block2 && { num: 0, szx: obs.wire.block2.szx };
        const written = writeResponse(replyOf(r), { type, messageId, token: obs.token }, { block2, verified: reliability.isVerified(obs.peer.address), requestBytes: obs.wire.requestBytes, observe: seq });
        if (!written.ok) throw written.error;
        if (written.blocks !== undefined) options.hold(obs.wire.holdKey, obs.peer.address, written.blocks);
        return obs.wire.protect === undefined ? written.datagram : obs.wire.protect(written.datagram);
      },
      notified: (code) => options.counter.count('notifications', code),
      confirmLater: (obs) => this.#confirmLater(obs),
      ended: (obs, reason, detail) => {
        if (detail !== undefined) log.error('observation failed', { peer: `${obs.peer.address}:${obs.peer.port}`, sensor: obs.sensor, detail });
        else log.debug('observation ended', { peer: `${obs.peer.address}:${obs.peer.port}`, sensor: obs.sensor, reason });
        this.#detach(obs);
      },
      finished: (obs) => this.#live.delete(obs),
    };
  }

  /** Bytes charged by the registered observers (observationBytes), at most `totalBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Registered observers, in all or for one sensor. */
  observers(sensor?: string): number {
    if (sensor === undefined) return this.#registry.size;
    return this.#channels.get(sensor)?.observers.size ?? 0;
  }

  /**
   * A registration (Observe=0) of a GET or FETCH: undefined when the path is not observable
   * (the server serves the request as a plain one), else the outcome to answer with.
   */
  register(req: InboundRequest, peer: Peer, token: Uint8Array, confirmable: boolean, wire: { requestBytes: number; holdKey: string; protect?: ((plain: Buffer) => Buffer) | undefined }): Promise<Outcome> | undefined {
    const resource = this.#o.resourceAt(req.view.path);
    if (resource === undefined) return undefined;
    return this.#register(req, peer, Uint8Array.from(token), confirmable, { block2: req.block2, ...wire }, resource);
  }

  /** Observe=1: ends the registration with this token (section 3.6). */
  deregister(peer: Peer, token: Uint8Array): void {
    for (const waiting of this.#reading.get(registrationKey(peer, token)) ?? []) waiting.cancelled = true;
    const obs = this.#registry.get(registrationKey(peer, token));
    if (!obs) return;
    obs.close();
    this.#detach(obs);
  }

  close(): void {
    this.#closed = true;
    this.#confirmTimer?.();
    this.#confirmDue.clear();
    for (const obs of [...this.#live]) obs.close();
    for (const c of this.#channels.values()) c.unsubscribe();
    this.#live.clear();
    this.#registry.clear();
    this.#perAddress.clear();
    this.#channels.clear();
  }

  async #register(req: InboundRequest, peer: Peer, token: Uint8Array, confirmable: boolean, wire: ObservationWire, resource: ObservableResource): Promise<Outcome> {
    const key = registrationKey(peer, token);
    let prepared: ReadingRequest;
    let state: FeedState;
    const waiting = { cancelled: false };
    let waitingForKey = this.#reading.get(key);
    if (waitingForKey === undefined) this.#reading.set(key, (waitingForKey = new Set()));
    waitingForKey.add(waiting);
    try {
      prepared = resource.prepare(req.view);
      const fresh = this.#o.service.peekFresh(resource.sensor) ?? (await this.#o.service.readFresh(resource.sensor));
      state = { update: { sensor: resource.sensor, cause: 'subscribe', ok: true, reading: fresh }, receivedAtMs: this.#now(), memo: new Map() };
    } catch (err) {
      // Not added (RFC 7641 section 4.1): the error goes back without Observe, and a
      // previous registration with this token is over.
      this.deregister(peer, token);
      return { reply: fromError(errorReply(err, resource.timeScale)), via: 'observe' };
    } finally {
      waitingForKey.delete(waiting);
      if (waitingForKey.size === 0 && this.#reading.get(key) === waitingForKey) this.#reading.delete(key);
    }
    const asPlain = (): Outcome => ({ reply: replyOf(render(resource, prepared, state, this.#now())), via: 'observe' });
    // Closed, or deregistered (Observe=1 with this token) while the first reading was taken.
    if (this.#closed || waiting.cancelled) return asPlain();
    const previous = this.#registry.get(key);
    // A re-registration replaces the old one, which makes room for it.
    if (previous) {
      previous.close();
      this.#detach(previous);
    }
    const bytes = observationBytes({ key, holdKey: wire.holdKey, tokenBytes: token.length, payloadBytes: render(resource, prepared, state, this.#now()).payload.length });
    // RFC 7641 section 4.1: a server may answer a registration without adding the client to
    // its list; the client sees a response without Observe.
    if (!this.#makeRoom(peer, bytes)) return asPlain();
    const obs = new Observation({
      host: this.#host,
      key,
      peer,
      token,
      sensor: resource.sensor,
      confirmable,
      conditions: prepared.conditions,
      render: renderer(resource, prepared),
      wire,
      bytes,
      ...(previous ? { previousSeq: previous.seq } : {}),
    });
    let started: { rendered: Rendered; seq: number };
    try {
      started = obs.start(state);
    } catch (err) {
      obs.close();
      this.#confirmDue.delete(obs);
      throw err;
    }
    this.#registry.set(key, obs);
    this.#bytes += bytes;
    this.#live.add(obs);
    this.#perAddress.set(peer.address, (this.#perAddress.get(peer.address) ?? 0) + 1);
    this.#channel(resource.sensor).observers.add(obs);
    return {
      reply: replyOf(started.rendered),
      via: 'observe',
      observe: started.seq,
      sent: (type, messageId) => obs.sentAs(type, messageId),
      sendConfirmable: (messageId, datagram) => obs.sendRegistration(messageId, datagram),
    };
  }

  /**
   * Whether a new registration of `bytes` from this address may be added; while the table is
   * full, in entries or in bytes, evicts the oldest registration of an address that never
   * acknowledged a notification, and refuses when there is none left.
   */
  #makeRoom(peer: Peer, bytes: number): boolean {
    if ((this.#perAddress.get(peer.address) ?? 0) >= this.#limits.perAddress) return false;
    if (bytes > this.#limits.totalBytes) return false;
    while (this.#registry.size >= this.#limits.total || this.#bytes + bytes > this.#limits.totalBytes) {
      let victim: Observation | undefined;
      for (const obs of this.#registry.values()) {
        if (!this.#host.isVerified(obs.peer)) {
          victim = obs;
          break;
        }
      }
      if (victim === undefined) return false;
      this.#o.logger.debug('observation evicted for a new registration', { peer: `${victim.peer.address}:${victim.peer.port}`, sensor: victim.sensor });
      victim.close();
      this.#detach(victim);
    }
    return true;
  }

  #confirmLater(obs: ObserverRef): void {
    if (this.#closed) return;
    const at = this.#networkNow() + this.#o.reliability.timing.confirmEveryMs;
    this.#confirmDue.delete(obs);
    this.#confirmDue.set(obs, at);
    if (this.#confirmTimer === undefined) this.#armConfirmTimer(at);
  }

  #armConfirmTimer(at: number): void {
    this.#confirmTimer = this.#networkClock.schedule(at - this.#networkNow(), () => {
      this.#confirmTimer = undefined;
      const now = this.#networkNow();
      // Entries confirm() puts back are appended, due a day later: the loop stops at them.
      for (const [obs, due] of this.#confirmDue) {
        if (due > now) {
          this.#armConfirmTimer(due);
          return;
        }
        this.#confirmDue.delete(obs);
        obs.confirm();
      }
    });
  }

  #detach(obs: ObserverRef): void {
    this.#confirmDue.delete(obs);
    if (this.#registry.get(obs.key) === obs) {
      this.#registry.delete(obs.key);
      this.#bytes -= obs.bytes;
      const n = (this.#perAddress.get(obs.peer.address) ?? 1) - 1;
      if (n <= 0) this.#perAddress.delete(obs.peer.address);
      else this.#perAddress.set(obs.peer.address, n);
    }
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
    const observers = new Set<ObserverRef>();
    const unsubscribe = this.#o.service.subscribe(sensor, (update: SensorUpdate) => {
      const state: FeedState = { update, receivedAtMs: this.#now(), memo: new Map() };
      for (const obs of [...observers]) obs.offer(state);
    });
    channel = { unsubscribe, observers };
    this.#channels.set(sensor, channel);
    return channel;
  }

  /** The sensor's time: when an update came, for the Max-Age countdown. */
  #now(): number {
    return monotonicMs(this.#o.clock);
  }

  /** The network's time: the 24 h confirmable checks. */
  #networkNow(): number {
    return monotonicMs(this.#networkClock);
  }
}

function replyOf(r: Rendered): Reply {
  return { code: r.code as Reply['code'], contentFormat: r.contentFormat, maxAge: r.maxAge, payload: r.payload };
}

/**
 * An observation's render function, made here rather than inline in #register: a closure keeps
 * its whole enclosing scope alive (V8 gives all closures of a function one context), and
 * #register's holds the request, its datagram and the registration's feed state. Inline, that
 * was about 370 bytes more per observer for the observation's whole life.
 */
function renderer(resource: ObservableResource, req: ReadingRequest): (state: FeedState, nowMs: number) => Rendered {
  return (state, nowMs) => render(resource, req, state, nowMs);
}

/** A notification's content for one observer; encodings are shared between observers that asked alike. */
function render(resource: ObservableResource, req: ReadingRequest, state: FeedState, nowMs: number): Rendered {
  const u = state.update;
  if (!u.ok) {
    const e = errorReply(u.error, resource.timeScale);
    return { code: e.code, contentFormat: e.contentFormat, maxAge: e.maxAge, payload: e.payload, value: undefined };
  }
  const shape = req.variant;
  let rep = state.memo.get(shape) as { value: number; payload: Uint8Array } | undefined;
  if (!rep) {
    rep = resource.represent(u.reading.reading, req);
    state.memo.set(shape, rep);
  }
  // Max-Age counts down from when the feed read the value (a pmax notification goes out later),
  // in the sensor's time, and goes on the wire in the device's (freshMaxAge).
  const maxAge = freshMaxAge(u.reading.freshForMs - (nowMs - state.receivedAtMs), resource.timeScale);
  return { code: '2.05', contentFormat: req.format, maxAge, payload: rep.payload, value: rep.value };
}

/** Flat (flat-string.ts): it keys the registration for the observation's life. */
function registrationKey(peer: Peer, token: Uint8Array): string {
  return flat(`${peer.address}|${peer.port}|${Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('hex')}`);
}
