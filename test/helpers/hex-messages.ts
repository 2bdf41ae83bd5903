/** Hex and CoAP messages in the OSCORE tests (the RFC 8613 vectors are hex). */
import assert from 'node:assert/strict';
import { type WireMessage, parseMessage } from '../../gateway/coap/coap-wire.ts';

export const b = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
export const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

/** A datagram (hex or bytes) as a message; fails the test if it does not parse. */
export function parse(h: string | Uint8Array): WireMessage {
  const r = parseMessage(typeof h === 'string' ? b(h) : h);
  assert.ok(r.ok, 'parses');
  return r.message;
}
