/**
 * Per-observer notification conditions from the registration's Uri-Query, after the IETF draft
 * "Conditional Query Parameters for CoAP Observe" (draft-ietf-core-conditional-attributes, whose
 * names carry a `c.` prefix) with the LwM2M spellings as aliases:
 *
 *   c.pmin / pmin  seconds: hold notifications back until this long after the previous one
 *   c.pmax / pmax  seconds: notify after this long even without a change
 *   c.gt   / gt    notify when the value crosses this (upward or downward)
 *   c.lt   / lt    notify when the value crosses this (downward or upward)
 *   c.st   / st    notify when the value moved by at least this since the last notification
 *
 * Decimals are allowed everywhere, negative values for gt and lt (LwM2M 1.1.1's grammar forbids
 * them, which makes no sense for temperatures). Thresholds are in the unit the observer asked
 * for (`unit=K` in the same query), compared with the value as reported (after `precision`).
 * A value is "above" gt when strictly greater and "below" lt when strictly less; a crossing is a
 * change of side relative to the last reported value (the draft's "relative to the last reported
 * value"). Several conditions are alternatives: any one met triggers a notification; with no gt,
 * lt or st, any change of the reported value does.
 */
import { GatewayError } from '../errors.ts';

export interface ObserveConditions {
  pminMs?: number;
  pmaxMs?: number;
  gt?: number;
  lt?: number;
  st?: number;
}

type Name = 'pmin' | 'pmax' | 'gt' | 'lt' | 'st';
const NAMES: readonly Name[] = ['pmin', 'pmax', 'gt', 'lt', 'st'];

/**
 * pmin and pmax are bounded by one day: a longer pmax is pointless (a confirmable notification
 * goes out at least every 24 hours anyway, RFC 7641 section 4.5), and timers of a few weeks
 * overflow Node's setTimeout.
 */
export const MAX_PERIOD_S = 86_400;

/** An optional sign, digits, an optional fraction: "21", "-3.5", "0.25". No exponents, no "+". */
const DECIMAL = /^-?[0-9]{1,9}(?:\.[0-9]{1,9})?$/;

function bad(detail: string): GatewayError {
  return new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail });
}

/** The condition's canonical name if `name` is one (`c.gt` or `gt`), else undefined. */
function conditionName(name: string): Name | undefined {
  const bare = name.startsWith('c.') ? name.slice(2) : name;
  return (NAMES as readonly string[]).includes(bare) ? (bare as Name) : undefined;
}

/**
 * Splits a query (Uri-Query options joined with `&`) into the conditions and the rest, which
 * the reading's own parameter parser checks. Conditions are validated here (4.00 when invalid)
 * whether or not the request registers an observation, so a deregistering GET that repeats the
 * registration's query is accepted.
 */
export function splitConditions(query: readonly string[]): { conditions: ObserveConditions; rest: string[] } {
  const values: Partial<Record<Name, number>> = {};
  const rest: string[] = [];
  for (const item of query) {
    const eq = item.indexOf('=');
    const name = conditionName(eq < 0 ? item : item.slice(0, eq));
    if (!name) {
      rest.push(item);
      continue;
    }
    if (values[name] !== undefined) throw bad(`${name} given twice (c.${name} and ${name} are the same condition)`);
    const text = eq < 0 ? '' : item.slice(eq + 1);
    if (!DECIMAL.test(text)) throw bad(`${name} must be a decimal number such as 2 or -3.5`);
    values[name] = Number(text);
  }
  return { conditions: validate(values), rest };
}

function validate(v: Partial<Record<Name, number>>): ObserveConditions {
  const out: ObserveConditions = {};
  for (const p of ['pmin', 'pmax'] as const) {
    const s = v[p];
    if (s === undefined) continue;
    if (s < 0 || s > MAX_PERIOD_S) throw bad(`${p} must be 0..${MAX_PERIOD_S} seconds`);
    out[`${p}Ms`] = s * 1000;
  }
  if (out.pmaxMs !== undefined && out.pmaxMs <= 0) throw bad('pmax must be greater than 0');
  if (out.pmaxMs !== undefined && out.pminMs !== undefined && out.pmaxMs < out.pminMs) throw bad('pmax must not be less than pmin');
  // The draft requires st > 0: a step of 0 would be "any change", which is the default anyway.
  if (v.st !== undefined && !(v.st > 0)) throw bad('st must be greater than 0');
  if (v.gt !== undefined) out.gt = v.gt;
  if (v.lt !== undefined) out.lt = v.lt;
  if (v.st !== undefined) out.st = v.st;
  return out;
}

/** Binary noise in a difference of rounded decimals (21.7 - 21.2 = 0.5000000000000036 or 0.49999...). */
const EPSILON = 1e-9;

/**
 * Whether moving from the last reported value to `next` calls for a notification, before pmin
 * and pmax are considered. `last` undefined: nothing reported yet (notify).
 */
export function conditionMet(c: ObserveConditions, last: number | undefined, next: number): boolean {
  if (last === undefined) return true;
  const thresholds = c.gt !== undefined || c.lt !== undefined || c.st !== undefined;
  if (!thresholds) return next !== last;
  if (c.gt !== undefined && last > c.gt !== next > c.gt) return true;
  if (c.lt !== undefined && last < c.lt !== next < c.lt) return true;
  if (c.st !== undefined && Math.abs(next - last) >= c.st - EPSILON) return true;
  return false;
}
