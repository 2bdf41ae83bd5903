/**
 * CoAP Content-Format numbers (RFC 7252 section 12.3 and the IANA "CoAP Content-Formats"
 * registry) and Accept negotiation (RFC 7252 section 5.10.4: when the server cannot provide the
 * requested format it MUST answer 4.06 Not Acceptable).
 */
export const ContentFormat = {
  TEXT: 0,
  LINK_FORMAT: 40,
  JSON: 50,
  CBOR: 60,
  SENML_JSON: 110,
  SENML_CBOR: 112,
} as const;

export type ContentFormatNumber = (typeof ContentFormat)[keyof typeof ContentFormat];

export const MEDIA_TYPES: Record<ContentFormatNumber, string> = {
  0: 'text/plain;charset=utf-8',
  40: 'application/link-format',
  50: 'application/json',
  60: 'application/cbor',
  110: 'application/senml+json',
  112: 'application/senml+cbor',
};

/** node-coap turns the Accept and Content-Format options it knows into media-type strings. */
const BY_MEDIA_TYPE = new Map<string, number>(Object.entries(MEDIA_TYPES).map(([n, t]) => [t, Number(n)]));
BY_MEDIA_TYPE.set('text/plain', 0);

/**
 * Reads an Accept or Content-Format value as node-coap presents it (a registered media type as
 * a string, an unregistered number as a number) back into its number. Undefined when absent;
 * NaN when it cannot be understood (which no resource accepts).
 */
export function formatNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return BY_MEDIA_TYPE.get(value.toLowerCase()) ?? NaN;
  if (Buffer.isBuffer(value)) return value.length <= 2 ? (value.length === 0 ? 0 : value.readUIntBE(0, value.length)) : NaN;
  return NaN;
}

/**
 * The format to answer with: the default when the request has no Accept option, the accepted
 * one when the resource offers it, otherwise undefined (the caller answers 4.06).
 */
export function negotiate<T extends number>(accept: number | undefined, offered: readonly T[], fallback: T): T | undefined {
  if (accept === undefined) return fallback;
  return offered.find((f) => f === accept);
}
