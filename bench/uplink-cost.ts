/**
 * What the MQTT uplink (docs/uplink.md) costs CoAP, side by side:
 *
 *   off          throughput scenario (b): `npm start` on the simulated TMP102, paced CON GET /temp
 *   on           the same with an `mqtt` section: every reading published to a local Mosquitto
 *                (QoS 1, retained, Home Assistant discovery on), a subscriber counting them
 *   unreachable  the same with the broker's port closed: readings go to the bounded buffer and
 *                the uplink reconnects with its back-off all along
 *
 * Every run gets a fresh gateway process; rounds interleave the three and rotate which goes
 * first, so a slow spell of a shared machine falls on all; the ratios are of the medians over
 * the rounds, each round's own beside it. An "on" run that publishes nothing fails the part
 * (the uplink is then not wired into `npm start`, and the figures would be of "off" twice).
 *
 * Needs `mosquitto` (apt-get install mosquitto); the broker runs on a free loopback port with a
 * configuration in a temporary directory (test/helpers/mosquitto.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Mosquitto, mosquittoPath } from '../test/helpers/mosquitto.ts';
import { type LoadResult, runLoad } from './lib/loadgen.ts';
import { type RoundsSummary, round2, roundLine, rpsRatios, summarizeRounds } from './lib/side-by-side.ts';
import { MemorySampler } from './lib/process-memory.ts';
import { type ServerSpec, startCommand, startServer } from './lib/servers.ts';

export type UplinkKind = 'off' | 'on' | 'unreachable';
const KINDS: UplinkKind[] = ['off', 'on', 'unreachable'];
const GATEWAY_ID = 'bench';

export interface UplinkRuns extends RoundsSummary {
  /** Readings the subscriber received during each run ("on" only). */
  publishedByRound?: number[];
}

export interface UplinkCostResult {
  date: string;
  settings: { rounds: number; secondsPerRun: number; sockets: number; inflightPerSocket: 1 };
  off: UplinkRuns;
  on: UplinkRuns;
  unreachable: UplinkRuns;
  /** Median rps with the uplink / without, and the same within each round. */
  ratioOn: number;
  ratioOnByRound: number[];
  ratioUnreachable: number;
  ratioUnreachableByRound: number[];
  /** p99 with / without (medians over the rounds). */
  p99RatioOn: number;
  p99RatioUnreachable: number;
  note: string;
}

/** `npm start` with a configuration of one paced simulated TMP102, and an `mqtt` section when `mqttUrl` is given. */
function gatewaySpec(name: string, mqttUrl?: string): ServerSpec {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-uplink-'));
  const config = path.join(dir, 'gateway.json');
  const mqttSection = mqttUrl ? { mqtt: { url: mqttUrl, gatewayId: GATEWAY_ID } } : {};
  writeFileSync(config, JSON.stringify({ driver: 'simulated', sensors: [{ name: 'tmp102' }], ...mqttSection }));
  const start = startCommand();
  return {
    name,
    path: 'temp',
    command: process.execPath,
    args: (port) => [...start.nodeFlags, ...start.rest, '--host', '127.0.0.1', '--port', String(port), '--config', config, '--no-watch'],
  };
}

export async function measureUplinkCost(o: { rounds: number; seconds: number; sockets: number; port: number; log: (line: string) => void }): Promise<UplinkCostResult> {
  const binary = mosquittoPath();
  if (!binary) throw new Error('uplink: mosquitto is not installed (apt-get install mosquitto)');
  const broker = await Mosquitto.start(binary);
  // A port that was free a moment ago and that nothing listens on: connection refused at once.
  const closed = await Mosquitto.start(binary);
  const closedUrl = closed.url;
  await closed.close();
  const specs: Record<UplinkKind, ServerSpec> = {
    off: gatewaySpec('gateway-uplink-off'),
    on: gatewaySpec('gateway-uplink-on', broker.url),
    unreachable: gatewaySpec('gateway-uplink-unreachable', closedUrl),
  };
  const subscriber = await mqtt.connectAsync(broker.url, { clientId: 'bench-uplink-counter' });
  let received = 0;
  subscriber.on('message', () => received++);
  await subscriber.subscribeAsync(`coapgw/${GATEWAY_ID}/+/state`, { qos: 1 });

  const runs: Record<UplinkKind, { rounds: LoadResult[]; peak: number[]; published: number[] }> = {
    off: { rounds: [], peak: [], published: [] },
    on: { rounds: [], peak: [], published: [] },
    unreachable: { rounds: [], peak: [], published: [] },
  };
  try {
    for (let round = 1; round <= o.rounds; round++) {
      const shift = (round - 1) % KINDS.length;
      const order = [...KINDS.slice(shift), ...KINDS.slice(0, shift)];
      for (const kind of order) {
        const server = await startServer(specs[kind], o.port);
        const memory = new MemorySampler(server.pid, 500);
        const before = received;
        let r: LoadResult;
        try {
          r = await runLoad({ port: server.port, path: server.path, seconds: o.seconds, sockets: o.sockets });
        } finally {
          memory.stop();
          await server.stop();
        }
        const published = received - before;
        if (kind === 'on' && published === 0) {
          throw new Error('uplink: the "on" run published no reading: is MqttUplink started by gateway/cli/start.ts for a configuration with an mqtt section?');
        }
        runs[kind].rounds.push(r);
        runs[kind].peak.push(memory.peakMb);
        runs[kind].published.push(published);
        o.log(`uplink round ${round}/${o.rounds} ${kind} ${roundLine(r)}, peak RSS ${memory.peakMb} MB${kind === 'on' ? `, ${published} readings published` : ''}`);
      }
    }
  } finally {
    await subscriber.endAsync(true);
    await broker.close();
  }

  const summary = (kind: UplinkKind): UplinkRuns => ({
    ...summarizeRounds(runs[kind].rounds, runs[kind].peak),
    ...(kind === 'on' ? { publishedByRound: runs[kind].published } : {}),
  });
  const off = summary('off');
  const on = summary('on');
  const unreachable = summary('unreachable');
  return {
    date: new Date().toISOString(),
    settings: { rounds: o.rounds, secondsPerRun: o.seconds, sockets: o.sockets, inflightPerSocket: 1 },
    off,
    on,
    unreachable,
    ratioOn: rpsRatios(on, off).ratio,
    ratioOnByRound: rpsRatios(on, off).byRound,
    ratioUnreachable: rpsRatios(unreachable, off).ratio,
    ratioUnreachableByRound: rpsRatios(unreachable, off).byRound,
    p99RatioOn: round2(on.p99us / off.p99us),
    p99RatioUnreachable: round2(unreachable.p99us / off.p99us),
    note: `npm start on the simulated TMP102, paced (one read per 250 ms conversion, shared by requests and the uplink), ${o.sockets} sockets x 1 request in flight, ${o.seconds}-s runs after a 1-s warm-up, a fresh gateway process per run, ${o.rounds} interleaved rounds (order rotating); on: a local Mosquitto 2.0 on loopback, QoS 1, retained, discovery on; unreachable: mqtt.url names a closed loopback port`,
  };
}
