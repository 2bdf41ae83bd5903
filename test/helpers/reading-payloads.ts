/**
 * Reads the temperature back out of the bytes an independent peer received, without the
 * gateway's own decoding code: a CBOR reading map (Content-Format 60) and a SenML-CBOR pack
 * (112, RFC 8428 section 6 integer labels).
 */
import { Decoder } from 'cbor-x';

// Maps stay Maps so SenML's integer labels stay integers.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

export interface DecodedReading {
  value: number;
  unit: string;
}

function field(m: unknown, key: string | number): unknown {
  return m instanceof Map ? m.get(key) : undefined;
}

/** {"value": ..., "unit": "Cel", ...} */
export function readingFromCbor(payload: Buffer): DecodedReading {
  const m = decoder.decode(payload);
  const value = field(m, 'value');
  const unit = field(m, 'unit');
  if (typeof value !== 'number' || typeof unit !== 'string') throw new Error(`not a reading map: ${payload.toString('hex')}`);
  return { value, unit };
}

/** The first record with a value; base value and base unit applied (RFC 8428 section 4.6, resolved records). */
export function readingFromSenmlCbor(payload: Buffer): DecodedReading {
  const pack = decoder.decode(payload);
  if (!Array.isArray(pack)) throw new Error(`SenML pack is not an array: ${payload.toString('hex')}`);
  let baseValue = 0;
  let baseUnit: string | undefined;
  for (const rec of pack) {
    if (typeof field(rec, -5) === 'number') baseValue = field(rec, -5) as number;
    if (typeof field(rec, -4) === 'string') baseUnit = field(rec, -4) as string;
    const v = field(rec, 2);
    if (typeof v === 'number') {
      const unit = (field(rec, 1) as string | undefined) ?? baseUnit;
      if (unit === undefined) throw new Error('SenML record without a unit');
      return { value: baseValue + v, unit };
    }
  }
  throw new Error(`no SenML record with a numeric value: ${payload.toString('hex')}`);
}

/**
 * A kelvin value rounded to `decimals` places, within half a unit in the last place of the exact
 * conversion; the test does not depend on how the gateway breaks a tie (268.65 -> 268.6 or 268.7).
 */
export function isKelvinOf(value: number, celsius: number, decimals: number): boolean {
  const exact = celsius + 273.15;
  const halfUlp = 0.5 * 10 ** -decimals + 1e-9;
  return Math.abs(value - exact) <= halfUlp && Number(value.toFixed(decimals)) === value;
}
