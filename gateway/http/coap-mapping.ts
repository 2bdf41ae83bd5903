/**
 * The HTTP-to-CoAP mapping of RFC 8075, in the gateway's terms: an HTTP request becomes a
 * RequestView (what a CoAP request is once the front has read it), and the Reply becomes an
 * HTTP status, headers and body. docs/http.md has the tables.
 *
 * Request (RFC 8075 section 5): GET and HEAD become CoAP GET, PUT, POST and DELETE the CoAP
 * method of the same name (section 5.3: a method the proxy cannot map gets 501). The path is
 * split at '/', each segment percent-decoded, and escaped again the way inbound-request.ts
 * writes a Uri-Path segment holding '%', '/' or '?'; the query is split at '&' into one Uri-Query
 * item each, percent-decoded (section 5.3, the default mapping of RFC 7252 section 6.4).
 *
 * Response (RFC 8075 section 7, Table 2, and its notes):
 *   2.05 -> 200; 2.04 -> 204 without a payload, 200 with one (note 2);
 *   4.00 -> 400; 4.01 -> 403 (note 5: an HTTP 401 must carry a WWW-Authenticate challenge, and
 *   there is none an HTTP client could answer: OSCORE does not cross the mapping);
 *   4.02 -> 500 (note 6: the only options are the ones this view wrote, so a bad option is ours);
 *   4.03 -> 403; 4.04 -> 404; 4.05 -> 405 with Allow when the gateway's error names the allowed
 *   methods, else 400 (note 7: a 405 must carry Allow); 4.06 -> 406; 4.13 -> 413; 4.15 -> 415;
 *   4.29 -> 429 (RFC 8516, after RFC 8075) with Retry-After; 5.00 -> 500; 5.03 -> 503 with
 *   Retry-After from Max-Age (note 8); 5.05 -> 502 (note 9).
 * Max-Age becomes Cache-Control: max-age (section 6.1: Max-Age to Cache-Control/Expires; a
 * response without Max-Age, 2.04, gets no-store rather than HTTP's heuristic caching).
 */
import { Method, type Reply, type RequestView } from '../coap/reply.ts';
import { decode as cborDecode } from 'cbor-x';
import { ContentFormat } from '../coap/content-formats.ts';
import { mediaTypeOf } from './media-types.ts';

/** HTTP method -> CoAP method code; HEAD is a GET whose body is not sent. */
const METHODS: Readonly<Record<string, string>> = { GET: Method.GET, HEAD: Method.GET, POST: Method.POST, PUT: Method.PUT, DELETE: '0.04' };

export function coapMethodOf(httpMethod: string): string | undefined {
  return Object.hasOwn(METHODS, httpMethod) ? METHODS[httpMethod] : undefined;
}

export function isSafe(httpMethod: string): boolean {
  return httpMethod === 'GET' || httpMethod === 'HEAD';
}

function escapeSegment(s: string): string {
  return /[%/?]/.test(s) ? s.replace(/[%/?]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')) : s;
}

/** The RequestView of a path and query, or undefined when a %-escape is malformed (400). */
export function viewOf(method: string, rawPath: string, rawQuery: string, accept: number | undefined, contentFormat: number | undefined, body: Uint8Array): RequestView | undefined {
  try {
    const segments = rawPath.split('/').slice(1).map((s) => escapeSegment(decodeURIComponent(s)));
    // "/temp/" has an empty last segment in CoAP (RFC 7252 section 6.4, step 8); served paths never end with '/'.
    const path = '/' + segments.join('/');
    // Percent-decoding only: "+" as a space is HTML form encoding, not URI syntax (RFC 7252
    // section 6.4 step 9, which RFC 8075 section 5 applies), so "rt=a+b" stays "rt=a+b".
    const query = rawQuery === '' ? [] : rawQuery.split('&').filter((q) => q !== '').map((q) => decodeURIComponent(q));
    return { method, path, query, accept, contentFormat, body };
  } catch {
    return undefined;
  }
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Table 2 of RFC 8075 section 7, for the codes the gateway answers with. */
const STATUS: Readonly<Record<Reply['code'], number>> = {
  '2.04': 200,
  '2.05': 200,
  '4.00': 400,
  '4.01': 403,
  '4.02': 500,
  '4.03': 403,
  '4.04': 404,
  '4.05': 405,
  '4.06': 406,
  '4.13': 413,
  '4.15': 415,
  '4.29': 429,
  '5.00': 500,
  '5.03': 503,
  '5.05': 502,
};

/** CoAP method names in an error detail ("allowed: GET, PUT") -> the HTTP methods that reach them. */
function allowOf(reply: Reply): string | undefined {
  if (reply.contentFormat !== ContentFormat.CBOR) return undefined;
  let detail: unknown;
  try {
    detail = (cborDecode(reply.payload) as { detail?: unknown } | undefined)?.detail;
  } catch {
    return undefined;
  }
  const m = typeof detail === 'string' ? /^allowed: ([A-Z, ]+)$/.exec(detail) : null;
  if (!m) return undefined;
  const out: string[] = [];
  for (const name of m[1]!.split(',').map((s) => s.trim())) {
    if (name === 'GET') out.push('GET', 'HEAD');
    else if (Object.hasOwn(METHODS, name)) out.push(name);
    // FETCH (RFC 8132) has no HTTP method here.
  }
  return out.length > 0 ? out.join(', ') : undefined;
}

export function httpResponseOf(reply: Reply): HttpResponse {
  const headers: Record<string, string> = {};
  let status = STATUS[reply.code] ?? 500;
  const hasBody = reply.payload.length > 0;
  if (reply.code === '2.04' && !hasBody) status = 204;
  if (reply.code === '4.05') {
    const allow = allowOf(reply);
    if (allow === undefined) status = 400;
    else headers['allow'] = allow;
  }
  if (hasBody) headers['content-type'] = mediaTypeOf(reply.contentFormat);
  // The representation depends on Accept (RFC 9110 section 12.5.5): a shared cache must not
  // hand a CBOR reading to a client that asked for SenML-JSON.
  headers['vary'] = 'Accept';
  if (reply.maxAge === undefined) headers['cache-control'] = 'no-store';
  else {
    headers['cache-control'] = `max-age=${reply.maxAge}`;
    if (status === 503 || status === 429) headers['retry-after'] = String(reply.maxAge);
  }
  return { status, headers, body: reply.payload };
}
