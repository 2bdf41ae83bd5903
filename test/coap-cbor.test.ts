/**
 * The preferred-serialization encoder and the strict request decoder, against the RFC 8949
 * Appendix A examples (those without tags) and against malformed input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode as cborXDecode } from 'cbor-x';
import { CborFloat, type CborValue, encodeCbor } from '../gateway/coap/cbor-preferred.ts';
import { CborDecodeError, decodeCborStrict } from '../gateway/coap/cbor-strict-decode.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const F = (x: number) => new CborFloat(x);

// RFC 8949 Appendix A, preferred encodings.
const APPENDIX_A: [CborValue, string][] = [
  [0, '00'], [1, '01'], [10, '0a'], [23, '17'], [24, '1818'], [25, '1819'], [100, '1864'], [1000, '1903e8'],
  [1000000, '1a000f4240'], [1000000000000, '1b000000e8d4a51000'], [18446744073709551615n, '1bffffffffffffffff'],
  [-18446744073709551616n, '3bffffffffffffffff'], [-1, '20'], [-10, '29'], [-100, '3863'], [-1000, '3903e7'],
  [F(0.0), 'f90000'], [F(-0.0), 'f98000'], [F(1.0), 'f93c00'], [1.1, 'fb3ff199999999999a'], [1.5, 'f93e00'],
  [F(65504.0), 'f97bff'], [F(100000.0), 'fa47c35000'], [3.4028234663852886e38, 'fa7f7fffff'], [1.0e300, 'fb7e37e43c8800759c'],
  [5.960464477539063e-8, 'f90001'], [0.00006103515625, 'f90400'], [F(-4.0), 'f9c400'], [-4.1, 'fbc010666666666666'],
  [Infinity, 'f97c00'], [NaN, 'f97e00'], [-Infinity, 'f9fc00'],
  [false, 'f4'], [true, 'f5'], [null, 'f6'],
  ['', '60'], ['a', '6161'], ['IETF', '6449455446'], ['"\\', '62225c'], ['\u00fc', '62c3bc'], ['\u6c34', '63e6b0b4'], ['\ud800\udd51', '64f0908591'],
  [[], '80'], [[1, 2, 3], '83010203'], [[1, [2, 3], [4, 5]], '8301820203820405'],
  [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
  [{}, 'a0'], [new Map([[1, 2], [3, 4]]), 'a201020304'], [{ a: 1, b: [2, 3] }, 'a26161016162820203'], [['a', { b: 'c' }], '826161a161626163'],
  [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
];

describe('preferred-serialization CBOR encoder', () => {
  for (const [value, expected] of APPENDIX_A) {
    it(`encodes ${expected} (RFC 8949 Appendix A)`, () => {
      assert.equal(hex(encodeCbor(value)), expected);
    });
  }

  it('writes readings in the shortest float that keeps the value', () => {
    assert.equal(hex(encodeCbor(21.5)), 'f94d60');
    assert.equal(hex(encodeCbor(-12.25)), 'f9ca20');
    assert.equal(hex(encodeCbor(21.0625)), 'f94d44');
    assert.equal(hex(encodeCbor(294.65)), 'fb40726a6666666666'); // not exact in float32
    assert.equal(hex(encodeCbor(0.1)), 'fb3fb999999999999a');
    assert.equal(hex(encodeCbor(100000.5)), 'fa47c35040');
    assert.equal(hex(encodeCbor(22)), '16'); // integral numbers are integers (RFC 8949 4.2.2)
  });

  it('uses 1-byte heads for small maps, arrays and strings, and longer heads only when needed', () => {
    assert.equal(hex(encodeCbor({ a: 1 })), 'a1616101');
    assert.equal(hex(encodeCbor('x'.repeat(24))).slice(0, 4), '7818');
    assert.equal(hex(encodeCbor('x'.repeat(256))).slice(0, 6), '790100');
  });

  it('agrees with cbor-x on what it wrote', () => {
    const v = { sensor: 'tmp102', value: -12.25, unit: 'Cel', time: 1767225600.04, list: [1, -300, 'x', null, true] };
    assert.deepEqual(cborXDecode(encodeCbor(v)), v);
  });
});

function hasMap(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasMap);
  return typeof v === 'object' && v !== null;
}

describe('strict CBOR decoder', () => {
  it('decodes the Appendix A vectors', () => {
    for (const [value, encoded] of APPENDIX_A) {
      const decoded = decodeCborStrict(Buffer.from(encoded, 'hex'));
      const expected = value instanceof CborFloat ? value.value : value;
      if (hasMap(expected)) continue; // maps decode to Map, checked below
      assert.deepEqual(decoded, expected, encoded);
    }
    assert.deepEqual(decodeCborStrict(Buffer.from('a26161016162820203', 'hex')), new Map<unknown, unknown>([['a', 1], ['b', [2, 3]]]));
  });

  // RFC 8949: every well-formed encoding a sender may choose, each against the value it means.
  for (const [name, encoded, expected] of [
    ['an indefinite-length map, as Jackson writes {"unit":"K"}', 'bf64756e6974614bff', new Map([['unit', 'K']])],
    ['an indefinite-length array', '9f0102ff', [1, 2]],
    ['an empty indefinite-length array and map', '829fffbfff', [[], new Map()]],
    ['nested indefinite lengths', 'bf61619f01bf6162f5ffffff', new Map<unknown, unknown>([['a', [1, new Map([['b', true]])]]])],
    ['a text string in chunks', '7f62756e626974ff', 'unit'],
    ['a text string in no chunks', '7fff', ''],
    ['a byte string in chunks', '5f4101420203ff', new Uint8Array([1, 2, 3])],
    ['an integer with a longer head than needed', '1b0000000000000005', 5],
    ['a length with a longer head than needed', '7900026869', 'hi'],
    ['a map count with a longer head than needed', 'b8016161f6', new Map([['a', null]])],
    ['21.5 as a float64 instead of a float16', 'fb4035800000000000', 21.5],
    ['21.5 as a float32', 'fa41ac0000', 21.5],
    ['the self-described tag at the top (section 3.4.6)', 'd9d9f7a1616101', new Map([['a', 1]])],
    ['8 levels of nesting, under the self-described tag too', 'd9d9f7' + '81'.repeat(8) + '00', [[[[[[[[0]]]]]]]]],
    ['64 items, under the self-described tag too', 'd9d9f7983f' + '00'.repeat(63), [...new Array(63).fill(0)]],
    ['a text string that starts with U+FEFF (no BOM is stripped)', '67efbbbf756e6974', '\ufeffunit'],
  ] as const) {
    it(`reads ${name}`, () => {
      assert.deepEqual(decodeCborStrict(Buffer.from(encoded, 'hex')), expected);
    });
  }

  for (const [name, bad] of [
    ['trailing bytes', 'a0ff'],
    ['two items', '0101'],
    ['truncated map', 'a2616101'],
    ['truncated text', '6449455'],
    ['truncated head', '19'],
    ['empty input', ''],
    ['reserved additional information', '1c'],
    ['a lone break', 'ff'],
    ['a break inside a definite array', '8201ff'],
    ['an indefinite-length map with a key and no value', 'bf6161ff'],
    ['an indefinite-length array without its break', '9f0101'],
    ['a text chunk that is a byte string', '7f416161ff'],
    ['a text chunk that is itself indefinite', '7f7f6161ffff'],
    ['a text chunk of invalid UTF-8 (a code point split across chunks)', '7f61c361a9ff'],
    ['an indefinite-length integer', '1f'],
    ['a self-described tag below the top', '81d9d9f700'],
    ['the self-described tag twice', 'd9d9f7d9d9f700'],
    ['duplicate keys', 'a2616101616102'],
    ['invalid UTF-8', '62c328'],
    ['a tag', 'c11a514b67b0'],
    ['a huge length', '7b7fffffffffffffff'],
    ['unassigned simple value', 'f0'],
    ['map key that is an array', 'a1800a'],
    ['deep nesting', '81'.repeat(20) + '00'],
    ['too many items', '98' + '40' + '00'.repeat(64)],
  ] as const) {
    it(`refuses ${name}`, () => {
      assert.throws(() => decodeCborStrict(Buffer.from(bad.replace(/ /g, ''), 'hex')), CborDecodeError);
    });
  }
});
