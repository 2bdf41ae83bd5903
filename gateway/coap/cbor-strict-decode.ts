/**
 * A strict, bounded CBOR decoder for request bodies (RFC 8949). Request bodies come from the
 * network, so it refuses rather than guesses: trailing bytes after the one top-level item,
 * truncated items, reserved additional-information values (28..30), indefinite lengths (never
 * needed for a 256-byte body and a classic source of decoder bugs), invalid UTF-8, duplicate map
 * keys (section 5.6: a map with duplicate keys is not valid), nesting deeper than 8 and more
 * than 64 items. Tags are refused too: no request parameter is tagged.
 *
 * Every refusal is a CborDecodeError with a short fixed reason that is safe to show a client.
 */
export type DecodedCbor = null | undefined | boolean | number | bigint | string | Uint8Array | DecodedCbor[] | Map<DecodedCbor, DecodedCbor>;

export class CborDecodeError extends Error {
  override readonly name = 'CborDecodeError';
}

const MAX_DEPTH = 8;
const MAX_ITEMS = 64;

export function decodeCborStrict(bytes: Uint8Array): DecodedCbor {
  const reader = new Reader(bytes);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) throw new CborDecodeError('trailing bytes after the CBOR item');
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  offset = 0;
  #items = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.offset + n > this.#bytes.length) throw new CborDecodeError('truncated CBOR');
  }

  #u8(): number {
    this.#need(1);
    return this.#bytes[this.offset++]!;
  }

  /** The argument of a head; bigint only when it does not fit a safe integer. */
  #argument(info: number): number | bigint {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.#u8();
      case 25: {
        this.#need(2);
        const v = this.#view.getUint16(this.offset);
        this.offset += 2;
        return v;
      }
      case 26: {
        this.#need(4);
        const v = this.#view.getUint32(this.offset);
        this.offset += 4;
        return v;
      }
      case 27: {
        this.#need(8);
        const v = this.#view.getBigUint64(this.offset);
        this.offset += 8;
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 31:
        throw new CborDecodeError('indefinite-length CBOR is not accepted');
      default:
        throw new CborDecodeError('reserved CBOR additional information');
    }
  }

  #length(info: number): number {
    const n = this.#argument(info);
    if (typeof n === 'bigint' || n > this.#bytes.length) throw new CborDecodeError('truncated CBOR');
    return n;
  }

  item(depth: number): DecodedCbor {
    if (depth > MAX_DEPTH) throw new CborDecodeError('CBOR nested too deeply');
    if (++this.#items > MAX_ITEMS) throw new CborDecodeError('too many CBOR items');
    const initial = this.#u8();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.#argument(info);
      case 1: {
        const n = this.#argument(info);
        return typeof n === 'bigint' ? -1n - n : n === Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2:
      case 3: {
        const len = this.#length(info);
        this.#need(len);
        const raw = this.#bytes.subarray(this.offset, this.offset + len);
        this.offset += len;
        if (major === 2) return raw.slice();
        try {
          return utf8.decode(raw);
        } catch {
          throw new CborDecodeError('invalid UTF-8 in a CBOR text string');
        }
      }
      case 4: {
        const len = this.#length(info);
        const out: DecodedCbor[] = [];
        for (let i = 0; i < len; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const len = this.#length(info);
        const out = new Map<DecodedCbor, DecodedCbor>();
        for (let i = 0; i < len; i++) {
          const key = this.item(depth + 1);
          if (typeof key === 'object' && key !== null) throw new CborDecodeError('CBOR map keys must be integers or text');
          if (out.has(key)) throw new CborDecodeError('duplicate key in a CBOR map');
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6:
        throw new CborDecodeError('CBOR tags are not accepted here');
      default:
        return this.#simple(info);
    }
  }

  #simple(info: number): DecodedCbor {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25: {
        this.#need(2);
        const v = decodeFloat16(this.#view.getUint16(this.offset));
        this.offset += 2;
        return v;
      }
      case 26: {
        this.#need(4);
        const v = this.#view.getFloat32(this.offset);
        this.offset += 4;
        return v;
      }
      case 27: {
        this.#need(8);
        const v = this.#view.getFloat64(this.offset);
        this.offset += 8;
        return v;
      }
      case 31:
        throw new CborDecodeError('unexpected CBOR break');
      default:
        // Unassigned simple values (0..19, 24 with 32..255) carry no meaning for a request.
        throw new CborDecodeError('unsupported CBOR simple value');
    }
  }
}

/** RFC 8949 Appendix D. */
export function decodeFloat16(half: number): number {
  const exp = (half >> 10) & 0x1f;
  const mant = half & 0x3ff;
  const val = exp === 0 ? mant * 2 ** -24 : exp !== 31 ? (mant + 1024) * 2 ** (exp - 25) : mant === 0 ? Infinity : NaN;
  return half & 0x8000 ? -val : val;
}
