/**
 * The CoAP front over real UDP sockets: every response code the gateway can send, reached with
 * a real datagram. Raw datagrams (coap-packet) where node-coap's client could not send them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { GatewayServer } from '../gateway/coap/server.ts';
import { ERROR_CODES } from '../gateway/errors.ts';
import { silentLogger } from '../gateway/log.ts';
import { PROJECT_ROOT, defaultConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { RawClient, type Response, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { TEST_MODULES_SKIP } from './helpers/chain.ts';

const CBOR_CF = { name: 'Content-Format', value: uint(60) };

function get(path: string, extra: { name: string; value: Buffer }[] = [], more: Parameters<typeof requestDatagram>[0] = {}): Buffer {
  return requestDatagram({ ...more, options: [...pathOptions(path), ...extra] });
}

function assertError(res: Response | undefined, code: string, errorCode: string): asserts res is Response {
  assert.ok(res, `no response, expected ${code}`);
  assert.equal(res.code, code);
  assert.equal(res.contentFormat, 60);
  assert.ok(res.maxAge !== undefined, 'Max-Age must be set');
  const body = res.cbor as Record<string, unknown>;
  assert.equal(body['code'], errorCode);
  assert.ok(Object.hasOwn(ERROR_CODES, errorCode));
  assert.equal(body['message'], undefined, 'the catalogue text stays out of the datagram (RFC 7252 section 11.3)');
}

describe('CoAP server over IPv4 loopback', () => {
  let gw: TestGateway;
  let client: RawClient;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  it('binds an ephemeral port', () => {
    assert.ok(gw.port > 0 && gw.port !== 5683);
  });

  it('GET /temp answers 2.05 CBOR by default, piggybacked, with Max-Age from periodMs', async () => {
    const req = get('/temp', [], { messageId: 0x4242, token: Buffer.from('tok1') });
    const res = await client.exchange(req);
    assert.ok(res);
    assert.equal(res.code, '2.05');
    assert.equal(res.packet.ack, true);
    assert.equal(res.packet.messageId, 0x4242);
    assert.deepEqual(res.packet.token, Buffer.from('tok1'));
    assert.equal(res.contentFormat, 60);
    assert.equal(res.maxAge, 1); // TMP102 at 4 Hz: periodMs 250 -> at least 1 s
    // The simulated chip's value says it is not a measurement (test/coap-simulated.test.ts).
    assert.deepEqual(res.cbor, { sensor: 'tmp102', value: 21.5, unit: 'Cel', time: 1767225600.04, sim: true });
    // Preferred serialization: 21.5 as float16.
    assert.ok(res.packet.payload.includes(Buffer.from('f94d60', 'hex')));
  });

  for (const [accept, check] of [
    [60, (r: Response) => assert.deepEqual(r.cbor, { sensor: 'tmp102', value: 21.5, unit: 'Cel', time: 1767225600.04, sim: true })],
    [112, (r: Response) => assert.deepEqual(r.cbor, [{ '-2': 'tmp102/', '-3': 1767225600.04, '0': 'temperature', '1': 'Cel', '2': 21.5, sim_: true }])],
    [110, (r: Response) => assert.deepEqual(JSON.parse(r.packet.payload.toString()), [{ bn: 'tmp102/', bt: 1767225600.04, n: 'temperature', u: 'Cel', v: 21.5, sim_: true }])],
    [50, (r: Response) => assert.deepEqual(JSON.parse(r.packet.payload.toString()), { sensor: 'tmp102', value: 21.5, unit: 'Cel', time: 1767225600.04, sim: true })],
    [0, (r: Response) => assert.equal(r.packet.payload.toString(), 'tmp102 21.5 Cel 2026-01-01T00:00:00.040Z simulated')],
  ] as const) {
    it(`GET /temp with Accept ${accept} answers in that format`, async () => {
      const res = await client.exchange(get('/temp', [{ name: 'Accept', value: uint(accept) }]));
      assert.ok(res);
      assert.equal(res.code, '2.05');
      assert.equal(res.contentFormat, accept);
      assert.equal(res.maxAge, 1);
      check(res);
    });
  }

  it('GET with an unoffered Accept answers 4.06', async () => {
    assertError(await client.exchange(get('/temp', [{ name: 'Accept', value: uint(41) }])), '4.06', 'GW_ERR_REQUEST_NOT_ACCEPTABLE');
  });

  it('GET with Uri-Query unit and precision converts and rounds', async () => {
    gw.sim.setTemperature(-12.25);
    (gw.clock as ManualClock).advanceMs(300);
    const k = await client.exchange(get('/temp?unit=K&precision=1'));
    assert.equal(k?.code, '2.05');
    assert.equal((k?.cbor as { value: number }).value, 260.9);
    assert.equal((k?.cbor as { unit: string }).unit, 'K');
    const f = await client.exchange(get('/temp?unit=degF&precision=0'));
    assert.deepEqual([(f?.cbor as { value: number }).value, (f?.cbor as { unit: string }).unit], [10, 'degF']);
    const c = await client.exchange(get('/temp?precision=1'));
    assert.equal((c?.cbor as { value: number }).value, -12.3); // half away from zero
    gw.sim.setTemperature(21.5);
    (gw.clock as ManualClock).advanceMs(300);
  });

  it('bad query parameters answer 4.00 with a diagnostic', async () => {
    for (const q of ['unit=C', 'precision=5', 'precision=x', 'colour=red', 'unit=K&unit=K']) {
      const res = await client.exchange(get(`/temp?${q}`));
      assertError(res, '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER');
      assert.equal(typeof (res.cbor as { detail: unknown }).detail, 'string');
    }
  });

  it('FETCH with a CBOR body carries the parameters; POST is not a way to read (4.05)', async () => {
    const body = Buffer.from('a264756e6974614b69707265636973696f6e01', 'hex'); // {"unit":"K","precision":1}
    const res = await client.exchange(get('/temp', [CBOR_CF, { name: 'Accept', value: uint(50) }], { code: '0.05', payload: body }));
    assert.equal(res?.code, '2.05');
    const json = JSON.parse(res.packet.payload.toString());
    assert.deepEqual({ ...json, time: typeof json.time }, { sensor: 'tmp102', value: 294.7, unit: 'K', time: 'number', sim: true });
    assertError(await client.exchange(get('/temp', [CBOR_CF], { code: '0.02', payload: body })), '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED');
  });

  it('FETCH with the body Java\'s Jackson writes by default (an indefinite-length map, RFC 8949 section 3.2.2) answers 2.05', async () => {
    const jackson = Buffer.from('bf64756e6974614bff', 'hex'); // {_ "unit": "K"}
    const res = await client.exchange(get('/temp', [CBOR_CF], { code: '0.05', payload: jackson }));
    assert.equal(res?.code, '2.05');
    assert.equal((res.cbor as { unit: string }).unit, 'K');
    assert.equal((res.cbor as { value: number }).value, 294.65);
    // The same parameters with the text in chunks, and under the self-described tag.
    for (const hex of ['a17f62756e626974ff614b', 'd9d9f7a164756e6974614b']) {
      const again = await client.exchange(get('/temp', [CBOR_CF], { code: '0.05', payload: Buffer.from(hex, 'hex') }));
      assert.equal(again?.code, '2.05', hex);
      assert.equal((again.cbor as { unit: string }).unit, 'K', hex);
    }
  });

  it('a body with bad CBOR answers 4.00 GW_ERR_REQUEST_BAD_CBOR', async () => {
    for (const hex of ['a2', 'a16475', 'a0ff', '1c', 'bf6161ff', 'a1616101a0', '7f416161ff']) {
      const res = await client.exchange(get('/temp', [CBOR_CF], { code: '0.05', payload: Buffer.from(hex, 'hex') }));
      assertError(res, '4.00', 'GW_ERR_REQUEST_BAD_CBOR');
    }
  });

  it('a well-formed body with unknown or invalid parameters answers 4.00 GW_ERR_REQUEST_BAD_PARAMETER', async () => {
    for (const hex of [
      'a163666f6f01', // {"foo":1}
      'a164756e69746143', // {"unit":"C"}
      'a169707265636973696f6e05', // {"precision":5}
      'a169707265636973696f6e6131', // {"precision":"1"}
      '83010203', // [1,2,3]
    ]) {
      const res = await client.exchange(get('/temp', [CBOR_CF], { code: '0.05', payload: Buffer.from(hex, 'hex') }));
      assertError(res, '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER');
    }
  });

  it('a body with another Content-Format answers 4.15', async () => {
    const res = await client.exchange(get('/temp', [{ name: 'Content-Format', value: uint(50) }], { code: '0.05', payload: Buffer.from('{"unit":"K"}') }));
    assertError(res, '4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT');
    const noFormat = await client.exchange(get('/temp', [], { code: '0.05', payload: Buffer.from('a0', 'hex') }));
    assertError(noFormat, '4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT');
  });

  it('a FETCH without Content-Format answers 4.15 (from the guard, to the right peer)', async () => {
    const req = get('/temp', [], { code: '0.05', messageId: 0x7001, token: Buffer.from('f1') });
    const res = await client.exchange(req);
    assertError(res, '4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT');
    assert.equal(res.packet.messageId, 0x7001);
    assert.deepEqual(res.packet.token, Buffer.from('f1'));
  });

  it('a body over 256 bytes answers 4.13 with Size1', async () => {
    const res = await client.exchange(get('/temp', [CBOR_CF], { code: '0.05', payload: Buffer.alloc(257, 0xa0) }));
    assertError(res, '4.13', 'GW_ERR_REQUEST_TOO_LARGE');
    assert.equal(res.size1, 256);
  });

  it('an unknown path answers 4.04', async () => {
    assertError(await client.exchange(get('/nope')), '4.04', 'GW_ERR_REQUEST_NOT_FOUND');
    assertError(await client.exchange(get('/temp/extra')), '4.04', 'GW_ERR_REQUEST_NOT_FOUND');
  });

  it('a wrong method answers 4.05', async () => {
    for (const code of ['0.03', '0.04', '0.07', '0.09']) {
      assertError(await client.exchange(get('/temp', [], { code })), '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED');
    }
    assertError(await client.exchange(get('/.well-known/core', [], { code: '0.02' })), '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED');
  });

  it('an unknown critical option answers 4.02 in a CON, RST in a NON; unknown elective options are ignored', async () => {
    const con = await client.exchange(get('/temp', [{ name: '9', value: Buffer.from('x') }], { messageId: 0x5151 }));
    assertError(con, '4.02', 'GW_ERR_REQUEST_BAD_OPTION');
    assert.equal(con.packet.ack, true);
    assert.equal(con.packet.messageId, 0x5151);
    // A large odd option number (2049 + 2 = 2051) and If-Match (1, not implemented) too.
    assertError(await client.exchange(get('/temp', [{ name: '2051', value: Buffer.from('x') }])), '4.02', 'GW_ERR_REQUEST_BAD_OPTION');
    assertError(await client.exchange(get('/temp', [{ name: 'If-Match', value: Buffer.from('x') }])), '4.02', 'GW_ERR_REQUEST_BAD_OPTION');
    // Two Accept options: a repeated non-repeatable critical option (RFC 7252 section 5.4.5).
    assertError(await client.exchange(get('/temp', [{ name: 'Accept', value: uint(60) }, { name: 'Accept', value: uint(50) }])), '4.02', 'GW_ERR_REQUEST_BAD_OPTION');
    const non = await client.exchange(get('/temp', [{ name: '9', value: Buffer.from('x') }], { confirmable: false, messageId: 0x5152 }));
    assert.ok(non);
    assert.equal(non.packet.reset, true);
    assert.equal(non.packet.messageId, 0x5152);
    const elective = await client.exchange(get('/temp', [{ name: '2050', value: Buffer.from('x') }]));
    assert.equal(elective?.code, '2.05');
  });

  it('Proxy-Uri answers 5.05', async () => {
    assertError(await client.exchange(get('/temp', [{ name: 'Proxy-Uri', value: Buffer.from('coap://example.org/x') }])), '5.05', 'GW_ERR_REQUEST_PROXY_NOT_SUPPORTED');
  });

  it('a POST with Observe gets one plain response without Observe (RFC 7641 registers GET and FETCH only)', async () => {
    const res = await client.exchange(get('/temp', [{ name: 'Observe', value: Buffer.alloc(0) }], { code: '0.02' }));
    assertError(res, '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED');
    assert.equal(res.packet.options.some((o) => o.name === 'Observe'), false);
    assert.equal(await client.next(300), undefined);
  });

  it('one reading asked for in several variants within its period: each request gets its own variant', async () => {
    const variants: Array<[string, { name: string; value: Buffer }[], unknown]> = [
      ['/temp?unit=K', [], { value: 294.65, unit: 'K' }],
      ['/temp', [], { value: 21.5, unit: 'Cel' }],
      ['/temp?unit=degF&precision=0', [], { value: 71, unit: 'degF' }],
      ['/temp?unit=K', [], { value: 294.65, unit: 'K' }],
    ];
    const times = new Set<number>();
    for (const [path, extra, expected] of variants) {
      const res = await client.exchange(get(path, extra));
      assert.equal(res?.code, '2.05');
      const body = res.cbor as { value: number; unit: string; time: number };
      assert.deepEqual({ value: body.value, unit: body.unit }, expected, path);
      times.add(body.time);
    }
    assert.equal(times.size, 1, 'all within one conversion period: one reading');
    const json = await client.exchange(get('/temp', [{ name: 'Accept', value: uint(50) }]));
    assert.equal(json?.contentFormat, 50);
    assert.equal(JSON.parse(json.packet.payload.toString()).value, 21.5);
  });

  it('a NON request gets a NON response', async () => {
    const res = await client.exchange(get('/temp', [], { confirmable: false }));
    assert.equal(res?.code, '2.05');
    assert.equal(res.packet.confirmable, false);
    assert.equal(res.packet.ack, false);
  });

  it('a duplicate CON is answered from the cache without reading the sensor again', async () => {
    const req = get('/temp', [], { messageId: 0x6161, token: Buffer.from('dup') });
    const first = await client.exchange(req);
    const calls = gw.service.get('tmp102')!.module.stats.calls;
    (gw.clock as ManualClock).advanceMs(300);
    const second = await client.exchange(req);
    assert.ok(first && second);
    assert.deepEqual(second.raw, first.raw);
    assert.equal(gw.service.get('tmp102')!.module.stats.calls, calls);
  });

  it('a sensor that does not answer gives 5.03 with Max-Age and a CBOR error body', async () => {
    gw.sim.inject('nack');
    try {
      const res = await client.exchange(get('/temp'));
      assertError(res, '5.03', 'GW_ERR_I2C_NACK');
      assert.ok(res.maxAge! >= 1);
      assert.deepEqual(Object.keys(res.cbor as object), ['code']);
    } finally {
      gw.sim.clearFault();
    }
    (gw.clock as ManualClock).advanceMs(100);
  });

  it('a CoAP ping (Empty CON) gets a RST', async () => {
    const res = await client.exchange(Buffer.from([0x40, 0x00, 0x12, 0x34]));
    assert.ok(res);
    assert.equal(res.packet.reset, true);
    assert.equal(res.packet.messageId, 0x1234);
  });

  it('malformed CON datagrams get a RST, malformed NON datagrams are dropped, never a 5.00', async () => {
    const con = [
      '49010001aabbccddeeff001122', // token length 9 (reserved)
      '40010002f0', // option nibble 15 without payload marker
      '40010003ff', // payload marker with an empty payload
      '40010004bd', // option length 13 with its extension byte missing
      '4001000541', // option value truncated
      '4000000661', // Empty message with a payload
      '40450007', // a 2.05 response arriving in a CON
      '40e00008', // reserved code class 7
    ];
    for (const hex of con) {
      const res = await client.exchange(Buffer.from(hex, 'hex'));
      assert.ok(res, `no RST for ${hex}`);
      assert.equal(res.packet.reset, true, hex);
      assert.equal(res.packet.messageId, parseInt(hex.slice(4, 8), 16), hex);
      assert.equal(res.packet.payload.length, 0);
    }
    for (const hex of ['50010009f0', '5001000aff', '00010001', '80010001', '4001', '', '7001000b']) {
      client.send(Buffer.from(hex, 'hex'));
    }
    assert.equal(await client.next(300), undefined);
  });
});

describe('CoAP server sensor start-up and module faults', () => {
  it('answers 5.03 GW_ERR_SENSOR_NOT_READY with Max-Age 1 before the first conversion', async () => {
    // Started by hand so the clock stays before the end of the TMP102's first conversion (35 ms).
    const clock = new ManualClock();
    const service = await SensorService.start(defaultConfig({ driver: 'simulated' }), { clock, logger: silentLogger });
    const server = await GatewayServer.start({ service, logger: silentLogger, clock, host: '127.0.0.1', port: 0 });
    const client = await RawClient.open('127.0.0.1', server.port);
    try {
      const res = await client.exchange(get('/temp'));
      assertError(res, '5.03', 'GW_ERR_SENSOR_NOT_READY');
      assert.equal(res.maxAge, 1); // retryAfterMs (<= 35 ms) rounded up to a whole second
      clock.advanceMs(40);
      assert.equal((await client.exchange(get('/temp')))?.code, '2.05');
    } finally {
      await client.close();
      await server.close();
      service.close();
    }
  });

  it('a module trap answers 5.00 with the code and no internal text', { skip: TEST_MODULES_SKIP }, async () => {
    const config = defaultConfig({ driver: 'simulated' });
    config.sensors.push({ ...config.sensors[0]!, name: 'trap', path: '/trap', module: `${PROJECT_ROOT}/build/wasm/go/test/trap.wasm`, address: 0x49, grant: { bus: 1, addresses: [0x49] } });
    const gw = await startTestGateway({ config });
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const res = await client.exchange(get('/trap'));
      assertError(res, '5.00', 'GW_ERR_MODULE_TRAP');
      assert.equal(res.maxAge, 0);
      const text = res.packet.payload.toString('latin1');
      assert.doesNotMatch(text, /out of bounds|RuntimeError|at |\.ts|\.wasm/);
      // The other sensor keeps working.
      assert.equal((await client.exchange(get('/temp')))?.code, '2.05');
    } finally {
      await client.close();
      await gw.close();
    }
  });
});

describe('CoAP server over IPv6 loopback and dual stack', () => {
  it('serves GET /temp on ::1', async () => {
    const gw = await startTestGateway({ host: '::1', simCelsius: 19.75 });
    const client = await RawClient.open('::1', gw.port);
    try {
      const res = await client.exchange(get('/temp'));
      assert.equal(res?.code, '2.05');
      assert.equal((res.cbor as { value: number }).value, 19.75);
    } finally {
      await client.close();
      await gw.close();
    }
  });

  it('a server on :: answers both ::1 and 127.0.0.1 from one socket', async () => {
    const gw = await startTestGateway({ host: '::' });
    assert.equal(gw.server.dualStack, true);
    for (const host of ['::1', '127.0.0.1']) {
      const client = await RawClient.open(host, gw.port);
      try {
        const res = await client.exchange(get('/temp'));
        assert.equal(res?.code, '2.05', host);
      } finally {
        await client.close();
      }
    }
    await gw.close();
  });
});
