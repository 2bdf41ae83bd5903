/**
 * A loopback UDP relay between CoAP clients and the gateway that records every datagram, both
 * ways, so a test can see what an independent peer (aiocoap) and the gateway really exchanged
 * under OSCORE, where the payloads are ciphertext:
 *
 *   client (aiocoap) ──▶ relay :listen ──▶ upstream socket (one per client address) ──▶ gateway
 *                    ◀──               ◀──                                          ◀──
 *
 * Each client source address gets its own upstream socket, so the gateway sees one stable peer
 * per client, and a datagram re-injected later comes from the same address and port as the
 * client's own. The upstream sockets are not connected: a gateway that is down for a while (a
 * kill -9 and a restart on the same port) costs nothing but lost datagrams, no ICMP errors.
 *
 * What it can do to the traffic: drop or delay the datagrams a predicate picks, and re-inject a
 * recorded client datagram, byte for byte except a new Message ID (RFC 7252 section 3), as an
 * attacker replaying a captured request would (RFC 8613 section 7.4).
 *
 * CoAP is parsed here (RFC 7252 section 3: header, token, options with delta/length extensions,
 * payload marker), not with the gateway's code nor with coap-packet, which names options and
 * can refuse what it does not know. The OSCORE option (number 9) is parsed as RFC 8613 section
 * 6.1 lays it out:
 *
 *    0 1 2 3 4 5 6 7 <------------- n bytes -------------->
 *   +-+-+-+-+-+-+-+-+--------------------------------------
 *   |0 0 0|h|k|  n  |       Partial IV (if any) ...
 *   +-+-+-+-+-+-+-+-+--------------------------------------
 *    <- 1 byte -> <----- s bytes ------>
 *   +------------+----------------------+------------------+
 *   | s (if any) | kid context (if any) | kid (if any) ... |
 *   +------------+----------------------+------------------+
 *
 * n = 6 and 7 are reserved, as are the three high bits; an empty option value is all flags zero
 * (a response that reuses the request's nonce).
 */
import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export const OPTION_OSCORE = 9;
/** RFC 9175 section 2.2.1. */
export const OPTION_ECHO = 252;
export const OPTION_OBSERVE = 6;

export interface CoapOption {
  number: number;
  value: Buffer;
}

export interface CoapDatagram {
  type: 'CON' | 'NON' | 'ACK' | 'RST';
  /** "0.01" (GET), "0.02" (POST), "2.05", ...; "0.00" for an empty message. */
  code: string;
  messageId: number;
  token: Buffer;
  options: CoapOption[];
  payload: Buffer;
}

export interface OscoreOption {
  /** The Partial IV as a number (at most 5 bytes: RFC 8613 section 6.1 caps the sequence number at 2^40 - 1); undefined when absent. */
  partialIv: number | undefined;
  partialIvHex: string | undefined;
  /** kid (the sender's ID) in hex, undefined when the k flag is not set. */
  kid: string | undefined;
  /** kid context in hex, undefined when the h flag is not set. */
  kidContext: string | undefined;
}

export type Direction = 'to-server' | 'to-client';

export interface RecordedDatagram {
  /** Order of arrival at the relay, from 0. */
  index: number;
  direction: Direction;
  /** Milliseconds since the relay started. */
  atMs: number;
  /** The client's address ("127.0.0.1:45678"): the flow this datagram belongs to. */
  client: string;
  bytes: Buffer;
  /** undefined when the bytes are not CoAP (too short, version not 1, a malformed option). */
  coap: CoapDatagram | undefined;
  /** The OSCORE option, parsed; undefined when there is none or it is malformed (see `oscoreError`). */
  oscore: OscoreOption | undefined;
  oscoreError: string | undefined;
  /** Sent by the relay itself (`reinject`), not by the client. */
  injected: boolean;
  /** Dropped by a rule: recorded, never delivered. */
  dropped: boolean;
}

export type Rule = (d: RecordedDatagram) => boolean;

const TYPES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** RFC 7252 section 3; throws on anything that is not a well-formed CoAP message. */
export function parseCoap(bytes: Buffer): CoapDatagram {
  if (bytes.length < 4) throw new Error(`${bytes.length} bytes: shorter than a CoAP header`);
  const version = bytes[0]! >> 6;
  if (version !== 1) throw new Error(`CoAP version ${version}`);
  const type = TYPES[(bytes[0]! >> 4) & 0x03]!;
  const tkl = bytes[0]! & 0x0f;
  if (tkl > 8) throw new Error(`token length ${tkl}`);
  const code = `${bytes[1]! >> 5}.${String(bytes[1]! & 0x1f).padStart(2, '0')}`;
  const messageId = bytes.readUInt16BE(2);
  if (bytes.length < 4 + tkl) throw new Error('truncated token');
  const token = bytes.subarray(4, 4 + tkl);
  const options: CoapOption[] = [];
  let i = 4 + tkl;
  let number = 0;
  const extended = (nibble: number): number => {
    if (nibble < 13) return nibble;
    if (nibble === 13) {
      if (i + 1 > bytes.length) throw new Error('truncated option extension');
      return bytes[i++]! + 13;
    }
    if (nibble === 14) {
      if (i + 2 > bytes.length) throw new Error('truncated option extension');
      const v = bytes.readUInt16BE(i) + 269;
      i += 2;
      return v;
    }
    throw new Error('option nibble 15 outside the payload marker');
  };
  while (i < bytes.length && bytes[i] !== 0xff) {
    const head = bytes[i++]!;
    number += extended(head >> 4);
    const length = extended(head & 0x0f);
    if (i + length > bytes.length) throw new Error(`option ${number} runs past the datagram`);
    options.push({ number, value: bytes.subarray(i, i + length) });
    i += length;
  }
  let payload: Buffer = Buffer.alloc(0);
  if (i < bytes.length) {
    // The marker: RFC 7252 section 3 makes a marker followed by nothing a format error.
    if (i + 1 === bytes.length) throw new Error('payload marker without a payload');
    payload = bytes.subarray(i + 1);
  }
  return { type, code, messageId, token, options, payload };
}

/** RFC 8613 section 6.1; throws on reserved bits, n = 6 or 7, or a length past the value. */
export function parseOscoreOption(value: Buffer): OscoreOption {
  if (value.length === 0) return { partialIv: undefined, partialIvHex: undefined, kid: undefined, kidContext: undefined };
  const flags = value[0]!;
  if (flags & 0xe0) throw new Error(`reserved flag bits set: 0x${flags.toString(16)}`);
  const n = flags & 0x07;
  if (n > 5) throw new Error(`Partial IV length ${n} is reserved`);
  let i = 1;
  if (i + n > value.length) throw new Error('Partial IV runs past the option');
  const piv = value.subarray(i, i + n);
  i += n;
  let kidContext: string | undefined;
  if (flags & 0x10) {
    if (i >= value.length) throw new Error('h set without a kid context length');
    const s = value[i++]!;
    if (i + s > value.length) throw new Error('kid context runs past the option');
    kidContext = value.subarray(i, i + s).toString('hex');
    i += s;
  }
  let kid: string | undefined;
  if (flags & 0x08) kid = value.subarray(i).toString('hex');
  else if (i !== value.length) throw new Error(`${value.length - i} bytes after the Partial IV without the k flag`);
  return {
    partialIv: n === 0 ? undefined : piv.readUIntBE(0, n),
    partialIvHex: n === 0 ? undefined : piv.toString('hex'),
    kid,
    kidContext,
  };
}

/** The bytes of `bytes` with another Message ID (header bytes 2 and 3). */
export function withMessageId(bytes: Buffer, messageId: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeUInt16BE(messageId & 0xffff, 2);
  return out;
}

/** Where the first option `number`'s value starts in `record.bytes`, or undefined without one. */
export function optionOffset(record: RecordedDatagram, number: number): number | undefined {
  const value = optionValues(record.coap, number)[0];
  return value === undefined ? undefined : value.byteOffset - record.bytes.byteOffset;
}

export function optionValues(d: CoapDatagram | undefined, number: number): Buffer[] {
  return d ? d.options.filter((o) => o.number === number).map((o) => o.value) : [];
}

interface Flow {
  client: RemoteInfo;
  upstream: Socket;
  /** Bound: sending before that would let the OS bind the socket to the wildcard address. */
  ready: Promise<void>;
}

export class UdpRecorder {
  readonly records: RecordedDatagram[] = [];
  readonly #listen: Socket;
  readonly #flows = new Map<string, Flow>();
  readonly #started = Date.now();
  readonly #drops: Rule[] = [];
  readonly #delays: { rule: Rule; ms: number }[] = [];
  readonly #waiters = new Set<{ match: Rule; resolve: (d: RecordedDatagram | undefined) => void }>();
  readonly #family: 'udp4' | 'udp6';
  #target: { host: string; port: number };
  #closed = false;

  private constructor(listen: Socket, family: 'udp4' | 'udp6', target: { host: string; port: number }) {
    this.#listen = listen;
    this.#family = family;
    this.#target = target;
    listen.on('message', (bytes, rinfo) => void this.#fromClient(bytes, rinfo));
    // A client that went away (ICMP port unreachable on a later send): nothing to do.
    listen.on('error', () => {});
  }

  /**
   * Listens on `host` (127.0.0.1 or ::1) port `port` (0: any free one) and relays to the
   * gateway at `targetHost`:`targetPort`.
   */
  static async start(opts: { host: string; port?: number; targetHost?: string; targetPort: number }): Promise<UdpRecorder> {
    const family = isIPv6(opts.host) ? 'udp6' : 'udp4';
    const listen = createSocket({ type: family, ipv6Only: family === 'udp6' });
    await bind(listen, opts.host, opts.port ?? 0);
    return new UdpRecorder(listen, family, { host: opts.targetHost ?? opts.host, port: opts.targetPort });
  }

  get host(): string {
    return this.#listen.address().address;
  }

  get port(): number {
    return this.#listen.address().port;
  }

  /** The `coap://` URL of `path` through the relay. */
  url(path: string): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `coap://${h}:${this.port}${path}`;
  }

  /** Where to relay to from now on (a gateway restarted on another port). */
  retarget(port: number, host = this.#target.host): void {
    this.#target = { host, port };
  }

  /** Datagrams `rule` picks are recorded (dropped: true) and never delivered, until the returned function is called. */
  drop(rule: Rule): () => void {
    this.#drops.push(rule);
    return () => {
      const i = this.#drops.indexOf(rule);
      if (i >= 0) this.#drops.splice(i, 1);
    };
  }

  /** Datagrams `rule` picks are delivered `ms` later, until the returned function is called. */
  delay(rule: Rule, ms: number): () => void {
    const entry = { rule, ms };
    this.#delays.push(entry);
    return () => {
      const i = this.#delays.indexOf(entry);
      if (i >= 0) this.#delays.splice(i, 1);
    };
  }

  /**
   * Sends a recorded client datagram to the gateway again, from the same client's upstream
   * socket, with `messageId` in place of its own (so the gateway cannot take it for a CoAP
   * retransmission, RFC 7252 section 4.5). Answers to it are recorded and not relayed to the
   * client (they would reach a client that never sent it). `mutate` may change the copy's bytes
   * in place first (a malformed OSCORE option). Resolves with the recorded copy.
   */
  async reinject(record: RecordedDatagram, messageId: number, mutate?: (bytes: Buffer) => void): Promise<RecordedDatagram> {
    if (record.direction !== 'to-server') throw new Error('only a datagram sent to the server can be re-injected');
    const flow = this.#flows.get(record.client);
    if (!flow) throw new Error(`no flow for ${record.client}`);
    const bytes = withMessageId(record.bytes, messageId);
    mutate?.(bytes);
    await flow.ready;
    const copy = this.#record('to-server', record.client, bytes, true);
    await send(flow.upstream, bytes, this.#target.port, this.#target.host);
    return copy;
  }

  /** The first datagram recorded from now on that `match` accepts, or undefined after `ms`. */
  next(match: Rule, ms = 3000): Promise<RecordedDatagram | undefined> {
    return new Promise((resolve) => {
      const waiter = {
        match,
        resolve: (d: RecordedDatagram | undefined) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(d);
        },
      };
      const timer = setTimeout(() => waiter.resolve(undefined), ms);
      this.#waiters.add(waiter);
    });
  }

  /** The recorded datagrams with an OSCORE option, one direction, from `from` on (a records index). */
  protected(direction: Direction, from = 0): RecordedDatagram[] {
    return this.records.slice(from).filter((r) => r.direction === direction && r.coap?.options.some((o) => o.number === OPTION_OSCORE));
  }

  /**
   * The responses (to-client, not an empty ACK) with the same token as `request` from the same
   * client, in order. Observe notifications included.
   */
  responsesTo(request: RecordedDatagram): RecordedDatagram[] {
    const token = request.coap?.token;
    if (!token) return [];
    return this.records.filter(
      (r) => r.index > request.index && r.direction === 'to-client' && r.client === request.client && r.coap !== undefined && r.coap.code !== '0.00' && r.coap.token.equals(token),
    );
  }

  /** A line per datagram, for assertion messages: index, direction, type, code, MID, token, OSCORE fields, payload size. */
  dump(records: RecordedDatagram[] = this.records): string {
    return records.map(describe).join('\n');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of [...this.#waiters]) w.resolve(undefined);
    const sockets = [this.#listen, ...[...this.#flows.values()].map((f) => f.upstream)];
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  #record(direction: Direction, client: string, bytes: Buffer, injected: boolean): RecordedDatagram {
    // Parsed from the copy kept, so that an option's value is a view into `record.bytes`
    // (a test can find where it lies: value.byteOffset - record.bytes.byteOffset).
    const kept = Buffer.from(bytes);
    let coap: CoapDatagram | undefined;
    let oscore: OscoreOption | undefined;
    let oscoreError: string | undefined;
    try {
      coap = parseCoap(kept);
    } catch {
      coap = undefined;
    }
    const value = optionValues(coap, OPTION_OSCORE)[0];
    if (value !== undefined) {
      try {
        oscore = parseOscoreOption(value);
      } catch (err) {
        oscoreError = err instanceof Error ? err.message : String(err);
      }
    }
    const record: RecordedDatagram = { index: this.records.length, direction, atMs: Date.now() - this.#started, client, bytes: kept, coap, oscore, oscoreError, injected, dropped: false };
    this.records.push(record);
    record.dropped = this.#drops.some((rule) => rule(record));
    for (const w of [...this.#waiters]) if (w.match(record)) w.resolve(record);
    return record;
  }

  async #fromClient(bytes: Buffer, rinfo: RemoteInfo): Promise<void> {
    const key = addressKey(rinfo.address, rinfo.port);
    let flow = this.#flows.get(key);
    if (!flow) {
      const upstream = createSocket({ type: this.#family, ipv6Only: this.#family === 'udp6' });
      upstream.on('message', (answer) => void this.#fromServer(key, answer));
      upstream.on('error', () => {});
      flow = { client: rinfo, upstream, ready: bind(upstream, this.#family === 'udp6' ? '::1' : '127.0.0.1', 0) };
      this.#flows.set(key, flow);
    }
    const record = this.#record('to-server', key, bytes, false);
    await flow.ready;
    await this.#deliver(record, flow.upstream, this.#target.port, this.#target.host);
  }

  async #fromServer(key: string, bytes: Buffer): Promise<void> {
    const flow = this.#flows.get(key)!;
    const record = this.#record('to-client', key, bytes, false);
    // An answer to a re-injected request goes nowhere: the client never sent that request.
    if (this.#answersInjected(record)) return;
    await this.#deliver(record, this.#listen, flow.client.port, flow.client.address);
  }

  #answersInjected(answer: RecordedDatagram): boolean {
    const c = answer.coap;
    if (!c || (c.type !== 'ACK' && c.type !== 'RST')) return false;
    return this.records.some((r) => r.injected && r.client === answer.client && r.coap?.messageId === c.messageId);
  }

  async #deliver(record: RecordedDatagram, socket: Socket, port: number, host: string): Promise<void> {
    if (record.dropped || this.#closed) return;
    const ms = this.#delays.find((d) => d.rule(record))?.ms ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    if (this.#closed) return;
    await send(socket, record.bytes, port, host).catch(() => {});
  }
}

function addressKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function bind(socket: Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function send(socket: Socket, bytes: Buffer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, host, (err) => (err ? reject(err) : resolve())));
}

export function describe(r: RecordedDatagram): string {
  const arrow = r.direction === 'to-server' ? '->' : '<-';
  const flags = `${r.injected ? ' injected' : ''}${r.dropped ? ' dropped' : ''}`;
  if (!r.coap) return `#${r.index} +${r.atMs}ms ${arrow} ${r.client} not CoAP: ${r.bytes.toString('hex')}${flags}`;
  const c = r.coap;
  const o = r.oscore;
  const osc = r.oscoreError ? ` OSCORE(malformed: ${r.oscoreError})` : o ? ` OSCORE(piv=${o.partialIv ?? '-'} kid=${o.kid ?? '-'}${o.kidContext !== undefined ? ` kidctx=${o.kidContext}` : ''})` : '';
  const other = c.options.filter((x) => x.number !== OPTION_OSCORE).map((x) => `${x.number}=${x.value.toString('hex')}`).join(',');
  const text = c.payload.length > 0 && c.payload.every((b) => b >= 0x20 && b < 0x7f) ? ` "${c.payload.toString('latin1')}"` : '';
  return `#${r.index} +${r.atMs}ms ${arrow} ${r.client} ${c.type} ${c.code} mid=${c.messageId} tok=${c.token.toString('hex')}${osc}${other ? ` opts[${other}]` : ''} payload=${c.payload.length}B${text}${flags}`;
}
