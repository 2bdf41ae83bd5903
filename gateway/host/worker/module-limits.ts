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

/**
 * The largest value each limit takes (docs/configuration.md, "sensors[].limits"). Past these a
 * value is a typo or a misunderstanding, not a need (`workerHeapMb: 1e6` was accepted), and
 * every time below stays under the longest delay a Node.js timer takes (2^31-1 ms; a larger one
 * fires after 1 ms).
 */
export const MODULE_LIMIT_MAXIMA = Object.freeze({
  /**
   * One minute. A client's confirmable request is retransmitted for MAX_TRANSMIT_SPAN, 45 s
   * (RFC 7252 section 4.8.2): an answer later than that reaches nobody, and a call holds the
   * sensor's device for as long as it runs.
   */
  deadlineMs: 60_000,
  /** Two minutes. A worker loads bundled JavaScript in well under a second on a Pi 3; longer is a hung start. */
  bootTimeoutMs: 120_000,
  /** One hour each. A restart delay longer than that is a quarantine: say so with quarantineMs. */
  backoffInitialMs: 3_600_000,
  backoffMaxMs: 3_600_000,
  /** Tests keep a failing module running with 100; beyond 1000 the quarantine never comes. */
  quarantineAfterFaults: 1000,
  /** One day. A longer quarantine is a disabled sensor: take it out of the configuration. */
  quarantineMs: 86_400_000,
  /**
   * 1 GiB, all the memory of a Raspberry Pi 3, for one sensor's module (the TMP102 module
   * needs a few MiB; the whole gateway's budget is 128 MB, README "Benchmarks").
   */
  memoryLimitBytes: 2 ** 30,
  /** 1024 MB, for the same reason: the worker's heap holds the host's glue, not the module's memory. */
  workerHeapMb: 1024,
  /**
   * The shortest I2C transaction (START, address, one data byte, STOP: about 20 bit times)
   * takes 20 µs on a 1 MHz Fast-mode Plus bus, so no bus does more than 50,000 a second: a
   * larger rate or burst never refuses anything. For no limit, say `false`.
   */
  i2cPerSecond: 50_000,
  i2cBurst: 50_000,
});

export function resolveModuleLimits(partial: Partial<ModuleLimits> = {}, field = 'limits'): ModuleLimits {
  const limits: ModuleLimits = { ...DEFAULT_MODULE_LIMITS };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (limits as unknown as Record<string, unknown>)[key] = value;
  }
  const bad = (key: string, why: string) => new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}.${key} ${why}` });
  const positive = (key: Exclude<keyof ModuleLimits, 'i2cRateLimit'>, integer = false) => {
    const v = limits[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw bad(key, `must be a positive ${integer ? 'integer' : 'number'}`);
    if (v > MODULE_LIMIT_MAXIMA[key]) throw bad(key, `must be at most ${MODULE_LIMIT_MAXIMA[key]}, got ${v}`);
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
  const rate = limits.i2cRateLimit;
  if (rate !== false) {
    if (typeof rate !== 'object' || rate === null) throw bad('i2cRateLimit', 'must be {perSecond, burst} or false');
    const extra = Object.keys(rate).filter((k) => k !== 'perSecond' && k !== 'burst');
    if (extra.length > 0) throw bad(`i2cRateLimit.${extra[0]}`, 'is not a field (perSecond, burst)');
    if (typeof rate.perSecond !== 'number' || !(rate.perSecond > 0) || !Number.isFinite(rate.perSecond)) throw bad('i2cRateLimit.perSecond', 'must be a positive number');
    if (!Number.isInteger(rate.burst) || rate.burst < 1) throw bad('i2cRateLimit.burst', 'must be a positive integer');
    if (rate.perSecond > MODULE_LIMIT_MAXIMA.i2cPerSecond) throw bad('i2cRateLimit.perSecond', `must be at most ${MODULE_LIMIT_MAXIMA.i2cPerSecond} (no bus is faster; false for no limit), got ${rate.perSecond}`);
    if (rate.burst > MODULE_LIMIT_MAXIMA.i2cBurst) throw bad('i2cRateLimit.burst', `must be at most ${MODULE_LIMIT_MAXIMA.i2cBurst} (no bus is faster; false for no limit), got ${rate.burst}`);
  }
  return limits;
}
