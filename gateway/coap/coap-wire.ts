/**
 * CoAP message bytes (RFC 7252 section 3), read and written without trusting the input: the
 * one parser every datagram goes through (server.ts) and the one encoder every message the
 * gateway sends comes from.
 */
export const MessageType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;

/** Option numbers the gateway reads or writes (RFC 7252 table 4, RFC 7641, RFC 7959, RFC 9175). */
export const Option = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  /** RFC 8613 section 2. */
  OSCORE: 9,
  URI_PORT: 7,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  /** RFC 9175 section 2.2.1. */
  ECHO: 252,
} as const;

export interface WireOption {
  number: number;
  value: Uint8Array;
}

export interface WireMessage {
  type: number;
  /** The code byte: class in the top 3 bits, detail in the low 5 (RFC 7252 section 3). */
  code: number;
  messageId: number;
  token: Uint8Array;
  /** In the order they appeared (which is ascending option number). */
  options: WireOption[];
  payload: Uint8Array;
}

/** Why a datagram is not a well-formed CoAP message (RFC 7252 section 4.2/4.3 "message format error"). */
export type FormatProblem = 'too-short' | 'bad-version' | 'bad-token-length' | 'bad-option' | 'truncated' | 'empty-payload-after-marker' | 'empty-message-not-empty';

export type ParseResult = { ok: true; message: WireMessage } | { ok: false; problem: FormatProblem; /** Present when the header could be read, so a RST can match it. */ header?: { type: number; messageId: number } };

export function codeClass(code: number): number {
  return code >> 5;
}

export function codeString(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

const CODE_BYTES = new Map<string, number>();

/** "2.05" -> 0x45. Memoised: every response's code goes through here. */
export function codeByte(code: string): number {
  let b = CODE_BYTES.get(code);
  if (b === undefined) {
    const [cls, detail] = code.split('.').map(Number) as [number, number];
    b = (cls << 5) | detail;
    if (CODE_BYTES.size < 256) CODE_BYTES.set(code, b);
  }
  return b;
}

/** The empty payload of most requests, shared. */
const NO_BYTES = new Uint8Array(0);

export function parseMessage(buf: Uint8Array): ParseResult {
  if (buf.length < 4) return { ok: false, problem: 'too-short' };
  const b0 = buf[0]!;
  const version = b0 >> 6;
  const type = (b0 >> 4) & 0x03;
  const tkl = b0 & 0x0f;
  const code = buf[1]!;
  const messageId = (buf[2]! << 8) | buf[3]!;
  // RFC 7252 section 3: unknown version numbers MUST be silently ignored (no header to trust).
  if (version !== 1) return { ok: false, problem: 'bad-version' };
  // Token lengths 9..15 are reserved and MUST be processed as a message format error.
  if (tkl > 8) return { ok: false, problem: 'bad-token-length', header: { type, messageId } };
  if (4 + tkl > buf.length) return { ok: false, problem: 'truncated', header: { type, messageId } };
  const token = buf.subarray(4, 4 + tkl);
  // Section 4.1: an Empty message (code 0.00) has no token, options or payload.
  if (code === 0 && (tkl !== 0 || buf.length !== 4)) return { ok: false, problem: 'empty-message-not-empty', header: { type, messageId } };

  const options: WireOption[] = [];
  let i = 4 + tkl;
  let number = 0;
  let payload: Uint8Array = NO_BYTES;
  while (i < buf.length) {
    const byte = buf[i++]!;
    if (byte === 0xff) {
      // Section 3: a marker followed by a zero-length payload is a message format error.
      if (i === buf.length) return { ok: false, problem: 'empty-payload-after-marker', header: { type, messageId } };
      payload = buf.subarray(i);
      break;
    }
    const delta = extended(byte >> 4);
    if (delta === undefined) return { ok: false, problem: 'bad-option', header: { type, messageId } };
    const length = extended(byte & 0x0f);
    if (length === undefined) return { ok: false, problem: 'bad-option', header: { type, messageId } };
    number += delta;
    if (i + length > buf.length) return { ok: false, problem: 'truncated', header: { type, messageId } };
    options.push({ number, value: buf.subarray(i, i + length) });
    i += length;
  }
  return { ok: true, message: { type, code, messageId, token, options, payload } };

  /** Section 3.1: nibbles 13 and 14 take 1 or 2 extension bytes; 15 is reserved. */
  function extended(nibble: number): number | undefined {
    if (nibble < 13) return nibble;
    if (nibble === 13) {
      if (i + 1 > buf.length) return undefined;
      return buf[i++]! + 13;
    }
    if (nibble === 14) {
      if (i + 2 > buf.length) return undefined;
      const v = ((buf[i]! << 8) | buf[i + 1]!) + 269;
      i += 2;
      return v;
    }
    return undefined;
  }
}

export function encodeMessage(m: WireMessage): Buffer {
  const options = inOrder(m.options) ? m.options : [...m.options].sort((a, b) => a.number - b.number);
  // Sized first and written in place: this encodes every response.
  let length = 4 + m.token.length + (m.payload.length > 0 ? 1 + m.payload.length : 0);
  let previous = 0;
  for (const o of options) {
    length += 1 + extBytes(o.number - previous) + extBytes(o.value.length) + o.value.length;
    previous = o.number;
  }
  const out = Buffer.allocUnsafe(length);
  out[0] = 0x40 | (m.type << 4) | m.token.length;
  out[1] = m.code;
  out[2] = m.messageId >> 8;
  out[3] = m.messageId & 0xff;
  out.set(m.token, 4);
  let at = 4 + m.token.length;
  previous = 0;
  for (const o of options) {
    const delta = o.number - previous;
    previous = o.number;
    const head = at++;
    const dn = writeExt(out, at, delta);
    at += extBytes(delta);
    const ln = writeExt(out, at, o.value.length);
    at += extBytes(o.value.length);
    out[head] = (dn << 4) | ln;
    out.set(o.value, at);
    at += o.value.length;
  }
  if (m.payload.length > 0) {
    out[at++] = 0xff;
    out.set(m.payload, at);
  }
  return out;
}

function inOrder(options: WireOption[]): boolean {
  for (let i = 1; i < options.length; i++) if (options[i]!.number < options[i - 1]!.number) return false;
  return true;
}

/** Extended bytes after an option's first byte for a delta or length n (RFC 7252 section 3.1). */
function extBytes(n: number): number {
  return n < 13 ? 0 : n < 269 ? 1 : 2;
}

/** Writes n's extended bytes at `at` and returns the 4-bit nibble that announces them. */
function writeExt(out: Buffer, at: number, n: number): number {
  if (n < 13) return n;
  if (n < 269) {
    out[at] = n - 13;
    return 13;
  }
  out[at] = (n - 269) >> 8;
  out[at + 1] = (n - 269) & 0xff;
  return 14;
}

/** One-byte uint values, shared (encodeMessage only copies them): Content-Format, Max-Age and Observe are mostly these. */
const SMALL_UINTS = Array.from({ length: 256 }, (_, n) => (n === 0 ? new Uint8Array(0) : Uint8Array.of(n)));

/** An unsigned integer option value in the fewest bytes (RFC 7252 section 3.2, "uint"). Do not modify the result. */
export function uintOption(n: number): Uint8Array {
  if (n < 256 && n >= 0 && Number.isInteger(n)) return SMALL_UINTS[n]!;
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.from(bytes);
}

export function readUint(value: Uint8Array): number {
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}
