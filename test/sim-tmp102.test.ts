import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../drivers/clock.ts';
import { SimulatedI2CBus, SMBUS_ALERT_RESPONSE_ADDRESS } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102, type SimulatedTmp102Options } from '../drivers/sim/tmp102.ts';
import { rampProfile } from '../drivers/sim/temperature-profile.ts';
import { TMP102_CONFIG as CFG, celsiusToLimitRegister, temperatureRegisterToCelsius } from '../drivers/sim/tmp102-registers.ts';
import { expectI2CError } from './helpers/refusals.ts';

const ADDR = 0x48;
const REG = { temperature: 0, configuration: 1, tLow: 2, tHigh: 3 } as const;

function setup(options: Partial<SimulatedTmp102Options> = {}) {
  const clock = new ManualClock();
  const bus = new SimulatedI2CBus(1);
  const chip = new SimulatedTmp102({ clock, ...options });
  bus.attach(ADDR, chip);
  const readWord = (register: number, address = ADDR): number => {
    const [msb, lsb] = bus.readRegister(address, register, 2);
    return (msb! << 8) | lsb!;
  };
  const writeWord = (register: number, word: number, address = ADDR): void =>
    bus.writeRegister(address, register, Uint8Array.of(word >> 8, word & 0xff));
  return { clock, bus, chip, readWord, writeWord };
}

describe('SimulatedTmp102 registers', () => {
  it('has the power-on values: config 0x60A0, T_LOW 75 °C, T_HIGH 80 °C, temperature 0', () => {
    const { readWord } = setup();
    assert.equal(readWord(REG.temperature), 0x0000);
    assert.equal(readWord(REG.configuration), 0x60a0);
    assert.equal(readWord(REG.tLow), 0x4b00);
    assert.equal(readWord(REG.tHigh), 0x5000);
  });

  it('starts with the pointer at the temperature register', () => {
    const { bus, clock, chip } = setup();
    chip.setTemperature(25);
    clock.advanceMs(26);
    assert.deepEqual([...bus.read(ADDR, 2)], [0x19, 0x00]);
  });

  it('keeps the pointer across transactions: plain reads read the last register written to', () => {
    const { bus, chip } = setup();
    bus.write(ADDR, Uint8Array.of(REG.tHigh));
    assert.deepEqual([...bus.read(ADDR, 2)], [0x50, 0x00]);
    assert.deepEqual([...bus.read(ADDR, 2)], [0x50, 0x00]);
    bus.readRegister(ADDR, REG.configuration, 2);
    assert.deepEqual([...bus.read(ADDR, 2)], [0x60, 0xa0]);
    assert.equal(chip.peek().pointer, REG.configuration);
  });

  it('reads one byte as the MSB only', () => {
    const { bus } = setup();
    assert.deepEqual([...bus.readRegister(ADDR, REG.configuration, 1)], [0x60]);
  });

  it('keeps R1R0 = 11, computes AL, and reads the low four bits of byte 2 as 0', () => {
    const { readWord, writeWord, clock } = setup();
    writeWord(REG.configuration, 0x0000);
    assert.equal(readWord(REG.configuration), 0x6020); // R1R0 forced, AL=1 (POL=0, no alert), CR=00
    // Every writable bit, plus OS: SD=1 so OS starts a one-shot; POL=1 inverts AL to 0.
    writeWord(REG.configuration, 0xffff);
    assert.equal(readWord(REG.configuration), 0x7fd0); // OS reads 0 while converting
    clock.advanceMs(26);
    assert.equal(readWord(REG.configuration), 0xffd0); // OS reads 1 when done; low nibble 0
  });

  it('acknowledges and ignores writes to the read-only temperature register', () => {
    const { readWord, writeWord, chip, clock } = setup();
    chip.setTemperature(25);
    clock.advanceMs(26);
    writeWord(REG.temperature, 0x1234);
    assert.equal(readWord(REG.temperature), 0x1900);
  });

  it('stores limits with the unused low bits reading 0 (4 in 12-bit, 3 in extended mode)', () => {
    const { readWord, writeWord } = setup();
    writeWord(REG.tHigh, 0x123f);
    assert.equal(readWord(REG.tHigh), 0x1230);
    writeWord(REG.configuration, 0x0090); // CR=10, EM=1
    assert.equal(readWord(REG.tHigh), 0x1238);
  });

  it('updates registers byte by byte: a lone MSB keeps the old LSB', () => {
    const { bus, readWord, writeWord } = setup();
    writeWord(REG.tLow, 0x4b80);
    bus.writeRegister(ADDR, REG.tLow, Uint8Array.of(0x20));
    assert.equal(readWord(REG.tLow), 0x2080);
  });

  it('NACKs a pointer byte with P7..P2 set (GW_ERR_I2C_BUS) and keeps the old pointer', () => {
    const { bus, chip } = setup();
    bus.write(ADDR, Uint8Array.of(REG.tLow));
    expectI2CError(() => bus.readRegister(ADDR, 0x04, 2), 'GW_ERR_I2C_BUS');
    expectI2CError(() => bus.writeRegister(ADDR, 0x81, Uint8Array.of(0, 0)), 'GW_ERR_I2C_BUS');
    assert.equal(chip.peek().pointer, REG.tLow);
  });
});

describe('SimulatedTmp102 conversions', () => {
  it('reads 0 °C after power-up until the first conversion ends at 26 ms', () => {
    const { clock, chip, readWord } = setup({ profile: rampProfile({ from: 25, to: 25, overMs: 1 }) });
    clock.advanceMs(25.9);
    assert.equal(readWord(REG.temperature), 0x0000);
    clock.advanceMs(0.1);
    assert.equal(readWord(REG.temperature), 0x1900);
    assert.equal(chip.stats.conversions, 1);
  });

  it('honours a configurable conversion time up to the 35 ms maximum', () => {
    const { clock, readWord } = setup({ conversionTimeMs: 35 });
    clock.advanceMs(34);
    assert.equal(readWord(REG.temperature), 0);
    clock.advanceMs(1);
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 21.5);
    assert.throws(() => new SimulatedTmp102({ clock: new ManualClock(), conversionTimeMs: 36 }), RangeError);
  });

  for (const [cr, periodMs] of [[0b00, 4000], [0b01, 1000], [0b10, 250], [0b11, 125]] as const) {
    it(`converts continuously every ${periodMs} ms with CR=${cr.toString(2).padStart(2, '0')}`, () => {
      const { clock, chip, readWord, writeWord } = setup();
      writeWord(REG.configuration, cr << 6); // during the power-up conversion, started at t=0
      clock.advanceMs(10_000 + 26);
      assert.equal(chip.stats.conversions, Math.floor(10_000 / periodMs) + 1);
      // A new temperature shows only when the next conversion ends.
      const nextEnd = Math.floor(10_000 / periodMs) * periodMs + periodMs + 26;
      chip.setTemperature(30);
      clock.advanceMs(nextEnd - 10_026 - 1);
      assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 21.5);
      clock.advanceMs(1);
      assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 30);
    });
  }

  it('samples the profile at each conversion end (4 Hz default)', () => {
    // 1 °C per second: the conversion ending at 276 ms reads 0.276 °C -> 0.25 (4 LSB).
    const { clock, readWord } = setup({ profile: rampProfile({ from: 0, to: 100, overMs: 100_000 }) });
    clock.advanceMs(300);
    assert.equal(readWord(REG.temperature), 0x004 << 4);
    clock.advanceMs(2000); // last conversion ended at 2276 ms: 2.276 °C -> 2.25
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 2.25);
  });
});

describe('SimulatedTmp102 data format (SBOS397 temperature data format tables)', () => {
  const table12: Array<[number, number]> = [
    [127.9375, 0x7ff], [100, 0x640], [80, 0x500], [75, 0x4b0], [50, 0x320], [25, 0x190],
    [0.25, 0x004], [0, 0x000], [-0.25, 0xffc], [-25, 0xe70], [-55, 0xc90],
  ];
  for (const [celsius, value] of table12) {
    it(`12-bit: ${celsius} °C reads 0x${value.toString(16).toUpperCase().padStart(3, '0')} << 4`, () => {
      const { clock, chip, readWord } = setup();
      chip.setTemperature(celsius);
      clock.advanceMs(26);
      assert.equal(readWord(REG.temperature), value << 4);
    });
  }

  const table13: Array<[number, number]> = [
    [150, 0x0960], [128, 0x0800], [127.9375, 0x07ff], [100, 0x0640], [25, 0x0190], [0.25, 0x0004],
    [0, 0x0000], [-0.25, 0x1ffc], [-25, 0x1e70], [-55, 0x1c90],
  ];
  for (const [celsius, value] of table13) {
    it(`13-bit (EM=1): ${celsius} °C reads 0x${value.toString(16).toUpperCase().padStart(4, '0')} << 3 | 1`, () => {
      const { clock, chip, readWord, writeWord } = setup();
      writeWord(REG.configuration, 0x0090); // CR=10, EM=1
      chip.setTemperature(celsius);
      clock.advanceMs(250);
      const word = readWord(REG.temperature);
      assert.equal(word, (value << 3) | 1);
      assert.equal(temperatureRegisterToCelsius(word), celsius);
    });
  }

  it('saturates at 127.9375 °C in 12-bit mode and at the 150 °C / -55 °C spec range', () => {
    const { clock, chip, readWord, writeWord } = setup();
    chip.setTemperature(200);
    clock.advanceMs(26);
    assert.equal(readWord(REG.temperature), 0x7ff0);
    chip.setTemperature(-80);
    clock.advanceMs(250);
    assert.equal(readWord(REG.temperature), 0xc900);
    writeWord(REG.configuration, 0x0090);
    chip.setTemperature(200);
    clock.advanceMs(250);
    assert.equal(readWord(REG.temperature), (0x960 << 3) | 1);
  });

  it('quantises to the nearest 0.0625 °C', () => {
    const { clock, chip, readWord } = setup();
    chip.setTemperature(21.53);
    clock.advanceMs(26);
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 21.5);
  });
});

describe('SimulatedTmp102 shutdown and one-shot', () => {
  it('finishes the current conversion, then converts no more while shut down', () => {
    const { clock, chip, readWord, writeWord } = setup();
    chip.setTemperature(25);
    writeWord(REG.configuration, 0x0180); // SD=1 during the power-up conversion
    assert.equal(readWord(REG.configuration) & CFG.OS, 0); // still converting
    clock.advanceMs(26);
    assert.equal(readWord(REG.temperature), 0x1900);
    assert.equal(readWord(REG.configuration) & CFG.OS, CFG.OS);
    chip.setTemperature(30);
    clock.advanceMs(60_000);
    assert.equal(readWord(REG.temperature), 0x1900);
    assert.equal(chip.stats.conversions, 1);
  });

  it('OS=1 in shutdown starts one conversion: OS reads 0 while converting, 1 after, then shutdown again', () => {
    const { clock, chip, readWord, writeWord } = setup();
    writeWord(REG.configuration, 0x0180);
    clock.advanceMs(1000);
    chip.setTemperature(42);
    writeWord(REG.configuration, 0x8180);
    clock.advanceMs(25);
    assert.equal(readWord(REG.configuration), 0x61a0);
    assert.equal(readWord(REG.temperature), 0x1580); // 21.5 °C from power-up
    clock.advanceMs(1);
    assert.equal(readWord(REG.configuration), 0xe1a0);
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 42);
    clock.advanceMs(10_000);
    assert.equal(chip.stats.conversions, 2);
  });

  it('ignores OS=1 in continuous mode and resumes continuous conversions when SD is cleared', () => {
    const { clock, chip, writeWord } = setup();
    writeWord(REG.configuration, 0x8080);
    clock.advanceMs(26);
    assert.equal(chip.stats.conversions, 1);
    writeWord(REG.configuration, 0x0180);
    clock.advanceMs(1000);
    writeWord(REG.configuration, 0x0080); // SD=0 at t=1026: conversions at 1026, 1276, ...
    clock.advanceMs(250 + 26);
    assert.equal(chip.stats.conversions, 3);
  });
});

describe('SimulatedTmp102 faults', () => {
  for (const [fault, code] of [['nack', 'GW_ERR_I2C_NACK'], ['bus-error', 'GW_ERR_I2C_BUS'], ['timeout', 'GW_ERR_I2C_TIMEOUT']] as const) {
    it(`'${fault}' fails every transaction with ${code} until cleared`, () => {
      const { chip, bus, readWord } = setup();
      chip.inject(fault);
      const err = expectI2CError(() => readWord(REG.temperature), code);
      assert.equal(err.address, ADDR);
      assert.equal(err.busNumber, 1);
      expectI2CError(() => bus.write(ADDR, Uint8Array.of(1)), code);
      assert.equal(chip.stats.refused, 2);
      chip.clearFault();
      assert.equal(readWord(REG.configuration), 0x60a0);
    });
  }

  it("'stuck' keeps answering with a frozen temperature register", () => {
    const { clock, chip, readWord } = setup();
    clock.advanceMs(26);
    chip.inject('stuck');
    chip.setTemperature(60);
    clock.advanceMs(5000);
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 21.5);
    assert.ok(chip.stats.conversions > 1);
    chip.clearFault();
    clock.advanceMs(250);
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 60);
  });

  it("'unplugged' NACKs, releases ALERT, and comes back in the power-up state", () => {
    const { clock, chip, readWord, writeWord } = setup();
    writeWord(REG.configuration, 0x0400 | 0x0080); // POL=1: idle ALERT level is 0
    writeWord(REG.tHigh, celsiusToLimitRegister(100));
    assert.equal(chip.alertPinLevel, 0);
    chip.inject('unplugged');
    expectI2CError(() => readWord(REG.temperature), 'GW_ERR_I2C_NACK');
    assert.equal(chip.alertPinLevel, 1); // nothing drives the open-drain line: the pull-up wins
    clock.advanceMs(5000);
    chip.clearFault();
    assert.equal(readWord(REG.temperature), 0x0000);
    assert.equal(readWord(REG.configuration), 0x60a0);
    assert.equal(readWord(REG.tHigh), 0x5000);
    clock.advanceMs(26);
    assert.equal(temperatureRegisterToCelsius(readWord(REG.temperature)), 21.5);
  });
});

describe('SimulatedTmp102 general call reset', () => {
  it('returns every register to its power-up value and restarts conversions', () => {
    const { clock, bus, chip, readWord, writeWord } = setup();
    clock.advanceMs(100);
    writeWord(REG.configuration, 0x1e50); // F1F0=11, POL, TM, CR=01, EM
    writeWord(REG.tLow, 0x1000);
    writeWord(REG.tHigh, 0x2000);
    bus.write(0x00, Uint8Array.of(0x06));
    assert.equal(chip.peek().pointer, 0);
    assert.equal(readWord(REG.temperature), 0x0000);
    assert.equal(readWord(REG.configuration), 0x60a0);
    assert.equal(readWord(REG.tLow), 0x4b00);
    assert.equal(readWord(REG.tHigh), 0x5000);
    clock.advanceMs(26);
    assert.equal(readWord(REG.temperature), 0x1580);
    assert.equal(chip.stats.generalCalls, 1);
  });

  it('acknowledges other general call commands without resetting', () => {
    const { bus, readWord, writeWord } = setup();
    writeWord(REG.tLow, 0x1000);
    bus.write(0x00, Uint8Array.of(0x04));
    assert.equal(readWord(REG.tLow), 0x1000);
  });
});

describe('SimulatedTmp102 ALERT', () => {
  it('comparator mode (POL=0): active low at T >= T_HIGH, released below T_LOW; reads do not clear it', () => {
    const { clock, chip, readWord } = setup();
    clock.advanceMs(26);
    assert.equal(chip.alertPinLevel, 1);
    chip.setTemperature(80);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0);
    assert.equal(readWord(REG.configuration) & CFG.AL, 0);
    readWord(REG.temperature);
    assert.equal(chip.alertPinLevel, 0);
    chip.setTemperature(77); // hysteresis band: stays active
    clock.advanceMs(1000);
    assert.equal(chip.alertPinLevel, 0);
    chip.setTemperature(74.9375);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 1);
    assert.equal(readWord(REG.configuration) & CFG.AL, CFG.AL);
  });

  it('POL=1 inverts the ALERT level and the AL bit', () => {
    const { clock, chip, readWord, writeWord } = setup();
    writeWord(REG.configuration, 0x0480);
    assert.equal(chip.alertPinLevel, 0);
    assert.equal(readWord(REG.configuration) & CFG.AL, 0);
    chip.setTemperature(90);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 1);
    assert.equal(readWord(REG.configuration) & CFG.AL, CFG.AL);
  });

  it('needs F1F0 consecutive faults (4 here); an interruption restarts the count', () => {
    const { clock, chip, writeWord } = setup();
    writeWord(REG.configuration, 0x1080); // F1F0=10: 4 faults, 4 Hz
    clock.advanceMs(26);
    chip.setTemperature(85);
    clock.advanceMs(3 * 250);
    assert.equal(chip.alertPinLevel, 1);
    chip.setTemperature(20);
    clock.advanceMs(250);
    chip.setTemperature(85);
    clock.advanceMs(3 * 250);
    assert.equal(chip.alertPinLevel, 1);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0);
  });

  it('sees every conversion when polled late: the listener gets the exact conversion end time', () => {
    const { clock, chip, writeWord } = setup();
    writeWord(REG.configuration, 0x18c0); // 6 faults, 8 Hz
    clock.advanceMs(26); // power-up conversion: t=26
    const start = 1000 + 26; // ManualClock starts at 1000 ms
    chip.setTemperature(85);
    const events: Array<[number, number]> = [];
    chip.onAlertChange((level, atMs) => events.push([level, atMs]));
    clock.advanceMs(10_000);
    chip.update();
    // Conversions end at 125k + 26 ms; the 6th one at 85 °C is k = 6.
    assert.deepEqual(events, [[0, start + 6 * 125]]);
  });

  it('interrupt mode: latches at T_HIGH, any read clears it, then it re-arms for T_LOW', () => {
    const { clock, chip, bus, readWord, writeWord } = setup();
    writeWord(REG.configuration, 0x0280); // TM=1
    clock.advanceMs(26);
    chip.setTemperature(85);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0);
    clock.advanceMs(1000);
    assert.equal(chip.alertPinLevel, 0);
    bus.read(ADDR, 2); // any read transaction clears it
    assert.equal(chip.alertPinLevel, 1);
    clock.advanceMs(1000); // still hot, but armed for T_LOW now
    assert.equal(chip.alertPinLevel, 1);
    chip.setTemperature(70);
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0);
    readWord(REG.tLow);
    assert.equal(chip.alertPinLevel, 1);
    chip.setTemperature(85); // armed for T_HIGH again
    clock.advanceMs(250);
    assert.equal(chip.alertPinLevel, 0);
  });

  it('interrupt mode: shutdown clears the alert', () => {
    const { clock, chip, writeWord } = setup();
    writeWord(REG.configuration, 0x0280);
    chip.setTemperature(85);
    clock.advanceMs(26);
    assert.equal(chip.alertPinLevel, 0);
    writeWord(REG.configuration, 0x0380); // SD=1: a write, not a read
    assert.equal(chip.alertPinLevel, 1);
  });

  it('SMBus alert response: lowest address wins, returns address<<1 | cause, clears in interrupt mode', () => {
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    const a = new SimulatedTmp102({ clock });
    const b = new SimulatedTmp102({ clock });
    bus.attach(0x49, b);
    bus.attach(0x48, a);
    for (const address of [0x48, 0x49]) bus.writeRegister(address, REG.configuration, Uint8Array.of(0x02, 0x80)); // TM=1
    a.setTemperature(90);
    b.setTemperature(90);
    clock.advanceMs(26);
    assert.deepEqual([...bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)], [0x90]); // 0x48 << 1, LSB 0: T >= T_HIGH
    assert.equal(a.alertPinLevel, 1);
    assert.equal(b.alertPinLevel, 0);
    assert.deepEqual([...bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)], [0x92]);
    expectI2CError(() => bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1), 'GW_ERR_I2C_NACK');
    // Falling below T_LOW: LSB 1 with POL=0.
    a.setTemperature(20);
    clock.advanceMs(250);
    assert.deepEqual([...bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)], [0x91]);
    assert.equal(a.stats.alertResponses, 2);
  });

  it('SMBus alert response: POL=1 inverts the cause bit', () => {
    const { clock, chip, bus, writeWord } = setup();
    writeWord(REG.configuration, 0x0680); // POL=1, TM=1
    chip.setTemperature(90);
    clock.advanceMs(26);
    assert.equal(chip.alertPinLevel, 1);
    assert.deepEqual([...bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)], [0x91]);
    assert.equal(chip.alertPinLevel, 0);
  });

  it('general call reset returns to comparator mode and releases ALERT', () => {
    const { clock, chip, bus, writeWord } = setup();
    writeWord(REG.configuration, 0x0280);
    chip.setTemperature(85);
    clock.advanceMs(26);
    assert.equal(chip.alertPinLevel, 0);
    bus.write(0x00, Uint8Array.of(0x06));
    assert.equal(chip.alertPinLevel, 1);
  });
});

describe('SimulatedTmp102 statistics', () => {
  it('counts transactions the chip saw, by kind', () => {
    const { bus, chip } = setup();
    bus.readRegister(ADDR, 0, 2);
    bus.read(ADDR, 2);
    bus.writeRegister(ADDR, 2, Uint8Array.of(0x4b, 0));
    const stats = chip.stats;
    assert.equal(stats.transactions, 3);
    assert.equal(stats.reads, 2);
    assert.equal(stats.writes, 2);
    assert.equal(bus.transactionCount, 3);
  });
});
