/**
 * The gateway's CoAP server: one UDP socket and the whole message layer, in the order a datagram
 * goes through it (RFC 7252; docs/coap-api.md says what the gateway chose where the RFCs leave
 * a choice):
 *
 *   datagram ─ parseMessage (coap-wire.ts, once) ─┬─ malformed: RST if it was a CON, else dropped (section 4.2, 4.3)
 *                                                 ├─ Empty CON (ping): RST
 *                                                 ├─ Empty ACK / RST: matched against what we sent (reliability.ts), never answered
 *                                                 ├─ a response, or a request in an ACK/RST: RST if CON, else dropped
 *                                                 └─ request ─ ExchangeStore: duplicate? the same reply again (4.5)
 *                                                              ─ OSCORE option? verified and decrypted (oscore-front.ts, RFC 8613), or refused
 *                                                              ─ readRequest (inbound-request.ts): options refused? 4.02/4.15/5.05, or RST
 *                                                              ─ AccessPolicy and WriteLimiter: 4.01/4.03/4.29 (docs/security.md)
 *                                                              ─ Observe=0 on a reading: ObserveLayer (RFC 7641)
 *                                                              ─ Block2 after block 0: the held representation (block2.ts)
 *                                                              ─ Router ─ resource ─ Reply (at once, or a promise)
 *   reply ─ writeResponse (response-writer.ts: options, Block2, amplification budget)
 *         ─ protected for its request, if that was (oscore-front.ts)
 *         ─ piggybacked in the ACK of a CON; after PIGGYBACK_REPLY_MS an Empty ACK and a separate CON (5.2.2); a NON for a NON (5.2.3)
 *
 * Dual stack: the default host '::' binds an IPv6 socket with IPV6_V6ONLY off, so IPv4 peers
 * arrive as ::ffff:a.b.c.d and are answered on the same socket.
 *
 * Two clocks (docs/simulation.md, "Time that runs faster"): the sensors' (`clock`, which runs
 * faster under `--time-scale`) for Observe periods and conditions and the Max-Age countdown;
 * the network's (`networkClock`, real) for everything a peer times on its own clock:
 * retransmissions, duplicate detection, held blocks, Echo, OSCORE, the write limiter, log
 * throttles. Max-Age goes out in real seconds (freshMaxAge, errorMaxAge: divided by timeScale).
 */
import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Clock, MAX_TIME_SCALE, ScaledClock, SystemClock, monotonicMs } from '../../drivers/clock.ts';
import { bindCoapSocket } from '../bind-socket.ts';
import { type Logger, isLevelEnabled } from '../log.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { type HoldLimits, HeldRepresentations, holdKey } from './block2.ts';
import { type WireMessage, MessageType, Option, codeByte, codeClass, codeString, parseMessage } from './coap-wire.ts';
import { errorReply } from './error-response.ts';
import { type Exchange, type ExchangeLimits, type ExchangeStats, ExchangeStore } from './exchange-store.ts';
import { methodName, pathOf, readRequest } from './inbound-request.ts';
import { type Outcome, ObserveLayer } from './observe-layer.ts';
import type { ObserverLimits } from './observe-limits.ts';
import { DEFAULT_OBSERVE_TIMING, type ObserveTiming, checkTiming } from './observe-timing.ts';
import { type Peer, Reliability } from './reliability.ts';
import { type Reply, type RequestView, fromError } from './reply.ts';
import type { GatewayError } from '../errors.ts';
import type { CborMap } from './cbor-preferred.ts';
import { type LoggedRequest, RequestLog } from './request-log.ts';
import { amplificationBudget, emptyMessage, writeResponse } from './response-writer.ts';
import { ResponseCounter } from './response-counter.ts';
import { Router } from './router.ts';
import { AccessPolicy, type Requester } from './access-policy.ts';
import { WriteLimiter } from './write-limiter.ts';
import { EchoValues } from './echo-values.ts';
import { type FrontReply, type Protection, OscoreFront } from './oscore-front.ts';
import type { OscoreServer } from './oscore/oscore-server.ts';
import { type AccessConfig, DEFAULT_ACCESS } from '../service/config.ts';
import type { SimulationControl } from '../service/simulation-control.ts';

export interface GatewayServerOptions {
  service: SensorService;
  logger: Logger;
  /** The sensors' clock, the service's: Observe periods and conditions, the Max-Age countdown. */
  clock: Clock;
  /**
   * Real time, for what belongs to the network: retransmissions, duplicate detection, held
   * blocks, Echo values, OSCORE freshness, the write limiter, log throttles, uptime
   * (docs/simulation.md, "Time that runs faster"). Default: `clock`, or a SystemClock when
   * `clock` is a ScaledClock (the network never runs on scaled time).
   */
  networkClock?: Clock;
  /**
   * How many times faster `clock` runs than real time, from 1 to MAX_TIME_SCALE: simulated
   * milliseconds of freshness and retry times are divided by it to make a Max-Age in real
   * seconds. Default: the rate of a ScaledClock, else 1; a value that contradicts the clock's
   * rate is refused.
   */
  timeScale?: number;
  /** Default '::' (dual stack: IPv6 and IPv4). */
  host?: string;
  /** Default 5683 (RFC 7252 section 6.1); 0 picks an ephemeral port. */
  port?: number;
  /** Timing of confirmable messages (notifications, separate responses); defaults are RFC 7252's and RFC 7641's. */
  observeTiming?: Partial<ObserveTiming>;
  /** In [0, 1): the random part of retransmission timeouts (tests pin it). */
  random?: () => number;
  /** Bounds of the duplicate-detection store, in entries and bytes (exchange-store.ts has the defaults). */
  exchanges?: Partial<ExchangeLimits>;
  /** Bounds of the Observe table, in entries and bytes (observe-limits.ts has the defaults). */
  observerLimits?: Partial<ObserverLimits>;
  /** Bounds of the representations held for block-wise transfers, in entries and bytes (block2.ts has the defaults). */
  held?: Partial<HoldLimits>;
  /**
   * Default true: loopback sources count as verified addresses (reliability.ts says why).
   * Tests of the amplification rules turn it off to be strangers on 127.0.0.1.
   */
  trustLoopback?: boolean;
  /** A socket already bound by bindCoapSocket (npm start binds before modules load); host and port are then unused. */
  socket?: Socket;
  /** OSCORE security contexts (RFC 8613); without them a protected request gets 4.02. Closed with the server. */
  oscore?: OscoreServer;
  /** Who may do what (docs/security.md); default: the default rules of config.ts. */
  access?: AccessConfig;
  /** The MQTT uplink's state for /gw/stats (docs/uplink.md), when there is one. */
  uplinkStats?: () => CborMap;
  /** Live control of the simulated sensors (docs/simulation.md), served at /gw/sim; absent on real hardware. */
  simulation?: SimulationControl;
}

export const DEFAULT_COAP_PORT = 5683;
export const DEFAULT_HOST = '::';

/**
 * How long a handler may take before the request gets an Empty ACK and the response comes
 * separately (RFC 7252 section 5.2.2). A reading takes well under this; a client's first
 * retransmission comes after ACK_TIMEOUT (2 s or more), so waiting this long never provokes one.
 */
export const PIGGYBACK_REPLY_MS = 500;

/** UDP receive buffer of the server socket (SO_RCVBUF): a burst of ACKs from a thousand observers fits. */
const RECEIVE_BUFFER_BYTES = 1 << 20;

const GET = codeByte('0.01');
const FETCH = codeByte('0.05');

/** One request on its way through the pipeline. */
interface Pending extends LoggedRequest {
  peer: Peer;
  messageId: number;
  token: Uint8Array;
  requestBytes: number;
  exchange: Exchange;
  /** Set when the request came protected with OSCORE: every response to it is protected too. */
  protection?: Protection | undefined;
}

/**
 * How long an Echo value verifies its address (echo-values.ts): a client follows the blocks of
 * a response within seconds.
 */
const ADDRESS_ECHO_VALID_MS = 120_000;

/** Methods that read (RFC 7252 section 5.1 safe methods, and FETCH, RFC 8132): every other one is a write. */
const READS = new Set(['0.01', '0.05']);

export class GatewayServer {
  readonly #socket: Socket;
  readonly #log: Logger;
  readonly #router: Router;
  readonly #observe: ObserveLayer;
  readonly #reliability: Reliability;
  readonly #exchanges: ExchangeStore;
  readonly #held: HeldRepresentations;
  readonly #counter: ResponseCounter;
  readonly #oscore: OscoreFront;
  readonly #access: AccessPolicy;
  readonly #writes: WriteLimiter;
  /** Echo values bound to client addresses (RFC 9175 section 2.4): a repeat verifies the address. */
  readonly #echo: EchoValues;
  /** Set only at debug level: one line per request (request-log.ts). */
  readonly #requests: RequestLog | undefined;
  readonly #piggybackTimers = new Set<NodeJS.Timeout>();
  /** Failure lines a datagram can cause (a bug it found): one per kind every 10 s, with a count. */
  readonly #errors: LogThrottle;
  readonly port: number;
  readonly host: string;
  /** How many times faster the sensors' clock runs than the network's (GatewayServerOptions.timeScale). */
  readonly timeScale: number;
  #closed = false;

  private constructor(socket: Socket, options: GatewayServerOptions, log: Logger) {
    const { service, clock } = options;
    const networkClock = networkClockOf(options);
    this.timeScale = timeScaleOf(options);
    this.#socket = socket;
    this.#log = log;
    // Everything below that keeps time for the network: real time even when the sensors' runs faster.
    const now = () => monotonicMs(networkClock);
    this.#errors = new LogThrottle(now).flushEvery();
    this.#counter = new ResponseCounter();
    this.#exchanges = new ExchangeStore(now, options.exchanges);
    this.#held = new HeldRepresentations(now, options.held);
    this.#oscore = new OscoreFront(options.oscore, now);
    this.#echo = new EchoValues(ADDRESS_ECHO_VALID_MS, now);
    const access = options.access ?? DEFAULT_ACCESS;
    this.#access = new AccessPolicy(access);
    this.#writes = new WriteLimiter(access.writesPerClient, now);
    const timing = checkTiming({ ...DEFAULT_OBSERVE_TIMING, ...options.observeTiming });
    this.#reliability = new Reliability({ clock: networkClock, timing, random: options.random ?? Math.random, send: (d, peer) => this.#send(d, peer), trustLoopback: options.trustLoopback ?? true });
    let router: Router | undefined;
    this.#observe = new ObserveLayer({
      service,
      clock,
      networkClock,
      logger: log,
      counter: this.#counter,
      reliability: this.#reliability,
      resourceAt: (path) => router?.observable(path),
      send: (d, peer) => this.#send(d, peer),
      hold: (key, address, rep) => this.#held.hold(key, address, rep),
      ...(options.observerLimits ? { limits: options.observerLimits } : {}),
    });
    router = new Router({
      service,
      logger: log,
      stats: { service, counter: this.#counter, observers: (sensor) => this.#observe.observers(sensor), exchanges: () => this.#exchanges.stats, clock: networkClock, startedAtMs: now(), uplink: options.uplinkStats },
      ...(options.simulation ? { simulation: options.simulation } : {}),
      timeScale: this.timeScale,
    });
    this.#router = router;
    // Real elapsed time, whatever clocks the gateway runs on (a test's ManualClock would say 0 ms).
    this.#requests = isLevelEnabled(log, 'debug') ? new RequestLog(log, () => performance.now()) : undefined;
    const address = socket.address();
    this.port = address.port;
    this.host = address.address;
    socket.on('message', this.#onMessage);
    socket.on('error', (err: Error) => log.error('CoAP socket error', { detail: err.message }));
  }

  static async start(options: GatewayServerOptions): Promise<GatewayServer> {
    const log = options.logger.child({ component: 'coap' });
    // Refused before a socket is bound: nothing is left open by options that contradict each other.
    timeScaleOf(options);
    const socket = options.socket ?? (await bindCoapSocket(options.host ?? DEFAULT_HOST, options.port ?? DEFAULT_COAP_PORT));
    try {
      socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch (err) {
      log.debug('receive buffer size not raised', { detail: err instanceof Error ? err.message : String(err) });
    }
    let server: GatewayServer;
    try {
      server = new GatewayServer(socket, options, log);
    } catch (err) {
      // A socket bound here is ours to close (one handed in stays the caller's).
      if (options.socket === undefined) socket.close();
      throw err;
    }
    log.info('CoAP server listening', { host: server.host, port: server.port, resources: server.#router.paths.join(' ') });
    return server;
  }

  /** What /gw/stats shows, as a value: the HTTP view's /metrics (docs/http.md). */
  stats(): CborMap {
    return this.#router.statsSnapshot();
  }

  /** The access policy's answer alone, without serving anything: undefined when allowed. */
  refuses(method: string, path: string, who: Requester): GatewayError | undefined {
    return this.#access.check(method, path, who);
  }

  /**
   * A request that reached the gateway another way than CoAP (the HTTP view, an RFC 8075
   * HTTP-to-CoAP mapping): the same access policy and write limits, then the same resources.
   * Never throws: a refusal or a failure is a Reply with its catalogue code.
   */
  proxied(view: RequestView, who: Requester): Reply | Promise<Reply> {
    const refused = this.#admit(view.method, view.path, who, { peer: who.address, via: 'http', method: view.method });
    return refused !== undefined ? fromError(errorReply(refused)) : this.#router.dispatch(view, who);
  }

  /** Registered observers (RFC 7641), in all or of one sensor. */
  observers(sensor?: string): number {
    return this.#observe.observers(sensor);
  }

  /** The duplicate-detection store: exchanges held, forgotten early, duplicates recognised. */
  get exchanges(): ExchangeStats {
    return this.#exchanges.stats;
  }

  /** Representations held for block-wise transfers, and the bytes they are charged (block2.ts). */
  get held(): { entries: number; bytes: number } {
    return this.#held.stats;
  }

  /** Bytes charged by the registered observers (observe-limits.ts). */
  get observerBytes(): number {
    return this.#observe.bytes;
  }

  /** True when the socket also takes IPv4 (bound to the IPv6 wildcard with IPV6_V6ONLY off). */
  get dualStack(): boolean {
    return this.host === '::';
  }

  /**
   * Stops answering at once: the socket closes, timers stop, and a reply still being computed
   * (a module call in flight) is dropped when it comes; its client retransmits to a gateway that
   * is gone, which is what a stopped server means. Nothing is sent after this resolves.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#piggybackTimers) clearTimeout(t);
    this.#piggybackTimers.clear();
    this.#observe.close();
    this.#reliability.close();
    this.#router.close();
    this.#errors.close();
    this.#exchanges.clear();
    this.#held.clear();
    await this.#oscore.close();
    this.#socket.off('message', this.#onMessage);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    this.#log.debug('CoAP server closed');
  }

  readonly #onMessage = (datagram: Buffer, rinfo: AddressInfo): void => {
    try {
      this.#receive(datagram, { address: rinfo.address, port: rinfo.port });
    } catch (err) {
      logThrottled(this.#errors, this.#log, 'error', 'datagram', 'datagram handling failed', { peer: `${rinfo.address}:${rinfo.port}`, detail: err instanceof Error ? err.message : String(err) });
    }
  };

  #receive(datagram: Buffer, peer: Peer): void {
    const parsed = parseMessage(datagram);
    if (!parsed.ok) {
      // Section 4.2: a malformed CON is rejected with a RST; anything else malformed is dropped (4.3, 3).
      if (parsed.header?.type === MessageType.CON) this.#reset(peer, parsed.header.messageId, `malformed (${parsed.problem})`);
      else this.#dropped(peer, `malformed (${parsed.problem})`);
      return;
    }
    const m = parsed.message;
    if (m.code === 0) {
      if (m.type === MessageType.CON) this.#reset(peer, m.messageId, 'ping'); // section 4.3, "CoAP ping"
      else if (m.type !== MessageType.NON) this.#reliability.match(m.type, peer, m.messageId);
      return;
    }
    if (codeClass(m.code) !== 0 || m.type === MessageType.ACK || m.type === MessageType.RST) {
      // A response (this socket sends no requests) or a request in an ACK/RST: nothing expects it.
      if (m.type === MessageType.CON) this.#reset(peer, m.messageId, `unexpected code ${codeString(m.code)}`);
      else this.#dropped(peer, `unexpected ${codeString(m.code)} in type ${m.type}`);
      return;
    }

    const startedMs = this.#requests?.now() ?? 0;
    const confirmable = m.type === MessageType.CON;
    const taken = this.#exchanges.take(peer.address, peer.port, m.messageId, confirmable, datagram.length);
    if ('duplicate' in taken) {
      const replayed = this.#duplicate(taken.duplicate, peer, m.messageId, datagram.length);
      if (this.#requests !== undefined && replayed !== undefined) {
        this.#requests.write({ peer, type: m.type, method: methodName(m.code), request: undefined, path: pathOf(m), startedMs }, codeString(replayed.charCodeAt(1)), 'duplicate');
      }
      return;
    }
    let inner = m;
    let protection: Protection | undefined;
    // Without credentials the OSCORE option is an unknown critical option like any other:
    // readRequest refuses it (4.02, or a RST for a NON; RFC 7252 section 5.4.1).
    if (!this.#oscore.enabled || !OscoreFront.isProtected(m)) this.#checkEcho(m, peer);
    else {
      const unwrapped = this.#oscore.unwrap(m, `${peer.address}|${peer.port}`, peer.address);
      if (unwrapped.kind === 'reply') {
        const front = { peer, type: m.type, method: methodName(m.code), request: undefined, path: '(protected)', startedMs, messageId: m.messageId, token: m.token, requestBytes: datagram.length, exchange: taken.begun };
        this.#respondFront(front, unwrapped.reply);
        return;
      }
      if (unwrapped.kind === 'inner') {
        inner = unwrapped.inner;
        protection = unwrapped.protection;
      }
    }
    const read = readRequest(inner);
    const p: Pending = { peer, type: m.type, method: methodName(inner.code), request: read.ok ? read.request : undefined, path: read.ok ? undefined : pathOf(inner), startedMs, messageId: m.messageId, token: m.token, requestBytes: datagram.length, exchange: taken.begun, protection };
    if (!read.ok) {
      if (read.reset) {
        this.#reset(peer, m.messageId, read.reason);
        return;
      }
      this.#respond(p, { reply: fromError(errorReply(read.error)), via: 'refused' }, read.reason);
      return;
    }
    const req = read.request;
    const who: Requester = protection === undefined ? { address: peer.address } : { address: peer.address, oscoreClient: protection.security.client };
    const refused = this.#admit(req.view.method, req.view.path, who, { peer: `${peer.address}:${peer.port}`, ...(who.oscoreClient !== undefined ? { client: who.oscoreClient } : {}), method: p.method });
    if (refused !== undefined) {
      this.#respond(p, { reply: fromError(errorReply(refused)), via: 'refused' }, refused.details.detail);
      return;
    }

    if (req.observe !== undefined && (inner.code === GET || inner.code === FETCH)) {
      // RFC 7641 section 3.6: Observe=1 ends the registration with this token, then is a plain request.
      if (req.observe === 1) this.#observe.deregister(peer, m.token);
      else if (req.observe === 0 && (req.block2 === undefined || req.block2.num === 0)) {
        // A registration asks for block 0 if for any (RFC 7959 section 2.6); Observe on a later
        // block is served as a plain request.
        const protect = protection === undefined ? undefined : (plain: Buffer) => this.#oscore.protect(plain, protection, peer.address);
        const register = () => this.#observe.register(req, peer, m.token, confirmable, { requestBytes: datagram.length, holdKey: holdKey(peer, req), protect });
        // A sensor whose module has not started yet: start it first, so that the observation is
        // of what the module announces (a pack, a quantity), not of a stand-in (router.ts).
        const settling = this.#router.settling(req.view.path);
        if (settling !== undefined) {
          this.#await(p, settling.then(() => register() ?? this.#plain(req.view, who)));
          return;
        }
        const registration = register();
        if (registration !== undefined) {
          this.#await(p, registration);
          return;
        }
      }
    }
    if (req.block2 !== undefined && req.block2.num > 0) {
      const held = this.#held.get(holdKey(peer, req));
      if (held !== undefined) {
        this.#respond(p, { reply: held.reply, via: 'held', held });
        return;
      }
    }
    const reply = this.#router.dispatch(req.view, who);
    if (reply instanceof Promise) this.#await(p, reply.then((r) => ({ reply: r, via: 'resource' as const })));
    else this.#respond(p, { reply, via: 'resource' });
  }

  /** A request served without Observe, as an outcome (the path is not observable after all). */
  async #plain(view: RequestView, who: Requester): Promise<Outcome> {
    return { reply: await this.#router.dispatch(view, who), via: 'resource' };
  }

  /** A reply that is not ready: piggybacked if it comes in time, else an Empty ACK now and the reply as a separate CON (section 5.2.2). */
  #await(p: Pending, outcome: Promise<Outcome>): void {
    let timer: NodeJS.Timeout | undefined;
    if (p.type === MessageType.CON) {
      // Real time, whatever clock the gateway runs on: it races the client's ACK_TIMEOUT, which
      // runs on the client's real clock.
      timer = setTimeout(() => {
        this.#piggybackTimers.delete(timer!);
        if (this.#closed) return;
        p.exchange.emptyAckSent = true;
        this.#send(emptyMessage(MessageType.ACK, p.messageId), p.peer);
      }, PIGGYBACK_REPLY_MS);
      this.#piggybackTimers.add(timer);
    }
    outcome
      .catch((err: unknown): Outcome => {
        logThrottled(this.#errors, this.#log, 'error', 'handler', 'request handler failed', { path: p.request?.view.path, detail: err instanceof Error ? err.message : String(err) });
        return { reply: fromError(errorReply(err, this.timeScale)), via: 'resource' };
      })
      .then((o) => {
        if (timer !== undefined) {
          clearTimeout(timer);
          this.#piggybackTimers.delete(timer);
        }
        if (!this.#closed) this.#respond(p, o);
      })
      .catch((err: unknown) => logThrottled(this.#errors, this.#log, 'error', 'response', 'response failed', { detail: err instanceof Error ? err.message : String(err) }));
  }

  #respond(p: Pending, o: Outcome, reason?: string): void {
    if (this.#closed) return;
    const req = p.request;
    const verified = this.#reliability.isVerified(p.peer.address);
    // No address Echo inside a protected response: its repeat would be inside the ciphertext,
    // where #checkEcho does not look (RFC 8613's Echo there is freshness, oscore-server.ts).
    const ctx = { block2: req?.block2, verified, requestBytes: p.requestBytes, observe: o.observe, held: o.held, echo: verified || p.protection !== undefined ? undefined : () => this.#echo.issue(p.peer.address) };
    let reply = o.reply;
    const separate = p.exchange.emptyAckSent;
    const type = p.type === MessageType.CON && !separate ? MessageType.ACK : separate ? MessageType.CON : MessageType.NON;
    const build = (messageId: number): Buffer => {
      let written = writeResponse(reply, { type, messageId, token: p.token }, ctx);
      if (!written.ok) {
        // An error carries no Observe (RFC 7641 section 4.2) and no block.
        reply = fromError(errorReply(written.error));
        written = writeResponse(reply, { type, messageId, token: p.token }, { ...ctx, observe: undefined, block2: undefined });
      }
      if (!written.ok) throw written.error;
      if (written.blocks !== undefined && req !== undefined && o.held === undefined) this.#held.hold(holdKey(p.peer, req), p.peer.address, written.blocks);
      return p.protection === undefined ? written.datagram : this.#oscore.protect(written.datagram, p.protection, p.peer.address);
    };
    if (type === MessageType.ACK) {
      const datagram = build(p.messageId);
      this.#exchanges.recordReply(p.exchange, datagram);
      this.#send(datagram, p.peer);
      o.sent?.(type, p.messageId);
    } else if (type === MessageType.NON) {
      const messageId = this.#reliability.newMessageId(p.peer);
      this.#send(build(messageId), p.peer);
      o.sent?.(type, messageId);
    } else if (o.sendConfirmable !== undefined) {
      const messageId = this.#reliability.newMessageId(p.peer);
      o.sendConfirmable(messageId, build(messageId));
    } else {
      this.#reliability.sendConfirmable(p.peer, build);
    }
    this.#counter.count('requests', reply.code);
    this.#requests?.write(p, reply.code, o.via, reason);
  }

  /**
   * The access policy, then for a write the client's write rate (docs/security.md), for every
   * way a request reaches the resources; a refusal is logged (throttled, with the peer).
   */
  #admit(method: string, path: string, who: Requester, logFields: Record<string, string>): GatewayError | undefined {
    const refused = this.#access.check(method, path, who) ?? (READS.has(method) ? undefined : this.#writes.take(who));
    if (refused !== undefined) {
      logThrottled(this.#errors, this.#log, 'warn', `refused ${refused.code}`, 'request refused by the access policy', { ...logFields, path, code: refused.code, detail: refused.details.detail });
    }
    return refused;
  }

  /** A plain request repeating an Echo value we sent to its address verifies that address (echo-values.ts). */
  #checkEcho(m: WireMessage, peer: Peer): void {
    for (const o of m.options) {
      if (o.number !== Option.ECHO) continue;
      if (!this.#reliability.isVerified(peer.address) && this.#echo.verifies(peer.address, o.value)) {
        this.#reliability.verifiedByEcho(peer.address);
        this.#log.debug('address verified by Echo (RFC 9175 section 2.4)', { peer: `${peer.address}:${peer.port}` });
      }
      return;
    }
  }

  /**
   * A reply of the OSCORE front (an unprotected section 8.2 error, a protected Echo challenge,
   * a held outer block): piggybacked on the ACK of a CON, a NON for a NON.
   */
  #respondFront(p: Pending, reply: FrontReply): void {
    if (p.type === MessageType.CON) {
      const datagram = reply.build(MessageType.ACK, p.messageId, p.token);
      this.#exchanges.recordReply(p.exchange, datagram);
      this.#send(datagram, p.peer);
    } else {
      this.#send(reply.build(MessageType.NON, this.#reliability.newMessageId(p.peer), p.token), p.peer);
    }
    if (reply.refusal) logThrottled(this.#errors, this.#log, 'warn', `oscore ${reply.code}`, 'protected request refused', { peer: `${p.peer.address}:${p.peer.port}`, code: reply.code, detail: reply.reason });
    this.#counter.count('requests', reply.code);
    this.#requests?.write(p, reply.code, 'refused', reply.reason);
  }

  /**
   * RFC 7252 section 4.5: a duplicate CON gets the reply sent for the original (or the Empty ACK
   * again); a NON is ignored. The stored reply goes again only within the budget of the
   * duplicate itself (response-writer.ts): a retransmission is the same bytes as its original,
   * so it always is, while a few bytes replaying the Message ID of a padded request, from an
   * unverified address, get nothing (section 11.3).
   */
  #duplicate(e: Exchange, peer: Peer, messageId: number, bytes: number): string | undefined {
    if (!e.confirmable) {
      this.#dropped(peer, 'duplicate NON');
      return undefined;
    }
    if (e.reply !== undefined && e.reply.length > amplificationBudget(bytes) && !this.#reliability.isVerified(peer.address)) {
      this.#dropped(peer, 'duplicate whose stored reply is over its budget, from an unverified address');
      return undefined;
    }
    if (e.reply !== undefined) {
      this.#send(Buffer.from(e.reply, 'latin1'), peer);
      return e.reply;
    }
    if (e.emptyAckSent) this.#send(emptyMessage(MessageType.ACK, messageId), peer);
    else this.#dropped(peer, 'duplicate of a request still being answered');
    return undefined;
  }

  #reset(peer: Peer, messageId: number, reason: string): Buffer {
    const rst = emptyMessage(MessageType.RST, messageId);
    this.#send(rst, peer);
    this.#log.debug('datagram rejected with a RST', { peer: `${peer.address}:${peer.port}`, reason });
    return rst;
  }

  #dropped(peer: Peer, reason: string): void {
    this.#log.debug('datagram dropped', { peer: `${peer.address}:${peer.port}`, reason });
  }

  #send(datagram: Buffer, peer: Peer): void {
    if (this.#closed) return;
    this.#socket.send(datagram, peer.port, peer.address);
  }
}

/** GatewayServerOptions.networkClock: never a ScaledClock by default. */
function networkClockOf(options: GatewayServerOptions): Clock {
  if (options.networkClock !== undefined) return options.networkClock;
  return options.clock instanceof ScaledClock ? new SystemClock() : options.clock;
}

/** GatewayServerOptions.timeScale, checked: contradicting options are refused up front. */
function timeScaleOf(options: GatewayServerOptions): number {
  const rate = options.clock instanceof ScaledClock ? options.clock.rate : undefined;
  const scale = options.timeScale ?? rate ?? 1;
  if (!Number.isFinite(scale) || scale < 1 || scale > MAX_TIME_SCALE) throw new RangeError(`timeScale must be from 1 to ${MAX_TIME_SCALE}, got ${scale}`);
  if (rate !== undefined && scale !== rate) throw new RangeError(`timeScale ${scale} contradicts the clock's rate ${rate}`);
  return scale;
}
