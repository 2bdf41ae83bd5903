/**
 * Check 4: scan the sensor's bus as `i2cdetect -y N` does (drivers/i2c-scan.ts), through the
 * gateway's own driver, and list what answers. The scan fails only when the bus cannot be used
 * (no adapter, no permission, stuck, no usable probe); an empty bus is a warning, and whether
 * the sensor's own address answered is the next check's business.
 */
import { I2CError } from '../../../drivers/i2c-error.ts';
import { hexAddress, scanI2CBus } from '../../../drivers/i2c-scan.ts';
import { adviceFor } from './advice.ts';
import type { Check } from './check.ts';
import { sensorBus } from './context.ts';

export const i2cScanCheck: Check = {
  id: 'i2c-scan',
  name: 'I2C bus scan',
  needs: ['i2c-permission'],
  run(ctx) {
    const { sensor } = ctx.target;
    let bus;
    try {
      bus = sensorBus(ctx);
    } catch (err) {
      if (!(err instanceof I2CError)) throw err;
      return { status: 'fail', code: err.code, errno: err.errno, reason: 'open-failed', detail: err.message, fix: adviceFor(err.code, sensor) };
    }
    const scan = scanI2CBus(bus);
    ctx.scan = scan;
    const found = scan.found.map(hexAddress);
    const busy = scan.busy.map(hexAddress);
    const data = {
      found,
      busy,
      errors: scan.errors.map((e) => ({ address: hexAddress(e.address), code: e.code, errno: e.errno ?? null })),
      unsupported: scan.unsupported,
    };
    const where = bus.kind === 'simulated' ? `simulated bus ${scan.busNumber}` : `/dev/i2c-${scan.busNumber}`;
    const listed = [found.length > 0 ? `found ${found.join(' ')}` : 'no device answered', ...(busy.length > 0 ? [`UU (kernel driver) ${busy.join(' ')}`] : [])].join('; ');
    const fallback = scan.unsupported.length > 0 ? `; the adapter has no SMBus ${scan.unsupported.join('/')}, the other probe was used` : '';

    if (scan.aborted) {
      const a = scan.aborted;
      return {
        status: 'fail',
        code: a.code,
        errno: a.errno,
        reason: a.code === 'GW_ERR_I2C_TIMEOUT' ? 'bus-stuck' : 'aborted',
        detail: `scan of ${where} stopped at ${hexAddress(a.address)}${a.errno ? ` [${a.errno}]` : ''}: ${a.message}${scan.probed > 1 ? ` (before it: ${listed})` : ''}`,
        fix: adviceFor(a.code, sensor),
        data: { ...data, stoppedAt: hexAddress(a.address) },
      };
    }
    if (scan.errors.length > 0) {
      const first = scan.errors[0]!;
      const errs = scan.errors.map((e) => `${hexAddress(e.address)} ${e.code}${e.errno ? ` [${e.errno}]` : ''}`).join(', ');
      return {
        status: 'warn',
        code: first.code,
        errno: first.errno,
        reason: 'probe-errors',
        detail: `${where}: ${listed}; probes failed at ${errs}${fallback}`,
        fix: adviceFor(first.code, sensor),
        data,
      };
    }
    if (found.length === 0 && busy.length === 0) {
      return {
        status: 'warn',
        reason: 'empty-bus',
        detail: `${where}: no device answered at 0x03..0x77${fallback}`,
        fix: adviceFor('GW_ERR_I2C_NACK', sensor),
        data,
      };
    }
    return { status: 'ok', detail: `${where}: ${listed}${fallback}`, data };
  },
};
