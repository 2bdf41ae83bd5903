/**
 * The shipped SHT3x module (modules/sht3x.wasm, built from wasm-src/modules/sht3x) in the
 * gateway's real WASM host, on a simulated bus with the simulated Sensirion SHT3x-DIS
 * (drivers/sim/sht3x.ts) at 0x44: what it reads, converted by the datasheet's formulas
 * (section 4.13) to the last bit, and how it behaves when the chip is slow or unplugged.
 *
 * Module ABI 1.1 (several quantities): the temperature is the primary quantity, the one a 1.0
 * host serves as `value`/`raw`; the humidity reaches a reading through `measurements`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { constantHumidity } from '../drivers/sim/humidity-profile.ts';
import { SimI2CFault, SimulatedI2CBus, type SimI2CDevice } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedSht3x } from '../drivers/sim/sht3x.ts';
import { SHT3X_ADDRESS, SHT3X_SINGLE_SHOT } from '../drivers/sim/sht3x-commands.ts';
import { sht3xCelsiusToRaw, sht3xPercentRhToRaw, sht3xRawToCelsius, sht3xRawToPercentRh } from '../drivers/sim/sht3x-format.ts';
import { constantProfile } from '../drivers/sim/temperature-profile.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { thrown, wasmPath } from './helpers/chain.ts';

const ADDR = SHT3X_ADDRESS.addrLow;
/** One LSB of each 16-bit output: what gw_init reports as resolution (section 4.13). */
const CELSIUS_LSB = 175 / 65535;
const PERCENT_RH_LSB = 100 / 65535;

/** Records the commands the module sends (the first two bytes of each write), then passes every transfer on. */
class CommandLog implements SimI2CDevice {
  readonly commands: number[] = [];
  /** NACK this many read headers before the chip sees them, as a chip slower than its datasheet would. */
  nackReads = 0;
  constructor(readonly chip: SimulatedSht3x) {}
  onWrite(bytes: Uint8Array): void {
    if (bytes.length >= 2) this.commands.push((bytes[0]! << 8) | bytes[1]!);
    this.chip.onWrite(bytes);
  }
  onRead(length: number): Uint8Array {
    if (this.nackReads > 0) {
      this.nackReads--;
      throw new SimI2CFault('GW_ERR_I2C_NACK', 'read header NACKed: measurement still running (test: a slow chip)');
    }
    return this.chip.onRead(length);
  }
}

async function setup(options: { celsius?: number; percentRh?: number; settings?: Record<string, unknown> } = {}) {
  const clock = new ManualClock();
  const bus = new SimulatedI2CBus(1);
  const chip = new SimulatedSht3x({ clock, temperature: constantProfile(options.celsius ?? 25), humidity: constantHumidity(options.percentRh ?? 40) });
  const log = new CommandLog(chip);
  bus.attach(ADDR, log);
  clock.advanceMs(10); // a chip powered well before the gateway starts (power-up: 1 ms, Table 4)
  const logger = new MemoryLogger();
  const sensor = await SensorModule.fromFile(wasmPath('sht3x'), {
    name: 'env',
    capabilities: { i2c: { bus: 1, addresses: [ADDR] } },
    bus,
    clock,
    logger,
    init: { bus: 1, address: ADDR, settings: options.settings ?? {} },
  });
  return { clock, bus, chip, log, logger, sensor };
}

describe('modules/sht3x.wasm in the WASM host, on a simulated SHT3x', () => {
  it('gw_init: the temperature as primary quantity, both quantities with their SenML units and one LSB as resolution', async () => {
    const { sensor, log } = await setup();
    const info = sensor.start();
    assert.equal(info.name, 'sht3x');
    assert.equal(info.quantity, 'temperature');
    assert.equal(info.unit, 'Cel');
    assert.equal(info.resolution, CELSIUS_LSB);
    assert.equal(info.periodMs, 1000);
    // Section 4.9 soft reset, heater off (section 4.10), then Read Status (Table 17) to check both.
    assert.deepEqual(log.commands, [0x30a2, 0x3066, 0xf32d]);
    if ('quantities' in info) {
      assert.deepEqual(info.quantities, [
        { name: 'temperature', unit: 'Cel', resolution: CELSIUS_LSB },
        { name: 'humidity', unit: '%RH', resolution: PERCENT_RH_LSB },
      ]);
    }
  });

  it('reads 25 °C and 40 %RH as raw 0x6666 each, converted to the last bit, with a single shot that does not stretch the clock', async () => {
    const { sensor, chip, log } = await setup();
    sensor.start();
    log.commands.length = 0;
    const reading = sensor.read();
    // 0x6666 is 2/5 of 0xFFFF: T = -45 + 175 * 0.4 = 25, RH = 100 * 0.4 = 40 (section 4.13).
    assert.equal(sht3xCelsiusToRaw(25), 0x6666);
    assert.equal(sht3xPercentRhToRaw(40), 0x6666);
    assert.equal(reading.value, 25);
    assert.equal(reading.raw, 0x6666);
    assert.equal(reading.bits, 16);
    assert.equal(reading.unit, 'Cel');
    // The Pi's I2C controller mishandles clock stretching: the module uses the command without it
    // (Table 9, high repeatability) and waits the maximum measurement time instead.
    assert.deepEqual(log.commands, [SHT3X_SINGLE_SHOT.noStretch.high]);
    assert.equal(chip.stats.clockStretches, 0);
    // Both quantities, the primary first.
    assert.deepEqual(reading.measurements, [
      { quantity: 'temperature', unit: 'Cel', value: 25, raw: 0x6666 },
      { quantity: 'humidity', unit: '%RH', value: 40, raw: 0x6666 },
    ]);
  });

  it('converts any value exactly as the datasheet formulas do (-12.3 °C, 63.7 %RH)', async () => {
    const { sensor } = await setup({ celsius: -12.3, percentRh: 63.7 });
    sensor.start();
    const reading = sensor.read();
    const rawT = sht3xCelsiusToRaw(-12.3);
    const rawRh = sht3xPercentRhToRaw(63.7);
    assert.equal(reading.raw, rawT);
    assert.equal(reading.value, sht3xRawToCelsius(rawT));
    assert.ok(Math.abs(reading.value - -12.3) <= CELSIUS_LSB / 2, `${reading.value} within half an LSB of -12.3`);
    assert.deepEqual(reading.measurements[1], { quantity: 'humidity', unit: '%RH', value: sht3xRawToPercentRh(rawRh), raw: rawRh });
  });

  it('honours the repeatability and heater settings (Table 9, section 4.10)', async () => {
    const { sensor, chip, log } = await setup({ settings: { repeatability: 'low', heater: true, periodMs: 2000 } });
    const info = sensor.start();
    assert.equal(info.periodMs, 2000);
    assert.equal(chip.peek().heaterOn, true);
    log.commands.length = 0;
    const reading = sensor.read();
    assert.deepEqual(log.commands, [SHT3X_SINGLE_SHOT.noStretch.low]);
    // The heater warms the die (the simulation: 3 °C), and the module reports what it measures.
    assert.ok(reading.value > 25, `heated die reads ${reading.value}`);
  });

  it('a read header NACKed after the command is GW_ERR_SENSOR_NOT_READY; the next read fetches that measurement', async () => {
    const { sensor, chip, log, clock } = await setup();
    sensor.start();
    log.commands.length = 0;
    log.nackReads = 1;
    const err = thrown(() => sensor.read());
    assert.equal(err.code, 'GW_ERR_SENSOR_NOT_READY');
    const measured = chip.stats.measurements;
    clock.advanceMs(16);
    const reading = sensor.read();
    assert.equal(reading.value, 25);
    assert.deepEqual(log.commands, [SHT3X_SINGLE_SHOT.noStretch.high], 'no second measurement started');
    assert.equal(chip.stats.measurements, measured);
  });

  it('an unplugged chip fails the read with GW_ERR_I2C_NACK; plugged back, the next read sets it up again and reads', async () => {
    const { sensor, chip, log } = await setup();
    sensor.start();
    chip.inject('unplugged');
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_I2C_NACK');
    chip.clearFault(); // a power cycle: heater off, status "reset detected"
    log.commands.length = 0;
    const reading = sensor.read();
    assert.equal(reading.value, 25);
    assert.deepEqual(log.commands, [0x30a2, 0x3066, 0xf32d, SHT3X_SINGLE_SHOT.noStretch.high]);
  });

  it('starts on a chip that is still powering up: the soft reset is tried again after a measurement time', async () => {
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    bus.attach(ADDR, new SimulatedSht3x({ clock, temperature: constantProfile(25), humidity: constantHumidity(40) }));
    const sensor = await SensorModule.fromFile(wasmPath('sht3x'), {
      name: 'env', capabilities: { i2c: { bus: 1, addresses: [ADDR] } }, bus, clock, logger: new MemoryLogger(),
      init: { bus: 1, address: ADDR, settings: {} },
    });
    assert.equal(sensor.start().quantity, 'temperature');
    assert.equal(sensor.read().value, 25);
  });

  it('refuses an address an SHT3x cannot have (Table 7: 0x44 or 0x45) before sending anything', async () => {
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    const sensor = await SensorModule.fromFile(wasmPath('sht3x'), {
      name: 'env', capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger: new MemoryLogger(),
      init: { bus: 1, address: 0x48, settings: {} },
    });
    assert.equal(thrown(() => sensor.start()).code, 'GW_ERR_MODULE_BAD_CONFIG');
    assert.equal(bus.transactionCount, 0);
  });
});
