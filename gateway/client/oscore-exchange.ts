/**
 * One CoAP exchange protected with OSCORE (RFC 8613): `npm run client -- --oscore <settings.json>`.
 *
 * node-coap cannot carry OSCORE (it owns the message layer and has no hook between the
 * options and the socket), so this exchange owns its own: one UDP socket, the gateway's
 * encoder and parser (coap-wire.ts), confirmable retransmission (RFC 7252 section 4.2), separate
 * responses (5.2.2), inner block-wise transfer of a large response (RFC 7959, RFC 8613 section
 * 4.1.3.4.1), the Echo exchange a server asks for after it restarted (RFC 9175 section 2.4,
 * RFC 8613 Appendix B.1.2), and Observe with protected notifications (section 4.1.3.5).
 *
 * Sender sequence numbers are persisted beside the settings file (`<settings>.seq`, the same
 * scheme as the gateway's, RFC 8613 section 7.5.1): two runs of the client never reuse a nonce.
 */
import { randomBytes } from 'node:crypto';
import { type Socket, createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { type WireMessage, MessageType, Option, codeByte, codeString, encodeMessage, parseMessage, readUint, uintOption } from '../coap/coap-wire.ts';
import { readBlock2 } from '../coap/block2.ts';
import { parseClientSettings } from '../service/oscore-credentials.ts';
import { OscoreClient, type PendingRequest } from '../coap/oscore/oscore-client.ts';
import { PersistedSequence } from '../coap/oscore/sequence-store.ts';
import type { ClientResponse, ObserveOutcome, RequestSpec } from './coap-exchange.ts';
import { ResponseTimeoutError } from './coap-exchange.ts';
import type { ResolvedAddress } from './target.ts';
import { TargetUnreachableError } from './target.ts';

/** RFC 7252 section 4.8: ACK_TIMEOUT 2 s (the random factor left out: one client, one request). */
const ACK_TIMEOUT_MS = 2000;
const MAX_RETRANSMIT = 4;
/** The largest representation reassembled from inner blocks (the gateway's largest is a few KiB). */
const MAX_BODY_BYTES = 64 * 1024;
const METHOD_CODES = { GET: '0.01', POST: '0.02', PUT: '0.03', DELETE: '0.04', FETCH: '0.05' } as const;
/** Option names as the rest of the client prints them (describe-response.ts). */
const OPTION_NAMES: Record<number, string> = { 4: 'ETag', 6: 'Observe', 12: 'Content-Format', 14: 'Max-Age', 23: 'Block2', 28: 'Size2', 60: 'Size1' };

type Waiter = (m: WireMessage) => void;

export class OscoreExchange {
  readonly #socket: Socket;
  readonly #address: ResolvedAddress;
  readonly #port: number;
  readonly #client: OscoreClient;
  readonly #sequence: PersistedSequence;
  readonly #byToken = new Map<string, Waiter>();
  readonly #byMessageId = new Map<number, Waiter>();
  #messageId = randomBytes(2).readUInt16BE(0);

  private constructor(socket: Socket, address: ResolvedAddress, port: number, client: OscoreClient, sequence: PersistedSequence) {
    this.#socket = socket;
    this.#address = address;
    this.#port = port;
    this.#client = client;
    this.#sequence = sequence;
    socket.on('message', (d) => this.#receive(d));
  }

  static async open(address: ResolvedAddress, port: number, settingsFile: string): Promise<OscoreExchange> {
    const settings = parseClientSettings(JSON.parse(await readFile(settingsFile, 'utf8')), settingsFile);
    const sequence = await PersistedSequence.open(`${settingsFile}.seq`);
    const client = new OscoreClient(settings, sequence);
    const socket = createSocket(address.family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {});
    return new OscoreExchange(socket, address, port, client, sequence);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    await this.#sequence.close();
  }

  /** One request and its response, the inner blocks of a large one reassembled. */
  async request(spec: RequestSpec, timeoutMs: number): Promise<ClientResponse> {
    const deadline = Date.now() + timeoutMs;
    let res = (await this.#exchange(this.#inner(spec, undefined, undefined), spec.confirmable, deadline, timeoutMs)).response;
    const parts: Uint8Array[] = [res.payload];
    let total = res.payload.length;
    for (let block = readBlock2(res.options); block?.more; block = readBlock2(res.options)) {
      if (total > MAX_BODY_BYTES) break;
      res = (await this.#exchange(this.#inner(spec, undefined, undefined, { num: block.num + 1, szx: block.szx }), spec.confirmable, deadline, timeoutMs)).response;
      parts.push(res.payload);
      total += res.payload.length;
    }
    return snapshot({ ...res, payload: Buffer.concat(parts) }, this.#address, this.#port);
  }

  /** Observe=0, each protected notification to `onNotification` for `durationMs`, then Observe=1 (RFC 7641 section 3.6). */
  async observe(spec: RequestSpec, timeoutMs: number, durationMs: number, onNotification: (n: ClientResponse) => void): Promise<ObserveOutcome> {
    const deadline = Date.now() + timeoutMs;
    let ended: (() => void) | undefined;
    // The registration's token is the one of its last attempt (after an Echo challenge, a new one).
    const { response: first, pending, token } = await this.#exchange(this.#inner(spec, 0, randomBytes(8)), spec.confirmable, deadline, timeoutMs);
    let latest = snapshot(first, this.#address, this.#port);
    onNotification(latest);
    const registered = first.options.some((o) => o.number === Option.OBSERVE);
    if (!registered || !latest.code.startsWith('2.')) return { registered, last: latest };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), durationMs);
      const finish = () => {
        clearTimeout(timer);
        this.#byToken.delete(hex(token));
        resolve();
      };
      ended = finish;
      this.#byToken.set(hex(token), (m) => {
        if (m.type === MessageType.CON) this.#sendRaw(encodeMessage({ type: MessageType.ACK, code: 0, messageId: m.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) }));
        const r = this.#client.unprotectResponse(m, pending);
        if (!r.ok) return; // a forged, unprotected or replayed notification is dropped (RFC 8613 section 8.4)
        latest = snapshot(r.inner, this.#address, this.#port);
        onNotification(latest);
        if (!latest.code.startsWith('2.')) ended?.();
      });
    });
    try {
      await this.#exchange(this.#inner(spec, 1, token), spec.confirmable, Date.now() + 2000, 2000);
    } catch {
      // The deregistration is a courtesy (RFC 7641 section 3.6); the observation ends with us anyway.
    }
    return { registered: true, last: latest };
  }

  #inner(spec: RequestSpec, observe: 0 | 1 | undefined, token: Uint8Array | undefined, block2?: { num: number; szx: number }): WireMessage {
    const options: { number: number; value: Uint8Array }[] = [];
    if (observe !== undefined) options.push({ number: Option.OBSERVE, value: uintOption(observe) });
    for (const segment of spec.target.path) options.push({ number: Option.URI_PATH, value: segment });
    if (spec.contentFormat !== undefined) options.push({ number: Option.CONTENT_FORMAT, value: uintOption(spec.contentFormat) });
    for (const q of spec.target.query) options.push({ number: Option.URI_QUERY, value: q });
    if (spec.accept !== undefined) options.push({ number: Option.ACCEPT, value: uintOption(spec.accept) });
    if (block2 !== undefined) options.push({ number: Option.BLOCK2, value: uintOption((block2.num << 4) | block2.szx) });
    return {
      type: spec.confirmable ? MessageType.CON : MessageType.NON,
      code: codeByte(METHOD_CODES[spec.method]),
      messageId: 0,
      token: token ?? randomBytes(8),
      options,
      payload: spec.payload ?? new Uint8Array(0),
    };
  }

  /**
   * One protected request and its verified response; a 4.01 carrying Echo (the server has lost
   * its replay window) is answered once by repeating the request with that Echo, under a new
   * token, so that a late copy of the challenge cannot be taken for the answer to the repeat.
   * What comes back is the verified inner response, or an unprotected OSCORE error of RFC 8613
   * section 8.2 (a 4.xx or 5.xx, which cannot be authenticated and is shown as such).
   */
  async #exchange(inner: WireMessage, confirmable: boolean, deadline: number, timeoutMs: number): Promise<{ response: WireMessage; pending: PendingRequest; token: Uint8Array }> {
    let echo: Uint8Array | undefined;
    let request = inner;
    for (let attempt = 0; ; attempt++) {
      const { outer, pending } = this.#client.protectRequest(request, echo ? { echo } : undefined);
      let verified: WireMessage | undefined;
      const response = await this.#roundTrip(outer, confirmable, deadline, timeoutMs, (m) => {
        if (!m.options.some((o) => o.number === Option.OSCORE)) {
          // Section 8.2 errors are the only unprotected answers to a protected request; an
          // unprotected success is unauthenticated (a server without OSCORE, or a forgery), so
          // it is dropped and the exchange waits on (RFC 8613 section 8.4).
          return m.code >> 5 >= 4;
        }
        const r = this.#client.unprotectResponse(m, pending);
        if (!r.ok) return false; // does not verify against this request: not its answer (section 8.4)
        verified = r.inner;
        if (r.echo !== undefined && codeString(r.inner.code) === '4.01' && attempt === 0) echo = r.echo;
        return true;
      });
      if (verified === undefined) return { response, pending, token: request.token };
      if (echo !== undefined && attempt === 0) {
        request = { ...request, token: randomBytes(8) };
        continue;
      }
      return { response: verified, pending, token: request.token };
    }
  }

  /**
   * Sends a request (CON: retransmitted per RFC 7252 section 4.2) and waits for the first
   * message with its token that `accept` takes; an Empty ACK is matched by Message ID.
   */
  #roundTrip(outer: WireMessage, confirmable: boolean, deadline: number, timeoutMs: number, accept: (m: WireMessage) => boolean): Promise<WireMessage> {
    const messageId = (this.#messageId = (this.#messageId + 1) & 0xffff);
    const datagram = encodeMessage({ ...outer, type: confirmable ? MessageType.CON : MessageType.NON, messageId });
    const key = hex(outer.token);
    return new Promise<WireMessage>((resolve, reject) => {
      let acked = !confirmable;
      let retransmits = 0;
      let retransmitTimer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(retransmitTimer);
        clearTimeout(deadlineTimer);
        this.#byToken.delete(key);
        this.#byMessageId.delete(messageId);
      };
      const deadlineTimer = setTimeout(() => {
        done();
        reject(new ResponseTimeoutError(timeoutMs / 1000));
      }, Math.max(0, deadline - Date.now()));
      const retransmit = (waitMs: number) => {
        retransmitTimer = setTimeout(() => {
          if (acked || retransmits >= MAX_RETRANSMIT) return;
          retransmits++;
          this.#sendRaw(datagram);
          retransmit(waitMs * 2);
        }, waitMs);
      };
      // An Empty ACK: the response comes later as a separate CON (RFC 7252 section 5.2.2).
      this.#byMessageId.set(messageId, () => (acked = true));
      this.#byToken.set(key, (m) => {
        if (m.type === MessageType.CON) this.#sendRaw(encodeMessage({ type: MessageType.ACK, code: 0, messageId: m.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) }));
        // A piggybacked answer to another Message ID (a late copy for an earlier request) is not ours.
        if (m.type === MessageType.ACK && m.messageId !== messageId) return;
        if (!accept(m)) return;
        done();
        resolve(m);
      });
      if (confirmable) retransmit(ACK_TIMEOUT_MS);
      this.#socket.send(datagram, this.#port, this.#address.address, (err) => {
        if (err) {
          done();
          reject(new TargetUnreachableError(`cannot send to ${this.#address.address}: ${err.message}`));
        }
      });
    });
  }

  #receive(datagram: Buffer): void {
    const parsed = parseMessage(datagram);
    if (!parsed.ok) return;
    const m = parsed.message;
    if (m.code === 0) {
      if (m.type === MessageType.ACK) this.#byMessageId.get(m.messageId)?.(m);
      return;
    }
    const waiter = this.#byToken.get(hex(m.token));
    if (waiter !== undefined) waiter(m);
    // Nothing waits for this token: a CON is rejected so the server stops sending (RFC 7252 section 4.2).
    else if (m.type === MessageType.CON) this.#sendRaw(encodeMessage({ type: MessageType.RST, code: 0, messageId: m.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) }));
  }

  #sendRaw(datagram: Buffer): void {
    this.#socket.send(datagram, this.#port, this.#address.address, () => {});
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function snapshot(m: WireMessage, address: ResolvedAddress, port: number): ClientResponse {
  return {
    code: codeString(m.code),
    options: m.options
      .filter((o) => OPTION_NAMES[o.number] !== undefined && o.number !== Option.BLOCK2)
      .map((o) => ({ name: OPTION_NAMES[o.number]!, value: o.number === Option.ETAG ? Buffer.from(o.value) : readUint(o.value) })),
    payload: Buffer.from(m.payload),
    remote: { address: address.address, port },
  };
}
