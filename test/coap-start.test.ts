/** `npm start` as a process: start-up message, a real GET, clean stop on SIGTERM, refusal of a bad config. */
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getTemp, spawnGatewayProcess } from './helpers/gateway-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** As package.json's start script runs it: the launcher runs the bundle npm run build made. */
const START = [path.join(ROOT, 'gateway/cli/launch.mjs'), 'start'];

function run(args: string[]) {
  return spawnGatewayProcess([process.execPath, ...START, ...args], { cwd: ROOT });
}

describe('npm start (gateway/cli/launch.mjs start)', () => {
  it('says where it listens and what hardware it uses, serves GET /temp, stops on SIGTERM', async () => {
    const p = run(['--host', '127.0.0.1', '--port', '0', '--sim-temp', '-7.5']);
    try {
      await p.waitFor(/listening on udp[^]*simulated TMP102/, 15_000);
      const m = /coap-sensor-gateway listening on udp 127\.0\.0\.1:(\d+) \(IPv4\)/.exec(p.out());
      assert.ok(m, `start-up line missing: ${p.out()} ${p.err()}`);
      assert.match(p.out(), /simulated TMP102 at 0x48/);
      const res = await getTemp(Number(m[1]));
      assert.equal(res?.code, '2.05');
      assert.equal((res.cbor as { value: number }).value, -7.5);
    } finally {
      p.child.kill('SIGTERM');
    }
    assert.equal(await p.exited, 0);
    // Bundled, main thread and workers: no fallback to tsx (each would cost a loader thread).
    assert.doesNotMatch(p.out() + p.err(), /could not bundle|not bundled/);
  });

  it('a worker restarted from its bundle keeps answering: SIGHUP reloads the module in a fresh worker', async () => {
    const p = run(['--host', '127.0.0.1', '--port', '0', '--driver', 'simulated']);
    try {
      await p.waitFor(/listening on udp[^]*:(\d+) \(IPv4\)/, 15_000);
      const port = p.port();
      p.child.kill('SIGHUP');
      await p.waitFor(/module reloaded/, 10_000);
      assert.match(p.out() + p.err(), /module reloaded/);
      const res = await getTemp(port);
      assert.equal(res?.code, '2.05');
    } finally {
      p.child.kill('SIGTERM');
    }
    assert.equal(await p.exited, 0);
  });

  it('refuses an invalid configuration file naming the field, exit 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-config-'));
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ sensors: [{ name: 'a', path: 'temp' }] }));
    const p = run(['--config', file, '--port', '0']);
    assert.equal(await p.exited, 2);
    assert.match(p.err(), /GW_ERR_CONFIG_INVALID.*sensors\[0\]\.path/);
  });

  it('announces a simulated sensor in its start-up banner', async () => {
    const p = run(['--host', '127.0.0.1', '--port', '0', '--driver', 'simulated']);
    try {
      const deadline = Date.now() + 15000;
      while (!/SIMULATED/.test(p.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(p.out(), /^ {2}SIMULATED: tmp102 is not measured/m);
    } finally {
      p.child.kill('SIGTERM');
    }
    assert.equal(await p.exited, 0);
  });
});

describe('npm start: errors a person can act on', () => {
  const lines = (text: string) => text.trim().split('\n');

  it('a host that is not this machine: one coded line with a hint, exit 1', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine. Nothing is sent.
    const p = run(['--host', '192.0.2.1', '--port', '0']);
    assert.equal(await p.exited, 1);
    assert.deepEqual(lines(p.err()).length, 1, p.err());
    assert.match(p.err(), /^error GW_ERR_LISTEN_ADDRESS_UNAVAILABLE: .*192\.0\.2\.1.*ip -brief address/);
  });

  it('a host name that does not resolve: GW_ERR_LISTEN_HOST_UNKNOWN, exit 1', async () => {
    // .invalid never resolves (RFC 6761 section 6.4).
    const p = run(['--host', 'gateway.invalid', '--port', '0']);
    assert.equal(await p.exited, 1);
    assert.match(p.err(), /^error GW_ERR_LISTEN_HOST_UNKNOWN: .*gateway\.invalid/);
    assert.equal(lines(p.err()).length, 1, p.err());
  });

  it('a port in use is found before any module loads', async () => {
    const { createSocket } = await import('node:dgram');
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    const port = taken.address().port;
    // A module that does not exist: loaded first, it would be GW_ERR_MODULE_NOT_FOUND.
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-port-'));
    const file = path.join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify({ driver: 'simulated', sensors: [{ name: 'tmp102', path: '/temp', module: path.join(dir, 'missing.wasm'), bus: 1, address: 0x48 }] }));
    try {
      const p = run(['--config', file, '--host', '127.0.0.1', '--port', String(port)]);
      assert.equal(await p.exited, 1);
      assert.match(p.err(), /^error GW_ERR_LISTEN_IN_USE: .*127\.0\.0\.1:\d+.*ss -ulpn/);
      assert.doesNotMatch(p.err(), /GW_ERR_MODULE_NOT_FOUND/);
    } finally {
      taken.close();
    }
  });

  it('out-of-range flags are usage errors (exit 2)', async () => {
    for (const args of [['--sim-temp', '200'], ['--sim-temp', '-60'], ['--port', '70000']]) {
      const p = run([...args, '--host', '127.0.0.1']);
      assert.equal(await p.exited, 2, args.join(' '));
      assert.match(p.err(), /^--(sim-temp|port) must be/);
    }
  });
});
