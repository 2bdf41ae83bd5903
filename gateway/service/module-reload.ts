/**
 * Replacing a sensor's module while the gateway runs. The new module is loaded beside the old
 * one (checksum, ABI validation, gw_init with the sensor's current settings), and only when a
 * first reading through it succeeds does the sensor switch over; observers and the feed belong
 * to the sensor, not the module, so none is lost. Anything that fails rolls back: the new
 * module is closed and the old one keeps serving, with the reason logged.
 */
import type { Clock } from '../../drivers/clock.ts';
import { GatewayError, type ErrorCode } from '../errors.ts';
import type { ModuleHandle } from '../host/module-handle.ts';
import { type ModuleFactoryOptions, loadModule } from './module-factory.ts';
import type { SensorEntry } from './sensor-entry.ts';

export type ReloadResult = { ok: true; sha256: string } | { ok: false; code: ErrorCode; reason: string };

/** How long a new module may take to give its first reading (the TMP102 needs 35 ms). */
const FIRST_READ_BUDGET_MS = 5000;

const inProgress = new WeakMap<SensorEntry, Promise<ReloadResult>>();

/** `sha256`: a string replaces the configured checksum, null removes it, undefined keeps it. */
export function reloadModule(entry: SensorEntry, options: ModuleFactoryOptions & { sha256?: string | null }): Promise<ReloadResult> {
  // Two reload requests in a row (a file watcher and a signal) share one attempt.
  const running = inProgress.get(entry);
  if (running) return running;
  const attempt = doReload(entry, options).finally(() => inProgress.delete(entry));
  inProgress.set(entry, attempt);
  return attempt;
}

async function doReload(entry: SensorEntry, options: ModuleFactoryOptions & { sha256?: string | null }): Promise<ReloadResult> {
  const name = entry.config.name;
  const log = options.logger.child({ sensor: name });
  const config = { ...entry.config };
  if (options.sha256 === null) delete config.sha256;
  else if (options.sha256 !== undefined) config.sha256 = options.sha256.toLowerCase();
  let next: ModuleHandle | undefined;
  let release: (() => void) | undefined;
  try {
    // Checksum, compile and validate touch no hardware: the old module keeps serving meanwhile.
    const loaded = await loadModule(config, options);
    next = loaded.handle;
    // From here the new module drives the chip: reads wait, and the old module's reads already
    // sent finish first, so two modules never configure or read one device at the same time.
    entry.deviceHeld = new Promise<void>((resolve) => (release = resolve));
    await entry.module.drain();
    await next.start();
    await firstReading(next, options.clock);
    const old = entry.module;
    entry.module = next;
    entry.moduleSha256 = loaded.sha256;
    if (config.sha256 === undefined) delete entry.config.sha256;
    else entry.config.sha256 = config.sha256;
    entry.paced.invalidate();
    await old.close();
    log.info('module reloaded', { sha256: loaded.sha256, module: `${next.info?.name} ${next.info?.version}` });
    return { ok: true, sha256: loaded.sha256 };
  } catch (err) {
    await next?.close();
    const code: ErrorCode = err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL';
    const reason = err instanceof Error ? err.message : String(err);
    log.warn('module reload rolled back; the running module stays', { code, reason });
    // The failed module may have configured the chip its own way (shut it down, changed its
    // resolution): the running module sets it up again as it wants it.
    if (release) {
      try {
        await entry.module.reconfigure(entry.config.settings);
        entry.paced.invalidate();
      } catch (again) {
        log.error('the running module could not set the device up again after the rollback', { detail: again instanceof Error ? again.message : String(again) });
      }
    }
    return { ok: false, code, reason };
  } finally {
    entry.deviceHeld = undefined;
    release?.();
  }
}

/** Reads until the first success, waiting out "not ready" (a freshly configured chip). */
async function firstReading(module: ModuleHandle, clock: Clock): Promise<void> {
  let waited = 0;
  for (;;) {
    try {
      await module.read();
      return;
    } catch (err) {
      const retry = err instanceof GatewayError && err.code === 'GW_ERR_SENSOR_NOT_READY' ? (err.details.retryAfterMs ?? 35) : undefined;
      if (retry === undefined || waited + retry > FIRST_READ_BUDGET_MS) throw err;
      await new Promise<void>((resolve) => clock.schedule(retry, resolve));
      waited += retry;
    }
  }
}
