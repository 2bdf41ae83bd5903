/**
 * The gateway's security over real UDP (docs/security.md): OSCORE requests through the whole
 * pipeline (RFC 8613), the Echo exchange after a start (Appendix B.1.2), replays, Observe with
 * protected notifications, outer Block2, the access policy's 4.01 and 4.03, and write limits
 * (4.29, RFC 8516) that keep a flood of writes from taking the bus that readings need.
 * aiocoap, an independent implementation, is in test/interop-oscore.test.ts.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode } from 'cbor-x';
import { ManualClock, monotonicMs } from '../drivers/clock.ts';
import { type WireMessage, MessageType, Option, codeByte, codeString, encodeMessage, parseMessage, readUint, uintOption } from '../gateway/coap/coap-wire.ts';
import { OscoreClient, type PendingRequest } from '../gateway/coap/oscore/oscore-client.ts';
import { sequenceNumber } from '../gateway/coap/oscore/cose-encrypt0.ts';
import { decodeOscoreOption } from '../gateway/coap/oscore/oscore-option.ts';
import { OscoreServer } from '../gateway/coap/oscore/oscore-server.ts';
import { MemorySequence } from '../gateway/coap/oscore/sequence-store.ts';
import { parseAccess } from '../gateway/service/security-config.ts';
import { parseClientSettings, parseOscoreCredentials } from '../gateway/service/oscore-credentials.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';

const SECRET = '0102030405060708090a0b0c0d0e0f10';
/** Each client its own secret (RFC 8613 section 3.3; the credentials file refuses shared sender IDs). */
const MONITOR_SECRET = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
const SALT = '9e7ca92223786340';
const CREDENTIALS = {
  clients: {
    'thermostat-app': { 'sender-id_hex': '01', 'recipient-id_hex': 'a1', secret_hex: SECRET, salt_hex: SALT },
    monitor: { 'sender-id_hex': '01', 'recipient-id_hex': 'b2', secret_hex: MONITOR_SECRET, salt_hex: SALT },
  },
};
const THERMOSTAT = { 'sender-id_hex': 'a1', 'recipient-id_hex': '01', secret_hex: SECRET, salt_hex: SALT };
const MONITOR = { 'sender-id_hex': 'b2', 'recipient-id_hex': '01', secret_hex: MONITOR_SECRET, salt_hex: SALT };

let nextMid = 0x2000;

/** A UDP client speaking raw CoAP to the gateway: sends one datagram, collects what comes back. */
class Wire {
  readonly #socket: Socket;
  readonly received: WireMessage[] = [];
  #waiters: Array<(m: WireMessage) => void> = [];
  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (d) => {
      const p = parseMessage(d);
      if (!p.ok) return;
      const m = p.message;
      // Acknowledge confirmable notifications, as a client must (RFC 7252 section 4.2).
      if (m.type === MessageType.CON) this.sendRaw(encodeMessage({ type: MessageType.ACK, code: 0, messageId: m.messageId, token: new Uint8Array(0), options: [], payload: new Uint8Array(0) }));
      this.received.push(m);
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f(m);
    });
  }
  static async open(): Promise<Wire> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Wire(s);
  }
  port = 0;
  sendRaw(d: Buffer): void {
    this.#socket.send(d, this.port, '127.0.0.1');
  }
  /** Sends and waits for the next message with this token. */
  async exchange(m: WireMessage, timeoutMs = 3000): Promise<WireMessage> {
    const wait = this.next((r) => Buffer.from(r.token).equals(Buffer.from(m.token)), timeoutMs);
    this.sendRaw(encodeMessage(m));
    return wait;
  }
  next(match: (m: WireMessage) => boolean, timeoutMs = 3000): Promise<WireMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no response')), timeoutMs);
      const listen = (m: WireMessage) => {
        if (match(m)) {
          clearTimeout(t);
          resolve(m);
        } else this.#waiters.push(listen);
      };
      this.#waiters.push(listen);
    });
  }
  close(): void {
    this.#socket.close();
  }
}

function request(method: string, pathname: string, extra: { number: number; value: Uint8Array }[] = [], payload = new Uint8Array(0), token = Uint8Array.of(0x70, nextMid & 0xff, nextMid >> 8)): WireMessage {
  const options = pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => ({ number: Option.URI_PATH, value: Buffer.from(s) }));
  return { type: MessageType.CON, code: codeByte(method), messageId: nextMid++ & 0xffff, token, options: [...options, ...extra], payload };
}

/** One protected exchange, answering the Echo challenge of a fresh gateway once. */
async function protectedExchange(wire: Wire, client: OscoreClient, inner: WireMessage): Promise<{ inner: WireMessage; outer: WireMessage; pending: PendingRequest; echoed: boolean }> {
  let echo: Uint8Array | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const { outer, pending } = client.protectRequest({ ...inner, messageId: nextMid++ & 0xffff }, echo ? { echo } : {});
    const res = await wire.exchange(outer);
    if (!res.options.some((o) => o.number === Option.OSCORE)) return { inner: res, outer: res, pending, echoed: echo !== undefined };
    const r = client.unprotectResponse(res, pending);
    assert.ok(r.ok, `the response verifies: ${r.ok ? '' : r.error.message}`);
    if (r.echo !== undefined && codeString(r.inner.code) === '4.01') {
      echo = r.echo;
      continue;
    }
    return { inner: r.inner, outer: res, pending, echoed: echo !== undefined };
  }
  throw new Error('challenged twice');
}

function errorCode(m: WireMessage): string {
  return (cborDecode(Buffer.from(m.payload)) as { code: string }).code;
}

describe('credentials that would reuse a key and nonce are refused (RFC 8613 section 3.3)', () => {
  it('two clients with one secret and the same gateway sender-id: GW_ERR_OSCORE_CREDENTIALS naming the client', () => {
    const shared = { clients: { a: { 'sender-id_hex': '01', 'recipient-id_hex': 'a1', secret_hex: SECRET }, b: { 'sender-id_hex': '01', 'recipient-id_hex': 'b2', secret_hex: SECRET } } };
    assert.throws(() => parseOscoreCredentials(shared, 'test'), (err: Error & { code?: string }) => err.code === 'GW_ERR_OSCORE_CREDENTIALS' && /clients\.b/.test(err.message) && /section 3\.3/.test(err.message));
  });

  it("one client's sender-id equal to the gateway's sender-id of another under the same secret: refused", () => {
    const crossed = { clients: { a: { 'sender-id_hex': '01', 'recipient-id_hex': 'a1', secret_hex: SECRET }, b: { 'sender-id_hex': '02', 'recipient-id_hex': '01', secret_hex: SECRET } } };
    assert.throws(() => parseOscoreCredentials(crossed, 'test'), (err: Error & { code?: string }) => err.code === 'GW_ERR_OSCORE_CREDENTIALS');
  });

  it('the same IDs under different secrets are fine', () => {
    assert.equal(parseOscoreCredentials(CREDENTIALS, 'test').length, 2);
  });
});

describe('security over UDP: OSCORE, Echo, the access policy and write limits', () => {
  let gw: TestGateway;
  let wire: Wire;
  let stateDir: string;
  const access = parseAccess({ rules: [{ path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app'] }] });

  before(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'coap-security-'));
    const clock = new ManualClock();
    const oscore = await OscoreServer.open({ credentials: parseOscoreCredentials(CREDENTIALS, 'test'), stateDir, now: () => monotonicMs(clock) });
    gw = await startTestGateway({ clock, oscore, access });
    wire = await Wire.open();
    wire.port = gw.port;
  });
  after(async () => {
    wire.close();
    await gw.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a protected GET /temp: Echo challenge first (Appendix B.1.2), then the reading, with the simulated mark', async () => {
    const client = new OscoreClient(parseClientSettings(THERMOSTAT), new MemorySequence());
    const r = await protectedExchange(wire, client, request('0.01', '/temp'));
    assert.equal(r.echoed, true, 'the first request after a start is challenged');
    assert.equal(codeString(r.outer.code), '2.04', 'outer code of a protected response (RFC 8613 section 4.2)');
    assert.equal(codeString(r.inner.code), '2.05');
    const body = cborDecode(Buffer.from(r.inner.payload)) as { value: number; sim: boolean };
    assert.equal(body.sim, true);
    assert.equal(body.value, 21.5);
    const again = await protectedExchange(wire, client, request('0.01', '/temp'));
    assert.equal(again.echoed, false, 'challenged once per context');
    assert.equal(codeString(again.inner.code), '2.05');
  });

  it('a replayed protected request (same bytes, new Message ID) is refused: 4.01 "Replay detected"', async () => {
    const client = new OscoreClient(parseClientSettings(THERMOSTAT), new MemorySequence(1000));
    await protectedExchange(wire, client, request('0.01', '/temp'));
    const { outer } = client.protectRequest(request('0.01', '/temp'));
    const first = await wire.exchange(outer);
    assert.equal(codeString(first.code), '2.04');
    const replay = await wire.exchange({ ...outer, messageId: nextMid++ & 0xffff });
    assert.equal(codeString(replay.code), '4.01');
    assert.match(Buffer.from(replay.payload).toString(), /^Replay detected \(GW_ERR_OSCORE_REPLAY\)$/);
    assert.ok(!replay.options.some((o) => o.number === Option.OSCORE), 'section 8.2 errors are not protected');
    assert.equal(readUint(replay.options.find((o) => o.number === Option.MAX_AGE)!.value), 0);
  });

  it('a retransmission (same Message ID) gets the same protected reply, not a replay refusal (RFC 7252 section 4.5)', async () => {
    const client = new OscoreClient(parseClientSettings(THERMOSTAT), new MemorySequence(2000));
    await protectedExchange(wire, client, request('0.01', '/temp'));
    const { outer } = client.protectRequest(request('0.01', '/temp'));
    const a = await wire.exchange(outer);
    const b = await wire.exchange(outer);
    assert.deepEqual(Buffer.from(encodeMessage(b)), Buffer.from(encodeMessage(a)));
  });

  it('a wrong key: 4.00 "Decryption failed"; an unknown kid: 4.01 "Security context not found"', async () => {
    const wrong = new OscoreClient(parseClientSettings({ ...THERMOSTAT, secret_hex: 'ff'.repeat(16) }), new MemorySequence(5000));
    const r1 = await wire.exchange(wrong.protectRequest(request('0.01', '/temp')).outer);
    assert.equal(codeString(r1.code), '4.00');
    assert.match(Buffer.from(r1.payload).toString(), /^Decryption failed \(GW_ERR_OSCORE_DECRYPT_FAILED\)/);
    const stranger = new OscoreClient(parseClientSettings({ ...THERMOSTAT, 'sender-id_hex': 'cc' }), new MemorySequence());
    const r2 = await wire.exchange(stranger.protectRequest(request('0.01', '/temp')).outer);
    assert.equal(codeString(r2.code), '4.01');
    assert.match(Buffer.from(r2.payload).toString(), /^Security context not found/);
  });

  it('PUT /temp/alert: without OSCORE 4.01, by another OSCORE client 4.03, by the named one 2.04', async () => {
    const body = Buffer.from([0xa2, 0x64, 0x68, 0x69, 0x67, 0x68, 0x18, 0x1e, 0x63, 0x6c, 0x6f, 0x77, 0x18, 0x19]); // {"high": 30, "low": 25}
    const cf = { number: Option.CONTENT_FORMAT, value: uintOption(60) };
    const plain = await wire.exchange(request('0.03', '/temp/alert', [cf], body));
    assert.equal(codeString(plain.code), '4.01');
    assert.equal(errorCode(plain), 'GW_ERR_ACCESS_UNAUTHORIZED');
    const monitor = new OscoreClient(parseClientSettings(MONITOR), new MemorySequence());
    const m = await protectedExchange(wire, monitor, request('0.03', '/temp/alert', [cf], body));
    assert.equal(codeString(m.inner.code), '4.03');
    assert.equal(errorCode(m.inner), 'GW_ERR_ACCESS_FORBIDDEN');
    const thermostat = new OscoreClient(parseClientSettings(THERMOSTAT), new MemorySequence(3000));
    const t = await protectedExchange(wire, thermostat, request('0.03', '/temp/alert', [cf], body));
    assert.equal(codeString(t.inner.code), '2.04');
    assert.equal((cborDecode(Buffer.from(t.inner.payload)) as { high: number }).high, 30);
  });

  it('/gw/stats: 2.05 for an OSCORE client and for loopback (the default rule)', async () => {
    const monitor = new OscoreClient(parseClientSettings(MONITOR), new MemorySequence(100));
    const m = await protectedExchange(wire, monitor, request('0.01', '/gw/stats'));
    assert.equal(codeString(m.inner.code), '2.05');
    assert.equal(codeString((await wire.exchange(request('0.01', '/gw/stats'))).code), '2.05');
  });

  it('Observe over OSCORE: notifications are protected with the gateway\'s own, growing Partial IVs', async () => {
    const client = new OscoreClient(parseClientSettings(MONITOR), new MemorySequence(200));
    const token = Uint8Array.of(0x0b, 0x5e);
    const reg = await protectedExchange(wire, client, request('0.01', '/temp', [{ number: Option.OBSERVE, value: uintOption(0) }], new Uint8Array(0), token));
    assert.equal(codeString(reg.inner.code), '2.05');
    assert.ok(reg.inner.options.some((o) => o.number === Option.OBSERVE), 'registered');
    const pivOf = (m: WireMessage): number => {
      const o = decodeOscoreOption(m.options.find((x) => x.number === Option.OSCORE)!.value);
      assert.ok(o.ok && o.value.piv, 'a Partial IV of the gateway own');
      return sequenceNumber(o.value.piv);
    };
    const pivs = [pivOf(reg.outer)];
    const values: number[] = [];
    for (const celsius of [25, 30]) {
      const next = wire.next((m) => Buffer.from(m.token).equals(Buffer.from(token)));
      gw.sim.setTemperature(celsius);
      (gw.clock as ManualClock).advanceMs(300);
      const n = await next;
      assert.equal(codeString(n.code), '2.05', 'outer code of a notification');
      pivs.push(pivOf(n));
      const r = client.unprotectResponse(n, reg.pending);
      assert.ok(r.ok, 'the notification verifies');
      values.push((cborDecode(Buffer.from(r.inner.payload)) as { value: number }).value);
    }
    assert.deepEqual(values, [25, 30]);
    // The sensor fails: the last notification is an error without Observe (RFC 7641 section
    // 4.2), and still carries a Partial IV of the gateway's own, after the others (RFC 8613
    // section 8.3.1), so it cannot be held back and replayed to end a later observation.
    // Let the ACKs of the notifications reach the gateway before its clock moves on, or it
    // would retransmit them (the same Partial IV again, which the client rightly refuses).
    await new Promise((resolve) => setTimeout(resolve, 50));
    const last = wire.next((m) => Buffer.from(m.token).equals(Buffer.from(token)) && pivOf(m) > pivs.at(-1)!, 8000);
    gw.sim.inject('unplugged');
    for (let i = 0; i < 40; i++) {
      (gw.clock as ManualClock).advanceMs(300);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const end = await last;
    gw.sim.clearFault();
    assert.equal(codeString(end.code), '2.05', 'the observation keeps its outer code');
    pivs.push(pivOf(end));
    const r = client.unprotectResponse(end, reg.pending);
    assert.ok(r.ok, `the final error verifies: ${r.ok ? '' : r.error.message}`);
    assert.equal(codeString(r.inner.code), '5.03');
    assert.ok(!r.inner.options.some((o) => o.number === Option.OBSERVE), 'no Observe on the final error');
    for (let i = 1; i < pivs.length; i++) assert.ok(pivs[i]! > pivs[i - 1]!, `Partial IVs grow: ${pivs.join(', ')}`);
  });

  it('outer Block2: a protected response cut into outer blocks comes back whole from the held copy', async () => {
    const client = new OscoreClient(parseClientSettings(MONITOR), new MemorySequence(300));
    await protectedExchange(wire, client, request('0.01', '/temp'));
    const { outer, pending } = client.protectRequest(request('0.01', '/.well-known/core'));
    const withBlock = (num: number) => ({ ...outer, messageId: nextMid++ & 0xffff, options: [...outer.options.filter((o) => o.number !== Option.BLOCK2), { number: Option.BLOCK2, value: uintOption((num << 4) | 1) }] });
    const parts: Buffer[] = [];
    let last: WireMessage | undefined;
    for (let num = 0; num < 64; num++) {
      const res = await wire.exchange(withBlock(num));
      const b = readUint(res.options.find((o) => o.number === Option.BLOCK2)!.value);
      assert.equal(b >>> 4, num);
      parts.push(Buffer.from(res.payload));
      last = res;
      if ((b & 8) === 0) break;
    }
    assert.ok(parts.length > 1, 'more than one 32-byte block');
    const whole = { ...last!, options: last!.options.filter((o) => o.number !== Option.BLOCK2 && o.number !== Option.SIZE2), payload: Buffer.concat(parts) };
    const r = client.unprotectResponse(whole, pending);
    assert.ok(r.ok, 'the reassembled protected response verifies');
    assert.match(Buffer.from(r.inner.payload).toString(), /<\/temp>/);
  });
});

describe('write limits: a flood of writes never takes the bus from readings', () => {
  it('3,000 PUT /temp/alert from one client: 4.29 past its rate with Max-Age; every GET /temp meanwhile is 2.05', async () => {
    const gw = await startTestGateway({});
    const wire = await Wire.open();
    wire.port = gw.port;
    try {
      const body = Buffer.from([0xa1, 0x64, 0x68, 0x69, 0x67, 0x68, 0x18, 0x50]); // {"high": 80}
      const codes = new Map<string, number>();
      const reads: string[] = [];
      for (let i = 0; i < 3000; i++) {
        const res = await wire.exchange(request('0.03', '/temp/alert', [{ number: Option.CONTENT_FORMAT, value: uintOption(60) }], body));
        const code = codeString(res.code);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === '4.29') {
          assert.equal(errorCode(res), 'GW_ERR_WRITE_RATE_LIMITED');
          assert.ok(readUint(res.options.find((o) => o.number === Option.MAX_AGE)!.value) >= 1, 'Max-Age says when to retry (RFC 8516)');
        }
        if (i % 10 === 0) {
          reads.push(codeString((await wire.exchange(request('0.01', '/temp'))).code));
          (gw.clock as ManualClock).advanceMs(20);
        }
      }
      assert.ok((codes.get('2.04') ?? 0) <= 10 + 2 * 6 + 1, `writes through: ${codes.get('2.04')}`);
      assert.ok((codes.get('4.29') ?? 0) > 2900, `refused: ${codes.get('4.29')}`);
      assert.deepEqual([...new Set(reads)], ['2.05'], 'every read succeeded');
    } finally {
      wire.close();
      await gw.close();
    }
  });
});
