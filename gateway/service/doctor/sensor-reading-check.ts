/**
 * Check 6: one reading through the module, as `npm run read` makes it: a first read within the
 * chip's first conversion (35 ms, SBOS397) gets GW_ERR_SENSOR_NOT_READY with a retry time, so
 * the doctor waits that long and tries again, a few times.
 */
import { GatewayError } from '../../errors.ts';
import { readWhenReady } from '../read-when-ready.ts';
import { adviceFor } from './advice.ts';
import type { Check } from './check.ts';
import type { DoctorContext } from './context.ts';


export const sensorReadingCheck: Check = {
  id: 'sensor-reading',
  name: 'Sensor reading',
  needs: ['sensor-identity'],
  async run(ctx) {
    const module = ctx.module;
    if (!module) return { status: 'skip', reason: 'no-module', detail: 'the module did not start' };
    try {
      const r = await readWhenReady(() => ctx.module!.read(), ctx.env.clock);
      const register = `0x${r.raw.toString(16).padStart(4, '0')}`;
      const simulated = ctx.target.driver === 'simulated' ? ' from the simulated chip' : '';
      return {
        status: 'ok',
        detail: `${r.value} ${r.unit}${simulated} (${r.bits}-bit, register ${register})`,
        data: { value: r.value, unit: r.unit, raw: register, bits: r.bits, time: new Date(r.timeMs).toISOString(), simulated: ctx.target.driver === 'simulated' },
      };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      const errno = (err.cause as { errno?: string } | undefined)?.errno;
      return {
        status: 'fail',
        code: err.code,
        ...(errno ? { errno } : {}),
        reason: err.code === 'GW_ERR_SENSOR_NOT_READY' ? 'never-ready' : 'read-failed',
        detail: `the reading failed: ${err.message}`,
        fix: adviceFor(err.code, ctx.target.sensor),
      };
    }
  },
};
