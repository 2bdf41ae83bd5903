/**
 * What one more sensor costs the gateway in memory: the gateway started as `npm start` runs it,
 * with 1, 2, 4 and 8 TMP102 sensors (the shipped module, simulated chips), once per isolation
 * (docs/threading.md). A TMP102 has four addresses (0x48..0x4b, its ADD0 pin), so sensors 1-4
 * are on bus 1 and sensors 5-8 on bus 2, as on a Pi with a second I2C bus enabled:
 *
 *   shared     the default: the modules of a bus share one worker thread
 *   worker     each module on a worker thread of its own
 *   in-thread  the modules on the gateway's thread (no limits; the floor)
 *
 * Each gateway is started, every sensor read five times (so every module has its instance),
 * then left idle for IDLE_MS while VmRSS is sampled every 250 ms; the lowest sample is taken (the
 * resident set after the garbage collector's last pass, not wherever a collection happened to
 * be), and VmHWM, the kernel's peak, over the whole life. Rounds interleave the configurations, so a slow spell of a shared machine falls on all
 * of them; medians over the rounds are reported. The cost per added sensor is the slope on one
 * bus, (RSS(4) - RSS(1)) / 3, and over two buses, (RSS(8) - RSS(1)) / 7 (a shared worker more).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RawClient, pathOptions, requestDatagram } from '../test/helpers/coap-datagram.ts';
import { median } from './lib/median.ts';
import { memoryOf } from './lib/process-memory.ts';
import { type ServerSpec, startCommand, startServer } from './lib/servers.ts';

export type CostIsolation = 'shared' | 'worker' | 'in-thread';
export const SENSOR_COUNTS = [1, 2, 4, 8] as const;
const ISOLATIONS: CostIsolation[] = ['shared', 'worker', 'in-thread'];
/**
 * Long enough for V8's memory reducer, which collects a heap that has gone idle after about 8 s
 * of low allocation: the lowest sample is then the resident set a sensor keeps, not garbage.
 */
const IDLE_MS = 12_000;
const BASE_PORT = 5810;

export interface SensorCostResult {
  /** Per isolation and sensor count: median RSS after the reads and IDLE_MS idle, and median peak (VmHWM), MB. */
  rssMb: Record<CostIsolation, Record<string, number>>;
  peakMb: Record<CostIsolation, Record<string, number>>;
  /** (RSS(4) - RSS(1)) / 3, MB, per isolation: sensors added on one bus. */
  perAddedSensorMb: Record<CostIsolation, number>;
  /** (RSS(8) - RSS(1)) / 7, MB, per isolation: sensors added over two buses. */
  perAddedSensorTwoBusesMb: Record<CostIsolation, number>;
  rounds: number;
  /** When this part was measured (bench/run.ts keeps it when other parts are measured later). */
  date: string;
  note: string;
}

function gatewayWith(isolation: CostIsolation, count: number): ServerSpec {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-sensors-'));
  const config = path.join(dir, 'gateway.json');
  const sensors = Array.from({ length: count }, (_, i) => ({
    name: `t${i + 1}`,
    path: i === 0 ? '/temp' : `/temp/${i + 1}`,
    bus: 1 + Math.floor(i / 4),
    address: `0x${(0x48 + (i % 4)).toString(16)}`,
    isolation,
  }));
  writeFileSync(config, JSON.stringify({ driver: 'simulated', sensors }));
  const start = startCommand();
  return {
    name: `${isolation} x${count}`,
    path: 'temp',
    command: process.execPath,
    args: (port) => [...start.nodeFlags, ...start.rest, '--host', '127.0.0.1', '--port', String(port), '--config', config, '--no-watch', '--log-level', 'warn'],
  };
}

/** Reads every sensor `times` times; throws unless each answers 2.05 with a numeric value. */
async function readAll(port: number, count: number, times: number): Promise<void> {
  const client = await RawClient.open('127.0.0.1', port);
  try {
    for (let t = 0; t < times; t++) {
      for (let i = 0; i < count; i++) {
        const p = i === 0 ? '/temp' : `/temp/${i + 1}`;
        // A chip just configured has no conversion yet: 5.03 GW_ERR_SENSOR_NOT_READY for up to 35 ms.
        for (let attempt = 0; ; attempt++) {
          const res = await client.exchange(requestDatagram({ options: pathOptions(p) }), 5000);
          if (!res) throw new Error(`no answer from ${p}`);
          const body = res.cbor as { value?: unknown; code?: string } | undefined;
          if (res.code === '2.05' && typeof body?.value === 'number') break;
          if (res.code !== '5.03' || attempt >= 20) throw new Error(`${p}: ${res.code} ${JSON.stringify(body)}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
  } finally {
    await client.close();
  }
}

export async function measureSensorCost(rounds = 3): Promise<SensorCostResult> {
  const rss: Record<string, number[]> = {};
  const peak: Record<string, number[]> = {};
  let port = BASE_PORT;
  for (let r = 0; r < rounds; r++) {
    for (const count of SENSOR_COUNTS) {
      for (const isolation of ISOLATIONS) {
        const server = await startServer(gatewayWith(isolation, count), port++);
        try {
          await readAll(server.port, count, 5);
          let low = Infinity;
          let high = 0;
          for (let t = 0; t < IDLE_MS; t += 250) {
            await new Promise((resolve) => setTimeout(resolve, 250));
            const m = memoryOf(server.pid);
            if (!m) throw new Error(`${isolation} x${count}: the gateway exited`);
            low = Math.min(low, m.rssMb);
            high = m.peakMb;
          }
          const key = `${isolation}/${count}`;
          (rss[key] ??= []).push(low);
          (peak[key] ??= []).push(high);
        } finally {
          await server.stop();
        }
      }
    }
  }
  const table = (from: Record<string, number[]>) =>
    Object.fromEntries(ISOLATIONS.map((iso) => [iso, Object.fromEntries(SENSOR_COUNTS.map((n) => [String(n), round1(median(from[`${iso}/${n}`]!))]))])) as Record<CostIsolation, Record<string, number>>;
  const rssMb = table(rss);
  const slope = (from: number, to: number) => Object.fromEntries(ISOLATIONS.map((iso) => [iso, round1((rssMb[iso][String(to)]! - rssMb[iso][String(from)]!) / (to - from))])) as Record<CostIsolation, number>;
  return {
    rssMb,
    peakMb: table(peak),
    perAddedSensorMb: slope(1, 4),
    perAddedSensorTwoBusesMb: slope(1, 8),
    rounds,
    date: new Date().toISOString(),
    note: `npm start with N simulated TMP102 sensors (the shipped module; 1-4 on bus 1, 5-8 on bus 2), each read 5 times, then the lowest VmRSS over ${IDLE_MS} ms idle; peak is VmHWM; medians of ${rounds} interleaved rounds`,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
