/**
 * The MQTT uplink against a real Mosquitto (test/helpers/mosquitto.ts): payloads and retained
 * flags, availability and the last will, Home Assistant discovery, a broker restart in the
 * middle (nothing lost within the buffer, in order, own timestamps), the buffer's bound, wrong
 * credentials, ten gateways on one broker, and the withdrawal of a removed sensor.
 *
 * The sensors are real SensorServices over the simulated TMP102 on a ManualClock (in-thread
 * modules): every reading is made when the test advances the clock, so the test knows exactly
 * which readings exist and can demand each of them from the broker. The network side is real
 * time (the uplink's reconnect back-off is shortened to 100 ms).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { GatewayError } from '../gateway/errors.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { MqttUplink } from '../gateway/mqtt/uplink.ts';
import { type GatewayConfig, defaultConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { type MqttConfig, parseMqtt } from '../gateway/service/uplink-config.ts';
import { Mosquitto, mosquittoOrSkip, mosquittoPath } from './helpers/mosquitto.ts';
import { findExecutable, skipOrFail } from './helpers/peers.ts';
import { Collector, type Received } from './helpers/mqtt-collector.ts';

const RETRY = { initialMs: 100, maxMs: 400 };


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Advance in small steps so the feed's scheduled reads and their promises settle as time passes. */
async function advance(clock: ManualClock, ms: number, step = 5): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advanceMs(Math.min(step, ms - t));
    await new Promise((r) => setImmediate(r));
  }
}

/** A simulated TMP102 whose temperature changes at every conversion (4 Hz): 1 °C a second. */
function rampConfig(sensors: string[] = ['tmp102']): GatewayConfig {
  const config = defaultConfig({ driver: 'simulated' });
  const template = config.sensors[0]!;
  config.sensors = sensors.map((name, i) => ({
    ...template,
    name,
    path: i === 0 ? '/temp' : `/temp${i + 1}`,
    address: 0x48 + i,
    grant: { bus: template.bus, addresses: [0x48 + i] },
    simulation: { kind: 'ramp', from: 10 + i, to: 110 + i, overSeconds: 100 },
  }));
  return config;
}

function mqttConfig(url: string, fields: Record<string, unknown> = {}): MqttConfig {
  return parseMqtt({ url, gatewayId: 'gw-test', ...fields }, process.cwd())!;
}

interface Rig {
  clock: ManualClock;
  service: SensorService;
  uplink: MqttUplink;
  logger: MemoryLogger;
  /** Every successful reading the service made, as the uplink must publish it: [sensor, timeMs, value]. */
  made: Array<{ sensor: string; timeMs: number; value: number }>;
  close(): Promise<void>;
}

async function startRig(config: MqttConfig, options: { sensors?: string[]; clock?: ManualClock } = {}): Promise<Rig> {
  const clock = options.clock ?? new ManualClock({ startEpochMs: Date.now() });
  const logger = new MemoryLogger();
  const service = await SensorService.start(rampConfig(options.sensors), { clock, logger, isolation: 'in-thread' });
  const made: Rig['made'] = [];
  const offs = service.list().map((e) => service.subscribe(e.config.name, (u) => {
    if (u.ok && made.at(-1)?.timeMs !== u.reading.reading.timeMs) made.push({ sensor: u.sensor, timeMs: u.reading.reading.timeMs, value: u.reading.reading.value });
  }));
  const uplink = MqttUplink.start({ config, service, logger, clock, retry: RETRY });
  return {
    clock, service, uplink, logger, made,
    async close() {
      for (const off of offs) off();
      await uplink.close();
      await service.close();
    },
  };
}

const stateTopic = (gw: string, sensor = 'tmp102') => `coapgw/${gw}/${sensor}/state`;
const configTopic = (gw: string, sensor = 'tmp102') => `homeassistant/sensor/${gw}/${sensor}/config`;

/** Distinct readings in the order first seen (QoS 1 may deliver one twice). */
function firstSeen(messages: Received[]): Array<{ value: number; time: number; sim?: boolean }> {
  const seen = new Set<string>();
  const out: Array<{ value: number; time: number; sim?: boolean }> = [];
  for (const m of messages) {
    if (m.payload === '' || seen.has(m.payload)) continue;
    seen.add(m.payload);
    out.push(JSON.parse(m.payload));
  }
  return out;
}

/** TCP between the uplink and the broker, which a test can cut without either end saying goodbye. */
async function startProxy(port: number): Promise<{ port: number; hold(): void; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const pairs: Array<[Socket, Socket]> = [];
  const server: Server = createServer();
  server.on('connection', (inbound: Socket) => {
    const outbound = connect(port, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    pairs.push([inbound, outbound]);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    // Nothing passes either way any more (what the client writes stays in the proxy), until cut().
    hold: () => { for (const [a, b] of pairs) { a.unpipe(b); b.unpipe(a); a.pause(); b.pause(); } },
    // resetAndDestroy sends RST to the broker: to it the client vanished without DISCONNECT.
    cut: () => { for (const s of [...sockets]) s.resetAndDestroy(); },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('MQTT uplink without a broker', () => {
  it('returns at once while the broker does not answer, and closes without waiting for it', async () => {
    // Accepts TCP and never answers CONNACK: the uplink would wait connectTimeout (10 s) for it.
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const clock = new ManualClock();
    const logger = new MemoryLogger();
    const service = await SensorService.start(rampConfig(), { clock, logger, isolation: 'in-thread' });
    const started = Date.now();
    const uplink = MqttUplink.start({ config: mqttConfig(`mqtt://127.0.0.1:${(silent.address() as { port: number }).port}`), service, logger, clock, retry: RETRY });
    assert.equal(uplink.stats()['state'], 'connecting', 'start() returned before any answer');
    assert.ok(Date.now() - started < 1000, 'start() does not wait for the broker');
    await advance(clock, 1000);
    await waitFor('the connection attempt', () => sockets.length >= 1);
    assert.equal(uplink.stats()['state'], 'connecting');
    assert.ok((uplink.stats()['buffered'] as number) >= 3, 'readings are buffered meanwhile');
    assert.ok((await service.read('tmp102')).value > 0, 'the service reads as ever');
    const closing = Date.now();
    await uplink.close();
    assert.ok(Date.now() - closing < 1000, 'close() does not wait for a broker that does not answer');
    assert.equal(uplink.stats()['state'], 'closed');
    await service.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('an unreachable broker: GW_ERR_UPLINK_UNREACHABLE, state disconnected, readings buffered', async () => {
    const clock = new ManualClock();
    const logger = new MemoryLogger();
    const service = await SensorService.start(rampConfig(), { clock, logger, isolation: 'in-thread' });
    // Port 1 on loopback: nothing listens there (connection refused at once).
    const uplink = MqttUplink.start({ config: mqttConfig('mqtt://127.0.0.1:1'), service, logger, clock, retry: RETRY });
    await advance(clock, 1000);
    await waitFor('the unreachable error', () => uplink.stats()['lastError'] === 'GW_ERR_UPLINK_UNREACHABLE');
    await sleep(500); // several retries
    const stats = uplink.stats();
    assert.equal(stats['state'], 'disconnected');
    assert.ok((stats['buffered'] as number) >= 3, `readings buffered: ${JSON.stringify(stats)}`);
    assert.equal(stats['bufferSize'], 10_000);
    assert.equal(stats['broker'], 'mqtt://127.0.0.1:1');
    assert.equal(logger.entries.filter((e) => e.fields['code'] === 'GW_ERR_UPLINK_UNREACHABLE').length, 1, 'logged once per 10 s, not per retry');
    await uplink.close();
    assert.equal(uplink.stats()['state'], 'closed');
    await service.close();
  });

  it('refuses to start with an unreadable TLS file (GW_ERR_UPLINK_TLS) or password file (GW_ERR_CONFIG_INVALID)', async () => {
    const clock = new ManualClock();
    const service = await SensorService.start(rampConfig(), { clock, logger: new MemoryLogger(), isolation: 'in-thread' });
    try {
      const tls = mqttConfig('mqtts://127.0.0.1:1', { ca: '/nonexistent/ca.pem' });
      assert.throws(() => MqttUplink.start({ config: tls, service, logger: new MemoryLogger(), clock }), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_UPLINK_TLS' && /mqtt\.ca/.test(err.message));
      // Readable but not PEM: as much a configuration error (not an OpenSSL exception, not "no CA").
      const notPem = join(await mkdtemp(join(tmpdir(), 'mqtt-pem-')), 'not.pem');
      await writeFile(notPem, 'this is not a certificate\n');
      for (const files of [{ ca: notPem }, { cert: notPem, key: notPem }]) {
        assert.throws(() => MqttUplink.start({ config: mqttConfig('mqtts://127.0.0.1:1', files), service, logger: new MemoryLogger(), clock }), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_UPLINK_TLS', JSON.stringify(files));
      }
      const pw = mqttConfig('mqtt://127.0.0.1:1', { username: 'u', passwordFile: '/nonexistent/pw' });
      assert.throws(() => MqttUplink.start({ config: pw, service, logger: new MemoryLogger(), clock }), (err: unknown) => err instanceof GatewayError && err.code === 'GW_ERR_CONFIG_INVALID' && /mqtt\.passwordFile/.test(err.message));
    } finally {
      await service.close();
    }
  });
});

describe('MQTT uplink against Mosquitto', () => {
  let binary: string | undefined;
  let broker: Mosquitto | undefined;

  before(async () => {
    binary = mosquittoPath();
    if (binary) broker = await Mosquitto.start(binary);
  });
  after(async () => {
    await broker?.close();
  });

  it('publishes each reading retained, availability and discovery; a late subscriber gets the retained state', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const url = broker!.url;
    const live = await Collector.open(url);
    const rig = await startRig(mqttConfig(url, { gatewayId: 'gw-basic' }));
    try {
      await advance(rig.clock, 1300);
      const n = rig.made.length;
      assert.ok(n >= 5, `${n} readings made`);
      await live.until('every reading', () => firstSeen(live.on(stateTopic('gw-basic'))).length >= n);
      const got = firstSeen(live.on(stateTopic('gw-basic')));
      assert.deepEqual(got, rig.made.map((r) => ({ value: r.value, unit: 'Cel', time: Number((r.timeMs / 1000).toFixed(3)), sim: true })));
      assert.deepEqual(Object.keys(JSON.parse(live.on(stateTopic('gw-basic'))[0]!.payload)), ['value', 'unit', 'time', 'sim']);
      assert.ok(live.on(stateTopic('gw-basic')).every((m) => m.qos === 1), 'QoS 1 (the default) end to end');
      assert.equal(live.on('coapgw/gw-basic/availability').at(-1)?.payload, 'online');
      assert.equal(rig.uplink.stats()['state'], 'connected');
      await waitFor('published count', () => rig.uplink.stats()['published'] === n);

      const late = await Collector.open(url, 'coapgw/gw-basic/#');
      await late.until('retained state and availability', () => late.on(stateTopic('gw-basic')).length === 1 && late.on('coapgw/gw-basic/availability').length === 1);
      const retained = late.on(stateTopic('gw-basic'))[0]!;
      assert.equal(retained.retain, true);
      assert.deepEqual(JSON.parse(retained.payload), { value: rig.made.at(-1)!.value, unit: 'Cel', time: Number((rig.made.at(-1)!.timeMs / 1000).toFixed(3)), sim: true });
      assert.deepEqual(late.on('coapgw/gw-basic/availability')[0], { topic: 'coapgw/gw-basic/availability', payload: 'online', retain: true, qos: 1 });
      await late.close();

      const discovery = live.on(configTopic('gw-basic'));
      assert.equal(discovery.length, 1, 'one discovery config');
      assert.deepEqual(JSON.parse(discovery[0]!.payload), {
        name: 'tmp102 temperature (simulated)',
        unique_id: 'gw-basic/tmp102',
        object_id: 'gw_basic_tmp102',
        default_entity_id: 'sensor.gw_basic_tmp102',
        state_topic: 'coapgw/gw-basic/tmp102/state',
        value_template: '{{ value_json.value }}',
        unit_of_measurement: '°C',
        device_class: 'temperature',
        state_class: 'measurement',
        availability_topic: 'coapgw/gw-basic/availability',
        payload_available: 'online',
        payload_not_available: 'offline',
        json_attributes_topic: 'coapgw/gw-basic/tmp102/state',
        device: { identifiers: ['gw-basic'], name: 'CoAP gateway gw-basic', manufacturer: 'coap-sensor-gateway', model: 'CoAP sensor gateway', sw_version: '0.1.0' },
      });
      assert.deepEqual(live.on('coapgw/gw-basic/sensors').map((m) => m.payload), ['["tmp102"]']);

      // Home Assistant restarts: it says "online" on its status topic, and gets the configs again.
      await live.client.publishAsync('homeassistant/status', 'online');
      await live.until('the config again', () => live.on(configTopic('gw-basic')).length === 2);
      assert.equal(live.on(configTopic('gw-basic'))[1]!.payload, discovery[0]!.payload);

      // A clean close says offline, retained.
      await rig.close();
      await live.until('offline', () => live.on('coapgw/gw-basic/availability').at(-1)?.payload === 'offline');
      const after = await Collector.open(url, 'coapgw/gw-basic/availability');
      await after.until('retained offline', () => after.messages.length === 1);
      assert.deepEqual(after.messages[0], { topic: 'coapgw/gw-basic/availability', payload: 'offline', retain: true, qos: 1 });
      await after.close();
    } finally {
      await rig.close();
      await live.close();
    }
  });

  it('the last will says offline when the connection dies uncleanly, and online comes back', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const proxy = await startProxy(broker!.port);
    const live = await Collector.open(broker!.url, 'coapgw/gw-will/availability');
    const rig = await startRig(mqttConfig(`mqtt://127.0.0.1:${proxy.port}`, { gatewayId: 'gw-will' }));
    try {
      await live.until('online', () => live.messages.at(-1)?.payload === 'online');
      proxy.cut();
      await live.until('the will', () => live.messages.some((m) => m.payload === 'offline'));
      await live.until('online again after reconnecting', () => live.messages.at(-1)?.payload === 'online');
      assert.deepEqual(live.messages.map((m) => m.payload), ['online', 'offline', 'online']);
    } finally {
      await rig.close();
      await live.close();
      await proxy.close();
    }
  });

  it('readings in flight (written, never acknowledged) when the connection dies are sent again, in order', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const proxy = await startProxy(broker!.port);
    const live = await Collector.open(broker!.url, stateTopic('gw-inflight'));
    const rig = await startRig(mqttConfig(`mqtt://127.0.0.1:${proxy.port}`, { gatewayId: 'gw-inflight' }));
    try {
      await advance(rig.clock, 300);
      await waitFor('the first readings published', () => rig.uplink.stats()['published'] === rig.made.length && rig.made.length >= 1);
      proxy.hold();
      const before = rig.made.length;
      await advance(rig.clock, 1000);
      await sleep(100);
      // Handed to the client and written to the socket, but they never reached the broker.
      assert.equal(rig.uplink.stats()['state'], 'connected');
      assert.equal(rig.uplink.stats()['buffered'], rig.made.length - before);
      assert.ok(rig.made.length - before >= 4);
      proxy.cut();
      await live.until('every reading', () => firstSeen(live.messages).length >= rig.made.length);
      assert.deepEqual(firstSeen(live.messages).map((r) => r.time), rig.made.map((r) => Number((r.timeMs / 1000).toFixed(3))));
      await waitFor('drained', () => rig.uplink.stats()['buffered'] === 0);
      assert.equal(rig.uplink.stats()['dropped'], 0);
    } finally {
      await rig.close();
      await live.close();
      await proxy.close();
    }
  });

  it('close() with readings never acknowledged (a hung broker): resolves within its bound, the connection is really gone, and the readings are counted as not published', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const proxy = await startProxy(broker!.port);
    const rig = await startRig(mqttConfig(`mqtt://127.0.0.1:${proxy.port}`, { gatewayId: 'gw-hung' }));
    try {
      await advance(rig.clock, 300);
      await waitFor('the first readings published', () => rig.uplink.stats()['published'] === rig.made.length && rig.made.length >= 1);
      proxy.hold();
      await advance(rig.clock, 1000);
      await sleep(100);
      assert.ok((rig.uplink.stats()['buffered'] as number) >= 4, 'readings wait for a PUBACK that never comes');
      const started = Date.now();
      await rig.uplink.close();
      assert.ok(Date.now() - started < 3500, `close() within its bound (${Date.now() - started} ms)`);
      assert.equal(rig.uplink.stats()['state'], 'closed');
      const warned = rig.logger.entries.find((e) => e.msg === 'uplink closed with readings not published');
      assert.ok(warned && (warned.fields['buffered'] as number) >= 4, 'the unacknowledged readings are counted, not silently lost');
    } finally {
      await rig.close();
      await proxy.close();
    }
  });

  it('a broker restart in the middle: every reading made meanwhile arrives, in order, with its own time', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const url = broker!.url;
    // A persistent session (clean: false, QoS 1): the broker keeps what arrives while this subscriber reconnects.
    const live = await Collector.open(url, stateTopic('gw-restart'), { clientId: 'restart-watcher', clean: false, resubscribe: false });
    const rig = await startRig(mqttConfig(url, { gatewayId: 'gw-restart' }));
    try {
      await advance(rig.clock, 500);
      await waitFor('the first readings published', () => rig.uplink.stats()['published'] === rig.made.length && rig.made.length >= 2);
      await broker!.stop();
      const before = rig.made.length;
      await advance(rig.clock, 3000); // 12 conversions while the broker is down
      await waitFor('disconnected', () => rig.uplink.stats()['state'] === 'disconnected');
      const during = rig.made.length - before;
      assert.ok(during >= 11, `${during} readings made while the broker was down`);
      const stats = rig.uplink.stats();
      assert.equal(stats['lastError'], 'GW_ERR_UPLINK_UNREACHABLE');
      assert.equal(stats['buffered'], during);
      assert.equal(stats['dropped'], 0);
      await sleep(500);
      await broker!.resume();
      await advance(rig.clock, 500);
      await live.until('every reading', () => firstSeen(live.messages).length >= rig.made.length, 10_000);
      const got = firstSeen(live.messages);
      assert.deepEqual(got.map((r) => r.time), rig.made.map((r) => Number((r.timeMs / 1000).toFixed(3))), 'every reading, in order, with its own time');
      assert.deepEqual(got.map((r) => r.value), rig.made.map((r) => r.value));
      assert.ok(got.every((r, i) => i === 0 || r.time > got[i - 1]!.time));
      // The subscriber can see the last reading a moment before its PUBACK reaches the uplink.
      await waitFor('the buffer drained', () => rig.uplink.stats()['buffered'] === 0);
      assert.equal(rig.uplink.stats()['state'], 'connected');
      assert.equal(rig.uplink.stats()['dropped'], 0);
      assert.equal(rig.uplink.stats()['published'], rig.made.length);
    } finally {
      await rig.close();
      await live.close();
    }
  });

  it('a small buffer keeps the newest readings, and counts and logs what it dropped', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const url = broker!.url;
    const live = await Collector.open(url, stateTopic('gw-small'), { clientId: 'small-watcher', clean: false, resubscribe: false });
    const rig = await startRig(mqttConfig(url, { gatewayId: 'gw-small', bufferSize: 3 }));
    try {
      await advance(rig.clock, 300);
      await waitFor('published', () => rig.uplink.stats()['published'] === rig.made.length && rig.made.length >= 1);
      await broker!.stop();
      const before = rig.made.length;
      await advance(rig.clock, 2500);
      await waitFor('disconnected', () => rig.uplink.stats()['state'] === 'disconnected');
      const during = rig.made.length - before;
      assert.ok(during >= 9, `${during} readings made while down`);
      assert.deepEqual({ buffered: rig.uplink.stats()['buffered'], dropped: rig.uplink.stats()['dropped'], bufferSize: rig.uplink.stats()['bufferSize'] }, { buffered: 3, dropped: during - 3, bufferSize: 3 });
      const full = rig.logger.entries.filter((e) => e.fields['code'] === 'GW_ERR_UPLINK_BUFFER_FULL');
      assert.equal(full.length, 1, 'logged once (throttled), not once per dropped reading');
      await broker!.resume();
      await live.until('the three newest', () => firstSeen(live.messages).length >= before + 3, 10_000);
      await sleep(200);
      const got = firstSeen(live.messages).map((r) => r.time);
      const expected = [...rig.made.slice(0, before), ...rig.made.slice(-3)].map((r) => Number((r.timeMs / 1000).toFixed(3)));
      assert.deepEqual(got, expected, 'the oldest of the outage dropped, the newest three delivered');
    } finally {
      await rig.close();
      await live.close();
    }
  });

  it('wrong credentials: GW_ERR_UPLINK_AUTH, state auth-failed, logged once, retried; the service unaffected', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const secured = await Mosquitto.start(binary!, { users: { gateway: 'right-password' } });
    const dir = await mkdtemp(join(tmpdir(), 'uplink-pw-'));
    const wrong = join(dir, 'wrong');
    const right = join(dir, 'right');
    await writeFile(wrong, 'wrong-password\n');
    await writeFile(right, 'right-password\n');
    const rig = await startRig(mqttConfig(secured.url, { gatewayId: 'gw-auth', username: 'gateway', passwordFile: wrong }));
    try {
      await waitFor('auth-failed', () => rig.uplink.stats()['state'] === 'auth-failed');
      await advance(rig.clock, 2000);
      await sleep(600); // several retries at 100..400 ms
      const stats = rig.uplink.stats();
      assert.equal(stats['lastError'], 'GW_ERR_UPLINK_AUTH');
      assert.equal(stats['state'], 'auth-failed');
      assert.ok((stats['buffered'] as number) >= 7, `the buffer keeps filling: ${JSON.stringify(stats)}`);
      const lines = rig.logger.entries.filter((e) => e.fields['code'] === 'GW_ERR_UPLINK_AUTH');
      assert.equal(lines.length, 1, `one line per 10 s: ${JSON.stringify(lines)}`);
      assert.ok(/password|authori/i.test(String(lines[0]!.fields['detail'])), String(lines[0]!.fields['detail']));
      // The sensors went on: readings every period, and a read on request.
      assert.ok(rig.made.length >= 8, `${rig.made.length} readings`);
      assert.equal((await rig.service.read('tmp102')).simulated, true);

      // The same setup with the right password connects: it was the credentials.
      const ok = await startRig(mqttConfig(secured.url, { gatewayId: 'gw-auth2', username: 'gateway', passwordFile: right }));
      await waitFor('connected', () => ok.uplink.stats()['state'] === 'connected');
      await ok.close();
    } finally {
      await rig.close();
      await secured.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('TLS: a broker certificate the configured CA did not sign is GW_ERR_UPLINK_TLS; the right CA connects', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    if (!findExecutable('openssl') && !skipOrFail(t, 'openssl is not installed (apt-get install openssl)')) return;
    const dir = await mkdtemp(join(tmpdir(), 'uplink-tls-'));
    const openssl = (args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
    // Two self-signed certificates for 127.0.0.1: the broker's, and another CA's.
    for (const name of ['broker', 'other']) {
      await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', `${name}.key`, '-out', `${name}.pem`]);
    }
    const secure = await Mosquitto.start(binary!, { tls: { certfile: join(dir, 'broker.pem'), keyfile: join(dir, 'broker.key') } });
    const wrong = await startRig(mqttConfig(secure.url, { gatewayId: 'gw-tls-wrong', ca: join(dir, 'other.pem') }));
    const right = await startRig(mqttConfig(secure.url, { gatewayId: 'gw-tls', ca: join(dir, 'broker.pem') }));
    try {
      await waitFor('tls-failed', () => wrong.uplink.stats()['state'] === 'tls-failed');
      assert.equal(wrong.uplink.stats()['lastError'], 'GW_ERR_UPLINK_TLS');
      await waitFor('connected over TLS', () => right.uplink.stats()['state'] === 'connected');
      await advance(right.clock, 300);
      await waitFor('published over TLS', () => (right.uplink.stats()['published'] as number) >= 1);
    } finally {
      await wrong.close();
      await right.close();
      await secure.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ten gateways on one broker: one subscriber sees all their readings and discovery configs', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const url = broker!.url;
    const live = await Collector.open(url);
    const clock = new ManualClock({ startEpochMs: Date.now() });
    const rigs: Rig[] = [];
    try {
      for (let i = 0; i < 10; i++) rigs.push(await startRig(mqttConfig(url, { gatewayId: `gw-fleet-${i}` }), { clock }));
      await advance(clock, 1000);
      await live.until('every gateway\'s readings and config', () => rigs.every((r, i) =>
        firstSeen(live.on(stateTopic(`gw-fleet-${i}`))).length >= r.made.length && live.on(configTopic(`gw-fleet-${i}`)).length >= 1), 10_000);
      for (let i = 0; i < 10; i++) {
        const config = JSON.parse(live.on(configTopic(`gw-fleet-${i}`))[0]!.payload);
        assert.equal(config.unique_id, `gw-fleet-${i}/tmp102`);
        assert.deepEqual(config.device.identifiers, [`gw-fleet-${i}`]);
        assert.equal(config.state_topic, stateTopic(`gw-fleet-${i}`));
        assert.deepEqual(firstSeen(live.on(stateTopic(`gw-fleet-${i}`))).map((r) => r.time), rigs[i]!.made.map((r) => Number((r.timeMs / 1000).toFixed(3))));
        assert.equal(live.on(`coapgw/gw-fleet-${i}/availability`).at(-1)?.payload, 'online');
      }
    } finally {
      await Promise.all(rigs.map((r) => r.close()));
      await live.close();
    }
  });

  it('a sensor removed from the configuration is withdrawn from Home Assistant', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const url = broker!.url;
    const live = await Collector.open(url);
    const first = await startRig(mqttConfig(url, { gatewayId: 'gw-removal' }), { sensors: ['tmp102', 'attic'] });
    await live.until('both configs', () => live.on(configTopic('gw-removal', 'attic')).length === 1 && live.on(configTopic('gw-removal')).length === 1);
    await advance(first.clock, 300);
    await live.until('an attic reading', () => live.on(stateTopic('gw-removal', 'attic')).length >= 1);
    await first.close();
    assert.deepEqual(live.on('coapgw/gw-removal/sensors').map((m) => m.payload), ['["tmp102","attic"]']);

    const second = await startRig(mqttConfig(url, { gatewayId: 'gw-removal' }), { sensors: ['tmp102'] });
    try {
      await live.until('the withdrawal', () => live.on(configTopic('gw-removal', 'attic')).length === 2);
      assert.equal(live.on(configTopic('gw-removal', 'attic'))[1]!.payload, '', 'an empty payload on its config topic');
      await live.until('the new list', () => live.on('coapgw/gw-removal/sensors').length === 2);
      assert.equal(live.on('coapgw/gw-removal/sensors')[1]!.payload, '["tmp102"]');
      // What a Home Assistant starting now would find: tmp102 only.
      const late = await Collector.open(url, 'homeassistant/sensor/gw-removal/+/config');
      await late.until('retained configs', () => late.messages.length >= 1);
      await sleep(200);
      assert.deepEqual(late.messages.map((m) => m.topic), [configTopic('gw-removal')]);
      await late.close();
    } finally {
      await second.close();
      await live.close();
    }
  });
});
