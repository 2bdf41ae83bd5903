/**
 * The gateway's CoAP server: one UDP socket, node-coap for message layer work (piggybacked and
 * separate responses, the duplicate-CON response cache, Block2), a datagram guard in front of
 * it, and the router behind it.
 *
 *   UDP datagram ──> DatagramGuard ──pass──> node-coap (parse, dedup cache) ──> Router ──> SensorService
 *                        │ reset / reply (RST, 4.02, 4.15, 5.05) straight back to the sender
 *                        └ drop
 *
 * Dual stack: the default host '::' binds an IPv6 socket with IPV6_V6ONLY off, so IPv4 peers
 * arrive as ::ffff:a.b.c.d and are answered on the same socket.
 */
import { type Socket, createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Server as CoapServer } from 'coap';
import type { Clock } from '../../drivers/clock.ts';
import type { Logger } from '../log.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { DatagramGuard } from './datagram-guard.ts';
import { Router } from './router.ts';

export interface GatewayServerOptions {
  service: SensorService;
  logger: Logger;
  clock: Clock;
  /** Default '::' (dual stack: IPv6 and IPv4). */
  host?: string;
  /** Default 5683 (RFC 7252 section 6.1); 0 picks an ephemeral port. */
  port?: number;
}

export const DEFAULT_COAP_PORT = 5683;
export const DEFAULT_HOST = '::';

/**
 * How long a handler may take before node-coap sends an empty ACK and the response separately
 * (RFC 7252 section 5.2.2). A reading takes well under this; a client's first retransmission
 * comes after ACK_TIMEOUT (2 s or more), so waiting this long never provokes a duplicate.
 */
const PIGGYBACK_REPLY_MS = 500;

/** node-coap with the guard in front of its parser. handleRequest() is the public hook node-coap calls from listen(). */
class GuardedCoapServer extends CoapServer {
  readonly #guard: DatagramGuard;
  readonly #log: Logger;

  constructor(guard: DatagramGuard, logger: Logger) {
    super({ piggybackReplyMs: PIGGYBACK_REPLY_MS, sendAcksForNonConfirmablePackets: true });
    this.#guard = guard;
    this.#log = logger;
  }

  override handleRequest(): (msg: Buffer, rsinfo: AddressInfo) => void {
    const inner = super.handleRequest();
    return (msg, rsinfo) => {
      let verdict;
      try {
        verdict = this.#guard.vet(msg);
      } catch (err) {
        this.#log.error('datagram guard failed', { detail: err instanceof Error ? err.message : String(err) });
        return;
      }
      switch (verdict.action) {
        case 'pass':
          inner(verdict.datagram, rsinfo);
          return;
        case 'reply':
          this.#log.debug('datagram answered by the guard', { peer: `${rsinfo.address}:${rsinfo.port}`, reason: verdict.reason });
          (this._sock as Socket | null)?.send(verdict.datagram, rsinfo.port, rsinfo.address);
          return;
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
  readonly #socket: Socket;
  readonly #log: Logger;
  readonly port: number;
  readonly host: string;
  #closed = false;

  private constructor(coap: GuardedCoapServer, socket: Socket, logger: Logger) {
    this.#coap = coap;
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
    const router = new Router(options.service, log);
    const coap = new GuardedCoapServer(new DatagramGuard(() => randomInt(0x10000)), log);
    coap.on('request', (req, res) => router.handle(req, res));
    coap.on('error', (err: Error) => log.error('CoAP socket error', { detail: err.message }));

    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: false });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    // Handing node-coap a bound socket keeps the socket ours: we know its address and port,
    // choose dual stack, and node-coap never closes it behind our back.
    coap.listen(socket);
    const server = new GatewayServer(coap, socket, log);
    log.info('CoAP server listening', { host: server.host, port: server.port, resources: router.paths.join(' ') });
    return server;
  }

  /** True when the socket also takes IPv4 (bound to the IPv6 wildcard with IPV6_V6ONLY off). */
  get dualStack(): boolean {
    return this.host === '::';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#coap.close();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    this.#log.debug('CoAP server closed');
  }
}
