/**
 * The retained sensors list (`<topicPrefix>/<gatewayId>/sensors`, docs/uplink.md "Withdrawal"):
 * which Home Assistant entities this gateway id announced, so that at the next connect those no
 * longer served can be withdrawn. Pure functions; uplink.ts publishes what they decide.
 *
 * An entry is an entity key (topics.ts): "<sensor>" for a single-quantity sensor,
 * "<sensor>/<quantity>" for each quantity of a multi-quantity one. A list written before ABI 1.1
 * holds sensor names only, which are keys of single-quantity entities: it reads the same.
 */
import { type EntityRef, entityKey, parseEntityKey } from './topics.ts';

/** The entities a retained list names (entries that are not keys are skipped), or undefined when it is not JSON. */
export function parseSensorsList(payload: Buffer | undefined): EntityRef[] | undefined {
  if (payload === undefined || payload.length === 0) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) ? parsed.flatMap((s) => (typeof s === 'string' ? (parseEntityKey(s) ?? []) : [])) : [];
}

export interface SettleInput {
  /** The entities of the list as retained. */
  before: EntityRef[];
  /** The configured sensors' entities; undefined for a sensor whose module has not initialised (quantities unknown). */
  entities: ReadonlyMap<string, EntityRef[] | undefined>;
  discovery: boolean;
}

export interface SettlePlan {
  /** Entities to withdraw: their config emptied, and their state too when `state`. */
  withdraw: Array<{ entity: EntityRef; state: boolean }>;
  /** The new list's keys. */
  listed: string[];
}

/**
 * What to withdraw and what to list now. An entity still served stays; one of a sensor not yet
 * initialised stays listed untouched (uplink.ts settles it when the sensor is announced); any
 * other is withdrawn, its state topic too unless a configured sensor still publishes on it
 * (with discovery off the sensors keep publishing their state).
 */
export function planSettle(input: SettleInput): SettlePlan {
  const pending = new Set([...input.entities].filter(([, e]) => e === undefined).map(([name]) => name));
  const served = new Set([...input.entities.values()].flatMap((e) => (e ?? []).map(entityKey)));
  const now = input.discovery ? served : new Set<string>();
  const listed = new Set(now);
  const withdraw: SettlePlan['withdraw'] = [];
  for (const e of input.before) {
    const key = entityKey(e);
    if (now.has(key)) continue;
    if (input.discovery && pending.has(e.sensor)) {
      listed.add(key);
      continue;
    }
    withdraw.push({ entity: e, state: !served.has(key) && !pending.has(e.sensor) });
  }
  return { withdraw, listed: [...listed] };
}

/**
 * A sensor announced after the list was settled (its module initialised late): its keys join
 * `listed`, and the entries it had there that its quantities no longer match leave it, to be
 * withdrawn. Changes `listed`; says whether it changed.
 */
export function relist(listed: Set<string>, sensor: string, entities: EntityRef[]): { withdraw: EntityRef[]; changed: boolean } {
  const keys = new Set(entities.map(entityKey));
  const withdraw: EntityRef[] = [];
  for (const key of [...listed]) {
    const e = parseEntityKey(key);
    if (e === undefined || e.sensor !== sensor || keys.has(key)) continue;
    listed.delete(key);
    withdraw.push(e);
  }
  let added = false;
  for (const key of keys) {
    if (listed.has(key)) continue;
    listed.add(key);
    added = true;
  }
  return { withdraw, changed: added || withdraw.length > 0 };
}
