/**
 * Reads the temperature back out of the bytes an independent peer received, without the
 * gateway's own decoding code: a CBOR reading map (Content-Format 60) and a SenML-CBOR pack
 * (112, RFC 8428 section 6 integer labels), each with whether the payload says the value is
 * simulated (docs/coap-api.md, "Simulated values": "sim": true in the map, the must-understand
 * text label "sim_": true in the SenML record).
 */
import { Decoder } from 'cbor-x';

// Maps stay Maps so SenML's integer labels stay integers.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

export interface DecodedReading {
  value: number;
  unit: string;
  /** The payload marks the value as not a measurement. */
  simulated: boolean;
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
  const sim = field(m, 'sim');
  if (sim !== undefined && sim !== true) throw new Error(`"sim" is present but not true: ${payload.toString('hex')}`);
  return { value, unit, simulated: sim === true };
}

/**
 * The first record with a value; base value and base unit applied (RFC 8428 section 4.6, resolved
 * records). Knows one extension label, "sim_"; any other label ending in "_" rejects the pack, as
 * RFC 8428 section 4.4 requires of a recipient that does not understand it.
 */
export function readingFromSenmlCbor(payload: Buffer): DecodedReading {
  const pack = decoder.decode(payload);
  if (!Array.isArray(pack)) throw new Error(`SenML pack is not an array: ${payload.toString('hex')}`);
  let baseValue = 0;
  let baseUnit: string | undefined;
  let simulated = false;
  for (const rec of pack) {
    for (const key of rec instanceof Map ? rec.keys() : []) {
      if (key === 'sim_') simulated = field(rec, key) === true;
      else if (typeof key === 'string' && key.endsWith('_')) throw new Error(`must-understand SenML label ${key} not understood`);
    }
    if (typeof field(rec, -5) === 'number') baseValue = field(rec, -5) as number;
    if (typeof field(rec, -4) === 'string') baseUnit = field(rec, -4) as string;
    const v = field(rec, 2);
    if (typeof v === 'number') {
      const unit = (field(rec, 1) as string | undefined) ?? baseUnit;
      if (unit === undefined) throw new Error('SenML record without a unit');
      return { value: baseValue + v, unit, simulated };
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
