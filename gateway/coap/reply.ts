/**
 * What a resource handler returns: everything the response encoder (response-writer.ts) needs
 * to write one response. Handlers never see messages or sockets, so they can be tested without one.
 */
import type { CoapErrorCode, ErrorReply } from './error-response.ts';

export interface Reply {
  code: '2.04' | '2.05' | CoapErrorCode;
  contentFormat: number;
  /**
   * Seconds (RFC 7252 section 5.10.5). Set on every cacheable response: absent means 60 s,
   * wrong for a reading. Undefined only on 2.04 Changed, which is not cacheable (section 5.9.1.4).
   */
  maxAge: number | undefined;
  payload: Uint8Array;
  size1?: number;
  /**
   * An error's body with its catalogue code only, without `detail`: what an endpoint whose
   * address is not verified gets (RFC 7252 section 11.3; docs/coap-api.md, "Amplification").
   */
  brief?: Uint8Array;
}

export function fromError(e: ErrorReply): Reply {
  const reply: Reply = { code: e.code, contentFormat: e.contentFormat, maxAge: e.maxAge, payload: e.payload };
  if (e.size1 !== undefined) reply.size1 = e.size1;
  if (e.brief !== undefined) reply.brief = e.brief;
  return reply;
}

/** A request as the handlers see it (inbound-request.ts builds it once per datagram). */
export interface RequestView {
  /** "0.01" GET, "0.02" POST, "0.05" FETCH... */
  method: string;
  /** '/' and the Uri-Path segments joined by '/', a '/', '?' or '%' inside a segment escaped. */
  path: string;
  /** The Uri-Query options, one item each (`unit=K`). */
  query: readonly string[];
  /** Accept as a Content-Format number; undefined when absent. */
  accept: number | undefined;
  /** Content-Format of the body as a number; undefined when absent. */
  contentFormat: number | undefined;
  body: Uint8Array;
}

export const Method = { GET: '0.01', POST: '0.02', PUT: '0.03', FETCH: '0.05' } as const;
