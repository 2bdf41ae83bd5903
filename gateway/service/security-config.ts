/**
 * The `access` and `oscore` sections of the configuration file (config.ts calls these; they
 * refuse with GW_ERR_CONFIG_INVALID naming the field, like the rest of it). docs/configuration.md,
 * "`access`" and "`oscore`", describes every field; gateway/coap/access-policy.ts applies the
 * rules and gateway/coap/write-limiter.ts the per-client write rate.
 */
import path from 'node:path';
import { AddressPrefix } from './address-prefix.ts';
import { fieldChecks, isObj } from './config-fields.ts';

const { invalid, onlyKeys } = fieldChecks('GW_ERR_CONFIG_INVALID');

/** The request methods a rule can name (RFC 7252 section 12.1.1, RFC 8132 for FETCH, PATCH and iPATCH). */
export const ACCESS_METHODS = ['GET', 'FETCH', 'POST', 'PUT', 'DELETE', 'PATCH', 'iPATCH'] as const;
export type AccessMethod = (typeof ACCESS_METHODS)[number];

/** The keywords of `allow` besides "oscore:<name>" and CIDR prefixes. */
export const ACCESS_KEYWORDS = ['anyone', 'local', 'loopback', 'oscore'] as const;

export interface AccessRule {
  /** "/temp/alert" (exactly that path), "/gw/*" (/gw and every path under it) or "*" (every path). */
  path: string;
  /** Method names, or ["*"] for any method (also a method code this list does not name). */
  methods: ReadonlyArray<AccessMethod | '*'>;
  /** "anyone", "local", "loopback", "oscore", "oscore:<credentials name>" or an IPv4/IPv6 CIDR prefix. */
  allow: readonly string[];
  /** Where the rule comes from, for the log: "access.rules[0]" or "default rule 1". */
  origin?: string;
}

export interface WriteRate {
  /** Sustained writes per second (> 0). */
  perSecond: number;
  /** Writes allowed back to back after a quiet spell (an integer >= 1). */
  burst: number;
}

export interface AccessConfig {
  /** Ordered, the first whose path and method match decides: the operator's, then DEFAULT_ACCESS_RULES. */
  rules: AccessRule[];
  /** A token bucket per client for every request that is not a GET or a FETCH. */
  writesPerClient: WriteRate;
}

export interface OscoreConfig {
  /** Absolute path of the credentials file (the OSCORE security contexts, RFC 8613 section 3). */
  credentials: string;
  /** Absolute path of the directory where sender sequence numbers are persisted. */
  stateDir: string;
  /** Sequence numbers reserved per write to stateDir (16..1,000,000); undefined: the OSCORE layer's default. */
  sequenceReserve?: number;
}

/**
 * What a careful operator would choose, appended after the operator's own rules (so theirs win):
 * 1. the gateway's own resources (/gw/stats: request rates, bus traffic, sensor names) only to
 *    authenticated clients and this machine;
 * 2. reading anything (GET, FETCH: readings, /.well-known/core, alert settings) from the local
 *    networks or an authenticated client; a gateway port forwarded to the Internet does not
 *    hand its readings to everyone;
 * 3. everything else, i.e. writes (PUT /temp/alert changes the thermostat), only to
 *    authenticated clients and this machine: on a LAN without OSCORE anyone on the Wi-Fi could.
 */
export const DEFAULT_ACCESS_RULES: readonly AccessRule[] = Object.freeze([
  Object.freeze({ path: '/gw/*', methods: Object.freeze(['*'] as const), allow: Object.freeze(['oscore', 'loopback']), origin: 'default rule 1' }),
  Object.freeze({ path: '*', methods: Object.freeze(['GET', 'FETCH'] as const), allow: Object.freeze(['local', 'oscore']), origin: 'default rule 2' }),
  Object.freeze({ path: '*', methods: Object.freeze(['*'] as const), allow: Object.freeze(['oscore', 'loopback']), origin: 'default rule 3' }),
]);

/**
 * 2 writes a second, 10 back to back: a person or an app setting a thermostat sends a few
 * PUTs at a time, a script looping on one is held to 2 a second (and past that gets 4.29 with
 * the time to wait, RFC 8516). The sensor's own write budget (sensor-service.ts) bounds all
 * clients together.
 */
export const DEFAULT_WRITES_PER_CLIENT: WriteRate = Object.freeze({ perSecond: 2, burst: 10 });

/** Rules are checked in order for every request; a longer list is a generated file gone wrong. */
export const MAX_ACCESS_RULES = 256;
/**
 * The largest per-client write rate and burst. A client waiting for each response (NSTART 1,
 * RFC 7252 section 4.7) on a LAN round trip of a millisecond sends at most about 1000 requests a
 * second: a larger value never refuses anything, so it is a unit mistake.
 */
export const MAX_WRITES_PER_CLIENT = 1000;
export const SEQUENCE_RESERVE_RANGE = { min: 16, max: 1_000_000 } as const;

/** How many rules parseAccess appends after the operator's. */
export const DEFAULT_RULE_COUNT = DEFAULT_ACCESS_RULES.length;

/** A fresh copy of the configuration without an `access` section (the caller may change it). */
export function defaultAccessConfig(): AccessConfig {
  return { rules: DEFAULT_ACCESS_RULES.map((r) => ({ ...r })), writesPerClient: { ...DEFAULT_WRITES_PER_CLIENT } };
}

/** The same, shared and frozen: for a server started without a configuration file's `access`. */
export const DEFAULT_ACCESS: AccessConfig = Object.freeze({ rules: DEFAULT_ACCESS_RULES as AccessRule[], writesPerClient: DEFAULT_WRITES_PER_CLIENT });

/** Segments of unreserved and sub-delim characters and %-escapes (RFC 3986 section 3.3), no "*" in them. */
const SEGMENT = "[A-Za-z0-9._~!$&'()+,;=:@%-]+";
const RULE_PATH = new RegExp(`^(\\*|/|/\\*|(/${SEGMENT})+(/\\*)?)$`);

function rulePath(v: unknown, field: string): string {
  if (typeof v !== 'string' || !RULE_PATH.test(v)) {
    throw invalid(field, `must be a path ("/temp/alert"), a path and everything under it ("/gw/*") or "*", got ${JSON.stringify(v)}`);
  }
  return v;
}

function ruleMethods(v: unknown, field: string): Array<AccessMethod | '*'> {
  if (!Array.isArray(v) || v.length === 0) throw invalid(field, `must be a non-empty array of ${ACCESS_METHODS.join(', ')}, or ["*"]`);
  if (v.includes('*')) {
    if (v.length !== 1) throw invalid(field, '"*" (any method) stands alone');
    return ['*'];
  }
  return v.map((m, j) => {
    if (typeof m !== 'string' || !(ACCESS_METHODS as readonly string[]).includes(m)) {
      throw invalid(`${field}[${j}]`, `unknown method ${JSON.stringify(m)} (known: ${ACCESS_METHODS.join(', ')}, or ["*"] for any)`);
    }
    return m as AccessMethod;
  });
}

/** A credentials name: printable ASCII without spaces, as it appears after "oscore:". */
const OSCORE_NAME = /^[\x21-\x7e]{1,64}$/;

function allowEntry(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(field, 'must be a string: anyone, local, loopback, oscore, oscore:<name> or a CIDR prefix');
  if ((ACCESS_KEYWORDS as readonly string[]).includes(v)) return v;
  if (v.startsWith('oscore:')) {
    if (!OSCORE_NAME.test(v.slice('oscore:'.length))) throw invalid(field, `"oscore:" must be followed by a credentials name (1-64 printable characters, no spaces), got ${JSON.stringify(v)}`);
    return v;
  }
  // Anything else must be an address: a misspelt keyword ("lokal") is refused, never read as "nobody".
  if (!/^[0-9a-fA-F:.]+(\/\d+)?$/.test(v) || !/[.:]/.test(v)) {
    throw invalid(field, `unknown ${JSON.stringify(v)} (known: anyone, local, loopback, oscore, oscore:<name>, or a CIDR prefix such as "192.168.1.0/24" or "fd00::/8")`);
  }
  const prefix = AddressPrefix.parse(v);
  if (typeof prefix === 'string') throw invalid(field, `${JSON.stringify(v)} is not a CIDR prefix: ${prefix}`);
  return v;
}

function writeRate(v: unknown, field: string): WriteRate {
  if (!isObj(v)) throw invalid(field, 'must be an object { "perSecond": n, "burst": n }');
  onlyKeys(v, field, ['perSecond', 'burst']);
  const perSecond = v['perSecond'] ?? DEFAULT_WRITES_PER_CLIENT.perSecond;
  const burst = v['burst'] ?? DEFAULT_WRITES_PER_CLIENT.burst;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) throw invalid(`${field}.perSecond`, `must be a number greater than 0, got ${JSON.stringify(perSecond)}`);
  if (perSecond > MAX_WRITES_PER_CLIENT) throw invalid(`${field}.perSecond`, `must be at most ${MAX_WRITES_PER_CLIENT}, got ${perSecond}`);
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1) throw invalid(`${field}.burst`, `must be an integer of at least 1, got ${JSON.stringify(burst)}`);
  if (burst > MAX_WRITES_PER_CLIENT) throw invalid(`${field}.burst`, `must be at most ${MAX_WRITES_PER_CLIENT}, got ${burst}`);
  return { perSecond, burst };
}

/** The `access` section, or the defaults without one. The default rules always follow the operator's. */
export function parseAccess(v: unknown): AccessConfig {
  if (v === undefined) return defaultAccessConfig();
  if (!isObj(v)) throw invalid('access', 'must be an object { "rules": [...], "writesPerClient": {...} }');
  onlyKeys(v, 'access', ['rules', 'writesPerClient']);
  const raw = v['rules'] ?? [];
  if (!Array.isArray(raw)) throw invalid('access.rules', 'must be an array of rules');
  if (raw.length > MAX_ACCESS_RULES) throw invalid('access.rules', `must have at most ${MAX_ACCESS_RULES} rules, got ${raw.length}`);
  const rules = raw.map((r, i): AccessRule => {
    const f = `access.rules[${i}]`;
    if (!isObj(r)) throw invalid(f, 'must be an object { "path", "methods", "allow" }');
    onlyKeys(r, f, ['path', 'methods', 'allow']);
    for (const k of ['path', 'methods', 'allow']) if (r[k] === undefined) throw invalid(`${f}.${k}`, 'is required');
    const allow = r['allow'];
    if (!Array.isArray(allow) || allow.length === 0) throw invalid(`${f}.allow`, 'must be a non-empty array (anyone, local, loopback, oscore, oscore:<name>, CIDR prefixes)');
    return {
      path: rulePath(r['path'], `${f}.path`),
      methods: ruleMethods(r['methods'], `${f}.methods`),
      allow: allow.map((a, j) => allowEntry(a, `${f}.allow[${j}]`)),
      origin: f,
    };
  });
  const writesPerClient = v['writesPerClient'] === undefined ? { ...DEFAULT_WRITES_PER_CLIENT } : writeRate(v['writesPerClient'], 'access.writesPerClient');
  return { rules: [...rules, ...defaultAccessConfig().rules], writesPerClient };
}

function filePath(v: unknown, field: string, what: string): string {
  if (typeof v !== 'string' || v === '' || v.includes('\0')) throw invalid(field, `must be the path of ${what}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * The `oscore` section. Paths resolve against the configuration file's directory. `stateDir` is
 * required, never guessed: a default that depended on how the gateway was started ($STATE_DIRECTORY
 * under systemd, somewhere else by hand) would let a hand-started gateway find no sequence files
 * and start every context again at 0 under the same keys (RFC 8613 section 7.5.1).
 */
export function parseOscore(v: unknown, baseDir: string): OscoreConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw invalid('oscore', 'must be an object { "credentials": <file>, "stateDir": <directory>, "sequenceReserve"?: n }');
  onlyKeys(v, 'oscore', ['credentials', 'stateDir', 'sequenceReserve']);
  if (v['credentials'] === undefined) throw invalid('oscore.credentials', 'is required (the OSCORE credentials file)');
  const credentials = path.resolve(baseDir, filePath(v['credentials'], 'oscore.credentials', 'the OSCORE credentials file'));
  if (v['stateDir'] === undefined) throw invalid('oscore.stateDir', 'is required: the directory where the gateway keeps its OSCORE sender sequence numbers (under systemd: /var/lib/coap-sensor-gateway, the unit\'s StateDirectory=)');
  const stateDir = path.resolve(baseDir, filePath(v['stateDir'], 'oscore.stateDir', 'a directory'));
  const reserve = v['sequenceReserve'];
  const { min, max } = SEQUENCE_RESERVE_RANGE;
  if (reserve !== undefined && (typeof reserve !== 'number' || !Number.isInteger(reserve) || reserve < min || reserve > max)) {
    throw invalid('oscore.sequenceReserve', `must be an integer ${min}..${max}, got ${JSON.stringify(reserve)}`);
  }
  return { credentials, stateDir, ...(reserve === undefined ? {} : { sequenceReserve: reserve as number }) };
}
