/**
 * The MQTT uplink with a multi-quantity sensor (ABI 1.1, issue 14): the shipped SHT3x module
 * (modules/sht3x.wasm, temperature and humidity) on the simulated SHT3x at 0x44, beside the
 * simulated TMP102, against a real Mosquitto (test/helpers/mosquitto.ts). One state topic and
 * one Home Assistant entity per quantity; the TMP102's topic and payload unchanged byte for byte;
 * withdrawal per quantity; two entities that would share one discovery topic.
 *
 * The simulated SHT3x is chosen from the configuration (`simulation.device: "sht3x"`), and both
 * chips are reported simulated, so every payload must say "sim": true.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { discoveryConfig, homeAssistantUnit } from '../gateway/mqtt/discovery.ts';
import { parseSensorsList, planSettle, relist } from '../gateway/mqtt/sensors-list.ts';
import { Topics } from '../gateway/mqtt/topics.ts';
import { MqttUplink } from '../gateway/mqtt/uplink.ts';
import { type GatewayConfig, parseConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { type MqttConfig, parseMqtt } from '../gateway/service/uplink-config.ts';
import { Mosquitto, mosquittoOrSkip, mosquittoPath } from './helpers/mosquitto.ts';
import { Collector } from './helpers/mqtt-collector.ts';

const SHT3X_WASM = new URL('../modules/sht3x.wasm', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const RETRY = { initialMs: 100, maxMs: 400 };


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function advance(clock: ManualClock, ms: number, step = 5): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advanceMs(Math.min(step, ms - t));
    await new Promise((r) => setImmediate(r));
  }
}

/** A TMP102 (ramp, so every conversion differs) and an SHT3x whose temperature and humidity both ramp. */
function config(sensors: Array<'tmp102' | 'env' | 'env_humidity'>): GatewayConfig {
  const entries: Record<string, unknown> = {
    tmp102: { name: 'tmp102', path: '/temp', address: 0x48, simulation: { kind: 'ramp', from: 10, to: 110, overSeconds: 100 } },
    env_humidity: { name: 'env_humidity', path: '/temp2', address: 0x49, simulation: { kind: 'constant', celsius: 20 } },
    env: {
      name: 'env', path: '/env', address: 0x44, module: SHT3X_WASM,
      simulation: { device: 'sht3x', temperature: { kind: 'ramp', from: 20, to: 30, overSeconds: 100 }, humidity: { kind: 'ramp', from: 40, to: 60, overSeconds: 100 } },
    },
  };
  return parseConfig({ driver: 'simulated', sensors: sensors.map((s) => entries[s]) }, ROOT);
}


function mqttConfig(url: string, gatewayId: string): MqttConfig {
  return parseMqtt({ url, gatewayId }, process.cwd())!;
}

interface Rig {
  clock: ManualClock;
  service: SensorService;
  logger: MemoryLogger;
  /** Every new reading by sensor: its time and measurements, as the uplink must publish them. */
  made: Map<string, Array<{ timeMs: number; simulated: boolean; measurements: Array<{ quantity: string; unit: string; value: number }> }>>;
  close(): Promise<void>;
}

async function startRig(mqttCfg: MqttConfig, sensors: Array<'tmp102' | 'env' | 'env_humidity'>): Promise<Rig> {
  const clock = new ManualClock({ startEpochMs: Date.now() });
  const logger = new MemoryLogger();
  const service = await SensorService.start(config(sensors), { clock, logger, isolation: 'in-thread' });
  const made: Rig['made'] = new Map();
  const offs = service.list().map((e) => service.subscribe(e.config.name, (u) => {
    if (!u.ok) return;
    const r = u.reading.reading;
    const list = made.get(u.sensor) ?? [];
    made.set(u.sensor, list);
    if (list.at(-1)?.timeMs !== r.timeMs) list.push({ timeMs: r.timeMs, simulated: r.simulated, measurements: r.measurements.map((m) => ({ quantity: m.quantity, unit: m.unit, value: m.value })) });
  }));
  const uplink = MqttUplink.start({ config: mqttCfg, service, logger, clock, retry: RETRY });
  return {
    clock, service, logger, made,
    async close() {
      for (const off of offs) off();
      await uplink.close();
      await service.close();
    },
  };
}

const seconds = (ms: number) => Number((ms / 1000).toFixed(3));

describe('Home Assistant units and device classes (discovery.ts)', () => {
  it('maps SenML units to Home Assistant spelling and device class', () => {
    assert.deepEqual(homeAssistantUnit('Cel', 'temperature'), { unit: '°C', deviceClass: 'temperature' });
    assert.deepEqual(homeAssistantUnit('%RH', 'humidity'), { unit: '%', deviceClass: 'humidity' });
    assert.deepEqual(homeAssistantUnit('Pa', 'pressure'), { unit: 'Pa', deviceClass: 'pressure' });
    assert.deepEqual(homeAssistantUnit('hPa', 'pressure'), { unit: 'hPa', deviceClass: 'pressure' });
    assert.deepEqual(homeAssistantUnit('ug/m3', 'pm25'), { unit: 'µg/m³', deviceClass: 'pm25' });
    assert.deepEqual(homeAssistantUnit('ug/m3', 'dust'), { unit: 'µg/m³' }, 'a shared unit gets a class only from a quantity that names one');
  });

  it('a unit Home Assistant has no device class for is still announced, without device_class', () => {
    const topics = new Topics({ topicPrefix: 'coapgw', gatewayId: 'pi', discovery: { enabled: true, prefix: 'homeassistant' } });
    const config = discoveryConfig({ name: 'air', quantity: 'voc_index', unit: 'count', simulated: false, perQuantity: true }, 'pi', topics);
    assert.equal(config['unit_of_measurement'], 'count');
    assert.ok(!('device_class' in config));
    assert.equal(config['state_topic'], 'coapgw/pi/air/voc_index/state');
    assert.equal(config['unique_id'], 'pi/air/voc_index');
    assert.equal(config['default_entity_id'], 'sensor.pi_air_voc_index');
  });
});

describe('the retained sensors list (sensors-list.ts)', () => {
  const single = (sensor: string) => [{ sensor }];
  const env = [{ sensor: 'env', quantity: 'temperature' }, { sensor: 'env', quantity: 'humidity' }];

  it('reads sensor names (a list from before ABI 1.1) and sensor/quantity keys; skips anything else', () => {
    assert.deepEqual(parseSensorsList(Buffer.from('["tmp102", 3, "env/humidity", "env/Humidity", "a/b/c"]')), [{ sensor: 'tmp102' }, { sensor: 'env', quantity: 'humidity' }]);
    assert.equal(parseSensorsList(Buffer.from('not json')), undefined);
    assert.deepEqual(parseSensorsList(undefined), []);
  });

  it('withdraws a removed sensor with its state, and the old entity of a sensor that now has several quantities', () => {
    const plan = planSettle({ before: [{ sensor: 'tmp102' }, { sensor: 'attic' }, { sensor: 'env' }], entities: new Map([['tmp102', single('tmp102')], ['env', env]]), discovery: true });
    assert.deepEqual(plan.withdraw, [{ entity: { sensor: 'attic' }, state: true }, { entity: { sensor: 'env' }, state: true }]);
    assert.deepEqual(plan.listed, ['tmp102', 'env/temperature', 'env/humidity']);
  });

  it('keeps the entries of a sensor whose module has not initialised, and relists it when announced', () => {
    const plan = planSettle({ before: [{ sensor: 'env' }], entities: new Map([['env', undefined]]), discovery: true });
    assert.deepEqual(plan.withdraw, []);
    assert.deepEqual(plan.listed, ['env']);
    const listed = new Set(plan.listed);
    assert.deepEqual(relist(listed, 'env', env), { withdraw: [{ sensor: 'env' }], changed: true });
    assert.deepEqual([...listed], ['env/temperature', 'env/humidity']);
    assert.deepEqual(relist(listed, 'env', env), { withdraw: [], changed: false });
  });

  it('with discovery off: every entity withdrawn, the states of configured sensors kept', () => {
    const plan = planSettle({ before: [{ sensor: 'tmp102' }, ...env], entities: new Map([['tmp102', single('tmp102')], ['env', env]]), discovery: false });
    assert.deepEqual(plan.withdraw.map((w) => w.state), [false, false, false]);
    assert.deepEqual(plan.listed, []);
  });
});

describe('MQTT uplink with a multi-quantity sensor, against Mosquitto', { skip: existsSync(SHT3X_WASM) ? undefined : 'modules/sht3x.wasm is not built' }, () => {
  let broker: Mosquitto | undefined;
  before(async () => {
    const binary = mosquittoPath();
    if (binary) broker = await Mosquitto.start(binary);
  });
  after(async () => {
    await broker?.stop();
  });

  it('one state topic per quantity, the TMP102 byte for byte as before, one entity per quantity under the one gateway device', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const live = await Collector.open(broker!.url);
    const rig = await startRig(mqttConfig(broker!.url, 'gw-mq'), ['tmp102', 'env']);
    try {
      assert.deepEqual(rig.service.info('env')?.quantities.map((q) => [q.name, q.unit]), [['temperature', 'Cel'], ['humidity', '%RH']]);
      await advance(rig.clock, 3_100);
      const env = () => rig.made.get('env') ?? [];
      await live.until('three SHT3x readings on both topics', () => live.on('coapgw/gw-mq/env/humidity/state').length >= 3 && live.on('coapgw/gw-mq/env/temperature/state').length >= 3);

      // Each quantity's payload: the 1.0 shape plus "quantity", in this key order, retained.
      for (const quantity of ['temperature', 'humidity']) {
        const got = live.on(`coapgw/gw-mq/env/${quantity}/state`);
        const expected = env().map((r) => {
          const m = r.measurements.find((x) => x.quantity === quantity)!;
          return JSON.stringify({ value: m.value, unit: m.unit, quantity, time: seconds(r.timeMs), sim: true });
        });
        for (const m of got) assert.ok(expected.includes(m.payload), `${m.payload} is one of the readings made`);
      }
      const h = JSON.parse(live.on('coapgw/gw-mq/env/humidity/state')[0]!.payload) as Record<string, unknown>;
      assert.equal(h['unit'], '%RH');
      assert.ok(typeof h['value'] === 'number' && h['value'] >= 40 && h['value'] <= 60, String(h['value']));
      assert.equal(live.on('coapgw/gw-mq/env/state').length, 0, 'no sensor-level state topic for a multi-quantity sensor');
      // Retained: a subscriber that comes later gets the latest of each quantity at once.
      const late = await Collector.open(broker!.url, 'coapgw/gw-mq/env/+/state');
      await late.until('both retained states', () => late.messages.length >= 2);
      assert.deepEqual(late.messages.map((m) => [m.topic, m.retain]).sort(), [['coapgw/gw-mq/env/humidity/state', true], ['coapgw/gw-mq/env/temperature/state', true]]);
      await late.close();

      // The TMP102: its one topic, its 1.0 payload, byte for byte.
      const tmp = live.on('coapgw/gw-mq/tmp102/state');
      assert.ok(tmp.length >= 3);
      const tmpExpected = (rig.made.get('tmp102') ?? []).map((r) => JSON.stringify({ value: r.measurements[0]!.value, unit: 'Cel', time: seconds(r.timeMs), sim: true }));
      for (const m of tmp) assert.ok(tmpExpected.includes(m.payload), m.payload);

      // Discovery: one config per quantity, with its own ids, class and unit; one device for the gateway.
      const configs = Object.fromEntries(['tmp102', 'env_temperature', 'env_humidity'].map((id) => {
        const got = live.on(`homeassistant/sensor/gw-mq/${id}/config`);
        assert.equal(got.length, 1, id);
        return [id, JSON.parse(got[0]!.payload) as Record<string, unknown>];
      }));
      const hum = configs['env_humidity']!;
      assert.equal(hum['name'], 'env humidity (simulated)');
      assert.equal(hum['unique_id'], 'gw-mq/env/humidity');
      assert.equal(hum['default_entity_id'], 'sensor.gw_mq_env_humidity');
      assert.equal(hum['state_topic'], 'coapgw/gw-mq/env/humidity/state');
      assert.equal(hum['json_attributes_topic'], 'coapgw/gw-mq/env/humidity/state');
      assert.equal(hum['device_class'], 'humidity');
      assert.equal(hum['unit_of_measurement'], '%');
      const temp = configs['env_temperature']!;
      assert.equal(temp['unique_id'], 'gw-mq/env/temperature');
      assert.equal(temp['device_class'], 'temperature');
      assert.equal(temp['unit_of_measurement'], '°C');
      assert.equal(configs['tmp102']!['unique_id'], 'gw-mq/tmp102', 'a single-quantity sensor keeps its 1.0 id');
      assert.equal(configs['tmp102']!['name'], 'tmp102 temperature (simulated)');
      for (const c of Object.values(configs)) assert.deepEqual((c['device'] as { identifiers: string[] }).identifiers, ['gw-mq']);

      // A config arrives before the first state of its entity.
      const index = (topic: string) => live.messages.findIndex((m) => m.topic === topic);
      assert.ok(index('homeassistant/sensor/gw-mq/env_humidity/config') < index('coapgw/gw-mq/env/humidity/state'));
      assert.deepEqual(JSON.parse(live.on('coapgw/gw-mq/sensors').at(-1)!.payload), ['tmp102', 'env/temperature', 'env/humidity']);
    } finally {
      await rig.close();
      await live.close();
    }
  });

  it('a multi-quantity sensor removed from the configuration: every quantity withdrawn, config and state', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const live = await Collector.open(broker!.url);
    const first = await startRig(mqttConfig(broker!.url, 'gw-mq-rm'), ['tmp102', 'env']);
    await advance(first.clock, 1_100);
    await live.until('a humidity state', () => live.on('coapgw/gw-mq-rm/env/humidity/state').length >= 1);
    await first.close();
    const second = await startRig(mqttConfig(broker!.url, 'gw-mq-rm'), ['tmp102']);
    try {
      for (const q of ['temperature', 'humidity']) {
        await live.until(`${q} withdrawn`, () => live.on(`homeassistant/sensor/gw-mq-rm/env_${q}/config`).at(-1)?.payload === '' && live.on(`coapgw/gw-mq-rm/env/${q}/state`).at(-1)?.payload === '');
      }
      await live.until('the new list', () => live.on('coapgw/gw-mq-rm/sensors').at(-1)?.payload === '["tmp102"]');
      // What a Home Assistant starting now would find: the TMP102 only.
      const late = await Collector.open(broker!.url, 'homeassistant/sensor/gw-mq-rm/+/config');
      await late.until('retained configs', () => late.messages.length >= 1);
      await sleep(200);
      assert.deepEqual(late.messages.map((m) => m.topic), ['homeassistant/sensor/gw-mq-rm/tmp102/config']);
      await late.close();
    } finally {
      await second.close();
      await live.close();
    }
  });

  it('a sensor named "env_humidity" beside "env" measuring humidity: one discovery topic, the first announced keeps it, logged', async (t) => {
    if (!mosquittoOrSkip(t)) return;
    const live = await Collector.open(broker!.url, 'homeassistant/sensor/gw-mq-clash/+/config');
    const rig = await startRig(mqttConfig(broker!.url, 'gw-mq-clash'), ['env_humidity', 'env']);
    try {
      await live.until('both announced', () => live.on('homeassistant/sensor/gw-mq-clash/env_temperature/config').length === 1 && live.on('homeassistant/sensor/gw-mq-clash/env_humidity/config').length >= 1);
      await sleep(200);
      const clash = live.on('homeassistant/sensor/gw-mq-clash/env_humidity/config');
      assert.equal(clash.length, 1, 'one config on the shared topic');
      assert.equal((JSON.parse(clash[0]!.payload) as { unique_id: string }).unique_id, 'gw-mq-clash/env_humidity');
      const warning = rig.logger.entries.find((e) => e.msg.startsWith('uplink: two entities share one discovery topic'));
      assert.ok(warning, 'the refusal is logged');
      assert.equal(warning.fields['entity'], 'env/humidity');
    } finally {
      await rig.close();
      await live.close();
    }
  });
});
