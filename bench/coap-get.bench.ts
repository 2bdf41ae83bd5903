/**
 * GET /temp over real UDP on loopback, closed loop: C clients each with one confirmable request
 * in flight, for D seconds, against the gateway with modules in worker threads (as `npm start`
 * runs) and, side by side, with modules on the main thread. Reports requests/s, latency
 * percentiles and bus transactions per second (the pacing keeps those at the sensor's
 * conversion rate, 4/s, whatever the request rate).
 *
 *   npm run bench:coap                  # 50 clients, 5 s per mode
 *   BENCH_CLIENTS=10 BENCH_SECONDS=3 npm run bench:coap
 */
import { createSocket, type Socket } from 'node:dgram';
import os from 'node:os';
import { generate, parse } from 'coap-packet';
import { SystemClock } from '../drivers/clock.ts';
import { GatewayServer } from '../gateway/coap/server.ts';
import { silentLogger } from '../gateway/log.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import type { Isolation } from '../gateway/service/module-factory.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 50);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);

interface Result { isolation: Isolation; requests: number; errors: number; seconds: number; latencies: number[]; busPerSecond: number }

async function client(port: number, until: number, latencies: number[], counts: { ok: number; err: number }): Promise<void> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  let mid = Math.floor(Math.random() * 0xffff);
  try {
    while (performance.now() < until) {
      mid = (mid + 1) & 0xffff;
      const datagram = generate({ confirmable: true, messageId: mid, token: Buffer.from([mid >> 8, mid & 0xff]), code: '0.01', options: [{ name: 'Uri-Path', value: Buffer.from('temp') }] });
      const t0 = performance.now();
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(() => { socket.off('message', on); resolve(undefined); }, 2000);
        const on = (m: Buffer) => {
          if (m.readUInt16BE(2) !== mid) return;
          clearTimeout(timer);
          socket.off('message', on);
          resolve(m);
        };
        socket.on('message', on);
        socket.send(datagram, port, '127.0.0.1');
      });
      if (reply && parse(reply).code === '2.05') {
        counts.ok++;
        latencies.push(performance.now() - t0);
      } else counts.err++;
    }
  } finally {
    socket.close();
  }
}

async function run(isolation: Isolation): Promise<Result> {
  const clock = new SystemClock();
  const service = await SensorService.start(defaultConfig({ driver: 'simulated' }), { clock, logger: silentLogger, isolation });
  const server = await GatewayServer.start({ service, logger: silentLogger, clock, host: '127.0.0.1', port: 0 });
  await new Promise((r) => setTimeout(r, 100));
  const latencies: number[] = [];
  const counts = { ok: 0, err: 0 };
  const bus0 = service.stats().i2cTransactions;
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, () => client(server.port, until, latencies, counts)));
  const seconds = (performance.now() - t0) / 1000;
  const busPerSecond = (service.stats().i2cTransactions - bus0) / seconds;
  await server.close();
  await service.close();
  return { isolation, requests: counts.ok, errors: counts.err, seconds, latencies: latencies.sort((a, b) => a - b), busPerSecond };
}

function pct(xs: number[], p: number): number {
  return xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;
}

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}, node ${process.version}; ${CLIENTS} clients, ${SECONDS} s per mode, loopback`);
const results: Result[] = [];
for (const isolation of ['worker', 'in-thread'] as const) results.push(await run(isolation));
console.log('| modules | GET/s | p50 ms | p99 ms | errors | bus transactions/s |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.isolation} | ${Math.round(r.requests / r.seconds)} | ${pct(r.latencies, 50).toFixed(2)} | ${pct(r.latencies, 99).toFixed(2)} | ${r.errors} | ${r.busPerSecond.toFixed(1)} |`);
}
const [w, t] = results as [Result, Result];
console.log(`ratio worker/in-thread GET/s: ${((w.requests / w.seconds) / (t.requests / t.seconds)).toFixed(2)}`);
