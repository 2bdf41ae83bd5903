/**
 * Live control of a simulated gateway (issue 16 part 3): the command parser, then /gw/sim over
 * real UDP on a ManualClock: a set temperature reaches GET /temp and a c.gt observer, a fault
 * gives the documented 5.03 and clearing it brings readings back, every invalid command its
 * code, the change in /gw/stats and in the log, and the default access policy keeping /gw/sim
 * to this machine and OSCORE clients.
 */
import assert from 'node:assert/strict';
import { encode as cborEncode } from 'cbor-x';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { Scenario } from '../drivers/sim/scenario.ts';
import { ScenarioRunner } from '../drivers/sim/scenario-runner.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { errorReply } from '../gateway/coap/error-response.ts';
import { GatewayServer } from '../gateway/coap/server.ts';
import { SimControlResource } from '../gateway/coap/sim-control-resource.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { defaultConfig, type GatewayConfig } from '../gateway/service/config.ts';
import { defaultAccessConfig, parseAccess } from '../gateway/service/security-config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { type SimCommand, parseSimCommand } from '../gateway/service/sim-command.ts';
import { SimulationControl, formatScenarioTime } from '../gateway/service/simulation-control.ts';
import { RawClient, type Response, block2Of, block2Value, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { ObserveClient, nowMs } from './helpers/observe-client.ts';

describe('parseSimCommand', () => {
  const one = ['tmp102'];
  const two = ['tmp102', 'outdoor'];

  it('takes each command, from a JSON object or a CBOR map, with the one sensor as default', () => {
    const cases: Array<[unknown, SimCommand]> = [
      [{ op: 'set', celsius: 40 }, { op: 'set', sensor: 'tmp102', celsius: 40 }],
      [{ op: 'set', celsius: -12.5, sensor: 'tmp102' }, { op: 'set', sensor: 'tmp102', celsius: -12.5 }],
      [{ op: 'release' }, { op: 'release', sensor: 'tmp102' }],
      [{ op: 'fault', fault: 'unplugged', for: '30s' }, { op: 'fault', sensor: 'tmp102', fault: 'unplugged', forMs: 30_000 }],
      [{ op: 'fault', fault: 'nack', for: 1.5 }, { op: 'fault', sensor: 'tmp102', fault: 'nack', forMs: 1500 }],
      [{ op: 'fault', fault: 'stuck' }, { op: 'fault', sensor: 'tmp102', fault: 'stuck', forMs: undefined }],
      [{ op: 'clear' }, { op: 'clear', sensor: 'tmp102' }],
      [{ op: 'reset' }, { op: 'reset', sensor: 'tmp102' }],
      [{ op: 'pause' }, { op: 'pause' }],
      [{ op: 'resume' }, { op: 'resume' }],
      [{ op: 'jump', to: '10m' }, { op: 'jump', toMs: 600_000 }],
      [new Map<unknown, unknown>([['op', 'set'], ['celsius', 31.5]]), { op: 'set', sensor: 'tmp102', celsius: 31.5 }],
    ];
    for (const [body, want] of cases) assert.deepEqual(parseSimCommand(body, one), want, JSON.stringify(body instanceof Map ? [...body] : body));
    assert.deepEqual(parseSimCommand({ op: 'clear', sensor: 'outdoor' }, two), { op: 'clear', sensor: 'outdoor' });
  });

  it('refuses what is malformed or out of range with GW_ERR_SIM_COMMAND_INVALID naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [[1, 2], 'body'],
      ['set', 'body'],
      [new Map<unknown, unknown>([[1, 'set']]), 'body'],
      [{}, 'op'],
      [{ op: 'heat' }, 'op'],
      [{ op: 1 }, 'op'],
      [{ op: 'set' }, 'celsius'],
      [{ op: 'set', celsius: '40' }, 'celsius'],
      [{ op: 'set', celsius: 151 }, 'celsius'],
      [{ op: 'set', celsius: -55.5 }, 'celsius'],
      [{ op: 'set', celsius: 40, unit: 'K' }, 'unit'],
      [{ op: 'pause', sensor: 'tmp102' }, 'sensor'],
      [{ op: 'set', celsius: 40, sensor: '' }, 'sensor'],
      [{ op: 'set', celsius: 40, sensor: 7 }, 'sensor'],
      [{ op: 'fault' }, 'fault'],
      [{ op: 'fault', fault: 'unplug' }, 'fault'],
      [{ op: 'fault', fault: 'nack', for: '0s' }, 'for'],
      [{ op: 'fault', fault: 'nack', for: '-1s' }, 'for'],
      [{ op: 'fault', fault: 'nack', for: '30 parsecs' }, 'for'],
      [{ op: 'fault', fault: 'nack', for: '8d' }, 'for'],
      [{ op: 'fault', fault: 'nack', for: true }, 'for'],
      [{ op: 'jump' }, 'to'],
      [{ op: 'jump', to: 'soon' }, 'to'],
    ];
    for (const [body, field] of cases) {
      assert.throws(() => parseSimCommand(body, one), (err: { code?: string; details?: { detail?: string } }) => {
        assert.equal(err.code, 'GW_ERR_SIM_COMMAND_INVALID', JSON.stringify(body));
        assert.ok(err.details?.detail?.startsWith(`${field}:`), `${JSON.stringify(body)}: ${err.details?.detail}`);
        return true;
      });
    }
    assert.throws(() => parseSimCommand({ op: 'clear' }, two), { code: 'GW_ERR_SIM_COMMAND_INVALID' }, 'two sensors: which one?');
  });

  it('a sensor that is not simulated is GW_ERR_SIM_UNKNOWN_SENSOR', () => {
    assert.throws(() => parseSimCommand({ op: 'clear', sensor: 'attic' }, ['tmp102']), { code: 'GW_ERR_SIM_UNKNOWN_SENSOR' });
    assert.throws(() => parseSimCommand({ op: 'reset' }, []), { code: 'GW_ERR_SIM_UNKNOWN_SENSOR' });
  });
});

describe('SimulationControl', () => {
  function standalone(scenario?: Scenario) {
    const clock = new ManualClock();
    const chips = new Map([['tmp102', new SimulatedTmp102({ clock })]]);
    const logger = new MemoryLogger('info');
    let control: SimulationControl | undefined;
    const runner = new ScenarioRunner({ clock, chips, ...(scenario ? { scenario } : {}), onEvent: (e) => control?.recordEvent(e) });
    control = new SimulationControl({ driver: runner, logger, clock, timeScale: 10 });
    runner.start();
    return { clock, runner, control, logger };
  }

  it('keeps the last 32 changes, oldest first, and logs every one', () => {
    const { control, logger, runner } = standalone();
    for (let i = 0; i < 40; i++) control.command({ op: 'set', celsius: i }, '::1');
    const changes = control.snapshot().changes;
    assert.equal(changes.length, 32);
    assert.equal(changes[0]!.what, 'temperature held at 8 °C');
    assert.equal(changes.at(-1)!.what, 'temperature held at 39 °C');
    assert.equal(logger.entries.filter((e) => e.msg === 'simulation changed').length, 40);
    assert.equal(control.snapshot().timeScale, 10);
    runner.close();
  });

  it('the script\'s own events are logged once per kind in 10 s, with a count; every one is still kept', () => {
    const { control, logger, runner } = standalone();
    for (let i = 0; i < 1000; i++) control.recordEvent({ scenarioMs: i * 10, sensor: 'tmp102', source: 'scenario', what: i % 2 ? 'fault nack ends' : 'fault nack begins' });
    control.recordEvent({ scenarioMs: 10_000, sensor: 'tmp102', source: 'scenario', what: 'fault unplugged begins' });
    const lines = logger.entries.filter((e) => e.msg === 'simulation changed').map((e) => e.fields['what']);
    // A random rule with 10 ms slots at x1000 made 60,000 lines a second before (review).
    assert.deepEqual(lines, ['fault nack begins', 'fault nack ends', 'fault unplugged begins']);
    assert.equal(control.snapshot().changes.at(-1)!.what, 'fault unplugged begins');
    runner.close();
  });

  it('a change\'s time is the simulated clock\'s wall-clock time; the scenario\'s end is recorded and shown', async () => {
    const { clock, control, runner } = standalone(new Scenario({ name: 'short', seed: 1, durationMs: 1000, sensors: {} }));
    clock.advanceMs(250);
    const { change } = control.command({ op: 'set', celsius: 30 }, '::1');
    assert.equal(change.time, new Date(Number(clock.realtimeNs() / 1_000_000n)).toISOString());
    assert.equal(change.scenarioMs, 250);
    clock.advanceMs(1000);
    await runner.ended;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(control.snapshot().scenario?.ended, true);
    assert.deepEqual(control.snapshot().changes.map((c) => `${c.source} ${c.what}`), ['scenario scenario short started (seed 1, 1s)', '::1 temperature held at 30 °C', 'scenario scenario ended']);
    assert.throws(() => control.command({ op: 'jump', to: '2s' }, '::1'), { code: 'GW_ERR_SIM_COMMAND_INVALID' });
    runner.close();
  });
});

const CBOR = { name: 'Content-Format', value: uint(60) };
const JSON_CF = { name: 'Content-Format', value: uint(50) };
/**
 * Who a change over UDP is from: the client's address once GatewayServer hands the admitted
 * requester to Router.dispatch (server.ts: `this.#router.dispatch(req.view, who)`), "coap"
 * until then. The resource's own test below checks the naming with a requester given.
 */
const UDP_SOURCE = '127.0.0.1';
const errorCode = (r: Response | undefined) => [r?.code, (r?.cbor as { code?: string } | undefined)?.code];

/** CBOR of a JSON-like value with cbor-x, independent of the gateway's encoder. */
function cborOf(v: unknown): Buffer {
  return Buffer.from(cborEncode(v));
}

interface SimGateway {
  clock: ManualClock;
  service: SensorService;
  server: GatewayServer;
  control: SimulationControl;
  logger: MemoryLogger;
  /** The clock's monotonic ms when the scenario started (its time 0). */
  startedAtMs: number;
  close(): Promise<void>;
}

/**
 * A gateway on the simulated TMP102 with /gw/sim, as `npm start` builds it on a simulation.
 * The write rate is raised: the invalid-command test sends more writes than the default burst,
 * which is the write limiter's business (test/write-limiter.test.ts), not this file's.
 */
async function startSimGateway(o: { access?: GatewayConfig['access']; scenario?: { name: string; seed: number; durationMs: number } } = {}): Promise<SimGateway> {
  const clock = new ManualClock();
  const logger = new MemoryLogger('info');
  const service = await SensorService.start(defaultConfig({ driver: 'simulated', simCelsius: 21.5 }), { clock, logger, isolation: 'in-thread' });
  let control: SimulationControl | undefined;
  // A scenario that scripts nothing: the chip keeps its configured 21.5 °C, and the scenario's time can be moved.
  const scenario = o.scenario ? new Scenario({ ...o.scenario, sensors: {} }) : undefined;
  const runner = new ScenarioRunner({ clock, chips: service.hardware.simulated, ...(scenario ? { scenario } : {}), onEvent: (e) => control?.recordEvent(e) });
  control = new SimulationControl({ driver: runner, logger, clock, timeScale: 1, ...(o.scenario ? { scenarioFile: 'fixtures/scenarios/test.json' } : {}) });
  const startedAtMs = nowMs(clock);
  runner.start();
  const access = o.access ?? { ...defaultAccessConfig(), writesPerClient: { perSecond: 1000, burst: 1000 } };
  const server = await GatewayServer.start({ service, logger, clock, host: '127.0.0.1', port: 0, simulation: control, access });
  clock.advanceMs(40); // the first conversion (35 ms at most)
  return {
    clock,
    service,
    server,
    control,
    logger,
    startedAtMs,
    async close() {
      runner.close();
      await server.close();
      await service.close();
    },
  };
}

describe('/gw/sim over UDP', () => {
  let gw: SimGateway;
  let client: RawClient;
  let period: number;
  before(async () => {
    gw = await startSimGateway({ scenario: { name: 'office-day', seed: 7, durationMs: 86_400_000 } });
    client = await RawClient.open('127.0.0.1', gw.server.port);
    period = gw.service.info('tmp102')!.periodMs;
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  const post = (body: Buffer, options = [CBOR]) => client.exchange(requestDatagram({ code: '0.02', options: [...pathOptions('/gw/sim'), ...options], payload: body }));
  const get = (path: string, accept?: number) => client.exchange(requestDatagram({ options: [...pathOptions(path), ...(accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }])] }));
  /** A representation larger than one datagram, block by block (RFC 7959 section 2.4). */
  const getWhole = async (path: string, accept: number) => {
    const parts: Buffer[] = [];
    for (let num = 0; num < 64; num++) {
      const res = await client.exchange(requestDatagram({ options: [...pathOptions(path), { name: 'Accept', value: uint(accept) }, { name: 'Block2', value: block2Value(num, 6) }] }));
      assert.equal(res?.code, '2.05');
      parts.push(res.packet.payload);
      if (!block2Of(res)?.more) break;
    }
    return Buffer.concat(parts);
  };
  const temp = async () => {
    const r = await get('/temp');
    return r?.code === '2.05' ? (r.cbor as { value: number }).value : errorCode(r);
  };

  it('POST set 40: 2.04 with the change; GET /temp answers 40 after one conversion period', async () => {
    assert.equal(await temp(), 21.5);
    const res = await post(cborOf({ op: 'set', celsius: 40 }));
    assert.equal(res?.code, '2.04', JSON.stringify(res?.cbor));
    assert.equal(res.maxAge, undefined, '2.04 is not cacheable');
    const body = res.cbor as { change: { source: string; sensor: string; what: string }; sensors: Record<string, { temperatureOverride: number }> };
    assert.deepEqual({ ...body.change, time: undefined, scenarioMs: undefined }, { time: undefined, scenarioMs: undefined, source: UDP_SOURCE, sensor: 'tmp102', what: 'temperature held at 40 °C' });
    assert.equal(body.sensors['tmp102']!.temperatureOverride, 40);
    gw.clock.advanceMs(period + 40);
    assert.equal(await temp(), 40);
  });

  it('GET: 2.05 with the state as CBOR (Max-Age 0), or JSON with Accept 50; a change is in /gw/stats and in the log', async () => {
    assert.equal((await post(cborOf({ op: 'set', celsius: 40 })))?.code, '2.04');
    const res = await get('/gw/sim');
    assert.equal(res?.code, '2.05');
    assert.equal(res.contentFormat, 60);
    assert.equal(res.maxAge, 0);
    const state = res.cbor as { timeScale: number; scenario: Record<string, unknown>; sensors: Record<string, unknown>; changes: Array<{ what: string }> };
    assert.equal(state.timeScale, 1);
    assert.equal(state.scenario['timeMs'], nowMs(gw.clock) - gw.startedAtMs, 'scenario time runs with the clock from its start');
    assert.deepEqual({ ...state.scenario, timeMs: 0 }, { name: 'office-day', file: 'fixtures/scenarios/test.json', seed: 7, timeMs: 0, durationMs: 86_400_000, paused: false, ended: false });
    assert.deepEqual(Object.keys(state.sensors), ['tmp102']);
    assert.ok(state.changes.some((c) => c.what === 'temperature held at 40 °C'));
    const json = await get('/gw/sim', 50);
    assert.equal(json?.contentFormat, 50);
    assert.deepEqual(JSON.parse(json.packet.payload.toString()).scenario, state.scenario);
    assert.deepEqual(errorCode(await get('/gw/sim', 0)), ['4.06', 'GW_ERR_REQUEST_NOT_ACCEPTABLE']);

    const stats = JSON.parse((await getWhole('/gw/stats', 50)).toString()) as { simulation?: { changes: Array<{ what: string; source: string }> } };
    assert.ok(stats.simulation?.changes.some((c) => c.what === 'temperature held at 40 °C' && c.source === UDP_SOURCE), JSON.stringify(stats.simulation));
    const line = gw.logger.entries.find((e) => e.msg === 'simulation changed' && e.fields['what'] === 'temperature held at 40 °C');
    assert.ok(line, 'logged');
    assert.equal(line.level, 'info');
    assert.deepEqual([line.fields['source'], line.fields['sensor']], [UDP_SOURCE, 'tmp102']);
  });

  it('/.well-known/core lists /gw/sim with rt "gw.sim"', async () => {
    const res = await get('/.well-known/core');
    assert.match(res!.packet.payload.toString(), /<\/gw\/sim>;rt="gw.sim";ct="60 50"/);
  });

  it('fault unplugged: GET /temp gets 5.03 GW_ERR_I2C_NACK; clear brings readings back', async () => {
    assert.equal((await post(cborOf({ op: 'set', celsius: 33 })))?.code, '2.04');
    const res = await post(cborOf({ op: 'fault', fault: 'unplugged' }));
    assert.equal(res?.code, '2.04', JSON.stringify(res?.cbor));
    assert.equal((res.cbor as { change: { what: string } }).change.what, 'fault unplugged injected until cleared');
    gw.clock.advanceMs(period + 40);
    assert.deepEqual(await temp(), ['5.03', 'GW_ERR_I2C_NACK']);
    const cleared = await post(cborOf({ op: 'clear' }));
    assert.equal(cleared?.code, '2.04');
    assert.equal((cleared.cbor as { sensors: Record<string, { fault: unknown }> }).sensors['tmp102']!.fault, null);
    // A chip plugged back is a chip powered up: the module sets it up again and waits for its
    // first conversion (a 5.03 GW_ERR_SENSOR_NOT_READY meanwhile), then it reads again.
    const after: unknown[] = [];
    for (let i = 0; i < 3 && after.at(-1) !== 33; i++) {
      gw.clock.advanceMs(period);
      after.push(await temp());
    }
    assert.equal(after.at(-1), 33, `the held temperature survives the fault: ${JSON.stringify(after)}`);
  });

  it('a timed fault runs out by itself, and the runner\'s event says so', async () => {
    const before = gw.control.snapshot().changes.length;
    const res = await post(cborOf({ op: 'fault', fault: 'nack', for: '2s' }));
    assert.equal(res?.code, '2.04');
    gw.clock.advanceMs(2000);
    const whats = gw.control.snapshot().changes.slice(before).map((c) => `${c.source} ${c.what}`);
    assert.deepEqual(whats, [`${UDP_SOURCE} fault nack injected for 2s`, 'control live fault nack ran out']);
    gw.clock.advanceMs(period + 40);
    assert.equal(typeof (await temp()), 'number', 'reading again');
  });

  it('JSON bodies work too; pause, jump and resume move the scenario', async () => {
    const paused = await post(Buffer.from('{"op":"pause"}'), [JSON_CF, { name: 'Accept', value: uint(50) }]);
    assert.equal(paused?.code, '2.04');
    assert.equal(paused.contentFormat, 50);
    const pausedScenario = JSON.parse(paused.packet.payload.toString()).scenario as { paused: boolean; timeMs: number };
    assert.equal(pausedScenario.paused, true);
    gw.clock.advanceMs(5000);
    assert.equal(gw.control.snapshot().scenario?.timeMs, pausedScenario.timeMs, 'paused: scenario time stands still');
    const jumped = await post(cborOf({ op: 'jump', to: '10m' }));
    assert.equal((jumped?.cbor as { scenario: { timeMs: number } }).scenario.timeMs, 600_000);
    assert.equal((jumped?.cbor as { change: { what: string } }).change.what, `scenario jumped from ${formatScenarioTime(pausedScenario.timeMs)} to 10m`);
    const resumed = await post(cborOf({ op: 'resume' }));
    assert.equal((resumed?.cbor as { scenario: { paused: boolean } }).scenario.paused, false);
  });

  it('every invalid command gets its code, and changes nothing', async () => {
    const before = JSON.stringify(gw.control.snapshot().sensors);
    const cases: Array<[Buffer, typeof CBOR[], string, string]> = [
      [cborOf({ op: 'set', celsius: 200 }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'set', celsius: '40' }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'set', celsius: 40, colour: 'red' }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'explode' }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'fault', fault: 'melted' }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'fault', fault: 'nack', for: 'ever' }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'jump', to: '2d' }), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf([1, 2]), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [Buffer.from('a2626f70', 'hex'), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [Buffer.alloc(0), [CBOR], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [Buffer.from('{"op":'), [JSON_CF], '4.00', 'GW_ERR_SIM_COMMAND_INVALID'],
      [cborOf({ op: 'set', celsius: 40, sensor: 'attic' }), [CBOR], '4.04', 'GW_ERR_SIM_UNKNOWN_SENSOR'],
      [cborOf({ op: 'set', celsius: 40 }), [], '4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT'],
      [Buffer.alloc(300, 0x61), [CBOR], '4.13', 'GW_ERR_REQUEST_TOO_LARGE'],
    ];
    for (const [body, options, code, gwCode] of cases) {
      assert.deepEqual(errorCode(await post(body, options)), [code, gwCode], body.toString('hex'));
    }
    const put = await client.exchange(requestDatagram({ code: '0.03', options: [...pathOptions('/gw/sim'), CBOR], payload: cborOf({ op: 'pause' }) }));
    assert.deepEqual(errorCode(put), ['4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED']);
    assert.equal(JSON.stringify(gw.control.snapshot().sensors), before);
  });
});

describe('/gw/sim: a c.gt observer hears of a set temperature', () => {
  it('an observer of /temp?c.gt=35 is notified after set 40, and not before', async () => {
    const gw = await startSimGateway();
    const client = await ObserveClient.open(gw.server.port);
    try {
      const reg = await client.request('/temp?c.gt=35', { token: Buffer.from('gt') });
      assert.equal(reg.code, '2.05');
      const period = gw.service.info('tmp102')!.periodMs;
      assert.deepEqual(await client.advance(gw.clock, 2 * period, 20), [], 'nothing while 21.5 °C');
      const res = await client.raw.exchange(requestDatagram({ code: '0.02', options: [...pathOptions('/gw/sim'), CBOR], payload: cborOf({ op: 'set', celsius: 40 }) }));
      assert.equal(res?.code, '2.04');
      const seen = await client.advance(gw.clock, 2 * period, 20);
      assert.deepEqual(seen.map((n) => (n.cbor as { value: number }).value), [40]);
    } finally {
      await client.close();
      await gw.close();
    }
  });

  it('pause, resume and jump are refused without a scenario', async () => {
    const gw = await startSimGateway();
    const client = await RawClient.open('127.0.0.1', gw.server.port);
    try {
      for (const op of [{ op: 'pause' }, { op: 'resume' }, { op: 'jump', to: '1m' }]) {
        const res = await client.exchange(requestDatagram({ code: '0.02', options: [...pathOptions('/gw/sim'), CBOR], payload: cborOf(op) }));
        assert.deepEqual(errorCode(res), ['4.00', 'GW_ERR_SIM_COMMAND_INVALID'], op.op);
      }
      assert.equal(gw.control.snapshot().scenario, null);
    } finally {
      await client.close();
      await gw.close();
    }
  });
});

describe('/gw/sim: who may use it', () => {
  it('the default policy: loopback may, a LAN address without OSCORE gets 4.01, an OSCORE client may', async () => {
    const gw = await startSimGateway({ access: defaultAccessConfig() });
    try {
      assert.equal(gw.server.refuses('0.02', '/gw/sim', { address: '127.0.0.1' }), undefined);
      assert.equal(gw.server.refuses('0.02', '/gw/sim', { address: '::1' }), undefined);
      assert.equal(gw.server.refuses('0.02', '/gw/sim', { address: '192.168.1.20', oscoreClient: 'thermostat-app' }), undefined);
      for (const method of ['0.01', '0.02']) {
        const refused = gw.server.refuses(method, '/gw/sim', { address: '::ffff:192.168.1.20' });
        assert.equal(refused?.code, 'GW_ERR_ACCESS_UNAUTHORIZED', method);
        assert.equal(errorReply(refused).code, '4.01');
      }
    } finally {
      await gw.close();
    }
  });

  it('over UDP, a source the /gw/* rule does not allow gets 4.01 and changes nothing', async () => {
    // 127.0.0.1 played as a stranger: the operator's /gw/* rule (before the defaults) leaves loopback out.
    const gw = await startSimGateway({ access: parseAccess({ rules: [{ path: '/gw/*', methods: ['*'], allow: ['oscore'] }] }) });
    const client = await RawClient.open('127.0.0.1', gw.server.port);
    try {
      const res = await client.exchange(requestDatagram({ code: '0.02', options: [...pathOptions('/gw/sim'), CBOR], payload: cborOf({ op: 'set', celsius: 40 }) }));
      assert.deepEqual(errorCode(res), ['4.01', 'GW_ERR_ACCESS_UNAUTHORIZED']);
      assert.equal(gw.control.snapshot().sensors['tmp102']!.temperatureOverride, null);
      assert.deepEqual(gw.control.snapshot().changes, []);
    } finally {
      await client.close();
      await gw.close();
    }
  });
});

describe('SimControlResource names who made a change', () => {
  it('an address as the socket reports it, an OSCORE client by its credentials name', async () => {
    const gw = await startSimGateway();
    try {
      const resource = new SimControlResource(gw.control);
      const view = (body: unknown) => ({ method: '0.02', path: '/gw/sim', query: [], accept: undefined, contentFormat: 60, body: cborOf(body) });
      assert.equal(resource.handle(view({ op: 'reset' }), { address: '::1' }).code, '2.04');
      assert.equal(resource.handle(view({ op: 'clear' }), { address: '::ffff:192.168.1.20', oscoreClient: 'lab-bench' }).code, '2.04');
      assert.deepEqual(gw.control.snapshot().changes.map((c) => [c.source, c.what]), [['::1', 'chip reset (power-on register values)'], ['oscore:lab-bench', 'injected fault cleared']]);
      assert.equal(gw.control.snapshot().sensors['tmp102']!.resets, 1);
    } finally {
      await gw.close();
    }
  });
});

describe('/gw/sim is served only on a simulation', () => {
  it('without `simulation`: 4.04, not listed, and /gw/stats has no `simulation`', async () => {
    const clock = new ManualClock();
    const service = await SensorService.start(defaultConfig({ driver: 'simulated' }), { clock, logger: new MemoryLogger('warn'), isolation: 'in-thread' });
    const server = await GatewayServer.start({ service, logger: new MemoryLogger('warn'), clock, host: '127.0.0.1', port: 0 });
    const client = await RawClient.open('127.0.0.1', server.port);
    try {
      const res = await client.exchange(requestDatagram({ options: pathOptions('/gw/sim') }));
      assert.deepEqual(errorCode(res), ['4.04', 'GW_ERR_REQUEST_NOT_FOUND']);
      const links = await client.exchange(requestDatagram({ options: pathOptions('/.well-known/core') }));
      assert.doesNotMatch(links!.packet.payload.toString(), /gw\/sim/);
      assert.equal('simulation' in server.stats(), false);
    } finally {
      await client.close();
      await server.close();
      await service.close();
    }
  });
});
