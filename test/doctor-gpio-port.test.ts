/**
 * The doctor's ALERT GPIO check against a fake /sys/class/gpio (a pinctrl chip with a dynamic
 * base, as on a Pi with kernel 6.6+), and its UDP port check against real sockets.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { bindCoapSocket } from '../gateway/bind-socket.ts';
import { alertGpioCheck } from '../gateway/service/doctor/alert-gpio-check.ts';
import { type DoctorEnvironment, bindAndRelease, hostFiles } from '../gateway/service/doctor/environment.ts';
import { udpPortCheck } from '../gateway/service/doctor/udp-port-check.ts';
import { PI4_MODEL, fakeRoot, runCheck, target, testEnvironment } from './helpers/doctor-fakes.ts';

const GROUPS = 'root:x:0:\ngpio:x:997:\npi:x:1000:\n';

/** A Pi 4 with kernel 6.6: GPIO17 is sysfs 529 (pinctrl-bcm2711, base 512). */
function gpioRoot(extra: Record<string, string> = {}) {
  const fake = fakeRoot({
    ...PI4_MODEL,
    'etc/group': GROUPS,
    'sys/class/gpio/export': '',
    'sys/class/gpio/unexport': '',
    'sys/class/gpio/gpiochip512/label': 'pinctrl-bcm2711\n',
    'sys/class/gpio/gpiochip512/base': '512\n',
    'sys/class/gpio/gpiochip512/ngpio': '58\n',
    'sys/class/gpio/gpiochip570/label': 'raspberrypi-exp-gpio\n',
    'sys/class/gpio/gpiochip570/base': '570\n',
    'sys/class/gpio/gpiochip570/ngpio': '8\n',
    ...extra,
  });
  after(fake.remove);
  return fake;
}

/** Writes to export / unexport behave as the kernel's: the line's directory appears and goes. */
function kernelLike(root: string, writes: string[]): DoctorEnvironment {
  const files = hostFiles(root);
  return testEnvironment(root, {
    pause: async () => {},
    files: {
      ...files,
      writeText: (file, text) => {
        writes.push(`${file} ${text}`);
        if (file === '/sys/class/gpio/export') {
          mkdirSync(path.join(root, `sys/class/gpio/gpio${text}`), { recursive: true });
          writeFileSync(path.join(root, `sys/class/gpio/gpio${text}/value`), '1\n');
        }
      },
    },
  });
}

/** The doctor's file layer over a fake root, where every write (a GPIO export) fails with `errno`. */
function failingWrites(root: string, errno: string): DoctorEnvironment {
  return testEnvironment(root, {
    files: {
      ...hostFiles(root),
      writeText: () => {
        throw Object.assign(new Error(errno), { code: errno });
      },
    },
  });
}

describe('doctor: ALERT GPIO', () => {
  it('skipped when no alertGpio is configured, and on the simulated chip', async () => {
    const fake = gpioRoot();
    assert.equal((await runCheck(alertGpioCheck, testEnvironment(fake.root))).reason, 'not-configured');
    const sim = await runCheck(alertGpioCheck, testEnvironment(fake.root), target({ driver: 'simulated', alertGpio: 17 }));
    assert.equal(sim.status, 'skip');
    assert.equal(sim.reason, 'simulated');
  });

  it('finds the sysfs number from the pinctrl chip\'s base, exports, reads and unexports the line', async () => {
    const fake = gpioRoot();
    const writes: string[] = [];
    const r = await runCheck(alertGpioCheck, kernelLike(fake.root, writes), target({ alertGpio: 17 }));
    assert.equal(r.status, 'ok', r.detail);
    assert.deepEqual(r.data, { gpio: 17, sysfs: 529, chip: 'pinctrl-bcm2711', base: 512, exported: 'by-doctor' });
    assert.deepEqual(writes, ['/sys/class/gpio/export 529', '/sys/class/gpio/unexport 529']);
  });

  it('a line already exported (a running gateway) is read, not exported again', async () => {
    const fake = gpioRoot({ 'sys/class/gpio/gpio529/value': '0\n' });
    const writes: string[] = [];
    const r = await runCheck(alertGpioCheck, kernelLike(fake.root, writes), target({ alertGpio: 17 }));
    assert.equal(r.status, 'ok');
    assert.equal(r.data?.['exported'], 'already');
    assert.deepEqual(writes, []);
  });

  it('no /sys/class/gpio: fails (no sysfs GPIO)', async () => {
    const fake = fakeRoot(PI4_MODEL);
    after(fake.remove);
    const r = await runCheck(alertGpioCheck, testEnvironment(fake.root), target({ alertGpio: 17 }));
    assert.equal(r.status, 'fail');
    assert.equal(r.reason, 'no-sysfs-gpio');
    assert.ok(r.fix);
  });

  it('no Raspberry Pi pinctrl chip: fails naming the chips there are', async () => {
    const fake = fakeRoot({ 'sys/class/gpio/gpiochip0/label': 'gpio-mockup-A\n', 'sys/class/gpio/gpiochip0/base': '0\n', 'sys/class/gpio/gpiochip0/ngpio': '8\n' });
    after(fake.remove);
    const r = await runCheck(alertGpioCheck, testEnvironment(fake.root), target({ alertGpio: 17 }));
    assert.equal(r.reason, 'no-pinctrl');
  });

  it('EACCES on export, user not in group gpio: fix usermod -aG gpio', async () => {
    const fake = gpioRoot();
    const env = failingWrites(fake.root, 'EACCES');
    const r = await runCheck(alertGpioCheck, env, target({ alertGpio: 17 }));
    assert.equal(r.status, 'fail');
    assert.equal(r.errno, 'EACCES');
    assert.equal(r.reason, 'not-in-group');
    assert.ok(r.fix!.includes('usermod -aG gpio pi'));
  });

  it('EACCES, but pi is in group gpio in /etc/group: log in again', async () => {
    const fake = gpioRoot({ 'etc/group': GROUPS.replace('gpio:x:997:', 'gpio:x:997:pi') });
    const env = failingWrites(fake.root, 'EACCES');
    assert.equal((await runCheck(alertGpioCheck, env, target({ alertGpio: 17 }))).reason, 'group-not-active');
  });

  it('EBUSY on export: the line is held by someone else', async () => {
    const fake = gpioRoot();
    const env = failingWrites(fake.root, 'EBUSY');
    const r = await runCheck(alertGpioCheck, env, target({ alertGpio: 17 }));
    assert.equal(r.reason, 'busy');
    assert.equal(r.errno, 'EBUSY');
  });

  it('the line never appears after the export: fails, and the export is undone', async () => {
    const fake = gpioRoot();
    const writes: string[] = [];
    const env = testEnvironment(fake.root, {
      pause: async () => {},
      files: { ...hostFiles(fake.root), writeText: (file, text) => void writes.push(`${file} ${text}`) },
    });
    const r = await runCheck(alertGpioCheck, env, target({ alertGpio: 17 }));
    assert.equal(r.status, 'fail');
    assert.equal(r.reason, 'unreadable');
    assert.equal(writes.at(-1), '/sys/class/gpio/unexport 529');
    assert.ok(!existsSync(path.join(fake.root, 'sys/class/gpio/gpio529')));
  });
});

describe('doctor: UDP port', () => {
  const sockets: Socket[] = [];
  after(() => sockets.forEach((s) => s.close()));

  async function hold(type: 'udp4' | 'udp6', host: string): Promise<number> {
    const socket = createSocket({ type, ipv6Only: type === 'udp6' ? false : undefined });
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return socket.address().port;
  }

  function env(): DoctorEnvironment {
    const fake = fakeRoot();
    after(fake.remove);
    return testEnvironment(fake.root, { bindUdp: bindAndRelease });
  }

  it('a free port: ok, bound and released (the port is free again afterwards)', async () => {
    const port = await hold('udp4', '127.0.0.1');
    sockets.pop()!.close();
    const r = await runCheck(udpPortCheck, env(), target({ host: '127.0.0.1', port }));
    assert.equal(r.status, 'ok');
    await bindAndRelease('127.0.0.1', port);
  });

  it('a port in use: EADDRINUSE, the fix names the port and ss', async () => {
    const port = await hold('udp4', '127.0.0.1');
    const r = await runCheck(udpPortCheck, env(), target({ host: '127.0.0.1', port }));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_LISTEN_IN_USE');
    assert.equal(r.errno, 'EADDRINUSE');
    assert.equal(r.reason, 'in-use');
    assert.ok(r.fix!.includes(`ss -ulpn 'sport = :${port}'`));
  });

  it("through the gateway's own bindCoapSocket (the default binder): the same code and errno", async () => {
    const port = await hold('udp4', '127.0.0.1');
    const fake = fakeRoot();
    after(fake.remove);
    const gatewayBinder = testEnvironment(fake.root, {
      bindUdp: async (host, p) => {
        const socket = await bindCoapSocket(host, p);
        socket.close();
      },
    });
    const r = await runCheck(udpPortCheck, gatewayBinder, target({ host: '127.0.0.1', port }));
    assert.equal(r.code, 'GW_ERR_LISTEN_IN_USE');
    assert.equal(r.errno, 'EADDRINUSE');
    assert.equal(r.reason, 'in-use');
  });

  it('the default host :: is dual-stack, as the gateway binds it: an IPv4 socket on the port is in the way', async () => {
    const port = await hold('udp4', '0.0.0.0');
    const r = await runCheck(udpPortCheck, env(), target({ host: '::', port }));
    assert.equal(r.errno, 'EADDRINUSE');
  });

  it('EAFNOSUPPORT (IPv6 disabled, default host ::): the fix is an IPv4 host, not :: again', async () => {
    const fake = fakeRoot();
    after(fake.remove);
    const noIpv6 = testEnvironment(fake.root, {
      bindUdp: async () => {
        throw Object.assign(new Error('bind EAFNOSUPPORT ::'), { code: 'EAFNOSUPPORT' });
      },
    });
    const r = await runCheck(udpPortCheck, noIpv6, target({ host: '::', port: 5683 }));
    assert.equal(r.status, 'fail');
    assert.equal(r.errno, 'EAFNOSUPPORT');
    assert.equal(r.reason, 'no-address-family');
    assert.match(r.fix ?? '', /--host 0\.0\.0\.0/);
  });

  it('EACCES (a port below 1024 without privilege): the fix says so', async () => {
    const fake = fakeRoot();
    after(fake.remove);
    const refusing = testEnvironment(fake.root, {
      bindUdp: async () => {
        throw Object.assign(new Error('bind EACCES'), { code: 'EACCES' });
      },
    });
    const r = await runCheck(udpPortCheck, refusing, target({ port: 683 }));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_LISTEN_PERMISSION');
    assert.equal(r.errno, 'EACCES');
    assert.equal(r.reason, 'privileged-port');
  });

  it('an address that is not this machine\'s: EADDRNOTAVAIL', async () => {
    const r = await runCheck(udpPortCheck, env(), target({ host: '192.0.2.1', port: 0 }));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_LISTEN_ADDRESS_UNAVAILABLE');
    assert.equal(r.errno, 'EADDRNOTAVAIL');
    assert.equal(r.reason, 'not-local');
  });
});
