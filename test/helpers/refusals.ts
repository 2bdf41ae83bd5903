/**
 * What a refusal must look like, for the tests of the configuration and of the simulated chips:
 * its catalogue code, returned with the detail or the error so that a test can check which field
 * or which transfer was refused.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { I2CError } from '../../drivers/i2c-error.ts';
import { GatewayError } from '../../gateway/errors.ts';
import { parseConfig } from '../../gateway/service/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The detail of the GW_ERR_CONFIG_INVALID that `json` is refused with (relative paths from the project root). */
export function configRefusal(json: unknown): string {
  try {
    parseConfig(json, ROOT);
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
    return err.details.detail ?? '';
  }
  throw new Error('accepted');
}

/** The I2CError with `code` that `fn` throws (a simulated chip refusing a transfer). */
export function expectI2CError(fn: () => unknown, code: string): I2CError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof I2CError, `expected an I2CError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}
