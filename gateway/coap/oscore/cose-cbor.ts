/**
 * The few CBOR items OSCORE itself writes (RFC 8949 section 3): the HKDF `info` array (RFC 8613
 * section 3.2.1) and the external_aad and Enc_structure (section 5.4). All are arrays of byte
 * strings, text, small unsigned integers and null, in preferred serialization, which is what
 * the RFC's test vectors (Appendix C) show. gateway/coap/cbor-preferred.ts writes no byte
 * strings, and a general encoder is more than these fixed shapes need.
 */
export type CoseItem = Uint8Array | string | number | null | CoseItem[];

export function encodeCoseItem(item: CoseItem): Uint8Array {
  const parts: Uint8Array[] = [];
  write(parts, item);
  return concatBytes(parts);
}

function write(parts: Uint8Array[], item: CoseItem): void {
  if (item === null) {
    parts.push(Uint8Array.of(0xf6));
  } else if (typeof item === 'number') {
    parts.push(head(0, item));
  } else if (typeof item === 'string') {
    const text = new TextEncoder().encode(item);
    parts.push(head(3, text.length), text);
  } else if (item instanceof Uint8Array) {
    parts.push(head(2, item.length), item);
  } else {
    parts.push(head(4, item.length));
    for (const element of item) write(parts, element);
  }
}

/** A head in its shortest form (RFC 8949 section 4.2.1); these structures never need 8-byte arguments. */
function head(major: number, n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`CBOR argument out of range: ${n}`);
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  return Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
