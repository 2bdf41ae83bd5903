/**
 * The TMP102 thermostat over CoAP: GET/PUT /temp/alert (CBOR and JSON, validation, a module
 * refusal as 4.00), and an over-temperature raising ALERT so that observers hear of it before
 * the next paced read.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import type { SensorUpdate } from '../gateway/service/sensor-feed.ts';
import { RawClient, type Response, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient, nowMs } from './helpers/observe-client.ts';

const CBOR_CF = { name: 'Content-Format', value: uint(60) };

describe('/temp/alert', () => {
  let gw: TestGateway;
  let client: RawClient;
  beforeEach(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  afterEach(async () => {
    await client.close();
    await gw.close();
  });

  const get = (accept?: number) => client.exchange(requestDatagram({ options: [...pathOptions('/temp/alert'), ...(accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }])] }));
  const put = (body: Buffer, options = [CBOR_CF]) => client.exchange(requestDatagram({ code: '0.03', options: [...pathOptions('/temp/alert'), ...options], payload: body }));
  const errorCode = (r: Response | undefined) => [r?.code, (r?.cbor as { code?: string } | undefined)?.code];

  it('GET returns the chip\'s settings as CBOR, or JSON with Accept 50; other Accepts get 4.06', async () => {
    const res = await get();
    assert.equal(res?.code, '2.05');
    assert.equal(res.contentFormat, 60);
    assert.deepEqual(res.cbor, { high: 80, low: 75, mode: 'comparator', polarity: 'active-low', faults: 1 });
    const json = await get(50);
    assert.equal(json?.contentFormat, 50);
    assert.deepEqual(JSON.parse(json.packet.payload.toString()), { high: 80, low: 75, mode: 'comparator', polarity: 'active-low', faults: 1 });
    assert.equal((await get(0))?.code, '4.06');
  });

  it('PUT with a CBOR map changes some settings: 2.04 with all of them', async () => {
    // {"high": 30.5, "low": -10, "mode": "interrupt", "faults": 4}, written out byte by byte.
    const body = Buffer.from('a4' + '6468696768' + 'f94fa0' + '636c6f77' + '29' + '646d6f6465' + '69696e74657272757074' + '666661756c7473' + '04', 'hex');
    const res = await put(body);
    assert.equal(res?.code, '2.04');
    assert.deepEqual(res.cbor, { high: 30.5, low: -10, mode: 'interrupt', polarity: 'active-low', faults: 4 });
    assert.deepEqual(gw.service.alertSettings('tmp102'), { high: 30.5, low: -10, mode: 'interrupt', polarity: 'active-low', faults: 4 });
  });

  it('refuses bad bodies before the module sees them, and a combination the module refuses with 4.00', async () => {
    const hex = (h: string) => Buffer.from(h, 'hex');
    assert.deepEqual(errorCode(await put(hex('a1646869676863686f74'))), ['4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'], 'high: "hot"');
    assert.deepEqual(errorCode(await put(hex('a1666661756c747303'))), ['4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'], 'faults: 3');
    assert.deepEqual(errorCode(await put(hex('a1646d6f646564736f6d65'))), ['4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'], 'mode: "some"');
    assert.deepEqual(errorCode(await put(hex('a1656f7468657201'))), ['4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'], 'unknown key');
    assert.deepEqual(errorCode(await put(hex('a0'))), ['4.00', 'GW_ERR_REQUEST_BAD_PARAMETER'], 'empty map');
    assert.deepEqual(errorCode(await put(hex('a164686967'))), ['4.00', 'GW_ERR_REQUEST_BAD_CBOR'], 'truncated');
    assert.deepEqual(errorCode(await put(hex('a1646869676818'), [])), ['4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT'], 'no Content-Format');
    assert.deepEqual(errorCode(await put(Buffer.alloc(300, 0x61))), ['4.13', 'GW_ERR_REQUEST_TOO_LARGE']);
    // low 90 with high 80: valid types, refused by the module.
    assert.deepEqual(errorCode(await put(hex('a1636c6f77185a'))), ['4.00', 'GW_ERR_REQUEST_SETTINGS_REFUSED']);
    assert.deepEqual(gw.service.alertSettings('tmp102'), { high: 80, low: 75, mode: 'comparator', polarity: 'active-low', faults: 1 }, 'nothing changed');
    const post = await client.exchange(requestDatagram({ code: '0.02', options: pathOptions('/temp/alert') }));
    assert.deepEqual(errorCode(post), ['4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED']);
  });
});

describe('ALERT: an over-temperature reaches observers ahead of the pacing', () => {
  let gw: TestGateway;
  let client: ObserveClient;
  afterEach(async () => {
    await client?.close();
    await gw?.close();
  });

  it('PUT /temp/alert with a low high limit, then a hot chip: the notification comes before the next paced read', async () => {
    gw = await startTestGateway({ simCelsius: 25 });
    const clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    const put = await client.raw.exchange(requestDatagram({ code: '0.03', options: [...pathOptions('/temp/alert'), CBOR_CF], payload: Buffer.from('a2646869676818' + '1e' + '636c6f77181c', 'hex') }));
    assert.equal(put?.code, '2.04', JSON.stringify(put?.cbor));
    const updates: Array<{ cause: string; value: number | undefined; at: number }> = [];
    gw.service.subscribe('tmp102', (u: SensorUpdate) => updates.push({ cause: u.cause, value: u.ok ? u.reading.reading.value : undefined, at: nowMs(clock) }));
    const reg = await client.request('/temp', { token: Buffer.from('hot') });
    assert.equal(reg.code, '2.05');
    assert.deepEqual(await client.advance(clock, 600, 5), []);
    gw.sim.setTemperature(35);
    const seen = await client.advance(clock, 600, 5);
    const hot = seen.find((n) => (n.cbor as { value: number }).value === 35);
    assert.ok(hot, `a notification with 35 °C: ${JSON.stringify(updates)}`);
    const alert = updates.find((u) => u.cause === 'alert' && u.value === 35);
    assert.ok(alert, `the feed read on the ALERT edge: ${JSON.stringify(updates)}`);
    const lastPaced = updates.filter((u) => u.cause === 'period' && u.at <= alert.at).at(-1)!;
    const period = gw.service.info('tmp102')!.periodMs;
    assert.ok(alert.at - lastPaced.at < period, `the alert read (${alert.at}) came before the paced read due at ${lastPaced.at + period}`);
    assert.ok(hot.atMs < lastPaced.at + period, `notified at ${hot.atMs}, before the next paced read at ${lastPaced.at + period}`);
    assert.equal(updates.filter((u) => u.value === 35)[0], alert, 'the first read to see 35 °C was the alert read');
    assert.ok(gw.service.stats().sensors['tmp102']!.alertEdges >= 1);
  });
});
