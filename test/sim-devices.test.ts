/**
 * Simulated devices chosen in the configuration (`sensors[].simulation.device`): validation with
 * the field named, each device kind on its bus and through the real TMP102 module where one
 * exists, and scenarios and live control on an SHT3x.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { RegisterMapDevice } from '../drivers/sim/register-map-device.ts';
import { ScenarioRunner } from '../drivers/sim/scenario-runner.ts';
import { SimulatedSht3x } from '../drivers/sim/sht3x.ts';
import { AbsentDevice } from '../drivers/sim/simulated-device.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { GatewayError } from '../gateway/errors.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { type GatewayConfig, parseConfig } from '../gateway/service/config.ts';
import { openHardware, simulatedQuantities, simulatedTmp102 } from '../gateway/service/hardware.ts';
import { parseScenario } from '../gateway/service/scenario-file.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { SimulationControl } from '../gateway/service/simulation-control.ts';
import { configRefusal as refusal } from './helpers/refusals.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const one = (sensor: Record<string, unknown>) => ({ driver: 'simulated', sensors: [{ name: 'chip', ...sensor }] });

/** A register map that a TMP102 driver takes for a TMP102 (SBOS397 power-up values), at `celsius`. */
const TMP102_LIKE = (celsius: number) => ({
  device: 'registers',
  width: 16,
  registers: { '0x00': 0, '0x01': '0x60a0', '0x02': '0x4b00', '0x03': '0x5000' },
  writable: ['0x01', '0x02', '0x03'],
  // 12-bit two's complement left-aligned by 4: 1/16 °C per count, times 16 (SBOS397 Table 5).
  profiles: [{ register: '0x00', profile: { kind: 'constant', celsius }, scale: 256 }],
});

async function serve(json: unknown) {
  const clock = new ManualClock();
  const config = parseConfig(json, ROOT) as GatewayConfig;
  const service = await SensorService.start(config, { clock, logger: new MemoryLogger(), isolation: 'in-thread' });
  for (let t = 0; t < 40; t += 5) {
    clock.advanceMs(5);
    await new Promise((r) => setImmediate(r));
  }
  return { clock, service };
}

describe('sensors[].simulation.device: validation', () => {
  it('names the field it refuses', () => {
    assert.match(refusal(one({ simulation: { device: 'bme280' } })), /^sensors\[0\]\.simulation\.device: must be one of tmp102, sht3x, registers, replay, none/);
    assert.match(refusal(one({ address: '0x40', simulation: { device: 'tmp102' } })), /^sensors\[0\]\.address: a simulated tmp102 answers only at 0x48, 0x49, 0x4a, 0x4b/);
    assert.match(refusal(one({ address: '0x48', simulation: { device: 'sht3x' } })), /^sensors\[0\]\.address: a simulated sht3x answers only at 0x44, 0x45/);
    assert.match(refusal(one({ address: '0x44', simulation: { device: 'sht3x', humidity: { kind: 'constant', percent: 120 } } })), /^sensors\[0\]\.simulation\.humidity\.percent: must be 0\.\.100/);
    assert.match(refusal(one({ address: '0x44', simulation: { device: 'sht3x', pressure: 1 } })), /^sensors\[0\]\.simulation\.pressure: unknown field/);
    assert.match(refusal(one({ simulation: { ...TMP102_LIKE(20), width: 12 } })), /^sensors\[0\]\.simulation\.width: must be 8 or 16/);
    assert.match(refusal(one({ simulation: { ...TMP102_LIKE(20), registers: { '0x00': 70000 } , profiles: [] , writable: [] } })), /^sensors\[0\]\.simulation\.registers\.0x00: must be a 16-bit value/);
    assert.match(refusal(one({ simulation: { ...TMP102_LIKE(20), writable: ['0x07'] } })), /^sensors\[0\]\.simulation\.writable\[0\]: register 0x07 is not in/);
    assert.match(refusal(one({ simulation: { ...TMP102_LIKE(20), writable: ['0x00'] } })), /^sensors\[0\]\.simulation\.profiles\[0\]\.register: register 0x00 follows a profile/);
    assert.match(refusal(one({ simulation: { device: 'replay' } })), /^sensors\[0\]\.simulation\.file:/);
    assert.match(refusal(one({ simulation: { device: 'replay', file: 'x.jsonl', atEnd: 'rewind' } })), /^sensors\[0\]\.simulation\.atEnd:/);
    assert.match(refusal(one({ simulation: { device: 'none', celsius: 3 } })), /^sensors\[0\]\.simulation\.celsius: unknown field/);
  });

  it('keeps every form that worked before: a bare profile is a TMP102 at any address', () => {
    const c = parseConfig(one({ address: '0x40', simulation: { kind: 'constant', celsius: 3 } }), ROOT);
    assert.deepEqual(c.sensors[0]!.simulation, { kind: 'constant', celsius: 3 });
    const hardware = openHardware(c, new ManualClock());
    assert.ok(hardware.simulated.get('chip') instanceof SimulatedTmp102);
    hardware.close();
    // A named TMP102 takes the same profile keys, or a "temperature" object.
    assert.deepEqual(parseConfig(one({ simulation: { device: 'tmp102', kind: 'constant', celsius: 3 } }), ROOT).sensors[0]!.simulation, { device: 'tmp102', temperature: { kind: 'constant', celsius: 3 } });
    assert.deepEqual(parseConfig(one({ simulation: { device: 'tmp102', temperature: { kind: 'constant', celsius: 3 } } }), ROOT).sensors[0]!.simulation, { device: 'tmp102', temperature: { kind: 'constant', celsius: 3 } });
  });

  it('opens the device each sensor names, on one bus', () => {
    const config = parseConfig({
      driver: 'simulated',
      sensors: [
        { name: 't', address: '0x48' },
        { name: 'env', path: '/env', address: '0x44', simulation: { device: 'sht3x', humidity: { kind: 'constant', percent: 60 } } },
        { name: 'regs', path: '/regs', address: '0x20', simulation: { device: 'registers', registers: { '0x00': 7 } } },
        { name: 'gone', path: '/gone', address: '0x21', simulation: { device: 'none' } },
      ],
    }, ROOT);
    const hardware = openHardware(config, new ManualClock());
    try {
      assert.ok(hardware.simulated.get('t') instanceof SimulatedTmp102);
      assert.ok(hardware.simulated.get('env') instanceof SimulatedSht3x);
      assert.ok(hardware.simulated.get('regs') instanceof RegisterMapDevice);
      assert.ok(hardware.simulated.get('gone') instanceof AbsentDevice);
      assert.equal(hardware.simulated.size, 4, 'every one is simulated: its readings are never measurements');
      const bus = hardware.buses.get(1)!;
      assert.deepEqual((bus as SimulatedI2CBus).addresses, [0x20, 0x44, 0x48], 'nothing at "none"\'s address');
      assert.deepEqual([...bus.readRegister(0x20, 0x00, 1)], [7]);
      assert.throws(() => bus.read(0x21, 1), (err: unknown) => err instanceof I2CError && err.code === 'GW_ERR_I2C_NACK');
      assert.throws(() => simulatedTmp102(hardware, 'env'), /a simulated sht3x, not a TMP102/);
      assert.deepEqual(simulatedQuantities(config), { t: ['temperature'], env: ['temperature', 'humidity'], regs: [], gone: [] });
    } finally {
      hardware.close();
    }
  });
});

describe('the register map', () => {
  const clock = new ManualClock();
  const device = (extra: Partial<ConstructorParameters<typeof RegisterMapDevice>[0]> = {}) =>
    new RegisterMapDevice({ clock, width: 16, registers: new Map([[0, 0x1234], [1, 0xabcd]]), writable: [1], ...extra });

  it('reads registers in the byte order given, auto-incrementing; undefined registers read 0xFF', () => {
    assert.deepEqual([...device().onWriteRead(Uint8Array.of(0), 4)], [0x12, 0x34, 0xab, 0xcd]);
    assert.deepEqual([...device({ byteOrder: 'lsb-first' }).onWriteRead(Uint8Array.of(1), 4)], [0xcd, 0xab, 0xff, 0xff]);
  });

  it('writes writable registers; a read-only one is NACKed (GW_ERR_I2C_BUS) or ignored, as configured', () => {
    const d = device();
    d.onWrite(Uint8Array.of(1, 0x00, 0x42));
    assert.equal(d.peek(1), 0x0042);
    assert.throws(() => d.onWrite(Uint8Array.of(0, 0x55, 0x55)), { code: 'GW_ERR_I2C_BUS' });
    assert.equal(d.peek(0), 0x1234);
    assert.throws(() => d.onWrite(Uint8Array.of(9)), { code: 'GW_ERR_I2C_BUS' }, 'a pointer to no register');
    const lenient = device({ readOnlyWrite: 'ignore' });
    lenient.onWrite(Uint8Array.of(0, 0x55, 0x55));
    assert.equal(lenient.peek(0), 0x1234);
    d.resetChip();
    assert.equal(d.peek(1), 0xabcd, 'a reset restores the initial values');
  });

  it('a profile register holds round(value * scale + offset) in two\'s complement, clamped to its width', () => {
    const at = (celsius: number, width: 8 | 16 = 16) =>
      new RegisterMapDevice({ clock, width, registers: new Map([[0, 0]]), profiles: [{ register: 0, valueAt: () => celsius, scale: 256, offset: 0, description: 'c' }] }).peek(0);
    assert.equal(at(-12.25), 0xf3c0, 'SBOS397 Table 5: -12.25 °C is 0xF3C0 (0xF3C)');
    assert.equal(at(25), 0x1900);
    assert.equal(at(1000), 0xffff, 'clamped');
    assert.equal(at(-1000), 0x8000, 'clamped to the most negative');
  });
});

describe('each device through the real TMP102 module', () => {
  it('a register map programmed like a TMP102 reads as one: -12.25 °C', async () => {
    const { service } = await serve(one({ simulation: TMP102_LIKE(-12.25) }));
    try {
      assert.ok(service.hardware.simulated.has('chip'));
      const r = await service.read('chip');
      assert.equal(r.value, -12.25);
      assert.equal(r.simulated, true);
    } finally {
      await service.close();
    }
  });

  it('"none": the module gets GW_ERR_I2C_NACK', async () => {
    const { service } = await serve(one({ simulation: { device: 'none' } }));
    try {
      await assert.rejects(service.read('chip'), { code: 'GW_ERR_I2C_NACK' });
    } finally {
      await service.close();
    }
  });

  it('an injected fault on a register map reaches the module; clearing it brings readings back', async () => {
    const { service, clock } = await serve(one({ simulation: TMP102_LIKE(25) }));
    const runner = new ScenarioRunner({ clock, chips: new Map([...service.hardware.simulated]) });
    runner.start();
    try {
      runner.injectFault('chip', 'bus-error');
      await assert.rejects(service.read('chip'), { code: 'GW_ERR_I2C_BUS' });
      runner.clearFault('chip');
      // The module configures the chip again after a failed transfer and waits one conversion.
      let value: number | undefined;
      for (let i = 0; i < 5 && value === undefined; i++) {
        clock.advanceMs(100);
        value = await service.read('chip').then((r) => r.value, () => undefined);
      }
      assert.equal(value, 25);
    } finally {
      runner.close();
      await service.close();
    }
  });
});

describe('the shipped SHT3x module on a configured SHT3x', () => {
  it('reads the configured temperature, then what live control sets', async () => {
    const { service, clock } = await serve({
      driver: 'simulated',
      sensors: [{ name: 'env', path: '/env', module: 'modules/sht3x.wasm', address: '0x44', pacing: false, simulation: { device: 'sht3x', temperature: { kind: 'constant', celsius: 18.5 } } }],
    });
    const runner = new ScenarioRunner({ clock, chips: new Map([...service.hardware.simulated]) });
    runner.start();
    try {
      assert.ok(Math.abs((await service.read('env')).value - 18.5) < 0.01);
      runner.setTemperature('env', 31);
      clock.advanceMs(100);
      assert.ok(Math.abs((await service.read('env')).value - 31) < 0.01);
      runner.injectFault('env', 'unplugged');
      await assert.rejects(service.read('env'), { code: 'GW_ERR_I2C_NACK' });
    } finally {
      runner.close();
      await service.close();
    }
  });
});

describe('scenarios and live control on an SHT3x', () => {
  const SHT3X_ADDRESS = 0x44;

  /** One single shot without clock stretching (0x2400, high repeatability), read after it ends: [°C, %RH]. */
  function measure(bus: SimulatedI2CBus, clock: ManualClock): [number, number] {
    bus.write(SHT3X_ADDRESS, Uint8Array.of(0x24, 0x00));
    clock.advanceMs(16);
    const b = bus.read(SHT3X_ADDRESS, 6);
    // SHT3x-DIS section 4.13.
    return [-45 + (175 * ((b[0]! << 8) | b[1]!)) / 65535, (100 * ((b[3]! << 8) | b[4]!)) / 65535];
  }

  function rig(scenarioJson?: unknown) {
    const clock = new ManualClock();
    const config = parseConfig({ driver: 'simulated', sensors: [{ name: 'env', path: '/env', address: '0x44', simulation: { device: 'sht3x' } }, { name: 't', address: '0x48' }] }, ROOT);
    const hardware = openHardware(config, clock);
    clock.advanceMs(2); // the SHT3x's power-up time (Table 4)
    const scenario = scenarioJson === undefined ? undefined : parseScenario(scenarioJson, { sensors: ['env', 't'], quantities: simulatedQuantities(config), baseDir: ROOT });
    const runner = new ScenarioRunner({ clock, chips: hardware.simulated, ...(scenario ? { scenario } : {}) });
    const control = new SimulationControl({ driver: runner, logger: new MemoryLogger('info'), clock });
    runner.start();
    return { clock, bus: hardware.buses.get(1) as SimulatedI2CBus, runner, control, close: () => (runner.close(), hardware.close()) };
  }

  it('a scenario scripts its temperature and humidity, and its faults', () => {
    const { clock, bus, runner, close } = rig({
      name: 'muggy',
      duration: '1m',
      sensors: { env: { temperature: [{ at: '0s', constant: 20 }, { at: '10s', step: 30 }], humidity: [{ at: '0s', constant: 40 }, { at: '10s', ramp: { to: 80, over: '10s' } }], faults: [{ fault: 'nack', at: '30s', for: '5s' }] } },
    });
    try {
      const [t0, rh0] = measure(bus, clock);
      assert.ok(Math.abs(t0 - 20) < 0.01 && Math.abs(rh0 - 40) < 0.01, `${t0} ${rh0}`);
      clock.advanceMs(20_000 - 18);
      const [t1, rh1] = measure(bus, clock);
      assert.ok(Math.abs(t1 - 30) < 0.01 && Math.abs(rh1 - 80) < 0.01, `${t1} ${rh1}`);
      assert.equal(runner.sensorState('env').humidity, 80);
      clock.advanceMs(10_000);
      assert.throws(() => measure(bus, clock), { code: 'GW_ERR_I2C_NACK' });
      clock.advanceMs(6_000);
      assert.ok(Math.abs(measure(bus, clock)[1] - 80) < 0.01, 'the fault ran out');
    } finally {
      close();
    }
  });

  it('the scenario file refuses humidity for a TMP102 and out of range, naming the field', () => {
    const config = parseConfig({ driver: 'simulated', sensors: [{ name: 'env', path: '/env', address: '0x44', simulation: { device: 'sht3x' } }, { name: 't', address: '0x48' }] }, ROOT);
    const parse = (sensors: unknown) => {
      try {
        parseScenario({ name: 's', duration: '1m', sensors }, { sensors: ['env', 't'], quantities: simulatedQuantities(config), baseDir: ROOT });
      } catch (err) {
        assert.equal((err as GatewayError).code, 'GW_ERR_SCENARIO_INVALID');
        return (err as GatewayError).details.detail;
      }
      return 'accepted';
    };
    assert.match(parse({ t: { humidity: [{ at: '0s', constant: 50 }] } }) ?? '', /^sensors\.t\.humidity: sensor "t"'s simulated device has no humidity/);
    assert.match(parse({ env: { humidity: [{ at: '0s', constant: 120 }] } }) ?? '', /^sensors\.env\.humidity\[0\]\.constant: must be 0\.\.100 %RH/);
    assert.match(parse({ env: { humidity: [{ at: '0s', trace: { file: 'x.csv' } }] } }) ?? '', /^sensors\.env\.humidity\[0\]\.trace:/);
  });

  it('live control: set celsius and humidity, release both; humidity on a TMP102 is refused', () => {
    const { clock, bus, control, close } = rig();
    try {
      const result = control.command({ op: 'set', sensor: 'env', celsius: 35, humidity: 70 }, 'test');
      assert.equal(result.change.what, 'temperature held at 35 °C, humidity held at 70 %RH');
      assert.deepEqual({ ...result.sensors['env'] }, { device: 'sht3x', celsius: 35, humidity: 70, humidityOverride: 70, fault: null, temperatureOverride: 35, faultOverride: null, resets: 0 });
      const [t, rh] = measure(bus, clock);
      assert.ok(Math.abs(t - 35) < 0.01 && Math.abs(rh - 70) < 0.01, `${t} ${rh}`);
      control.command({ op: 'set', sensor: 'env', humidity: 20 }, 'test');
      assert.ok(Math.abs(measure(bus, clock)[1] - 20) < 0.01);
      control.command({ op: 'release', sensor: 'env' }, 'test');
      assert.ok(Math.abs(measure(bus, clock)[1] - 45) < 0.01, 'back to the configured 45 %RH');
      assert.throws(() => control.command({ op: 'set', sensor: 't', humidity: 50 }, 'test'), (err: GatewayError) => err.code === 'GW_ERR_SIM_COMMAND_INVALID' && /^humidity:/.test(err.details.detail ?? ''));
      assert.throws(() => control.command({ op: 'set', sensor: 'env', humidity: 101 }, 'test'), { code: 'GW_ERR_SIM_COMMAND_INVALID' });
      control.command({ op: 'fault', sensor: 'env', fault: 'unplugged' }, 'test');
      assert.throws(() => measure(bus, clock), { code: 'GW_ERR_I2C_NACK' });
      control.command({ op: 'reset', sensor: 'env' }, 'test');
    } finally {
      close();
    }
  });
});
