/**
 * Our CoAP encoder (gateway/coap/coap-wire.ts) against RFC 7252 section 3's layout: exact bytes
 * for the extended delta and length forms, and random messages read back by coap-packet
 * (node-coap's parser, independent of ours) and by our own parser.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'coap-packet';
import { type WireMessage, encodeMessage, parseMessage } from '../gateway/coap/coap-wire.ts';

describe('encodeMessage', () => {
  it('writes the header, token, options in order with 4-bit, 1-byte and 2-byte extended forms, and the payload marker', () => {
    const m: WireMessage = {
      type: 2,
      code: 0x45,
      messageId: 0x1234,
      token: Uint8Array.from([0xaa, 0xbb]),
      // Given out of order: options are written by ascending number.
      options: [
        { number: 300, value: new Uint8Array(13) }, // delta 286 -> 14 + 2 bytes (17); length 13 -> 13 + 1 byte (0)
        { number: 12, value: Uint8Array.from([60]) }, // delta 12, length 1
        { number: 14, value: new Uint8Array(0) }, // delta 2, length 0
      ],
      payload: Uint8Array.from([1, 2]),
    };
    const expected = Buffer.concat([
      Buffer.from('62451234aabb', 'hex'),
      Buffer.from('c13c', 'hex'),
      Buffer.from('20', 'hex'),
      Buffer.from('ed001100', 'hex'),
      Buffer.alloc(13),
      Buffer.from('ff0102', 'hex'),
    ]);
    assert.equal(encodeMessage(m).toString('hex'), expected.toString('hex'));
  });

  it('random messages read back the same through coap-packet and through our parser', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const options: WireMessage['options'] = [];
      let number = 0;
      for (let k = rnd(5); k > 0; k--) {
        number += [0, 1, 12, 13, 268, 269, 600][rnd(7)]!;
        options.push({ number, value: Uint8Array.from({ length: [0, 1, 12, 13, 268, 269, 300][rnd(7)]! }, () => rnd(256)) });
      }
      const m: WireMessage = { type: rnd(4), code: 0x45, messageId: rnd(0x10000), token: Uint8Array.from({ length: rnd(9) }, () => rnd(256)), options, payload: Uint8Array.from({ length: rnd(3) * 20 }, () => rnd(256)) };
      const bytes = encodeMessage(m);
      const ours = parseMessage(bytes);
      assert.ok(ours.ok, `message ${i}`);
      assert.equal(ours.message.messageId, m.messageId);
      assert.deepEqual(ours.message.options.map((o) => [o.number, Buffer.from(o.value).toString('hex')]), options.map((o) => [o.number, Buffer.from(o.value).toString('hex')]));
      assert.deepEqual(Buffer.from(ours.message.payload), Buffer.from(m.payload));
      const theirs = parse(bytes);
      assert.equal(theirs.messageId, m.messageId);
      assert.deepEqual(theirs.token, Buffer.from(m.token));
      assert.equal(theirs.options.length, options.length);
      assert.deepEqual(theirs.payload, Buffer.from(m.payload));
    }
  });
});
