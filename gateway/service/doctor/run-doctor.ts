/**
 * `npm run doctor`'s engine: runs the checks in order, each against the injected environment,
 * skipping a check whose prerequisite failed (naming it), and never stopping early otherwise:
 * an operator gets every independent failure from one run. A check that throws unexpectedly
 * fails with the error rather than ending the run.
 */
import { alertGpioCheck } from './alert-gpio-check.ts';
import type { Check, CheckId, CheckResult } from './check.ts';
import type { DoctorContext, DoctorTarget } from './context.ts';
import { type DoctorEnvironment, defaultEnvironment } from './environment.ts';
import { i2cEnabledCheck } from './i2c-enabled-check.ts';
import { i2cPermissionCheck } from './i2c-permission-check.ts';
import { i2cScanCheck } from './i2c-scan-check.ts';
import { nodeVersionCheck } from './node-version-check.ts';
import { oscoreCheck } from './oscore-check.ts';
import { sensorIdentityCheck } from './sensor-identity-check.ts';
import { sensorReadingCheck } from './sensor-reading-check.ts';
import { udpPortCheck } from './udp-port-check.ts';

/** In the order they run: each may build on what an earlier one found. */
export const CHECKS: readonly Check[] = [
  nodeVersionCheck,
  i2cEnabledCheck,
  i2cPermissionCheck,
  i2cScanCheck,
  sensorIdentityCheck,
  sensorReadingCheck,
  alertGpioCheck,
  udpPortCheck,
  oscoreCheck,
];

export interface DoctorReport {
  /** No check failed (warnings and skips allowed). */
  ok: boolean;
  target: { sensor: string; bus: number; address: string; driver: DoctorTarget['driver']; module: string; host: string; port: number };
  checks: CheckResult[];
}

export async function runDoctor(target: DoctorTarget, env: DoctorEnvironment = defaultEnvironment(), checks: readonly Check[] = CHECKS): Promise<DoctorReport> {
  const ctx: DoctorContext = { target, env, bus: undefined, scan: undefined, module: undefined };
  const results: CheckResult[] = [];
  // For each check that failed or was skipped because of a failure: the failed check behind it.
  const blockedBy = new Map<CheckId, CheckId>();
  try {
    for (const check of checks) {
      const blocker = check.needs.map((id) => blockedBy.get(id)).find((id) => id !== undefined);
      if (blocker !== undefined) {
        const failed = results.find((r) => r.id === blocker)!;
        blockedBy.set(check.id, blocker);
        results.push({ id: check.id, name: check.name, status: 'skip', reason: 'blocked', detail: `needs "${failed.name}", which failed`, data: { blockedBy: blocker } });
        continue;
      }
      let result: CheckResult;
      try {
        result = { id: check.id, name: check.name, ...(await check.run(ctx)) };
      } catch (err) {
        result = { id: check.id, name: check.name, status: 'fail', reason: 'unexpected', detail: `the check itself failed: ${err instanceof Error ? err.message : String(err)}`, fix: 'a doctor bug: report it with this output' };
      }
      if (result.status === 'fail') blockedBy.set(check.id, check.id);
      results.push(result);
    }
  } finally {
    await ctx.module?.close();
    try {
      ctx.bus?.close();
    } catch {
      // closing a bus that never opened its device
    }
  }
  const s = target.sensor;
  return {
    ok: results.every((r) => r.status !== 'fail'),
    target: { sensor: s.name, bus: s.bus, address: `0x${s.address.toString(16).padStart(2, '0')}`, driver: target.driver, module: s.module, host: target.host, port: target.port },
    checks: results,
  };
}
