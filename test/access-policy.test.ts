/**
 * The access policy (gateway/coap/access-policy.ts): each `allow` keyword, IPv4-mapped
 * addresses, first match wins, 4.01 when OSCORE would help and 4.03 when nothing would, and the
 * default rules a gateway without an `access` section runs with. Addresses are written as the
 * dual-stack socket reports them (::ffff:a.b.c.d for IPv4 peers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressPrefix, parseAddress } from '../gateway/service/address-prefix.ts';
import { AccessPolicy, type Requester } from '../gateway/coap/access-policy.ts';
import { COAP_CODE_FOR } from '../gateway/coap/error-response.ts';
import { Method } from '../gateway/coap/reply.ts';
import { DEFAULT_ACCESS, parseConfig } from '../gateway/service/config.ts';

const DELETE = '0.04';
const PATCH = '0.06';
const IPATCH = '0.07';

/** The policy of a configuration file with these rules (the defaults follow them). */
function policy(rules: unknown[]): AccessPolicy {
  return new AccessPolicy(parseConfig({ sensors: [{ name: 't' }], access: { rules } }, '/').access);
}

const from = (address: string, oscoreClient?: string): Requester => (oscoreClient === undefined ? { address } : { address, oscoreClient });

/** undefined (allowed), or the refusal's catalogue code. */
function verdict(p: AccessPolicy, method: string, path: string, who: Requester): string | undefined {
  return p.check(method, path, who)?.code;
}

describe('addresses and prefixes', () => {
  it('an IPv4 address and its IPv4-mapped form are the same address; a zone is not part of it', () => {
    assert.deepEqual(parseAddress('192.168.1.20'), parseAddress('::ffff:192.168.1.20'));
    assert.deepEqual(parseAddress('::ffff:c0a8:114'), parseAddress('192.168.1.20'));
    assert.deepEqual(parseAddress('fe80::1%eth0'), parseAddress('fe80::1'));
    for (const bad of ['', '1.2.3', '1.2.3.256', '01.2.3.4', '::1::', '1:2:3:4:5:6:7:8:9', 'g::1', 'localhost']) assert.equal(parseAddress(bad), undefined, bad);
  });

  it('a prefix matches what lies in it, whichever way the address is written', () => {
    const lan = AddressPrefix.parse('192.168.1.0/24') as AddressPrefix;
    assert.ok(lan.contains(parseAddress('::ffff:192.168.1.20')!));
    assert.ok(lan.contains(parseAddress('192.168.1.255')!));
    assert.ok(!lan.contains(parseAddress('::ffff:192.168.2.1')!));
    const ula = AddressPrefix.parse('fd00::/8') as AddressPrefix;
    assert.ok(ula.contains(parseAddress('fd12:3456::1')!));
    assert.ok(!ula.contains(parseAddress('fe80::1')!));
    const odd = AddressPrefix.parse('172.16.0.0/12') as AddressPrefix;
    assert.ok(odd.contains(parseAddress('::ffff:172.31.255.255')!));
    assert.ok(!odd.contains(parseAddress('::ffff:172.32.0.0')!));
  });

  it('refuses prefixes with host bits set, naming the network', () => {
    assert.match(AddressPrefix.parse('192.168.1.5/24') as string, /host bits.*192\.168\.1\.0\/24/);
    assert.match(AddressPrefix.parse('fd00::1/8') as string, /host bits.*fd00::\/8/);
    assert.match(AddressPrefix.parse('10.0.0.0/33') as string, /prefix length/);
  });
});

describe('access policy: the allow keywords', () => {
  const p = (allow: string[]) => policy([{ path: '/x', methods: ['PUT'], allow }]);

  it('"anyone" allows every source, with or without OSCORE', () => {
    assert.equal(verdict(p(['anyone']), Method.PUT, '/x', from('::ffff:8.8.8.8')), undefined);
    assert.equal(verdict(p(['anyone']), Method.PUT, '/x', from('2001:db8::1', 'app')), undefined);
  });

  it('"loopback" allows 127/8, ::1 and ::ffff:127.x only', () => {
    const q = p(['loopback']);
    for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '::ffff:127.1.2.3', '::1']) assert.equal(verdict(q, Method.PUT, '/x', from(a)), undefined, a);
    for (const a of ['::ffff:192.168.1.20', '10.0.0.1', 'fe80::1', '::2', '::']) assert.equal(verdict(q, Method.PUT, '/x', from(a)), 'GW_ERR_ACCESS_FORBIDDEN', a);
  });

  it('"local" allows loopback, RFC 1918, link-local and unique local, IPv4 also IPv4-mapped', () => {
    const q = p(['local']);
    const local = ['127.0.0.1', '::1', '10.1.2.3', '::ffff:10.1.2.3', '::ffff:172.16.0.1', '::ffff:172.31.255.254', '::ffff:192.168.1.20', '192.168.200.1', '::ffff:169.254.3.4', 'fe80::1%eth0', 'febf::1', 'fc00::1', 'fd12::1'];
    const notLocal = ['::ffff:8.8.8.8', '::ffff:172.32.0.1', '::ffff:172.15.255.255', '::ffff:192.169.0.1', '::ffff:100.64.0.1', '2001:db8::1', 'fec0::1', 'ff02::1', '::ffff:11.0.0.1'];
    for (const a of local) assert.equal(verdict(q, Method.PUT, '/x', from(a)), undefined, a);
    for (const a of notLocal) assert.equal(verdict(q, Method.PUT, '/x', from(a)), 'GW_ERR_ACCESS_FORBIDDEN', a);
  });

  it('"oscore" allows any OSCORE client from anywhere; without OSCORE the refusal is 4.01', () => {
    const q = p(['oscore']);
    assert.equal(verdict(q, Method.PUT, '/x', from('::ffff:8.8.8.8', 'anything')), undefined);
    const err = q.check(Method.PUT, '/x', from('::ffff:8.8.8.8'));
    assert.equal(err?.code, 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.equal(COAP_CODE_FOR[err!.code], '4.01');
  });

  it('"oscore:<name>" allows that client only: another OSCORE client gets 4.03, an unprotected request 4.01', () => {
    const q = p(['oscore:thermostat-app']);
    assert.equal(verdict(q, Method.PUT, '/x', from('::ffff:8.8.8.8', 'thermostat-app')), undefined);
    const other = q.check(Method.PUT, '/x', from('::ffff:192.168.1.20', 'dashboard'));
    assert.equal(other?.code, 'GW_ERR_ACCESS_FORBIDDEN');
    assert.equal(COAP_CODE_FOR[other!.code], '4.03');
    assert.equal(verdict(q, Method.PUT, '/x', from('::ffff:192.168.1.20')), 'GW_ERR_ACCESS_UNAUTHORIZED');
  });

  it('a CIDR prefix allows its addresses, IPv4-mapped included, and an OSCORE client from them too', () => {
    const q = p(['192.168.1.0/24', '2001:db8:1::/48']);
    assert.equal(verdict(q, Method.PUT, '/x', from('::ffff:192.168.1.20')), undefined);
    assert.equal(verdict(q, Method.PUT, '/x', from('192.168.1.21')), undefined);
    assert.equal(verdict(q, Method.PUT, '/x', from('2001:db8:1:2::5')), undefined);
    assert.equal(verdict(q, Method.PUT, '/x', from('::ffff:192.168.1.20', 'who')), undefined);
    assert.equal(verdict(q, Method.PUT, '/x', from('::ffff:192.168.2.20')), 'GW_ERR_ACCESS_FORBIDDEN', 'no oscore entry: nothing would help');
    assert.equal(verdict(q, Method.PUT, '/x', from('2001:db8:2::5')), 'GW_ERR_ACCESS_FORBIDDEN');
  });

  it('a garbled peer address matches no prefix (never throws)', () => {
    assert.equal(verdict(p(['local']), Method.PUT, '/x', from('not-an-address')), 'GW_ERR_ACCESS_FORBIDDEN');
  });
});

describe('access policy: matching rules', () => {
  it('the first rule whose path and method match decides, even when a later one would allow', () => {
    const q = policy([
      { path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app'] },
      { path: '/temp/alert', methods: ['PUT'], allow: ['anyone'] },
    ]);
    assert.equal(verdict(q, Method.PUT, '/temp/alert', from('::1')), 'GW_ERR_ACCESS_UNAUTHORIZED', 'not even loopback: rule 0 decides');
    const err = q.check(Method.PUT, '/temp/alert', from('::1'));
    assert.match(err!.details.detail!, /access\.rules\[0\] \(\/temp\/alert\)/, 'the detail names the rule');
  });

  it('a rule for other methods or another path is skipped', () => {
    const q = policy([{ path: '/temp/alert', methods: ['PUT'], allow: ['anyone'] }]);
    // A GET of the same path falls through to default rule 2: the LAN reads, the Internet does not.
    assert.equal(verdict(q, Method.GET, '/temp/alert', from('::ffff:192.168.1.20')), undefined);
    assert.equal(verdict(q, Method.GET, '/temp/alert', from('::ffff:8.8.8.8')), 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.equal(verdict(q, Method.PUT, '/temp/alert', from('::ffff:8.8.8.8')), undefined);
    assert.equal(verdict(q, Method.PUT, '/temp', from('::ffff:8.8.8.8')), 'GW_ERR_ACCESS_UNAUTHORIZED', 'default rule 3');
    assert.equal(verdict(q, Method.PUT, '/temp/alert/x', from('::ffff:8.8.8.8')), 'GW_ERR_ACCESS_UNAUTHORIZED', 'exact paths do not cover what is under them');
  });

  it('"/gw/*" is /gw and what is under it, never /gwx; "*" is every path', () => {
    const q = policy([{ path: '/gw/*', methods: ['GET'], allow: ['anyone'] }, { path: '*', methods: ['DELETE'], allow: ['anyone'] }]);
    for (const path of ['/gw', '/gw/stats', '/gw/a/b']) assert.equal(verdict(q, Method.GET, path, from('::ffff:8.8.8.8')), undefined, path);
    assert.equal(verdict(q, Method.GET, '/gwx', from('::ffff:8.8.8.8')), 'GW_ERR_ACCESS_UNAUTHORIZED');
    for (const path of ['/', '/temp', '/.well-known/core']) assert.equal(verdict(q, DELETE, path, from('::ffff:8.8.8.8')), undefined, path);
  });

  it('methods by name, FETCH PATCH iPATCH included; ["*"] also covers a code no name has', () => {
    const q = policy([{ path: '/x', methods: ['FETCH', 'PATCH', 'iPATCH'], allow: ['anyone'] }, { path: '/y', methods: ['*'], allow: ['anyone'] }]);
    for (const m of [Method.FETCH, PATCH, IPATCH]) assert.equal(verdict(q, m, '/x', from('::ffff:8.8.8.8')), undefined, m);
    assert.equal(verdict(q, Method.POST, '/x', from('::ffff:8.8.8.8')), 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.equal(verdict(q, '0.08', '/y', from('::ffff:8.8.8.8')), undefined);
    assert.equal(verdict(q, '0.08', '/x', from('::ffff:192.168.1.20')), 'GW_ERR_ACCESS_UNAUTHORIZED', 'an unnamed method is a write for the defaults');
  });

  it('a hand-made list without a catch-all refuses what no rule matches with 4.03', () => {
    const q = new AccessPolicy({ rules: [{ path: '/x', methods: ['GET'], allow: ['anyone'] }], writesPerClient: { perSecond: 2, burst: 10 } });
    assert.equal(verdict(q, Method.GET, '/y', from('::1')), 'GW_ERR_ACCESS_FORBIDDEN');
  });

  it('says whether an address could be allowed anything without OSCORE', () => {
    const q = new AccessPolicy(DEFAULT_ACCESS);
    assert.equal(q.allowsAnythingFrom('::ffff:192.168.1.20'), true);
    assert.equal(q.allowsAnythingFrom('::1'), true);
    assert.equal(q.allowsAnythingFrom('::ffff:8.8.8.8'), false);
    assert.equal(policy([{ path: '/x', methods: ['GET'], allow: ['anyone'] }]).allowsAnythingFrom('::ffff:8.8.8.8'), true);
  });
});

describe('access policy: the defaults (no `access` section)', () => {
  const parsed = parseConfig({ sensors: [{ name: 't' }] }, '/').access;
  const q = new AccessPolicy(parsed);
  const LAN = '::ffff:192.168.1.20';

  it('are the three documented rules, and DEFAULT_ACCESS is the same', () => {
    assert.deepEqual(parsed.rules.map((r) => [r.path, [...r.methods], [...r.allow]]), [
      ['/gw/*', ['*'], ['oscore', 'loopback']],
      ['*', ['GET', 'FETCH'], ['local', 'oscore']],
      ['*', ['*'], ['oscore', 'loopback']],
    ]);
    assert.deepEqual(parsed, DEFAULT_ACCESS);
    assert.deepEqual(parsed.writesPerClient, { perSecond: 2, burst: 10 });
  });

  it('PUT /temp/alert: from the LAN without OSCORE 4.01; from ::1 or an OSCORE client allowed', () => {
    const err = q.check(Method.PUT, '/temp/alert', from(LAN));
    assert.equal(err?.code, 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.equal(COAP_CODE_FOR[err!.code], '4.01');
    assert.match(err!.details.detail!, /default rule 3/);
    assert.equal(verdict(q, Method.PUT, '/temp/alert', from('::1')), undefined);
    assert.equal(verdict(q, Method.PUT, '/temp/alert', from('::ffff:127.0.0.1')), undefined);
    assert.equal(verdict(q, Method.PUT, '/temp/alert', from(LAN, 'thermostat-app')), undefined);
    assert.equal(verdict(q, Method.PUT, '/temp/alert', from('::ffff:8.8.8.8', 'thermostat-app')), undefined);
  });

  it('GET /temp: the LAN reads, the Internet gets 4.01 (OSCORE would help)', () => {
    assert.equal(verdict(q, Method.GET, '/temp', from(LAN)), undefined);
    assert.equal(verdict(q, Method.FETCH, '/temp', from('fd00::5')), undefined);
    assert.equal(verdict(q, Method.GET, '/.well-known/core', from(LAN)), undefined);
    assert.equal(verdict(q, Method.GET, '/temp', from('::ffff:8.8.8.8')), 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.equal(verdict(q, Method.GET, '/temp', from('2001:db8::1', 'app')), undefined);
  });

  it('/gw/stats: 4.01 from a LAN address, allowed from loopback and OSCORE clients', () => {
    const err = q.check(Method.GET, '/gw/stats', from(LAN));
    assert.equal(err?.code, 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.match(err!.details.detail!, /default rule 1/);
    assert.equal(verdict(q, Method.GET, '/gw/stats', from('::1')), undefined);
    assert.equal(verdict(q, Method.GET, '/gw/stats', from(LAN, 'ops')), undefined);
  });

  it('the operator\'s rules come first: allowing the LAN to PUT the thermostat', () => {
    const lanWrites = policy([{ path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app', 'loopback', '192.168.1.0/24'] }]);
    assert.equal(verdict(lanWrites, Method.PUT, '/temp/alert', from(LAN)), undefined);
    assert.equal(verdict(lanWrites, Method.PUT, '/temp/alert', from('::ffff:192.168.2.20')), 'GW_ERR_ACCESS_UNAUTHORIZED');
    assert.equal(verdict(lanWrites, Method.PUT, '/temp/alert', from('::ffff:192.168.2.20', 'dashboard')), 'GW_ERR_ACCESS_FORBIDDEN');
    assert.equal(verdict(lanWrites, Method.GET, '/gw/stats', from(LAN)), 'GW_ERR_ACCESS_UNAUTHORIZED', 'the defaults still follow');
  });
});
