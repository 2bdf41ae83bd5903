/**
 * Where OSCORE (RFC 8613) meets the server's pipeline (server.ts): a request carrying the
 * OSCORE option is verified and decrypted here into the inner request the rest of the
 * pipeline reads like any other, and every response to it (the reply, later notifications,
 * a block of it) is protected here before it is sent.
 *
 *   protected request ─ outer Block2 after block 0: the held protected response (section 4.1.3.4.2)
 *                     ─ OscoreServer.unprotectRequest ─┬─ error: unprotected 4.01/4.02/4.00 with the section 8.2 diagnostic
 *                                                      ├─ challenge: a protected 4.01 with Echo (RFC 9175; Appendix B.1.2)
 *                                                      └─ the inner request, and how to protect what answers it
 *
 * The duplicate detection of the pipeline runs before this: a retransmitted CON gets the
 * protected bytes sent for its original, and never reaches the replay window (which would
 * call it a replay, section 7.4).
 */
import { GatewayError } from '../errors.ts';
import { type WireMessage, Option, codeByte, encodeMessage, parseMessage, uintOption } from './coap-wire.ts';
import { COAP_CODE_FOR } from './error-response.ts';
import { MAX_SZX, block2Value, blockSize, readBlock2 } from './block2.ts';
import type { Block2Request } from './inbound-request.ts';
import type { OscoreServer, RequestSecurity } from './oscore/oscore-server.ts';

/** How the responses to one verified protected request are protected. */
export interface Protection {
  readonly security: RequestSecurity;
  /** The client asked for the protected response in outer blocks of this size (section 4.1.3.4.2). */
  readonly outerBlock2: Block2Request | undefined;
  /** Where the rest of a protected response cut in outer blocks is held. */
  readonly holdKey: string;
  /** The protected request's ciphertext, which its continuations repeat. */
  readonly request: Uint8Array;
}

/** A response the front answers by itself, before the pipeline: built once the type and Message ID are known. */
export interface FrontReply {
  build: (type: number, messageId: number, token: Uint8Array) => Buffer;
  code: string;
  reason: string;
  /** A refusal worth a (throttled) warning; an Echo challenge or a held block is routine. */
  refusal: boolean;
}

export type Unwrapped = { kind: 'plain' } | { kind: 'inner'; inner: WireMessage; protection: Protection } | { kind: 'reply'; reply: FrontReply };

/** The protected responses held for outer Block2 continuations: few, short-lived, bounded in bytes. */
const HELD_MAX = 64;
const HELD_MAX_BYTES = 256 * 1024;
const HELD_MS = 30_000;

interface HeldOuter {
  message: WireMessage;
  address: string;
  /** The protected request's ciphertext: a continuation repeats it byte for byte. */
  request: Uint8Array;
  expiresMs: number;
}

export class OscoreFront {
  readonly #server: OscoreServer | undefined;
  readonly #now: () => number;
  readonly #held = new Map<string, HeldOuter>();
  #heldBytes = 0;

  constructor(server: OscoreServer | undefined, now: () => number) {
    this.#server = server;
    this.#now = now;
  }

  get enabled(): boolean {
    return this.#server !== undefined;
  }

  /** Whether the message carries the OSCORE option; everything else passes through untouched. */
  static isProtected(m: WireMessage): boolean {
    for (const o of m.options) {
      if (o.number === Option.OSCORE) return true;
      if (o.number > Option.OSCORE) return false;
    }
    return false;
  }

  unwrap(m: WireMessage, peerKey: string, address: string): Unwrapped {
    if (this.#server === undefined || !OscoreFront.isProtected(m)) return { kind: 'plain' };
    const key = holdKeyOf(peerKey, m);
    const outerBlock = readBlock2(m.options);
    // SZX 7 is reserved (RFC 7959 section 2.2): no held block is served for it.
    if (outerBlock !== undefined && outerBlock.num > 0 && outerBlock.szx !== 7) {
      const held = this.#takeHeld(key, address, m.payload);
      if (held !== undefined) return { kind: 'reply', reply: { build: (type, messageId, token) => encodeMessage(cutOuter({ ...held.message, type, messageId, token }, outerBlock)), code: '2.04', reason: 'outer block', refusal: false } };
    }
    const r = this.#server.unprotectRequest(m);
    if (r.ok) return { kind: 'inner', inner: r.inner, protection: { security: r.security, outerBlock2: r.outerBlock2, holdKey: key, request: m.payload } };
    if (r.kind === 'challenge') {
      const challenge = r.outer;
      return { kind: 'reply', reply: { build: (type, messageId, token) => encodeMessage({ ...challenge, type, messageId, token }), code: '4.01', reason: 'Echo challenge (RFC 8613 Appendix B.1.2)', refusal: false } };
    }
    return { kind: 'reply', reply: errorReply(r.error, r.diagnostic, r.diagnostic) };
  }

  /**
   * A plain response datagram as the pipeline wrote it, protected for the request it answers:
   * with the server's own Partial IV when it carries Observe (a notification or a
   * registration's response, section 4.1.3.5.2), else with the request's nonce.
   */
  protect(plain: Buffer, p: Protection, address: string): Buffer {
    const parsed = parseMessage(plain);
    if (!parsed.ok) throw new GatewayError('GW_ERR_INTERNAL', { detail: `response to protect does not parse (${parsed.problem})` });
    const inner = parsed.message;
    const notification = inner.options.some((o) => o.number === Option.OBSERVE);
    const outer = notification ? this.#server!.protectNotification(inner, p.security) : this.#server!.protectResponse(inner, p.security);
    if (p.outerBlock2 === undefined || outer.payload.length <= blockSize(Math.min(p.outerBlock2.szx, MAX_SZX))) return encodeMessage(outer);
    this.#hold(p.holdKey, { message: outer, address, request: Uint8Array.from(p.request), expiresMs: this.#now() + HELD_MS });
    // The block asked for, block 0 unless the first request named another (RFC 7959 section 2.4).
    return encodeMessage(cutOuter(outer, p.outerBlock2));
  }

  get heldStats(): { entries: number; bytes: number } {
    return { entries: this.#held.size, bytes: this.#heldBytes };
  }

  async close(): Promise<void> {
    this.#held.clear();
    this.#heldBytes = 0;
    await this.#server?.close();
  }

  #takeHeld(key: string, address: string, request: Uint8Array): HeldOuter | undefined {
    const h = this.#held.get(key);
    if (h === undefined) return undefined;
    // Not the same protected request (a spoofed copy of its OSCORE option): not its response.
    if (!Buffer.from(h.request).equals(Buffer.from(request))) return undefined;
    if (h.expiresMs <= this.#now() || h.address !== address) {
      this.#drop(key, h);
      return undefined;
    }
    return h;
  }

  #hold(key: string, h: HeldOuter): void {
    const old = this.#held.get(key);
    if (old !== undefined) this.#drop(key, old);
    const bytes = h.message.payload.length + h.request.length;
    if (bytes > HELD_MAX_BYTES) return;
    // Oldest first: a Map keeps insertion order.
    for (const [k, v] of this.#held) {
      if (this.#held.size < HELD_MAX && this.#heldBytes + bytes <= HELD_MAX_BYTES) break;
      this.#drop(k, v);
    }
    this.#held.set(key, h);
    this.#heldBytes += bytes;
  }

  #drop(key: string, h: HeldOuter): void {
    this.#held.delete(key);
    this.#heldBytes -= h.message.payload.length + h.request.length;
  }
}

/**
 * One continuation of a protected response cut in outer blocks repeats the same protected
 * request (the same OSCORE option and payload) with another Block2 (RFC 7959 section 2.4;
 * RFC 8613 section 4.1.3.4.2): the OSCORE option, unique per request through its Partial IV,
 * names the response.
 */
function holdKeyOf(peerKey: string, m: WireMessage): string {
  const oscore = m.options.find((o) => o.number === Option.OSCORE)!;
  return `${peerKey}|${Buffer.from(oscore.value).toString('hex')}`;
}

/** Block `want.num` of a protected message's payload, with an outer Block2 and, on block 0, Size2. */
function cutOuter(m: WireMessage, want: Block2Request): WireMessage {
  const szx = Math.min(want.szx, MAX_SZX);
  const size = blockSize(szx);
  const offset = want.num * size;
  const end = Math.min(offset + size, m.payload.length);
  const more = end < m.payload.length;
  const options = m.options.filter((o) => o.number !== Option.BLOCK2 && o.number !== Option.SIZE2);
  options.push({ number: Option.BLOCK2, value: uintOption(block2Value(want.num, more, szx)) });
  if (want.num === 0) options.push({ number: Option.SIZE2, value: uintOption(m.payload.length) });
  options.sort((a, b) => a.number - b.number);
  return { ...m, options, payload: offset < m.payload.length ? m.payload.subarray(offset, end) : new Uint8Array(0) };
}

/**
 * An OSCORE error (RFC 8613 section 8.2), never protected: the section's diagnostic text and
 * our catalogue code in parentheses as a diagnostic payload (RFC 7252 section 5.5.2, no
 * Content-Format), and an outer Max-Age of 0 so that no cache keeps it.
 */
function errorReply(error: GatewayError, diagnostic: string, reason: string): FrontReply {
  const code = COAP_CODE_FOR[error.code];
  const payload = Buffer.from(`${diagnostic} (${error.code})`, 'utf8');
  return {
    code,
    reason,
    refusal: true,
    build: (type, messageId, token) => encodeMessage({ type, code: codeByte(code), messageId, token, options: [{ number: Option.MAX_AGE, value: uintOption(0) }], payload }),
  };
}
