/**
 * One quantity of a reading (module ABI 1.1, docs/module-abi.md "several quantities"): what
 * `<path>/<quantity>` serves, and which `unit` parameters it can honour.
 *
 * Only temperatures convert: the `unit` parameter offers Cel, K and degF, and every temperature
 * module reports Celsius. A quantity in another unit (humidity in %RH) has nothing to convert
 * to, so `unit` on it is refused before the sensor is read, with a detail that names its unit.
 */
import { GatewayError } from '../errors.ts';
import type { Measurement, QuantityInfo, Reading } from '../host/sensor-module.ts';
import type { ReadingParams } from './request-params.ts';

/** The unit conversions start from (request-params.ts `convert`). */
export const CONVERTIBLE_UNIT = 'Cel';

/** Whether a sensor is served as several resources: its module declared more than one quantity. */
export function isMultiQuantity(quantities: readonly QuantityInfo[] | undefined): quantities is readonly QuantityInfo[] {
  return quantities !== undefined && quantities.length > 1;
}

/**
 * The measurement of `quantity` in a reading. The host checks that a 1.1 module's reads carry
 * every declared quantity (GW_ERR_MODULE_BAD_OUTPUT otherwise); a module hot-reloaded with other
 * quantities than at start-up is the one way to miss it, and gets the same code.
 */
export function measurementOf(reading: Reading, quantity: string): Measurement {
  const found = reading.measurements.find((m) => m.quantity === quantity);
  if (found === undefined) throw new GatewayError('GW_ERR_MODULE_BAD_OUTPUT', { detail: `the reading has no "${quantity}" (was the module reloaded with other quantities? restart the gateway)` });
  return found;
}

/**
 * Refuses a `unit` the quantity cannot be converted to (4.00): any unit other than its own,
 * unless it is a temperature in Celsius. `unit` undefined (the module failed at start-up and
 * its unit is not known yet): nothing to check here, the conversion refuses it when it runs.
 */
export function checkConvertible(quantity: string, unit: string | undefined, params: ReadingParams): void {
  if (params.unit === undefined || unit === undefined || params.unit === unit || unit === CONVERTIBLE_UNIT) return;
  throw new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail: `unit converts temperatures only: ${quantity} is in ${unit}; leave unit out` });
}
