/**
 * The doctor's bus checks (scan, sensor identity, reading) through the real LinuxI2CBus and the
 * real Go module, on a recording fake of the i2c-bus package whose transfers reach a simulated
 * TMP102 and fail with the errnos a Raspberry Pi's adapter reports: a NACK (EREMOTEIO / ENXIO)
 * at the address, a kernel driver owning it (EBUSY: "UU"), a stuck bus (ETIMEDOUT), a wire error
 * (EIO), no permission on the first transfer (EACCES); and a device at 0x48 that is not a TMP102.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock, SystemClock } from '../drivers/clock.ts';
import { probeKindFor, scanI2CBus } from '../drivers/i2c-scan.ts';
import { LinuxI2CBus } from '../drivers/linux-i2c-bus.ts';
import { SimulatedI2CBus, type SimI2CDevice } from '../drivers/sim/sim-i2c-bus.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';
import type { CheckId, CheckResult } from '../gateway/service/doctor/check.ts';
import type { DoctorEnvironment } from '../gateway/service/doctor/environment.ts';
import { runDoctor } from '../gateway/service/doctor/run-doctor.ts';
import { RecordingI2cModule, fakeRoot, target, testEnvironment } from './helpers/doctor-fakes.ts';

/** A device that acknowledges everything and reads 0xFF: an EEPROM-ish chip, not a TMP102. */
class NotATmp102 implements SimI2CDevice {
  onWrite(): void {}
  onRead(length: number): Uint8Array {
    return new Uint8Array(length).fill(0xff);
  }
}

/** A bus with a simulated TMP102 at 0x48 (and `others`), reached through the recording fake as /dev/i2c-1. */
function piWithFakeBus(others: Record<number, SimI2CDevice> = {}): { env: DoctorEnvironment; fake: RecordingI2cModule; chip: SimulatedTmp102; clock: ManualClock } {
  const root = fakeRoot({ 'dev/i2c-1': '' });
  after(root.remove);
  // One manual clock for the chip and the module: the first read is always within the chip's
  // first conversion (NOT_READY), and the doctor's wait for it moves the clock, not real time.
  const clock = new ManualClock();
  const sim = new SimulatedI2CBus(1);
  const chip = new SimulatedTmp102({ clock });
  sim.attach(0x48, chip);
  for (const [address, device] of Object.entries(others)) sim.attach(Number(address), device);
  const fake = new RecordingI2cModule(sim);
  return { env: testEnvironment(root.root, { i2cModule: fake, clock }), fake, chip, clock };
}

function byId(checks: CheckResult[]): Record<CheckId, CheckResult> {
  return Object.fromEntries(checks.map((c) => [c.id, c])) as Record<CheckId, CheckResult>;
}

describe('scanI2CBus (drivers/i2c-scan.ts)', () => {
  it("probes as i2cdetect's auto mode: receive byte at 0x30-0x37 and 0x50-0x5f, quick write elsewhere; 0x03..0x77 only", () => {
    assert.equal(probeKindFor(0x48), 'quick-write');
    assert.equal(probeKindFor(0x30), 'receive-byte');
    assert.equal(probeKindFor(0x37), 'receive-byte');
    assert.equal(probeKindFor(0x38), 'quick-write');
    assert.equal(probeKindFor(0x50), 'receive-byte');
    assert.equal(probeKindFor(0x5f), 'receive-byte');
    const { fake } = piWithFakeBus({ 0x50: new NotATmp102() });
    const result = scanI2CBus(new LinuxI2CBus(1, { module: fake }));
    assert.deepEqual(result.found, [0x48, 0x50]);
    assert.equal(result.probed, 0x77 - 0x03 + 1);
    assert.ok(fake.calls.includes('writeQuickSync(0x48,0x0)'));
    assert.ok(fake.calls.includes('receiveByteSync(0x50)'));
    assert.ok(!fake.calls.some((c) => /\(0x(0|1|2|78|7f),/.test(c) || /\(0x(0|1|2|78|7f)\)/.test(c)), 'reserved addresses are not probed');
  });
});

describe('scanI2CBus: errors keep their codes', () => {
  it('EBUSY is "UU" (a kernel driver owns the address); the scan goes on', () => {
    const { fake } = piWithFakeBus();
    fake.errnoAt.set(0x48, 'EBUSY');
    const r = scanI2CBus(new LinuxI2CBus(1, { module: fake }));
    assert.deepEqual(r.found, []);
    assert.deepEqual(r.busy, [0x48]);
    assert.equal(r.aborted, undefined);
  });

  it('ETIMEDOUT stops the scan (each further probe would wait for the adapter timeout)', () => {
    const { fake } = piWithFakeBus();
    fake.errnoAt.set(0x10, 'ETIMEDOUT');
    const r = scanI2CBus(new LinuxI2CBus(1, { module: fake }));
    assert.equal(r.aborted?.code, 'GW_ERR_I2C_TIMEOUT');
    assert.equal(r.aborted?.errno, 'ETIMEDOUT');
    assert.equal(r.aborted?.address, 0x10);
    assert.equal(r.probed, 0x10 - 0x03 + 1);
  });

  it('no adapter or no permission on the first transfer stops it at once', () => {
    for (const [errno, code] of [['ENOENT', 'GW_ERR_I2C_NO_ADAPTER'], ['EACCES', 'GW_ERR_I2C_PERMISSION']] as const) {
      const { fake } = piWithFakeBus();
      fake.openErrno = errno;
      const r = scanI2CBus(new LinuxI2CBus(1, { module: fake }));
      assert.equal(r.aborted?.code, code);
      assert.equal(r.probed, 1);
    }
  });

  it('an adapter without SMBus quick: receive byte everywhere instead', () => {
    const { fake } = piWithFakeBus();
    fake.unsupported.add('writeQuickSync');
    const r = scanI2CBus(new LinuxI2CBus(1, { module: fake }));
    assert.deepEqual(r.found, [0x48]);
    assert.deepEqual(r.unsupported, ['quick-write']);
    assert.ok(fake.calls.includes('receiveByteSync(0x48)'));
  });

  it('an adapter with neither probe: the scan stops with GW_ERR_I2C_UNSUPPORTED', () => {
    const { fake } = piWithFakeBus();
    fake.unsupported.add('writeQuickSync').add('receiveByteSync');
    const r = scanI2CBus(new LinuxI2CBus(1, { module: fake }));
    assert.equal(r.aborted?.code, 'GW_ERR_I2C_UNSUPPORTED');
  });

  it('the simulated bus scans the same way', () => {
    const sim = new SimulatedI2CBus(1);
    sim.attach(0x48, new SimulatedTmp102({ clock: new SystemClock() }));
    sim.attach(0x1c, new NotATmp102());
    assert.deepEqual(scanI2CBus(sim).found, [0x1c, 0x48]);
  });
});

describe('doctor on /dev/i2c-1 through the recording i2c-bus fake', () => {
  it('a TMP102 at 0x48: every I2C check passes, through the real Go module', async () => {
    const { env } = piWithFakeBus();
    const report = await runDoctor(target(), env);
    const c = byId(report.checks);
    for (const id of ['node-version', 'i2c-enabled', 'i2c-permission', 'i2c-scan', 'sensor-identity', 'sensor-reading', 'udp-port'] as const) {
      assert.equal(c[id].status, 'ok', `${id}: ${c[id].detail}`);
    }
    assert.deepEqual(c['i2c-scan'].data?.['found'], ['0x48']);
    assert.equal(c['sensor-reading'].data?.['value'], 21.5);
    assert.equal(c['sensor-reading'].data?.['simulated'], false);
    assert.equal(report.ok, true);
  });

  it('EREMOTEIO (a NACK on a Pi) at the configured 0x49: sensor-identity fails with the NACK fix and what the scan found', async () => {
    const { env } = piWithFakeBus();
    const c = byId((await runDoctor(target({ address: 0x49 }), env)).checks);
    assert.equal(c['i2c-scan'].status, 'ok');
    assert.deepEqual(c['i2c-scan'].data?.['found'], ['0x48']);
    const id = c['sensor-identity'];
    assert.equal(id.status, 'fail');
    assert.equal(id.code, 'GW_ERR_I2C_NACK');
    assert.equal(id.errno, 'EREMOTEIO');
    assert.equal(id.reason, 'no-answer');
    assert.deepEqual(id.data?.['scanFound'], ['0x48']);
    assert.ok(id.fix);
    assert.equal(c['sensor-reading'].data?.['blockedBy'], 'sensor-identity');
  });

  it('ENXIO (a NACK on other adapters) is the same failure', async () => {
    const { env, fake } = piWithFakeBus();
    fake.errnoAt.set(0x48, 'ENXIO');
    const c = byId((await runDoctor(target(), env)).checks);
    assert.deepEqual(c['i2c-scan'].data?.['found'], []);
    assert.equal(c['i2c-scan'].status, 'warn');
    assert.equal(c['i2c-scan'].reason, 'empty-bus');
    assert.equal(c['sensor-identity'].code, 'GW_ERR_I2C_NACK');
    assert.equal(c['sensor-identity'].errno, 'ENXIO');
  });

  it('EBUSY at 0x48: the scan shows UU, sensor-identity fails with GW_ERR_I2C_BUSY', async () => {
    const { env, fake } = piWithFakeBus();
    fake.errnoAt.set(0x48, 'EBUSY');
    const c = byId((await runDoctor(target(), env)).checks);
    assert.equal(c['i2c-scan'].status, 'ok');
    assert.deepEqual(c['i2c-scan'].data?.['busy'], ['0x48']);
    assert.equal(c['sensor-identity'].status, 'fail');
    assert.equal(c['sensor-identity'].code, 'GW_ERR_I2C_BUSY');
    assert.equal(c['sensor-identity'].errno, 'EBUSY');
  });

  it('ETIMEDOUT: the scan fails (bus stuck) with GW_ERR_I2C_TIMEOUT; the sensor checks are skipped', async () => {
    const { env, fake } = piWithFakeBus();
    fake.errnoAt.set(0x20, 'ETIMEDOUT');
    const c = byId((await runDoctor(target(), env)).checks);
    assert.equal(c['i2c-scan'].status, 'fail');
    assert.equal(c['i2c-scan'].code, 'GW_ERR_I2C_TIMEOUT');
    assert.equal(c['i2c-scan'].errno, 'ETIMEDOUT');
    assert.equal(c['i2c-scan'].reason, 'bus-stuck');
    assert.ok(c['i2c-scan'].fix);
    assert.equal(c['sensor-identity'].data?.['blockedBy'], 'i2c-scan');
    assert.equal(c['sensor-reading'].data?.['blockedBy'], 'i2c-scan');
  });

  it('EIO at one address: a warning with GW_ERR_I2C_BUS; the sensor is still checked', async () => {
    const { env, fake } = piWithFakeBus();
    fake.errnoAt.set(0x30, 'EIO');
    const c = byId((await runDoctor(target(), env)).checks);
    assert.equal(c['i2c-scan'].status, 'warn');
    assert.equal(c['i2c-scan'].code, 'GW_ERR_I2C_BUS');
    assert.equal(c['i2c-scan'].reason, 'probe-errors');
    assert.equal(c['sensor-identity'].status, 'ok');
  });

  it('EACCES on the first transfer (the device opened by i2c-bus): the scan fails with GW_ERR_I2C_PERMISSION', async () => {
    const { env, fake } = piWithFakeBus();
    fake.openErrno = 'EACCES';
    const c = byId((await runDoctor(target(), env)).checks);
    assert.equal(c['i2c-scan'].status, 'fail');
    assert.equal(c['i2c-scan'].code, 'GW_ERR_I2C_PERMISSION');
    assert.equal(c['i2c-scan'].errno, 'EACCES');
  });

  it('a stuck chip while reading: the reading fails with the code, identity passed', async () => {
    const { env, chip, clock } = piWithFakeBus();
    // Identity passes; the first read is NOT_READY; while the doctor waits, the chip hangs the bus.
    const report = await runDoctor(target(), {
      ...env,
      clock: {
        monotonicNs: () => clock.monotonicNs(),
        realtimeNs: () => clock.realtimeNs(),
        schedule: (ms, fn) => clock.schedule(ms, fn),
        sleep: (ns) => {
          chip.inject('timeout');
          clock.sleep(ns);
        },
      },
    });
    const c = byId(report.checks);
    assert.equal(c['sensor-identity'].status, 'ok');
    assert.equal(c['sensor-reading'].status, 'fail');
    assert.equal(c['sensor-reading'].code, 'GW_ERR_I2C_TIMEOUT');
    assert.equal(c['sensor-reading'].errno, 'ETIMEDOUT');
  });
});

describe('doctor: what answers at the address is not a TMP102', () => {
  it('GW_ERR_SENSOR_WRONG_DEVICE from the module\'s own identity check; the reading is skipped', async () => {
    const root = fakeRoot();
    after(root.remove);
    const env = testEnvironment(root.root, {
      simulatedBus: (busNumber, address) => {
        const bus = new SimulatedI2CBus(busNumber);
        bus.attach(address, new NotATmp102());
        return bus;
      },
    });
    const c = byId((await runDoctor(target({ driver: 'simulated' }), env)).checks);
    assert.deepEqual(c['i2c-scan'].data?.['found'], ['0x48']);
    assert.equal(c['sensor-identity'].status, 'fail');
    assert.equal(c['sensor-identity'].code, 'GW_ERR_SENSOR_WRONG_DEVICE');
    assert.equal(c['sensor-identity'].reason, 'wrong-device');
    assert.ok(c['sensor-identity'].fix);
    assert.equal(c['sensor-reading'].data?.['blockedBy'], 'sensor-identity');
  });

  it('a device whose registers read 0x0000 is refused the same way (R1R0 are not 11)', async () => {
    const root = fakeRoot();
    after(root.remove);
    const env = testEnvironment(root.root, {
      simulatedBus: (busNumber, address) => {
        const bus = new SimulatedI2CBus(busNumber);
        bus.attach(address, {
          onWrite: () => {},
          onRead: (n) => new Uint8Array(n),
        });
        return bus;
      },
    });
    const c = byId((await runDoctor(target({ driver: 'simulated' }), env)).checks);
    assert.equal(c['sensor-identity'].code, 'GW_ERR_SENSOR_WRONG_DEVICE');
  });

  it('a missing module file: GW_ERR_MODULE_NOT_FOUND', async () => {
    const root = fakeRoot();
    after(root.remove);
    const c = byId((await runDoctor(target({ driver: 'simulated', module: '/nonexistent/tmp102.wasm' }), testEnvironment(root.root))).checks);
    assert.equal(c['sensor-identity'].status, 'fail');
    assert.equal(c['sensor-identity'].code, 'GW_ERR_MODULE_NOT_FOUND');
    assert.equal(c['sensor-identity'].reason, 'module');
    assert.match(c['sensor-identity'].fix ?? '', /modules\/tmp102\.wasm/);
  });
});
