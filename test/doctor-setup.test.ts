/**
 * The doctor's machine-setup checks against fake roots (a tmp directory standing for `/`):
 * I2C enabled (no adapter on a non-Pi, on a Pi with and without dtparam=i2c_arm=on), permission
 * on /dev/i2c-N (group i2c, and a group added after login), the Node version.
 */
import assert from 'node:assert/strict';
import { chmodSync, closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { i2cArmEnabled, i2cEnabledCheck } from '../gateway/service/doctor/i2c-enabled-check.ts';
import { i2cPermissionCheck } from '../gateway/service/doctor/i2c-permission-check.ts';
import type { Check, CheckOutcome } from '../gateway/service/doctor/check.ts';
import { hostFiles, type DoctorEnvironment, type HostFiles } from '../gateway/service/doctor/environment.ts';
import { nodeVersionCheck } from '../gateway/service/doctor/node-version-check.ts';
import { REQUIRED_NODE_MAJOR } from '../gateway/node-version.mjs';
import { modeString } from '../gateway/service/doctor/groups.ts';
import { PI4_MODEL, fakeRoot, runCheck, target, testEnvironment } from './helpers/doctor-fakes.ts';

function check(c: Check, env: DoctorEnvironment, options: Parameters<typeof target>[0] = {}): Promise<CheckOutcome> {
  return runCheck(c, env, target(options));
}

function rootWith(files: Record<string, string>) {
  const fake = fakeRoot(files);
  after(fake.remove);
  return fake;
}

describe('doctor: I2C enabled', () => {
  it('ok when /dev/i2c-1 exists, naming the adapter', async () => {
    const fake = rootWith({ 'dev/i2c-1': '', 'sys/class/i2c-dev/i2c-1/name': 'bcm2835 (i2c@7e804000)\n' });
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.equal(r.status, 'ok');
    assert.equal(r.data?.['adapter'], 'bcm2835 (i2c@7e804000)');
  });

  it('not a Raspberry Pi, no adapter: GW_ERR_I2C_NO_ADAPTER, the fix is the simulated driver', async () => {
    const fake = rootWith({});
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.equal(r.reason, 'not-a-raspberry-pi');
    assert.deepEqual(r.data?.['adapters'], []);
    assert.ok(r.fix!.includes('--driver simulated'));
  });

  it('lists the adapters that do exist when the wanted one does not', async () => {
    const fake = rootWith({ 'dev/i2c-20': '', 'dev/i2c-3': '', 'dev/null-ish': '' });
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.deepEqual(r.data?.['adapters'], ['/dev/i2c-3', '/dev/i2c-20']);
  });

  it('a Pi with dtparam=i2c_arm=on in /boot/firmware/config.txt but no adapter: configured but not active, reboot', async () => {
    const fake = rootWith({ ...PI4_MODEL, 'boot/firmware/config.txt': '[all]\n# I2C\ndtparam=i2c_arm=on\ndtparam=audio=on\n' });
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.equal(r.reason, 'reboot-needed');
    assert.equal(r.data?.['configFile'], '/boot/firmware/config.txt');
  });

  it('an older Pi OS keeps config.txt in /boot', async () => {
    const fake = rootWith({ ...PI4_MODEL, 'boot/config.txt': 'dtparam=i2c_arm=on,i2c_arm_baudrate=400000\n' });
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.equal(r.reason, 'reboot-needed');
    assert.equal(r.data?.['configFile'], '/boot/config.txt');
  });

  it('a Pi without dtparam=i2c_arm=on: not enabled, the fix is raspi-config (or dtparam) and a reboot', async () => {
    const fake = rootWith({ ...PI4_MODEL, 'boot/firmware/config.txt': '#dtparam=i2c_arm=on\ndtparam=spi=on\n' });
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.equal(r.reason, 'not-enabled');
    assert.ok(r.fix!.includes('raspi-config nonint do_i2c 0'));
    assert.ok(r.fix!.includes('dtparam=i2c_arm=on'));
  });

  it('a Pi with no config.txt at all: not enabled', async () => {
    const fake = rootWith(PI4_MODEL);
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root));
    assert.equal(r.reason, 'not-enabled');
  });

  it('a Pi asked for another bus than the header\'s: no-adapter', async () => {
    const fake = rootWith({ ...PI4_MODEL, 'dev/i2c-1': '' });
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root), { bus: 3 });
    assert.equal(r.reason, 'no-adapter');
    assert.deepEqual(r.data?.['adapters'], ['/dev/i2c-1']);
  });

  it('does not apply to the simulated driver', async () => {
    const fake = rootWith({});
    const r = await check(i2cEnabledCheck, testEnvironment(fake.root), { driver: 'simulated' });
    assert.equal(r.status, 'skip');
    assert.equal(r.reason, 'simulated');
  });

  it('reads config.txt as the firmware does: the last i2c_arm setting wins, comments do not count', () => {
    assert.equal(i2cArmEnabled('dtparam=i2c_arm=on'), true);
    assert.equal(i2cArmEnabled('dtparam=i2c=on'), true);
    assert.equal(i2cArmEnabled('  dtparam = i2c_arm=on  # enabled by raspi-config'), true);
    assert.equal(i2cArmEnabled('dtparam=audio=on,i2c_arm=on'), true);
    assert.equal(i2cArmEnabled('dtparam=i2c_arm'), true);
    assert.equal(i2cArmEnabled('#dtparam=i2c_arm=on'), false);
    assert.equal(i2cArmEnabled('dtparam=i2c_arm=on\ndtparam=i2c_arm=off'), false);
    assert.equal(i2cArmEnabled('dtparam=i2c_arm_baudrate=400000'), false);
    assert.equal(i2cArmEnabled('dtoverlay=i2c-sensor,tmp102'), false);
  });
});

describe('doctor: I2C permission', () => {
  const GROUPS = 'root:x:0:\ni2c:x:998:\ngpio:x:997:\npi:x:1000:\n';
  const PASSWD = 'root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n';

  /** /dev/i2c-1 as Raspberry Pi OS has it: crw-rw---- root:i2c (here a regular file, mode 0660). */
  function piRoot(groups = GROUPS) {
    const fake = rootWith({ 'dev/i2c-1': '', 'etc/group': groups, 'etc/passwd': PASSWD });
    chmodSync(path.join(fake.root, 'dev/i2c-1'), 0o660);
    return fake;
  }

  /**
   * The file layer with the device owned by root and group `gid` (998 = i2c in GROUPS), as stat
   * reports it: a chown would need root, and the tests run as any user.
   */
  function ownedFiles(root: string, gid = 998): HostFiles {
    const files = hostFiles(root);
    return { ...files, stat: (file) => (file.endsWith('dev/i2c-1') ? { ...files.stat(file), uid: 0, gid } : files.stat(file)) };
  }

  /** The recording fake of the file layer: opening the device fails with EACCES, as for a user outside group i2c. */
  function refusing(root: string, gid = 998): DoctorEnvironment {
    return testEnvironment(root, {
      files: {
        ...ownedFiles(root, gid),
        openReadWrite: (file) => {
          throw Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { code: 'EACCES' });
        },
      },
    });
  }

  it('ok when the device opens read-write, showing its owner, group and mode', async () => {
    const fake = piRoot();
    const r = await check(i2cPermissionCheck, testEnvironment(fake.root, { files: ownedFiles(fake.root) }));
    assert.equal(r.status, 'ok');
    assert.equal(r.data?.['ownership'], '-rw-rw---- root:i2c');
  });

  it('EACCES, user not in group i2c: GW_ERR_I2C_PERMISSION, fix usermod -aG i2c <user> and log in again', async () => {
    const fake = piRoot();
    const r = await check(i2cPermissionCheck, refusing(fake.root));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_I2C_PERMISSION');
    assert.equal(r.errno, 'EACCES');
    assert.equal(r.reason, 'not-in-group');
    assert.ok(r.fix!.includes('sudo usermod -aG i2c pi'));
    assert.equal(r.data?.['ownership'], '-rw-rw---- root:i2c');
  });

  it('EACCES, user in group i2c in /etc/group but not this process: log in again / restart the service', async () => {
    const fake = piRoot(GROUPS.replace('i2c:x:998:', 'i2c:x:998:pi'));
    const r = await check(i2cPermissionCheck, refusing(fake.root));
    assert.equal(r.code, 'GW_ERR_I2C_PERMISSION');
    assert.equal(r.reason, 'group-not-active');
  });

  it('EPERM is a permission failure too', async () => {
    const fake = piRoot();
    const env = testEnvironment(fake.root, {
      files: {
        ...ownedFiles(fake.root),
        openReadWrite: () => {
          throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
        },
      },
    });
    const r = await check(i2cPermissionCheck, env);
    assert.equal(r.code, 'GW_ERR_I2C_PERMISSION');
    assert.equal(r.errno, 'EPERM');
  });

  it('a device left to group root: the fix is a udev rule for group i2c', async () => {
    const fake = piRoot();
    const r = await check(i2cPermissionCheck, refusing(fake.root, 0));
    assert.equal(r.reason, 'device-group');
  });

  it('a real EACCES from the kernel (mode 000) when not running as root', { skip: process.getuid?.() === 0 ? 'runs as root here: root opens a mode-000 file anyway (the recording fake above covers EACCES)' : false }, async () => {
    const fake = piRoot();
    chmodSync(path.join(fake.root, 'dev/i2c-1'), 0);
    const r = await check(i2cPermissionCheck, testEnvironment(fake.root));
    assert.equal(r.code, 'GW_ERR_I2C_PERMISSION');
    assert.equal(r.errno, 'EACCES');
  });

  it('mode strings as ls -l prints them', () => {
    assert.equal(modeString(0o020660), 'crw-rw----');
    assert.equal(modeString(0o100644), '-rw-r--r--');
    assert.equal(modeString(0o040770), 'drwxrwx---');
  });

  it('the real open: a file this process may open passes', async () => {
    const fake = piRoot();
    closeSync(openSync(path.join(fake.root, 'dev/i2c-1'), 'r+'));
    const r = await check(i2cPermissionCheck, testEnvironment(fake.root));
    assert.equal(r.status, 'ok');
  });
});


describe('doctor: Node version', () => {
  it('names the version found and the one needed', async () => {
    const fake = rootWith({});
    const ok = await check(nodeVersionCheck, testEnvironment(fake.root, { nodeVersion: '20.19.2' }));
    assert.equal(ok.status, 'ok');
    assert.deepEqual(ok.data, { found: '20.19.2', needed: '>=20' });
    const old = await check(nodeVersionCheck, testEnvironment(fake.root, { nodeVersion: '18.20.4' }));
    assert.equal(old.status, 'fail');
    assert.equal(old.code, 'GW_ERR_NODE_VERSION');
    assert.equal(old.reason, 'too-old');
    assert.ok(old.fix);
  });

  it('needs the Node the launcher needs', async () => {
    const fake = rootWith({});
    const r = await check(nodeVersionCheck, testEnvironment(fake.root, { nodeVersion: `${REQUIRED_NODE_MAJOR - 1}.9.0` }));
    assert.equal(r.status, 'fail');
    assert.equal(r.data?.['needed'], `>=${REQUIRED_NODE_MAJOR}`);
  });
});
