/**
 * The request nearly every client sends, answered at once without node-coap: a confirmable
 * GET of a reading resource whose sensor has a fresh reading (pacing keeps one for each
 * conversion period, so under load almost every request finds one). node-coap's per-request
 * work (a parse, a readable and a duplex stream, an event emitter with two timers, a generate)
 * was most of the gateway's CPU time and garbage under load (README, "Benchmarks"); here
 * the request costs a lookup, a memoised payload and one small encode.
 *
 * The answer is what node-coap would send for the router's Reply: a piggybacked ACK (RFC 7252
 * section 5.2.1) with the request's Message ID and token, Content-Format and Max-Age. It goes
 * into the same response cache under node-coap's own key, so a duplicate is answered with the
 * same bytes (section 4.5) whichever path served the original.
 *
 * Everything else goes on to node-coap exactly as before: NON requests (their responses need
 * a Message ID of ours), other methods, other options (Block2, ETag, Proxy-*...), unknown
 * paths, requests that must wait for a read, and requests to refuse.
 */
import type { AddressInfo } from 'node:net';
import { MessageType, type WireMessage, codeByte } from './coap-wire.ts';
import { Option } from './datagram-guard.ts';
import type { ReadingResource } from './reading-resource.ts';
import type { ResponseCache } from './response-cache.ts';
import type { ResponseCounter } from './response-counter.ts';
import { replyDatagram, requestViewOf } from './wire-request.ts';

const GET = codeByte('0.01');
/** node-coap answers block-wise from 1,024 payload bytes (its maxPayloadSize). */
const MAX_UNBLOCKED_PAYLOAD = 1023;
/** The options a plain GET of a reading carries; any other sends the request the long way. */
const PLAIN_GET_OPTIONS = new Set<number>([Option.URI_HOST, Option.URI_PORT, Option.URI_PATH, Option.URI_QUERY, Option.ACCEPT]);

export interface FastPathOptions {
  readingAt: (path: string) => ReadingResource | undefined;
  responses: ResponseCache;
  counter: ResponseCounter;
  send: (datagram: Buffer, peer: AddressInfo) => void;
}

export class FastPath {
  readonly #o: FastPathOptions;
  /** Requests answered here (for /gw/stats and the tests). */
  answered = 0;

  constructor(options: FastPathOptions) {
    this.#o = options;
  }

  /** True when the request was answered here (a duplicate included); false: node-coap's turn. */
  tryAnswer(m: WireMessage, peer: AddressInfo): boolean {
    if (m.type !== MessageType.CON || m.code !== GET) return false;
    for (const o of m.options) if (!PLAIN_GET_OPTIONS.has(o.number)) return false;

    // node-coap's key for this exchange (server.js _toKey: client identifier, Message ID, token).
    const key = `${peer.address}:${peer.port}/${m.messageId}${Buffer.from(m.token.buffer, m.token.byteOffset, m.token.byteLength).toString('hex')}`;
    const cached = this.#o.responses.peek(key);
    if (cached !== undefined) {
      // A piggybacked answer is resent as is; anything else there is node-coap's to handle.
      if (((cached[0]! >> 4) & 0x03) !== MessageType.ACK) return false;
      this.#o.send(cached, peer);
      return true;
    }

    const view = requestViewOf(m);
    const reply = this.#o.readingAt(view.path)?.replyNow(view);
    // A body that needs Block2 (RFC 7959) is node-coap's to split; no reading comes near it.
    if (reply === undefined || reply.payload.length > MAX_UNBLOCKED_PAYLOAD) return false;
    const datagram = replyDatagram(reply, { type: MessageType.ACK, messageId: m.messageId, token: m.token });
    this.#o.responses.set(key, datagram);
    this.#o.counter.count('requests', reply.code);
    this.answered++;
    this.#o.send(datagram, peer);
    return true;
  }
}
