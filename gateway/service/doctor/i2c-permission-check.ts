/**
 * Check 3: this process may open /dev/i2c-N read-write, as i2c-bus does on its first transfer.
 * Raspberry Pi OS gives the device to group i2c (crw-rw---- root:i2c), so the usual cause of
 * EACCES is a user outside that group, or one added to it after logging in.
 */
import { i2cErrorCodeForErrno } from '../../../drivers/linux-i2c-bus.ts';
import type { Check } from './check.ts';
import { devicePath } from './context.ts';
import { describeIdentity, describeOwnership, groupFix } from './groups.ts';

export const i2cPermissionCheck: Check = {
  id: 'i2c-permission',
  name: 'I2C permission',
  needs: ['i2c-enabled'],
  run(ctx) {
    if (ctx.target.driver === 'simulated') return { status: 'skip', reason: 'simulated', detail: 'driver simulated: no device file to open' };
    const dev = devicePath(ctx.target);
    const { files } = ctx.env;
    const identity = ctx.env.identity();
    const owner = describeOwnership(files, dev);
    const who = describeIdentity(files, identity);
    const data = { device: dev, ownership: owner?.text ?? null, user: identity.user, uid: identity.uid };
    try {
      files.openReadWrite(dev);
      return { status: 'ok', detail: `${dev} opens read-write (${owner?.text ?? 'ownership unknown'}; running as ${who})`, data };
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      const code = i2cErrorCodeForErrno(errno);
      if (errno === 'EACCES' || errno === 'EPERM') {
        const group = owner?.group;
        const { fix, reason } =
          group !== undefined && group !== 'root'
            ? groupFix(files, identity, group, owner!.gid)
            : {
                reason: 'device-group',
                fix: `${dev} belongs to group ${group ?? owner?.gid ?? '?'}: give it to group i2c with a udev rule (SUBSYSTEM=="i2c-dev", GROUP="i2c", MODE="0660", as Raspberry Pi OS has), then sudo usermod -aG i2c ${identity.user} and log in again`,
              };
        return { status: 'fail', code, errno, reason, detail: `cannot open ${dev} read-write [${errno}]: it is ${owner?.text ?? '?'}, and this process runs as ${who}`, fix, data };
      }
      return {
        status: 'fail',
        code,
        errno,
        reason: 'open-failed',
        detail: `cannot open ${dev} read-write [${errno ?? 'unknown error'}]: ${(err as Error).message}`,
        fix: errno === 'ENOENT' ? `${dev} disappeared: run the doctor again (is the adapter's module being reloaded?)` : 'see docs/errors.md for the code',
        data,
      };
    }
  },
};
