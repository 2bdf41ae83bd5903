/**
 * Observe interop with independent implementations, in real time (SystemClock) while the
 * simulated TMP102 ramps quickly, so every conversion (4 Hz) is a new value:
 *
 * - libcoap 4.3.1: `coap-client-notls -s <secs>` observes for that long, writes each
 *   notification's payload to stdout (JSON here, Accept 50, one object after another without a
 *   separator) and deregisters when the time is up.
 * - aiocoap 0.4.17: `aiocoap-client --observe` registers, and its message layer ACKs every
 *   confirmable notification, but the command-line tool prints only the registration response:
 *   it cancels its own observation right after the first response (aiocoap issue #395,
 *   chrysn/aiocoap, open). The notifications are therefore checked with the aiocoap library
 *   itself (`async for n in request.observation`), a ten-line script run by the Python that
 *   runs aiocoap-client.
 *
 * Both need a hard timeout: aiocoap-client has no duration option and is stopped with SIGINT
 * (Python flushes and exits), then SIGKILL if it lingers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SystemClock } from '../drivers/clock.ts';
import { rampProfile } from '../drivers/sim/temperature-profile.ts';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { AIOCOAP_CLIENT, AIOCOAP_HINT, LIBCOAP_CLIENT, LIBCOAP_HINT, findExecutable, interopRequired, peerOrSkip, runProcess } from './helpers/peers.ts';

/** The values in concatenated JSON readings ({"sensor":...,"value":21.5,...}{...}). */
function values(text: string): number[] {
  return [...text.matchAll(/"value":(-?[0-9.]+)/g)].map((m) => Number(m[1]));
}

function increasing(v: number[]): boolean {
  return v.every((x, i) => i === 0 || x > v[i - 1]!);
}

/** Runs a program for `ms`, then SIGINT (SIGKILL 2 s later); output as text. */
function runFor(file: string, args: string[], ms: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const stop = setTimeout(() => child.kill('SIGINT'), ms);
    const kill = setTimeout(() => child.kill('SIGKILL'), ms + 2000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(stop);
      clearTimeout(kill);
      resolve({ stdout, stderr, code });
    });
  });
}

/** The interpreter behind aiocoap-client (its shebang), or python3. */
function aiocoapPython(clientPath: string): string {
  const first = readFileSync(clientPath, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\s*(\S+python[0-9.]*)\s*$/.exec(first);
  return m?.[1] ?? findExecutable('python3') ?? 'python3';
}

const AIOCOAP_OBSERVE_SCRIPT = `
import asyncio, sys, aiocoap
async def main():
    ctx = await aiocoap.Context.create_client_context()
    req = aiocoap.Message(code=aiocoap.GET, uri=sys.argv[1], observe=0, accept=50)
    r = ctx.request(req)
    first = await r.response
    print("R", first.opt.observe, first.payload.decode(), flush=True)
    async for n in r.observation:
        print("N", n.opt.observe, n.opt.max_age, n.payload.decode(), flush=True)
try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
`;

describe('Observe interop (real time, fast ramp)', () => {
  let gw: TestGateway;
  let url: string;
  before(async () => {
    gw = await startTestGateway({ clock: new SystemClock(), simCelsius: 20 });
    url = `coap://127.0.0.1:${gw.port}/temp`;
  });
  after(() => gw?.close());

  it(`libcoap ${LIBCOAP_CLIENT} -s 2 receives notifications as the temperature ramps, then deregisters`, async (t) => {
    const bin = peerOrSkip(t, LIBCOAP_CLIENT, LIBCOAP_HINT);
    if (!bin) return;
    await startRamp(gw);
    const res = await runProcess(bin, ['-s', '2', '-B', '4', '-A', '50', url], { timeoutMs: 10_000 });
    assert.equal(res.timedOut, false);
    const v = values(res.stdout.toString('utf8'));
    assert.ok(v.length >= 5, `the registration response and notifications: ${v.join(' ')}`);
    assert.ok(increasing(v), `each a newer value: ${v.join(' ')}`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(gw.server.observers(), 0, 'libcoap ended its observation');
  });

  it(`${AIOCOAP_CLIENT} --observe registers and acknowledges the notifications`, async (t) => {
    const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
    if (!bin) return;
    await startRamp(gw);
    const before = gw.server.observers();
    const sent0 = await notificationsSent(gw);
    const res = await runFor(bin, ['--no-color', '--no-pretty-print', '-v', '--observe', '--accept', '50', url], 1800);
    assert.match(res.stderr, /^INFO:coap\.aiocoap-client:- Observe \(6\): \d+$/m, 'the response carried Observe');
    assert.equal(values(res.stdout).length, 1, 'aiocoap-client 0.4.17 prints the registration response only (aiocoap issue #395)');
    const sent = (await notificationsSent(gw)) - sent0;
    assert.ok(sent >= 3, `notifications were sent while it ran (${sent})`);
    // Every CON notification was ACKed: nothing timed out, the observation is still there
    // (aiocoap does not deregister on SIGINT; the next notification after it exits gets a RST).
    assert.equal(gw.server.observers(), before + 1);
  });

  it('the aiocoap library receives the notifications (async for over request.observation)', async (t) => {
    const client = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
    if (!client) return;
    const python = aiocoapPython(client);
    const probe = await runProcess(python, ['-c', 'import aiocoap'], { timeoutMs: 10_000 });
    if (probe.exitCode !== 0) {
      if (interopRequired()) throw new Error(`${python} cannot import aiocoap`);
      t.skip(`${python} cannot import aiocoap`);
      return;
    }
    await startRamp(gw);
    const res = await runFor(python, ['-c', AIOCOAP_OBSERVE_SCRIPT, url], 1800);
    const lines = res.stdout.split('\n').filter((l) => /^[RN] /.test(l));
    assert.ok(lines[0]?.startsWith('R '), res.stdout + res.stderr);
    const notes = lines.filter((l) => l.startsWith('N '));
    assert.ok(notes.length >= 4, `notifications: ${lines.join(' | ')} ${res.stderr.slice(0, 500)}`);
    const seqs = lines.map((l) => Number(l.split(' ')[1]));
    assert.ok(increasing(seqs), `Observe sequence numbers increase: ${seqs.join(' ')}`);
    assert.ok(notes.every((l) => l.split(' ')[2] === '1'), 'Max-Age 1 on each notification');
    assert.ok(increasing(values(lines.join(''))), 'each a newer value');
  });
});

/** A fresh ramp; waits one conversion period so no reading from before it is still served. */
async function startRamp(gw: TestGateway): Promise<void> {
  gw.sim.setProfile(rampProfile({ from: 20, to: 30, overMs: 2500 }));
  await new Promise((r) => setTimeout(r, 300));
}

/** Notifications the gateway has sent so far, from GET /gw/stats. */
async function notificationsSent(gw: TestGateway): Promise<number> {
  const client = await RawClient.open('127.0.0.1', gw.port);
  try {
    const res = await client.exchange(requestDatagram({ options: pathOptions('/gw/stats') }));
    const counts = (res?.cbor as { notifications: Record<string, number> }).notifications;
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await client.close();
  }
}
