/**
 * Vets every datagram before node-coap sees it. node-coap 1.5.0 answers a datagram it cannot
 * parse with a 5.00 whose payload is its internal error text (and sends it to the sender's port
 * on localhost, not to the sender); it also trusts coap-packet, which accepts some malformed
 * messages, ignores critical options it does not understand and answers a FETCH without
 * Content-Format the same broken way. The guard decides first:
 *
 * - pass:  a well-formed request or an Empty ACK/RST (node-coap needs those for separate
 *          responses, the Observe layer for notifications), with the parsed message;
 * - reset: a Confirmable message that is malformed or cannot be processed gets a RST with its
 *          Message ID (RFC 7252 section 4.2), as does an Empty CON ("CoAP ping", section 4.3);
 * - drop:  anything else malformed or unexpected, silently (section 4.3 for NON, section 3 for
 *          an unknown version, and ACKs or RSTs that are not Empty);
 * - reply: a request refused on its options, answered here with a catalogue error body:
 *          4.02 for an unrecognised critical option (section 5.4.1: odd option numbers are
 *          critical; a repeated non-repeatable or wrong-length critical option counts as
 *          unrecognised, sections 5.4.3 and 5.4.5), 5.05 for Proxy-Uri/Proxy-Scheme
 *          (section 5.7.2, this is not a proxy), 4.15 for a FETCH without Content-Format
 *          (RFC 8132 section 2.3.1). These replies are stateless, so answering a duplicate
 *          again instead of from node-coap's message cache is harmless.
 *
 * In a Non-confirmable request an unrecognised critical option makes the message rejected
 * (section 5.4.1 and 4.3): it gets a RST rather than a 4.02.
 *
 * Observe (an elective option) is passed on untouched: the Observe layer (observe-layer.ts)
 * sees every passed datagram next and never lets node-coap see the option.
 */
import { GatewayError } from '../errors.ts';
import { MessageType, type WireMessage, type WireOption, codeByte, codeClass, encodeMessage, parseMessage, uintOption } from './coap-wire.ts';
import { type ErrorReply, errorReply } from './error-response.ts';

export type Verdict =
  | { action: 'pass'; datagram: Buffer; message: WireMessage }
  | { action: 'reply'; datagram: Buffer; reason: string }
  | { action: 'drop'; reason: string };

export const Option = {
  IF_MATCH: 1,
  URI_HOST: 3,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  BLOCK2: 23,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
} as const;

/**
 * The critical options this server understands, with their value length range and whether they
 * may repeat (RFC 7252 table 4, RFC 7959 table 1). If-Match, If-None-Match, OSCORE, Block1 and
 * Q-Block are critical and not implemented, so they get 4.02: request bodies are at most one
 * datagram (see MAX_BODY_BYTES), and a block-wise (Block1) upload is refused as RFC 7959
 * section 2.3 describes for a server without block-wise support.
 */
const KNOWN_CRITICAL = new Map<number, { min: number; max: number; repeatable: boolean }>([
  [Option.URI_HOST, { min: 1, max: 255, repeatable: false }],
  [Option.URI_PORT, { min: 0, max: 2, repeatable: false }],
  [Option.URI_PATH, { min: 0, max: 255, repeatable: true }],
  [Option.URI_QUERY, { min: 0, max: 255, repeatable: true }],
  [Option.ACCEPT, { min: 0, max: 2, repeatable: false }],
  [Option.BLOCK2, { min: 0, max: 3, repeatable: false }],
]);

const METHOD_FETCH = codeByte('0.05');

export class DatagramGuard {
  readonly #newMessageId: () => number;

  /** `newMessageId` gives Message IDs for the guard's own Non-confirmable replies. */
  constructor(newMessageId: () => number) {
    this.#newMessageId = newMessageId;
  }

  vet(datagram: Buffer): Verdict {
    const parsed = parseMessage(datagram);
    if (!parsed.ok) {
      if (parsed.header?.type === MessageType.CON) return reset(parsed.header.messageId, `malformed (${parsed.problem})`);
      return { action: 'drop', reason: `malformed (${parsed.problem})` };
    }
    const m = parsed.message;
    const cls = codeClass(m.code);
    if (m.code === 0) {
      if (m.type === MessageType.CON) return reset(m.messageId, 'ping');
      if (m.type === MessageType.NON) return { action: 'drop', reason: 'empty NON' };
      return { action: 'pass', datagram, message: m };
    }
    if (cls !== 0) {
      // A response or a reserved class: this socket never sends requests, so nothing expects it.
      if (m.type === MessageType.CON) return reset(m.messageId, `unexpected code class ${cls}`);
      return { action: 'drop', reason: `unexpected code class ${cls}` };
    }
    // A request must be CON or NON (section 4.2/4.3: ACK and RST carry responses or nothing).
    if (m.type === MessageType.ACK || m.type === MessageType.RST) return { action: 'drop', reason: 'request in an ACK or RST' };

    const refusal = this.#checkOptions(m);
    if (refusal) return refusal;
    if (m.code === METHOD_FETCH && !m.options.some((o) => o.number === Option.CONTENT_FORMAT)) {
      return this.#reply(m, 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT', 'FETCH without Content-Format', 'a FETCH body needs Content-Format 60 (application/cbor)');
    }
    // A zero-length Block2 is the uint 0: block 0 of 16-byte blocks (RFC 7959 section 2.2, RFC
    // 7252 section 3.2). node-coap 1.5.0 reads it as block size 0 and never sends a payload,
    // so it is handed on as the one-byte 0x00 that means the same.
    const emptyBlock2 = m.options.find((o) => o.number === Option.BLOCK2 && o.value.length === 0);
    if (emptyBlock2) {
      const fixed: WireMessage = { ...m, options: m.options.map((o) => (o === emptyBlock2 ? { number: o.number, value: Uint8Array.of(0) } : o)) };
      return { action: 'pass', datagram: encodeMessage(fixed), message: fixed };
    }
    return { action: 'pass', datagram, message: m };
  }

  #checkOptions(m: WireMessage): Verdict | undefined {
    const seen = new Set<number>();
    for (const o of m.options) {
      const repeated = seen.has(o.number);
      seen.add(o.number);
      if (o.number === Option.PROXY_URI || o.number === Option.PROXY_SCHEME) {
        return this.#reply(m, 'GW_ERR_REQUEST_PROXY_NOT_SUPPORTED', `proxy option ${o.number}`);
      }
      if ((o.number & 1) === 0) continue; // elective: ignored when not understood (section 5.4.1)
      if (!acceptable(o, repeated)) {
        if (m.type === MessageType.NON) return reset(m.messageId, `critical option ${o.number} in a NON`);
        return this.#reply(m, 'GW_ERR_REQUEST_BAD_OPTION', `critical option ${o.number}`, `option ${o.number} is not supported`);
      }
    }
    return undefined;
  }

  #reply(m: WireMessage, code: 'GW_ERR_REQUEST_BAD_OPTION' | 'GW_ERR_REQUEST_PROXY_NOT_SUPPORTED' | 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT', reason: string, detail?: string): Verdict {
    const reply = errorReply(new GatewayError(code, detail ? { detail } : {}));
    return { action: 'reply', datagram: this.#response(m, reply), reason };
  }

  /** Piggybacked in an ACK for a CON (section 5.2.1); a NON request gets a NON (section 5.2.3). */
  #response(m: WireMessage, reply: ErrorReply): Buffer {
    const confirmable = m.type === MessageType.CON;
    const options: WireOption[] = [
      { number: Option.CONTENT_FORMAT, value: uintOption(reply.contentFormat) },
      { number: Option.MAX_AGE, value: uintOption(reply.maxAge) },
    ];
    return encodeMessage({
      type: confirmable ? MessageType.ACK : MessageType.NON,
      code: codeByte(reply.code),
      messageId: confirmable ? m.messageId : this.#newMessageId(),
      token: m.token,
      options,
      payload: reply.payload,
    });
  }
}

function acceptable(o: WireOption, repeated: boolean): boolean {
  const rule = KNOWN_CRITICAL.get(o.number);
  if (!rule) return false;
  if (repeated && !rule.repeatable) return false;
  return o.value.length >= rule.min && o.value.length <= rule.max;
}

function reset(messageId: number, reason: string): Verdict {
  return { action: 'reply', datagram: encodeMessage({ type: MessageType.RST, code: 0, messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) }), reason };
}
