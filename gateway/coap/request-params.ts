/**
 * Request parameters of a reading: which unit and how many decimals. They arrive as Uri-Query
 * options on a GET (`?unit=K&precision=1`) or as a CBOR map in a FETCH (RFC 8132) or POST body
 * (`{"unit": "K", "precision": 1}`), and are validated here before the sensor is read. Anything
 * unknown or out of range is refused (4.00) rather than ignored, so a typo never silently
 * returns the default.
 */
import { GatewayError } from '../errors.ts';
import { CborDecodeError, type DecodedCbor, decodeCborStrict } from './cbor-strict-decode.ts';

export type TemperatureUnit = 'Cel' | 'K' | 'degF';
export const UNITS: readonly TemperatureUnit[] = ['Cel', 'K', 'degF'];

export interface ReadingParams {
  /** Undefined: the unit the module reports. */
  unit?: TemperatureUnit;
  /** Decimals to round to, 0..4. */
  precision: number;
}

export const MAX_PRECISION = 4;

/**
 * Four decimals keep every TMP102 value exact in all three units (multiples of 0.0625 °C; 0.1125 °F;
 * K adds .15) while removing binary noise such as 294.65000000000003.
 */
export const DEFAULT_PARAMS: ReadingParams = { precision: MAX_PRECISION };

/** The largest request body the gateway reads (bytes). A parameter map needs about 25. */
export const MAX_BODY_BYTES = 256;

type Partial = { unit?: TemperatureUnit; precision?: number };

function badParameter(detail: string): GatewayError {
  return new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail });
}

function unitFrom(v: unknown): TemperatureUnit {
  if (typeof v === 'string' && (UNITS as readonly string[]).includes(v)) return v as TemperatureUnit;
  throw badParameter('unit must be "Cel", "K" or "degF"');
}

function precisionFrom(v: unknown): number {
  const n = typeof v === 'string' && /^[0-9]$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_PRECISION) return n;
  throw badParameter(`precision must be an integer 0..${MAX_PRECISION}`);
}

/** The Uri-Query options, each one `name=value`. */
export function paramsFromQuery(query: readonly string[]): Partial {
  const out: Partial = {};
  for (const item of query) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    set(out, name, value);
  }
  return out;
}

function set(out: Partial, name: string, value: unknown): void {
  if (name === 'unit' || name === 'precision') {
    if (out[name] !== undefined) throw badParameter(`${name} given twice`);
    if (name === 'unit') out.unit = unitFrom(value);
    else out.precision = precisionFrom(value);
    return;
  }
  throw badParameter('unknown parameter (known: unit, precision; in a query also c.pmin, c.pmax, c.gt, c.lt, c.st)');
}

/** A CBOR body: a map with text keys. An empty body means "no parameters". */
export function paramsFromCbor(body: Uint8Array): Partial {
  if (body.length === 0) return {};
  let decoded: DecodedCbor;
  try {
    decoded = decodeCborStrict(body);
  } catch (err) {
    if (err instanceof CborDecodeError) throw new GatewayError('GW_ERR_REQUEST_BAD_CBOR', { detail: err.message });
    throw err;
  }
  if (!(decoded instanceof Map)) throw badParameter('the body must be a CBOR map of parameters');
  const out: Partial = {};
  for (const [key, value] of decoded) {
    if (typeof key !== 'string') throw badParameter('parameter names must be text');
    // A CBOR precision must be an integer, not the text "1".
    if (key === 'precision' && typeof value !== 'number') throw badParameter(`precision must be an integer 0..${MAX_PRECISION}`);
    set(out, key, value);
  }
  return out;
}

/** Query and body together; the same parameter in both is ambiguous and refused. */
export function mergeParams(query: Partial, body: Partial): ReadingParams {
  for (const k of Object.keys(body) as (keyof Partial)[]) {
    if (query[k] !== undefined) throw badParameter(`${k} given in both the query and the body`);
  }
  return { ...DEFAULT_PARAMS, ...query, ...body };
}

/**
 * The value in the asked unit, rounded half away from zero to `precision` decimals. Converts
 * only from "Cel" (every temperature module reports Celsius); another module unit can only be
 * returned as it is.
 */
export function convert(value: number, moduleUnit: string, params: ReadingParams): { value: number; unit: string } {
  const unit = params.unit ?? moduleUnit;
  let v = value;
  if (unit !== moduleUnit) {
    if (moduleUnit !== 'Cel') throw badParameter("this sensor's unit cannot be converted");
    v = unit === 'K' ? value + 273.15 : (value * 9) / 5 + 32;
  }
  return { value: roundTo(v, params.precision), unit };
}

export function roundTo(v: number, decimals: number): number {
  // Scaling through the decimal exponent avoids 1.005 * 100 = 100.49999...
  const [mant, exp] = Math.abs(v).toExponential().split('e') as [string, string];
  const scaled = Math.round(Number(`${mant}e${Number(exp) + decimals}`));
  const r = Number(`${scaled}e-${decimals}`);
  return v < 0 && r !== 0 ? -r : r;
}
