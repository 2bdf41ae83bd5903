/**
 * ABI 1.1 in the host and the service (issue 14; docs/module-abi.md, "ABI 1.1: several
 * quantities", "Units", "Statuses at gw_init"): crafted gw_init and gw_read outputs straight
 * into the parser, then whole modules through SensorModule and SensorService. The modules are
 * assembled here, byte by byte, from the outputs a test wants them to hand back (a module that
 * only writes a fixed output), so each rule is checked on the path a real module's output takes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { encode } from 'cbor-x';
import { ManualClock } from '../drivers/clock.ts';
import { constantHumidity } from '../drivers/sim/humidity-profile.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedSht3x } from '../drivers/sim/sht3x.ts';
import { sht3xCelsiusToRaw, sht3xPercentRhToRaw, sht3xRawToCelsius, sht3xRawToPercentRh } from '../drivers/sim/sht3x-format.ts';
import { constantProfile } from '../drivers/sim/temperature-profile.ts';
import { GatewayError } from '../gateway/errors.ts';
import { MAX_OUTPUT_BYTES, Status } from '../gateway/host/abi.ts';
import {
  INIT_OUTPUT_RETRY_MS,
  MAX_QUANTITIES,
  decodeOutput,
  measurementsOf,
  parseInitOutput,
  parseReadOutput,
} from '../gateway/host/module-output.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';

const SHT3X_INIT = {
  name: 'sht3x', version: '1.0.0', quantity: 'temperature', unit: 'Cel', resolution: 0.01, periodMs: 500,
  quantities: [
    { name: 'temperature', unit: 'Cel', resolution: 0.01 },
    { name: 'humidity', unit: '%RH', resolution: 0.01 },
  ],
};
const SHT3X_READ = { value: 21.53, raw: 26214, bits: 16, values: { temperature: 21.53, humidity: 45.21 }, raws: { temperature: 26214, humidity: 29491 } };
const TMP102_INIT = { name: 'tmp102', version: '1.0.0', quantity: 'temperature', unit: 'Cel', periodMs: 250, resolution: 0.0625 };
const TMP102_READ = { value: 21.5, raw: 0x1580, bits: 12 };

const cbor = (value: unknown) => new Uint8Array(encode(value));
const init = (out: Record<string, unknown>) => parseInitOutput(decodeOutput(cbor(out), 'gw_init', 's'), 's');
const read = (out: Record<string, unknown>, initOut: Record<string, unknown> = SHT3X_INIT) => {
  const declared = initOut['quantities'] === undefined ? undefined : init(initOut).quantities;
  return parseReadOutput(decodeOutput(cbor(out), 'gw_read', 's'), 's', declared);
};

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  assert.fail('expected a GatewayError, nothing thrown');
}

describe('ABI 1.1 gw_init output: quantities', () => {
  it('takes two quantities, the primary first', () => {
    const info = init(SHT3X_INIT);
    assert.deepEqual(info.quantities, SHT3X_INIT.quantities);
    assert.equal(info.quantity, 'temperature');
    assert.equal(info.unit, 'Cel');
  });

  it('gives a 1.0 module one quantity from its top-level keys', () => {
    assert.deepEqual(init(TMP102_INIT).quantities, [{ name: 'temperature', unit: 'Cel', resolution: 0.0625 }]);
  });

  it(`takes ${MAX_QUANTITIES} quantities`, () => {
    const quantities = [SHT3X_INIT.quantities[0], ...Array.from({ length: MAX_QUANTITIES - 1 }, (_, i) => ({ name: `q${i}`, unit: 'Pa', resolution: 1 }))];
    assert.equal(init({ ...SHT3X_INIT, quantities }).quantities.length, MAX_QUANTITIES);
  });

  const q0 = SHT3X_INIT.quantities[0]!;
  const cases: Array<[string, unknown]> = [
    ['not an array', { temperature: q0 }],
    ['null', null],
    ['empty', []],
    [`more than ${MAX_QUANTITIES}`, [q0, ...Array.from({ length: MAX_QUANTITIES }, (_, i) => ({ name: `q${i}`, unit: 'Pa', resolution: 1 }))]],
    ['an entry that is not a map', [q0, 'humidity']],
    ['a name with upper case', [q0, { name: 'Humidity', unit: '%RH', resolution: 0.01 }]],
    ['a name starting with a digit', [q0, { name: '2humidity', unit: '%RH', resolution: 0.01 }]],
    ['a name with a dash', [q0, { name: 'rel-humidity', unit: '%RH', resolution: 0.01 }]],
    ['a name of 33 characters', [q0, { name: 'h'.repeat(33), unit: '%RH', resolution: 0.01 }]],
    ['the reserved name alert', [q0, { name: 'alert', unit: '%RH', resolution: 0.01 }]],
    ['a name declared twice', [q0, { name: 'temperature', unit: 'K', resolution: 0.01 }]],
    ['a unit that is not text', [q0, { name: 'humidity', unit: 7, resolution: 0.01 }]],
    ['a resolution of 0', [q0, { name: 'humidity', unit: '%RH', resolution: 0 }]],
    ['a negative resolution', [q0, { name: 'humidity', unit: '%RH', resolution: -0.01 }]],
    ['a resolution that is not a number', [q0, { name: 'humidity', unit: '%RH', resolution: '0.01' }]],
    ['a first entry with another name than "quantity"', [{ ...q0, name: 'temp' }, SHT3X_INIT.quantities[1]]],
    ['a first entry with another unit than "unit"', [{ ...q0, unit: 'K' }, SHT3X_INIT.quantities[1]]],
    ['a first entry with another resolution than "resolution"', [{ ...q0, resolution: 0.1 }, SHT3X_INIT.quantities[1]]],
  ];
  for (const [what, quantities] of cases) {
    it(`refuses quantities ${what} with GW_ERR_MODULE_BAD_OUTPUT`, () => {
      const err = thrown(() => init({ ...SHT3X_INIT, quantities }));
      assert.equal(err.code, 'GW_ERR_MODULE_BAD_OUTPUT');
      assert.match(String(err.details.detail), /quantities/);
    });
  }

  it('no longer refuses a unit outside the old charset: %RH, m/s, ug/m3 and units of no registry alike', () => {
    for (const unit of ['%RH', 'm/s', 'ug/m3', '°F', 'degrees "C", roughly']) {
      assert.equal(init({ ...TMP102_INIT, unit }).unit, unit);
    }
  });
});

describe('ABI 1.1 gw_read output: values and raws', () => {
  it('takes a reading of every declared quantity, and makes the measurements of it', () => {
    const out = read(SHT3X_READ);
    assert.deepEqual(out.values, SHT3X_READ.values);
    assert.deepEqual(measurementsOf(init(SHT3X_INIT).quantities, out), [
      { quantity: 'temperature', unit: 'Cel', value: 21.53, raw: 26214 },
      { quantity: 'humidity', unit: '%RH', value: 45.21, raw: 29491 },
    ]);
  });

  it('takes a reading without raws: the primary keeps "raw", the others have none', () => {
    const { raws: _, ...noRaws } = SHT3X_READ;
    assert.deepEqual(measurementsOf(init(SHT3X_INIT).quantities, read(noRaws)), [
      { quantity: 'temperature', unit: 'Cel', value: 21.53, raw: 26214 },
      { quantity: 'humidity', unit: '%RH', value: 45.21 },
    ]);
  });

  it('reads a 1.0 module as before: one measurement, any values or raws ignored', () => {
    const out = read({ ...TMP102_READ, values: 'ignored', raws: 3 }, TMP102_INIT);
    assert.deepEqual(out, TMP102_READ);
    assert.deepEqual(measurementsOf(init(TMP102_INIT).quantities, out), [{ quantity: 'temperature', unit: 'Cel', value: 21.5, raw: 0x1580 }]);
  });

  const cases: Array<[string, Record<string, unknown>]> = [
    ['no values', { value: 21.53, raw: 1, bits: 16 }],
    ['values that are an array', { ...SHT3X_READ, values: [21.53, 45.21] }],
    ['values without a declared quantity', { ...SHT3X_READ, values: { temperature: 21.53 } }],
    ['values with an undeclared quantity', { ...SHT3X_READ, values: { ...SHT3X_READ.values, pressure: 1013 } }],
    ['a value that is not a number', { ...SHT3X_READ, values: { temperature: 21.53, humidity: '45.21' } }],
    ['a value that is not finite', { ...SHT3X_READ, values: { temperature: 21.53, humidity: Number.POSITIVE_INFINITY } }],
    ['a primary value other than "value"', { ...SHT3X_READ, values: { temperature: 21.54, humidity: 45.21 } }],
    ['a primary raw other than "raw"', { ...SHT3X_READ, raws: { temperature: 26215, humidity: 29491 } }],
    ['raws that are not a map', { ...SHT3X_READ, raws: [1, 2] }],
    ['raws with an undeclared quantity', { ...SHT3X_READ, raws: { pressure: 1 } }],
    ['a raw that is not an integer', { ...SHT3X_READ, raws: { humidity: 1.5 } }],
    ['a raw beyond 53 bits', { ...SHT3X_READ, raws: { humidity: 2 ** 53 } }],
  ];
  for (const [what, out] of cases) {
    it(`refuses ${what} with GW_ERR_MODULE_BAD_OUTPUT`, () => {
      assert.equal(thrown(() => read(out)).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Modules assembled from bytes: gw_init and gw_read each write one fixed output and return a
// fixed status (WebAssembly core spec, section 5 "Binary Format").

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const I32 = 0x7f;

interface FixedOutputs {
  init: Uint8Array | { oversized: number };
  read: Uint8Array;
  initStatus?: number;
}

/** A module whose gw_init writes `init` (or asks to write `oversized` bytes) and gw_read `read`. */
function fixedOutputModule(o: FixedOutputs): Uint8Array {
  const INIT_AT = 1024;
  const initBytes = o.init instanceof Uint8Array ? o.init : new Uint8Array(0);
  const initLen = o.init instanceof Uint8Array ? o.init.length : o.init.oversized;
  const READ_AT = INIT_AT + initBytes.length + 16;
  // output_write(ptr, len); drop its status (gwabi.WriteOutput's is dropped the same way); return status.
  const writeAndReturn = (ptr: number, len: number, status: number) => [0x00, 0x41, ...sleb(ptr), 0x41, ...sleb(len), 0x10, 0x00, 0x1a, 0x41, ...sleb(status), 0x0b];
  const bodies = [[0x00, 0x0b], [0x00, 0x41, 0x01, 0x0b], writeAndReturn(INIT_AT, initLen, o.initStatus ?? 0), writeAndReturn(READ_AT, o.read.length, 0)];
  const data = (at: number, bytes: Uint8Array) => [0x00, 0x41, ...sleb(at), 0x0b, ...uleb(bytes.length), ...bytes];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 2, I32, I32, 1, I32], [0x60, 0, 0], [0x60, 0, 1, I32], [0x60, 1, I32, 1, I32]])),
    ...section(2, vec([[...str('gw'), ...str('output_write'), 0x00, 0]])),
    ...section(3, vec([[1], [2], [3], [3]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(7, vec([[...str('memory'), 0x02, 0], [...str('_initialize'), 0x00, 1], [...str('gw_abi_version'), 0x00, 2], [...str('gw_init'), 0x00, 3], [...str('gw_read'), 0x00, 4]])),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
    ...section(11, vec([data(INIT_AT, initBytes), data(READ_AT, o.read)])),
  ]);
}

function sensorModule(o: FixedOutputs, name = 'env') {
  const logger = new MemoryLogger();
  const module = SensorModule.fromBytes(fixedOutputModule(o), {
    name, capabilities: { i2c: undefined }, bus: undefined, clock: new ManualClock(), logger, init: { bus: 1, address: 0x44 },
  });
  return { module, logger };
}

describe('SensorModule: a 1.1 module with two quantities', () => {
  it('reads both, the primary as the reading\'s value', () => {
    const { module } = sensorModule({ init: cbor(SHT3X_INIT), read: cbor(SHT3X_READ) });
    assert.deepEqual(module.start().quantities, SHT3X_INIT.quantities);
    const reading = module.read();
    assert.equal(reading.sensor, 'env');
    assert.equal(reading.value, 21.53);
    assert.equal(reading.unit, 'Cel');
    assert.equal(reading.raw, 26214);
    assert.equal(reading.bits, 16);
    assert.deepEqual(reading.measurements, [
      { quantity: 'temperature', unit: 'Cel', value: 21.53, raw: 26214 },
      { quantity: 'humidity', unit: '%RH', value: 45.21, raw: 29491 },
    ]);
  });

  it('reads a 1.0 module unchanged, with one measurement', () => {
    const { module } = sensorModule({ init: cbor(TMP102_INIT), read: cbor(TMP102_READ) });
    const reading = module.read();
    assert.equal(reading.value, 21.5);
    assert.deepEqual(reading.measurements, [{ quantity: 'temperature', unit: 'Cel', value: 21.5, raw: 0x1580 }]);
  });

  it('fails each read that breaks a 1.1 rule with GW_ERR_MODULE_BAD_OUTPUT, without a fault or a new instance', () => {
    const { module } = sensorModule({ init: cbor(SHT3X_INIT), read: cbor({ ...SHT3X_READ, values: { temperature: 21.53 } }) });
    module.start();
    for (let i = 0; i < 3; i++) assert.equal(thrown(() => module.read()).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    assert.equal(module.stats.faults, 0);
    assert.equal(module.stats.instancesCreated, 1);
  });
});

describe('SensorModule: units outside the SenML registry (RFC 8428 section 12.1, RFC 8798)', () => {
  it('serves a 1.0 module in %RH, which the old unit check refused', () => {
    const { module } = sensorModule({ init: cbor({ ...TMP102_INIT, quantity: 'humidity', unit: '%RH' }), read: cbor(TMP102_READ) });
    assert.equal(module.read().unit, '%RH');
  });

  it('starts the module, then fails every read with GW_ERR_MODULE_BAD_UNIT naming the quantity and unit, logged once', () => {
    const quantities = [SHT3X_INIT.quantities[0], { name: 'humidity', unit: 'percent', resolution: 0.01 }];
    const { module, logger } = sensorModule({ init: cbor({ ...SHT3X_INIT, quantities }), read: cbor(SHT3X_READ) });
    assert.equal(module.start().quantities[1]!.unit, 'percent');
    const callsAfterInit = module.stats.calls;
    for (let i = 0; i < 3; i++) {
      const err = thrown(() => module.read());
      assert.equal(err.code, 'GW_ERR_MODULE_BAD_UNIT');
      assert.equal(err.details.sensor, 'env');
      assert.match(String(err.details.detail), /humidity.*"percent"/);
    }
    assert.equal(module.stats.calls, callsAfterInit, 'gw_read never ran: no read of it could be served');
    assert.equal(module.stats.faults, 0);
    assert.equal(logger.entries.filter((e) => e.msg.startsWith('module unit outside the SenML registry')).length, 1, 'throttled: one line for three reads');
  });

  it('fails a 1.0 module in a unit of no registry the same way', () => {
    const { module } = sensorModule({ init: cbor({ ...TMP102_INIT, unit: 'degF' }), read: cbor(TMP102_READ) });
    assert.equal(thrown(() => module.read()).code, 'GW_ERR_MODULE_BAD_UNIT');
  });
});

describe('SensorModule: a gw_init output it cannot use', () => {
  it(`an output over ${MAX_OUTPUT_BYTES} bytes is refused by output_write, and gw_init fails with GW_ERR_MODULE_BAD_OUTPUT, a fault with a retry time`, () => {
    const { module } = sensorModule({ init: { oversized: MAX_OUTPUT_BYTES + 1 }, read: cbor(TMP102_READ) });
    const err = thrown(() => module.start());
    assert.equal(err.code, 'GW_ERR_MODULE_BAD_OUTPUT');
    assert.equal(err.details.retryAfterMs, INIT_OUTPUT_RETRY_MS);
    assert.equal(module.stats.faults, 1);
    assert.equal(module.info, undefined);
    assert.equal(thrown(() => module.read()).code, 'GW_ERR_MODULE_BAD_OUTPUT', 'the next read tries a fresh instance, and fails the same way');
    assert.equal(module.stats.instancesCreated, 2);
  });

  it('a module that passes the refusal on (returns BAD_ARGUMENT) has said too much: GW_ERR_MODULE_BAD_OUTPUT too, not BAD_ARGUMENT, which would stop the start', () => {
    const { module } = sensorModule({ init: { oversized: MAX_OUTPUT_BYTES + 1 }, read: cbor(TMP102_READ), initStatus: Status.BAD_ARGUMENT });
    const err = thrown(() => module.start());
    assert.equal(err.code, 'GW_ERR_MODULE_BAD_OUTPUT');
    assert.match(err.message, /output of 4097 bytes refused/);
    // The same status without a refused output is what it always was: the module's own bad argument.
    const plain = sensorModule({ init: cbor(TMP102_INIT), read: cbor(TMP102_READ), initStatus: Status.BAD_ARGUMENT }).module;
    assert.equal(thrown(() => plain.start()).code, 'GW_ERR_MODULE_BAD_ARGUMENT');
  });
});

describe('SensorService: one module\'s output does not stop the others', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-multi-quantity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, o: FixedOutputs) => {
    const p = path.join(dir, `${name}.wasm`);
    writeFileSync(p, fixedOutputModule(o));
    return p;
  };

  it('starts with an oversized gw_init output, an unknown unit and a 1.1 module beside the TMP102; each sensor answers for itself', async () => {
    const config = defaultConfig({ driver: 'simulated' });
    const tmp102 = config.sensors[0]!;
    const sensor = (name: string, address: number, module: string) => ({ ...tmp102, name, path: `/${name}`, address, grant: { bus: 1, addresses: [address] }, module });
    config.sensors.push(
      sensor('oversized', 0x49, file('oversized', { init: { oversized: MAX_OUTPUT_BYTES + 1 }, read: cbor(TMP102_READ) })),
      sensor('badunit', 0x4a, file('badunit', { init: cbor({ ...TMP102_INIT, unit: 'degF' }), read: cbor(TMP102_READ) })),
      sensor('env', 0x4b, file('env', { init: cbor(SHT3X_INIT), read: cbor(SHT3X_READ) })),
    );
    const logger = new MemoryLogger();
    const clock = new ManualClock();
    const service = await SensorService.start(config, { clock, logger, isolation: 'in-thread' });
    try {
      assert.ok(logger.entries.some((e) => e.msg.startsWith('sensor not answering at start-up: its module output is unusable') && e.fields['sensor'] === 'oversized'));
      assert.ok(logger.entries.some((e) => e.msg.startsWith('sensor unit outside the SenML registry') && e.fields['sensor'] === 'badunit'));
      await assert.rejects(service.read('oversized'), { code: 'GW_ERR_MODULE_BAD_OUTPUT' });
      await assert.rejects(service.read('badunit'), { code: 'GW_ERR_MODULE_BAD_UNIT' });
      assert.deepEqual(service.info('env')?.quantities.map((q) => q.name), ['temperature', 'humidity']);
      assert.deepEqual((await service.read('env')).measurements.map((m) => m.value), [21.53, 45.21]);
      clock.advanceMs(40);
      assert.equal((await service.read('tmp102')).value, 21.5);
    } finally {
      await service.close();
    }
  });

  it('in module workers too: the broken module is served as failing, the 1.1 module\'s quantities cross the thread', async () => {
    const config = defaultConfig({ driver: 'simulated' });
    const tmp102 = config.sensors[0]!;
    const sensor = (name: string, address: number, module: string) => ({ ...tmp102, name, path: `/${name}`, address, grant: { bus: 1, addresses: [address] }, module });
    config.sensors = [
      sensor('oversized', 0x49, file('oversized-w', { init: { oversized: MAX_OUTPUT_BYTES + 1 }, read: cbor(TMP102_READ) })),
      sensor('env', 0x4b, file('env-w', { init: cbor(SHT3X_INIT), read: cbor(SHT3X_READ) })),
    ];
    const service = await SensorService.start(config, { clock: new ManualClock(), logger: new MemoryLogger(), isolation: 'shared' });
    try {
      await assert.rejects(service.read('oversized'), { code: 'GW_ERR_MODULE_BAD_OUTPUT' });
      assert.ok(service.stats().sensors['oversized']!.moduleFaults >= 1);
      assert.deepEqual(service.info('env')?.quantities, SHT3X_INIT.quantities);
      assert.deepEqual((await service.read('env')).measurements, [
        { quantity: 'temperature', unit: 'Cel', value: 21.53, raw: 26214 },
        { quantity: 'humidity', unit: '%RH', value: 45.21, raw: 29491 },
      ]);
    } finally {
      await service.close();
    }
  });

  it('still does not start when a module cannot load (a missing file)', async () => {
    const config = defaultConfig({ driver: 'simulated' });
    config.sensors[0]!.module = path.join(dir, 'absent.wasm');
    await assert.rejects(SensorService.start(config, { clock: new ManualClock(), logger: new MemoryLogger(), isolation: 'in-thread' }), { code: 'GW_ERR_MODULE_NOT_FOUND' });
  });
});

describe('npm run read: every quantity of a multi-quantity sensor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-multi-quantity-read-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const module = path.join(dir, 'env.wasm');
  writeFileSync(module, fixedOutputModule({ init: cbor(SHT3X_INIT), read: cbor(SHT3X_READ) }));
  const root = new URL('..', import.meta.url).pathname;
  const run = (...args: string[]) => promisify(execFile)(process.execPath, ['gateway/cli/launch.mjs', 'read', '--module', module, ...args], { cwd: root, timeout: 30_000 });

  it('prints them all on the one line, the primary first', async () => {
    const { stdout } = await run();
    assert.match(stdout, /^tmp102: temperature 21\.53 °C, humidity 45\.21 %RH {2}\(SIMULATED, not a measurement; 16-bit, registers temperature 0x6666, humidity 0x7333, /);
  });

  it('lists them as JSON measurements, beside the primary\'s keys as before', async () => {
    const reading = JSON.parse((await run('--json')).stdout);
    assert.equal(reading.value, 21.53);
    assert.equal(reading.unit, 'Cel');
    assert.deepEqual(reading.measurements, [
      { quantity: 'temperature', value: 21.53, unit: 'Cel', raw: '0x6666' },
      { quantity: 'humidity', value: 45.21, unit: '%RH', raw: '0x7333' },
    ]);
  });
});

const SHT3X_WASM = new URL('../modules/sht3x.wasm', import.meta.url).pathname;

describe('end to end: modules/sht3x.wasm (ABI 1.1) on the simulated SHT3x at 0x44', { skip: existsSync(SHT3X_WASM) ? undefined : 'modules/sht3x.wasm is not built yet' }, () => {
  it('declares temperature and humidity in registered units, and reads both to the LSB', async () => {
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    bus.attach(0x44, new SimulatedSht3x({ clock, temperature: constantProfile(23.7), humidity: constantHumidity(61.3) }));
    clock.advanceMs(10); // powered before the gateway starts (power-up 1 ms, SHT3x-DIS Table 4)
    const sensor = await SensorModule.fromFile(SHT3X_WASM, {
      name: 'env', capabilities: { i2c: { bus: 1, addresses: [0x44] } }, bus, clock, logger: new MemoryLogger(), init: { bus: 1, address: 0x44 },
    });
    const info = sensor.start();
    assert.deepEqual(info.quantities.map((q) => [q.name, q.unit]), [['temperature', 'Cel'], ['humidity', '%RH']]);
    const reading = sensor.read();
    // What the chip holds is the 16-bit word nearest the air's value; the module converts it with
    // the datasheet's formulas (section 4.13), so each value is that word's, exactly.
    const tRaw = sht3xCelsiusToRaw(23.7);
    const hRaw = sht3xPercentRhToRaw(61.3);
    assert.deepEqual(reading.measurements.map((m) => [m.quantity, m.unit, m.raw]), [['temperature', 'Cel', tRaw], ['humidity', '%RH', hRaw]]);
    assert.ok(Math.abs(reading.measurements[0]!.value - sht3xRawToCelsius(tRaw)) < 1e-9);
    assert.ok(Math.abs(reading.measurements[1]!.value - sht3xRawToPercentRh(hRaw)) < 1e-9);
    assert.equal(reading.value, reading.measurements[0]!.value);
  });
});
