/**
 * A strict, bounded CBOR decoder for request bodies (RFC 8949). It reads every well-formed
 * encoding a client's library may choose (section 3): any head length for an argument, preferred
 * or not (section 4.1 makes preferred serialization a sender's choice, never a receiver's
 * requirement), indefinite-length arrays, maps, byte strings and text strings (section 3.2.2,
 * 3.2.3: Jackson, the CBOR library under Java's CoAP stacks, writes maps that way by default),
 * half, single and double floats. Bodies come from the network, so what is not valid or means
 * nothing here is refused rather than guessed:
 *   - trailing bytes after the one top-level item, truncated items, reserved additional
 *     information (28..30), a break (0xff) outside an indefinite-length item, a chunk of an
 *     indefinite-length string that is not a definite-length string of the same type
 *     (section 3.2.3): not well-formed;
 *   - invalid UTF-8 in a text string or in any chunk of one (section 3.2.3: a chunk is a text
 *     string on its own) and duplicate map keys (section 5.6): not valid;
 *   - tags, except 55799 (self-described CBOR, section 3.4.6, which means "this is CBOR" and
 *     nothing else): no request parameter is tagged, and a tag's meaning (a bignum, a date) would
 *     have to be understood to be ignored safely (section 5.4);
 *   - unassigned simple values, and map keys that are byte strings, arrays or maps;
 *   - more than 8 levels of nesting and more than 64 data items (the chunks of a string are one
 *     item): a body of a few hundred bytes needs neither.
 *
 * Every refusal is a CborDecodeError with a short fixed reason that is safe to show a client.
 */
export type DecodedCbor = null | undefined | boolean | number | bigint | string | Uint8Array | DecodedCbor[] | Map<DecodedCbor, DecodedCbor>;

export class CborDecodeError extends Error {
  override readonly name = 'CborDecodeError';
}

const MAX_DEPTH = 8;
const MAX_ITEMS = 64;

/** CBOR's self-described tag (RFC 8949 section 3.4.6), d9 d9f7. */
const SELF_DESCRIBED = 55799;
const BREAK = 0xff;
/** Additional information 31: an indefinite length (RFC 8949 section 3.2.1). */
const INDEFINITE = 31;

export function decodeCborStrict(bytes: Uint8Array): DecodedCbor {
  const reader = new Reader(bytes);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) throw new CborDecodeError('trailing bytes after the CBOR item');
  return value;
}

// ignoreBOM: a U+FEFF at the start of a text string is part of the string, not a byte order mark
// to strip (CBOR text has no BOM): "\uFEFFunit" is not "unit".
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  offset = 0;
  #items = 0;
  #selfDescribed = false;

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
      default:
        // 28..30 are reserved; 31 (indefinite) is read by the item's own case.
        throw new CborDecodeError('reserved CBOR additional information');
    }
  }

  /** True, and the break consumed, when the next byte ends an indefinite-length item. */
  #atBreak(): boolean {
    this.#need(1);
    if (this.#bytes[this.offset] !== BREAK) return false;
    this.offset++;
    return true;
  }

  /** One definite-length string's bytes (a whole string, or one chunk of an indefinite one). */
  #stringBytes(major: 2 | 3, info: number): Uint8Array {
    const len = this.#length(info);
    this.#need(len);
    const raw = this.#bytes.subarray(this.offset, this.offset + len);
    this.offset += len;
    if (major === 3) this.#text(raw);
    return raw;
  }

  #text(raw: Uint8Array): string {
    try {
      return utf8.decode(raw);
    } catch {
      throw new CborDecodeError('invalid UTF-8 in a CBOR text string');
    }
  }

  /** A byte or text string, definite or in chunks (RFC 8949 section 3.2.3). */
  #string(major: 2 | 3, info: number): Uint8Array | string {
    if (info !== INDEFINITE) {
      const raw = this.#stringBytes(major, info);
      // A copy: Buffer#slice would share the datagram's memory, and chunks come back copied too.
      return major === 2 ? new Uint8Array(raw) : this.#text(raw);
    }
    const chunks: Uint8Array[] = [];
    // Chunks are parts of one item, not items: they are not counted (the body's size bounds them),
    // so a value accepted in one encoding is accepted in every other.
    while (!this.#atBreak()) {
      const head = this.#u8();
      // Each chunk is a definite-length string of the same major type: no nesting, no other item.
      if (head >> 5 !== major || (head & 0x1f) === INDEFINITE) throw new CborDecodeError('bad chunk in an indefinite-length CBOR string');
      chunks.push(this.#stringBytes(major, head & 0x1f));
    }
    const joined = Buffer.concat(chunks);
    return major === 2 ? new Uint8Array(joined) : this.#text(joined);
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
      case 3:
        return this.#string(major, info);
      case 4: {
        const out: DecodedCbor[] = [];
        if (info === INDEFINITE) {
          while (!this.#atBreak()) out.push(this.item(depth + 1));
          return out;
        }
        const len = this.#length(info);
        for (let i = 0; i < len; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const out = new Map<DecodedCbor, DecodedCbor>();
        const entry = () => {
          const key = this.item(depth + 1);
          if (typeof key === 'object' && key !== null) throw new CborDecodeError('CBOR map keys must be integers or text');
          if (out.has(key)) throw new CborDecodeError('duplicate key in a CBOR map');
          // A break where a value should be leaves a key without one: not well-formed.
          if (info === INDEFINITE && this.#bytes[this.offset] === BREAK) throw new CborDecodeError('CBOR map key without a value');
          out.set(key, this.item(depth + 1));
        };
        if (info === INDEFINITE) {
          while (!this.#atBreak()) entry();
          return out;
        }
        const len = this.#length(info);
        for (let i = 0; i < len; i++) entry();
        return out;
      }
      case 6: {
        // Only at the top, where a library puts it, and once: "what follows is CBOR". It is a
        // marker, not an item: the value under it keeps every bound it would have without it.
        if (depth === 0 && !this.#selfDescribed && info !== INDEFINITE && this.#argument(info) === SELF_DESCRIBED) {
          this.#selfDescribed = true;
          this.#items--;
          return this.item(0);
        }
        throw new CborDecodeError('CBOR tags are not accepted here');
      }
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
        // A break is read only by the indefinite-length item it ends (#atBreak).
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
