/**
 * Who may do what: the ordered rules of the configuration's `access` section (the operator's,
 * then the defaults, gateway/service/security-config.ts). The first rule whose path and method
 * match a request decides; the request goes on when one of its `allow` entries describes the
 * requester, and is refused otherwise:
 *
 * - 4.01 Unauthorized (GW_ERR_ACCESS_UNAUTHORIZED) when the request was not OSCORE-protected and
 *   the rule would allow an OSCORE client: RFC 7252 section 5.9.2.2, "the client is not
 *   authorized to perform the requested action. The client SHOULD NOT repeat the request
 *   without first improving its authentication status": protecting it with OSCORE is that;
 * - 4.03 Forbidden (GW_ERR_ACCESS_FORBIDDEN) otherwise, section 5.9.2.4: nothing the client can
 *   do to its request changes the answer (an OSCORE client the rule does not name, an address
 *   no entry covers).
 *
 * The refusal's detail names the rule (for the log); errorReply never sends the detail of a
 * non-request error to the client, so the policy's layout does not leak.
 */
import { GatewayError } from '../errors.ts';
import type { AccessConfig, AccessRule } from '../service/config.ts';
import { type AddressBytes, type AddressPrefix, LOCAL_PREFIXES, LOOPBACK_PREFIXES, parseAddress, prefixes } from '../service/address-prefix.ts';

export interface Requester {
  /** As the socket reports it, e.g. ::ffff:192.168.1.20 or ::1. */
  address: string;
  /** The credentials name when the request was OSCORE-protected and verified. */
  oscoreClient?: string;
}

/** Method codes (RFC 7252 section 12.1.1; FETCH, PATCH, iPATCH: RFC 8132 section 6) by name. */
const METHOD_CODES: Record<string, string> = { GET: '0.01', POST: '0.02', PUT: '0.03', DELETE: '0.04', FETCH: '0.05', PATCH: '0.06', iPATCH: '0.07' };

const LOOPBACK = prefixes(LOOPBACK_PREFIXES);
const LOCAL = prefixes(LOCAL_PREFIXES);

interface CompiledRule {
  /** "access.rules[0]" or "default rule 1", and the path pattern: what the log says. */
  name: string;
  matchesPath: (path: string) => boolean;
  /** Method codes; undefined for any method. */
  methods: ReadonlySet<string> | undefined;
  anyone: boolean;
  addresses: AddressPrefix[];
  anyOscore: boolean;
  oscoreNames: ReadonlySet<string>;
}

function pathMatcher(pattern: string): (path: string) => boolean {
  if (pattern === '*' || pattern === '/*') return () => true;
  if (pattern.endsWith('/*')) {
    // A segment prefix: "/gw/*" is /gw and what is under it, never /gwx.
    const base = pattern.slice(0, -2);
    return (path) => path === base || path.startsWith(`${base}/`);
  }
  return (path) => path === pattern;
}

function compile(rule: AccessRule, index: number): CompiledRule {
  const addresses: AddressPrefix[] = [];
  const oscoreNames = new Set<string>();
  let anyone = false;
  let anyOscore = false;
  for (const entry of rule.allow) {
    if (entry === 'anyone') anyone = true;
    else if (entry === 'loopback') addresses.push(...LOOPBACK);
    else if (entry === 'local') addresses.push(...LOCAL);
    else if (entry === 'oscore') anyOscore = true;
    else if (entry.startsWith('oscore:')) oscoreNames.add(entry.slice('oscore:'.length));
    else {
      // parseConfig validated it; a hand-made AccessConfig with a bad entry fails at start, not per request.
      const prefix = prefixes([entry])[0]!;
      addresses.push(prefix);
    }
  }
  return {
    name: `${rule.origin ?? `rules[${index}]`} (${rule.path})`,
    matchesPath: pathMatcher(rule.path),
    methods: rule.methods.includes('*') ? undefined : new Set(rule.methods.map((m) => METHOD_CODES[m]!)),
    anyone,
    addresses,
    anyOscore,
    oscoreNames,
  };
}

export class AccessPolicy {
  readonly #rules: CompiledRule[];

  constructor(config: AccessConfig) {
    this.#rules = config.rules.map(compile);
  }

  /**
   * undefined when allowed; else the GatewayError to answer with: GW_ERR_ACCESS_UNAUTHORIZED
   * (4.01) when the request was not OSCORE-protected and an OSCORE identity would be allowed,
   * else GW_ERR_ACCESS_FORBIDDEN (4.03). The detail says which rule refused it (for the log,
   * never the client).
   */
  check(method: string, path: string, who: Requester): GatewayError | undefined {
    const rule = this.#rules.find((r) => r.matchesPath(path) && (r.methods === undefined || r.methods.has(method)));
    // With the defaults appended a rule always matches; a hand-made list without a catch-all refuses the rest.
    if (rule === undefined) return new GatewayError('GW_ERR_ACCESS_FORBIDDEN', { detail: 'no access rule matches this method and path' });
    if (rule.anyone) return undefined;
    if (who.oscoreClient !== undefined && (rule.anyOscore || rule.oscoreNames.has(who.oscoreClient))) return undefined;
    const address = parseAddress(who.address);
    if (address !== undefined && rule.addresses.some((p) => p.contains(address))) return undefined;
    if (who.oscoreClient === undefined && (rule.anyOscore || rule.oscoreNames.size > 0)) {
      return new GatewayError('GW_ERR_ACCESS_UNAUTHORIZED', { detail: `${rule.name} allows this only to OSCORE clients or other addresses` });
    }
    const whom = who.oscoreClient === undefined ? 'this address' : `OSCORE client ${who.oscoreClient} from this address`;
    return new GatewayError('GW_ERR_ACCESS_FORBIDDEN', { detail: `${rule.name} does not allow this to ${whom}` });
  }

  /**
   * Whether any rule could allow an unauthenticated requester from this address anything at
   * all (for the log: a peer for which this is false can only ever be refused). Rules shadowed
   * by earlier ones are counted too: "could", not "will".
   */
  allowsAnythingFrom(address: string): boolean {
    const bytes: AddressBytes | undefined = parseAddress(address);
    return this.#rules.some((r) => r.anyone || (bytes !== undefined && r.addresses.some((p) => p.contains(bytes))));
  }
}
