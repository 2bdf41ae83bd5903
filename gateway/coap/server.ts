/**
 * The gateway's CoAP server: one UDP socket, node-coap for message layer work (piggybacked and
 * separate responses, duplicate-CON detection, Block2) with our bounded response cache in place
 * of its own (response-cache.ts), a datagram guard in front of it, and the router behind it.
 *
 *   UDP datagram ──> DatagramGuard ──pass──> ObserveLayer ──> FastPath ──> node-coap (parse, dedup cache) ──> Router ──> resources
 *                        │                        │              └ a CON GET of a fresh reading: answered at once
 *                        │                        │ registrations, Observe=1, ACK/RST of notifications
 *                        │                        └──> Observations ──> notifications on the same socket
 *                        │ reset / reply (RST, 4.02, 4.15, 5.05) straight back to the sender
 *                        └ drop
 *
 * At debug level each request gets one log line when its response leaves the socket, whichever
 * layer answered it (request-log.ts); at other levels none of that code runs.
 *
 * Dual stack: the default host '::' binds an IPv6 socket with IPV6_V6ONLY off, so IPv4 peers
 * arrive as ::ffff:a.b.c.d and are answered on the same socket.
 */
import type { Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Server as CoapServer } from 'coap';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { type Logger, isLevelEnabled } from '../log.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { MessageType, codeClass, parseMessage } from './coap-wire.ts';
import { bindCoapSocket } from '../bind-socket.ts';
import { DatagramGuard } from './datagram-guard.ts';
import { FastPath } from './fast-path.ts';
import { ObserveLayer } from './observe-layer.ts';
import type { ObserveTiming } from './observe-timing.ts';
import { NonDuplicateFilter } from './non-duplicates.ts';
import { ResponseCache, type ResponseCacheLimits, type ResponseCacheStats } from './response-cache.ts';
import { RequestLog } from './request-log.ts';
import { ResponseCounter } from './response-counter.ts';
import { Router } from './router.ts';

export interface GatewayServerOptions {
  service: SensorService;
  logger: Logger;
  clock: Clock;
  /** Default '::' (dual stack: IPv6 and IPv4). */
  host?: string;
  /** Default 5683 (RFC 7252 section 6.1); 0 picks an ephemeral port. */
  port?: number;
  /** Confirmable-notification timing; defaults are RFC 7252's and RFC 7641's (observe-timing.ts). */
  observeTiming?: Partial<ObserveTiming>;
  /** In [0, 1): the random part of retransmission timeouts (tests pin it). */
  random?: () => number;
  /** Bounds of the duplicate-CON response cache (response-cache.ts has the defaults). */
  responseCache?: Partial<ResponseCacheLimits>;
  /** A socket already bound by bindCoapSocket (npm start binds before modules load); host and port are then unused. */
  socket?: Socket;
}

export const DEFAULT_COAP_PORT = 5683;
export const DEFAULT_HOST = '::';

/**
 * How long a handler may take before node-coap sends an empty ACK and the response separately
 * (RFC 7252 section 5.2.2). A reading takes well under this; a client's first retransmission
 * comes after ACK_TIMEOUT (2 s or more), so waiting this long never provokes a duplicate.
 */
const PIGGYBACK_REPLY_MS = 500;

/** UDP receive buffer of the server socket (SO_RCVBUF); see start(). */
const RECEIVE_BUFFER_BYTES = 1 << 20;

/** node-coap with the guard in front of its parser. handleRequest() is the public hook node-coap calls from listen(). */
class GuardedCoapServer extends CoapServer {
  readonly #nonDuplicates: NonDuplicateFilter;
  readonly #guard: DatagramGuard;
  readonly #observe: ObserveLayer;
  readonly #fast: FastPath;
  readonly #counter: ResponseCounter;
  readonly #log: Logger;
  readonly #responses: ResponseCache;
  /** Set only at debug level: one line per request (request-log.ts). */
  readonly #requests: RequestLog | undefined;
  /** Sends on our own socket (the one handed to listen()), not through node-coap's private `_sock`. */
  readonly #send: (datagram: Buffer, peer: AddressInfo) => void;

  constructor(guard: DatagramGuard, observe: ObserveLayer, fast: FastPath, counter: ResponseCounter, logger: Logger, nonDuplicates: NonDuplicateFilter, responses: ResponseCache, requests: RequestLog | undefined, send: (datagram: Buffer, peer: AddressInfo) => void) {
    super({ piggybackReplyMs: PIGGYBACK_REPLY_MS, sendAcksForNonConfirmablePackets: true });
    // node-coap's own cache grows without bound under load (response-cache.ts says why); it
    // reaches the cache only through this field.
    this._lru = responses as unknown as typeof this._lru;
    this.#nonDuplicates = nonDuplicates;
    this.#guard = guard;
    this.#observe = observe;
    this.#fast = fast;
    this.#counter = counter;
    this.#log = logger;
    this.#responses = responses;
    this.#requests = requests;
    this.#send = send;
  }

  override handleRequest(): (msg: Buffer, rsinfo: AddressInfo) => void {
    const inner = super.handleRequest();
    return (msg, rsinfo) => {
      const startedMs = this.#requests === undefined ? 0 : performance.now();
      let verdict;
      try {
        verdict = this.#guard.vet(msg);
      } catch (err) {
        this.#log.error('datagram guard failed', { detail: err instanceof Error ? err.message : String(err) });
        return;
      }
      switch (verdict.action) {
        case 'pass': {
          const m = verdict.message;
          // RFC 7252 section 4.5: a duplicated NON request is ignored, processed once.
          if (m.type === MessageType.NON && codeClass(m.code) === 0 && m.code !== 0 && this.#nonDuplicates.isDuplicate(rsinfo.address, rsinfo.port, m.messageId)) {
            this.#log.debug('duplicate NON request ignored', { peer: `${rsinfo.address}:${rsinfo.port}`, messageId: m.messageId });
            return;
          }
          const request = this.#requests?.arrived(m, rsinfo, startedMs);
          let onward: Buffer | undefined;
          try {
            onward = this.#observe.intercept(verdict.message, verdict.datagram, rsinfo);
          } catch (err) {
            request?.abandon();
            this.#log.error('observe layer failed', { detail: err instanceof Error ? err.message : String(err) });
            return;
          }
          if (!onward) {
            request?.servedBy('observe');
            return;
          }
          // A request the Observe layer passed unchanged may be one the fast path answers.
          if (onward === verdict.datagram) {
            try {
              const answered = this.#fast.answered;
              if (this.#fast.tryAnswer(m, rsinfo)) {
                // It counts what it answered afresh; a duplicate was resent from the response cache.
                request?.servedBy(this.#fast.answered > answered ? 'fast-path' : 'response-cache');
                return;
              }
            } catch (err) {
              this.#log.error('fast path failed; node-coap answers', { detail: err instanceof Error ? err.message : String(err) });
            }
          }
          // node-coap looks a duplicate up in the response cache synchronously, within inner().
          const matches = request === undefined ? 0 : this.#responses.stats.matches;
          inner(onward, rsinfo);
          request?.servedBy(request !== undefined && this.#responses.stats.matches > matches ? 'response-cache' : 'node-coap');
          return;
        }
        case 'reply': {
          // The guard's 4.02, 4.15 and 5.05 answer requests (its RSTs do not); at debug level the request line says so.
          const parsed = this.#requests !== undefined && codeClass(verdict.datagram[1]!) !== 0 ? parseMessage(msg) : undefined;
          const request = parsed?.ok ? this.#requests?.arrived(parsed.message, rsinfo, startedMs) : undefined;
          if (request === undefined) this.#log.debug('datagram answered by the guard', { peer: `${rsinfo.address}:${rsinfo.port}`, reason: verdict.reason });
          // A RST is not a response; 4.02, 4.15 and 5.05 are (the code byte is the second).
          if (codeClass(verdict.datagram[1]!) !== 0) this.#counter.count('requests', `${verdict.datagram[1]! >> 5}.${String(verdict.datagram[1]! & 0x1f).padStart(2, '0')}`);
          this.#send(verdict.datagram, rsinfo);
          request?.servedBy('guard', verdict.reason);
          return;
        }
        case 'drop':
          this.#log.debug('datagram dropped', { peer: `${rsinfo.address}:${rsinfo.port}`, reason: verdict.reason });
          return;
      }
    };
  }

  /**
   * node-coap's own error path (a parse failure it hits despite the guard, or a Block1 state
   * error) would send its internal error text. Never send it: log and stay silent.
   */
  override _sendError(payload: Buffer, rsinfo: AddressInfo): void {
    this.#log.warn('node-coap error suppressed', { peer: `${rsinfo.address}:${rsinfo.port}`, detail: payload.toString('utf8').slice(0, 200) });
  }
}

export class GatewayServer {
  readonly #coap: GuardedCoapServer;
  readonly #observe: ObserveLayer;
  readonly #responses: ResponseCache;
  readonly #fast: FastPath;
  readonly #socket: Socket;
  readonly #log: Logger;
  readonly port: number;
  readonly host: string;
  #closed = false;

  private constructor(coap: GuardedCoapServer, observe: ObserveLayer, responses: ResponseCache, fast: FastPath, socket: Socket, logger: Logger) {
    this.#coap = coap;
    this.#observe = observe;
    this.#responses = responses;
    this.#fast = fast;
    this.#socket = socket;
    this.#log = logger;
    const address = socket.address();
    this.port = address.port;
    this.host = address.address;
  }

  static async start(options: GatewayServerOptions): Promise<GatewayServer> {
    const host = options.host ?? DEFAULT_HOST;
    const port = options.port ?? DEFAULT_COAP_PORT;
    const log = options.logger.child({ component: 'coap' });
    const { service, clock } = options;

    const socket = options.socket ?? (await bindCoapSocket(host, port));

    // Every observer of a sensor is notified in the same instant, and confirmable
    // notifications come back as a burst of ACKs: room for a thousand of them (the kernel caps
    // this at net.core.rmem_max; a lost ACK only costs a retransmission).
    try {
      socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch (err) {
      log.debug('receive buffer size not raised', { detail: err instanceof Error ? err.message : String(err) });
    }

    const counter = new ResponseCounter();
    const responses = new ResponseCache(() => monotonicMs(clock), options.responseCache);
    let router: Router | undefined;
    const observe = new ObserveLayer({
      service,
      clock,
      logger: log,
      counter,
      resourceAt: (path) => router?.observable(path),
      send: (datagram, peer) => socket.send(datagram, peer.port, peer.address),
      ...(options.observeTiming ? { timing: options.observeTiming } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
    router = new Router({ service, logger: log, counter, stats: { service, counter, observers: (sensor) => observe.observers(sensor), responseCache: () => responses.stats, clock, startedAtMs: monotonicMs(clock) } });
    const send = (datagram: Buffer, peer: { port: number; address: string }) => socket.send(datagram, peer.port, peer.address);
    const fast = new FastPath({ readingAt: (path) => router?.observable(path), responses, counter, send });
    // Real elapsed time, whatever clock the gateway runs on (a test's ManualClock would say 0 ms).
    const requests = isLevelEnabled(log, 'debug') ? new RequestLog(log, () => performance.now()) : undefined;
    requests?.watchSends(socket);
    const coap = new GuardedCoapServer(new DatagramGuard(() => randomInt(0x10000)), observe, fast, counter, log, new NonDuplicateFilter(() => monotonicMs(options.clock)), responses, requests, send);
    coap.on('request', (req, res) => router.handle(req, res));
    coap.on('error', (err: Error) => log.error('CoAP socket error', { detail: err.message }));
    // Handing node-coap a bound socket keeps the socket ours: we know its address and port,
    // choose dual stack, and node-coap never closes it behind our back.
    coap.listen(socket);
    const server = new GatewayServer(coap, observe, responses, fast, socket, log);
    log.info('CoAP server listening', { host: server.host, port: server.port, resources: router.paths.join(' ') });
    return server;
  }

  /** Registered observers (RFC 7641), in all or of one sensor. */
  observers(sensor?: string): number {
    return this.#observe.observers(sensor);
  }

  /** The duplicate-CON response cache: entries held, entries forgotten early, matches. */
  get responseCache(): ResponseCacheStats {
    return this.#responses.stats;
  }

  /** Requests answered by the fast path (fast-path.ts), without node-coap. */
  get fastPathAnswers(): number {
    return this.#fast.answered;
  }

  /** True when the socket also takes IPv4 (bound to the IPv6 wildcard with IPV6_V6ONLY off). */
  get dualStack(): boolean {
    return this.host === '::';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#observe.close();
    this.#coap.close();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    this.#log.debug('CoAP server closed');
  }
}
