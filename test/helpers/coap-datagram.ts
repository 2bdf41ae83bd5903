/**
 * Raw CoAP over a real UDP socket, for tests that must send what node-coap's client cannot
 * (unknown critical options, malformed datagrams) and see exactly what comes back. Encoding
 * and decoding use coap-packet and cbor-x, independent of the gateway's own wire code.
 */
import { type Socket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { type ParsedPacket, generate, parse } from 'coap-packet';
import { decode as cborDecode } from 'cbor-x';

export interface RawRequest {
  code?: string;
  confirmable?: boolean;
  messageId?: number;
  token?: Buffer;
  options?: { name: string; value: Buffer }[];
  payload?: Buffer;
}

let nextMessageId = 0x1000;
let nextToken = 1;

export function requestDatagram(r: RawRequest = {}): Buffer {
  return generate({
    code: r.code ?? '0.01',
    confirmable: r.confirmable ?? true,
    messageId: r.messageId ?? nextMessageId++ & 0xffff,
    token: r.token ?? Buffer.from([0xa0, nextToken++ & 0xff]),
    options: r.options ?? [],
    payload: r.payload ?? Buffer.alloc(0),
  });
}

export function pathOptions(path: string): { name: string; value: Buffer }[] {
  const [p, q] = path.split('?') as [string, string | undefined];
  const out = p.split('/').filter((s) => s !== '').map((s) => ({ name: 'Uri-Path', value: Buffer.from(s) }));
  for (const item of q ? q.split('&') : []) out.push({ name: 'Uri-Query', value: Buffer.from(item) });
  return out;
}

export function uint(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes);
}

export class RawClient {
  readonly #socket: Socket;
  readonly #host: string;
  readonly #port: number;
  readonly #queue: Buffer[] = [];
  #waiter: ((b: Buffer) => void) | undefined;

  private constructor(socket: Socket, host: string, port: number) {
    this.#socket = socket;
    this.#host = host;
    this.#port = port;
    socket.on('message', (m) => {
      if (this.#waiter) {
        const w = this.#waiter;
        this.#waiter = undefined;
        w(m);
      } else this.#queue.push(m);
    });
  }

  /**
   * `localAddress` binds the client to another loopback address (127.0.0.2, ...: all of
   * 127.0.0.0/8 is local on Linux), so one test can play several source addresses.
   */
  static async open(host: string, port: number, localAddress?: string): Promise<RawClient> {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, localAddress ?? (isIPv6(host) ? '::1' : '127.0.0.1'), () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RawClient(socket, host, port);
  }

  send(datagram: Buffer): void {
    this.#socket.send(datagram, this.#port, this.#host);
  }

  /** The next datagram from the server, or undefined after timeoutMs. */
  next(timeoutMs = 1000): Promise<Buffer | undefined> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
    });
  }

  async exchange(datagram: Buffer, timeoutMs = 1000): Promise<Response | undefined> {
    this.send(datagram);
    const raw = await this.next(timeoutMs);
    return raw && toResponse(raw);
  }

  drain(): void {
    this.#queue.length = 0;
  }

  /** Every datagram received so far, without waiting. */
  takeAll(): Buffer[] {
    return this.#queue.splice(0, this.#queue.length);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/**
 * One confirmable GET from a fresh socket on 127.0.0.1 and its response, piggybacked or separate
 * after an Empty ACK (the gateway acknowledges a request whose reading takes a while, RFC 7252
 * section 5.2.2; a confirmable separate response is acknowledged).
 */
export async function confirmableGet(port: number, pathname: string, o: { accept?: number; timeoutMs?: number } = {}): Promise<Response | undefined> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const client = await RawClient.open('127.0.0.1', port);
  try {
    const options = [...pathOptions(pathname), ...(o.accept === undefined ? [] : [{ name: 'Accept', value: uint(o.accept) }])];
    let res = await client.exchange(requestDatagram({ options }), timeoutMs);
    if (res?.code === '0.00') {
      const raw = await client.next(timeoutMs);
      res = raw && toResponse(raw);
      if (res?.packet.confirmable) client.send(emptyMessage('ack', res.packet.messageId));
    }
    return res;
  } finally {
    await client.close();
  }
}

/** {@link confirmableGet}, with the time it took. */
export async function timedGet(port: number, pathname: string, timeoutMs = 5000): Promise<{ res: Response | undefined; ms: number }> {
  const t0 = performance.now();
  const res = await confirmableGet(port, pathname, { timeoutMs });
  return { res, ms: performance.now() - t0 };
}

export interface Response {
  raw: Buffer;
  packet: ParsedPacket;
  code: string;
  contentFormat: number | undefined;
  maxAge: number | undefined;
  size1: number | undefined;
  /** The Observe option's value (RFC 7641); undefined when absent. */
  observe: number | undefined;
  /** The body decoded with cbor-x when Content-Format is CBOR (60, 112) and the payload is not one block of several (Block2). */
  cbor: unknown;
}

/** An Empty ACK or RST (RFC 7252 section 4.2/4.3) answering the message with this ID. */
export function emptyMessage(kind: 'ack' | 'rst', messageId: number): Buffer {
  return Buffer.from([0x40 | ((kind === 'ack' ? 2 : 3) << 4), 0x00, messageId >> 8, messageId & 0xff]);
}

/** A GET (or FETCH) carrying Observe: 0 registers, 1 deregisters (RFC 7641 sections 3.1, 3.6). */
export function observeRequest(path: string, o: { observe?: number; token: Buffer; confirmable?: boolean; accept?: number; code?: string; messageId?: number }): Buffer {
  const options = [{ name: 'Observe', value: uint(o.observe ?? 0) }, ...pathOptions(path)];
  if (o.accept !== undefined) options.push({ name: 'Accept', value: uint(o.accept) });
  return requestDatagram({ code: o.code ?? '0.01', token: o.token, options, ...(o.confirmable === undefined ? {} : { confirmable: o.confirmable }), ...(o.messageId === undefined ? {} : { messageId: o.messageId }) });
}

function optionUint(p: ParsedPacket, name: string): number | undefined {
  const o = p.options.find((x) => x.name === name);
  if (!o) return undefined;
  let n = 0;
  for (const b of o.value as Buffer) n = n * 256 + b;
  return n;
}

export function toResponse(raw: Buffer): Response {
  const packet = parse(raw);
  const contentFormat = optionUint(packet, 'Content-Format');
  return {
    raw,
    packet,
    code: packet.code,
    contentFormat,
    maxAge: optionUint(packet, 'Max-Age'),
    size1: optionUint(packet, 'Size1'),
    observe: optionUint(packet, 'Observe'),
    // A Block2 payload is a slice of the representation (RFC 7959), not a CBOR item of its own.
    cbor: (contentFormat === 60 || contentFormat === 112) && packet.payload.length > 0 && !packet.options.some((o) => o.name === 'Block2') ? cborDecode(packet.payload) : undefined,
  };
}

/** The value of an option (by coap-packet name, e.g. 'ETag', 'Size2', or number as a string); undefined when absent. */
export function optionValue(p: ParsedPacket, name: string): Buffer | undefined {
  return p.options.find((o) => String(o.name) === name)?.value as Buffer | undefined;
}

/** An option value read as a CoAP uint (RFC 7252 section 3.2). */
export function readUint(value: Buffer): number {
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** A Block2 (or Block1) option: RFC 7959 section 2.2. */
export interface BlockOption {
  num: number;
  more: boolean;
  szx: number;
  /** 2 ** (szx + 4) bytes. */
  size: number;
}

/** The Block2 option value for block `num` of 2 ** (szx + 4) bytes, in the shortest uint (block 0 of 16 bytes is zero-length). */
export function block2Value(num: number, szx: number, more = false): Buffer {
  return uint(num * 16 + (more ? 8 : 0) + szx);
}

export function parseBlock(value: Buffer): BlockOption {
  const v = readUint(value);
  const szx = v & 0x07;
  return { num: Math.floor(v / 16), more: (v & 0x08) !== 0, szx, size: 2 ** (szx + 4) };
}

/** The response's Block2 option, parsed; undefined when absent. */
export function block2Of(res: Response): BlockOption | undefined {
  const v = optionValue(res.packet, 'Block2');
  return v === undefined ? undefined : parseBlock(v);
}
