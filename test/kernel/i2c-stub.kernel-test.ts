/**
 * The kernel tier, guest side: runs inside the QEMU guest that test/kernel/run.sh boots
 * (`npm run test:kernel`), against a real Linux I2C stack: /dev/i2c-0 is i2c-dev on the
 * kernel's i2c-stub adapter with one chip at 0x48. Not a *.test.ts file, so `npm test` does not
 * pick it up; outside the guest every test is skipped.
 *
 * Register values are loaded and checked with i2c-tools (i2cset / i2cget), independently of
 * our driver. i2c-stub keeps each register as a 16-bit SMBus word, and an SMBus word travels low
 * byte first, so a TMP102 register whose wire bytes are [MSB, LSB] is the SMBus word
 * (LSB << 8) | MSB: `i2cset ... 0xa060 w` makes the configuration register read 0x60A0.
 *
 * What i2c-stub does not model (docs/kernel-tier.md): conversions and their timing, read-only
 * bits (R1R0, AL, OS), ALERT, and NACK as a real adapter reports it (i2c-stub answers an address
 * without a chip with ENODEV). So the 35 ms readiness rule runs on a ManualClock here, as in
 * the chain tests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ManualClock } from '../../drivers/clock.ts';
import { I2CError } from '../../drivers/i2c-error.ts';
import { LinuxI2CBus } from '../../drivers/linux-i2c-bus.ts';
import { SensorModule } from '../../gateway/host/sensor-module.ts';
import { MemoryLogger } from '../../gateway/log.ts';
import { makeChain, thrown, wasmPath } from '../helpers/chain.ts';
import { POWER_ON_CONFIG, TABLE_12, TABLE_13, register12, register13 } from '../helpers/datasheet.ts';

const BUS = 0;
const CHIP = 0x48; // i2c-stub chip_addr=0x48 (test/kernel/init)
const NO_CHIP = 0x50; // nothing there
const NO_TMP102 = 0x49; // a TMP102 address (ADD0 to V+) with nothing there: the module only takes 0x48..0x4B
const NO_BUS = 5; // /dev/i2c-5 does not exist in the guest
const REG_TEMP = 0x00;
const REG_CONFIG = 0x01;
const REG_TLOW = 0x02;
/** Past the module's 35 ms "no reading yet" window (SBOS397: conversion time 35 ms max). */
const READY_MS = 40;

const inGuest = process.env['KTIER_IN_GUEST'] === '1' && existsSync(`/dev/i2c-${BUS}`);
const skip = inGuest ? false : 'kernel tier: runs only inside the guest of npm run test:kernel';

const hex = (value: number, digits: number): string => `0x${value.toString(16).padStart(digits, '0')}`;

/** The SMBus word i2c-stub stores for a register whose wire bytes are MSB, LSB. */
function smbusWord(wire: number): number {
  return ((wire & 0xff) << 8) | (wire >> 8);
}

function i2cset(register: number, value: number, mode: 'w' | 'b'): void {
  execFileSync('i2cset', ['-y', String(BUS), hex(CHIP, 2), hex(register, 2), hex(value, mode === 'w' ? 4 : 2), mode]);
}

function i2cget(register: number, mode: 'w' | 'b'): number {
  const out = execFileSync('i2cget', ['-y', String(BUS), hex(CHIP, 2), hex(register, 2), mode], { encoding: 'utf8' });
  return Number.parseInt(out.trim(), 16);
}

/** Loads a register with its wire-order value, through i2cset. */
function loadRegister(register: number, wire: number): void {
  i2cset(register, smbusWord(wire), 'w');
}

/** A register's wire-order value, through i2cget. */
function peekRegister(register: number): number {
  return smbusWord(i2cget(register, 'w'));
}

function caughtI2C(fn: () => unknown): I2CError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof I2CError, `expected an I2CError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an I2CError');
}

/** The Go TMP102 module through the gateway's WASM host, on the real kernel bus. */
async function stubChain(options: { settings?: Record<string, unknown>; address?: number; busNumber?: number } = {}) {
  const clock = new ManualClock();
  const address = options.address ?? CHIP;
  const busNumber = options.busNumber ?? BUS;
  const bus = new LinuxI2CBus(busNumber);
  const sensor = await SensorModule.fromFile(wasmPath('tmp102'), {
    name: 'tmp102',
    capabilities: { i2c: { bus: busNumber, addresses: [address] } },
    bus,
    clock,
    logger: new MemoryLogger(),
    init: { bus: busNumber, address, settings: options.settings ?? {} },
  });
  return { clock, bus, sensor };
}

describe('kernel tier: i2c-stub on /dev/i2c-0 in a QEMU guest', { skip }, () => {
  it('runs on the stub adapter', () => {
    assert.equal(readFileSync(`/sys/class/i2c-dev/i2c-${BUS}/name`, 'utf8').trim(), 'SMBus stub driver');
    console.log(`# kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}, node ${process.version}`);
  });

  describe('LinuxI2CBus against the kernel: SMBus byte order both ways', () => {
    it('readRegister(…, 2) returns wire order, MSB first, for a word loaded by i2cset', () => {
      const bus = new LinuxI2CBus(BUS);
      i2cset(REG_TEMP, 0x1234, 'w'); // SMBus word 0x1234: low byte 0x34 is the first wire byte
      assert.deepEqual([...bus.readRegister(CHIP, REG_TEMP, 2)], [0x34, 0x12]);
      i2cset(REG_CONFIG, 0xa060, 'w'); // the TMP102 power-on configuration 0x60A0
      assert.deepEqual([...bus.readRegister(CHIP, REG_CONFIG, 2)], [0x60, 0xa0]);
      bus.close();
    });

    it('writeRegister(…, 2) sends the first byte first: i2cget sees it as the SMBus low byte', () => {
      const bus = new LinuxI2CBus(BUS);
      bus.writeRegister(CHIP, REG_TLOW, Uint8Array.of(0x4b, 0x00)); // T_LOW 75 °C, wire order
      assert.equal(i2cget(REG_TLOW, 'w'), 0x004b);
      bus.writeRegister(CHIP, REG_TLOW, Uint8Array.of(0x12, 0x34));
      assert.equal(i2cget(REG_TLOW, 'w'), 0x3412);
      assert.deepEqual([...bus.readRegister(CHIP, REG_TLOW, 2)], [0x12, 0x34], 'round trip');
      bus.close();
    });

    it('one-byte and block register transfers', () => {
      const bus = new LinuxI2CBus(BUS);
      i2cset(0x20, 0xab, 'b');
      assert.deepEqual([...bus.readRegister(CHIP, 0x20, 1)], [0xab]);
      bus.writeRegister(CHIP, 0x21, Uint8Array.of(0xcd));
      assert.equal(i2cget(0x21, 'b'), 0xcd);
      i2cset(0x22, 0xef, 'b');
      // I2C block read (readI2cBlockSync): i2c-stub serves consecutive byte registers.
      assert.deepEqual([...bus.readRegister(CHIP, 0x20, 3)], [0xab, 0xcd, 0xef]);
      bus.close();
    });
  });

  describe('error paths through the kernel', () => {
    it(`an address with no chip (${hex(NO_CHIP, 2)}): i2c-stub answers ENODEV, which becomes GW_ERR_I2C_NACK`, () => {
      const bus = new LinuxI2CBus(BUS);
      const err = caughtI2C(() => bus.readRegister(NO_CHIP, REG_TEMP, 2));
      console.log(`# absent address: errno ${err.errno} -> ${err.code}`);
      // A real adapter reports a NACK as ENXIO (or EREMOTEIO on the Pi's bcm2835 / RP1).
      // i2c-stub is not a real adapter: it returns ENODEV for an address it has no chip at
      // (drivers/i2c/busses/i2c-stub.c, stub_xfer). All three mean "no device answered".
      assert.equal(err.errno, 'ENODEV');
      assert.equal(err.code, 'GW_ERR_I2C_NACK');
      assert.equal(err.address, NO_CHIP);
      bus.close();
    });

    it(`an absent TMP102 (${hex(NO_TMP102, 2)}) through the Go module: the same errno and code at start-up`, async () => {
      const { sensor } = await stubChain({ address: NO_TMP102 });
      const err = thrown(() => sensor.start());
      assert.equal(err.code, 'GW_ERR_I2C_NACK');
      assert.equal((err.cause as I2CError | undefined)?.errno, 'ENODEV');
    });

    it(`a bus that does not exist (/dev/i2c-${NO_BUS}): ENOENT -> GW_ERR_I2C_NO_ADAPTER`, async () => {
      assert.ok(!existsSync(`/dev/i2c-${NO_BUS}`));
      const bus = new LinuxI2CBus(NO_BUS); // i2c-bus opens the file on the first transfer
      const err = caughtI2C(() => bus.readRegister(CHIP, REG_TEMP, 2));
      assert.equal(err.errno, 'ENOENT');
      assert.equal(err.code, 'GW_ERR_I2C_NO_ADAPTER');
      const { sensor } = await stubChain({ busNumber: NO_BUS });
      assert.equal(thrown(() => sensor.start()).code, 'GW_ERR_I2C_NO_ADAPTER');
    });

    it('plain I2C on an SMBus-only adapter: the kernel says EOPNOTSUPP -> GW_ERR_I2C_UNSUPPORTED', () => {
      // i2c-stub has no master_xfer: read()/write() of 2+ bytes use fs read/write on the fd.
      const bus = new LinuxI2CBus(BUS);
      const err = caughtI2C(() => bus.read(CHIP, 2));
      console.log(`# plain I2C read: errno ${err.errno} -> ${err.code}`);
      assert.ok(err.errno === 'ENOTSUP' || err.errno === 'EOPNOTSUPP', `errno ${err.errno}`);
      assert.equal(err.code, 'GW_ERR_I2C_UNSUPPORTED');
      bus.close();
    });
  });

  describe('the Go TMP102 module through the WASM host: kernel i2c-stub and the simulated TMP102 agree', () => {
    it('identity: a configuration register that is not a TMP102 one is refused', async () => {
      loadRegister(REG_CONFIG, 0xffff); // R1R0 fine, low bits of byte 2 not 0
      const { sensor } = await stubChain();
      assert.equal(thrown(() => sensor.start()).code, 'GW_ERR_SENSOR_WRONG_DEVICE');
    });

    for (const [bits, table, register, settings, written] of [
      // Configuration written by the module, wire order: R1R0=11, CR=10 (4 Hz), EM for 13-bit.
      [12, TABLE_12, register12, {}, 0x6080],
      [13, TABLE_13, register13, { resolution: 13 }, 0x6090],
    ] as const) {
      it(`${bits}-bit: the datasheet table to the LSB, negative values included`, async () => {
        loadRegister(REG_CONFIG, POWER_ON_CONFIG);
        loadRegister(REG_TEMP, 0x0000); // the power-up 0 °C: must never come out as a reading
        const stub = await stubChain({ settings });
        stub.sensor.start();
        // The module wrote its configuration MSB first; i2c-stub keeps it as written (it has no
        // read-only bits) and the module's read-back comparison passed.
        assert.equal(peekRegister(REG_CONFIG), written, `configuration ${hex(peekRegister(REG_CONFIG), 4)}`);
        assert.equal(thrown(() => stub.sensor.read()).code, 'GW_ERR_SENSOR_NOT_READY');
        stub.clock.advanceMs(READY_MS);

        const sim = await makeChain({ settings });
        for (const [celsius, count] of table) {
          loadRegister(REG_TEMP, register(count));
          sim.chip.setTemperature(celsius);
          sim.clock.advanceMs(250); // one conversion at 4 Hz
          const fromStub = stub.sensor.read();
          const fromSim = sim.sensor.read();
          const expected = { value: celsius, raw: register(count), bits };
          assert.deepEqual({ value: fromStub.value, raw: fromStub.raw, bits: fromStub.bits }, expected, `i2c-stub, ${celsius} °C`);
          assert.deepEqual({ value: fromSim.value, raw: fromSim.raw, bits: fromSim.bits }, expected, `simulated TMP102, ${celsius} °C`);
        }
        // One SMBus word read per reading in continuous mode, on the real bus too.
        const before = stub.bus.transactionCount;
        stub.sensor.read();
        assert.equal(stub.bus.transactionCount - before, 1);
      });
    }
  });
});
