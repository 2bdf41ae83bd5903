/** The configuration file: every refusal names its field (GW_ERR_CONFIG_INVALID). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../gateway/errors.ts';
import { DEFAULT_MODULE_LIMITS, MODULE_LIMIT_MAXIMA } from '../gateway/host/worker/module-limits.ts';
import { MAX_PROFILE_SECONDS, MAX_SENSORS, loadConfigFile, parseConfig } from '../gateway/service/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function refusal(json: unknown): string {
  try {
    parseConfig(json, ROOT);
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
    return err.details.detail ?? '';
  }
  throw new Error('accepted');
}

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
