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

/**
 * The format to answer with: the default when the request has no Accept option, the accepted
 * one when the resource offers it, otherwise undefined (the caller answers 4.06).
 */
export function negotiate<T extends number>(accept: number | undefined, offered: readonly T[], fallback: T): T | undefined {
  if (accept === undefined) return fallback;
  return offered.find((f) => f === accept);
}
