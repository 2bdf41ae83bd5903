/**
 * How every file the gateway validates (the configuration and its sections, a scenario, the
 * OSCORE credentials) refuses what it cannot take: one catalogue code per file, and a detail
 * that names the field first (`sensors[0].address: ...`), so that the operator goes straight to
 * it (docs/configuration.md). Unknown keys are refused, never ignored: a misspelt key would
 * otherwise silently leave a setting at its default.
 */
import { type ErrorCode, GatewayError } from '../errors.ts';

export type Obj = Record<string, unknown>;

/** Builds a file's refusal: `${field}: ${problem}` under its own GW_ERR_* code. */
export type InvalidField = (field: string, problem: string, cause?: unknown) => GatewayError;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `invalid` and `onlyKeys` bound to one file's code. `onlyKeys` with field '' names a top-level
 * key by itself (`name`), with any other field as `field.key` (`(root).name` where a file calls
 * its top level that).
 */
export function fieldChecks(code: ErrorCode): { invalid: InvalidField; onlyKeys: (o: Obj, field: string, allowed: readonly string[]) => void } {
  const invalid: InvalidField = (field, problem, cause) => new GatewayError(code, { detail: `${field}: ${problem}` }, cause === undefined ? {} : { cause });
  const onlyKeys = (o: Obj, field: string, allowed: readonly string[]): void => {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) throw invalid(field === '' ? k : `${field}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  };
  return { invalid, onlyKeys };
}
