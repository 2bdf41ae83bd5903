/** The configuration file: every refusal names its field (GW_ERR_CONFIG_INVALID). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../gateway/errors.ts';
import { DEFAULT_MODULE_LIMITS, MODULE_LIMIT_MAXIMA } from '../gateway/host/worker/module-limits.ts';
import { DEFAULT_ACCESS, DEFAULT_RULE_COUNT, MAX_ACCESS_RULES, MAX_PROFILE_SECONDS, MAX_SENSORS, defaultConfig, loadConfigFile, parseConfig } from '../gateway/service/config.ts';
import { configRefusal as refusal } from './helpers/refusals.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const sensor = (extra: Record<string, unknown> = {}) => ({ name: 't', ...extra });

describe('configuration', () => {
  it('fills in the defaults: bus 1, 0x48, /temp, its own device granted, default limits', () => {
    const c = parseConfig({ sensors: [sensor()] }, ROOT);
    const s = c.sensors[0]!;
    assert.deepEqual([c.driver, s.bus, s.address, s.path, s.grant], ['auto', 1, 0x48, '/temp', { bus: 1, addresses: [0x48] }]);
    assert.deepEqual(s.limits, DEFAULT_MODULE_LIMITS);
  });

  it('reads the example file', async () => {
    const c = await loadConfigFile(path.join(ROOT, 'fixtures', 'gateway.example.json'));
    assert.deepEqual(c.sensors.map((s) => [s.name, s.path, s.address]), [['tmp102', '/temp', 0x48], ['outside', '/temp/outside', 0x49]]);
  });

  it('names the field it refuses', () => {
    assert.match(refusal({ sensors: [sensor({ address: '0x80' })] }), /^sensors\[0\]\.address:/);
    assert.match(refusal({ sensors: [sensor({ colour: 'red' })] }), /^sensors\[0\]\.colour: unknown field/);
    assert.match(refusal({ sensors: [] }), /^sensors:/);
    assert.match(refusal({ driver: 'usb', sensors: [sensor()] }), /^driver:/);
    assert.match(refusal({ sensors: [sensor({ sha256: 'abc' })] }), /^sensors\[0\]\.sha256:/);
    assert.match(refusal({ sensors: [sensor({ alertGpio: 99 })] }), /^sensors\[0\]\.alertGpio:/);
  });

  it(`serves at most ${MAX_SENSORS} sensors, and says so naming the field`, () => {
    // Distinct names, paths and devices: only the number is wrong.
    const many = (n: number) => Array.from({ length: n }, (_, i) => sensor({ name: `t${i}`, path: `/t/${i}`, bus: 1 + Math.floor(i / 100), address: 0x08 + (i % 100) }));
    assert.equal(parseConfig({ sensors: many(MAX_SENSORS) }, ROOT).sensors.length, MAX_SENSORS);
    assert.equal(refusal({ sensors: many(MAX_SENSORS + 1) }), `sensors: must have at most ${MAX_SENSORS} sensors, got ${MAX_SENSORS + 1}`);
    // Refused before any entry is looked at: 100,000 junk entries cost no parsing.
    assert.match(refusal({ sensors: new Array(100_000).fill('junk') }), /^sensors: must have at most/);
    const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    assert.match(doc, new RegExp(`at most ${MAX_SENSORS}`), 'docs/configuration.md gives the cap');
  });

  it('refuses two sensors on one device, and duplicate names and paths', () => {
    assert.match(refusal({ sensors: [sensor(), sensor({ name: 'u', path: '/u' })] }), /^sensors\[1\]\.address: bus 1 address 0x48 is already sensors\[0\]'s device/);
    assert.match(refusal({ sensors: [sensor(), sensor({ address: '0x49' })] }), /^sensors\[1\]\.name:/);
    assert.match(refusal({ sensors: [sensor(), sensor({ name: 'u', address: '0x49' })] }), /^sensors\[1\]\.path:/);
  });

  it('keeps the gateway\'s own paths: /gw/... and <sensor>/alert', () => {
    assert.match(refusal({ sensors: [sensor({ path: '/gw/stats' })] }), /^sensors\[0\]\.path:/);
    assert.match(refusal({ sensors: [sensor(), sensor({ name: 'u', address: '0x49', path: '/temp/alert' })] }), /^sensors\[1\]\.path:.*alert resource/);
    assert.doesNotThrow(() => parseConfig({ sensors: [sensor(), sensor({ name: 'u', address: '0x49', path: '/temp/2' })] }, ROOT));
  });

  it('a grant must cover the sensor\'s own bus and address', () => {
    assert.match(refusal({ sensors: [sensor({ grant: { bus: 2, addresses: ['0x48'] } })] }), /^sensors\[0\]\.grant\.bus:/);
    assert.match(refusal({ sensors: [sensor({ grant: { bus: 1, addresses: ['0x49'] } })] }), /^sensors\[0\]\.grant\.addresses:/);
    const c = parseConfig({ sensors: [sensor({ grant: { bus: 1, addresses: ['0x48', '0x0c'] } })] }, ROOT);
    assert.deepEqual(c.sensors[0]!.grant.addresses, [0x48, 0x0c]);
  });

  it('refuses limits a timer or a 32-bit memory cannot honour, and unknown limit fields', () => {
    assert.match(refusal({ sensors: [sensor({ limits: { deadlineMs: 3e9 } })] }), /limits\.deadlineMs/);
    assert.match(refusal({ sensors: [sensor({ limits: { memoryLimitBytes: 2 ** 35 } })] }), /limits\.memoryLimitBytes/);
    assert.match(refusal({ sensors: [sensor({ limits: { i2cRateLimit: { perSecond: 10, burst: 5, typo: 1 } } })] }), /limits\.i2cRateLimit\.typo/);
    assert.match(refusal({ sensors: [sensor({ limits: { deadline: 5 } })] }), /limits\.deadline: unknown field/);
  });

  it('refuses every limit past its maximum, naming the field, and accepts the maximum itself', () => {
    const { i2cPerSecond, i2cBurst, ...plain } = MODULE_LIMIT_MAXIMA;
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = Object.entries(plain).map(([key, max]) => [key, { [key]: max }, { [key]: max + 1 }]);
    cases.push(['i2cRateLimit.perSecond', { i2cRateLimit: { perSecond: i2cPerSecond, burst: 1 } }, { i2cRateLimit: { perSecond: i2cPerSecond + 1, burst: 1 } }]);
    cases.push(['i2cRateLimit.burst', { i2cRateLimit: { perSecond: 1, burst: i2cBurst } }, { i2cRateLimit: { perSecond: 1, burst: i2cBurst + 1 } }]);
    for (const [field, atMax, pastMax] of cases) {
      // The initial back-off may not exceed the longest one: raise both together.
      const with_ = (l: Record<string, unknown>) => sensor({ limits: field === 'backoffInitialMs' ? { backoffMaxMs: MODULE_LIMIT_MAXIMA.backoffMaxMs, ...l } : l });
      assert.doesNotThrow(() => parseConfig({ sensors: [with_(atMax)] }, ROOT), field);
      assert.match(refusal({ sensors: [with_(pastMax)] }), new RegExp(`^sensors\\[0\\]\\.limits\\.${field.replace('.', '\\.')} must be at most`), field);
    }
    assert.match(refusal({ sensors: [sensor({ limits: { workerHeapMb: 1e6 } })] }), /limits\.workerHeapMb must be at most 1024/);
  });

  it('docs/configuration.md gives every limit\'s default and maximum', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### `sensors[].limits`'));
    const rows = Object.fromEntries([...section.matchAll(/^\| `([A-Za-z0-9.]+)` \| (\d+) \| (\d+) \|/gm)].map((m) => [m[1], [Number(m[2]), Number(m[3])]]));
    const { i2cPerSecond, i2cBurst, ...plain } = MODULE_LIMIT_MAXIMA;
    const rate = DEFAULT_MODULE_LIMITS.i2cRateLimit as { perSecond: number; burst: number };
    const expected: Record<string, [number, number]> = {
      ...Object.fromEntries(Object.entries(plain).map(([k, max]) => [k, [DEFAULT_MODULE_LIMITS[k as keyof typeof plain], max]])),
      'i2cRateLimit.perSecond': [rate.perSecond, i2cPerSecond],
      'i2cRateLimit.burst': [rate.burst, i2cBurst],
    };
    assert.deepEqual(rows, expected);
  });

  it('a simulated ramp or sine lasts at most a year', () => {
    const sim = (simulation: unknown) => ({ sensors: [sensor({ simulation })] });
    assert.doesNotThrow(() => parseConfig(sim({ kind: 'sine', mean: 20, amplitude: 2, periodSeconds: MAX_PROFILE_SECONDS }), ROOT));
    assert.match(refusal(sim({ kind: 'sine', mean: 20, amplitude: 2, periodSeconds: MAX_PROFILE_SECONDS + 1 })), /^sensors\[0\]\.simulation\.periodSeconds: must be at most/);
    assert.match(refusal(sim({ kind: 'ramp', from: 20, to: 30, overSeconds: 1e12 })), /^sensors\[0\]\.simulation\.overSeconds: must be at most/);
    assert.match(refusal(sim({ kind: 'ramp', from: 20, to: 30, overSeconds: 0 })), /^sensors\[0\]\.simulation\.overSeconds: must be greater than 0/);
  });

  it('pacing: on unless set to false; anything but a boolean is refused', () => {
    assert.equal(parseConfig({ sensors: [sensor({})] }, ROOT).sensors[0]!.pacing, undefined);
    assert.equal(parseConfig({ sensors: [sensor({ pacing: false })] }, ROOT).sensors[0]!.pacing, false);
    assert.match(refusal({ sensors: [sensor({ pacing: 'off' })] }), /^sensors\[0\]\.pacing:/);
  });

  it('isolation: the service default unless "worker" or "in-thread" is named; anything else is refused', () => {
    assert.equal(parseConfig({ sensors: [sensor({})] }, ROOT).sensors[0]!.isolation, undefined);
    assert.equal(parseConfig({ sensors: [sensor({ isolation: 'in-thread' })] }, ROOT).sensors[0]!.isolation, 'in-thread');
    assert.match(refusal({ sensors: [sensor({ isolation: 'process' })] }), /^sensors\[0\]\.isolation:/);
  });
});

describe('configuration: access', () => {
  const withAccess = (access: unknown) => ({ sensors: [sensor()], access });
  const rule = (extra: Record<string, unknown> = {}) => ({ path: '/temp/alert', methods: ['PUT'], allow: ['loopback'], ...extra });

  it('without an `access` section: the default rules and 2 writes/s, burst 10', () => {
    const c = parseConfig({ sensors: [sensor()] }, ROOT);
    assert.deepEqual(c.access, DEFAULT_ACCESS);
    assert.equal(c.access.rules.length, DEFAULT_RULE_COUNT);
    assert.deepEqual(c.access.writesPerClient, { perSecond: 2, burst: 10 });
    assert.deepEqual(defaultConfig().access, DEFAULT_ACCESS);
    assert.equal(c.oscore, undefined);
  });

  it('reads the documented example: the operator\'s rules first, then the defaults', () => {
    const c = parseConfig(withAccess({
      rules: [{ path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app', 'loopback', '192.168.1.0/24'] }],
      writesPerClient: { perSecond: 2, burst: 10 },
    }), ROOT);
    assert.equal(c.access.rules.length, 1 + DEFAULT_RULE_COUNT);
    assert.deepEqual(c.access.rules[0], { path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app', 'loopback', '192.168.1.0/24'], origin: 'access.rules[0]' });
    assert.deepEqual(c.access.rules.slice(1), DEFAULT_ACCESS.rules);
    const doc = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    assert.match(doc, /## `access`/);
    assert.match(doc, /## `oscore`/);
    assert.match(doc, new RegExp(`at most ${MAX_ACCESS_RULES} rules`), 'docs/configuration.md gives the cap');
  });

  it('accepts every keyword, CIDR prefixes of both families, single addresses, every method and the path forms', () => {
    const c = parseConfig(withAccess({
      rules: [
        rule({ path: '*', methods: ['*'], allow: ['anyone'] }),
        rule({ path: '/gw/*', methods: ['GET', 'FETCH', 'POST', 'PUT', 'DELETE', 'PATCH', 'iPATCH'], allow: ['local', 'loopback', 'oscore', 'oscore:a.b-c_1', '10.0.0.0/8', 'fd00::/8', '::ffff:192.168.0.0/112', '192.168.1.20', '::1', '0.0.0.0/0', '::/0'] }),
        rule({ path: '/' }),
        rule({ path: '/temp/2' }),
      ],
    }), ROOT);
    assert.equal(c.access.rules.length, 4 + DEFAULT_RULE_COUNT);
    assert.deepEqual(parseConfig(withAccess({ writesPerClient: { perSecond: 0.5 } }), ROOT).access.writesPerClient, { perSecond: 0.5, burst: 10 }, 'a missing field keeps its default');
    assert.deepEqual(parseConfig(withAccess({}), ROOT).access, DEFAULT_ACCESS);
  });

  it('every refusal names its field', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['all', /^access: must be an object/],
      [{ rulez: [] }, /^access\.rulez: unknown field/],
      [{ rules: {} }, /^access\.rules: must be an array/],
      [{ rules: ['x'] }, /^access\.rules\[0\]: must be an object/],
      [{ rules: [rule({ who: 'me' })] }, /^access\.rules\[0\]\.who: unknown field/],
      [{ rules: [{ methods: ['PUT'], allow: ['anyone'] }] }, /^access\.rules\[0\]\.path: is required/],
      [{ rules: [rule(), { path: '/x', allow: ['anyone'] }] }, /^access\.rules\[1\]\.methods: is required/],
      [{ rules: [{ path: '/x', methods: ['PUT'] }] }, /^access\.rules\[0\]\.allow: is required/],
      [{ rules: [rule({ path: 'temp' })] }, /^access\.rules\[0\]\.path: must be a path/],
      [{ rules: [rule({ path: '/temp*' })] }, /^access\.rules\[0\]\.path:/],
      [{ rules: [rule({ path: '/temp/*/x' })] }, /^access\.rules\[0\]\.path:/],
      [{ rules: [rule({ path: '/temp//x' })] }, /^access\.rules\[0\]\.path:/],
      [{ rules: [rule({ path: 7 })] }, /^access\.rules\[0\]\.path:/],
      [{ rules: [rule({ methods: [] })] }, /^access\.rules\[0\]\.methods: must be a non-empty array/],
      [{ rules: [rule({ methods: 'PUT' })] }, /^access\.rules\[0\]\.methods: must be a non-empty array/],
      [{ rules: [rule({ methods: ['PUT', 'put'] })] }, /^access\.rules\[0\]\.methods\[1\]: unknown method "put"/],
      [{ rules: [rule({ methods: ['OBSERVE'] })] }, /^access\.rules\[0\]\.methods\[0\]: unknown method/],
      [{ rules: [rule({ methods: ['*', 'PUT'] })] }, /^access\.rules\[0\]\.methods: "\*" \(any method\) stands alone/],
      [{ rules: [rule({ allow: [] })] }, /^access\.rules\[0\]\.allow: must be a non-empty array/],
      [{ rules: [rule({ allow: 'anyone' })] }, /^access\.rules\[0\]\.allow: must be a non-empty array/],
      [{ rules: [rule({ allow: ['loopback', 'lokal'] })] }, /^access\.rules\[0\]\.allow\[1\]: unknown "lokal"/],
      [{ rules: [rule({ allow: ['Anyone'] })] }, /^access\.rules\[0\]\.allow\[0\]: unknown "Anyone"/],
      [{ rules: [rule({ allow: ['oscore:'] })] }, /^access\.rules\[0\]\.allow\[0\]: "oscore:" must be followed by a credentials name/],
      [{ rules: [rule({ allow: ['oscore:my app'] })] }, /^access\.rules\[0\]\.allow\[0\]:/],
      [{ rules: [rule({ allow: [''] })] }, /^access\.rules\[0\]\.allow\[0\]: must be a string/],
      [{ rules: [rule({ allow: [42] })] }, /^access\.rules\[0\]\.allow\[0\]: must be a string/],
      [{ rules: [rule({ allow: ['192.168.1.0/33'] })] }, /^access\.rules\[0\]\.allow\[0\]: "192\.168\.1\.0\/33" is not a CIDR prefix: the prefix length/],
      [{ rules: [rule({ allow: ['192.168.1.5/24'] })] }, /^access\.rules\[0\]\.allow\[0\]: .*host bits are set.*192\.168\.1\.0\/24/],
      [{ rules: [rule({ allow: ['192.168.1/24'] })] }, /^access\.rules\[0\]\.allow\[0\]: .*is not a CIDR prefix/],
      [{ rules: [rule({ allow: ['300.1.1.1'] })] }, /^access\.rules\[0\]\.allow\[0\]: .*is not a CIDR prefix/],
      [{ rules: [rule({ allow: ['fd00::/129'] })] }, /^access\.rules\[0\]\.allow\[0\]: .*prefix length must be 0\.\.128/],
      [{ rules: [rule({ allow: ['fe80::1%eth0'] })] }, /^access\.rules\[0\]\.allow\[0\]:/],
      [{ rules: [rule({ allow: ['1:2:3:4:5:6:7:8:9/64'] })] }, /^access\.rules\[0\]\.allow\[0\]: .*is not a CIDR prefix/],
      [{ writesPerClient: 2 }, /^access\.writesPerClient: must be an object/],
      [{ writesPerClient: { rate: 2 } }, /^access\.writesPerClient\.rate: unknown field/],
      [{ writesPerClient: { perSecond: 0 } }, /^access\.writesPerClient\.perSecond: must be a number greater than 0/],
      [{ writesPerClient: { perSecond: '2' } }, /^access\.writesPerClient\.perSecond:/],
      [{ writesPerClient: { perSecond: 1e6 } }, /^access\.writesPerClient\.perSecond: must be at most 1000/],
      [{ writesPerClient: { burst: 2.5 } }, /^access\.writesPerClient\.burst: must be an integer/],
      [{ writesPerClient: { burst: 0 } }, /^access\.writesPerClient\.burst: must be an integer/],
      [{ writesPerClient: { burst: 5000 } }, /^access\.writesPerClient\.burst: must be at most 1000/],
    ];
    for (const [access, expected] of cases) assert.match(refusal(withAccess(access)), expected, JSON.stringify(access));
  });

  it(`takes at most ${MAX_ACCESS_RULES} rules, refused before any is read`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => rule({ path: `/r/${i}` }));
    assert.equal(parseConfig(withAccess({ rules: many(MAX_ACCESS_RULES) }), ROOT).access.rules.length, MAX_ACCESS_RULES + DEFAULT_RULE_COUNT);
    assert.equal(refusal(withAccess({ rules: many(MAX_ACCESS_RULES + 1) })), `access.rules: must have at most ${MAX_ACCESS_RULES} rules, got ${MAX_ACCESS_RULES + 1}`);
    assert.match(refusal(withAccess({ rules: new Array(100_000).fill('junk') })), /^access\.rules: must have at most/);
  });
});

describe('configuration: oscore', () => {
  const withOscore = (oscore: unknown) => parseConfig({ sensors: [sensor()], oscore }, '/etc/coap-gw');
  const oscoreRefusal = (oscore: unknown): string => {
    try {
      withOscore(oscore);
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
      return err.details.detail ?? '';
    }
    throw new Error('accepted');
  };

  it('resolves paths against the configuration file\'s directory; sequenceReserve as given', () => {
    assert.deepEqual(withOscore({ credentials: 'oscore-clients.json', stateDir: 'oscore-state', sequenceReserve: 1024 }).oscore, { credentials: '/etc/coap-gw/oscore-clients.json', stateDir: '/etc/coap-gw/oscore-state', sequenceReserve: 1024 });
    assert.deepEqual(withOscore({ credentials: '/srv/keys/c.json', stateDir: '/var/lib/x' }).oscore, { credentials: '/srv/keys/c.json', stateDir: '/var/lib/x' });
  });

  it('stateDir is required: never guessed from how the gateway was started', () => {
    assert.match(oscoreRefusal({ credentials: 'keys/c.json' }), /^oscore\.stateDir: is required/);
  });

  it('every refusal names its field', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['keys.json', /^oscore: must be an object/],
      [{}, /^oscore\.credentials: is required/],
      [{ stateDir: 's' }, /^oscore\.credentials: is required/],
      [{ credentials: '', stateDir: 's' }, /^oscore\.credentials: must be the path/],
      [{ credentials: 5, stateDir: 's' }, /^oscore\.credentials: must be the path/],
      [{ credentials: 'c.json', stateDir: '' }, /^oscore\.stateDir: must be the path/],
      [{ credentials: 'c.json', stateDir: 's', sequenceReserve: 15 }, /^oscore\.sequenceReserve: must be an integer 16\.\.1000000/],
      [{ credentials: 'c.json', stateDir: 's', sequenceReserve: 1_000_001 }, /^oscore\.sequenceReserve:/],
      [{ credentials: 'c.json', stateDir: 's', sequenceReserve: 100.5 }, /^oscore\.sequenceReserve:/],
      [{ credentials: 'c.json', stateDir: 's', sequenceReserve: '1024' }, /^oscore\.sequenceReserve:/],
      [{ credentials: 'c.json', stateDir: 's', keys: [] }, /^oscore\.keys: unknown field/],
    ];
    for (const [oscore, expected] of cases) assert.match(oscoreRefusal(oscore), expected, JSON.stringify(oscore));
    assert.equal(withOscore({ credentials: 'c.json', stateDir: 's', sequenceReserve: 16 }).oscore!.sequenceReserve, 16);
    assert.equal(withOscore({ credentials: 'c.json', stateDir: 's', sequenceReserve: 1_000_000 }).oscore!.sequenceReserve, 1_000_000);
  });
});
