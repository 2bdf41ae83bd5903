/**
 * Which parts of a CoAP message OSCORE encrypts and which stay outside (RFC 8613 section 4),
 * on the repo's WireMessage: the Class E / Class U split of options (section 4.1, Figure 5), the
 * plaintext (section 5.3: code byte, Class E options, 0xFF, payload) and the outer code (4.2).
 *
 * Options with special rules (section 4.1.3):
 * - Observe is both Inner and Outer (4.1.3.5). Requests: the same value (0 or 1) inside and out
 *   (4.1.3.5.1). Notifications: the Inner value is empty and the Outer carries the original
 *   value for intermediaries (4.1.3.5.2). The receiver trusts only the Inner one.
 * - Max-Age: the Inner one is the end-to-end cache lifetime; an Outer Max-Age 0 keeps proxies
 *   from caching a cacheable (2.05) notification (4.1.3.1).
 * - Block1/Block2/Size1/Size2: Inner for the endpoints' own block-wise transfer; Outer ones
 *   belong to a proxy fragmenting the OSCORE message (4.1.3.4).
 * - Echo (RFC 9175 section 2.2, option 252) is Class E like every option without a rule.
 */
import { type WireMessage, type WireOption, encodeMessage, parseMessage, Option } from '../coap-wire.ts';
import { OSCORE_OPTION } from './oscore-option.ts';

/** RFC 9175 section 2.2.1. */
export const ECHO_OPTION = 252;
export const NO_RESPONSE_OPTION = 258;

/** Figure 5's options with only a U column: they never enter the plaintext. */
const CLASS_U_ONLY: ReadonlySet<number> = new Set([Option.URI_HOST, Option.URI_PORT, OSCORE_OPTION, Option.PROXY_URI, Option.PROXY_SCHEME]);

/** Figure 5's options with both columns: the Inner instance is the one the endpoint acts on. */
export const CLASS_E_AND_U: ReadonlySet<number> = new Set([Option.OBSERVE, Option.MAX_AGE, Option.BLOCK2, Option.BLOCK1, Option.SIZE2, Option.SIZE1, NO_RESPONSE_OPTION]);

/** Section 4.1: unknown options and options without OSCORE rules are Class E. */
export function isClassE(number: number): boolean {
  return !CLASS_U_ONLY.has(number);
}

export const CODE_POST = 0x02;
export const CODE_FETCH = 0x05;
export const CODE_CHANGED = 0x44;
export const CODE_CONTENT = 0x45;
const EMPTY = new Uint8Array(0);

/** Section 5.3, Figure 9: code, Class E options (deltas among themselves), 0xFF and the payload if any. */
export function encodePlaintext(code: number, options: readonly WireOption[], payload: Uint8Array): Uint8Array {
  const wire = encodeMessage({ type: 0, code, messageId: 0, token: EMPTY, options: [...options], payload });
  // Header byte 1 is the code; dropping bytes 0, 2 and 3 (no token) leaves Figure 9 exactly.
  const out = new Uint8Array(wire.length - 3);
  out[0] = code;
  out.set(wire.subarray(4), 1);
  return out;
}

export interface Plaintext {
  code: number;
  options: WireOption[];
  payload: Uint8Array;
}

/** The inverse of encodePlaintext through the one CoAP parser, behind a synthetic 4-byte header; undefined when malformed. */
export function decodePlaintext(plaintext: Uint8Array): Plaintext | undefined {
  if (plaintext.length < 1 || plaintext[0] === 0) return undefined;
  const wire = new Uint8Array(plaintext.length + 3);
  wire[0] = 0x40;
  wire.set(plaintext.subarray(0, 1), 1);
  wire.set(plaintext.subarray(1), 4);
  const parsed = parseMessage(wire);
  if (!parsed.ok) return undefined;
  return { code: parsed.message.code, options: parsed.message.options, payload: parsed.message.payload };
}

export interface SplitMessage {
  outerCode: number;
  outerOptions: WireOption[];
  plaintext: Uint8Array;
}

/**
 * A client's request (section 4.1, 4.2): Class U-only options stay outside, Observe is copied
 * outside unchanged (4.1.3.5.1), the outer code is FETCH with Observe and POST otherwise.
 */
export function splitRequest(message: WireMessage): SplitMessage {
  refuseNested(message);
  if (message.options.some((o) => o.number === Option.PROXY_URI)) {
    // Section 4.1.3.3: Proxy-Uri must be decomposed first so that Uri-Path/Uri-Query are encrypted.
    throw new TypeError('Proxy-Uri must be decomposed into Proxy-Scheme and Uri-* options before OSCORE protection (RFC 8613 section 4.1.3.3)');
  }
  const inner = message.options.filter((o) => isClassE(o.number));
  const outerOptions = message.options.filter((o) => !isClassE(o.number) || o.number === Option.OBSERVE);
  const observe = message.options.some((o) => o.number === Option.OBSERVE);
  return { outerCode: observe ? CODE_FETCH : CODE_POST, outerOptions, plaintext: encodePlaintext(message.code, inner, message.payload) };
}

/**
 * A server's response (section 4.1, 4.2). With Observe (a notification, 4.1.3.5.2): Inner
 * Observe empty, Outer Observe the original value, outer code 2.05, and an Outer Max-Age 0 so
 * that a proxy does not cache what no other request could use (4.1.3.1). Otherwise 2.04 and
 * no outer option besides OSCORE.
 */
export function splitResponse(message: WireMessage): SplitMessage {
  refuseNested(message);
  const observe = message.options.find((o) => o.number === Option.OBSERVE);
  const inner = message.options.map((o) => (o.number === Option.OBSERVE ? { number: o.number, value: EMPTY } : o));
  if (!observe) return { outerCode: CODE_CHANGED, outerOptions: [], plaintext: encodePlaintext(message.code, inner, message.payload) };
  const outerOptions = [
    { number: Option.OBSERVE, value: observe.value },
    { number: Option.MAX_AGE, value: EMPTY },
  ];
  return { outerCode: CODE_CONTENT, outerOptions, plaintext: encodePlaintext(message.code, inner, message.payload) };
}

/** The OSCORE message: the original header, the outer code and options, the OSCORE option, the ciphertext as payload (section 6.2). */
export function assembleOuter(header: Pick<WireMessage, 'type' | 'messageId' | 'token'>, split: SplitMessage, optionValue: Uint8Array, ciphertext: Uint8Array): WireMessage {
  const options = sortOptions([...split.outerOptions, { number: OSCORE_OPTION, value: optionValue }]);
  return { type: header.type, code: split.outerCode, messageId: header.messageId, token: header.token, options, payload: ciphertext };
}

/** Stable sort by number: repeated options keep their order (RFC 7252 section 5.4.5). */
export function sortOptions(options: WireOption[]): WireOption[] {
  return options.map((o, i) => ({ o, i })).sort((a, b) => a.o.number - b.o.number || a.i - b.i).map(({ o }) => o);
}

/** Section 4.1.3.7: nested OSCORE is not supported; protecting a message that already has the option is a programming error. */
function refuseNested(message: WireMessage): void {
  if (message.options.some((o) => o.number === OSCORE_OPTION)) throw new TypeError('the message already carries an OSCORE option (RFC 8613 section 4.1.3.7)');
}
