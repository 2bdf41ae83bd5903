/**
 * The whole chain: Go module (real .wasm built by wasm-src/build.mjs) -> gateway WASM host ->
 * I2C host imports -> simulated TMP102. Values are checked against the TMP102 datasheet
 * (SBOS397) temperature tables to the LSB.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinuxI2CBus } from '../drivers/linux-i2c-bus.ts';
import { makeChain, thrown } from './helpers/chain.ts';
import { TABLE_12, TABLE_13 } from './helpers/datasheet.ts';

/** 4 Hz default: a new conversion every 250 ms. */
const PERIOD_MS = 250;

describe('chain: Go TMP102 module through the WASM host to the simulated chip', () => {
  it('announces the sensor at init', async () => {
    const { sensor } = await makeChain();
    assert.deepEqual(sensor.info, {
      name: 'tmp102', version: '1.0.0', quantity: 'temperature', unit: 'Cel', periodMs: 250, resolution: 0.0625,
      // A 1.0 module's one quantity, as the host lists every module's (ABI 1.1).
      quantities: [{ name: 'temperature', unit: 'Cel', resolution: 0.0625 }],
      // Read back from the chip: the power-on thermostat settings (SBOS397 "High- and Low-Limit Registers").
      alert: { high: 80, low: 75, mode: 'comparator', polarity: 'active-low', faults: 1 },
    });
  });

  it('matches the datasheet 12-bit table to the LSB, negative values included', async () => {
    const { clock, chip, sensor } = await makeChain();
    for (const [celsius, count] of TABLE_12) {
      chip.setTemperature(celsius);
      clock.advanceMs(PERIOD_MS);
      const r = sensor.read();
      assert.equal(r.value, celsius, `${celsius} °C`);
      assert.equal(r.raw, (count << 4) & 0xffff, `register for ${celsius} °C`);
      assert.equal(r.bits, 12);
      assert.equal(r.unit, 'Cel');
    }
  });

  it('matches the datasheet 13-bit extended-mode table to the LSB', async () => {
    const { clock, chip, sensor } = await makeChain({ settings: { resolution: 13 } });
    for (const [celsius, count] of TABLE_13) {
      chip.setTemperature(celsius);
      clock.advanceMs(PERIOD_MS);
      const r = sensor.read();
      assert.equal(r.value, celsius, `${celsius} °C`);
      assert.equal(r.raw, ((count << 3) | 1) & 0xffff, `register for ${celsius} °C`);
      assert.equal(r.bits, 13);
    }
  });

  it('saturates at 127.9375 °C in 12-bit mode, as the chip does', async () => {
    const { clock, chip, sensor } = await makeChain();
    chip.setTemperature(140);
    clock.advanceMs(PERIOD_MS);
    assert.equal(sensor.read().value, 127.9375);
  });

  it('never returns the power-up 0 °C: not ready until 35 ms after configuration', async () => {
    const { clock, chip, sensor } = await makeChain({ celsius: 23.5 });
    // At 10 ms the chip's register still holds its power-up 0x0000.
    clock.advanceMs(10);
    assert.equal(chip.peek().temperature, 0);
    const early = thrown(() => sensor.read());
    assert.equal(early.code, 'GW_ERR_SENSOR_NOT_READY');
    const retry = early.details?.['retryAfterMs'] as number;
    assert.ok(retry >= 1 && retry <= 35, `retryAfterMs ${retry}`);
    clock.advanceMs(retry);
    assert.equal(sensor.read().value, 23.5);
  });

  it('follows the conversion rate: a new value only after the next conversion', async () => {
    const { clock, chip, sensor } = await makeChain({ celsius: 20, settings: { rateHz: 1 } });
    assert.equal(sensor.info?.periodMs, 1000);
    clock.advanceMs(1500); // mid-period: conversions end at 26 ms past each second
    assert.equal(sensor.read().value, 20);
    chip.setTemperature(30);
    clock.advanceMs(100);
    assert.equal(sensor.read().value, 20, 'no conversion has ended since the change');
    clock.advanceMs(1000);
    assert.equal(sensor.read().value, 30);
  });

  it('one-shot mode: the chip sleeps between reads and each read converts once', async () => {
    const { clock, chip, sensor } = await makeChain({ celsius: 18.25, settings: { mode: 'oneshot' } });
    clock.advanceMs(40);
    const shutdownBit = 0x0100; // SD: bit 8 of the configuration register
    assert.ok(chip.peek().configuration & shutdownBit, 'configured in shutdown');
    const before = chip.stats.conversions;
    const t0 = clock.monotonicNs();
    assert.equal(sensor.read().value, 18.25);
    const slept = Number(clock.monotonicNs() - t0) / 1e6;
    assert.ok(slept >= 26 && slept <= 60, `the module waited ${slept} ms for the conversion`);
    assert.equal(chip.stats.conversions - before, 1, 'exactly one conversion per read');
    // In shutdown nothing converts on its own, however long we wait...
    chip.setTemperature(-3.5);
    clock.advanceMs(5000);
    assert.equal(chip.stats.conversions - before, 1);
    assert.equal(chip.peek().temperature, 0x1240, 'register still holds 18.25 °C');
    // ...and the next read converts the current temperature at once.
    assert.equal(sensor.read().value, -3.5);
  });

  describe('injected faults become coded errors, never numbers', () => {
    for (const [fault, code] of [
      ['nack', 'GW_ERR_I2C_NACK'],
      ['bus-error', 'GW_ERR_I2C_BUS'],
      ['timeout', 'GW_ERR_I2C_TIMEOUT'],
      ['unplugged', 'GW_ERR_I2C_NACK'],
    ] as const) {
      it(`${fault} -> ${code}, then recovers`, async () => {
        const { clock, chip, sensor } = await makeChain({ celsius: 22 });
        clock.advanceMs(PERIOD_MS);
        assert.equal(sensor.read().value, 22);
        chip.inject(fault);
        assert.equal(thrown(() => sensor.read()).code, code);
        chip.clearFault();
        // After a failed transfer the module re-checks identity and configuration, and
        // waits out a conversion: a chip that lost power would otherwise read 0 °C.
        clock.advanceMs(1);
        const again = thrown(() => sensor.read());
        assert.equal(again.code, 'GW_ERR_SENSOR_NOT_READY');
        clock.advanceMs(40);
        assert.equal(sensor.read().value, 22);
      });
    }

    it('stuck: the chip answers with a frozen register; the chain reports what the chip says', async () => {
      const { clock, chip, sensor } = await makeChain({ celsius: 22 });
      clock.advanceMs(PERIOD_MS);
      assert.equal(sensor.read().value, 22);
      chip.inject('stuck');
      chip.setTemperature(35);
      clock.advanceMs(10 * PERIOD_MS);
      assert.equal(sensor.read().value, 22, 'a stuck chip cannot be told from a steady one by one read');
      chip.clearFault();
      clock.advanceMs(PERIOD_MS);
      assert.equal(sensor.read().value, 35);
    });

    it('a device that is not a TMP102 fails the identity check', async () => {
      const { bus, sensor } = await makeChain({ noStart: true });
      bus.detach(0x48);
      // Something at 0x48 whose configuration register reads 0xffff (R1R0 fine, low bits not 0).
      bus.attach(0x48, { onWrite() {}, onRead: (n) => new Uint8Array(n).fill(0xff) });
      assert.equal(thrown(() => sensor.start()).code, 'GW_ERR_SENSOR_WRONG_DEVICE');
    });

    it('no chip at the address: NACK at start-up, with the precise code', async () => {
      const { bus, sensor } = await makeChain({ noStart: true });
      bus.detach(0x48);
      assert.equal(thrown(() => sensor.start()).code, 'GW_ERR_I2C_NACK');
    });

    it('a missing adapter through the real Linux driver: GW_ERR_I2C_NO_ADAPTER from the kernel', async () => {
      const { sensor } = await makeChain({ bus: new LinuxI2CBus(97), noStart: true });
      const err = thrown(() => sensor.start());
      assert.equal(err.code, 'GW_ERR_I2C_NO_ADAPTER');
    });
  });

  describe('a chip reset behind the driver\'s back (power glitch, general call) is never a reading', () => {
    it('12-bit: the power-up 0x0000 is looked at again after one conversion, and the real value reported', async () => {
      const { clock, bus, chip, sensor } = await makeChain({ celsius: 22.5 });
      clock.advanceMs(PERIOD_MS);
      assert.equal(sensor.read().value, 22.5);
      bus.write(0x00, Uint8Array.of(0x06)); // general call reset (SBOS397 "General Call")
      assert.equal(chip.peek().temperature, 0, 'the chip reads 0 °C until its first conversion ends');
      assert.equal(sensor.read().value, 22.5);
    });

    it('13-bit: a register in the 12-bit format means a reset; the chip is set up again', async () => {
      const { clock, bus, chip, sensor } = await makeChain({ celsius: 140, settings: { resolution: 13 } });
      clock.advanceMs(PERIOD_MS);
      assert.equal(sensor.read().value, 140);
      bus.write(0x00, Uint8Array.of(0x06));
      clock.advanceMs(PERIOD_MS); // the reset chip converts again, in 12 bits: 127.9375 °C at most
      assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_SENSOR_NOT_READY', 'not the saturated 12-bit value');
      assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_SENSOR_NOT_READY', 'configured again: waiting a conversion');
      assert.ok(chip.peek().configuration & 0x0010, 'EM set again');
      clock.advanceMs(PERIOD_MS);
      const r = sensor.read();
      assert.deepEqual([r.value, r.bits], [140, 13]);
    });
  });

  it('refuses bad settings with GW_ERR_MODULE_BAD_CONFIG', async () => {
    for (const settings of [{ resolution: 14 }, { rateHz: 3 }, { mode: 'sometimes' }, { colour: 'blue' }]) {
      const { sensor } = await makeChain({ settings, noStart: true });
      assert.equal(thrown(() => sensor.start()).code, 'GW_ERR_MODULE_BAD_CONFIG', JSON.stringify(settings));
    }
  });

  it('counts its bus transactions: one register read per reading in continuous mode', async () => {
    const { clock, bus, sensor } = await makeChain();
    clock.advanceMs(PERIOD_MS);
    const before = bus.transactionCount;
    sensor.read();
    sensor.read();
    assert.equal(bus.transactionCount - before, 2);
  });
});
