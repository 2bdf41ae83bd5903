/**
 * A simulated value never passes for a measurement (docs/coap-api.md, "Simulated values"): one
 * gateway with two TMP102s at the same temperature, /temp answered by a simulated chip and
 * /temp/real by a chip the service takes for real hardware (asRealHardware: what openHardware
 * reports with /dev/i2c-N). Every payload format, on GET, FETCH, Observe registrations and
 * notifications and the fast path, marks the first and not the second; /gw/stats and
 * /.well-known/core say which is which. Payloads are read back without the gateway's encoder.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { RawClient, type Response, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient } from './helpers/observe-client.ts';
import { readingFromCbor, readingFromSenmlCbor } from './helpers/reading-payloads.ts';

const SENSORS = [
  { name: 'tmp102', path: '/temp', simulated: true },
  { name: 'real', path: '/temp/real', simulated: false },
] as const;
const FORMATS = [60, 112, 110, 50, 0] as const;
const CBOR_CF = { name: 'Content-Format', value: uint(60) };
/** {"unit": "K"} */
const KELVIN_BODY = Buffer.from('a164756e6974614b', 'hex');

interface Seen {
  sensor: string;
  value: number;
  unit: string;
  simulated: boolean;
}

/**
 * What a payload says, read the way a client would: the fields of each format, and whether the
 * value is marked simulated. Throws on anything else in the payload, so an extra or a misplaced
 * mark fails too.
 */
function decode(format: number, res: Response): Seen {
  const text = res.packet.payload.toString();
  const only = (keys: string[], allowed: string[]) => assert.deepEqual(keys.filter((k) => !allowed.includes(k)), [], `unexpected keys in ${text}`);
  switch (format) {
    case 60: {
      const m = res.cbor as Record<string, unknown>;
      only(Object.keys(m), ['sensor', 'value', 'unit', 'time', 'sim']);
      assert.ok(m['sim'] === undefined || m['sim'] === true, 'sim is true or absent');
      return { sensor: m['sensor'] as string, ...readingFromCbor(res.packet.payload) };
    }
    case 50: {
      const m = JSON.parse(text) as Record<string, unknown>;
      only(Object.keys(m), ['sensor', 'value', 'unit', 'time', 'sim']);
      assert.equal(Object.keys(m).at(-1), m['sim'] === undefined ? 'time' : 'sim', 'the mark is the last key');
      return { sensor: m['sensor'] as string, value: m['value'] as number, unit: m['unit'] as string, simulated: m['sim'] === true };
    }
    case 112: {
      const [rec] = res.cbor as Record<string, unknown>[];
      only(Object.keys(rec!), ['-2', '-3', '0', '1', '2', 'sim_']);
      assert.ok(rec!['sim_'] === undefined || rec!['sim_'] === true);
      // The independent decoder rejects a pack with an unknown must-understand label (RFC 8428 section 4.4).
      return { sensor: (rec!['-2'] as string).slice(0, -1), ...readingFromSenmlCbor(res.packet.payload) };
    }
    case 110: {
      const pack = JSON.parse(text) as Record<string, unknown>[];
      assert.equal(pack.length, 1);
      const rec = pack[0]!;
      only(Object.keys(rec), ['bn', 'bt', 'n', 'u', 'v', 'sim_']);
      assert.ok(rec['sim_'] === undefined || rec['sim_'] === true);
      return { sensor: (rec['bn'] as string).slice(0, -1), value: rec['v'] as number, unit: rec['u'] as string, simulated: rec['sim_'] === true };
    }
    case 0: {
      const m = /^(\S+) (-?[0-9.]+) (\S+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z( simulated)?$/.exec(text);
      assert.ok(m, `text/plain: ${text}`);
      return { sensor: m[1]!, value: Number(m[2]), unit: m[3]!, simulated: m[4] !== undefined };
    }
  }
  throw new Error(`format ${format}`);
}

describe('simulated values say so; measurements do not', () => {
  let gw: TestGateway;
  let client: RawClient;
  let clock: ManualClock;

  before(async () => {
    const config = defaultConfig({ driver: 'simulated', simCelsius: 21.5 });
    config.sensors.push({ ...config.sensors[0]!, name: 'real', path: '/temp/real', address: 0x49, grant: { bus: 1, addresses: [0x49] } });
    gw = await startTestGateway({ config, simulated: { real: ['real'] } });
    clock = gw.clock as ManualClock;
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  const request = async (path: string, format: number, method = '0.01', payload?: Buffer) => {
    const options = [...pathOptions(path), ...(payload ? [CBOR_CF] : []), { name: 'Accept', value: uint(format) }];
    const res = await client.exchange(requestDatagram({ code: method, options, ...(payload ? { payload } : {}) }));
    assert.equal(res?.code, '2.05', `${method} ${path} Accept ${format}`);
    assert.equal(res.contentFormat, format);
    return res;
  };

  it('the service says which sensor is simulated: list(), read() and stats()', async () => {
    assert.deepEqual(gw.service.list().map((e) => [e.config.name, e.simulated]), [['tmp102', true], ['real', false]]);
    assert.equal((await gw.service.read('tmp102')).simulated, true);
    assert.equal((await gw.service.read('real')).simulated, false);
    const stats = gw.service.stats();
    assert.deepEqual([stats.sensors['tmp102']!.simulated, stats.sensors['real']!.simulated], [true, false]);
  });

  for (const [method, label, body] of [
    ['0.01', 'GET', undefined],
    ['0.05', 'FETCH', KELVIN_BODY],
  ] as const) {
    it(`${label}: every format marks the simulated value and leaves the measurement unmarked`, async () => {
      clock.advanceMs(300); // a new conversion period: the first request of each pair reads
      for (const format of FORMATS) {
        for (const s of SENSORS) {
          const seen = decode(format, await request(s.path, format, method, body));
          assert.deepEqual(seen, { sensor: s.name, value: body ? 294.65 : 21.5, unit: body ? 'K' : 'Cel', simulated: s.simulated }, `${label} ${s.path} Accept ${format}`);
        }
      }
    });
  }

  it('a mark costs the same bytes in every variant: the simulated payload is the real one plus the mark', async () => {
    clock.advanceMs(300);
    // Same time for both (one clock step), same value; the names differ ("tmp102" vs "real").
    const pairs = [];
    for (const format of FORMATS) pairs.push([format, (await request('/temp', format)).packet.payload, (await request('/temp/real', format)).packet.payload] as const);
    const mark: Record<number, number> = { 60: 5, 112: 6, 110: 12, 50: 11, 0: 10 };
    for (const [format, sim, real] of pairs) assert.equal(sim.length - real.length, mark[format]! + 'tmp102'.length - 'real'.length, `Accept ${format}`);
  });

  it('a reading read afresh and one answered from the fresh value are the same bytes, mark included', async () => {
    const body = (res: Response) => `${res.raw[0]! & 0xf0}/${res.raw.subarray(1, 2).toString('hex')}/${res.raw.subarray(4 + (res.raw[0]! & 0x0f)).toString('hex')}`;
    for (const format of FORMATS) {
      for (const s of SENSORS) {
        clock.advanceMs(300);
        const slow = await request(s.path, format);
        const fast = await request(s.path, format);
        assert.equal(body(fast), body(slow), `${s.path} Accept ${format}`);
        assert.equal(decode(format, fast).simulated, s.simulated);
      }
    }
  });

  it('Observe: the registration and each notification carry the mark of their sensor, in every format', async () => {
    const observer = await ObserveClient.open(gw.port);
    try {
      const registrations = new Map<string, { format: number; sensor: (typeof SENSORS)[number] }>();
      for (const format of FORMATS) {
        for (const s of SENSORS) {
          const token = `${format}${s.simulated ? 's' : 'r'}`; // at most 8 bytes (RFC 7252 section 3)
          const res = await observer.request(s.path, { token: Buffer.from(token), accept: format });
          assert.ok(res.observe !== undefined, `registered ${s.path} Accept ${format}: ${res.code} ${res.packet.payload.toString('hex')}`);
          assert.equal(decode(format, res).simulated, s.simulated, `registration ${s.path} Accept ${format}`);
          registrations.set(token, { format, sensor: s });
        }
      }
      observer.collect(clock);
      for (const chip of gw.chips.values()) chip.setTemperature(23.0625);
      const notes = await observer.advance(clock, 400);
      assert.equal(notes.length, registrations.size, 'one notification per observer');
      for (const n of notes) {
        const r = registrations.get(n.packet.token.toString())!;
        assert.deepEqual(decode(r.format, n), { sensor: r.sensor.name, value: 23.0625, unit: 'Cel', simulated: r.sensor.simulated }, `notification ${r.sensor.path} Accept ${r.format}`);
      }
    } finally {
      await observer.close();
      for (const chip of gw.chips.values()) chip.setTemperature(21.5);
      clock.advanceMs(300);
    }
  });

  it('/gw/stats: the simulated sensors first, then each sensor\'s simulated flag (CBOR and JSON)', async () => {
    const cbor = (await client.exchange(requestDatagram({ options: pathOptions('/gw/stats') })))!.cbor as Record<string, unknown>;
    const json = JSON.parse((await client.exchange(requestDatagram({ options: [...pathOptions('/gw/stats'), { name: 'Accept', value: uint(50) }] })))!.packet.payload.toString()) as Record<string, unknown>;
    for (const stats of [cbor, json]) {
      assert.equal(Object.keys(stats)[0], 'simulatedSensors', 'seen first');
      assert.deepEqual(stats['simulatedSensors'], ['tmp102']);
      const sensors = stats['sensors'] as Record<string, Record<string, unknown>>;
      assert.deepEqual([sensors['tmp102']!['simulated'], sensors['real']!['simulated']], [true, false]);
      assert.equal(Object.keys(sensors['tmp102']!)[0], 'simulated');
    }
  });

  it('/.well-known/core marks the simulated sensor with sim=1; ?sim=1 finds it alone', async () => {
    const discover = async (query: string) => (await client.exchange(requestDatagram({ options: pathOptions(`/.well-known/core${query}`) })))!.packet.payload.toString();
    const links = (await discover('')).split(',');
    assert.equal(links.find((l) => l.startsWith('</temp>;')), '</temp>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs;sim=1');
    assert.equal(links.find((l) => l.startsWith('</temp/real>;')), '</temp/real>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs');
    assert.equal(await discover('?sim=1'), '</temp>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs;sim=1');
    assert.equal((await discover('?rt=temperature')).split(',').length, 2, 'rt still finds both');
  });
});

describe('a gateway on real hardware only', () => {
  let gw: TestGateway;
  let client: RawClient;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5, simulated: false });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  it('serves the payloads it served before simulation was marked, byte for byte', async () => {
    // The first read of the test gateway: 21.5 °C at 2026-01-01T00:00:00.040Z, as in docs/coap-api.md.
    const get = async (format: number) => (await client.exchange(requestDatagram({ options: [...pathOptions('/temp'), { name: 'Accept', value: uint(format) }] })))!.packet.payload;
    assert.equal((await get(60)).toString('hex'), 'a46673656e736f7266746d703130326576616c7565f94d6064756e69746343656c6474696d65fb41da556e40028f5c');
    assert.equal((await get(110)).toString(), '[{"bn":"tmp102/","bt":1767225600.04,"n":"temperature","u":"Cel","v":21.5}]');
    assert.equal((await get(50)).toString(), '{"sensor":"tmp102","value":21.5,"unit":"Cel","time":1767225600.04}');
    assert.equal((await get(0)).toString(), 'tmp102 21.5 Cel 2026-01-01T00:00:00.040Z');
    assert.deepEqual(readingFromSenmlCbor(await get(112)), { value: 21.5, unit: 'Cel', simulated: false });
  });

  it('/gw/stats lists no simulated sensor; discovery marks none', async () => {
    const stats = (await client.exchange(requestDatagram({ options: pathOptions('/gw/stats') })))!.cbor as Record<string, unknown>;
    assert.deepEqual(stats['simulatedSensors'], []);
    assert.equal((stats['sensors'] as Record<string, Record<string, unknown>>)['tmp102']!['simulated'], false);
    const links = (await client.exchange(requestDatagram({ options: pathOptions('/.well-known/core') })))!.packet.payload.toString();
    assert.doesNotMatch(links, /sim/);
    assert.deepEqual(gw.service.list().map((e) => e.simulated), [false]);
  });
});
