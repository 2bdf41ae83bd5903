/**
 * The TMP102 "alert" setting through the whole chain: Go module (real .wasm) -> WASM host ->
 * simulated TMP102 on a ManualClock. Checked at register level (peek()) and on the ALERT line
 * (alertPinLevel, onAlertChange), against SBOS397 "High- and Low-Limit Registers",
 * "Thermostat Mode (TM)", "Polarity (POL)" and "Fault Queue (F1/F0)".
 *
 * Timing: the ManualClock starts at 1000 ms; the chip powers up then, and at 4 Hz its
 * conversions end at 1026 + 250k ms. makeChain's gw_init runs at 1000 ms.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import { TMP102_CONFIG as CFG, celsiusToLimitRegister } from '../drivers/sim/tmp102-registers.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { makeChain, thrown, wasmPath } from './helpers/chain.ts';

const POWER_ON_ALERT = { high: 80, low: 75, mode: 'comparator', polarity: 'active-low', faults: 1 } as const;

/** ALERT line changes as [level, simulated ms]. */
function record(chip: SimulatedTmp102): Array<[number, number]> {
  const events: Array<[number, number]> = [];
  chip.onAlertChange((level, atMs) => events.push([level, atMs]));
  return events;
}

describe('TMP102 alert settings: registers and init output', () => {
  it('without an alert setting the chip keeps its power-up thermostat, and the output says so', async () => {
    const { chip, sensor } = await makeChain();
    assert.deepEqual(sensor.info?.alert, POWER_ON_ALERT);
    const regs = chip.peek();
    assert.equal(regs.tHigh, 0x5000);
    assert.equal(regs.tLow, 0x4b00);
    assert.equal(regs.configuration & (CFG.F1F0 | CFG.POL | CFG.TM), 0);
  });

  it('writes T_HIGH, T_LOW (12-bit: count << 4) and TM/POL/F1F0 as given; the output reads them back', async () => {
    const alert = { high: 30, low: -10.5, mode: 'interrupt', polarity: 'active-high', faults: 6 };
    const { chip, sensor } = await makeChain({ settings: { alert } });
    const regs = chip.peek();
    assert.equal(regs.tHigh, 0x1e00); // 30 °C = 0x1E0
    assert.equal(regs.tLow, 0xf580); // -10.5 °C = -168 = 0xF58
    assert.equal(regs.configuration & CFG.F1F0, CFG.F1F0); // 6 faults
    assert.equal(regs.configuration & CFG.POL, CFG.POL);
    assert.equal(regs.configuration & CFG.TM, CFG.TM);
    assert.equal(regs.configuration & CFG.EM, 0);
    assert.deepEqual(sensor.info?.alert, alert);
  });

  it('in extended mode writes the limits as 13-bit words (count << 3)', async () => {
    const { chip, sensor } = await makeChain({ settings: { resolution: 13, alert: { high: 140, low: -10.5 } } });
    const regs = chip.peek();
    assert.equal(regs.tHigh, 0x4600); // 140 °C = 0x8C0 << 3
    assert.equal(regs.tLow, 0xfac0); // -168 = 0x1F58 << 3
    assert.equal(regs.tHigh, celsiusToLimitRegister(140, true));
    assert.deepEqual(sensor.info?.alert, { ...POWER_ON_ALERT, high: 140, low: -10.5 });
  });

  it('rounds limits to the 0.0625 °C LSB', async () => {
    const { chip, sensor } = await makeChain({ settings: { alert: { high: 30.03, low: 20.04 } } });
    assert.equal(sensor.info?.alert?.high, 30);
    assert.equal(sensor.info?.alert?.low, 20.0625);
    assert.equal(chip.peek().tLow, celsiusToLimitRegister(20.0625));
  });

  it('switching to 13 bits without an alert setting keeps the limits in °C (rewritten in the new format)', async () => {
    const { clock, chip, sensor } = await makeChain({ settings: { resolution: 13 } });
    assert.equal(chip.peek().tHigh, 0x2800); // 80 °C as a 13-bit word, not 0x5000 (= 160 °C at 13 bits)
    assert.deepEqual(sensor.info?.alert, POWER_ON_ALERT);
    chip.setTemperature(80);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0, 'fires at 80 °C, not 160 °C');
  });

  it('refuses invalid alert settings with GW_ERR_MODULE_BAD_CONFIG and a detail', async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['low == high', { alert: { high: 30, low: 30 } }],
      ['low > high', { alert: { high: 30, low: 31 } }],
      ['high below the default low', { alert: { high: 50 } }],
      ['12-bit range', { alert: { high: 128 } }],
      ['13-bit range', { resolution: 13, alert: { high: 150.5 } }],
      ['below -55', { alert: { low: -56 } }],
      ['mode', { alert: { mode: 'latched' } }],
      ['polarity', { alert: { polarity: 'low' } }],
      ['faults', { alert: { faults: 3 } }],
      ['unknown key', { alert: { hysteresis: 2 } }],
      ['not a map', { alert: 30 }],
    ];
    for (const [name, settings] of cases) {
      const { sensor, chip } = await makeChain({ settings, noStart: true });
      const before = chip.stats.writes;
      const err = thrown(() => sensor.start());
      assert.equal(err.code, 'GW_ERR_MODULE_BAD_CONFIG', name);
      assert.ok(typeof err.details?.['detail'] === 'string' && (err.details['detail'] as string).includes('alert'), `${name}: ${String(err.details?.['detail'])}`);
      assert.equal(chip.stats.writes, before, `${name}: nothing written`);
    }
  });
});

describe('TMP102 alert settings: the ALERT line', () => {
  it('comparator, active low: active at T >= T_HIGH for `faults` conversions, released below T_LOW for as many', async () => {
    const { clock, chip, sensor } = await makeChain({ settings: { alert: { high: 30, low: 25.5, faults: 4 } } });
    const events = record(chip);
    chip.setTemperature(30); // exactly T_HIGH counts: "equals or exceeds"
    clock.advanceMs(776 - 1); // conversions at 1026, 1276, 1526 so far: 3 faults
    assert.equal(chip.alertPinLevel, 1);
    clock.advanceMs(1); // the 4th at 1776
    assert.equal(chip.alertPinLevel, 0);
    assert.deepEqual(events, [[0, 1776]]);
    // reads do not clear the comparator
    assert.equal(sensor.read().value, 30);
    assert.equal(chip.alertPinLevel, 0);
    chip.setTemperature(25.5); // hysteresis band, T_LOW itself included: stays active
    clock.advanceMs(1000);
    assert.equal(chip.alertPinLevel, 0);
    chip.setTemperature(25.4375); // one LSB below T_LOW, from the conversion at 3026 on
    clock.advanceMs(1000); // 3026, 3276, 3526, 3776
    assert.equal(chip.alertPinLevel, 1);
    assert.deepEqual(events, [[0, 1776], [1, 3776]]);
  });

  it('an interrupted run of faults starts the count again', async () => {
    const { clock, chip } = await makeChain({ settings: { alert: { high: 30, low: 25, faults: 2 } } });
    const events = record(chip);
    chip.setTemperature(31);
    clock.advanceMs(26); // 1026: one fault
    chip.setTemperature(29);
    clock.advanceMs(250); // 1276: not a fault
    chip.setTemperature(31);
    clock.advanceMs(250); // 1526: one fault
    assert.equal(chip.alertPinLevel, 1);
    clock.advanceMs(250); // 1776: two
    chip.update();
    assert.deepEqual(events, [[0, 1776]]);
  });

  it('active-high polarity inverts the line', async () => {
    const { clock, chip } = await makeChain({ settings: { alert: { high: 30, low: 25, polarity: 'active-high' } } });
    assert.equal(chip.alertPinLevel, 0, 'inactive: pulled low');
    chip.setTemperature(35);
    clock.advanceMs(26);
    assert.equal(chip.alertPinLevel, 1, 'active: released to the pull-up');
    chip.setTemperature(20);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0);
  });

  it('interrupt mode: latches at T_HIGH, a read clears it, then it fires again below T_LOW', async () => {
    const { clock, chip, sensor } = await makeChain({ settings: { alert: { high: 30, low: 25, mode: 'interrupt' } } });
    const events = record(chip);
    chip.setTemperature(35);
    clock.advanceMs(100); // conversion at 1026; past the 35 ms not-ready window
    assert.equal(chip.alertPinLevel, 0);
    assert.equal(sensor.read().value, 35); // a register read clears the interrupt
    assert.equal(chip.alertPinLevel, 1);
    clock.advanceMs(500); // 1600: still hot at 1276 and 1526, but armed for T_LOW now
    assert.equal(chip.alertPinLevel, 1);
    chip.setTemperature(20);
    clock.advanceMs(250); // 1850: cold at 1776
    assert.equal(chip.alertPinLevel, 0);
    sensor.read();
    assert.equal(chip.alertPinLevel, 1);
    assert.deepEqual(events, [[0, 1026], [1, 1100], [0, 1776], [1, 1850]]);
  });
});

describe('TMP102 alert settings: reconfigure at run time', () => {
  it('changes thresholds on the live instance without a NOT_READY window', async () => {
    const { clock, chip, sensor } = await makeChain({ celsius: 22 });
    clock.advanceMs(300);
    assert.equal(sensor.read().value, 22);
    const conversions = chip.stats.conversions;
    const info = sensor.reconfigure({ alert: { high: 25, low: 23, faults: 1 } });
    assert.deepEqual(info.alert, { high: 25, low: 23, mode: 'comparator', polarity: 'active-low', faults: 1 });
    assert.deepEqual(sensor.info, info);
    assert.equal(sensor.read().value, 22, 'no NOT_READY: the conversions were not disturbed');
    assert.equal(sensor.stats.instancesCreated, 1, 'the live instance was reconfigured');
    assert.equal(chip.stats.conversions, conversions);
    assert.equal(chip.peek().tHigh, celsiusToLimitRegister(25));
    assert.equal(chip.alertPinLevel, 1);
    chip.setTemperature(26);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0, 'fires at the new T_HIGH');
    // thresholds again, in interrupt mode
    sensor.reconfigure({ alert: { high: 40, low: 30, mode: 'interrupt' } });
    assert.equal(sensor.read().value, 26);
    assert.equal(chip.peek().configuration & CFG.TM, CFG.TM);
  });

  it('a change of rate or resolution starts a new not-ready window, as the first init', async () => {
    const { clock, sensor } = await makeChain();
    clock.advanceMs(300);
    sensor.read();
    const info = sensor.reconfigure({ rateHz: 8, alert: { high: 40, low: 30 } });
    assert.equal(info.periodMs, 125);
    const err = thrown(() => sensor.read());
    assert.equal(err.code, 'GW_ERR_SENSOR_NOT_READY');
    clock.advanceMs(err.details?.['retryAfterMs'] as number);
    assert.equal(sensor.read().value, 21.5);
  });

  it('a rejected reconfigure (low >= high) gives GW_ERR_MODULE_BAD_CONFIG and changes nothing', async () => {
    const settings = { alert: { high: 30, low: 25 } };
    const { clock, chip, sensor } = await makeChain({ settings });
    clock.advanceMs(300);
    const before = chip.peek();
    const info = sensor.info;
    const err = thrown(() => sensor.reconfigure({ alert: { high: 20, low: 20 } }));
    assert.equal(err.code, 'GW_ERR_MODULE_BAD_CONFIG');
    assert.match(String(err.details?.['detail']), /low must be below/);
    assert.deepEqual(chip.peek(), before, 'no register written');
    assert.deepEqual(sensor.info, info);
    assert.equal(sensor.read().value, 21.5, 'reads keep working, without a NOT_READY window');
    chip.setTemperature(31);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0, 'the old thresholds still apply');
  });

  it('with no live instance, reconfigure creates one with the new settings; a refused one leaves the old', async () => {
    const { chip, sensor } = await makeChain({ noStart: true, settings: { alert: { high: 30, low: 25 } } });
    assert.equal(thrown(() => sensor.reconfigure({ alert: { low: 90 } })).code, 'GW_ERR_MODULE_BAD_CONFIG');
    assert.equal(sensor.info, undefined);
    assert.equal(sensor.start().alert?.high, 30, 'start() used the old settings');
    const { chip: chip2, sensor: sensor2 } = await makeChain({ noStart: true });
    assert.equal(sensor2.reconfigure({ alert: { high: 45, low: 40 } }).alert?.high, 45);
    assert.equal(chip2.peek().tHigh, celsiusToLimitRegister(45));
    assert.equal(chip.peek().tHigh, celsiusToLimitRegister(30));
  });

  it('a fresh instance after a fault gets the settings of the last successful reconfigure', async () => {
    // One-shot reads sleep 26 ms: with a 10 ms budget every read ends in GW_ERR_MODULE_DEADLINE
    // and the instance is replaced, which is what this test needs.
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    const chip = new SimulatedTmp102({ clock });
    bus.attach(0x48, chip);
    const sensor = await SensorModule.fromFile(wasmPath('tmp102'), {
      name: 'tmp102', capabilities: { i2c: { bus: 1, addresses: [0x48] } }, bus, clock, logger: new MemoryLogger(),
      init: { bus: 1, address: 0x48, settings: { mode: 'oneshot' } }, sleepBudgetMs: 10,
    });
    sensor.start();
    sensor.reconfigure({ mode: 'oneshot', alert: { high: 40, low: 30 } });
    assert.equal(thrown(() => sensor.reconfigure({ alert: { high: 1, low: 2 } })).code, 'GW_ERR_MODULE_BAD_CONFIG');
    clock.advanceMs(100);
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_DEADLINE');
    chip.inject('unplugged'); // power cycle: back to 80/75 °C
    chip.clearFault();
    assert.equal(chip.peek().tHigh, 0x5000);
    // The next call makes a new instance; its gw_init starts a new not-ready window.
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_SENSOR_NOT_READY');
    assert.equal(sensor.stats.instancesCreated, 2);
    assert.equal(chip.peek().tHigh, celsiusToLimitRegister(40), 'the new instance applied the reconfigured alert');
    assert.equal(sensor.info?.alert?.low, 30);
  });
});
