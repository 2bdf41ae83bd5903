/**
 * A first read can come before the sensor's first conversion: the module answers
 * GW_ERR_SENSOR_NOT_READY with the time to wait (a TMP102 needs up to 35 ms after set-up,
 * datasheet SBOS397 section 6.5). One-shot tools (`npm run read`, `npm run doctor`) wait that
 * long and try again, a few times, instead of reporting "not ready" to a person.
 */
import type { Clock } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';

export const READ_ATTEMPTS = 4;

export async function readWhenReady<T>(read: () => Promise<T>, clock: Clock, attempts = READ_ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_SENSOR_NOT_READY' || attempt >= attempts) throw err;
      clock.sleep(BigInt(Math.ceil(err.details.retryAfterMs ?? 35)) * 1_000_000n);
    }
  }
}
