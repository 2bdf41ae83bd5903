/**
 * Stopping the CoAP front with requests in flight: GatewayServer.close() in-process, and the
 * gateway process on SIGTERM and SIGINT. A response that completes after the socket closed is
 * dropped, never sent and never thrown (Node's dgram throws ERR_SOCKET_DGRAM_NOT_RUNNING from
 * send() on a closed socket); the process exits 0 (gateway/cli/start.ts) within a few seconds
 * even while a module spins in its worker.
 *
 * RFC 7252 section 4.2 lets a server that stops simply not answer: an unanswered CON is the
 * client's to retransmit elsewhere, so dropping is correct and a crash is not.
 *
 * The looping sensor is the Go-built test module test/loop (wasm-src/testmodules/loop): every
 * gw_read spins until the host's deadline stops its worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SystemClock } from '../drivers/clock.ts';
import { resolveModuleLimits } from '../gateway/host/worker/module-limits.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { TEST_MODULES_SKIP, wasmPath } from './helpers/chain.ts';
import { RawClient, observeRequest, pathOptions, requestDatagram, toResponse } from './helpers/coap-datagram.ts';
import { type GatewayProcess, spawnGatewayProcess } from './helpers/gateway-process.ts';
import { startTestGateway } from './helpers/gateway.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START = [path.join(ROOT, 'gateway/cli/launch.mjs'), 'start'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or `fallback` after `ms` (the timer does not outlive the race). */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function get(p: string, more: Parameters<typeof requestDatagram>[0] = {}): Buffer {
  return requestDatagram({ ...more, options: pathOptions(p) });
}

function summary(raw: Buffer): string {
  try {
    const r = toResponse(raw);
    return `${r.packet.reset ? 'RST' : r.packet.ack ? 'ACK' : r.packet.confirmable ? 'CON' : 'NON'} ${r.code} ${JSON.stringify(r.cbor ?? r.packet.payload.toString())}`;
  } catch {
    return raw.toString('hex');
  }
}

/** Records uncaught exceptions and unhandled rejections while a test runs. */
function watchProcessErrors(): { errors: string[]; stop(): void } {
  const errors: string[] = [];
  const describe = (e: unknown) => (e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? e.name}: ${e.message}` : String(e));
  const onException = (e: unknown) => errors.push(`uncaughtException ${describe(e)}`);
  const onRejection = (e: unknown) => errors.push(`unhandledRejection ${describe(e)}`);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return {
    errors,
    stop() {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    },
  };
}

describe('GatewayServer.close() with requests in flight', { skip: TEST_MODULES_SKIP }, () => {
  it('1. resolves, sends nothing afterwards, and throws nothing anywhere', async () => {
    const watch = watchProcessErrors();
    const config = defaultConfig({ driver: 'simulated', simCelsius: 21.5 });
    const base = config.sensors[0]!;
    config.sensors.push({
      ...base,
      name: 'loop',
      path: '/loop',
      module: wasmPath('test/loop'),
      address: 0x50,
      grant: { bus: 1, addresses: [0x50] },
      settings: {},
      // The read in flight ends (5.03 GW_ERR_SENSOR_TIMEOUT) 300 ms after it started: after close().
      limits: resolveModuleLimits({ deadlineMs: 300, quarantineAfterFaults: 100 }),
      simulation: { kind: 'constant', celsius: 30 },
    });
    // As npm start runs it: the SystemClock, modules in worker threads.
    const gw = await startTestGateway({ clock: new SystemClock(), config });
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      assert.equal((await client.exchange(get('/temp'), 2000))?.code, '2.05');
      // In flight: a CON and a NON GET and an Observe registration of the looping sensor.
      client.send(get('/loop'));
      client.send(get('/loop', { confirmable: false }));
      client.send(observeRequest('/loop', { token: Buffer.from('ob') }));
      await sleep(100);
      const before = client.takeAll();
      assert.deepEqual(before.map(summary), [], 'nothing answered yet: the module is still spinning');
      const outcome = await within(gw.server.close().then(() => 'closed'), 3000, 'still closing after 3 s');
      assert.equal(outcome, 'closed');
      // Past the module's deadline (300 ms) and node-coap's separate-response timer (500 ms).
      await sleep(800);
      assert.deepEqual(client.takeAll().map(summary), [], 'sent after close()');
    } finally {
      await client.close();
      await gw.close();
      // Errors thrown from timers that fire after close() need a moment to surface.
      await sleep(50);
      watch.stop();
    }
    assert.deepEqual(watch.errors, []);
  });
});

describe('the gateway process stops cleanly with requests in flight', { skip: TEST_MODULES_SKIP }, () => {
  let configFile: string | undefined;
  /** /temp (the shipped TMP102 module) and /loop (test/loop, default 2 s deadline: still spinning at the signal). */
  function config(): string {
    if (configFile) return configFile;
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-shutdown-'));
    configFile = path.join(dir, 'gateway.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        driver: 'simulated',
        sensors: [
          { name: 'tmp102', path: '/temp' },
          { name: 'loop', path: '/loop', module: wasmPath('test/loop'), address: '0x50', simulation: { kind: 'constant', celsius: 30 } },
        ],
      }),
    );
    return configFile;
  }

  async function start(): Promise<{ p: GatewayProcess; port: number }> {
    const p = spawnGatewayProcess([process.execPath, ...START, '--config', config(), '--host', '127.0.0.1', '--port', '0'], { cwd: ROOT });
    await p.waitFor(/listening on udp 127\.0\.0\.1:\d+/, 20_000);
    return { p, port: p.port() };
  }

  /** The exit status, or 'timeout' (the process is then killed). */
  async function exitWithin(p: GatewayProcess, ms: number): Promise<number | null | 'timeout'> {
    const code = await within(p.exited, ms, 'timeout' as const);
    if (code === 'timeout') {
      p.child.kill('SIGKILL');
      await p.exited;
    }
    return code;
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`2. ${signal} 0.5 s after a GET of a looping sensor: exit 0 within a few seconds, no ERR_SOCKET_DGRAM_NOT_RUNNING`, async () => {
      const { p, port } = await start();
      const client = await RawClient.open('127.0.0.1', port);
      try {
        await sleep(60); // the simulated TMP102's first conversion
        assert.equal((await client.exchange(get('/temp'), 2000))?.code, '2.05');
        client.send(get('/loop'));
        await sleep(500);
        p.child.kill(signal);
        const code = await exitWithin(p, 5000);
        assert.equal(code, 0, `exit status after ${signal}; stderr: ${p.err()}`);
        assert.doesNotMatch(p.err(), /ERR_SOCKET_DGRAM_NOT_RUNNING/);
        assert.doesNotMatch(p.out(), /ERR_SOCKET_DGRAM_NOT_RUNNING/);
      } finally {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
        await client.close();
      }
    });
  }

  it('2. SIGTERM with 200 GETs of /temp in flight: exit 0', async () => {
    const { p, port } = await start();
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.open('127.0.0.1', port)));
    try {
      await sleep(60);
      assert.equal((await clients[0]!.exchange(get('/temp'), 2000))?.code, '2.05');
      clients[0]!.send(get('/loop')); // and a module spinning in its worker
      for (let i = 0; i < 200; i++) clients[i % clients.length]!.send(get('/temp', { confirmable: i % 2 === 0 }));
      p.child.kill('SIGTERM');
      const code = await exitWithin(p, 5000);
      assert.equal(code, 0, `exit status after SIGTERM; stderr: ${p.err()}`);
      assert.doesNotMatch(p.err(), /ERR_SOCKET_DGRAM_NOT_RUNNING/);
      assert.doesNotMatch(p.out(), /ERR_SOCKET_DGRAM_NOT_RUNNING/);
    } finally {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
