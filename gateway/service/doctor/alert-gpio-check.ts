/**
 * Check 7: the GPIO the sensor's ALERT pin is wired to (`sensors[].alertGpio`), when one is
 * configured. The gateway watches it through sysfs (drivers/linux-gpio.ts: onoff), so this
 * checks what that needs: /sys/class/gpio, the pinctrl chip that gives the header GPIO its sysfs
 * number (a dynamic base since kernel 6.6), and that this user may export the line and read it
 * (Raspberry Pi OS gives /sys/class/gpio to group gpio). A line this check exports, it unexports
 * again; one already exported (a running gateway) is only read.
 */
import path from 'node:path';
import { GpioResolveError, resolveSysfsGpio } from '../../../drivers/linux-gpio.ts';
import type { Check, CheckOutcome } from './check.ts';
import type { DoctorContext } from './context.ts';
import { describeIdentity, describeOwnership, groupFix } from './groups.ts';

const SYSFS_GPIO = '/sys/class/gpio';
/** udev sets the group of a freshly exported line's files a moment after the export. */
const EXPORT_WAIT_MS = 1000;
const EXPORT_POLL_MS = 50;

export const alertGpioCheck: Check = {
  id: 'alert-gpio',
  name: 'ALERT GPIO',
  needs: [],
  async run(ctx) {
    const { sensor, driver } = ctx.target;
    if (sensor.alertGpio === undefined) return { status: 'skip', reason: 'not-configured', detail: 'no alertGpio configured for this sensor' };
    if (driver === 'simulated') return { status: 'skip', reason: 'simulated', detail: `driver simulated: ALERT is the simulated chip's line, not GPIO${sensor.alertGpio}` };
    return checkLine(ctx, sensor.alertGpio);
  },
};

async function checkLine(ctx: DoctorContext, headerGpio: number): Promise<CheckOutcome> {
  const { files } = ctx.env;
  const name = `GPIO${headerGpio}`;
  if (!files.exists(SYSFS_GPIO)) {
    const pi = ctx.env.board().isRaspberryPi;
    return {
      status: 'fail',
      reason: 'no-sysfs-gpio',
      detail: `no ${SYSFS_GPIO}: this kernel offers no sysfs GPIO, which the gateway uses to watch ${name}`,
      fix: pi
        ? 'use a Raspberry Pi OS kernel (it has CONFIG_GPIO_SYSFS), or remove sensors[].alertGpio: observers are then notified at the conversion rate only'
        : 'this machine has no Raspberry Pi GPIO: remove sensors[].alertGpio, or use --driver simulated',
    };
  }
  let sysfs: number;
  let chip: { label: string; base: number };
  try {
    ({ sysfs, chip } = resolveSysfsGpio(headerGpio, path.join(ctx.env.root, SYSFS_GPIO)));
  } catch (err) {
    if (!(err instanceof GpioResolveError)) throw err;
    return { status: 'fail', reason: 'no-pinctrl', detail: `${name}: ${err.message}`, fix: 'alertGpio needs the Raspberry Pi header GPIO (pinctrl-bcm2835/2711/2712/rp1); check sensors[].alertGpio' };
  }
  const line = `${name} = sysfs ${sysfs} (${chip.label} base ${chip.base})`;
  const data = { gpio: headerGpio, sysfs, chip: chip.label, base: chip.base };
  const lineDir = `${SYSFS_GPIO}/gpio${sysfs}`;

  if (files.exists(lineDir)) {
    // Exported already: by a running gateway, most likely. Reading does not disturb it.
    try {
      return { status: 'ok', detail: `${line}: already exported, reads ${readLevel(ctx, lineDir)}`, data: { ...data, exported: 'already' } };
    } catch (err) {
      return accessFailure(ctx, err, `${lineDir}/value`, line, data);
    }
  }
  try {
    files.writeText(`${SYSFS_GPIO}/export`, String(sysfs));
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'EBUSY') {
      return { status: 'fail', errno, reason: 'busy', detail: `${line}: export refused [EBUSY]: a kernel driver or another program holds the line`, fix: `gpioinfo shows who holds ${name}; free it (a dtoverlay, a gpiod user) or choose another alertGpio`, data };
    }
    return accessFailure(ctx, err, `${SYSFS_GPIO}/export`, line, data);
  }
  try {
    let last: unknown;
    for (let waited = 0; waited <= EXPORT_WAIT_MS; waited += EXPORT_POLL_MS) {
      try {
        return { status: 'ok', detail: `${line}: exported and read (${readLevel(ctx, lineDir)}), then unexported`, data: { ...data, exported: 'by-doctor' } };
      } catch (err) {
        last = err;
        await ctx.env.pause(EXPORT_POLL_MS);
      }
    }
    return accessFailure(ctx, last, `${lineDir}/value`, line, data);
  } finally {
    try {
      files.writeText(`${SYSFS_GPIO}/unexport`, String(sysfs));
    } catch {
      // Left exported: harmless, and the gateway exports it anyway.
    }
  }
}

function readLevel(ctx: DoctorContext, lineDir: string): string {
  const value = ctx.env.files.readText(`${lineDir}/value`).trim();
  return `level ${value}`;
}

function accessFailure(ctx: DoctorContext, err: unknown, file: string, line: string, data: Record<string, unknown>): CheckOutcome {
  const { files } = ctx.env;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const identity = ctx.env.identity();
  const owner = describeOwnership(files, file);
  if (errno === 'EACCES' || errno === 'EPERM') {
    const group = owner?.group && owner.group !== 'root' ? owner.group : 'gpio';
    const { fix, reason } = groupFix(files, identity, group);
    return { status: 'fail', errno, reason, detail: `${line}: cannot use ${file} [${errno}]: it is ${owner?.text ?? '?'}, and this process runs as ${describeIdentity(files, identity)}`, fix, data };
  }
  return {
    status: 'fail',
    ...(errno ? { errno } : {}),
    reason: 'unreadable',
    detail: `${line}: ${file} ${errno === 'ENOENT' ? 'did not appear after the export' : `cannot be read [${errno ?? String(err)}]`}`,
    fix: 'check that the line is not used by another driver (gpioinfo), then run the doctor again',
    data,
  };
}
