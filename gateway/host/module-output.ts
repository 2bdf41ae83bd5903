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
   * The sensor's alert (thermostat) configuration as the module read it back from the chip,
   * when the module reports one (the TMP102 does: docs/module-abi.md, "gw_init output on success").
   */
  alert?: AlertInfo;
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
  // name and unit (RFC 8428 section 4.5.1). A module does not get to inject quotes or commas.
  for (const key of ['name', 'version', 'quantity', 'unit'] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9:._+-]{0,31}$/.test(info[key]!)) {
      throw badOutput(sensor, `gw_init output "${key}" must be 1-32 of A-Z a-z 0-9 : . _ + -`);
    }
  }
  if (out['alert'] === undefined) return info as ModuleInfo;
  return { ...(info as ModuleInfo), alert: parseAlert(out['alert'], sensor) };
}

function parseAlert(value: unknown, sensor: string): AlertInfo {
  const bad = (why: string) => badOutput(sensor, `gw_init output "alert" ${why}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map) throw bad('is not a map');
  const a = value as Record<string, unknown>;
  const { high, low, mode, polarity, faults } = a;
  // The alert values reach only the /temp/alert payload (Max-Age 0) and the module's own
  // settings on a PUT, never a header or a timer: their shape is checked, not a device's range.
  if (typeof high !== 'number' || !Number.isFinite(high) || typeof low !== 'number' || !Number.isFinite(low)) throw bad('needs finite "high" and "low"');
  if (mode !== 'comparator' && mode !== 'interrupt') throw bad('needs "mode" "comparator" or "interrupt"');
  if (polarity !== 'active-low' && polarity !== 'active-high') throw bad('needs "polarity" "active-low" or "active-high"');
  if (typeof faults !== 'number' || !Number.isInteger(faults) || faults < 1) throw bad('needs a positive integer "faults"');
  return { high, low, mode, polarity, faults };
}

/** The `gw_read` output, checked. */
export function parseReadOutput(out: Record<string, unknown>, sensor: string): ReadOutput {
  const { value, raw, bits } = out;
  // raw and bits go to the operator's tools (`npm run read`, the doctor) as a register dump:
  // an exact integer, from a register of at most 64 bits (0: the module read no register).
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isSafeInteger(raw) || !Number.isInteger(bits) || (bits as number) < 0 || (bits as number) > 64) {
    throw badOutput(sensor, 'gw_read output needs a finite "value", an integer "raw" and "bits" 0..64');
  }
  return { value, raw: raw as number, bits: bits as number };
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
