/**
 * A parsed request message, read once into the one view every later step uses (the resources,
 * the Observe layer, block-wise transfer, the request log), or refused on its options.
 *
 * Options (RFC 7252 section 5.4):
 * - critical (odd numbers) the gateway does not implement, a repeated non-repeatable one or one
 *   with a length outside its range: 4.02 Bad Option for a CON; a NON is rejected with a RST
 *   (section 5.4.1: "MUST cause ... a Non-confirmable message to be rejected");
 * - Proxy-Uri and Proxy-Scheme: 5.05 (section 5.7.2, this is not a proxy);
 * - elective (even numbers) the gateway does not know, a repeat of a non-repeatable one, or one
 *   whose length is out of range: ignored (sections 5.4.1, 5.4.3 and 5.4.5). A Content-Format of
 *   3 bytes is therefore absent, and a FETCH without it gets 4.15 (RFC 8132 section 2.3.1).
 *
 * The path is matched segment by segment: a single Uri-Path option `temp?unit=K` or `temp/alert`
 * is one segment with those characters in it, never `/temp` with a query or `/temp/alert`
 * (section 6.5: each Uri-Path option is one segment). The escaped form of such a segment
 * (`/temp%3Funit=K`) matches no resource. Each Uri-Query option is one item.
 */
import { GatewayError } from '../errors.ts';
import { type WireMessage, MessageType, Option, codeByte, codeString, readUint } from './coap-wire.ts';
import type { RequestView } from './reply.ts';

/** A request's Block2 option (RFC 7959 section 2.2): block number and size exponent (16 << szx bytes). */
export interface Block2Request {
  num: number;
  szx: number;
}

export interface InboundRequest {
  view: RequestView;
  /** The Observe option's value (RFC 7641: 0 register, 1 deregister); undefined when absent or of a bad length. */
  observe: number | undefined;
  block2: Block2Request | undefined;
}

export type ReadResult = { ok: true; request: InboundRequest } | { ok: false; reset: true; reason: string } | { ok: false; reset: false; error: GatewayError; reason: string };

/**
 * The critical options the gateway implements (RFC 7252 table 4, RFC 7959 table 1), with the
 * value lengths they may have and whether they repeat. If-Match, If-None-Match, Block1 and
 * anything else critical are not implemented: request bodies fit one datagram (256 bytes at
 * most), and a Block1 upload is refused as RFC 7959 section 2.3 describes. OSCORE (option 9)
 * never reaches here when the gateway has credentials (oscore-front.ts takes it first); without
 * them it is refused like any unknown critical option.
 */
const CRITICAL = new Map<number, { min: number; max: number; repeatable: boolean }>([
  [Option.URI_HOST, { min: 1, max: 255, repeatable: false }],
  [Option.URI_PORT, { min: 0, max: 2, repeatable: false }],
  [Option.URI_PATH, { min: 0, max: 255, repeatable: true }],
  [Option.URI_QUERY, { min: 0, max: 255, repeatable: true }],
  [Option.ACCEPT, { min: 0, max: 2, repeatable: false }],
  [Option.BLOCK2, { min: 0, max: 3, repeatable: false }],
]);

/** The elective options the gateway reads; any other elective option is ignored. */
const ELECTIVE = new Map<number, { min: number; max: number }>([
  [Option.CONTENT_FORMAT, { min: 0, max: 2 }],
  [Option.OBSERVE, { min: 0, max: 3 }],
]);

const GET = codeByte('0.01');
const FETCH = codeByte('0.05');
const METHOD_NAMES: Record<number, string> = { 1: 'GET', 2: 'POST', 3: 'PUT', 4: 'DELETE', 5: 'FETCH', 6: 'PATCH', 7: 'iPATCH' };

/** The method's name for logs (`GET`), else its code (`0.08`). */
export function methodName(code: number): string {
  return METHOD_NAMES[code] ?? codeString(code);
}

export function readRequest(m: WireMessage): ReadResult {
  const segments: string[] = [];
  const query: string[] = [];
  let accept: number | undefined;
  let contentFormat: number | undefined;
  let observe: number | undefined;
  let block2Value: Uint8Array | undefined;
  let previous = -1;
  let repeated = false;
  for (const o of m.options) {
    repeated = o.number === previous;
    previous = o.number;
    if (o.number === Option.PROXY_URI || o.number === Option.PROXY_SCHEME) {
      return refuse(m, new GatewayError('GW_ERR_REQUEST_PROXY_NOT_SUPPORTED'), `proxy option ${o.number}`);
    }
    if ((o.number & 1) === 1) {
      const rule = CRITICAL.get(o.number);
      if (rule === undefined || (repeated && !rule.repeatable) || o.value.length < rule.min || o.value.length > rule.max) {
        return refuse(m, new GatewayError('GW_ERR_REQUEST_BAD_OPTION', { detail: `option ${o.number} is not supported` }), `critical option ${o.number}`);
      }
      switch (o.number) {
        case Option.URI_PATH:
          segments.push(escapeSegment(text(o.value)));
          break;
        case Option.URI_QUERY:
          query.push(text(o.value));
          break;
        case Option.ACCEPT:
          accept = readUint(o.value);
          break;
        case Option.BLOCK2:
          block2Value = o.value;
          break;
      }
      continue;
    }
    const rule = ELECTIVE.get(o.number);
    if (rule === undefined || repeated || o.value.length < rule.min || o.value.length > rule.max) continue;
    if (o.number === Option.CONTENT_FORMAT) contentFormat = readUint(o.value);
    else observe = readUint(o.value);
  }

  let block2: Block2Request | undefined;
  if (block2Value !== undefined) {
    const v = readUint(block2Value);
    // RFC 7959 section 2.2: SZX 7 is reserved and "MUST be treated as 4.00 Bad Request"; the M
    // bit of a request's Block2 is ignored.
    if ((v & 0x07) === 7) return refuse(m, new GatewayError('GW_ERR_REQUEST_BAD_BLOCK', { detail: 'SZX 7 is reserved' }), 'Block2 SZX 7');
    block2 = { num: v >>> 4, szx: v & 0x07 };
  }
  if (m.code === FETCH && contentFormat === undefined) {
    return refuse(m, new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_FORMAT', { detail: 'a FETCH body needs Content-Format 60 (application/cbor)' }), 'FETCH without Content-Format');
  }
  // RFC 7252 section 5.8.1: a GET has no payload semantics. Answering as if the body were
  // absent would hand back the default unit to a client that believes it asked for kelvin.
  if (m.code === GET && m.payload.length > 0) {
    return refuse(m, new GatewayError('GW_ERR_REQUEST_BODY_NOT_ALLOWED', { detail: 'a GET has no body; send parameters in the query or with FETCH' }), 'GET with a body');
  }
  const view: RequestView = { method: codeString(m.code), path: '/' + segments.join('/'), query, accept, contentFormat, body: m.payload };
  return { ok: true, request: { view, observe, block2 } };
}

/** A NON with an option the gateway cannot process is rejected with a RST (RFC 7252 section 4.3); a CON gets the error. */
function refuse(m: WireMessage, error: GatewayError, reason: string): ReadResult {
  if (m.type === MessageType.NON && error.code === 'GW_ERR_REQUEST_BAD_OPTION') return { ok: false, reset: true, reason };
  return { ok: false, reset: false, error, reason };
}

/** The path of a message for a log line, when its options were refused before the view was read. */
export function pathOf(m: WireMessage): string {
  return '/' + m.options.filter((o) => o.number === Option.URI_PATH).map((o) => escapeSegment(text(o.value))).join('/');
}

function text(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
}

/** '%', '/' and '?' inside one segment are escaped, so a segment never reads as two or as a query. */
function escapeSegment(s: string): string {
  return /[%/?]/.test(s) ? s.replace(/[%/?]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')) : s;
}
