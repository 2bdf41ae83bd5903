import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../drivers/clock.ts';
import { scanI2CBus } from '../drivers/i2c-scan.ts';
import { sensirionCrc8, wordWithCrc } from '../drivers/sim/crc8-sensirion.ts';
import { constantHumidity, rampHumidity, sineHumidity, traceHumidity } from '../drivers/sim/humidity-profile.ts';
import { temperatureQuantity } from '../drivers/sim/quantity-profile.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedSht3x, type SimulatedSht3xOptions } from '../drivers/sim/sht3x.ts';
import { SHT3X_ADDRESS, SHT3X_ALERT_LIMIT, SHT3X_COMMAND as CMD, SHT3X_PERIODIC, SHT3X_SINGLE_SHOT } from '../drivers/sim/sht3x-commands.ts';
import {
  SHT3X_STATUS as ST,
  sht3xCelsiusToRaw,
  sht3xEncodeLimit,
  sht3xPercentRhToRaw,
  sht3xRawToCelsius,
  sht3xRawToPercentRh,
} from '../drivers/sim/sht3x-format.ts';
import { saturationVapourPressureHpa } from '../drivers/sim/sht3x-heater.ts';
import { constantProfile, rampProfile } from '../drivers/sim/temperature-profile.ts';
import { expectI2CError } from './helpers/refusals.ts';

const ADDR = SHT3X_ADDRESS.addrLow;
/** 25 °C and 40 %RH are both raw 0x6666 (0.4 of full scale): 0x66 0x66, CRC 0x93. */
const RAW_25C_40RH = [0x66, 0x66, 0x93, 0x66, 0x66, 0x93];

function setup(options: Partial<SimulatedSht3xOptions> = {}) {
  const clock = new ManualClock();
  const bus = new SimulatedI2CBus(1);
  const chip = new SimulatedSht3x({ clock, temperature: constantProfile(25), humidity: constantHumidity(40), ...options });
  bus.attach(ADDR, chip);
  /** Send a 16-bit command, MSB first, with optional data bytes. */
  const send = (code: number, ...data: number[]): void => bus.write(ADDR, Uint8Array.of(code >> 8, code & 0xff, ...data));
  /** Wait out tIDLE (1 ms between commands, section 4) before the next command. */
  const idle = (): void => clock.advanceMs(1);
  const read = (length = 6): number[] => [...bus.read(ADDR, length)];
  /** Read one word + CRC after a command, checking the CRC. */
  const readWord = (code: number): number => {
    send(code);
    const [msb, lsb, crc] = read(3);
    assert.equal(crc, sensirionCrc8([msb!, lsb!]), 'CRC of the word read');
    idle();
    return (msb! << 8) | lsb!;
  };
  const status = (): number => readWord(CMD.readStatus);
  clock.advanceMs(1); // power-up time (Table 4, max 1 ms)
  return { clock, bus, chip, send, idle, read, readWord, status };
}

function rawWords(bytes: number[]): { t: number; rh: number } {
  assert.equal(bytes[2], sensirionCrc8(bytes.slice(0, 2)));
  assert.equal(bytes[5], sensirionCrc8(bytes.slice(3, 5)));
  return { t: (bytes[0]! << 8) | bytes[1]!, rh: (bytes[3]! << 8) | bytes[4]! };
}

describe('Sensirion CRC-8 (SHT3x-DIS section 4.12, Table 20)', () => {
  it('gives 0x92 for the datasheet example 0xBEEF', () => {
    assert.equal(sensirionCrc8([0xbe, 0xef]), 0x92);
  });

  it('matches an independent bitwise implementation on other words', () => {
    // Values from a separate Python implementation (poly 0x31, init 0xFF, no reflection, xorout 0).
    assert.equal(sensirionCrc8([0x00, 0x00]), 0x81);
    assert.equal(sensirionCrc8([0xff, 0xff]), 0xac);
    assert.equal(sensirionCrc8([0x66, 0x66]), 0x93);
    assert.equal(sensirionCrc8([0x80, 0x10]), 0xe1);
  });

  it('lays a word out as MSB, LSB, CRC', () => {
    assert.deepEqual(wordWithCrc(0xbeef), [0xbe, 0xef, 0x92]);
    assert.throws(() => wordWithCrc(0x10000), RangeError);
  });
});

describe('SHT3x conversion (section 4.13)', () => {
  it('maps the raw extremes to -45..130 °C and 0..100 %RH', () => {
    assert.equal(sht3xRawToCelsius(0), -45);
    assert.equal(sht3xRawToCelsius(0xffff), 130);
    assert.equal(sht3xRawToPercentRh(0), 0);
    assert.equal(sht3xRawToPercentRh(0xffff), 100);
  });

  it('reads S = 0x6666 as 25 °C and 40 %RH (0x6666 / 0xFFFF = 0.4), and the reverse', () => {
    assert.ok(Math.abs(sht3xRawToCelsius(0x6666) - 25) < 1e-9);
    assert.ok(Math.abs(sht3xRawToPercentRh(0x6666) - 40) < 1e-9);
    assert.equal(sht3xCelsiusToRaw(25), 0x6666);
    assert.equal(sht3xPercentRhToRaw(40), 0x6666);
  });

  it('reads S = 0x8000 as -45 + 175 * 32768 / 65535 °C and 100 * 32768 / 65535 %RH', () => {
    assert.equal(sht3xRawToCelsius(0x8000), -45 + (175 * 32768) / 65535); // 42.5013... °C
    assert.equal(sht3xRawToPercentRh(0x8000), (100 * 32768) / 65535); // 50.0008 %RH
  });

  it('quantises to the nearest code (one LSB = 175/65535 °C = 100/65535 %RH) and clamps to the code range', () => {
    const lsbC = 175 / 65535;
    assert.equal(sht3xCelsiusToRaw(25 + lsbC), 0x6667);
    assert.equal(sht3xCelsiusToRaw(25 + 0.49 * lsbC), 0x6666);
    assert.equal(sht3xCelsiusToRaw(25 - 0.51 * lsbC), 0x6665);
    assert.equal(sht3xPercentRhToRaw(40 + 100 / 65535), 0x6667);
    assert.equal(sht3xCelsiusToRaw(-60), 0);
    assert.equal(sht3xCelsiusToRaw(150), 0xffff);
    assert.equal(sht3xPercentRhToRaw(-3), 0);
    assert.equal(sht3xPercentRhToRaw(104), 0xffff);
  });

  it('packs alert limits as RH[15:9] | T[15:7] (Alert Mode note)', () => {
    assert.equal(sht3xEncodeLimit(80, 60), 0xcd33); // the documented default High Set
    assert.equal(sht3xEncodeLimit(100, 130), 0xffff);
    assert.equal(sht3xEncodeLimit(0, -45), 0x0000);
  });
});

describe('SimulatedSht3x single shot without clock stretching (section 4.3, Table 9)', () => {
  for (const [repeatability, maxMs, typicalMs] of [['high', 15, 12.5], ['medium', 6, 4.5], ['low', 4, 2.5]] as const) {
    it(`${repeatability} repeatability: the read header is NACKed before ${maxMs} ms (max), data after`, () => {
      const { clock, send, read, chip } = setup();
      send(SHT3X_SINGLE_SHOT.noStretch[repeatability]);
      expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
      clock.advanceMs(maxMs - 0.1);
      expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
      clock.advanceMs(0.1);
      assert.deepEqual(read(), RAW_25C_40RH);
      assert.equal(chip.stats.measurements, 1);
    });

    it(`${repeatability} repeatability with typical timing: ready after ${typicalMs} ms`, () => {
      const { clock, send, read } = setup({ timing: 'typical' });
      send(SHT3X_SINGLE_SHOT.noStretch[repeatability]);
      clock.advanceMs(typicalMs - 0.1);
      expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
      clock.advanceMs(0.1);
      assert.deepEqual(read(), RAW_25C_40RH);
    });
  }

  it('hands the result out once: a second read is NACKed', () => {
    const { clock, send, read } = setup();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    read();
    expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
  });

  it('lets the master stop after any byte (temperature only), and pads a longer read with 0xFF', () => {
    const { clock, send, read, idle } = setup();
    send(SHT3X_SINGLE_SHOT.noStretch.low);
    clock.advanceMs(4);
    assert.deepEqual(read(3), [0x66, 0x66, 0x93]);
    expectI2CError(() => read(3), 'GW_ERR_I2C_NACK');
    idle();
    send(SHT3X_SINGLE_SHOT.noStretch.low);
    clock.advanceMs(4);
    assert.deepEqual(read(8), [...RAW_25C_40RH, 0xff, 0xff]);
  });

  it('samples the profiles at the end of the measurement', () => {
    // 1 °C per second from 0 °C at power-up: the measurement started at 1.001 s ends at 1.016 s.
    const { clock, send, read } = setup({ temperature: rampProfile({ from: 0, to: 100, overMs: 100_000 }) });
    clock.advanceMs(1000);
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(500);
    assert.equal(rawWords(read()).t, sht3xCelsiusToRaw(1.016));
  });

  it('NACKs its address for any command while the measurement runs', () => {
    const { clock, send } = setup();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(5);
    expectI2CError(() => send(CMD.readStatus), 'GW_ERR_I2C_NACK');
    clock.advanceMs(10);
    send(CMD.readStatus);
  });
});

describe('SimulatedSht3x single shot with clock stretching (Table 9)', () => {
  for (const [repeatability, maxMs] of [['high', 15], ['medium', 6], ['low', 4]] as const) {
    it(`${repeatability}: a read sent at once is held until the result is ready (${maxMs} ms of simulated time)`, () => {
      const { clock, send, read, chip } = setup();
      send(SHT3X_SINGLE_SHOT.stretch[repeatability]);
      const before = clock.monotonicNs();
      assert.deepEqual(read(), RAW_25C_40RH);
      assert.equal(clock.monotonicNs() - before, BigInt(maxMs * 1e6));
      assert.equal(chip.stats.clockStretches, 1);
      assert.equal(chip.stats.clockStretchMs, maxMs);
    });
  }

  it('does not stretch when the result is already there', () => {
    const { clock, send, read, chip } = setup();
    send(SHT3X_SINGLE_SHOT.stretch.high);
    clock.advanceMs(20);
    const before = clock.monotonicNs();
    assert.deepEqual(read(), RAW_25C_40RH);
    assert.equal(clock.monotonicNs(), before);
    assert.equal(chip.stats.clockStretches, 0);
  });

  it('works as one command + repeated START + read transaction', () => {
    const { chip } = setup();
    assert.deepEqual([...chip.onWriteRead(Uint8Array.of(0x2c, 0x06), 6)], RAW_25C_40RH);
    assert.equal(chip.stats.transactions, 1);
  });

  it('fails with GW_ERR_I2C_TIMEOUT when the adapter gives up stretching first; the result is still there afterwards', () => {
    const { clock, send, read } = setup({ clockStretchLimitMs: 10 });
    send(SHT3X_SINGLE_SHOT.stretch.high);
    const before = clock.monotonicNs();
    expectI2CError(() => read(), 'GW_ERR_I2C_TIMEOUT');
    assert.equal(clock.monotonicNs() - before, 10_000_000n);
    clock.advanceMs(5);
    assert.deepEqual(read(), RAW_25C_40RH);
  });
});

describe('SimulatedSht3x command handling', () => {
  it('NACKs a command sent less than 1 ms after the previous one (section 4)', () => {
    const { clock, send } = setup();
    send(CMD.heaterOn);
    clock.advanceMs(0.9);
    expectI2CError(() => send(CMD.heaterOff), 'GW_ERR_I2C_NACK');
    clock.advanceMs(0.1);
    send(CMD.heaterOff);
  });

  it('NACKs an unknown command (GW_ERR_I2C_BUS) and sets the command status bit until a command succeeds', () => {
    const { send, idle, status, chip } = setup();
    send(CMD.clearStatus);
    idle();
    expectI2CError(() => send(0x1234), 'GW_ERR_I2C_BUS');
    idle();
    // Read Status reports the failed command, twice: it does not count as a successful one.
    assert.equal(status(), ST.commandFailed);
    assert.equal(status(), ST.commandFailed);
    send(CMD.heaterOff);
    idle();
    assert.equal(status(), 0);
    // A code one bit off a real command: its built-in checksum no longer matches.
    expectI2CError(() => send(SHT3X_SINGLE_SHOT.noStretch.high ^ 0x0001), 'GW_ERR_I2C_BUS');
    assert.equal(chip.peek().status & ST.commandFailed, ST.commandFailed);
  });

  it('acknowledges a quick write and half a command without doing anything', () => {
    const { bus, idle, status } = setup();
    bus.write(ADDR, new Uint8Array(0));
    bus.write(ADDR, Uint8Array.of(0x24));
    idle();
    assert.equal(status(), 0x8010);
  });

  it('is found by an i2cdetect-style scan at 0x44 and, with ADDR high, 0x45 (quick write probes)', () => {
    const { bus, clock } = setup();
    bus.attach(SHT3X_ADDRESS.addrHigh, new SimulatedSht3x({ clock }));
    clock.advanceMs(1);
    assert.deepEqual(scanI2CBus(bus).found, [0x44, 0x45]);
  });

  it('NACKs a read header when there is nothing to send', () => {
    const { read, send, idle } = setup();
    expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
    send(CMD.heaterOn);
    idle();
    expectI2CError(() => read(3), 'GW_ERR_I2C_NACK');
  });

  it('returns the serial number as two words with their CRCs', () => {
    const { send, read } = setup({ serialNumber: 0x12345678 });
    send(CMD.readSerialNoStretch);
    assert.deepEqual(read(), [0x12, 0x34, 0x37, 0x56, 0x78, 0x7d]);
  });
});

describe('SimulatedSht3x status register (section 4.11, Tables 17-19)', () => {
  it('reads 0x8010 after power-up: alert pending and system reset detected, with CRC 0xE1', () => {
    const { send, read } = setup();
    send(CMD.readStatus);
    assert.deepEqual(read(3), [0x80, 0x10, 0xe1]);
  });

  it('Clear Status clears bits 15, 11, 10 and 4, not the heater bit', () => {
    const { send, idle, status } = setup();
    send(CMD.heaterOn);
    idle();
    assert.equal(status(), 0xa010);
    send(CMD.clearStatus);
    idle();
    assert.equal(status(), ST.heaterOn);
  });
});

describe('SimulatedSht3x heater (section 4.10)', () => {
  it('sets the heater status bit and raises the measured temperature by heaterRiseC at constant vapour pressure', () => {
    const { clock, send, idle, read, status } = setup();
    send(CMD.heaterOn);
    idle();
    assert.equal(status() & ST.heaterOn, ST.heaterOn);
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    const heated = rawWords(read());
    assert.equal(heated.t, sht3xCelsiusToRaw(28));
    // Same absolute humidity at a die 3 °C warmer: RH falls by the ratio of saturation pressures (about 84 %).
    const expectedRh = (40 * saturationVapourPressureHpa(25)) / saturationVapourPressureHpa(28);
    assert.ok(expectedRh < 35 && expectedRh > 33);
    assert.equal(heated.rh, sht3xPercentRhToRaw(expectedRh));
    idle();
    send(CMD.heaterOff);
    idle();
    assert.equal(status() & ST.heaterOn, 0);
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.deepEqual(read(), RAW_25C_40RH);
  });

  it('honours a configured rise, including none', () => {
    const { clock, send, idle, read } = setup({ heaterRiseC: 0 });
    send(CMD.heaterOn);
    idle();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.deepEqual(read(), RAW_25C_40RH);
  });
});

describe('SimulatedSht3x periodic mode (sections 4.5-4.8)', () => {
  for (const rate of [0.5, 1, 2, 4, 10] as const) {
    it(`${rate} mps: one measurement per ${1000 / rate} ms, the first starting at the command`, () => {
      const { clock, send, chip } = setup();
      send(SHT3X_PERIODIC[rate].high);
      assert.deepEqual(chip.peek().periodic, { rate, art: false, repeatability: 'high' });
      clock.advanceMs(10_000 + 15);
      assert.equal(chip.stats.measurements, 10 * rate + 1);
    });
  }

  it('Fetch Data: NACK before the first result, the latest result once, then NACK until the next', () => {
    const { clock, send, read, idle, chip } = setup();
    send(SHT3X_PERIODIC[1].medium);
    idle();
    send(CMD.fetchData);
    expectI2CError(() => read(), 'GW_ERR_I2C_NACK'); // first measurement ends at 6 ms
    clock.advanceMs(5);
    send(CMD.fetchData);
    assert.deepEqual(read(), RAW_25C_40RH);
    idle();
    send(CMD.fetchData);
    expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
    chip.setTemperature(30);
    clock.advanceMs(1000);
    send(CMD.fetchData);
    assert.equal(rawWords(read()).t, sht3xCelsiusToRaw(30));
  });

  it('keeps only the latest result when the master fetches rarely', () => {
    const { clock, send, read, chip } = setup({ temperature: rampProfile({ from: 0, to: 100, overMs: 100_000 }) });
    send(SHT3X_PERIODIC[2].low);
    clock.advanceMs(10_000);
    // Measurements start every 500 ms from 1 ms after power-up; the last one before t = 10.001 s ended at 9.501 + 0.004 s.
    send(CMD.fetchData);
    assert.equal(rawWords(read()).t, sht3xCelsiusToRaw(9.505));
    assert.equal(chip.stats.measurements, 20);
  });

  it('ART (0x2B32) measures 4 times per second', () => {
    const { clock, send, chip } = setup();
    send(CMD.art);
    assert.deepEqual(chip.peek().periodic, { rate: 4, art: true, repeatability: 'high' });
    clock.advanceMs(1000 + 15);
    assert.equal(chip.stats.measurements, 5);
  });

  it('refuses measurement commands until Break; Break returns to single shot mode after 1 ms', () => {
    const { clock, send, idle, read, status, chip } = setup();
    send(SHT3X_PERIODIC[10].high);
    idle();
    expectI2CError(() => send(SHT3X_SINGLE_SHOT.noStretch.high), 'GW_ERR_I2C_BUS');
    idle();
    expectI2CError(() => send(SHT3X_PERIODIC[1].high), 'GW_ERR_I2C_BUS');
    idle();
    assert.equal(status() & ST.commandFailed, ST.commandFailed);
    send(CMD.break);
    assert.equal(chip.peek().mode, 'single-shot');
    clock.advanceMs(0.5);
    expectI2CError(() => send(SHT3X_SINGLE_SHOT.noStretch.high), 'GW_ERR_I2C_NACK');
    clock.advanceMs(0.5);
    const measured = chip.stats.measurements;
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.deepEqual(read(), RAW_25C_40RH);
    clock.advanceMs(5000);
    assert.equal(chip.stats.measurements, measured + 1);
  });

  it('takes status, heater and limit commands without a Break', () => {
    const { send, idle, readWord, chip } = setup();
    send(SHT3X_PERIODIC[1].high);
    idle();
    send(CMD.heaterOn);
    idle();
    assert.equal(readWord(CMD.readStatus) & ST.heaterOn, ST.heaterOn);
    assert.equal(readWord(SHT3X_ALERT_LIMIT.highSet.read), 0xcd33);
    assert.equal(chip.peek().mode, 'periodic');
  });
});

describe('SimulatedSht3x alert limits and tracking alerts (Alert Mode note)', () => {
  it('reads the default limits with their CRCs', () => {
    const { send, read, idle, readWord } = setup();
    send(SHT3X_ALERT_LIMIT.highSet.read);
    assert.deepEqual(read(3), [0xcd, 0x33, 0xfd]);
    idle();
    assert.equal(readWord(SHT3X_ALERT_LIMIT.highClear.read), 0xc92d);
    assert.equal(readWord(SHT3X_ALERT_LIMIT.lowClear.read), 0x3869);
    assert.equal(readWord(SHT3X_ALERT_LIMIT.lowSet.read), 0x3466);
  });

  it('accepts a limit write only with the right CRC; a wrong or missing CRC sets the write checksum bit', () => {
    const { send, idle, readWord, status } = setup();
    const word = sht3xEncodeLimit(70, 40);
    const [msb, lsb, crc] = wordWithCrc(word);
    send(SHT3X_ALERT_LIMIT.highSet.write, msb, lsb, crc ^ 0xff);
    idle();
    assert.equal(readWord(SHT3X_ALERT_LIMIT.highSet.read), 0xcd33);
    assert.equal(status() & ST.writeChecksumFailed, ST.writeChecksumFailed);
    send(SHT3X_ALERT_LIMIT.highSet.write, msb, lsb, crc);
    idle();
    assert.equal(readWord(SHT3X_ALERT_LIMIT.highSet.read), word);
    assert.equal(status() & ST.writeChecksumFailed, 0);
    send(SHT3X_ALERT_LIMIT.lowSet.write, msb, lsb);
    idle();
    assert.equal(status() & ST.writeChecksumFailed, ST.writeChecksumFailed);
    assert.equal(readWord(SHT3X_ALERT_LIMIT.lowSet.read), 0x3466);
  });

  it('sets the T and RH tracking alerts and alert pending in periodic mode; they latch until Clear Status', () => {
    const { clock, send, idle, status, chip } = setup();
    send(CMD.clearStatus);
    idle();
    send(SHT3X_PERIODIC[1].high);
    clock.advanceMs(1000);
    assert.equal(status(), 0);
    chip.setTemperature(65); // above High Set 60 °C
    clock.advanceMs(1000);
    assert.equal(status(), ST.alertPending | ST.tTrackingAlert);
    chip.setTemperature(25);
    chip.setHumidity(85); // above High Set 80 %RH
    clock.advanceMs(1000);
    assert.equal(status(), ST.alertPending | ST.tTrackingAlert | ST.rhTrackingAlert);
    send(CMD.clearStatus);
    idle();
    assert.equal(status(), 0); // the RH alert is still active, but no measurement since the clear
    clock.advanceMs(1000);
    assert.equal(status(), ST.alertPending | ST.rhTrackingAlert);
  });

  it('does not track alerts in single shot mode', () => {
    const { clock, send, idle, status, read } = setup({ temperature: constantProfile(100) });
    send(CMD.clearStatus);
    idle();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    read();
    idle();
    assert.equal(status(), 0);
  });
});

describe('SimulatedSht3x resets (section 4.9)', () => {
  function dirty(h: ReturnType<typeof setup>): void {
    h.send(CMD.heaterOn);
    h.idle();
    h.send(SHT3X_ALERT_LIMIT.highSet.write, ...wordWithCrc(0x1234));
    h.idle();
    h.send(CMD.clearStatus);
    h.idle();
    h.send(SHT3X_PERIODIC[2].high);
    h.idle();
  }

  function assertPowerUpState(h: ReturnType<typeof setup>): void {
    assert.equal(h.status(), 0x8010);
    assert.equal(h.readWord(SHT3X_ALERT_LIMIT.highSet.read), 0xcd33);
    assert.equal(h.chip.peek().mode, 'single-shot');
    assert.equal(h.chip.peek().heaterOn, false);
  }

  it('soft reset (0x30A2): NACKs for 1.5 ms, then power-up state (status 0x8010, heater off, default limits, single shot)', () => {
    const h = setup();
    dirty(h);
    h.send(CMD.softReset);
    h.clock.advanceMs(1.4);
    expectI2CError(() => h.send(CMD.readStatus), 'GW_ERR_I2C_NACK');
    h.clock.advanceMs(0.1);
    assertPowerUpState(h);
  });

  it('soft reset with typical timing takes 0.5 ms', () => {
    const h = setup({ timing: 'typical' });
    h.send(CMD.softReset);
    h.clock.advanceMs(0.4);
    expectI2CError(() => h.send(CMD.readStatus), 'GW_ERR_I2C_NACK');
    h.clock.advanceMs(0.1);
    h.send(CMD.readStatus);
  });

  it('general call reset (0x00, 0x06): NACKs for 1 ms, then power-up state', () => {
    const h = setup();
    dirty(h);
    h.bus.write(0x00, Uint8Array.of(0x06));
    expectI2CError(() => h.send(CMD.readStatus), 'GW_ERR_I2C_NACK');
    h.clock.advanceMs(1);
    assertPowerUpState(h);
    assert.equal(h.chip.stats.generalCalls, 1);
  });

  it('acknowledges other general calls without resetting', () => {
    const h = setup();
    h.send(CMD.heaterOn);
    h.idle();
    h.bus.write(0x00, Uint8Array.of(0x04));
    assert.equal(h.chip.peek().heaterOn, true);
  });

  it('resetChip() (nRESET) resets like a power-up', () => {
    const h = setup();
    dirty(h);
    h.chip.resetChip();
    expectI2CError(() => h.send(CMD.readStatus), 'GW_ERR_I2C_NACK');
    h.clock.advanceMs(1);
    assertPowerUpState(h);
  });

  it('NACKs everything during the power-up time', () => {
    const clock = new ManualClock();
    const bus = new SimulatedI2CBus(1);
    bus.attach(ADDR, new SimulatedSht3x({ clock }));
    expectI2CError(() => bus.write(ADDR, Uint8Array.of(0xf3, 0x2d)), 'GW_ERR_I2C_NACK');
    clock.advanceMs(1);
    bus.write(ADDR, Uint8Array.of(0xf3, 0x2d));
    assert.deepEqual([...bus.read(ADDR, 3)], [0x80, 0x10, 0xe1]);
  });
});

describe('SimulatedSht3x faults', () => {
  for (const [fault, code] of [['nack', 'GW_ERR_I2C_NACK'], ['bus-error', 'GW_ERR_I2C_BUS'], ['timeout', 'GW_ERR_I2C_TIMEOUT']] as const) {
    it(`'${fault}' fails every transaction with ${code} until cleared`, () => {
      const { chip, send, read, idle, clock } = setup();
      chip.inject(fault);
      const err = expectI2CError(() => send(CMD.readStatus), code);
      assert.equal(err.address, ADDR);
      expectI2CError(() => read(3), code);
      assert.equal(chip.stats.refused, 2);
      chip.clearFault();
      idle();
      send(SHT3X_SINGLE_SHOT.noStretch.high);
      clock.advanceMs(15);
      assert.deepEqual(read(), RAW_25C_40RH);
    });
  }

  it("'stuck' keeps answering with the last result, whatever the air does", () => {
    const { chip, send, read, idle, clock } = setup();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    read();
    chip.inject('stuck');
    chip.setTemperature(35);
    chip.setHumidity(70);
    idle();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.deepEqual(read(), RAW_25C_40RH);
    assert.equal(chip.stats.measurements, 2);
    chip.clearFault();
    idle();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.deepEqual(rawWords(read()), { t: sht3xCelsiusToRaw(35), rh: sht3xPercentRhToRaw(70) });
  });

  it("'unplugged' NACKs, stops measuring, and comes back in the power-up state", () => {
    const { chip, send, idle, clock, status } = setup();
    send(CMD.heaterOn);
    idle();
    send(SHT3X_PERIODIC[10].high);
    idle();
    chip.inject('unplugged');
    expectI2CError(() => send(CMD.readStatus), 'GW_ERR_I2C_NACK');
    const measured = chip.stats.measurements;
    clock.advanceMs(5000);
    assert.equal(chip.stats.measurements, measured);
    chip.clearFault();
    expectI2CError(() => send(CMD.readStatus), 'GW_ERR_I2C_NACK'); // power-up time
    clock.advanceMs(1);
    assert.equal(status(), 0x8010);
    assert.equal(chip.peek().mode, 'single-shot');
  });
});

describe('SimulatedSht3x statistics', () => {
  it('counts transactions by kind and the ones the chip itself NACKed', () => {
    const { chip, send, read, clock } = setup();
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    expectI2CError(() => read(), 'GW_ERR_I2C_NACK');
    clock.advanceMs(15);
    read();
    const stats = chip.stats;
    assert.equal(stats.transactions, 3);
    assert.equal(stats.writes, 1);
    assert.equal(stats.reads, 2);
    assert.equal(stats.nacked, 1);
    assert.equal(stats.refused, 0);
  });
});

describe('Humidity and general quantity profiles', () => {
  it('drive the chip: a humidity ramp sampled at the measurement end', () => {
    const { clock, send, read, chip } = setup();
    chip.setHumidityProfile(rampHumidity({ from: 0, to: 100, overMs: 100_000 }));
    clock.advanceMs(49_985);
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.equal(rawWords(read()).rh, sht3xPercentRhToRaw(50));
  });

  it('clamp at the chip, not in the profile: 120 %RH reads 0xFFFF', () => {
    const { clock, send, read } = setup({ humidity: constantHumidity(120) });
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.equal(rawWords(read()).rh, 0xffff);
  });

  it('describe themselves with their unit and validate their arguments', () => {
    assert.equal(constantHumidity(45).description, 'constant 45 %RH');
    assert.equal(sineHumidity({ mean: 50, amplitude: 10, periodMs: 60_000 }).description, 'sine 50 ± 10 %RH, period 60 s');
    const trace = traceHumidity([{ tMs: 0, value: 30 }, { tMs: 1000, value: 50 }]);
    assert.equal(trace.valueAt(500), 40);
    assert.equal(trace.unit, '%RH');
    assert.throws(() => traceHumidity([{ tMs: 5, value: 1 }, { tMs: 5, value: 2 }]), RangeError);
    assert.throws(() => rampHumidity({ from: 0, to: 1, overMs: 0 }), RangeError);
    const t = temperatureQuantity(constantProfile(21.5));
    assert.equal(t.valueAt(123), 21.5);
    assert.equal(t.unit, '°C');
  });

  it('refuses a profile value that is not finite, naming the profile', () => {
    const { clock, send, chip } = setup();
    chip.setHumidityProfile({ valueAt: () => Number.NaN, unit: '%RH', description: 'broken' });
    send(SHT3X_SINGLE_SHOT.noStretch.high);
    clock.advanceMs(15);
    assert.throws(() => chip.update(), /broken/);
  });
});
