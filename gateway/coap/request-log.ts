/**
 * The debug line of each CoAP request, written when its response leaves:
 *
 *   DEBUG request component=coap peer=127.0.0.1:51234 type=CON method=GET path=/temp code=2.05 ms=0.183 via=fast-path
 *
 * A request is answered in one of several places (the datagram guard, the Observe layer, the
 * fast path, node-coap's duplicate cache, node-coap and the router, at once or as a separate
 * response after an empty ACK), but every answer leaves through the one server socket. So the
 * server notes each request as it arrives (arrived, then servedBy with the layer that took it)
 * and watches the socket's sends (watchSends); the first response sent to that peer with that
 * token (RFC 7252 section 5.3.2: token and endpoint match a response to its request) completes
 * the line. Empty ACKs and RSTs are not responses; notifications (RFC 7641) carry the token of
 * a registration whose line is already written and match nothing.
 *
 * The server builds this only when the logger writes debug lines: at any other level a
 * request costs one `undefined` check.
 */
import type { Socket } from 'node:dgram';
import type { Logger } from '../log.ts';
import { MessageType, type WireMessage, codeClass, codeString, readUint } from './coap-wire.ts';
import { Option } from './datagram-guard.ts';
import { requestViewOf } from './wire-request.ts';

/**
 * Which layer answered (server.ts's diagram). 'response-cache': a duplicate CON answered with
 * the bytes sent for the original (RFC 7252 section 4.5), whether the fast path or node-coap
 * looked it up.
 */
export type ServedBy = 'guard' | 'observe' | 'fast-path' | 'response-cache' | 'node-coap';

const METHODS: Record<number, string> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH', 6: 'PATCH', 7: 'iPATCH' };

/**
 * Requests awaiting their response. A request that never gets one (an Observe registration
 * retransmitted while the first is still reading) is forgotten, oldest first, past this.
 */
const MAX_PENDING = 1024;

interface Peer {
  address: string;
  port: number;
}

/** One request between arrival and its log line. */
export class PendingRequest {
  readonly #log: RequestLog;
  readonly key: string;
  readonly fields: Record<string, unknown>;
  readonly startedMs: number;
  #via: ServedBy | undefined;
  #detail: string | undefined;
  #answer: { code: string; ms: number } | undefined;
  #done = false;

  constructor(log: RequestLog, key: string, fields: Record<string, unknown>, startedMs: number) {
    this.#log = log;
    this.key = key;
    this.fields = fields;
    this.startedMs = startedMs;
  }

  /** The layer that took the request; the line is written now if the response already left. */
  servedBy(via: ServedBy, detail?: string): void {
    this.#via = via;
    this.#detail = detail;
    this.#flush();
  }

  /** No response will come (the request was dropped). */
  abandon(): void {
    this.#done = true;
    this.#log.forget(this);
  }

  answered(code: string, ms: number): void {
    this.#answer = { code, ms };
    this.#flush();
  }

  #flush(): void {
    if (this.#done || this.#via === undefined || this.#answer === undefined) return;
    this.#done = true;
    this.#log.write(this, this.#answer.code, this.#answer.ms, this.#via, this.#detail);
  }
}

export class RequestLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #pending = new Map<string, PendingRequest>();

  /** `now`: milliseconds, monotonic and sub-millisecond (performance.now); real time taken, whatever clock the gateway runs on. */
  constructor(logger: Logger, now: () => number) {
    this.#log = logger;
    this.#now = now;
  }

  /** A request (an Empty message is not one) that passed the guard or that it answers. */
  arrived(m: WireMessage, peer: Peer, startedMs: number): PendingRequest | undefined {
    if (m.code === 0 || codeClass(m.code) !== 0) return undefined;
    const view = requestViewOf(m);
    const fields: Record<string, unknown> = {
      peer: `${peer.address}:${peer.port}`,
      type: m.type === MessageType.CON ? 'CON' : m.type === MessageType.NON ? 'NON' : String(m.type),
      method: METHODS[m.code] ?? codeString(m.code),
      path: view.path,
    };
    if (view.query !== '') fields['query'] = view.query;
    const observe = m.options.find((o) => o.number === Option.OBSERVE);
    if (observe !== undefined) {
      const value = observe.value.length <= 3 ? readUint(observe.value) : -1;
      fields['observe'] = value === 0 ? 'register' : value === 1 ? 'deregister' : value;
    }
    const key = keyOf(peer.address, peer.port, m.token);
    const pending = new PendingRequest(this, key, fields, startedMs);
    // A retransmission or a reused token replaces the entry: its response answers the newest.
    this.#pending.delete(key);
    if (this.#pending.size >= MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
    this.#pending.set(key, pending);
    return pending;
  }

  /** A datagram the server socket sends; a response completes its request's line. */
  sent(datagram: Uint8Array, port: number, address: string): void {
    if (datagram.length < 4 || datagram[0]! >> 6 !== 1) return;
    const code = datagram[1]!;
    const cls = codeClass(code);
    if (cls < 2) return; // Empty (ACK, RST) or a request: not a response
    const tkl = datagram[0]! & 0x0f;
    if (tkl > 8 || datagram.length < 4 + tkl) return;
    const key = keyOf(address, port, datagram.subarray(4, 4 + tkl));
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    this.#pending.delete(key);
    pending.answered(codeString(code), this.#now() - pending.startedMs);
  }

  forget(pending: PendingRequest): void {
    if (this.#pending.get(pending.key) === pending) this.#pending.delete(pending.key);
  }

  write(pending: PendingRequest, code: string, ms: number, via: ServedBy, detail: string | undefined): void {
    this.#log.debug('request', {
      ...pending.fields,
      code,
      // Microseconds are what a fast-path answer takes; milliseconds would show 0.
      ms: Math.round(ms * 1000) / 1000,
      via,
      ...(detail !== undefined ? { reason: detail } : {}),
    });
  }

  /**
   * Sees every datagram the socket sends, whoever sends it (node-coap sends through the socket
   * it was given). Installed on the socket object itself, and only when debug lines are on.
   */
  watchSends(socket: Socket): void {
    const send = socket.send;
    const log = this;
    const watched = function (this: Socket, ...args: unknown[]): void {
      try {
        // send(msg, port, address[, cb]) or send(msg, offset, length, port, address[, cb])
        const [msg, a, b, c, d] = args;
        if (msg instanceof Uint8Array) {
          if (typeof b === 'number' && typeof c === 'number') log.sent(msg.subarray(a as number, (a as number) + b), c, String(d));
          else if (typeof a === 'number') log.sent(msg, a, String(b));
        }
      } catch {
        // Logging never stands between the gateway and its reply.
      }
      Reflect.apply(send, this, args);
    };
    socket.send = watched as Socket['send'];
  }
}

function keyOf(address: string, port: number, token: Uint8Array): string {
  return `${address}|${port}|${Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('hex')}`;
}
