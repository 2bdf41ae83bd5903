/**
 * The kernel tier, guest side: `npm run doctor`'s checks (gateway/service/doctor/) run inside
 * the QEMU guest of `npm run test:kernel`, with the real environment (the guest's /dev, /sys,
 * /etc, its UDP stack) and the real i2c-bus addon, against /dev/i2c-0: the kernel's i2c-stub with
 * one chip at 0x48 (test/kernel/init). Outside the guest every test is skipped.
 *
 * The chip is given a TMP102's power-on registers with i2cset first (configuration 0x60A0, so
 * the Go module's identity check passes; T_LOW 75 °C, T_HIGH 80 °C; a temperature to read),
 * as i2c-stub.kernel-test.ts does: i2c-stub keeps SMBus words, low byte first on the wire, so
 * the wire bytes [MSB, LSB] are loaded as the word (LSB << 8) | MSB.
 *
 * Present (0x48): every I2C check passes and the scan finds 0x48. Absent (0x49, nothing there):
 * the scan still lists 0x48 and sensor-identity fails with the NACK code and its fix (i2c-stub
 * answers an address without a chip with ENODEV; docs/kernel-tier.md).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../gateway/service/config.ts';
import type { CheckId, CheckResult } from '../../gateway/service/doctor/check.ts';
import type { DoctorTarget } from '../../gateway/service/doctor/context.ts';
import { defaultEnvironment } from '../../gateway/service/doctor/environment.ts';
import { formatReport } from '../../gateway/service/doctor/format-report.ts';
import { runDoctor } from '../../gateway/service/doctor/run-doctor.ts';

const BUS = 0;
const CHIP = 0x48; // i2c-stub chip_addr=0x48 (test/kernel/init)
const NOTHING = 0x49; // a TMP102 address (ADD0 to V+) where nothing answers
const REG_TEMP = 0x00;
const REG_CONFIG = 0x01;
const REG_TLOW = 0x02;
const REG_THIGH = 0x03;
const POWER_ON_CONFIG = 0x60a0; // SBOS397: R1R0 = 11, CR = 10 (4 Hz)
const TLOW_75C = 0x4b00; // power-on T_LOW, 75 °C
const THIGH_80C = 0x5000; // power-on T_HIGH, 80 °C
const TEMP_25C = 0x1900; // 25 °C: 12-bit 0x190, left-justified

const inGuest = process.env['KTIER_IN_GUEST'] === '1' && existsSync(`/dev/i2c-${BUS}`);
const skip = inGuest ? false : 'kernel tier: runs only inside the guest of npm run test:kernel';

function loadRegister(register: number, wire: number): void {
  const word = ((wire & 0xff) << 8) | (wire >> 8);
  execFileSync('i2cset', ['-y', String(BUS), `0x${CHIP.toString(16)}`, `0x${register.toString(16).padStart(2, '0')}`, `0x${word.toString(16).padStart(4, '0')}`, 'w']);
}

function doctorTarget(address: number): DoctorTarget {
  // Port 0: the guest's UDP stack is checked by binding, without depending on which ports are free.
  return { sensor: defaultConfig({ bus: BUS, address }).sensors[0]!, driver: 'linux', host: '::', port: 0 };
}

function byId(checks: CheckResult[]): Record<CheckId, CheckResult> {
  return Object.fromEntries(checks.map((c) => [c.id, c])) as Record<CheckId, CheckResult>;
}

describe('kernel tier: the doctor on i2c-stub (/dev/i2c-0) in a QEMU guest', { skip }, () => {
  it('a TMP102 at 0x48: every I2C check ok, the scan finds 0x48, the module identifies and reads it', async () => {
    loadRegister(REG_CONFIG, POWER_ON_CONFIG);
    loadRegister(REG_TLOW, TLOW_75C);
    loadRegister(REG_THIGH, THIGH_80C);
    loadRegister(REG_TEMP, TEMP_25C);
    const report = await runDoctor(doctorTarget(CHIP), defaultEnvironment());
    console.log(formatReport(report).replace(/^/gm, '# '));
    const c = byId(report.checks);
    for (const id of ['node-version', 'i2c-enabled', 'i2c-permission', 'i2c-scan', 'sensor-identity', 'sensor-reading', 'udp-port'] as const) {
      assert.equal(c[id].status, 'ok', `${id}: ${c[id].detail}`);
    }
    assert.equal(c['i2c-enabled'].data?.['adapter'], 'SMBus stub driver');
    assert.deepEqual(c['i2c-scan'].data?.['found'], ['0x48']);
    assert.deepEqual(c['i2c-scan'].data?.['busy'], []);
    assert.equal(c['sensor-reading'].data?.['value'], 25);
    assert.equal(c['alert-gpio'].reason, 'not-configured');
    assert.equal(report.ok, true);
  });

  it('nothing at 0x49: the scan still lists 0x48; sensor-identity fails with GW_ERR_I2C_NACK and the wiring fix', async () => {
    loadRegister(REG_CONFIG, POWER_ON_CONFIG);
    const report = await runDoctor(doctorTarget(NOTHING), defaultEnvironment());
    console.log(formatReport(report).replace(/^/gm, '# '));
    const c = byId(report.checks);
    assert.equal(c['i2c-scan'].status, 'ok');
    assert.deepEqual(c['i2c-scan'].data?.['found'], ['0x48']);
    const id = c['sensor-identity'];
    assert.equal(id.status, 'fail');
    assert.equal(id.code, 'GW_ERR_I2C_NACK');
    assert.equal(id.errno, 'ENODEV');
    assert.equal(id.reason, 'no-answer');
    assert.deepEqual(id.data?.['scanFound'], ['0x48']);
    assert.ok(id.fix);
    assert.equal(c['sensor-reading'].status, 'skip');
    assert.equal(c['sensor-reading'].data?.['blockedBy'], 'sensor-identity');
    assert.equal(report.ok, false);
  });
});
