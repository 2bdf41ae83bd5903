/**
 * What one doctor check is and what it reports. The checks run in a fixed order
 * (run-doctor.ts); a check whose prerequisite failed is not run but reported as skipped, naming
 * the check that failed, so the first failure is the one to fix.
 */
import type { ErrorCode } from '../../errors.ts';
import type { DoctorContext } from './context.ts';

export const CHECK_IDS = [
  'node-version',
  'i2c-enabled',
  'i2c-permission',
  'i2c-scan',
  'sensor-identity',
  'sensor-reading',
  'alert-gpio',
  'udp-port',
  'oscore',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

/** ok: passed. warn: works, but look at the detail. skip: not applicable or blocked. fail: fix it. */
export type CheckStatus = 'ok' | 'warn' | 'skip' | 'fail';

/** What a check's `run` returns; the runner adds the id and name. */
export interface CheckOutcome {
  status: CheckStatus;
  /** One line for a person: what was found. */
  detail: string;
  /** What to do about a failure (or a warning): a command where there is one. */
  fix?: string;
  /** The catalogue code of the error behind a failure (docs/errors.md). */
  code?: ErrorCode;
  /** The kernel's errno name, when one was behind it (EACCES, EREMOTEIO, EADDRINUSE...). */
  errno?: string;
  /**
   * A stable word for which case of the check this is (e.g. `reboot-needed`,
   * `not-a-raspberry-pi`): for scripts and tests, which must not parse the text.
   */
  reason?: string;
  /** Facts found, for --json (addresses, versions, the reading). */
  data?: Record<string, unknown>;
}

export interface CheckResult extends CheckOutcome {
  id: CheckId;
  name: string;
}

export interface Check {
  id: CheckId;
  name: string;
  /** Checks that must not have failed (or been blocked) for this one to run. */
  needs: CheckId[];
  run(ctx: DoctorContext): CheckOutcome | Promise<CheckOutcome>;
}
