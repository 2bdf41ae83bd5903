import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { openI2CBus } from '../drivers/open-i2c-bus.ts';
import { SimI2CFault, SimulatedI2CBus, SMBUS_ALERT_RESPONSE_ADDRESS, type SimI2CDevice } from '../drivers/sim/sim-i2c-bus.ts';
import { createSimulatedTmp102Bus } from '../drivers/sim/simulated-tmp102-bus.ts';
import { constantProfile } from '../drivers/sim/temperature-profile.ts';

/** A device that records what reached it, to check the bus's framing. */
class RecordingDevice implements SimI2CDevice {
  log: string[] = [];
  reply = Uint8Array.of(0xab, 0xcd);
  alerting = false;
  generalCalls: number[][] = [];
  onWrite(bytes: Uint8Array): void {
    this.log.push(`w ${[...bytes].join(',')}`);
  }
  onRead(length: number): Uint8Array {
    this.log.push(`r ${length}`);
    return this.reply.slice(0, length);
  }
  onGeneralCall(bytes: Uint8Array): boolean {
    this.generalCalls.push([...bytes]);
    return true;
  }
  smbusAlertPending(): boolean {
    return this.alerting;
  }
  onSmbusAlertResponse(address: number): number {
    this.alerting = false;
    return address << 1;
  }
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof I2CError);
    return err.code;
  }
  assert.fail('expected an I2CError');
}

describe('SimulatedI2CBus', () => {
  it("is kind 'simulated' with its bus number", () => {
    const bus = new SimulatedI2CBus(3);
    assert.equal(bus.kind, 'simulated');
    assert.equal(bus.busNumber, 3);
  });

  it('NACKs an address with no device, and after detach', () => {
    const bus = new SimulatedI2CBus(1);
    assert.equal(codeOf(() => bus.read(0x48, 2)), 'GW_ERR_I2C_NACK');
    bus.attach(0x48, new RecordingDevice());
    bus.read(0x48, 2);
    bus.detach(0x48);
    assert.equal(codeOf(() => bus.readRegister(0x48, 0, 2)), 'GW_ERR_I2C_NACK');
  });

  it('frames transfers: writeRegister is pointer + data in one write; readRegister is pointer write then read', () => {
    const bus = new SimulatedI2CBus(1);
    const dev = new RecordingDevice();
    bus.attach(0x48, dev);
    bus.writeRegister(0x48, 1, Uint8Array.of(0x60, 0xa0));
    assert.deepEqual([...bus.readRegister(0x48, 3, 2)], [0xab, 0xcd]);
    bus.write(0x48, Uint8Array.of(7));
    assert.deepEqual([...bus.read(0x48, 1)], [0xab]);
    assert.deepEqual(dev.log, ['w 1,96,160', 'w 3', 'r 2', 'w 7', 'r 1']);
  });

  it('counts every attempted transaction, failed ones included', () => {
    const bus = new SimulatedI2CBus(1);
    bus.attach(0x48, new RecordingDevice());
    bus.readRegister(0x48, 0, 2);
    assert.throws(() => bus.read(0x49, 1));
    bus.write(0x00, Uint8Array.of(0x06));
    assert.throws(() => bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1));
    assert.equal(bus.transactionCount, 4);
  });

  it('turns a device SimI2CFault into an I2CError with the bus number and address', () => {
    const bus = new SimulatedI2CBus(5);
    const dev = new RecordingDevice();
    dev.onRead = () => {
      throw new SimI2CFault('GW_ERR_I2C_TIMEOUT');
    };
    bus.attach(0x4a, dev);
    try {
      bus.read(0x4a, 2);
      assert.fail('expected a timeout');
    } catch (err) {
      assert.ok(err instanceof I2CError);
      assert.equal(err.code, 'GW_ERR_I2C_TIMEOUT');
      assert.equal(err.busNumber, 5);
      assert.equal(err.address, 0x4a);
    }
  });

  it('refuses reserved, duplicate and out-of-range addresses as programming errors', () => {
    const bus = new SimulatedI2CBus(1);
    bus.attach(0x48, new RecordingDevice());
    assert.throws(() => bus.attach(0x48, new RecordingDevice()), RangeError);
    assert.throws(() => bus.attach(0x00, new RecordingDevice()), RangeError);
    assert.throws(() => bus.attach(SMBUS_ALERT_RESPONSE_ADDRESS, new RecordingDevice()), RangeError);
    assert.throws(() => bus.read(0x80, 1), RangeError);
  });

  it('delivers a general call to every device; NACK when nobody acknowledges', () => {
    const bus = new SimulatedI2CBus(1);
    assert.equal(codeOf(() => bus.write(0x00, Uint8Array.of(0x06))), 'GW_ERR_I2C_NACK');
    const a = new RecordingDevice();
    const b = new RecordingDevice();
    bus.attach(0x48, a);
    bus.attach(0x49, b);
    bus.write(0x00, Uint8Array.of(0x06));
    assert.deepEqual(a.generalCalls, [[0x06]]);
    assert.deepEqual(b.generalCalls, [[0x06]]);
  });

  it('arbitrates the SMBus alert response: lowest alerting address answers first', () => {
    const bus = new SimulatedI2CBus(1);
    const low = new RecordingDevice();
    const high = new RecordingDevice();
    bus.attach(0x4b, high);
    bus.attach(0x49, low);
    high.alerting = true;
    low.alerting = true;
    assert.deepEqual([...bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)], [0x49 << 1]);
    assert.deepEqual([...bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)], [0x4b << 1]);
    assert.equal(codeOf(() => bus.read(SMBUS_ALERT_RESPONSE_ADDRESS, 1)), 'GW_ERR_I2C_NACK');
  });

  it('refuses use after close', () => {
    const bus = new SimulatedI2CBus(1);
    bus.close();
    assert.throws(() => bus.read(0x48, 1), /closed/);
  });
});

describe('createSimulatedTmp102Bus', () => {
  it('builds a bus with a TMP102 at 0x48 that reads like the real chip', () => {
    const clock = new ManualClock();
    const { bus, tmp102, address } = createSimulatedTmp102Bus({ clock, profile: constantProfile(25) });
    assert.equal(address, 0x48);
    assert.deepEqual(bus.addresses, [0x48]);
    clock.advanceMs(26);
    assert.deepEqual([...bus.readRegister(0x48, 0, 2)], [0x19, 0x00]);
    assert.equal(tmp102.stats.reads, 1);
  });
});

describe('openI2CBus', () => {
  it('auto picks the simulation when /dev/i2c-N is missing, and says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-'));
    try {
      const opened = openI2CBus({ driver: 'auto', busNumber: 1, clock: new ManualClock(), devDirectory: dir, board: { model: undefined, isRaspberryPi: false } });
      assert.equal(opened.bus.kind, 'simulated');
      assert.ok(opened.simulatedTmp102);
      assert.match(opened.description, /^simulated TMP102 at 0x48 on simulated bus 1 \(no .*i2c-1, and this is not a Raspberry Pi; constant 21\.5 °C\)$/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('auto picks Linux when /dev/i2c-N exists (nothing is opened until the first transfer)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-'));
    try {
      writeFileSync(join(dir, 'i2c-1'), '');
      const opened = openI2CBus({ driver: 'auto', busNumber: 1, devDirectory: dir });
      assert.equal(opened.bus.kind, 'linux');
      assert.equal(opened.simulatedTmp102, undefined);
      assert.match(opened.description, /^Linux I2C adapter .*i2c-1 \(found .*i2c-1\)$/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('honours an explicit driver choice', () => {
    const sim = openI2CBus({ driver: 'simulated', busNumber: 2, clock: new ManualClock(), simulated: { address: 0x4a } });
    assert.equal(sim.bus.kind, 'simulated');
    assert.match(sim.description, /^simulated TMP102 at 0x4a on simulated bus 2 \(driver: simulated;/);
    const linux = openI2CBus({ driver: 'linux', busNumber: 97 });
    assert.equal(linux.bus.kind, 'linux');
    assert.throws(() => openI2CBus({ driver: 'gpio' as 'auto', busNumber: 1 }), RangeError);
  });
});
