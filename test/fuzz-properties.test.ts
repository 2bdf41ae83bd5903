/**
 * Property tests of the parsers that take bytes from the network: the CoAP datagram parser
 * (gateway/coap/coap-wire.ts), the request reader behind it (inbound-request.ts) and the strict
 * CBOR decoder of request bodies (cbor-strict-decode.ts). Seeded, so a failure names its case
 * and repeats; `npm run fuzz` sends the same kind of input to a running gateway.
 *
 * - parseMessage never throws; what it accepts re-encodes to a message that parses the same;
 * - readRequest never throws on a parsed request: a request view, a RST or a coded refusal;
 * - decodeCborStrict throws nothing but CborDecodeError, whatever the bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CborDecodeError, decodeCborStrict } from '../gateway/coap/cbor-strict-decode.ts';
import { encodeMessage, parseMessage } from '../gateway/coap/coap-wire.ts';
import { GatewayError } from '../gateway/errors.ts';
import { readRequest } from '../gateway/coap/inbound-request.ts';
import { prng } from './helpers/prng.ts';

const text = (t: string): Uint8Array => new TextEncoder().encode(t);
const uint = (n: number): Uint8Array => Uint8Array.from(n === 0 ? [] : n < 256 ? [n] : [n >> 8, n & 0xff]);

/** Valid messages to mutate, written with the gateway's own encoder and checked below to parse and read. */
const VALID: Buffer[] = [
  encodeMessage({ type: 0, code: 1, messageId: 0xa0b1, token: Uint8Array.of(0xb1), options: [{ number: 11, value: text('temp') }], payload: new Uint8Array(0) }),
  encodeMessage({ type: 1, code: 1, messageId: 0xa0b2, token: Uint8Array.of(0xb2), options: [{ number: 11, value: text('temp') }, { number: 17, value: uint(60) }], payload: new Uint8Array(0) }),
  encodeMessage({ type: 0, code: 5, messageId: 0xa0b3, token: Uint8Array.of(0xb3), options: [{ number: 11, value: text('temp') }, { number: 12, value: uint(60) }], payload: Uint8Array.from(Buffer.from('a164756e6974614b', 'hex')) }),
  encodeMessage({ type: 0, code: 1, messageId: 0xa0b4, token: Uint8Array.of(0xb4), options: [{ number: 6, value: uint(0) }, { number: 11, value: text('temp') }, { number: 15, value: text('c.pmin=1') }], payload: new Uint8Array(0) }),
  encodeMessage({ type: 0, code: 1, messageId: 0xa0b5, token: Uint8Array.of(0xb5), options: [{ number: 11, value: text('gw') }, { number: 11, value: text('stats') }, { number: 23, value: uint(0x12) }], payload: new Uint8Array(0) }),
  Buffer.from('60000001', 'hex'),
  Buffer.from('70000002', 'hex'),
  Buffer.from('40000003', 'hex'),
];

function mutated(rand: () => number): Uint8Array {
  const base = VALID[Math.floor(rand() * VALID.length)]!;
  const b = [...base];
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.3 && b.length) b[Math.floor(rand() * b.length)]! ^= 1 << Math.floor(rand() * 8);
    else if (r < 0.5) b.splice(Math.floor(rand() * (b.length + 1)), 0, Math.floor(rand() * 256));
    else if (r < 0.65 && b.length > 1) b.splice(Math.floor(rand() * b.length), 1);
    else if (r < 0.75) b.length = Math.floor(rand() * (b.length + 1));
    else if (r < 0.9) b.push(...Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)));
    else b.splice(4, 0, (13 + Math.floor(rand() * 3)) * 16 + Math.floor(rand() * 16), Math.floor(rand() * 256));
  }
  return Uint8Array.from(b);
}

describe('the datagram parser and request reader take any bytes', () => {
  it('every seed is what it says: it parses, and a request among them reads', () => {
    for (const [i, seed] of VALID.entries()) {
      const parsed = parseMessage(seed);
      assert.ok(parsed.ok, `seed ${i}`);
      if (parsed.message.code !== 0) assert.ok(readRequest(parsed.message).ok, `seed ${i} reads as a request`);
    }
  });

  it('50,000 mutated and 20,000 random datagrams: no throw; accepted ones round-trip; every request reads or is refused with a code', () => {
    const rand = prng(11);
    let accepted = 0;
    let requests = 0;
    for (let i = 0; i < 70_000; i++) {
      const bytes = i < 50_000 ? mutated(rand) : Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
      const parsed = parseMessage(bytes);
      if (!parsed.ok) continue;
      accepted++;
      const again = parseMessage(encodeMessage(parsed.message));
      assert.ok(again.ok, `case ${i}: ${Buffer.from(bytes).toString('hex')} re-encodes to something unparsable`);
      assert.deepEqual(
        { ...again.message, token: [...again.message.token], payload: [...again.message.payload], options: again.message.options.map((o) => [o.number, [...o.value]]) },
        { ...parsed.message, token: [...parsed.message.token], payload: [...parsed.message.payload], options: parsed.message.options.map((o) => [o.number, [...o.value]]) },
        `case ${i}`,
      );
      const m = parsed.message;
      if (m.code >> 5 !== 0 || m.code === 0) continue;
      requests++;
      const read = readRequest(m);
      if (!read.ok && !read.reset) assert.ok(read.error instanceof GatewayError && read.error.code.startsWith('GW_ERR_REQUEST_'), `case ${i}`);
    }
    assert.ok(accepted > 5_000 && requests > 2_000, `the mutations reach the parser's depths (${accepted} accepted, ${requests} requests)`);
  });
});

describe('the strict CBOR decoder takes any bytes', () => {
  it('100,000 random and mutated bodies: CborDecodeError or a value, nothing else', () => {
    const rand = prng(7);
    const heads = [0xa1, 0xa2, 0xbf, 0x9f, 0xd8, 0xf9, 0xfa, 0xfb, 0x7f, 0x5f, 0x1b, 0x3b, 0x78, 0x98, 0xb8];
    let decoded = 0;
    for (let i = 0; i < 100_000; i++) {
      const n = 1 + Math.floor(rand() * 24);
      const b = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
      if (rand() < 0.6) b[0] = heads[Math.floor(rand() * heads.length)]!;
      try {
        decodeCborStrict(b);
        decoded++;
      } catch (err) {
        assert.ok(err instanceof CborDecodeError, `case ${i} (${Buffer.from(b).toString('hex')}): ${String(err)}`);
      }
    }
    assert.ok(decoded > 100, `some bodies decode (${decoded})`);
  });
});
