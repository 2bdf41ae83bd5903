/**
 * The one encoder of responses: a handler's Reply in a message of a given type, Message ID and
 * token, with its options, cut into a Block2 block when it must be (block2.ts), and kept within
 * the amplification budget when the client's address is not verified (RFC 7252 section 11.3).
 *
 * The budget: a response to an unverified address is at most AMPLIFICATION_FACTOR times the
 * request's size, or MIN_BUDGET_BYTES, whichever is larger. The factor is QUIC's (RFC 9000
 * section 8.1: three times the bytes received from an unvalidated address); the floor, one
 * IEEE 802.15.4 frame (127 bytes, the link a constrained node is on) rounded up, lets a reading
 * through whole in every format (SenML-JSON in kelvin with the simulated mark is about 100
 * bytes with its options), since a reading is what every sensor node asks for and none of them
 * can be expected to prove its address first. A larger
 * representation (discovery, /gw/stats) goes to an unverified client in blocks small enough to
 * fit, which every block-wise client follows without knowing why (RFC 7959 section 2.4 lets the
 * server choose a smaller block size). An error body loses its `detail` (Reply.brief).
 */
import { GatewayError } from '../errors.ts';
import { type WireOption, Option, codeByte, encodeMessage, uintOption } from './coap-wire.ts';
import { type HeldRepresentation, MAX_PAYLOAD, MAX_SZX, block2Value, blockAt, blockSize, entityTag } from './block2.ts';
import type { Block2Request } from './inbound-request.ts';
import type { Reply } from './reply.ts';

export const AMPLIFICATION_FACTOR = 3;
export const MIN_BUDGET_BYTES = 128;

/** The largest response an unverified address gets for a request of this many bytes. */
export function amplificationBudget(requestBytes: number): number {
  return Math.max(AMPLIFICATION_FACTOR * requestBytes, MIN_BUDGET_BYTES);
}

export interface MessageHeader {
  type: number;
  messageId: number;
  token: Uint8Array;
}

export interface WriteContext {
  block2: Block2Request | undefined;
  /** Whether the client's address is verified (reliability.ts); else the budget applies. */
  verified: boolean;
  requestBytes: number;
  /** The Observe option's value, on a registration's response and on notifications. */
  observe?: number | undefined;
  /** The representation already being served in blocks to this client, if any. */
  held?: HeldRepresentation | undefined;
  /**
   * An Echo value for the client (echo-values.ts): sent on a response the budget cut short,
   * so that the client can verify its address by repeating it (RFC 9175 section 2.4).
   */
  echo?: (() => Uint8Array) | undefined;
}

export type Written =
  | { ok: true; datagram: Buffer; /** Set when the response is one block of several: hold it for the next. */ blocks?: HeldRepresentation }
  | { ok: false; error: GatewayError };

export function writeResponse(reply: Reply, header: MessageHeader, ctx: WriteContext): Written {
  const payload = !ctx.verified && reply.brief !== undefined ? reply.brief : reply.payload;
  const options: WireOption[] = [uintOptionOf(Option.CONTENT_FORMAT, reply.contentFormat)];
  if (reply.maxAge !== undefined) options.push(uintOptionOf(Option.MAX_AGE, reply.maxAge));
  if (reply.size1 !== undefined) options.push({ number: Option.SIZE1, value: uintOption(reply.size1) });
  if (ctx.observe !== undefined) options.push({ number: Option.OBSERVE, value: uintOption(ctx.observe) });
  const code = codeByte(reply.code);

  // Only a 2.05 is cut in blocks: an error carries no ETag (RFC 7252 section 5.10.6.1), and
  // without one a client cannot reassemble blocks safely.
  if (reply.code !== '2.05' || (ctx.block2 === undefined && payload.length <= MAX_PAYLOAD)) {
    const whole = encodeMessage({ type: header.type, code, messageId: header.messageId, token: header.token, options, payload });
    if (reply.code !== '2.05' || ctx.verified || whole.length <= amplificationBudget(ctx.requestBytes)) return { ok: true, datagram: whole };
  }

  const held = ctx.held ?? { reply, etag: entityTag(reply) };
  const body = held.reply.payload;
  // Options of a block: the representation's, its ETag, Block2 (3 bytes at most) and, on
  // block 0, Size2 (4 at most), each with up to 2 bytes of option header.
  let overhead = 4 + header.token.length + 1 + 6 + 5 + 6;
  for (const o of options) overhead += 3 + o.value.length;
  let szx = Math.min(ctx.block2?.szx ?? MAX_SZX, MAX_SZX);
  // The Echo option (3 bytes of header with its 12-byte value) counts against the budget too.
  const echo = !ctx.verified && ctx.echo !== undefined ? ctx.echo() : undefined;
  const echoBytes = echo === undefined ? 0 : 3 + echo.length;
  if (!ctx.verified) while (szx > 0 && overhead + echoBytes + blockSize(szx) > amplificationBudget(ctx.requestBytes)) szx--;
  const { num, offset } = blockAt(ctx.block2, szx);
  if (offset > 0 && offset >= body.length) {
    // RFC 7959 leaves this open; 4.02 says the Block2 option cannot be honoured (RFC 7252 section 5.9.2.3).
    return { ok: false, error: new GatewayError('GW_ERR_REQUEST_BAD_OPTION', { detail: `block ${num} is past the end (${body.length} bytes)` }) };
  }
  const end = Math.min(offset + blockSize(szx), body.length);
  const more = end < body.length;
  options.push({ number: Option.ETAG, value: held.etag });
  options.push({ number: Option.BLOCK2, value: uintOption(block2Value(num, more, szx)) });
  if (num === 0) options.push({ number: Option.SIZE2, value: uintOption(body.length) });
  if (echo !== undefined) options.push({ number: Option.ECHO, value: echo });
  const datagram = encodeMessage({ type: header.type, code, messageId: header.messageId, token: header.token, options, payload: body.subarray(offset, end) });
  return more ? { ok: true, datagram, blocks: held } : { ok: true, datagram };
}

/** Content-Format and Max-Age options of one-byte values, built once: every response carries both. */
const SHARED_OPTIONS = new Map<number, WireOption>();

function uintOptionOf(number: number, n: number): WireOption {
  if (n > 255) return { number, value: uintOption(n) };
  const key = number * 256 + n;
  let o = SHARED_OPTIONS.get(key);
  if (o === undefined) {
    o = { number, value: uintOption(n) };
    SHARED_OPTIONS.set(key, o);
  }
  return o;
}

/** An Empty message (RFC 7252 section 4.1): an ACK that a reply comes later, or a RST. */
export function emptyMessage(type: number, messageId: number): Buffer {
  return encodeMessage({ type, code: 0, messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) });
}
