/**
 * `npm run doctor` as a whole: the CLI's exit status, output and --json shape, the order of the
 * checks and how a failure skips what depends on it. The separate cases of each check are in
 * test/doctor-*.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CHECK_IDS } from '../gateway/service/doctor/check.ts';
import { runDoctor } from '../gateway/service/doctor/run-doctor.ts';
import { fakeRoot, target, testEnvironment } from './helpers/doctor-fakes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

async function doctor(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'gateway/cli/doctor.ts', ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run doctor (CLI)', () => {
  it('on the simulated chip every check passes or does not apply: exit 0', async (t) => {
    const { code, stdout } = await doctor('--driver', 'simulated', '--port', '0');
    t.diagnostic(`output:\n${stdout}`);
    assert.equal(code, 0);
    const { code: jsonCode, stdout: json } = await doctor('--driver', 'simulated', '--port', '0', '--json');
    assert.equal(jsonCode, 0);
    const report = JSON.parse(json);
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c: { id: string }) => c.id), [...CHECK_IDS]);
    const status = Object.fromEntries(report.checks.map((c: { id: string; status: string }) => [c.id, c.status]));
    assert.deepEqual(status, {
      'node-version': 'ok',
      'i2c-enabled': 'skip',
      'i2c-permission': 'skip',
      'i2c-scan': 'ok',
      'sensor-identity': 'ok',
      'sensor-reading': 'ok',
      'alert-gpio': 'skip',
      'udp-port': 'ok',
      oscore: 'skip',
    });
    const scan = report.checks.find((c: { id: string }) => c.id === 'i2c-scan');
    assert.deepEqual(scan.data.found, ['0x48']);
    const reading = report.checks.find((c: { id: string }) => c.id === 'sensor-reading');
    assert.equal(reading.data.value, 21.5);
    assert.equal(reading.data.simulated, true);
  });

  it('--sim-temp implies the simulated driver and sets the reading', async () => {
    const { code, stdout } = await doctor('--sim-temp', '-12.25', '--port', '0', '--json');
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.target.driver, 'simulated');
    assert.equal(report.checks.find((c: { id: string }) => c.id === 'sensor-reading').data.value, -12.25);
  });

  it('--json: one document with ok, target and a result per check, each with id, name, status and detail', async () => {
    const { code, stdout } = await doctor('--driver', 'simulated', '--address', '0x49', '--port', '0', '--json');
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.deepEqual(Object.keys(report).sort(), ['checks', 'ok', 'target']);
    assert.deepEqual(report.target, { sensor: 'tmp102', bus: 1, address: '0x49', driver: 'simulated', module: report.target.module, host: '::', port: 0 });
    for (const c of report.checks) {
      assert.ok(CHECK_IDS.includes(c.id));
      assert.equal(typeof c.name, 'string');
      assert.ok(['ok', 'warn', 'skip', 'fail'].includes(c.status));
      assert.equal(typeof c.detail, 'string');
    }
  });

  it('exit 1 when a check fails: the port is taken', async () => {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    after(() => socket.close());
    const port = socket.address().port;
    const { code, stdout } = await doctor('--driver', 'simulated', '--host', '127.0.0.1', '--port', String(port), '--json');
    assert.equal(code, 1);
    const report = JSON.parse(stdout);
    assert.equal(report.ok, false);
    const udp = report.checks.find((c: { id: string }) => c.id === 'udp-port');
    assert.equal(udp.status, 'fail');
    assert.equal(udp.code, 'GW_ERR_LISTEN_IN_USE');
    assert.equal(udp.errno, 'EADDRINUSE');
    assert.equal(udp.reason, 'in-use');
    assert.ok(udp.fix);
    const text = await doctor('--driver', 'simulated', '--host', '127.0.0.1', '--port', String(port));
    assert.equal(text.code, 1);
    assert.match(text.stdout, /FAIL +UDP port/);
    assert.match(text.stdout, new RegExp(`fix: .*ss -ulpn 'sport = :${port}'`));
  });

  it('usage errors exit 2', async () => {
    for (const args of [
      ['--driver', 'auto'],
      ['--port', '70000'],
      ['--bus', '-1'],
      ['--address', '0x80'],
      ['--address', '0x50'],
      ['--sim-temp', '200'],
      ['--config', 'fixtures/gateway.example.json', '--bus', '1'],
      ['--config', 'fixtures/gateway.example.json', '--sensor', 'nosuch'],
      ['--frobnicate'],
      ['extra'],
    ]) {
      const { code, stderr } = await doctor(...args);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /usage: npm run doctor/);
    }
  });

  it('--help exits 0 and names every check', async () => {
    const { code, stdout } = await doctor('--help');
    assert.equal(code, 0);
    for (const id of CHECK_IDS) assert.ok(stdout.includes(id), id);
  });

  it('--config: checks the named sensor of the file', async () => {
    const { code, stdout } = await doctor('--config', 'fixtures/gateway.example.json', '--sensor', 'outside', '--driver', 'simulated', '--port', '0', '--json');
    const report = JSON.parse(stdout);
    assert.equal(code, 0, stdout);
    assert.equal(report.target.sensor, 'outside');
    assert.equal(report.target.address, '0x49');
    assert.deepEqual(report.checks.find((c: { id: string }) => c.id === 'i2c-scan').data.found, ['0x49']);
  });
});

describe('runDoctor: order and prerequisites', () => {
  it('runs the checks in the documented order', async () => {
    const fake = fakeRoot();
    after(fake.remove);
    const report = await runDoctor(target({ driver: 'simulated' }), testEnvironment(fake.root));
    assert.deepEqual(report.checks.map((c) => c.id), [...CHECK_IDS]);
    assert.equal(report.ok, true);
  });

  it('no adapter: the I2C checks after it are skipped naming it; the GPIO and port checks still run', async () => {
    const fake = fakeRoot();
    after(fake.remove);
    const report = await runDoctor(target(), testEnvironment(fake.root));
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    assert.equal(report.ok, false);
    assert.equal(byId['i2c-enabled']!.status, 'fail');
    assert.equal(byId['i2c-enabled']!.code, 'GW_ERR_I2C_NO_ADAPTER');
    for (const id of ['i2c-permission', 'i2c-scan', 'sensor-identity', 'sensor-reading'] as const) {
      assert.equal(byId[id]!.status, 'skip', id);
      assert.equal(byId[id]!.reason, 'blocked', id);
      assert.equal(byId[id]!.data?.['blockedBy'], 'i2c-enabled', id);
    }
    assert.equal(byId['alert-gpio']!.reason, 'not-configured');
    assert.equal(byId['udp-port']!.status, 'ok');
  });

  it('an old Node: the module checks are skipped (a Go module under Node 18 fails for that reason), the rest runs', async () => {
    const fake = fakeRoot();
    after(fake.remove);
    const report = await runDoctor(target({ driver: 'simulated' }), testEnvironment(fake.root, { nodeVersion: '18.20.4' }));
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    assert.equal(byId['node-version']!.status, 'fail');
    assert.equal(byId['node-version']!.code, 'GW_ERR_NODE_VERSION');
    assert.equal(byId['node-version']!.reason, 'too-old');
    assert.deepEqual(byId['node-version']!.data, { found: '18.20.4', needed: '>=20' });
    assert.ok(byId['node-version']!.fix);
    assert.equal(byId['i2c-scan']!.status, 'ok');
    assert.equal(byId['sensor-identity']!.data?.['blockedBy'], 'node-version');
    assert.equal(byId['sensor-reading']!.data?.['blockedBy'], 'node-version');
  });

  it('a check that throws fails with reason "unexpected"; what needs it is skipped, the rest runs', async () => {
    const fake = fakeRoot();
    after(fake.remove);
    const board = () => {
      throw new TypeError('boom');
    };
    const report = await runDoctor(target(), testEnvironment(fake.root, { board }));
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    assert.equal(byId['i2c-enabled']!.status, 'fail');
    assert.equal(byId['i2c-enabled']!.reason, 'unexpected');
    assert.equal(byId['i2c-scan']!.data?.['blockedBy'], 'i2c-enabled');
    assert.equal(byId['udp-port']!.status, 'ok');
  });
});
