/**
 * The client side of OSCORE (RFC 8613 section 8.1 and 8.4), for our command-line client and the
 * benchmark: protects requests with the next Sender Sequence Number, verifies responses bound
 * to them (section 7.1), and notifications with the server's own Partial IVs, which must grow
 * (section 7.4.1). Errors of section 8.2 come back unprotected; they are reported, never taken
 * as the answer.
 */
import { GatewayError, type ErrorCode } from '../../errors.ts';
import { Option, codeString, readUint, uintOption, type WireMessage } from '../coap-wire.ts';
import { type RequestBinding, aeadNonce, encStructure, open as openCiphertext, partialIv, seal, sequenceNumber } from './cose-encrypt0.ts';
import { bytesEqual, type OscoreClientSettings } from '../../service/oscore-credentials.ts';
import { ECHO_OPTION, assembleOuter, decodePlaintext, isClassE, sortOptions, splitRequest } from './message-protection.ts';
import { OSCORE_OPTION, decodeOscoreOption, encodeOscoreOption } from './oscore-option.ts';
import { deriveSecurityContext, TAG_LENGTH, type SecurityContext } from './security-context.ts';

/** What verifying the responses to one request needs (section 8: Token -> context, request kid and Partial IV). */
export class PendingRequest {
  readonly binding: RequestBinding;
  /** The request carried Observe 0: notifications may follow (section 4.1.3.5). */
  readonly observe: boolean;
  /** Section 5.2 / 8.4.2: the request's nonce verifies at most one response. */
  nonceUsed = false;
  /** Section 4.1.3.5.2: the largest Partial IV among verified notifications. */
  notificationNumber: number | undefined;

  constructor(binding: RequestBinding, observe: boolean) {
    this.binding = binding;
    this.observe = observe;
  }
}

export type UnprotectedResponse = { ok: true; inner: WireMessage; echo?: Uint8Array } | { ok: false; error: GatewayError; diagnostic?: string };

/** Section 8.2's diagnostics, as a server sends them unprotected, mapped back to the catalogue. */
const DIAGNOSTIC_CODES: Record<string, ErrorCode> = {
  'Security context not found': 'GW_ERR_OSCORE_CONTEXT_NOT_FOUND',
  'Replay detected': 'GW_ERR_OSCORE_REPLAY',
  'Decryption failed': 'GW_ERR_OSCORE_DECRYPT_FAILED',
  'Failed to decode COSE': 'GW_ERR_OSCORE_DECODE',
};
/** A diagnostic is shown to a user; a hostile server does not get to print kilobytes. */
const MAX_DIAGNOSTIC = 200;

export class OscoreClient {
  readonly #keys: SecurityContext;
  readonly #sequence: { next(): number };

  constructor(settings: OscoreClientSettings, sequence: { next(): number }) {
    this.#keys = deriveSecurityContext(settings);
    this.#sequence = sequence;
  }

  /** Section 8.1; `echo` answers a server's 4.01 Echo challenge (RFC 9175 section 2.3, RFC 8613 Appendix B.1.2). */
  protectRequest(inner: WireMessage, options: { echo?: Uint8Array } = {}): { outer: WireMessage; pending: PendingRequest } {
    const message = options.echo ? withEcho(inner, options.echo) : inner;
    const split = splitRequest(message);
    const keys = this.#keys;
    const piv = partialIv(this.#sequence.next());
    const binding: RequestBinding = { kid: keys.senderId, piv };
    const ciphertext = seal(keys.senderKey, aeadNonce(keys.commonIv, keys.senderId, piv), encStructure(binding), split.plaintext);
    const optionValue = encodeOscoreOption({ piv, kid: keys.senderId, kidContext: keys.idContext });
    const observe = message.options.some((o) => o.number === Option.OBSERVE && readUint(o.value) === 0);
    return { outer: assembleOuter(message, split, optionValue, ciphertext), pending: new PendingRequest(binding, observe) };
  }

  /** Section 8.4 (and 8.4.2 for notifications). */
  unprotectResponse(outer: WireMessage, pending: PendingRequest): UnprotectedResponse {
    const oscore = outer.options.filter((o) => o.number === OSCORE_OPTION);
    if (oscore.length === 0) return unprotectedError(outer);
    if (oscore.length > 1) return refused('GW_ERR_OSCORE_BAD_OPTION', 'OSCORE option repeated in the response');
    const decoded = decodeOscoreOption(oscore[0]!.value);
    if (!decoded.ok) return refused('GW_ERR_OSCORE_BAD_OPTION', decoded.problem);
    const { piv, kid, kidContext } = decoded.value;
    const keys = this.#keys;
    if ((kid && !bytesEqual(kid, keys.recipientId)) || (kidContext && !(keys.idContext && bytesEqual(kidContext, keys.idContext)))) {
      return refused('GW_ERR_OSCORE_DECODE', 'the response names another kid or kid context');
    }
    if (!piv && pending.nonceUsed) return refused('GW_ERR_OSCORE_REPLAY', 'a second response under the request nonce (RFC 8613 section 8.4.2)');
    if (outer.payload.length < TAG_LENGTH + 1) return refused('GW_ERR_OSCORE_DECODE', `ciphertext of ${outer.payload.length} bytes`);
    const nonce = piv ? aeadNonce(keys.commonIv, keys.recipientId, piv) : aeadNonce(keys.commonIv, pending.binding.kid, pending.binding.piv);
    const plaintext = openCiphertext(keys.recipientKey, nonce, encStructure(pending.binding), outer.payload);
    if (!plaintext) return refused('GW_ERR_OSCORE_DECRYPT_FAILED', 'the response did not verify');
    const message = decodePlaintext(plaintext);
    // Section 5.3: the plaintext carries a response code (classes 2 to 5, RFC 7252 section 12.1.2).
    if (!message || message.options.some((o) => !isClassE(o.number)) || message.code >> 5 < 2) return refused('GW_ERR_OSCORE_DECODE', 'the decrypted response is malformed');
    const inner: WireMessage = { type: outer.type, code: message.code, messageId: outer.messageId, token: outer.token, options: sortOptions(message.options), payload: message.payload };
    const observed = this.#checkObserve(inner, pending, piv);
    if (observed) return observed;
    if (!piv) pending.nonceUsed = true;
    const echo = inner.options.find((o) => o.number === ECHO_OPTION)?.value;
    return echo !== undefined && codeString(inner.code) === '4.01' ? { ok: true, inner, echo: Uint8Array.from(echo) } : { ok: true, inner };
  }

  /**
   * Section 4.1.3.5.2 and 7.4.1: a notification's Partial IV must be greater than every one
   * verified before for this observation (applications MAY require that; it is also the
   * simplest bounded state), and its Inner Observe (empty) is replaced by the Partial IV's
   * three low bytes so that RFC 7641 reordering works above this layer.
   */
  #checkObserve(inner: WireMessage, pending: PendingRequest, piv: Uint8Array | undefined): UnprotectedResponse | undefined {
    const at = inner.options.findIndex((o) => o.number === Option.OBSERVE);
    if (at < 0) return undefined;
    if (!pending.observe) return refused('GW_ERR_OSCORE_DECODE', 'Observe in a response to a request without Observe (RFC 8613 section 4.1.3.5.2)');
    if (!piv) return undefined;
    const seq = sequenceNumber(piv);
    if (pending.notificationNumber !== undefined && seq <= pending.notificationNumber) return refused('GW_ERR_OSCORE_REPLAY', `notification Partial IV ${seq} not above ${pending.notificationNumber}`);
    pending.notificationNumber = seq;
    inner.options[at] = { number: Option.OBSERVE, value: uintOption(seq % 0x1000000) };
    return undefined;
  }
}

function withEcho(inner: WireMessage, echo: Uint8Array): WireMessage {
  const options = inner.options.filter((o) => o.number !== ECHO_OPTION);
  return { ...inner, options: sortOptions([...options, { number: ECHO_OPTION, value: echo }]) };
}

/** An unprotected response to a protected request: an OSCORE error of section 8.2, or a server without OSCORE. */
function unprotectedError(outer: WireMessage): UnprotectedResponse {
  const diagnostic = new TextDecoder('utf-8', { fatal: false }).decode(outer.payload.subarray(0, MAX_DIAGNOSTIC));
  // "Replay detected", or as this gateway sends it, followed by the catalogue code in parentheses.
  const code = Object.entries(DIAGNOSTIC_CODES).find(([text]) => diagnostic.startsWith(text))?.[1] ?? 'GW_ERR_OSCORE_DECODE';
  return { ok: false, error: new GatewayError(code, { detail: `unprotected ${codeString(outer.code)} response${diagnostic ? `: ${diagnostic}` : ''}` }), diagnostic };
}

function refused(code: ErrorCode, detail: string): UnprotectedResponse {
  return { ok: false, error: new GatewayError(code, { detail }) };
}
