/**
 * What a module hands back, checked before anything of it is used (docs/module-abi.md, "gw_init
 * output on success", "gw_read output on success", "Output on failure"). A module is untrusted:
 * every number it reports that ends up in a CoAP header or a timer is bounded here, so a module
 * cannot switch pacing off, make the gateway cache a value for years, or overflow an option.
 * Malformed or out-of-range output is GW_ERR_MODULE_BAD_OUTPUT for that call; a retry hint in a
 * failure's output is only a hint, and is clamped instead.
 */
import { decode } from 'cbor-x';
import { GatewayError, isErrorCode, type ErrorCode } from '../errors.ts';
import { MODULE_REPORTABLE_CODES, STATUS_CODE_NAMES } from './abi.ts';

/**
 * The shortest conversion period a module may announce. A read needs at least one bus transfer,
 * and a module's default budget is 200 transfers a second (token-bucket.ts): at 10 ms, reads
 * alone take half of it, and below about 5 ms the rate limit, not the sensor, would set the
 * pace. CoAP's Max-Age counts whole seconds (RFC 7252 section 5.10.5), so no client gains from
 * anything faster; an observer's feed re-reads once a period, so this floor also bounds how often
 * a module runs for one observed sensor (100 calls a second). The TMP102's fastest is 125 ms (8 Hz).
 */
export const MIN_PERIOD_MS = 10;
/**
 * The longest: one hour. The TMP102's slowest is 4 s (0.25 Hz); slow environmental sensors
 * (soil, CO2 in low-power mode) convert every few minutes. A reading is reused, and served with
 * that Max-Age, for up to one period, so beyond an hour an unplugged sensor would go unnoticed
 * for longer than anyone would want. It also keeps Max-Age at most 3600 and every timer far
 * below Node's 2^31-1 ms limit (a longer timer fires after 1 ms).
 */
export const MAX_PERIOD_MS = 3_600_000;
/**
 * A failure's `retryAfterMs` is clamped to the same range: it decides how long the failure is
 * reported without calling the module again (service/paced-reader.ts) and the 5.03's Max-Age,
 * so a hint of 0 would switch pacing off exactly like a period of 0.
 */
export const MIN_RETRY_AFTER_MS = MIN_PERIOD_MS;
export const MAX_RETRY_AFTER_MS = MAX_PERIOD_MS;
/** Longest `detail` of a failure kept for the operator (it never reaches a client). */
const MAX_DETAIL_CHARS = 200;
/** Longest `code` of a failure quoted back in the debug line that ignores it (catalogue codes are shorter). */
const MAX_CODE_CHARS = 64;
/**
 * ABI 1.1: the most quantities one module may declare. A SenML pack carries one record per
 * quantity, and every one of them is a discovery entry (`P/<quantity>`) and an observable
 * resource; 8 covers the combined environmental sensors (a BME680 has four, an SEN66 nine
 * values with three derived) while keeping a pack and a discovery answer small.
 */
export const MAX_QUANTITIES = 8;
/**
 * ABI 1.1: a quantity's name becomes a URI path segment (`/env/humidity`), the SenML `n` of
 * its record (RFC 8428 section 4.5.1: name characters) and a JSON/CBOR map key: lower-case
 * letters, digits and `_`, starting with a letter, at most 32 characters.
 */
export const QUANTITY_NAME = /^[a-z][a-z0-9_]{0,31}$/;
/** Names a quantity may not have: `/temp/alert` is the thermostat's sub-resource. */
const RESERVED_QUANTITY_NAMES: ReadonlySet<string> = new Set(['alert']);
/**
 * How long a gw_init whose output cannot be used is reported before a read tries a fresh
 * instance again (docs/module-abi.md, "Statuses at gw_init"). Until a gw_init succeeds no
 * period is known, so without this every request would instantiate the module again (a Go
 * module's cold start is tens of milliseconds); once a second keeps a broken module's cost
 * small and still picks up a fixed one quickly.
 */
export const INIT_OUTPUT_RETRY_MS = 1000;

/** What `gw_init` announced (docs/module-abi.md, "gw_init output on success"). */
export interface ModuleInfo {
  name: string;
  version: string;
  quantity: string;
  unit: string;
  /** How often the sensor produces a new value: MIN_PERIOD_MS to MAX_PERIOD_MS. */
  periodMs: number;
  /** The value of one LSB in `unit` (positive). */
  resolution: number;
  /**
   * Every quantity the module measures, the primary (`quantity`, `unit`, `resolution` above)
   * first: what an ABI 1.1 module declared as `quantities`, or the primary alone (ABI 1.0).
   */
  quantities: QuantityInfo[];
  /**
   * The sensor's alert (thermostat) configuration as the module read it back from the chip,
   * when the module reports one (the TMP102 does: docs/module-abi.md, "gw_init output on success").
   */
  alert?: AlertInfo;
}

/** One quantity a module measures (ABI 1.1 `quantities`, docs/module-abi.md). */
export interface QuantityInfo {
  name: string;
  /** A SenML unit symbol, as the module announced it (senml-units.ts says whether it is one). */
  unit: string;
  resolution: number;
}

/** One value of a reading: a quantity, its unit and value, and the register it came from. */
export interface Measurement {
  quantity: string;
  unit: string;
  value: number;
  raw?: number;
}

export type AlertMode = 'comparator' | 'interrupt';
export type AlertPolarity = 'active-low' | 'active-high';

/** A sensor's thermostat: limits in the module's `unit`, ALERT pin behaviour. */
export interface AlertInfo {
  high: number;
  low: number;
  mode: AlertMode;
  polarity: AlertPolarity;
  /** Consecutive out-of-limit conversions before ALERT changes. */
  faults: number;
}

/** The checked fields of a `gw_read` output. */
export interface ReadOutput {
  value: number;
  raw: number;
  bits: number;
  /** ABI 1.1, for a module that declared `quantities`: every declared quantity's value. */
  values?: Record<string, number>;
  /** ABI 1.1: the registers some of them came from. */
  raws?: Record<string, number>;
}

/** What a failure's output adds: a retry hint within bounds, a short detail, a code the module chose. */
export interface ErrorOutput {
  retryAfterMs?: number;
  detail?: string;
  /** A catalogue code the module may report (MODULE_REPORTABLE_CODES): it replaces the status's code. */
  code?: ErrorCode;
  /** A `code` that is not honoured, with why (the host logs it at debug level, and goes by the status). */
  ignoredCode?: { code: string; reason: string };
}

function badOutput(sensor: string, detail: string, cause?: unknown): GatewayError {
  return new GatewayError('GW_ERR_MODULE_BAD_OUTPUT', { sensor, detail }, cause === undefined ? undefined : { cause });
}

/** The CBOR map a call handed back. `what` names the call in the error's detail. */
export function decodeOutput(output: Uint8Array | undefined, what: string, sensor: string): Record<string, unknown> {
  if (!output) throw badOutput(sensor, `${what}: no output`);
  let value: unknown;
  try {
    value = decode(output);
  } catch (err) {
    throw badOutput(sensor, `${what}: invalid CBOR`, err);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map) {
    throw badOutput(sensor, `${what}: output is not a CBOR map`);
  }
  return value as Record<string, unknown>;
}

/** The `gw_init` output, checked: GW_ERR_MODULE_BAD_OUTPUT naming the first key that is wrong. */
export function parseInitOutput(out: Record<string, unknown>, sensor: string): ModuleInfo {
  const str = (k: string) => (typeof out[k] === 'string' ? (out[k] as string) : undefined);
  const num = (k: string) => (typeof out[k] === 'number' && Number.isFinite(out[k]) ? (out[k] as number) : undefined);
  const info = {
    name: str('name'),
    version: str('version'),
    quantity: str('quantity'),
    unit: str('unit'),
    periodMs: num('periodMs'),
    resolution: num('resolution'),
  };
  const missing = Object.entries(info).filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length > 0) throw badOutput(sensor, `gw_init output lacks ${missing.join(', ')}`);
  // periodMs reaches Max-Age, the pacing window and the feed's timer (MIN_PERIOD_MS, MAX_PERIOD_MS).
  if (!(info.periodMs! >= MIN_PERIOD_MS && info.periodMs! <= MAX_PERIOD_MS)) {
    throw badOutput(sensor, `gw_init output "periodMs" ${info.periodMs} is outside ${MIN_PERIOD_MS}..${MAX_PERIOD_MS}`);
  }
  if (!(info.resolution! > 0)) throw badOutput(sensor, 'gw_init output "resolution" must be positive');
  // These strings reach clients: as the link-format rt= value (RFC 6690 section 2), the SenML
  // name (RFC 8428 section 4.5.1). A module does not get to inject quotes or commas. The unit
  // is not checked here: a unit outside the SenML registry is not the module's refusal but
  // GW_ERR_MODULE_BAD_UNIT on every read (senml-units.ts, unknownUnit), and no registered
  // symbol holds a quote or a comma.
  for (const key of ['name', 'version', 'quantity'] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9:._+-]{0,31}$/.test(info[key]!)) {
      throw badOutput(sensor, `gw_init output "${key}" must be 1-32 of A-Z a-z 0-9 : . _ + -`);
    }
  }
  const primary: QuantityInfo = { name: info.quantity!, unit: info.unit!, resolution: info.resolution! };
  const quantities = out['quantities'] === undefined ? [primary] : parseQuantities(out['quantities'], primary, sensor);
  const checked = { ...(info as Omit<ModuleInfo, 'quantities' | 'alert'>), quantities };
  if (out['alert'] === undefined) return checked;
  return { ...checked, alert: parseAlert(out['alert'], sensor) };
}

/** ABI 1.1 `quantities` (docs/module-abi.md, "ABI 1.1: several quantities"). */
function parseQuantities(value: unknown, primary: QuantityInfo, sensor: string): QuantityInfo[] {
  const bad = (why: string) => badOutput(sensor, `gw_init output "quantities" ${why}`);
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_QUANTITIES) throw bad(`must be an array of 1..${MAX_QUANTITIES} entries`);
  const quantities: QuantityInfo[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of value.entries()) {
    if (!isPlainMap(entry)) throw bad(`[${i}] is not a map`);
    const { name, unit, resolution } = entry;
    if (typeof name !== 'string' || !QUANTITY_NAME.test(name)) throw bad(`[${i}] "name" must match ${QUANTITY_NAME}`);
    if (RESERVED_QUANTITY_NAMES.has(name)) throw bad(`[${i}] "name" ${name} is reserved`);
    if (seen.has(name)) throw bad(`[${i}] "name" ${name} is declared twice`);
    seen.add(name);
    if (typeof unit !== 'string') throw bad(`[${i}] needs a text "unit"`);
    if (typeof resolution !== 'number' || !Number.isFinite(resolution) || !(resolution > 0)) throw bad(`[${i}] needs a positive "resolution"`);
    quantities.push({ name, unit, resolution });
  }
  // The top-level keys stay the primary quantity's, so a 1.0 host serves it unchanged: the two
  // must not disagree.
  const first = quantities[0]!;
  if (first.name !== primary.name || first.unit !== primary.unit || first.resolution !== primary.resolution) {
    throw bad('[0] must equal the top-level "quantity", "unit" and "resolution"');
  }
  return quantities;
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Map);
}

function parseAlert(value: unknown, sensor: string): AlertInfo {
  const bad = (why: string) => badOutput(sensor, `gw_init output "alert" ${why}`);
  if (!isPlainMap(value)) throw bad('is not a map');
  const a = value;
  const { high, low, mode, polarity, faults } = a;
  // The alert values reach only the /temp/alert payload (Max-Age 0) and the module's own
  // settings on a PUT, never a header or a timer: their shape is checked, not a device's range.
  if (typeof high !== 'number' || !Number.isFinite(high) || typeof low !== 'number' || !Number.isFinite(low)) throw bad('needs finite "high" and "low"');
  if (mode !== 'comparator' && mode !== 'interrupt') throw bad('needs "mode" "comparator" or "interrupt"');
  if (polarity !== 'active-low' && polarity !== 'active-high') throw bad('needs "polarity" "active-low" or "active-high"');
  if (typeof faults !== 'number' || !Number.isInteger(faults) || faults < 1) throw bad('needs a positive integer "faults"');
  return { high, low, mode, polarity, faults };
}

/**
 * The `gw_read` output, checked. `declared`: the quantities an ABI 1.1 module declared in its
 * `gw_init` output (undefined for a 1.0 module, whose `values` and `raws` are ignored like any
 * key the host does not know).
 */
export function parseReadOutput(out: Record<string, unknown>, sensor: string, declared?: readonly QuantityInfo[]): ReadOutput {
  const { value, raw, bits } = out;
  // raw and bits go to the operator's tools (`npm run read`, the doctor) as a register dump:
  // an exact integer, from a register of at most 64 bits (0: the module read no register).
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isSafeInteger(raw) || !Number.isInteger(bits) || (bits as number) < 0 || (bits as number) > 64) {
    throw badOutput(sensor, 'gw_read output needs a finite "value", an integer "raw" and "bits" 0..64');
  }
  const base = { value, raw: raw as number, bits: bits as number };
  if (!declared) return base;
  const names = declared.map((q) => q.name);
  const values = out['values'];
  if (!isPlainMap(values)) throw badOutput(sensor, `gw_read output needs "values", a map of ${names.join(', ')}`);
  const keys = Object.keys(values);
  const extra = keys.filter((k) => !names.includes(k));
  const absent = names.filter((n) => !Object.hasOwn(values, n));
  if (extra.length > 0 || absent.length > 0) {
    const why = [absent.length > 0 && `lacks ${absent.join(', ')}`, extra.length > 0 && `has undeclared ${extra.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 32))).join(', ')}`].filter(Boolean).join(' and ');
    throw badOutput(sensor, `gw_read output "values" ${why}`);
  }
  for (const n of names) {
    const v = values[n];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badOutput(sensor, `gw_read output "values" ${n} is not a finite number`);
  }
  if (values[names[0]!] !== value) throw badOutput(sensor, `gw_read output "values" ${names[0]} differs from "value"`);
  const result: ReadOutput = { ...base, values: values as Record<string, number> };
  const raws = out['raws'];
  if (raws === undefined) return result;
  if (!isPlainMap(raws)) throw badOutput(sensor, 'gw_read output "raws" is not a map');
  for (const [k, r] of Object.entries(raws)) {
    if (!names.includes(k)) throw badOutput(sensor, `gw_read output "raws" has undeclared ${JSON.stringify(k.slice(0, 32))}`);
    // The same rule as `raw`: an exact integer of at most 53 bits.
    if (!Number.isSafeInteger(r)) throw badOutput(sensor, `gw_read output "raws" ${k} is not an integer of at most 53 bits`);
  }
  // As for `values`: one register, one number, whichever key a consumer reads it from.
  if (Object.hasOwn(raws, names[0]!) && (raws as Record<string, unknown>)[names[0]!] !== base.raw) throw badOutput(sensor, `gw_read output "raws" ${names[0]} differs from "raw"`);
  return { ...result, raws: raws as Record<string, number> };
}

/**
 * A reading's measurements, the primary first, in the order the module declared them. A 1.0
 * module's one measurement is its `value` and `raw`; a 1.1 module's primary takes `raw` when
 * `raws` does not name it (the two describe the same register).
 */
export function measurementsOf(quantities: readonly QuantityInfo[], out: ReadOutput): Measurement[] {
  return quantities.map((q, i) => {
    const value = out.values?.[q.name] ?? (i === 0 ? out.value : Number.NaN);
    const raw = out.raws?.[q.name] ?? (i === 0 ? out.raw : undefined);
    return raw === undefined ? { quantity: q.name, unit: q.unit, value } : { quantity: q.name, unit: q.unit, value, raw };
  });
}

/**
 * What a failure's output adds. Never throws: the call already failed, and a malformed detail
 * must not replace the module's status with another error. A `retryAfterMs` that is not a
 * non-negative number is ignored; one outside MIN_RETRY_AFTER_MS..MAX_RETRY_AFTER_MS is clamped.
 */
export function parseErrorOutput(output: Uint8Array | undefined, sensor: string): ErrorOutput {
  if (!output) return {};
  let map: Record<string, unknown>;
  try {
    map = decodeOutput(output, 'error', sensor);
  } catch {
    return {};
  }
  const result: ErrorOutput = {};
  const retry = map['retryAfterMs'];
  if (typeof retry === 'number' && Number.isFinite(retry) && retry >= 0) {
    result.retryAfterMs = Math.min(Math.max(retry, MIN_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS);
  }
  const detail = map['detail'];
  if (typeof detail === 'string') result.detail = detail.slice(0, MAX_DETAIL_CHARS);
  Object.assign(result, checkChosenCode(map['code']));
  return result;
}

/**
 * A failure's `"code"`: honoured when it is a catalogue code a module may report
 * (MODULE_REPORTABLE_CODES, abi.ts, says which and why); silently passed over when it is the
 * status's own name as `wasm-src/gwabi` writes it (`"not-ready"`), which says nothing the
 * status does not; otherwise ignored, with the reason for the operator's debug log.
 */
function checkChosenCode(code: unknown): Pick<ErrorOutput, 'code' | 'ignoredCode'> {
  if (code === undefined) return {};
  if (typeof code !== 'string') return { ignoredCode: { code: String(code).slice(0, MAX_CODE_CHARS), reason: 'not a text string' } };
  if (STATUS_CODE_NAMES.has(code)) return {};
  if (isErrorCode(code) && MODULE_REPORTABLE_CODES.has(code)) return { code };
  const quoted = code.slice(0, MAX_CODE_CHARS);
  if (isErrorCode(code)) return { ignoredCode: { code: quoted, reason: 'a code only the gateway reports; a module may report ' + [...MODULE_REPORTABLE_CODES].join(', ') } };
  return { ignoredCode: { code: quoted, reason: 'not a code of the error catalogue (docs/errors.md)' } };
}
