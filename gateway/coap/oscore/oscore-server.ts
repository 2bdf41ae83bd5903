/**
 * The gateway's OSCORE endpoint (RFC 8613 section 8.2 and 8.3): verifies protected requests and
 * protects their responses and notifications, one security context per configured client.
 *
 *   outer request ─ OSCORE option ─ kid/kid context ─ replay window ─ AEAD ─ inner request
 *                   (6.1, 4.02)     (8.2 step 2,      check (7.4,    open    (accepted into the
 *                                    4.01)            4.01)          (4.00)   window only now)
 *
 * After a start every replay window is unknown (Appendix B.1.2): the first verified request of
 * a context is answered with a protected 4.01 carrying an Echo (RFC 9175 section 2.4), and the
 * request that returns that Echo sets the window's lower limit.
 */
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import path from 'node:path';
import { GatewayError, type ErrorCode } from '../../errors.ts';
import { MessageType, Option, codeByte, type WireMessage, type WireOption } from '../coap-wire.ts';
import { type RequestBinding, aeadNonce, encStructure, open as openCiphertext, partialIv, seal, sequenceNumber } from './cose-encrypt0.ts';
import type { OscoreCredential } from '../../service/oscore-credentials.ts';
import { readBlock2 } from '../block2.ts';
import { EchoValues } from '../echo-values.ts';
import { CODE_CHANGED, CODE_CONTENT, ECHO_OPTION, assembleOuter, decodePlaintext, isClassE, sortOptions, splitResponse, type Plaintext } from './message-protection.ts';
import { OSCORE_OPTION, decodeOscoreOption, encodeOscoreOption, type OscoreOptionValue } from './oscore-option.ts';
import { ReplayWindow } from './replay-window.ts';
import { deriveSecurityContext, TAG_LENGTH, type SecurityContext } from './security-context.ts';
import { PersistedSequence } from './sequence-store.ts';

export interface OscoreServerOptions {
  credentials: OscoreCredential[];
  stateDir: string;
  /** Monotonic milliseconds: how long an Echo value stays valid. */
  now: () => number;
  randomBytes?: (n: number) => Uint8Array;
  sequenceReserve?: number;
  /** Tests: in-memory sequences instead of <stateDir>/<name>.seq. */
  sequences?: (name: string) => Promise<{ next(): number }>;
}

export type Unprotected =
  | { ok: true; inner: WireMessage; security: RequestSecurity; outerBlock2?: { num: number; szx: number } }
  | { ok: false; kind: 'error'; error: GatewayError; diagnostic: string }
  | { ok: false; kind: 'challenge'; outer: WireMessage };

export interface RequestSecurity {
  /** The credentials' name of the client that sent the request. */
  readonly client: string;
  /** Protect the response with the server's own Partial IV instead of the request's nonce (section 5.2, Appendix B.1.2). */
  ownPiv: boolean;
}

/** Section 8.2's diagnostic payloads. */
export const DIAGNOSTIC = {
  decode: 'Failed to decode COSE',
  notFound: 'Security context not found',
  replay: 'Replay detected',
  decrypt: 'Decryption failed',
} as const;

interface Sequence {
  next(): number;
  close?(): Promise<void>;
}

interface ServerContext {
  readonly name: string;
  readonly keys: SecurityContext;
  readonly window: ReplayWindow;
  readonly sequence: Sequence;
}

/** What a response needs from its request (section 8: the association Token -> context, request kid and Partial IV). */
interface Exchange {
  readonly context: ServerContext;
  readonly request: RequestBinding;
  /** Section 5.2 / D.4: the request's nonce protects at most one response. */
  nonceUsed: boolean;
  /**
   * A notification went out for this request: it is an observation from then on, and every
   * later response to it, the final error notification without Observe included (RFC 7641
   * section 4.2), carries a Partial IV of the server's own and outer code 2.05 (section 4.1.3.5.2,
   * 8.3.1), so that the client can order it against the notifications.
   */
  observing?: boolean;
}

type Failure = Extract<Unprotected, { kind: 'error' }>;
type Step<T> = { ok: true; value: T } | Failure;

/** Class U-only options a verified request keeps from the outer message (section 8.2 steps 1 and 7). */
const KEPT_OUTER: ReadonlySet<number> = new Set([Option.URI_HOST, Option.URI_PORT, Option.PROXY_URI, Option.PROXY_SCHEME]);
const UNAUTHORIZED = codeByte('4.01');
/** RFC 9175 section 2.3: a short validity keeps a delayed (held-back) request from passing as fresh. */
export const ECHO_VALID_MS = 30_000;

export class OscoreServer {
  readonly #contexts: ServerContext[];
  readonly #byKid = new Map<string, ServerContext>();
  readonly #exchanges = new WeakMap<RequestSecurity, Exchange>();
  /** Echo values bound to a context's name (appendix B.1.2): one context's value proves nothing for another. */
  readonly #echo: EchoValues;

  private constructor(contexts: ServerContext[], echo: EchoValues) {
    this.#contexts = contexts;
    this.#echo = echo;
    for (const c of contexts) this.#byKid.set(lookupKey(c.keys.recipientId, c.keys.idContext), c);
  }

  static async open(options: OscoreServerOptions): Promise<OscoreServer> {
    const random = options.randomBytes ?? ((n: number) => new Uint8Array(cryptoRandomBytes(n)));
    const contexts: ServerContext[] = [];
    try {
      for (const c of options.credentials) {
        const keys = deriveSecurityContext({ senderId: c.senderId, recipientId: c.recipientId, masterSecret: c.masterSecret, masterSalt: c.masterSalt, idContext: c.idContext });
        const sequence = await openSequence(options, c.name, keys);
        contexts.push({ name: c.name, keys, window: new ReplayWindow(c.replayWindow), sequence });
      }
    } catch (err) {
      await Promise.allSettled(contexts.map((c) => c.sequence.close?.()));
      throw err;
    }
    return new OscoreServer(contexts, new EchoValues(ECHO_VALID_MS, options.now, random));
  }

  get clients(): readonly string[] {
    return this.#contexts.map((c) => c.name);
  }

  /** Section 8.2, for a message with the OSCORE option (number 9) only. */
  unprotectRequest(outer: WireMessage): Unprotected {
    const located = this.#locate(outer);
    if (!located.ok) return located;
    const { context, option } = located.value;
    const piv = option.piv!;
    const seq = sequenceNumber(piv);
    // Section 7.4 / 8.2 step 3: the window is checked before decryption, updated only after it.
    const check = context.window.check(seq);
    if (check === 'replay' || check === 'too-old') return failure('GW_ERR_OSCORE_REPLAY', DIAGNOSTIC.replay, `${context.name}: sequence number ${seq} ${check}`);
    const request: RequestBinding = { kid: Uint8Array.from(option.kid!), piv: Uint8Array.from(piv) };
    const opened = decryptRequest(context, request, outer.payload);
    if (!opened.ok) return opened;
    // Section 8.2 step 6: decryption succeeded, so the window moves (unless it is unknown, below).
    if (check === 'ok') context.window.accept(seq);
    const decoded = decodeRequest(context, opened.value);
    if (!decoded.ok) return decoded;
    const plaintext = decoded.value;
    if (check === 'uninitialized') {
      const echo = findEcho(plaintext.options);
      if (echo === undefined || !this.#echo.verifies(context.name, echo.value)) return this.#challenge(outer, context, request);
      // Appendix B.1.2: the Partial IV of the request proven fresh is the window's lower limit.
      context.window.initializeAt(seq);
      plaintext.options = plaintext.options.filter((o) => o !== echo);
      return this.#verified(outer, plaintext, context, request, true);
    }
    return this.#verified(outer, plaintext, context, request, false);
  }

  /** Section 8.3: the request's nonce (no Partial IV) once, else the server's own Partial IV. */
  protectResponse(inner: WireMessage, security: RequestSecurity): WireMessage {
    const exchange = this.#exchange(security);
    const own = security.ownPiv || exchange.nonceUsed || exchange.observing === true;
    return protect(inner, exchange, own);
  }

  /** Section 4.1.3.5.2 / 8.3.1: every notification gets a new Partial IV of the server's own. */
  protectNotification(inner: WireMessage, security: RequestSecurity): WireMessage {
    const exchange = this.#exchange(security);
    exchange.observing = true;
    return protect(inner, exchange, true);
  }

  async close(): Promise<void> {
    await Promise.all(this.#contexts.map((c) => c.sequence.close?.()));
  }

  /** Section 8.2 step 2: the OSCORE option decoded and the Recipient Context it names. */
  #locate(outer: WireMessage): Step<{ context: ServerContext; option: OscoreOptionValue }> {
    const options = outer.options.filter((o) => o.number === OSCORE_OPTION);
    if (options.length !== 1) return failure('GW_ERR_OSCORE_BAD_OPTION', DIAGNOSTIC.decode, options.length === 0 ? 'no OSCORE option' : 'OSCORE option repeated');
    const decoded = decodeOscoreOption(options[0]!.value);
    if (!decoded.ok) return failure('GW_ERR_OSCORE_BAD_OPTION', DIAGNOSTIC.decode, decoded.problem);
    const option = decoded.value;
    // Section 5: 'Partial IV' and 'kid' SHALL be present in requests.
    if (!option.piv || !option.kid) return failure('GW_ERR_OSCORE_DECODE', DIAGNOSTIC.decode, 'a request needs a Partial IV and a kid (RFC 8613 section 5)');
    // Section 4.1.3.4.2: an outer Block1 is a proxy's fragment, to reassemble before verifying; not supported.
    if (outer.options.some((o) => o.number === Option.BLOCK1)) return failure('GW_ERR_OSCORE_DECODE', DIAGNOSTIC.decode, 'outer Block1 (proxy fragmentation) is not reassembled');
    // Matched exactly, as aiocoap does: a context with an ID Context needs the kid context (section 5.1).
    const context = this.#byKid.get(lookupKey(option.kid, option.kidContext));
    if (!context) return failure('GW_ERR_OSCORE_CONTEXT_NOT_FOUND', DIAGNOSTIC.notFound, `kid ${hex(option.kid)}${option.kidContext ? ` kid context ${hex(option.kidContext)}` : ''}`);
    return { ok: true, value: { context, option } };
  }

  #verified(outer: WireMessage, plaintext: Plaintext, context: ServerContext, request: RequestBinding, ownPiv: boolean): Unprotected {
    const security: RequestSecurity = { client: context.name, ownPiv };
    this.#exchanges.set(security, { context, request, nonceUsed: false });
    const kept = outer.options.filter((o) => KEPT_OUTER.has(o.number));
    const inner: WireMessage = { type: outer.type, code: plaintext.code, messageId: outer.messageId, token: outer.token, options: sortOptions([...plaintext.options, ...kept]), payload: plaintext.payload };
    const outerBlock2 = readBlock2(outer.options);
    if (outerBlock2 === undefined) return { ok: true, inner, security };
    return { ok: true, inner, security, outerBlock2: { num: outerBlock2.num, szx: outerBlock2.szx } };
  }

  /** Appendix B.1.2: a protected 4.01 with only an Echo, under the server's own Partial IV. */
  #challenge(outer: WireMessage, context: ServerContext, request: RequestBinding): Unprotected {
    const echo = this.#echo.issue(context.name);
    const type = outer.type === MessageType.CON ? MessageType.ACK : MessageType.NON;
    const inner: WireMessage = { type, code: UNAUTHORIZED, messageId: outer.messageId, token: outer.token, options: [{ number: ECHO_OPTION, value: echo }], payload: new Uint8Array(0) };
    try {
      return { ok: false, kind: 'challenge', outer: protect(inner, { context, request, nonceUsed: true }, true) };
    } catch (err) {
      if (err instanceof GatewayError) return { ok: false, kind: 'error', error: err, diagnostic: '' };
      throw err;
    }
  }

  #exchange(security: RequestSecurity): Exchange {
    const exchange = this.#exchanges.get(security);
    if (!exchange) throw new TypeError('RequestSecurity not issued by this OscoreServer.unprotectRequest');
    return exchange;
  }
}

function protect(inner: WireMessage, exchange: Exchange, ownPiv: boolean): WireMessage {
  const keys = exchange.context.keys;
  const plain = splitResponse(inner);
  // The end of an observation (an error without Observe) keeps the observation's outer code.
  const split = exchange.observing === true && plain.outerCode === CODE_CHANGED ? { ...plain, outerCode: CODE_CONTENT } : plain;
  let nonce: Uint8Array;
  let option: OscoreOptionValue = {};
  if (ownPiv) {
    // Section 8.3 step 3: a new Partial IV from the Sender Sequence Number, which must never repeat (7.5.1).
    const piv = partialIv(exchange.context.sequence.next());
    nonce = aeadNonce(keys.commonIv, keys.senderId, piv);
    option = { piv };
  } else {
    nonce = aeadNonce(keys.commonIv, exchange.request.kid, exchange.request.piv);
    exchange.nonceUsed = true;
  }
  const ciphertext = seal(keys.senderKey, nonce, encStructure(exchange.request), split.plaintext);
  return assembleOuter(inner, split, encodeOscoreOption(option), ciphertext);
}

/** Section 8.2 steps 4 to 6. */
function decryptRequest(context: ServerContext, request: RequestBinding, ciphertext: Uint8Array): Step<Uint8Array> {
  // The plaintext holds at least the code byte (section 5.3).
  if (ciphertext.length < TAG_LENGTH + 1) return failure('GW_ERR_OSCORE_DECODE', DIAGNOSTIC.decode, `${context.name}: ciphertext of ${ciphertext.length} bytes`);
  const keys = context.keys;
  const nonce = aeadNonce(keys.commonIv, keys.recipientId, request.piv);
  const plaintext = openCiphertext(keys.recipientKey, nonce, encStructure(request), ciphertext);
  if (!plaintext) return failure('GW_ERR_OSCORE_DECRYPT_FAILED', DIAGNOSTIC.decrypt, context.name);
  return { ok: true, value: plaintext };
}

/** Section 8.2 step 7: the decrypted code, options and payload (section 5.3). */
function decodeRequest(context: ServerContext, plaintext: Uint8Array): Step<Plaintext> {
  const decoded = decodePlaintext(plaintext);
  if (!decoded) return failure('GW_ERR_OSCORE_DECODE', DIAGNOSTIC.decode, `${context.name}: the decrypted message is malformed`);
  // Section 4.1.3.7: nested OSCORE is not supported; Class U-only options have no business inside.
  if (decoded.options.some((o) => !isClassE(o.number))) return failure('GW_ERR_OSCORE_DECODE', DIAGNOSTIC.decode, `${context.name}: a Class U option inside the ciphertext`);
  // Section 5.3: the plaintext carries the original request's code; anything else is not a request (RFC 7252 section 12.1).
  if (decoded.code >> 5 !== 0) return failure('GW_ERR_OSCORE_DECODE', DIAGNOSTIC.decode, `${context.name}: the decrypted code ${decoded.code >> 5}.${String(decoded.code & 0x1f).padStart(2, '0')} is not a request method`);
  return { ok: true, value: decoded };
}

async function openSequence(options: OscoreServerOptions, name: string, keys: SecurityContext): Promise<Sequence> {
  if (options.sequences) return options.sequences(name);
  const file = path.join(options.stateDir, sequenceFileName(keys));
  return PersistedSequence.open(file, options.sequenceReserve !== undefined ? { reserve: options.sequenceReserve } : {});
}

function findEcho(options: readonly WireOption[]): WireOption | undefined {
  return options.find((o) => o.number === ECHO_OPTION);
}

function failure(code: ErrorCode, diagnostic: string, detail: string): Failure {
  return { ok: false, kind: 'error', error: new GatewayError(code, { detail }), diagnostic };
}

function lookupKey(kid: Uint8Array, idContext: Uint8Array | undefined): string {
  return `${hex(kid)}/${idContext ? hex(idContext) : '-'}`;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * The file of a context's sender sequence numbers is named after what the numbers protect, the
 * Sender Key and Common IV (through SHA-256, which does not give them away), not after the
 * client's name: renaming a client in the credentials file must find the same numbers, and new
 * keys start a new count (section 7.5.1: the numbers must not repeat for a key).
 */
export function sequenceFileName(keys: SecurityContext): string {
  const digest = createHash('sha256').update('coap-gateway oscore sender sequence').update(keys.senderKey).update(keys.commonIv).update(keys.senderId).digest('hex');
  return `sender-${digest.slice(0, 32)}.seq`;
}
