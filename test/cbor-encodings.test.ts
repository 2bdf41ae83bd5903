/**
 * The request decoder reads a value whatever valid encoding its sender chose (RFC 8949 section
 * 4.1: preferred serialization is the sender's choice; sections 3.2.2 and 3.2.3: indefinite
 * lengths). Property: for seeded random values (maps with text and integer keys, arrays, text
 * with multi-byte characters, byte strings, integers of every head size, negative ones, floats of
 * every width, true, false, null), every value the decoder accepts in preferred serialization is
 * accepted in random other encodings of it (longer heads, indefinite lengths, strings in chunks
 * split at code point boundaries, wider floats of the same value, the self-described tag), and
 * decodes to the same thing. Both encoders are written here, independent of the gateway's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCborStrict } from '../gateway/coap/cbor-strict-decode.ts';
import { prng } from './helpers/prng.ts';

type Value = null | boolean | number | string | Uint8Array | Value[] | Map<string | number, Value>;

/** A random value of at most `budget.items` data items and `depth` levels. */
function randomValue(rand: () => number, depth: number, budget: { items: number }): Value {
  budget.items--;
  const pick = Math.floor(rand() * (depth >= 4 || budget.items < 4 ? 7 : 9));
  const int = () => {
    const sizes = [10, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
    return Math.floor(rand() * sizes[Math.floor(rand() * sizes.length)]!);
  };
  switch (pick) {
    case 0:
      return int();
    case 1:
      return -1 - int();
    case 2: {
      // Exactly representable in float16, float32 or only float64.
      const floats = [21.5, -12.25, 0.5, 65504, 1e-7, 3.4028234663852886e38, 294.65, 1767225600.04, -0];
      return floats[Math.floor(rand() * floats.length)]!;
    }
    case 3: {
      const alphabet = ['a', 'K', 'unit', '°', 'é', '€', '😀', ' ', '0'];
      let s = '';
      for (let n = Math.floor(rand() * 6); n > 0; n--) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    }
    case 4:
      return Uint8Array.from({ length: Math.floor(rand() * 6) }, () => Math.floor(rand() * 256));
    case 5:
      return rand() < 0.5;
    case 6:
      return null;
    case 7: {
      const out: Value[] = [];
      for (let n = Math.floor(rand() * 4); n > 0 && budget.items > 2; n--) out.push(randomValue(rand, depth + 1, budget));
      return out;
    }
    default: {
      const out = new Map<string | number, Value>();
      for (let n = Math.floor(rand() * 4); n > 0 && budget.items > 3; n--) {
        budget.items--;
        const key = rand() < 0.7 ? ['unit', 'bits', 'n', 'é', 'x'][Math.floor(rand() * 5)]! : Math.floor(rand() * 30) - 10;
        out.set(key, randomValue(rand, depth + 1, budget));
      }
      return out;
    }
  }
}

/**
 * Encodes `v`. `alt` undefined: preferred serialization (section 4.2.1 without map key
 * ordering). Otherwise `alt` decides, item by item, to take a longer head, an indefinite length,
 * chunks, a wider float.
 */
function encode(v: Value, alt?: () => number): number[] {
  const out: number[] = [];
  const head = (major: number, n: number) => {
    // The shortest head, or (alt) a longer one that still holds n.
    let size = n < 24 ? 0 : n < 256 ? 1 : n < 65536 ? 2 : n < 2 ** 32 ? 4 : 8;
    if (alt && alt() < 0.3) size = [1, 2, 4, 8].filter((s) => s >= size)[Math.floor(alt() * 4)] ?? 8;
    if (size === 0) return out.push((major << 5) | n);
    out.push((major << 5) | { 1: 24, 2: 25, 4: 26, 8: 27 }[size]!);
    for (let i = size - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  };
  const string = (major: 2 | 3, bytes: Uint8Array, cuts: number[]) => {
    if (!(alt && alt() < 0.4)) {
      head(major, bytes.length);
      out.push(...bytes);
      return;
    }
    out.push((major << 5) | 31);
    let from = 0;
    for (const cut of [...cuts.filter(() => alt() < 0.5), bytes.length]) {
      if (cut < from) continue;
      head(major, cut - from);
      out.push(...bytes.subarray(from, cut));
      from = cut;
    }
    out.push(0xff);
  };
  const container = (major: 4 | 5, count: number, items: () => void) => {
    if (alt && alt() < 0.4) {
      out.push((major << 5) | 31);
      items();
      out.push(0xff);
    } else {
      head(major, count);
      items();
    }
  };
  const float = (x: number) => {
    const b = new DataView(new ArrayBuffer(8));
    const f16 = toHalf(x);
    const widths = [f16 !== undefined ? 2 : 0, Math.fround(x) === x ? 4 : 0, 8].filter((w) => w > 0);
    const width = alt ? widths[Math.floor(alt() * widths.length)]! : widths[0]!;
    if (width === 2) {
      out.push(0xf9, f16! >> 8, f16! & 0xff);
    } else if (width === 4) {
      b.setFloat32(0, x);
      out.push(0xfa, ...new Uint8Array(b.buffer, 0, 4));
    } else {
      b.setFloat64(0, x);
      out.push(0xfb, ...new Uint8Array(b.buffer, 0, 8));
    }
  };
  const item = (x: Value): void => {
    if (x === null) out.push(0xf6);
    else if (x === true) out.push(0xf5);
    else if (x === false) out.push(0xf4);
    else if (typeof x === 'number') {
      if (Number.isSafeInteger(x) && !Object.is(x, -0)) {
        if (x >= 0) head(0, x);
        else head(1, -1 - x);
      } else float(x);
    } else if (typeof x === 'string') {
      const bytes = new TextEncoder().encode(x);
      // Cut only between code points: a text chunk must be valid UTF-8 on its own (3.2.3).
      const cuts: number[] = [];
      let at = 0;
      for (const ch of x) cuts.push((at += new TextEncoder().encode(ch).length));
      string(3, bytes, cuts.slice(0, -1));
    } else if (x instanceof Uint8Array) {
      string(2, x, Array.from({ length: Math.max(0, x.length - 1) }, (_, i) => i + 1));
    } else if (Array.isArray(x)) {
      container(4, x.length, () => x.forEach(item));
    } else {
      container(5, x.size, () => {
        for (const [k, val] of x) {
          item(k);
          item(val);
        }
      });
    }
  };
  if (alt && alt() < 0.1) out.push(0xd9, 0xd9, 0xf7); // self-described CBOR (3.4.6)
  item(v);
  return out;
}

/** Every float16 value and its bits, built once from the definition (RFC 8949 Appendix D). */
const HALVES = new Map<number, number>();
for (let bits = 0; bits < 0x10000; bits++) {
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  const mag = exp === 0 ? mant * 2 ** -24 : exp !== 31 ? (mant + 1024) * 2 ** (exp - 25) : mant === 0 ? Infinity : NaN;
  const val = bits & 0x8000 ? -mag : mag;
  if (!Number.isNaN(val) && !HALVES.has(val)) HALVES.set(val, bits);
}

/** The float16 bits of x when float16 holds it exactly (RFC 8949 section 4.2.1), else undefined. */
function toHalf(x: number): number | undefined {
  if (Object.is(x, -0)) return 0x8000; // a Map does not tell -0 from 0
  return HALVES.get(x);
}

describe('the request decoder reads every valid encoding of a value (RFC 8949 sections 3, 4.1)', () => {
  it('2,000 seeded values, each in its preferred form and 10 other encodings, decode to the same thing', () => {
    const rand = prng(17);
    let alternatives = 0;
    for (let n = 0; n < 2000; n++) {
      const value = randomValue(rand, 0, { items: 40 });
      const preferred = decodeCborStrict(Uint8Array.from(encode(value)));
      assert.deepEqual(preferred, value, `preferred encoding of value ${n}`);
      for (let k = 0; k < 10; k++) {
        const bytes = Uint8Array.from(encode(value, rand));
        let decoded: unknown;
        assert.doesNotThrow(() => (decoded = decodeCborStrict(bytes)), `value ${n}, encoding ${Buffer.from(bytes).toString('hex')}`);
        assert.deepEqual(decoded, preferred, `value ${n}, encoding ${Buffer.from(bytes).toString('hex')}`);
        alternatives++;
      }
    }
    assert.equal(alternatives, 20_000);
  });
});
