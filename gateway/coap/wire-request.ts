/**
 * Requests and replies on our own wire code, for the layers that answer without node-coap (the
 * Observe layer and the fast path): a parsed request as the handlers see it, and a handler's
 * Reply as the datagram that answers it.
 */
import { type WireMessage, type WireOption, codeByte, codeString, encodeMessage, readUint, uintOption } from './coap-wire.ts';
import { Option } from './datagram-guard.ts';
import type { Reply, RequestView } from './reply.ts';

/** The same view node-coap's request gives the router: path from Uri-Path, query from Uri-Query joined with '&'. */
export function requestViewOf(m: WireMessage): RequestView {
  const text = (v: Uint8Array) => Buffer.from(v).toString('utf8');
  const path = '/' + m.options.filter((o) => o.number === Option.URI_PATH).map((o) => text(o.value)).join('/');
  const query = m.options.filter((o) => o.number === Option.URI_QUERY).map((o) => text(o.value)).join('&');
  const uint = (n: number) => {
    const o = m.options.find((x) => x.number === n);
    return o ? readUint(o.value) : undefined;
  };
  return { method: codeString(m.code), path, query, accept: uint(Option.ACCEPT), contentFormat: uint(Option.CONTENT_FORMAT), body: m.payload };
}

/** The options and payload the router writes for a Reply (router.ts #write), in a message of the given type and ID. */
export function replyDatagram(reply: Reply, header: { type: number; messageId: number; token: Uint8Array }): Buffer {
  const options: WireOption[] = [{ number: Option.CONTENT_FORMAT, value: uintOption(reply.contentFormat) }];
  if (reply.maxAge !== undefined) options.push({ number: Option.MAX_AGE, value: uintOption(reply.maxAge) });
  if (reply.size1 !== undefined) options.push({ number: Option.SIZE1, value: uintOption(reply.size1) });
  return encodeMessage({ ...header, code: codeByte(reply.code), options, payload: reply.payload });
}
