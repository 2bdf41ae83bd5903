/**
 * The HTTP view with a multi-quantity sensor (ABI 1.1, issue 14): the shipped SHT3x module
 * (modules/sht3x.wasm, temperature and humidity) on the simulated SHT3x at 0x44, beside the
 * simulated TMP102. The reading at /env over HTTP is what CoAP answers (RFC 8075: the view
 * maps through GatewayServer.proxied and formats nothing itself), in the CoAP front's
 * multi-quantity shape; /metrics has one sample per quantity, read by Python's
 * prometheus_client; /events carries every quantity; the live page shows them (Chromium).
 *
 * The simulated SHT3x is chosen from the configuration (`simulation.device: "sht3x"`), and both
 * chips are reported simulated: every representation must say so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode } from 'cbor-x';
import puppeteer from 'puppeteer-core';
import { SystemClock } from '../drivers/clock.ts';
import { GatewayServer } from '../gateway/coap/server.ts';
import { HttpView } from '../gateway/http/http-view.ts';
import { renderMetrics } from '../gateway/http/metrics.ts';
import { silentLogger } from '../gateway/log.ts';
import { parseConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { type Response, confirmableGet } from './helpers/coap-datagram.ts';
import { findExecutable, runPython, skipOrFail } from './helpers/peers.ts';
import { openEvents } from './helpers/sse-client.ts';

const SHT3X_WASM = new URL('../modules/sht3x.wasm', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';


let service: SensorService;
let server: GatewayServer;
let view: HttpView;
let base: string;

async function coapGet(path: string, accept?: number): Promise<Response> {
  const res = await confirmableGet(server.port, path, { accept, timeoutMs: 3000 });
  assert.ok(res, `no CoAP response to GET ${path}`);
  return res;
}

async function get(path: string, accept?: string): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await fetch(base + path, { headers: accept === undefined ? {} : { accept } });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

/** A reading's JSON without its time (two reads a moment apart of constant profiles differ only there). */
function untimed(json: string): unknown {
  const { time: _t, ...rest } = JSON.parse(json) as Record<string, unknown>;
  return rest;
}

const PARSE = [
  'import sys, json',
  'from prometheus_client.parser import text_string_to_metric_families',
  'print(json.dumps({f.name: {"type": f.type, "help": f.documentation, "samples": [[s.name, s.labels, s.value] for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())}))',
].join('\n');
type Families = Record<string, { type: string; help: string; samples: Array<[string, Record<string, string>, number]> }>;

describe('renderMetrics: one sample per quantity, in Prometheus base units', () => {
  const render = (measurements: Array<{ quantity: string; unit: string; value: number }>) =>
    renderMetrics({ stats: {}, readings: [{ sensor: 's', simulated: false, timeMs: 0, measurements }], failures: [], http: { responses: new Map(), eventClients: 0 } });

  it('%RH as a ratio 0..1, hPa as pascals, each in a family of its quantity', () => {
    const text = render([{ quantity: 'temperature', unit: 'Cel', value: 21.53 }, { quantity: 'humidity', unit: '%RH', value: 45.21 }, { quantity: 'pressure', unit: 'hPa', value: 1013.25 }]);
    assert.match(text, /^coapgw_sensor_temperature_celsius\{sensor="s",quantity="temperature",unit="Cel",simulated="false"\} 21\.53$/m);
    assert.match(text, /^coapgw_sensor_humidity_ratio\{sensor="s",quantity="humidity",unit="%RH",simulated="false"\} 0\.4521$/m);
    assert.match(text, /^coapgw_sensor_pressure_pascals\{sensor="s",quantity="pressure",unit="hPa",simulated="false"\} 101325$/m);
    assert.match(text, /^# TYPE coapgw_sensor_humidity_ratio gauge$/m);
  });

  it('a unit with no base unit here, or a quantity that would spell a family of the gateway\'s own, goes to coapgw_sensor_value', () => {
    const text = render([{ quantity: 'co2', unit: 'ppm', value: 612 }, { quantity: 'reading_timestamp', unit: 's', value: 3 }]);
    assert.match(text, /^coapgw_sensor_value\{sensor="s",quantity="co2",unit="ppm",simulated="false"\} 612$/m);
    assert.match(text, /^coapgw_sensor_value\{sensor="s",quantity="reading_timestamp",unit="s",simulated="false"\} 3$/m);
    assert.doesNotMatch(text, /^coapgw_sensor_reading_timestamp_seconds\{sensor="s",quantity=/m);
  });
});

describe('HTTP view with a multi-quantity sensor', { skip: existsSync(SHT3X_WASM) ? undefined : 'modules/sht3x.wasm is not built' }, () => {
  before(async () => {
    const clock = new SystemClock();
    const config = parseConfig({
      driver: 'simulated',
      sensors: [
        { name: 'tmp102', path: '/temp', simulation: { kind: 'constant', celsius: 21.5 } },
        { name: 'env', path: '/env', address: 0x44, module: SHT3X_WASM, simulation: { device: 'sht3x', temperature: { kind: 'constant', celsius: 23.7 }, humidity: { kind: 'constant', percent: 61.3 } } },
      ],
    }, ROOT);
    service = await SensorService.start(config, { clock, logger: silentLogger, isolation: 'in-thread' });
    server = await GatewayServer.start({ service, logger: silentLogger, clock, host: '127.0.0.1', port: 0 });
    view = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server, service, logger: silentLogger, clock });
    base = `http://127.0.0.1:${view.port}`;
  });

  after(async () => {
    await view?.close();
    await server?.close();
    await service?.close();
  });

  it('JSON and CBOR at /env: every quantity, the CoAP front\'s shape, the same as CoAP answers', async () => {
    const http = await get('/env', 'application/json');
    assert.equal(http.status, 200);
    assert.equal(http.type, 'application/json');
    const coap = await coapGet('/env', 50);
    assert.equal(coap.code, '2.05');
    assert.deepEqual(untimed(http.body.toString()), untimed(coap.packet.payload.toString()));
    const body = JSON.parse(http.body.toString()) as { sensor: string; time: number; sim?: boolean; values?: Record<string, { value: number; unit: string }> };
    assert.equal(body.sensor, 'env');
    assert.equal(body.sim, true);
    assert.equal(typeof body.time, 'number');
    assert.deepEqual(Object.keys(body.values ?? {}), ['temperature', 'humidity'], JSON.stringify(body));
    assert.equal(body.values!['temperature']!.unit, 'Cel');
    assert.equal(body.values!['humidity']!.unit, '%RH');
    assert.ok(Math.abs(body.values!['temperature']!.value - 23.7) < 0.01);
    assert.ok(Math.abs(body.values!['humidity']!.value - 61.3) < 0.01);
    const cbor = await get('/env', 'application/cbor');
    assert.equal(cbor.type, 'application/cbor');
    const coapCbor = await coapGet('/env', 60);
    const { time: _a, ...h } = cborDecode(cbor.body) as Record<string, unknown>;
    const { time: _b, ...c } = cborDecode(coapCbor.packet.payload) as Record<string, unknown>;
    assert.deepEqual(h, c);
    assert.deepEqual(Object.keys(h['values'] as object), ['temperature', 'humidity']);
  });

  it('SenML at /env: one record per quantity, as over CoAP; /env/humidity as a single-quantity reading', async () => {
    const http = await get('/env', 'application/senml+json');
    assert.equal(http.status, 200);
    const coap = await coapGet('/env', 110);
    const strip = (json: string) => (JSON.parse(json) as Array<Record<string, unknown>>).map(({ bt: _bt, ...r }) => r);
    assert.deepEqual(strip(http.body.toString()), strip(coap.packet.payload.toString()));
    assert.deepEqual(strip(http.body.toString()).map((r) => [r['n'], r['u']]), [['temperature', 'Cel'], ['humidity', '%RH']]);
    const one = await get('/env/humidity', 'application/json');
    assert.equal(one.status, 200);
    const coapOne = await coapGet('/env/humidity', 50);
    assert.deepEqual(untimed(one.body.toString()), untimed(coapOne.packet.payload.toString()));
    assert.equal((JSON.parse(one.body.toString()) as { unit: string }).unit, '%RH');
  });

  it('/metrics: one gauge sample per quantity, labelled sensor and quantity, parsed by prometheus_client', async (t) => {
    const python = findExecutable('python3');
    if (python === undefined) return skipOrFail(t, 'python3 is not on PATH');
    if ((await runPython(python, 'import prometheus_client', '')).code !== 0) return skipOrFail(t, 'prometheus_client is not installed (pip install prometheus_client)');
    const text = await (await fetch(base + '/metrics')).text();
    const parsed = await runPython(python, PARSE, text);
    assert.equal(parsed.code, 0, parsed.stderr);
    const families = JSON.parse(parsed.stdout) as Families;
    const reading = await service.read('env');
    const [t0, h0] = reading.measurements;
    const temp = families['coapgw_sensor_temperature_celsius'];
    assert.equal(temp?.type, 'gauge');
    assert.deepEqual(temp.samples.map(([, l]) => l).sort((a, b) => a['sensor']!.localeCompare(b['sensor']!)), [
      { sensor: 'env', quantity: 'temperature', unit: 'Cel', simulated: 'true' },
      { sensor: 'tmp102', quantity: 'temperature', unit: 'Cel', simulated: 'true' },
    ]);
    assert.equal(temp.samples.find(([, l]) => l['sensor'] === 'env')![2], t0!.value);
    const hum = families['coapgw_sensor_humidity_ratio'];
    assert.equal(hum?.type, 'gauge');
    assert.deepEqual(hum.samples, [['coapgw_sensor_humidity_ratio', { sensor: 'env', quantity: 'humidity', unit: '%RH', simulated: 'true' }, Number((h0!.value / 100).toPrecision(15))]]);
    assert.ok(hum.samples[0]![2] > 0.6 && hum.samples[0]![2] < 0.62, 'a ratio 0..1');
    // One timestamp and one up per sensor, not per quantity.
    assert.equal(families['coapgw_sensor_reading_timestamp_seconds']!.samples.filter(([, l]) => l['sensor'] === 'env').length, 1);
    assert.equal(families['coapgw_sensor_up']!.samples.filter(([, l]) => l['sensor'] === 'env').length, 1);
  });

  it('/events: hello lists the quantities; a reading carries every value', async () => {
    const events = await openEvents(base + '/events');
    try {
      const hello = await events.next();
      assert.equal(hello?.event, 'hello');
      const h = JSON.parse(hello.data) as { sensors: Array<{ name: string; quantities: Array<{ name: string; unit: string }> }> };
      assert.deepEqual(h.sensors.find((s) => s.name === 'env')?.quantities, [{ name: 'temperature', unit: 'Cel' }, { name: 'humidity', unit: '%RH' }]);
      assert.deepEqual(h.sensors.find((s) => s.name === 'tmp102')?.quantities, [{ name: 'temperature', unit: 'Cel' }]);
      let env: Record<string, unknown> | undefined;
      let tmp: Record<string, unknown> | undefined;
      const deadline = Date.now() + 5000;
      while ((env === undefined || tmp === undefined) && Date.now() < deadline) {
        const e = await events.next(2000);
        if (e?.event !== 'reading') continue;
        const r = JSON.parse(e.data) as Record<string, unknown>;
        if (r['sensor'] === 'env') env = r;
        else tmp = r;
      }
      assert.ok(env && tmp, 'a reading of each sensor');
      const values = env['values'] as Record<string, { value: number; unit: string }>;
      assert.deepEqual(Object.keys(values), ['temperature', 'humidity']);
      assert.equal(values['humidity']!.unit, '%RH');
      assert.equal(env['value'], values['temperature']!.value, 'value and unit stay the primary quantity\'s');
      assert.ok(!('values' in tmp), 'a single-quantity reading is as before');
    } finally {
      events.close();
    }
  });

  it('the live page shows both quantities of the SHT3x, each with its chart, and the TMP102 as before', async (t) => {
    if (!existsSync(CHROMIUM)) return skipOrFail(t, `${CHROMIUM} is not installed (apt-get install chromium)`);
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'], defaultViewport: { width: 900, height: 700 } });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(base + '/', { waitUntil: 'domcontentloaded' });
      const shown = (sel: string) => page.waitForFunction((s) => /\d/.test(document.querySelector(s)?.textContent ?? ''), { timeout: 8000 }, sel);
      await shown('[data-sensor="env"] [data-quantity="humidity"] .value');
      await shown('[data-sensor="env"] [data-quantity="temperature"] .value');
      await shown('[data-sensor="tmp102"] .value');
      const text = (sel: string) => page.$eval(sel, (e) => e.textContent ?? '');
      assert.match(await text('[data-sensor="env"] [data-quantity="humidity"] .value'), /^61\.\d+ %RH$/);
      assert.match(await text('[data-sensor="env"] [data-quantity="temperature"] .value'), /^23\.\d+ °C$/);
      assert.equal(await text('[data-sensor="tmp102"] .value'), '21.5 °C');
      assert.equal(await page.$$eval('[data-sensor="env"] svg', (s) => s.length), 2, 'one chart per quantity');
      assert.equal(await page.$$eval('[data-sensor="tmp102"] svg', (s) => s.length), 1);
      assert.equal(await page.$$eval('[data-sensor="tmp102"] [data-quantity]', (s) => s.length), 0, 'a single-quantity card as before');
      assert.equal(await page.$eval('[data-sensor="env"] .sim', (e) => !(e as HTMLElement).hidden), true, 'SIMULATED shown');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
