/**
 * A small CBOR encoder that writes preferred serialization (RFC 8949 section 4.2.1):
 * every head (major type + argument) in its shortest form, and every float in the shortest of
 * float16 / float32 / float64 that keeps the value exactly (21.5 -> f9 4d 60). cbor-x writes
 * float64 and sometimes 3-byte map heads, which costs a third of a reading on a 6LoWPAN frame.
 *
 * Only what the gateway writes: maps with text or integer keys, arrays, text, integers, floats,
 * booleans and null. Map entries keep insertion order (preferred, not deterministic encoding:
 * section 4.2.1 does not require sorted keys).
 */
export type CborValue = null | boolean | number | bigint | string | CborFloat | CborValue[] | CborMap | Map<number | string, CborValue>;
export interface CborMap {
  [key: string]: CborValue;
}

/**
 * A number to be written as a float even when it is integral (1.0 -> f9 3c 00). Plain numbers
 * that are integral are written as integers, which RFC 8949 section 4.2.2 allows as "numeric
 * reduction" and which JavaScript cannot tell apart anyway.
 */
export class CborFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export function encodeCbor(value: CborValue): Uint8Array {
  const out = new ByteWriter();
  writeItem(out, value, 0);
  return out.bytes();
}

/** Guards against a cyclic or absurdly nested value (programming error, never user input). */
const MAX_DEPTH = 32;

function writeItem(out: ByteWriter, v: CborValue, depth: number): void {
  if (depth > MAX_DEPTH) throw new RangeError('CBOR value nested too deeply');
  if (v === null) return out.u8(0xf6);
  if (v === false) return out.u8(0xf4);
  if (v === true) return out.u8(0xf5);
  if (typeof v === 'number') return writeNumber(out, v);
  if (typeof v === 'bigint') return writeBigInt(out, v);
  if (v instanceof CborFloat) return writeFloat(out, v.value);
  if (typeof v === 'string') {
    const utf8 = new TextEncoder().encode(v);
    writeHead(out, 3, utf8.length);
    return out.append(utf8);
  }
  if (Array.isArray(v)) {
    writeHead(out, 4, v.length);
    for (const item of v) writeItem(out, item, depth + 1);
    return;
  }
  const entries: [number | string, CborValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  writeHead(out, 5, entries.length);
  for (const [key, item] of entries) {
    if (typeof key === 'number') {
      if (!Number.isSafeInteger(key)) throw new TypeError(`CBOR map key must be an integer or text, got ${key}`);
      writeNumber(out, key);
    } else {
      writeItem(out, key, depth + 1);
    }
    writeItem(out, item, depth + 1);
  }
}

/** Major type + argument in the shortest form (RFC 8949 section 3, "shortest head"). */
function writeHead(out: ByteWriter, major: number, arg: number | bigint): void {
  const m = major << 5;
  const n = BigInt(arg);
  if (n < 24n) out.u8(m | Number(n));
  else if (n < 0x100n) out.u8(m | 24, Number(n));
  else if (n < 0x10000n) {
    out.u8(m | 25);
    out.u16(Number(n));
  } else if (n < 0x1_0000_0000n) {
    out.u8(m | 26);
    out.u32(Number(n));
  } else if (n < 0x1_0000_0000_0000_0000n) {
    out.u8(m | 27);
    out.u64(n);
  } else throw new RangeError('integer too large for a CBOR head; needs a bignum tag');
}

function writeBigInt(out: ByteWriter, n: bigint): void {
  if (n >= 0n) writeHead(out, 0, n);
  else writeHead(out, 1, -1n - n);
}

function writeNumber(out: ByteWriter, x: number): void {
  // Integral values are integers in CBOR's data model (RFC 8949 section 4.2.2 suggests it
  // for preferred encoding of numbers); -0 stays a float so its sign survives.
  if (Number.isInteger(x) && !Object.is(x, -0) && Math.abs(x) <= Number.MAX_SAFE_INTEGER) {
    return x >= 0 ? writeHead(out, 0, x) : writeHead(out, 1, -1 - x);
  }
  writeFloat(out, x);
}

/** The shortest IEEE 754 width that represents x exactly (NaN is written as f9 7e 00). */
function writeFloat(out: ByteWriter, x: number): void {
  const half = toFloat16(x);
  if (half !== undefined) {
    out.u8(0xf9);
    return out.u16(half);
  }
  if (Math.fround(x) === x) {
    out.u8(0xfa);
    return out.f32(x);
  }
  out.u8(0xfb);
  out.f64(x);
}

/** float16 bits for x if the conversion is exact, else undefined. */
export function toFloat16(x: number): number | undefined {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  let exp = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two.
  if (2 ** exp > a) exp--;
  else if (2 ** (exp + 1) <= a) exp++;
  if (exp > 15) return undefined;
  if (exp >= -14) {
    const mant = a / 2 ** exp - 1; // in [0, 1)
    const m = mant * 1024;
    if (!Number.isInteger(m)) return undefined;
    return sign | ((exp + 15) << 10) | m;
  }
  // Subnormal: a = m * 2^-24 with m < 1024.
  const m = a / 2 ** -24;
  if (!Number.isInteger(m) || m >= 1024) return undefined;
  return sign | m;
}

class ByteWriter {
  #buf = new Uint8Array(64);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(...bytes: number[]): void {
    this.#room(bytes.length);
    for (const b of bytes) this.#buf[this.#len++] = b;
  }
  u16(n: number): void {
    this.#room(2);
    this.#view.setUint16(this.#len, n);
    this.#len += 2;
  }
  u32(n: number): void {
    this.#room(4);
    this.#view.setUint32(this.#len, n);
    this.#len += 4;
  }
  u64(n: bigint): void {
    this.#room(8);
    this.#view.setBigUint64(this.#len, n);
    this.#len += 8;
  }
  f32(x: number): void {
    this.#room(4);
    this.#view.setFloat32(this.#len, x);
    this.#len += 4;
  }
  f64(x: number): void {
    this.#room(8);
    this.#view.setFloat64(this.#len, x);
    this.#len += 8;
  }
  append(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
