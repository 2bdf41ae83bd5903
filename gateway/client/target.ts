/**
 * The request target: a `coap://` URI split into what goes on the wire (RFC 7252 section 6.4,
 * "Decomposing URIs into Options").
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { UsageError } from '../cli/args.ts';

/** RFC 7252 section 6.1: the default port for the coap scheme. */
export const COAP_DEFAULT_PORT = 5683;

export interface CoapTarget {
  /** As written, without IPv6 brackets: `127.0.0.1`, `::1`, `gateway.local`. */
  host: string;
  port: number;
  /** Uri-Path option values, percent-decoded (section 6.4 step 8). */
  path: Buffer[];
  /** Uri-Query option values, percent-decoded (section 6.4 step 9). */
  query: Buffer[];
  /** The URI as given, for messages. */
  uri: string;
}

export function parseCoapUri(text: string): CoapTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`not a URI: ${JSON.stringify(text)} (expected coap://host[:port]/path, IPv6 as coap://[::1]/temp)`);
  }
  if (url.protocol === 'coaps:') throw new UsageError('coaps:// needs DTLS, which this client does not implement; use coap://');
  if (url.protocol !== 'coap:') throw new UsageError(`unsupported scheme ${url.protocol} (only coap:// is supported)`);
  // coap: is not a WHATWG "special" scheme, so URL leaves IPv6 literals in brackets.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new UsageError(`no host in ${JSON.stringify(text)}`);
  if (url.hash !== '') throw new UsageError('a CoAP URI has no fragment (RFC 7252 section 6.4 step 4)');
  const port = url.port === '' ? COAP_DEFAULT_PORT : Number(url.port);
  // Section 6.4 step 8: a path of "/" or "" means no Uri-Path option at all.
  const segments = url.pathname === '' || url.pathname === '/' ? [] : url.pathname.slice(1).split('/');
  const query = url.search.length > 1 ? url.search.slice(1).split('&') : [];
  return { host, port, path: segments.map(percentDecode), query: query.map(percentDecode), uri: text };
}

/** Percent-decoding to bytes, so an encoded "/" stays inside its segment. */
function percentDecode(part: string): Buffer {
  try {
    return Buffer.from(decodeURIComponent(part), 'utf8');
  } catch {
    throw new UsageError(`bad percent-encoding in ${JSON.stringify(part)}`);
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Host names are resolved here, not by node-coap: it picks its IPv4 or IPv6 socket from the host
 * string alone, so a name that resolves only to IPv6 (`localhost` on some systems) would be sent
 * from an IPv4 socket and fail.
 */
export async function resolveTarget(target: CoapTarget): Promise<ResolvedAddress> {
  const literal = isIP(target.host);
  if (literal === 4 || literal === 6) return { address: target.host, family: literal };
  try {
    const { address, family } = await lookup(target.host, { verbatim: true });
    return { address, family: family === 6 ? 6 : 4 };
  } catch (err) {
    throw new TargetUnreachableError(`cannot resolve ${target.host}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** The request could not be sent (name resolution, socket error); the CLI exits 1. */
export class TargetUnreachableError extends Error {
  override readonly name = 'TargetUnreachableError';
}
