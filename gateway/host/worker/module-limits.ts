/**
 * What a module in a worker may cost the gateway, per module (docs/threading.md, "Limits").
 * Every field is optional in the configuration; `resolveModuleLimits` fills in the defaults
 * and refuses values that make no sense, naming the field (GW_ERR_CONFIG_INVALID).
 */
import { GatewayError } from '../../errors.ts';
import { DEFAULT_I2C_RATE_LIMIT, type RateLimit } from '../token-bucket.ts';

export interface ModuleLimits {
  /** Longest a call (start, read, reconfigure) may run before the worker is terminated. */
  deadlineMs: number;
  /** Longest a fresh worker may take to start (load its code), not counting module code. */
  bootTimeoutMs: number;
  /** First restart delay after a timeout or a worker failure; doubles while the module keeps failing. */
  backoffInitialMs: number;
  /** Longest restart delay. */
  backoffMaxMs: number;
  /** Consecutive faults (no successful call between them) that put the module in quarantine. */
  quarantineAfterFaults: number;
  /** How long a quarantined module is kept from running. */
  quarantineMs: number;
  /** Linear memory ceiling, set as the memory's maximum in the module binary. */
  memoryLimitBytes: number;
  /** V8 old-generation heap of the worker (resourceLimits.maxOldGenerationSizeMb). */
  workerHeapMb: number;
  /** Bus transactions per second and burst; false: no limit. */
  i2cRateLimit: RateLimit | false;
}

export const DEFAULT_MODULE_LIMITS: Readonly<ModuleLimits> = Object.freeze({
  deadlineMs: 2000,
  bootTimeoutMs: 10_000,
  backoffInitialMs: 1000,
  backoffMaxMs: 60_000,
  quarantineAfterFaults: 5,
  quarantineMs: 300_000,
  memoryLimitBytes: 64 * 2 ** 20,
  workerHeapMb: 64,
  i2cRateLimit: DEFAULT_I2C_RATE_LIMIT,
});

/** The longest delay a Node.js timer takes (a larger one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function resolveModuleLimits(partial: Partial<ModuleLimits> = {}, field = 'limits'): ModuleLimits {
  const limits: ModuleLimits = { ...DEFAULT_MODULE_LIMITS };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (limits as unknown as Record<string, unknown>)[key] = value;
  }
  const bad = (key: string, why: string) => new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}.${key} ${why}` });
  const positive = (key: keyof ModuleLimits, integer = false) => {
    const v = limits[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw bad(key, `must be a positive ${integer ? 'integer' : 'number'}`);
  };
  positive('deadlineMs');
  positive('bootTimeoutMs');
  positive('backoffInitialMs');
  positive('backoffMaxMs');
  positive('quarantineAfterFaults', true);
  positive('quarantineMs');
  positive('memoryLimitBytes', true);
  positive('workerHeapMb', true);
  if (limits.backoffMaxMs < limits.backoffInitialMs) throw bad('backoffMaxMs', 'must not be below backoffInitialMs');
  if (limits.memoryLimitBytes < 65536) throw bad('memoryLimitBytes', 'must be at least one 64 KiB page');
  // A wasm32 memory has at most 65536 pages (4 GiB); Node timers take at most 2^31-1 ms.
  if (limits.memoryLimitBytes > 2 ** 32) throw bad('memoryLimitBytes', 'must be at most 4 GiB (a 32-bit memory)');
  for (const key of ['deadlineMs', 'bootTimeoutMs', 'backoffInitialMs', 'backoffMaxMs', 'quarantineMs'] as const) {
    if (limits[key] > MAX_TIMER_MS) throw bad(key, `must be at most ${MAX_TIMER_MS} ms`);
  }
  const rate = limits.i2cRateLimit;
  if (rate !== false) {
    if (typeof rate !== 'object' || rate === null) throw bad('i2cRateLimit', 'must be {perSecond, burst} or false');
    const extra = Object.keys(rate).filter((k) => k !== 'perSecond' && k !== 'burst');
    if (extra.length > 0) throw bad(`i2cRateLimit.${extra[0]}`, 'is not a field (perSecond, burst)');
    if (typeof rate.perSecond !== 'number' || !(rate.perSecond > 0) || !Number.isFinite(rate.perSecond)) throw bad('i2cRateLimit.perSecond', 'must be a positive number');
    if (!Number.isInteger(rate.burst) || rate.burst < 1) throw bad('i2cRateLimit.burst', 'must be a positive integer');
  }
  return limits;
}
