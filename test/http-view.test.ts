/**
 * The HTTP view (docs/http.md) against a real gateway over real sockets: readings in every
 * format Accept can name, the same as CoAP gives (RFC 8075), the status mapping of errors
 * (406, 404, 405 with Allow, 503 with Retry-After from Max-Age), /gw/stats and discovery,
 * /metrics read by an independent parser (Python's prometheus_client), the event stream and its
 * bound, the access policy and the cross-site guard on writes, the `http` config section and
 * the coded listen error.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode, encode as cborEncodeBuffer } from 'cbor-x';
import { SystemClock } from '../drivers/clock.ts';
import { GatewayError } from '../gateway/errors.ts';
import { HttpView } from '../gateway/http/http-view.ts';
import { renderMetrics } from '../gateway/http/metrics.ts';
import { silentLogger } from '../gateway/log.ts';
import { parseHttp } from '../gateway/service/http-config.ts';
import { parseAccess } from '../gateway/service/security-config.ts';
import { type Response, confirmableGet } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { findExecutable, runPython, skipOrFail } from './helpers/peers.ts';
import { openEvents } from './helpers/sse-client.ts';

const clock = new SystemClock();
let gw: TestGateway;
let view: HttpView;
let base: string;

/** A confirmable GET over CoAP, piggybacked or separate (the first read may take a while). */
async function coapGet(path: string, accept?: number): Promise<Response> {
  const res = await confirmableGet(gw.port, path, { accept, timeoutMs: 3000 });
  assert.ok(res, `no CoAP response to GET ${path}`);
  return res;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(base + path, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A CBOR body fetch takes (its types refuse a Buffer). */
const cborEncode = (v: unknown): Uint8Array<ArrayBuffer> => new Uint8Array(cborEncodeBuffer(v));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  gw = await startTestGateway({ clock, simCelsius: 23.4375 });
  view = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server: gw.server, service: gw.service, logger: silentLogger, clock });
  base = `http://127.0.0.1:${view.port}`;
});

after(async () => {
  await view?.close();
  await gw?.close();
});

describe('readings over HTTP (RFC 8075)', () => {
  it('Accept: application/senml+json gives the same reading as a CoAP GET with Accept 110', async () => {
    const http = await get('/temp', { accept: 'application/senml+json' });
    assert.equal(http.status, 200);
    assert.equal(http.headers.get('content-type'), 'application/senml+json');
    assert.equal(http.headers.get('vary'), 'Accept', 'a cache keys the representation on Accept');
    assert.match(http.headers.get('cache-control') ?? '', /^max-age=\d+$/);
    const coap = await coapGet('/temp', 110);
    assert.equal(coap.code, '2.05');
    assert.equal(coap.contentFormat, 110);
    const [h] = JSON.parse(http.body.toString()) as Array<Record<string, unknown>>;
    const [c] = JSON.parse(coap.packet.payload.toString()) as Array<Record<string, unknown>>;
    assert.equal(h!['v'], 23.4375);
    for (const k of ['bn', 'n', 'u', 'v', 'sim_']) assert.deepEqual(h![k], c![k], k);
    assert.equal(h!['sim_'], true);
    assert.equal(http.headers.get('cache-control'), `max-age=${coap.maxAge}`);
  });

  const formats: Array<[string | undefined, string, (b: Buffer) => unknown]> = [
    [undefined, 'application/cbor', (b) => (cborDecode(b) as { value: number }).value],
    ['*/*', 'application/cbor', (b) => (cborDecode(b) as { value: number }).value],
    ['application/cbor', 'application/cbor', (b) => (cborDecode(b) as { value: number }).value],
    ['application/json', 'application/json', (b) => (JSON.parse(b.toString()) as { value: number }).value],
    ['application/senml+cbor', 'application/senml+cbor', (b) => (cborDecode(b) as Array<Map<number, unknown> | Record<number, unknown>>)[0]],
    ['text/plain', 'text/plain; charset=utf-8', (b) => b.toString().split(' ')[1]],
    ['image/png, application/json;q=0.5, text/plain;q=0.2', 'application/json', (b) => (JSON.parse(b.toString()) as { value: number }).value],
    ['text/html,application/xhtml+xml,*/*;q=0.8', 'application/cbor', (b) => (cborDecode(b) as { value: number }).value],
  ];
  for (const [accept, type, value] of formats) {
    it(`Accept ${accept ?? '(none)'} -> ${type}`, async () => {
      const r = await get('/temp', accept === undefined ? {} : { accept });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), type);
      const v = value(r.body);
      if (type === 'application/senml+cbor') {
        const rec = v as Record<number, unknown>;
        assert.equal(rec[2], 23.4375);
      } else assert.equal(Number(v), 23.4375);
    });
  }

  it('a unit in the query goes as a Uri-Query item', async () => {
    const r = await get('/temp?unit=K', { accept: 'application/json' });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body.toString()) as { value: number; unit: string };
    assert.equal(body.unit, 'K');
    assert.equal(body.value, 296.5875);
  });

  it('HEAD: the headers of a GET, no body', async () => {
    const res = await fetch(base + '/temp', { method: 'HEAD', headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });
});

describe('status mapping (RFC 8075 section 7)', () => {
  it('an Accept with no Content-Format: 406, and so is one the resource does not offer', async () => {
    const r = await get('/temp', { accept: 'image/png' });
    assert.equal(r.status, 406);
    assert.equal((cborDecode(r.body) as { code: string }).code, 'GW_ERR_REQUEST_NOT_ACCEPTABLE');
    const s = await get('/gw/stats', { accept: 'application/senml+json' });
    assert.equal(s.status, 406);
  });

  it('an unknown path: 404', async () => {
    const r = await get('/nothing/here');
    assert.equal(r.status, 404);
    assert.equal((cborDecode(r.body) as { code: string }).code, 'GW_ERR_REQUEST_NOT_FOUND');
  });

  it('4.05: 405 with the Allow the resource names', async () => {
    const r = await fetch(base + '/temp', { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    const s = await fetch(base + '/gw/stats', { method: 'PUT', headers: { 'content-type': 'application/cbor' }, body: cborEncode({}) });
    assert.equal(s.status, 405);
  });

  it('a method CoAP has no equivalent for: 501', async () => {
    const r = await fetch(base + '/temp', { method: 'OPTIONS' });
    assert.equal(r.status, 501);
  });

  it('/.well-known/core in link-format, /gw/stats in JSON', async () => {
    const wk = await get('/.well-known/core');
    assert.equal(wk.status, 200);
    assert.equal(wk.headers.get('content-type'), 'application/link-format');
    assert.match(wk.body.toString(), /<\/temp>;.*sim=1/);
    const st = await get('/gw/stats', { accept: 'application/json' });
    assert.equal(st.status, 200);
    assert.equal(st.headers.get('cache-control'), 'max-age=0');
    const stats = JSON.parse(st.body.toString()) as { simulatedSensors: string[]; sensors: Record<string, unknown> };
    assert.deepEqual(stats.simulatedSensors, ['tmp102']);
    assert.ok(stats.sensors['tmp102']);
  });
});

describe('/metrics', () => {
  it('parses with prometheus_client and carries the reading', async (t) => {
    const python = findExecutable('python3');
    if (python === undefined) return skipOrFail(t, 'python3 is not on PATH');
    const probe = await runPython(python, 'import prometheus_client', '');
    if (probe.code !== 0) return skipOrFail(t, 'prometheus_client is not installed (pip install prometheus_client)');
    await get('/temp'); // one response counted
    const res = await fetch(base + '/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const script = [
      'import sys, json',
      'from prometheus_client.parser import text_string_to_metric_families',
      'out = {}',
      'for f in text_string_to_metric_families(sys.stdin.read()):',
      '    out[f.name] = {"type": f.type, "help": f.documentation, "samples": [[s.name, s.labels, s.value] for s in f.samples]}',
      'print(json.dumps(out))',
    ].join('\n');
    const parsed = await runPython(python, script, text);
    assert.equal(parsed.code, 0, parsed.stderr);
    const families = JSON.parse(parsed.stdout) as Record<string, { type: string; help: string; samples: Array<[string, Record<string, string>, number]> }>;
    const temp = families['coapgw_sensor_temperature_celsius'];
    assert.ok(temp, Object.keys(families).join(' '));
    assert.equal(temp.type, 'gauge');
    assert.deepEqual(temp.samples, [['coapgw_sensor_temperature_celsius', { sensor: 'tmp102', quantity: 'temperature', unit: 'Cel', simulated: 'true' }, 23.4375]]);
    // prometheus_client names a counter family without its _total.
    for (const name of ['coapgw_i2c_transactions', 'coapgw_module_calls', 'coapgw_http_responses']) assert.equal(families[name]?.type, 'counter', name);
    assert.ok(families['coapgw_i2c_transactions']!.samples[0]![2] > 0);
    assert.ok(families['coapgw_http_responses']!.samples.some(([, l, v]) => l['status'] === '200' && v >= 1));
    for (const name of ['coapgw_uptime_seconds', 'coapgw_coap_observers', 'coapgw_sensor_simulated']) assert.equal(families[name]?.type, 'gauge', name);
    for (const f of Object.values(families)) assert.notEqual(f.help, '', 'every family has HELP');
    assert.ok(!('coapgw_uplink_state' in families), 'no uplink without one');
  });
});

describe('/metrics of an uplink', () => {
  it('the uplink object of /gw/stats, when there is one: its state and numbers, parsed by prometheus_client', async (t) => {
    const python = findExecutable('python3');
    if (python === undefined) return skipOrFail(t, 'python3 is not on PATH');
    if ((await runPython(python, 'import prometheus_client', '')).code !== 0) return skipOrFail(t, 'prometheus_client is not installed (pip install prometheus_client)');
    // The shape MqttUplink.stats() has (docs/uplink.md).
    const stats = { ...gw.server.stats(), uplink: { state: 'connected', broker: 'mqtt://127.0.0.1:1883', gatewayId: 'pi', published: 17, buffered: 3, bufferSize: 10000, dropped: 2, lastError: 'GW_ERR_UPLINK_UNREACHABLE' } };
    const text = renderMetrics({ stats, readings: [], failures: [], http: { responses: new Map(), eventClients: 0 } });
    const script = 'import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families\nprint(json.dumps({f.name: [f.type, [[s.name, s.labels, s.value] for s in f.samples]] for f in text_string_to_metric_families(sys.stdin.read())}))';
    const parsed = await runPython(python, script, text);
    assert.equal(parsed.code, 0, parsed.stderr);
    const families = JSON.parse(parsed.stdout) as Record<string, [string, Array<[string, Record<string, string>, number]>]>;
    assert.deepEqual(families['coapgw_uplink_state'], ['gauge', [['coapgw_uplink_state', { state: 'connected' }, 1]]]);
    assert.deepEqual(families['coapgw_uplink_buffered'], ['gauge', [['coapgw_uplink_buffered', {}, 3]]]);
    assert.deepEqual(families['coapgw_uplink_buffer_size'], ['gauge', [['coapgw_uplink_buffer_size', {}, 10000]]]);
    assert.deepEqual(families['coapgw_uplink_published'], ['counter', [['coapgw_uplink_published_total', {}, 17]]]);
    assert.deepEqual(families['coapgw_uplink_dropped'], ['counter', [['coapgw_uplink_dropped_total', {}, 2]]]);
  });
});

describe('/events (Server-Sent Events)', () => {
  it('sends hello, then readings that follow the temperature', async () => {
    const events = await openEvents(base + '/events');
    try {
      assert.equal(events.status, 200);
      assert.equal(events.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const hello = await events.next();
      assert.equal(hello?.event, 'hello');
      const h = JSON.parse(hello.data) as { sensors: Array<{ name: string; simulated: boolean }> };
      assert.deepEqual(h.sensors.map((s) => [s.name, s.simulated]), [['tmp102', true]]);
      const values = new Set<number>();
      const deadline = Date.now() + 8000;
      let step = 0;
      while (values.size < 2 && Date.now() < deadline) {
        gw.sim.setTemperature(20 + (step++ % 4) * 0.5);
        const e = await events.next(2000);
        if (e?.event !== 'reading') continue;
        const r = JSON.parse(e.data) as { sensor: string; value: number; simulated: boolean; unit: string };
        assert.equal(r.sensor, 'tmp102');
        assert.equal(r.simulated, true);
        assert.equal(r.unit, 'Cel');
        values.add(r.value);
      }
      assert.ok(values.size >= 2, `changing values, got ${[...values].join(', ')}`);
    } finally {
      events.close();
      gw.sim.setTemperature(23.4375);
    }
  });

  it('bounds the open streams: 503 with Retry-After past the limit', async () => {
    const small = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server: gw.server, service: gw.service, logger: silentLogger, clock, maxEventClients: 2 });
    const url = `http://127.0.0.1:${small.port}/events`;
    const a = await openEvents(url);
    const b = await openEvents(url);
    try {
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const c = await openEvents(url);
      assert.equal(c.status, 503);
      assert.ok(Number(c.headers.get('retry-after')) > 0);
      c.close();
      a.close();
      // The server sees the close a moment later; then there is room again.
      let d = await openEvents(url);
      for (let i = 0; i < 20 && d.status !== 200; i++) {
        d.close();
        await sleep(50);
        d = await openEvents(url);
      }
      assert.equal(d.status, 200);
      d.close();
    } finally {
      a.close();
      b.close();
      await small.close();
    }
  });

  it('close() ends the open streams', async () => {
    const other = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server: gw.server, service: gw.service, logger: silentLogger, clock });
    const s = await openEvents(`http://127.0.0.1:${other.port}/events`);
    assert.equal((await s.next())?.event, 'hello');
    await other.close();
    let e = await s.next(2000);
    while (e !== undefined && e.event === 'reading') e = await s.next(2000);
    assert.equal(e, undefined);
    s.close();
  });
});

describe('writes over HTTP', () => {
  it('pass the access policy as loopback: PUT /temp/alert changes the settings (2.04 with a body: 200)', async () => {
    const res = await fetch(base + '/temp/alert', { method: 'PUT', headers: { 'content-type': 'application/cbor', accept: 'application/json' }, body: cborEncode({ high: 90 }) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal((JSON.parse(await res.text()) as { high: number }).high, 90);
    const now = await get('/temp/alert', { accept: 'application/json' });
    assert.equal((JSON.parse(now.body.toString()) as { high: number }).high, 90);
  });

  it('are refused from another site (Origin) and through a host name (DNS rebinding)', async () => {
    const body = cborEncode({ high: 95 });
    const origin = await fetch(base + '/temp/alert', { method: 'PUT', headers: { 'content-type': 'application/cbor', origin: 'http://evil.example' }, body });
    assert.equal(origin.status, 403);
    // fetch may not set Host (a forbidden header name); node:http can.
    const named = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: view.port, path: '/temp/alert', method: 'PUT', headers: { 'content-type': 'application/cbor', host: 'evil.example:8080' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(named, 421, 'a Host that is not a name of this gateway: 421 Misdirected Request');
    const now = await get('/temp/alert', { accept: 'application/json' });
    assert.equal((JSON.parse(now.body.toString()) as { high: number }).high, 90);
  });

  it('reads through a host name that is not this gateway (DNS rebinding) are refused too: 421; its own name and allowedHosts pass', async () => {
    const status = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: view.port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    for (const path of ['/temp', '/gw/stats', '/metrics', '/events', '/']) assert.equal(await status(path, 'attacker.example'), 421, path);
    assert.equal(await status('/temp', `localhost:${view.port}`), 200);
    assert.equal(await status('/temp', `${hostname()}:${view.port}`), 200, 'the machine own name');
    assert.equal(await status('/temp', `[::1]:${view.port}`), 200);
  });

  it('/metrics leaves out the readings the policy refuses this requester, even when it may see /gw/stats', async () => {
    const access = parseAccess({ rules: [{ path: '/temp', methods: ['GET', 'FETCH'], allow: ['oscore'] }] });
    const clock = new SystemClock();
    const locked = await startTestGateway({ access, clock, simCelsius: 19.25 });
    const lockedView = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server: locked.server, service: locked.service, logger: silentLogger, clock });
    try {
      const b = `http://127.0.0.1:${lockedView.port}`;
      assert.equal((await fetch(b + '/temp')).status, 403);
      const m = await fetch(b + '/metrics');
      assert.equal(m.status, 200, '/gw/stats is this machine own (default rule 1)');
      const text = await m.text();
      assert.doesNotMatch(text, /^coapgw_sensor_temperature_celsius\{/m, 'no reading of /temp');
      assert.match(text, /^coapgw_i2c_transactions_total /m);
    } finally {
      await lockedView.close();
      await locked.close();
    }
  });

  it('a write the access policy keeps for OSCORE clients: 4.01 -> 403 (RFC 8075 note 5), nothing changed', async () => {
    const access = parseAccess({ rules: [{ path: '/temp/alert', methods: ['PUT'], allow: ['oscore'] }, { path: '/gw/*', methods: ['*'], allow: ['oscore'] }] });
    const locked = await startTestGateway({ access });
    const lockedView = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server: locked.server, service: locked.service, logger: silentLogger, clock: locked.clock });
    try {
      const url = `http://127.0.0.1:${lockedView.port}`;
      const put = await fetch(url + '/temp/alert', { method: 'PUT', headers: { 'content-type': 'application/cbor' }, body: cborEncode({ high: 90 }) });
      assert.equal(put.status, 403);
      assert.equal((cborDecode(Buffer.from(await put.arrayBuffer())) as { code: string }).code, 'GW_ERR_ACCESS_UNAUTHORIZED');
      assert.equal(put.headers.get('www-authenticate'), null);
      assert.equal(locked.service.alertSettings('tmp102')?.high, 80);
      // /metrics is /gw/stats: the same rule refuses it.
      assert.equal((await fetch(url + '/metrics')).status, 403);
    } finally {
      await lockedView.close();
      await locked.close();
    }
  });

  it('a body past the CoAP limit: 413; a Content-Type with no Content-Format: 415', async () => {
    const big = await fetch(base + '/temp/alert', { method: 'PUT', headers: { 'content-type': 'application/cbor' }, body: new Uint8Array(1000) });
    assert.equal(big.status, 413);
    const form = await fetch(base + '/temp/alert', { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'high=60' });
    assert.equal(form.status, 415);
  });
});

describe('configuration and binding', () => {
  it('parseHttp: absent is off, {} is 127.0.0.1:8080, errors name the field', () => {
    assert.equal(parseHttp(undefined), undefined);
    assert.deepEqual(parseHttp({}), { host: '127.0.0.1', port: 8080, allowedHosts: [] });
    assert.deepEqual(parseHttp({ host: '::', port: 9000, allowedHosts: ['Gateway.lan'] }), { host: '::', port: 9000, allowedHosts: ['gateway.lan'] });
    const cases: Array<[unknown, string]> = [
      [true, 'http'],
      [{ port: 0 }, 'http.port'],
      [{ port: '8080' }, 'http.port'],
      [{ port: 70000 }, 'http.port'],
      [{ host: '' }, 'http.host'],
      [{ host: 'bad host' }, 'http.host'],
      [{ colour: 'red' }, 'http.colour'],
      [{ allowedHosts: 'gw.lan' }, 'http.allowedHosts'],
      [{ allowedHosts: ['bad host'] }, 'http.allowedHosts[0]'],
    ];
    for (const [v, field] of cases) {
      assert.throws(() => parseHttp(v), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_CONFIG_INVALID' && (e.details.detail ?? '').startsWith(`${field}:`), JSON.stringify(v));
    }
  });

  it('a port in use: GW_ERR_LISTEN_IN_USE', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(HttpView.start({ config: { host: '127.0.0.1', port }, server: gw.server, service: gw.service, logger: silentLogger, clock }), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_LISTEN_IN_USE');
      await assert.rejects(HttpView.start({ config: { host: '192.0.2.1', port: 0 }, server: gw.server, service: gw.service, logger: silentLogger, clock }), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_LISTEN_ADDRESS_UNAVAILABLE');
    } finally {
      blocker.close();
    }
  });
});

describe('a failing sensor', () => {
  it('5.03 -> 503 with Retry-After from Max-Age, the same as over CoAP', async () => {
    gw.sim.inject('unplugged');
    await sleep(300); // past the conversion period: the cached reading is no longer fresh
    const r = await get('/temp', { accept: 'application/json' });
    assert.equal(r.status, 503);
    const coap = await coapGet('/temp');
    assert.equal(coap.code, '5.03');
    assert.equal(r.headers.get('retry-after'), String(coap.maxAge));
    assert.equal(r.headers.get('cache-control'), `max-age=${coap.maxAge}`);
    assert.ok(['GW_ERR_I2C_NACK', 'GW_ERR_SENSOR_NOT_READY', 'GW_ERR_I2C_BUS'].includes((cborDecode(r.body) as { code: string }).code));
    const metrics = await (await fetch(base + '/metrics')).text();
    assert.match(metrics, /^coapgw_sensor_up\{sensor="tmp102",code="GW_ERR_[A-Z0-9_]+"\} 0$/m);
  });
});
