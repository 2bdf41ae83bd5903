/**
 * HTTP media types and CoAP Content-Formats (RFC 8075 section 6.3, "Content-Type and Accept
 * Mapping"; the numbers are the IANA "CoAP Content-Formats" registry, content-formats.ts).
 *
 * A Content-Format stands for a media type *with* its parameters: 0 is "text/plain;
 * charset=utf-8". A text/plain without a charset is taken as UTF-8 too (every text this gateway
 * writes is ASCII); a text/plain with another charset has no Content-Format.
 *
 * Accept: HTTP lists several types with q-values, CoAP's Accept option carries one format
 * (RFC 7252 section 5.10.4). `acceptCandidates` turns the header into the formats to try, best
 * first: the HTTP view asks with the first and, for a safe request answered 4.06, the next.
 */
import { ContentFormat } from '../coap/content-formats.ts';

/** Content-Format number -> the media type an HTTP response names (Content-Type). */
const MEDIA_TYPE_OF: ReadonlyMap<number, string> = new Map([
  [ContentFormat.TEXT, 'text/plain; charset=utf-8'],
  [ContentFormat.LINK_FORMAT, 'application/link-format'],
  [ContentFormat.JSON, 'application/json'],
  [ContentFormat.CBOR, 'application/cbor'],
  [ContentFormat.SENML_JSON, 'application/senml+json'],
  [ContentFormat.SENML_CBOR, 'application/senml+cbor'],
]);

/** Lower-case type/subtype -> Content-Format (text/plain: charset checked apart). */
const FORMAT_OF: ReadonlyMap<string, number> = new Map([...MEDIA_TYPE_OF].map(([n, t]) => [t.split(';')[0]!, n]));

/** RFC 8075 section 6.3: a Content-Format the proxy does not know is sent as application/octet-stream. */
export const UNKNOWN_MEDIA_TYPE = 'application/octet-stream';

export function mediaTypeOf(contentFormat: number): string {
  return MEDIA_TYPE_OF.get(contentFormat) ?? UNKNOWN_MEDIA_TYPE;
}

interface MediaRange {
  type: string;
  params: Map<string, string>;
  q: number;
  order: number;
}

/** One media range: `type/subtype *( ; name=value )` (RFC 9110 section 12.5.1); undefined when malformed. */
function parseRange(text: string, order: number): MediaRange | undefined {
  const [head, ...rest] = text.split(';');
  const type = head!.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*)$/.test(type) && type !== '*/*') return undefined;
  const params = new Map<string, string>();
  let q = 1;
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const value = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name === 'q') {
      const n = Number(value);
      q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
    } else params.set(name, value.toLowerCase());
  }
  return { type, params, q, order };
}

/** The Content-Format of one media type with its parameters; undefined when it has none. */
function formatOfRange(r: { type: string; params: Map<string, string> }): number | undefined {
  const n = FORMAT_OF.get(r.type);
  if (n === undefined) return undefined;
  const charset = r.params.get('charset');
  if (n === ContentFormat.TEXT && charset !== undefined && charset !== 'utf-8' && charset !== 'us-ascii') return undefined;
  return n;
}

/** A request's Content-Type as a Content-Format; undefined when absent, 'unknown' when it has none (415). */
export function contentFormatOfType(header: string | undefined): number | undefined | 'unknown' {
  if (header === undefined || header.trim() === '') return undefined;
  const r = parseRange(header, 0);
  if (r === undefined || r.type.includes('*')) return 'unknown';
  return formatOfRange(r) ?? 'unknown';
}

/**
 * What to put in the CoAP Accept option, best first:
 * - no Accept header, or a wildcard (`*\/*`, `application/*`) ranked before any type this
 *   gateway knows: [undefined], no Accept option, the resource's default format;
 * - known types by q-value (then by position): their Content-Formats, ending with undefined
 *   when a wildcard comes after them;
 * - nothing usable (only unknown types, or everything q=0): [] and the caller answers 406
 *   itself: no Content-Format can say what the client wants (RFC 8075 section 6.3).
 */
export function acceptCandidates(header: string | undefined): Array<number | undefined> {
  if (header === undefined || header.trim() === '') return [undefined];
  const ranges = header
    .split(',')
    .map((part, i) => parseRange(part, i))
    .filter((r): r is MediaRange => r !== undefined && r.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  const out: Array<number | undefined> = [];
  for (const r of ranges) {
    if (r.type.endsWith('/*')) {
      out.push(undefined);
      break;
    }
    const n = formatOfRange(r);
    if (n !== undefined && !out.includes(n)) out.push(n);
  }
  return out;
}
