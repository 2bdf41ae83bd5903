/** `npm start` as a process: start-up message, a real GET, clean stop on SIGTERM, refusal of a bad config. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** As package.json's start script runs it: bundled by the launcher, no loader thread. */
const START = [path.join(ROOT, 'gateway/cli/launch.mjs'), path.join(ROOT, 'gateway/cli/start.ts')];

function run(args: string[]) {
  const child = spawn(process.execPath, [...START, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('npm start (gateway/cli/launch.mjs gateway/cli/start.ts)', () => {
  it('says where it listens and what hardware it uses, serves GET /temp, stops on SIGTERM', async () => {
    const p = run(['--host', '127.0.0.1', '--port', '0', '--sim-temp', '-7.5']);
    try {
      const deadline = Date.now() + 15000;
      while (!/listening on udp[^]*simulated TMP102/.test(p.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const m = /coap-sensor-gateway listening on udp 127\.0\.0\.1:(\d+) \(IPv4\)/.exec(p.out());
      assert.ok(m, `start-up line missing: ${p.out()} ${p.err()}`);
      assert.match(p.out(), /simulated TMP102 at 0x48/);
      await new Promise((r) => setTimeout(r, 60)); // first conversion, in real time
      const client = await RawClient.open('127.0.0.1', Number(m[1]));
      try {
        const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }), 2000);
        assert.equal(res?.code, '2.05');
        assert.equal((res.cbor as { value: number }).value, -7.5);
      } finally {
        await client.close();
      }
    } finally {
      p.child.kill('SIGTERM');
    }
    assert.equal(await p.exited, 0);
    // Bundled, main thread and workers: no fallback to tsx (each would cost a loader thread).
    assert.doesNotMatch(p.out() + p.err(), /could not bundle|not bundled/);
  });

  it('a worker restarted from its bundle keeps answering: SIGHUP reloads the module in a fresh worker', async () => {
    const p = run(['--host', '127.0.0.1', '--port', '0']);
    try {
      const deadline = Date.now() + 15000;
      while (!/listening on udp[^]*:(\d+) \(IPv4\)/.test(p.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const port = Number(/listening on udp 127\.0\.0\.1:(\d+)/.exec(p.out())![1]);
      p.child.kill('SIGHUP');
      const reloaded = Date.now() + 10000;
      while (!/module reloaded/.test(p.out() + p.err()) && Date.now() < reloaded) await new Promise((r) => setTimeout(r, 50));
      assert.match(p.out() + p.err(), /module reloaded/);
      const client = await RawClient.open('127.0.0.1', port);
      try {
        const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }), 2000);
        assert.equal(res?.code, '2.05');
      } finally {
        await client.close();
      }
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
});
