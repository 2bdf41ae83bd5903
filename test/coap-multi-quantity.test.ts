/**
 * A sensor with several quantities over real UDP (module ABI 1.1): the shipped SHT3x module
 * (modules/sht3x.wasm) on the simulated SHT3x-DIS at /env, beside the TMP102 at /temp.
 *
 * /env answers every quantity (a SenML pack, the CBOR and JSON maps, a text line each,
 * gateway/coap/pack-formats.ts), /env/temperature and /env/humidity each answer as a single
 * reading does; discovery lists all three; Observe works on the pack (any change) and per
 * quantity (with conditions, which the pack refuses). The payloads are decoded here with cbor-x
 * and JSON.parse, not with the gateway's encoder, and every value is checked to the LSB of the
 * chip's 16-bit words (SHT3x-DIS section 4.13) for the configured 25 °C and 40 %RH.
 *
 * The last suite drives the router alone on a stub service, for what the SHT3x cannot show: a
 * unit outside the SenML registry, and Max-Age under a time scale.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Decoder } from 'cbor-x';
import { ManualClock } from '../drivers/clock.ts';
import type { Reply, RequestView } from '../gateway/coap/reply.ts';
import { Router } from '../gateway/coap/router.ts';
import type { StatsSources } from '../gateway/coap/stats-resource.ts';
import { MemoryLogger, silentLogger } from '../gateway/log.ts';
import type { SensorService } from '../gateway/service/sensor-service.ts';
import { RawClient, type Response, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type MultiQuantityGateway, expected, startMultiQuantityGateway } from './helpers/multi-quantity-gateway.ts';
import { ObserveClient } from './helpers/observe-client.ts';

// Maps stay Maps, so SenML's integer labels stay integers and key order is visible.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);
const cbor = (b: Buffer): unknown => decoder.decode(b);

const AIR = expected(25, 40);
const FORMATS = { CBOR: 60, SENML_CBOR: 112, SENML_JSON: 110, JSON: 50, TEXT: 0 } as const;
/** The time of a reading in the SenML and map forms (seconds since the epoch, millisecond decimals). */
const isEpochSeconds = (t: unknown) => typeof t === 'number' && t > 1.7e9 && Number(t.toFixed(3)) === t;

async function get(client: RawClient, path: string, accept?: number, extra: { code?: string; payload?: Buffer; contentFormat?: number } = {}): Promise<Response> {
  const options = [...pathOptions(path)];
  if (extra.contentFormat !== undefined) options.push({ name: 'Content-Format', value: uint(extra.contentFormat) });
  if (accept !== undefined) options.push({ name: 'Accept', value: uint(accept) });
  const res = await client.exchange(requestDatagram({ code: extra.code ?? '0.01', options, ...(extra.payload ? { payload: extra.payload } : {}) }), 3000);
  assert.ok(res, `no response to ${path}`);
  return res;
}

/** The catalogue code and detail of an error response (a CBOR map, docs/errors.md). */
function errorOf(res: Response): { code: unknown; detail: unknown } {
  const m = cbor(res.packet.payload) as Map<string, unknown>;
  return { code: m.get('code'), detail: m.get('detail') };
}

describe('a multi-quantity sensor over CoAP: GET and discovery', () => {
  let gw: MultiQuantityGateway;
  let client: RawClient;
  before(async () => {
    gw = await startMultiQuantityGateway();
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('GET /env in SenML-CBOR (112): a pack of one record per quantity, bn and bt on the first only (RFC 8428 section 4.5), sim_ on each', async () => {
    const res = await get(client, '/env', FORMATS.SENML_CBOR);
    assert.equal(res.code, '2.05');
    assert.equal(res.contentFormat, 112);
    assert.ok(res.maxAge !== undefined && res.maxAge >= 1, 'a reading has a Max-Age');
    const pack = cbor(res.packet.payload) as Map<number | string, unknown>[];
    assert.equal(pack.length, 2);
    const [first, second] = pack as [Map<number | string, unknown>, Map<number | string, unknown>];
    assert.deepEqual([...first.keys()], [-2, -3, 0, 1, 2, 'sim_']);
    assert.equal(first.get(-2), 'env/');
    assert.ok(isEpochSeconds(first.get(-3)), String(first.get(-3)));
    assert.deepEqual([first.get(0), first.get(1), first.get(2), first.get('sim_')], ['temperature', 'Cel', AIR.temperature, true]);
    assert.deepEqual([...second.keys()], [0, 1, 2, 'sim_'], 'no base fields on the second record: they carry over');
    assert.deepEqual([second.get(0), second.get(1), second.get(2), second.get('sim_')], ['humidity', '%RH', AIR.humidity, true]);
  });

  it('GET /env in SenML-JSON (110): the same pack with the JSON labels', async () => {
    const res = await get(client, '/env', FORMATS.SENML_JSON);
    assert.equal(res.code, '2.05');
    assert.equal(res.contentFormat, 110);
    const pack = JSON.parse(res.packet.payload.toString()) as Record<string, unknown>[];
    assert.equal(pack.length, 2);
    assert.deepEqual(Object.keys(pack[0]!), ['bn', 'bt', 'n', 'u', 'v', 'sim_']);
    assert.ok(isEpochSeconds(pack[0]!['bt']));
    assert.deepEqual({ ...pack[0], bt: 0 }, { bn: 'env/', bt: 0, n: 'temperature', u: 'Cel', v: AIR.temperature, sim_: true });
    assert.deepEqual(pack[1], { n: 'humidity', u: '%RH', v: AIR.humidity, sim_: true });
  });

  it('GET /env in CBOR (60, the default) and JSON (50): {sensor, time, sim, values: {<quantity>: {value, unit}}}', async () => {
    for (const accept of [undefined, FORMATS.CBOR, FORMATS.JSON]) {
      const res = await get(client, '/env', accept);
      assert.equal(res.code, '2.05');
      assert.equal(res.contentFormat, accept ?? 60);
      const map = accept === FORMATS.JSON ? new Map(Object.entries(JSON.parse(res.packet.payload.toString()) as object)) : (cbor(res.packet.payload) as Map<string, unknown>);
      assert.deepEqual([...map.keys()], ['sensor', 'time', 'sim', 'values']);
      assert.equal(map.get('sensor'), 'env');
      assert.ok(isEpochSeconds(map.get('time')));
      assert.equal(map.get('sim'), true);
      const values = map.get('values');
      const asObject = values instanceof Map ? Object.fromEntries([...values].map(([k, v]) => [k, Object.fromEntries(v as Map<string, unknown>)])) : values;
      assert.deepEqual(asObject, { temperature: { value: AIR.temperature, unit: 'Cel' }, humidity: { value: AIR.humidity, unit: '%RH' } });
    }
  });

  it('GET /env in text (0): one line per quantity, each marked simulated', async () => {
    const res = await get(client, '/env', FORMATS.TEXT);
    assert.equal(res.code, '2.05');
    const lines = res.packet.payload.toString().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, new RegExp(`^env/temperature ${AIR.temperature} Cel \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z simulated$`));
    assert.match(lines[1]!, new RegExp(`^env/humidity ${AIR.humidity} %RH \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z simulated$`));
  });

  it('GET /env/humidity answers as a single reading does, in every format', async () => {
    const map = cbor((await get(client, '/env/humidity', FORMATS.CBOR)).packet.payload) as Map<string, unknown>;
    assert.deepEqual([...map.keys()], ['sensor', 'value', 'unit', 'time', 'sim']);
    assert.deepEqual([map.get('sensor'), map.get('value'), map.get('unit'), map.get('sim')], ['env', AIR.humidity, '%RH', true]);
    const json = JSON.parse((await get(client, '/env/humidity', FORMATS.JSON)).packet.payload.toString()) as Record<string, unknown>;
    assert.deepEqual({ ...json, time: 0 }, { sensor: 'env', value: AIR.humidity, unit: '%RH', time: 0, sim: true });
    const senml = cbor((await get(client, '/env/humidity', FORMATS.SENML_CBOR)).packet.payload) as Map<number | string, unknown>[];
    assert.equal(senml.length, 1);
    assert.deepEqual([...senml[0]!.entries()].filter(([k]) => k !== -3), [[-2, 'env/'], [0, 'humidity'], [1, '%RH'], [2, AIR.humidity], ['sim_', true]]);
    const senmlJson = JSON.parse((await get(client, '/env/humidity', FORMATS.SENML_JSON)).packet.payload.toString()) as Record<string, unknown>[];
    assert.deepEqual({ ...senmlJson[0], bt: 0 }, { bn: 'env/', bt: 0, n: 'humidity', u: '%RH', v: AIR.humidity, sim_: true });
    assert.match((await get(client, '/env/humidity', FORMATS.TEXT)).packet.payload.toString(), new RegExp(`^env ${AIR.humidity} %RH \\S+Z simulated$`));
    const temperature = cbor((await get(client, '/env/temperature')).packet.payload) as Map<string, unknown>;
    assert.deepEqual([temperature.get('value'), temperature.get('unit')], [AIR.temperature, 'Cel']);
  });

  it('precision applies to a quantity, by query and by FETCH body (RFC 8132)', async () => {
    const byQuery = cbor((await get(client, '/env/humidity?precision=1')).packet.payload) as Map<string, unknown>;
    assert.equal(byQuery.get('value'), Number(AIR.humidity.toFixed(1)));
    // {"precision": 0} written out byte by byte (RFC 8949 preferred serialization).
    const body = Buffer.from('a1' + '69707265636973696f6e' + '00', 'hex');
    const fetched = await get(client, '/env/humidity', FORMATS.CBOR, { code: '0.05', payload: body, contentFormat: 60 });
    assert.equal(fetched.code, '2.05');
    assert.equal((cbor(fetched.packet.payload) as Map<string, unknown>).get('value'), Math.round(AIR.humidity));
  });

  it('unit=K converts a temperature quantity, and on the pack only the temperature', async () => {
    const kelvin = cbor((await get(client, '/env/temperature?unit=K')).packet.payload) as Map<string, unknown>;
    assert.deepEqual([kelvin.get('value'), kelvin.get('unit')], [Number((AIR.temperature + 273.15).toFixed(4)), 'K']);
    const pack = cbor((await get(client, '/env?unit=K', FORMATS.SENML_CBOR)).packet.payload) as Map<number, unknown>[];
    assert.deepEqual(pack.map((r) => [r.get(0), r.get(1), r.get(2)]), [['temperature', 'K', Number((AIR.temperature + 273.15).toFixed(4))], ['humidity', '%RH', AIR.humidity]]);
  });

  it('unit=K on the humidity is refused with 4.00 GW_ERR_REQUEST_BAD_PARAMETER, and the detail says why', async () => {
    for (const query of ['unit=K', 'unit=Cel', 'unit=degF']) {
      const res = await get(client, `/env/humidity?${query}`);
      assert.equal(res.code, '4.00', query);
      const { code, detail } = errorOf(res);
      assert.equal(code, 'GW_ERR_REQUEST_BAD_PARAMETER');
      assert.match(String(detail), /temperatures only/);
      assert.match(String(detail), /%RH/);
    }
  });

  it('an unknown quantity is 4.04, as any unknown path', async () => {
    assert.equal((await get(client, '/env/pressure')).code, '4.04');
  });

  it('the single-quantity TMP102 beside it is served as before (one record, rt=temperature)', async () => {
    const senml = cbor((await get(client, '/temp', FORMATS.SENML_CBOR)).packet.payload) as Map<number | string, unknown>[];
    assert.equal(senml.length, 1);
    assert.deepEqual([...senml[0]!.keys()], [-2, -3, 0, 1, 2, 'sim_']);
    assert.deepEqual([senml[0]!.get(-2), senml[0]!.get(0), senml[0]!.get(2)], ['tmp102/', 'temperature', 21.5]);
  });

  it('discovery lists the pack (rt="gw.sensor", if="core.b", its quantities) and each quantity with its rt, ct and unit', async () => {
    const res = await get(client, '/.well-known/core');
    assert.equal(res.code, '2.05');
    const links = res.packet.payload.toString().split(',');
    const CT = 'ct="60 112 110 50 0"';
    assert.ok(links.includes(`</env>;rt="gw.sensor";if="core.b";${CT};obs;sim=1;quantities="temperature humidity"`), links.join('\n'));
    assert.ok(links.includes(`</env/temperature>;rt="temperature";if="core.s";${CT};obs;sim=1;u="Cel"`), links.join('\n'));
    assert.ok(links.includes(`</env/humidity>;rt="humidity";if="core.s";${CT};obs;sim=1;u="%RH"`), links.join('\n'));
    assert.ok(links.includes(`</temp>;rt="temperature";if="core.s";${CT};obs;sim=1`), 'the TMP102 link is unchanged');
    // rt=temperature finds what answers one temperature: the TMP102 and /env/temperature, not the pack.
    const byRt = (await get(client, '/.well-known/core?rt=temperature')).packet.payload.toString();
    assert.deepEqual(byRt.split(',').map((l) => l.slice(0, l.indexOf('>') + 1)), ['</temp>', '</env/temperature>']);
  });
});

describe('a multi-quantity sensor over CoAP: Observe', () => {
  let gw: MultiQuantityGateway;
  let client: ObserveClient;
  afterEach(async () => {
    await client?.close();
    await gw?.close();
  });

  async function start() {
    gw = await startMultiQuantityGateway();
    client = await ObserveClient.open(gw.port);
    return { clock: gw.clock, chip: gw.sht3x };
  }

  it('Observe on /env notifies when any value changes, and not while none does', async () => {
    const { clock, chip } = await start();
    const reg = await client.request('/env', { token: Buffer.from('p') });
    assert.equal(reg.code, '2.05');
    assert.ok(reg.observe !== undefined, 'registered');
    const values = (r: { packet: { payload: Buffer } }) => {
      const v = (cbor(r.packet.payload) as Map<string, Map<string, Map<string, unknown>>>).get('values')!;
      return [v.get('temperature')!.get('value'), v.get('humidity')!.get('value')];
    };
    assert.deepEqual(values(reg), [AIR.temperature, AIR.humidity]);
    assert.deepEqual(await client.advance(clock, 1500), [], 'nothing changed');
    chip.setHumidity(41.5); // the humidity alone
    const byHumidity = await client.advance(clock, 1500);
    assert.equal(byHumidity.length, 1, 'one notification for the change');
    assert.deepEqual(values(byHumidity[0]!), [AIR.temperature, expected(25, 41.5).humidity]);
    chip.setTemperature(26.3); // the temperature alone
    const byTemperature = await client.advance(clock, 1500);
    assert.equal(byTemperature.length, 1);
    assert.deepEqual(values(byTemperature[0]!), [expected(26.3, 41.5).temperature, expected(26.3, 41.5).humidity]);
    assert.ok(byTemperature[0]!.observe! > byHumidity[0]!.observe!, 'sequence numbers increase (RFC 7641 section 3.4)');
  });

  it('Observe on /env/humidity with c.gt notifies on each crossing of the humidity, never for the temperature', async () => {
    const { clock, chip } = await start();
    const reg = await client.request('/env/humidity?c.gt=45', { token: Buffer.from('h') });
    assert.equal(reg.code, '2.05');
    assert.ok(reg.observe !== undefined);
    const step = async (change: () => void) => {
      change();
      return (await client.advance(clock, 1500)).map((r) => (r.cbor as { value: number }).value);
    };
    assert.deepEqual(await step(() => chip.setHumidity(44)), [], 'below 45: no crossing');
    assert.deepEqual(await step(() => chip.setTemperature(30)), [], 'the temperature is not this resource');
    assert.deepEqual(await step(() => chip.setHumidity(46.2)), [expected(30, 46.2).humidity], 'up across 45');
    assert.deepEqual(await step(() => chip.setHumidity(48)), [], 'still above');
    assert.deepEqual(await step(() => chip.setHumidity(44.5)), [expected(30, 44.5).humidity], 'down across 45');
  });

  it('conditions on the pack are refused: 4.00 GW_ERR_REQUEST_BAD_PARAMETER, the detail names /env/<quantity>; c.pmin is accepted', async () => {
    await start();
    for (const query of ['c.gt=30', 'lt=10', 'c.st=1']) {
      const res = await client.request(`/env?${query}`, { token: Buffer.from('x') });
      assert.equal(res.code, '4.00', query);
      assert.equal(res.observe, undefined, 'not registered (RFC 7641 section 4.1)');
      const { code, detail } = errorOf(res);
      assert.equal(code, 'GW_ERR_REQUEST_BAD_PARAMETER');
      assert.match(String(detail), /observe \/env\/<quantity>/);
    }
    const timed = await client.request('/env?c.pmin=2', { token: Buffer.from('y') });
    assert.equal(timed.code, '2.05');
    assert.ok(timed.observe !== undefined, 'c.pmin is about time, not a quantity');
  });
});

describe('a multi-quantity sensor over CoAP: paths', () => {
  it('a quantity whose path is another sensor\'s is not served, and the start-up log says so', async () => {
    const logger = new MemoryLogger();
    const gw = await startMultiQuantityGateway({
      logger,
      extraSensors: [{ name: 'duct', module: 'modules/tmp102.wasm', path: '/env/humidity', bus: 1, address: 0x49, simulation: { kind: 'constant', celsius: -3.5 } }],
    });
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const warning = logger.entries.find((e) => e.msg === 'quantity resource not served: the path is taken');
      assert.ok(warning, JSON.stringify(logger.entries.map((e) => e.msg)));
      assert.deepEqual([warning.fields?.['sensor'], warning.fields?.['quantity'], warning.fields?.['path']], ['env', 'humidity', '/env/humidity']);
      const res = await get(client, '/env/humidity');
      assert.equal((cbor(res.packet.payload) as Map<string, unknown>).get('sensor'), 'duct', 'the sensor configured there keeps its path');
      const pack = cbor((await get(client, '/env', FORMATS.SENML_CBOR)).packet.payload) as Map<number, unknown>[];
      assert.deepEqual(pack.map((r) => r.get(0)), ['temperature', 'humidity'], 'the pack still carries the humidity');
      const links = (await get(client, '/.well-known/core?href=/env/humidity')).packet.payload.toString();
      assert.equal(links, '</env/humidity>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs;sim=1', 'one link: the TMP102\'s');
    } finally {
      await client.close();
      await gw.close();
    }
  });
});

describe('a multi-quantity sensor in the router (a stub service)', () => {
  // A module with a registered and an unregistered unit, read every 4 s of the sensor's clock.
  const reading = {
    sensor: 'air', value: 21, unit: 'Cel', timeMs: 1767225600000, raw: 0, bits: 16, simulated: false,
    measurements: [{ quantity: 'temperature', unit: 'Cel', value: 21 }, { quantity: 'dust', unit: 'furlong', value: 3 }],
  };
  const service = {
    list: () => [{ config: { name: 'air', path: '/air' }, simulated: false }],
    info: () => ({ name: 'air', version: '1.0.0', quantity: 'temperature', unit: 'Cel', resolution: 0.1, periodMs: 4000, quantities: [{ name: 'temperature', unit: 'Cel', resolution: 0.1 }, { name: 'dust', unit: 'furlong', resolution: 1 }] }),
    alertSettings: () => undefined,
    peekFresh: () => ({ reading, freshForMs: 4000 }),
  } as unknown as SensorService;
  const view = (path: string): RequestView => ({ method: '0.01', path, query: [], accept: undefined, contentFormat: undefined, body: new Uint8Array() });
  const router = (timeScale?: number) => new Router({ service, logger: silentLogger, stats: { service, clock: new ManualClock() } as unknown as StatsSources, ...(timeScale === undefined ? {} : { timeScale }) });

  it('discovery never echoes a unit outside the SenML registry', () => {
    const r = router();
    try {
      const reply = r.dispatch(view('/.well-known/core')) as Reply;
      const links = Buffer.from(reply.payload).toString().split(',');
      assert.ok(links.includes('</air/temperature>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs;u="Cel"'), links.join('\n'));
      assert.ok(links.includes('</air/dust>;rt="dust";if="core.s";ct="60 112 110 50 0";obs'), links.join('\n'));
      assert.ok(!links.join(',').includes('furlong'));
    } finally {
      r.close();
    }
  });

  it('RouterOptions.timeScale reaches the pack and each quantity: Max-Age is the 4 s of freshness in real seconds', () => {
    for (const [scale, maxAge] of [[undefined, 4], [10, 1]] as const) {
      const r = router(scale);
      try {
        for (const path of ['/air', '/air/temperature']) assert.equal((r.dispatch(view(path)) as Reply).maxAge, maxAge, `${path} at scale ${scale}`);
      } finally {
        r.close();
      }
    }
  });
});
