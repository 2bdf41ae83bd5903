/**
 * The OSCORE option value (RFC 8613 section 6.1, Figure 10): a flag byte |0 0 0|h|k| n |, then
 * the n-byte Partial IV, then (h) a length byte s and s bytes of kid context, then (k) the kid,
 * which is always last. An empty value means no flags at all (a response reusing the request's
 * nonce, section 6.3 example 4).
 */
export const OSCORE_OPTION = 9;

const FLAG_K = 0x08;
const FLAG_H = 0x10;
const RESERVED_BITS = 0xe0;
const PIV_LENGTH_BITS = 0x07;
/** Section 6.1: n = 6 and n = 7 are reserved. */
const MAX_PIV_LENGTH = 5;

export interface OscoreOptionValue {
  piv?: Uint8Array | undefined;
  kidContext?: Uint8Array | undefined;
  kid?: Uint8Array | undefined;
}

export type DecodedOption = { ok: true; value: OscoreOptionValue } | { ok: false; problem: string };

export function encodeOscoreOption(v: OscoreOptionValue): Uint8Array {
  const piv = v.piv ?? new Uint8Array(0);
  if (piv.length > MAX_PIV_LENGTH) throw new RangeError('Partial IV longer than 5 bytes');
  if (v.kidContext && v.kidContext.length > 0xff) throw new RangeError('kid context longer than 255 bytes');
  const flags = piv.length | (v.kid ? FLAG_K : 0) | (v.kidContext ? FLAG_H : 0);
  // An option with no field at all is the empty value (section 6.3, example 4).
  if (flags === 0) return new Uint8Array(0);
  const ctx = v.kidContext ? [v.kidContext.length, ...v.kidContext] : [];
  return Uint8Array.from([flags, ...piv, ...ctx, ...(v.kid ?? [])]);
}

/** Every malformation here is section 8.2 step 2's "Failed to decode COSE" (4.02). */
export function decodeOscoreOption(value: Uint8Array): DecodedOption {
  if (value.length === 0) return { ok: true, value: {} };
  const flags = value[0]!;
  if (flags & RESERVED_BITS) return { ok: false, problem: `reserved flag bits set (0x${flags.toString(16).padStart(2, '0')})` };
  const n = flags & PIV_LENGTH_BITS;
  if (n > MAX_PIV_LENGTH) return { ok: false, problem: `reserved Partial IV length ${n}` };
  let at = 1;
  if (at + n > value.length) return { ok: false, problem: 'Partial IV truncated' };
  const out: OscoreOptionValue = {};
  if (n > 0) out.piv = value.subarray(at, at + n);
  at += n;
  if (flags & FLAG_H) {
    if (at >= value.length) return { ok: false, problem: 'kid context length missing' };
    const s = value[at++]!;
    if (at + s > value.length) return { ok: false, problem: 'kid context truncated' };
    out.kidContext = value.subarray(at, at + s);
    at += s;
  }
  if (flags & FLAG_K) out.kid = value.subarray(at);
  else if (at !== value.length) return { ok: false, problem: 'bytes after the last field (no kid flag)' };
  return { ok: true, value: out };
}
