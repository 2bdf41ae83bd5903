/** The configuration file: every refusal names its field (GW_ERR_CONFIG_INVALID). */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../gateway/errors.ts';
import { DEFAULT_MODULE_LIMITS } from '../gateway/host/worker/module-limits.ts';
import { loadConfigFile, parseConfig } from '../gateway/service/config.ts';

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
