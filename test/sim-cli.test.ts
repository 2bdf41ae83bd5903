/**
 * `npm run sim` as a person runs it: the launcher's bundle in its own process, against a real
 * gateway process on the simulated TMP102 (issue 16: "`npm run sim -- set 40` on a running
 * gateway changes what GET /temp answers within one conversion period"). Usage errors exit 2
 * without a gateway; the gateway's refusals exit 1 with its code on stderr.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { type GatewayProcess, getTemp, spawnGatewayProcess } from './helpers/gateway-process.ts';
import { runProcess } from './helpers/peers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAUNCH = path.join(ROOT, 'gateway/cli/launch.mjs');

/** `npm run sim -- <args>` without npm's own output: the same launcher and bundle. */
async function sim(...args: string[]) {
  const r = await runProcess(process.execPath, [LAUNCH, 'sim', ...args], { cwd: ROOT, timeoutMs: 30_000 });
  assert.equal(r.timedOut, false, `sim ${args.join(' ')} was killed after 30 s`);
  return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

describe('npm run sim: usage errors exit 2 before anything is sent', () => {
  it('a missing or unknown command, a bad temperature, fault kind or duration, contradicting options', async () => {
    for (const args of [[], ['heat'], ['set'], ['set', 'warm'], ['set', '40', '41'], ['fault', 'melted'], ['fault', 'nack', 'forever'], ['jump'], ['pause', '--sensor', 'tmp102'], ['status', '--port', '5683', '--gateway', 'coap://127.0.0.1'], ['set', '40', '--gateway', 'coap://127.0.0.1/temp'], ['clear', '--colour']]) {
      const r = await sim(...args);
      assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: npm run sim/);
    }
  });

  it('-h prints the usage on stdout and exits 0', async () => {
    const r = await sim('-h');
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /set <°C>/);
  });
});

describe('npm run sim against a running gateway', () => {
  let gw: GatewayProcess;
  let port: number;
  before(async () => {
    gw = spawnGatewayProcess([process.execPath, LAUNCH, 'start', '--host', '127.0.0.1', '--port', '0', '--driver', 'simulated', '--sim-temp', '21.5'], { cwd: ROOT });
    await gw.waitFor(/listening on udp 127\.0\.0\.1:\d+/, 15_000);
    port = gw.port();
    assert.equal((await getTemp(port))?.code, '2.05');
    const client = await RawClient.open('127.0.0.1', port);
    try {
      // npm start serves live control on every simulated gateway (gateway/cli/start.ts).
      assert.equal((await client.exchange(requestDatagram({ options: pathOptions('/gw/sim') }), 2000))?.code, '2.05', 'GET /gw/sim');
    } finally {
      await client.close();
    }
  });
  after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  it('set 40: exit 0, one line saying what changed, and GET /temp answers 40', async () => {
    const r = await sim('set', '40', '--port', String(port));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'tmp102: temperature held at 40 °C');
    // Within a conversion period of the simulated TMP102 (the module's 250 ms); polled, not
    // timed: a loaded machine may take longer, and what is checked is the value.
    const seen: unknown[] = [];
    for (let i = 0; i < 20 && seen.at(-1) !== 40; i++) {
      const res = await getTemp(port);
      seen.push(res?.code === '2.05' ? (res.cbor as { value: number }).value : res?.code);
    }
    assert.equal(seen.at(-1), 40, `GET /temp answered ${JSON.stringify(seen)}`);
  });

  it('set -12.5 (a negative number is a value, not an option), then status lists the changes', async () => {
    const set = await sim('--gateway', `coap://127.0.0.1:${port}`, 'set', '-12.5');
    assert.equal(set.exitCode, 0, set.stderr);
    const status = await sim('status', '--json', '--port', String(port));
    assert.equal(status.exitCode, 0, status.stderr);
    const state = JSON.parse(status.stdout) as { sensors: Record<string, { temperatureOverride: number }>; changes: Array<{ what: string }> };
    assert.equal(state.sensors['tmp102']!.temperatureOverride, -12.5);
    assert.ok(state.changes.some((c) => c.what === 'temperature held at -12.5 °C'));
    const text = await sim('status', '--port', String(port));
    assert.match(text.stdout, /tmp102: -12\.5 °C held \(live\)/);
  });

  it("the gateway's refusals: exit 1 with its code on stderr", async () => {
    const hot = await sim('set', '200', '--port', String(port));
    assert.equal(hot.exitCode, 1);
    assert.match(hot.stderr, /4\.00 Bad Request GW_ERR_SIM_COMMAND_INVALID/);
    const attic = await sim('clear', '--sensor', 'attic', '--port', String(port));
    assert.equal(attic.exitCode, 1);
    assert.match(attic.stderr, /4\.04 Not Found GW_ERR_SIM_UNKNOWN_SENSOR/);
  });
});
