/**
 * Content-Format numbers the client knows by name (RFC 7252 section 12.3 and the IANA "CoAP
 * Content-Formats" registry; SenML numbers from RFC 8428 section 12.3.2). The client keeps its
 * own table rather than importing the server's: it is a separate tool that must also talk to
 * other servers, and `--accept` takes short names people can type.
 */
import { UsageError } from '../cli/args.ts';

export interface KnownFormat {
  number: number;
  /** What `--accept` takes. */
  name: string;
  mediaType: string;
}

export const KNOWN_FORMATS: readonly KnownFormat[] = [
  { number: 0, name: 'text', mediaType: 'text/plain;charset=utf-8' },
  { number: 40, name: 'link-format', mediaType: 'application/link-format' },
  { number: 42, name: 'octet-stream', mediaType: 'application/octet-stream' },
  { number: 50, name: 'json', mediaType: 'application/json' },
  { number: 60, name: 'cbor', mediaType: 'application/cbor' },
  { number: 63, name: 'cbor-seq', mediaType: 'application/cbor-seq' },
  { number: 110, name: 'senml+json', mediaType: 'application/senml+json' },
  { number: 111, name: 'sensml+json', mediaType: 'application/sensml+json' },
  { number: 112, name: 'senml+cbor', mediaType: 'application/senml+cbor' },
  { number: 113, name: 'sensml+cbor', mediaType: 'application/sensml+cbor' },
];

const BY_NUMBER = new Map(KNOWN_FORMATS.map((f) => [f.number, f]));
const BY_NAME = new Map<string, number>([
  ...KNOWN_FORMATS.map((f): [string, number] => [f.name, f.number]),
  ...KNOWN_FORMATS.map((f): [string, number] => [f.mediaType, f.number]),
  ['text/plain', 0],
  ['senml-cbor', 112],
  ['senml-json', 110],
]);

/** `--accept 60`, `--accept cbor`, `--accept application/senml+cbor`. */
export function parseFormatArgument(option: string, value: string): number {
  const trimmed = value.trim().toLowerCase();
  // Content-Format is a 16-bit unsigned option value (RFC 7252 section 5.10.3).
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (n <= 0xffff) return n;
  }
  const n = BY_NAME.get(trimmed);
  if (n === undefined) {
    const names = KNOWN_FORMATS.map((f) => f.name).join(', ');
    throw new UsageError(`--${option} must be a Content-Format number (0..65535) or one of ${names}; got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * node-coap hands Content-Format back as a media-type string when it has the number registered,
 * as a number otherwise (and as null for a value longer than two bytes). Back to the number.
 */
export function formatNumberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return BY_NAME.get(value.toLowerCase()) ?? BY_NAME.get(value.split(';')[0]!.trim().toLowerCase());
  if (Buffer.isBuffer(value) && value.length <= 2) return value.length === 0 ? 0 : value.readUIntBE(0, value.length);
  return undefined;
}

/** "60 (application/cbor)" for people; unknown numbers stay bare. */
export function describeFormat(n: number): string {
  const f = BY_NUMBER.get(n);
  return f ? `${n} (${f.mediaType})` : String(n);
}
