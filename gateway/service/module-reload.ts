/**
 * Replacing a sensor's module while the gateway runs. The new module is loaded beside the old
 * one (checksum, ABI validation, gw_init with the sensor's current settings), and only when a
 * first reading through it succeeds does the sensor switch over; observers and the feed belong
 * to the sensor, not the module, so none is lost. Anything that fails rolls back: the new
 * module is closed and the old one keeps serving, with the reason logged.
 *
 * A reload is bounded in time as a whole (reloadTimeoutMs): a read of the file that never
 * returns (a hung NFS mount) or a new module that never settles would otherwise hold the
 * sensor's reload for good, since every later request joins the attempt in progress. Past the
 * limit the attempt is abandoned and rolled back (GW_ERR_SENSOR_TIMEOUT), the device is free
 * again, later reloads run, and the abandoned module is closed whenever its step settles.
 */
import type { Clock } from '../../drivers/clock.ts';
import { GatewayError, type ErrorCode } from '../errors.ts';
import type { ModuleHandle } from '../host/module-handle.ts';
import type { ModuleLimits } from '../host/worker/module-limits.ts';
import type { Logger } from '../log.ts';
import type { SensorConfig } from './config.ts';
import { type LoadedModule, type ModuleFactoryOptions, loadModule } from './module-factory.ts';
import type { SensorEntry } from './sensor-entry.ts';

export type ReloadResult = { ok: true; sha256: string } | { ok: false; code: ErrorCode; reason: string };

export interface ReloadOptions extends ModuleFactoryOptions {
  /** A string replaces the configured checksum, null removes it, undefined keeps it. */
  sha256?: string | null | undefined;
  /** The limit on the whole reload; default reloadTimeoutMs(the sensor's limits). */
  timeoutMs?: number | undefined;
  /** Reads, checks and compiles the module (default loadModule); a seam for tests. */
  load?: ((sensor: SensorConfig, options: ModuleFactoryOptions) => Promise<LoadedModule>) | undefined;
}

/** How long a new module may take to give its first reading (the TMP102 needs 35 ms). */
const FIRST_READ_BUDGET_MS = 5000;

/**
 * The least time a whole reload gets. With the default limits (2 s a call, 10 s a worker
 * start) a reload that waits for each step as long as they allow takes 21 s: the running
 * module's call in flight, a worker start, gw_init, then first reads for up to 5 s. Under the
 * arm64 tier's emulation a start takes about 2 s; on a Pi, well under one. A sensor whose
 * limits allow more gets what they allow (reloadTimeoutMs).
 */
export const RELOAD_TIMEOUT_MS = 30_000;

/** The limit on a sensor's reload: RELOAD_TIMEOUT_MS, or what its own limits let the steps take. */
export function reloadTimeoutMs(limits: Pick<ModuleLimits, 'deadlineMs' | 'bootTimeoutMs'>): number {
  // Drain the running module's call, boot, gw_init, the last first read, the waits between reads.
  return Math.max(RELOAD_TIMEOUT_MS, 3 * limits.deadlineMs + limits.bootTimeoutMs + FIRST_READ_BUDGET_MS);
}

const inProgress = new WeakMap<SensorEntry, Promise<ReloadResult>>();

export function reloadModule(entry: SensorEntry, options: ReloadOptions): Promise<ReloadResult> {
  // Two reload requests in a row (a file watcher and a signal) share one attempt.
  const running = inProgress.get(entry);
  if (running) return running;
  const attempt = doReload(entry, options).finally(() => inProgress.delete(entry));
  inProgress.set(entry, attempt);
  return attempt;
}

/** One reload attempt: what it has made so far, and whether it was given up. */
interface Attempt {
  stage: string;
  next: ModuleHandle | undefined;
  abandoned: boolean;
  /** The sensor has switched to the new module: too late to abandon. */
  committed: boolean;
  /** Set while the new module has the device to itself; releases it. */
  release: (() => void) | undefined;
}

/**
 * Loading (read, checksum, interrupt points, compile) is done for one reload at a time, though
 * SIGHUP starts every sensor's reload at once: 64 modules read and rewritten side by side peaked
 * at 641 MB RSS, one at a time at 173 MB. The rest of a reload (drain, start, first reading)
 * still runs side by side. A load that hangs (a file on a dead NFS mount) holds the others for
 * LOAD_TURN_MS at most (or its reload's time limit, if shorter); that limit deals with it.
 */
const LOAD_TURN_MS = 5000;
let loadQueue: Promise<unknown> = Promise.resolve();

function oneLoadAtATime<T>(load: () => Promise<T>, turnMs: number): Promise<T> {
  let endTurn!: () => void;
  const turnOver = new Promise<void>((resolve) => (endTurn = resolve));
  const result = loadQueue.then(() => {
    // The turn counts from the load's start, not from the wait for it.
    const turn = setTimeout(endTurn, turnMs);
    turn.unref();
    const running = load();
    const done = () => {
      clearTimeout(turn);
      endTurn();
    };
    running.then(done, done);
    return running;
  });
  loadQueue = turnOver;
  return result;
}

/** Thrown inside an abandoned attempt to stop it at its next step; never seen outside. */
const ABANDONED = new Error('reload abandoned');

async function doReload(entry: SensorEntry, options: ReloadOptions): Promise<ReloadResult> {
  const log = options.logger.child({ sensor: entry.config.name });
  const config = { ...entry.config };
  if (options.sha256 === null) delete config.sha256;
  else if (options.sha256 !== undefined) config.sha256 = options.sha256.toLowerCase();
  const attempt: Attempt = { stage: 'loading the module file', next: undefined, abandoned: false, committed: false, release: undefined };
  const timeoutMs = options.timeoutMs ?? reloadTimeoutMs(config.limits);

  const work = switchOver(entry, config, options, attempt);
  let timer: NodeJS.Timeout | undefined;
  // Wall-clock time, like a call's deadline: a hung read moves no ManualClock. Not unref'd: a
  // reload in progress is work whose outcome is reported, and the timer is cleared with it.
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), timeoutMs);
  });
  const settled = work.then((done) => ({ done }), (err: unknown) => ({ err }));
  let outcome = await Promise.race([settled, expired]);
  clearTimeout(timer);
  // Switched over in the same turn as the timer fired: the reload happened.
  if (outcome === 'expired' && attempt.committed) outcome = await settled;

  if (outcome !== 'expired' && 'done' in outcome) {
    const { sha256, old } = outcome.done;
    await old.close();
    const next = entry.module;
    log.info('module reloaded', { sha256, module: `${next.info?.name} ${next.info?.version}` });
    return { ok: true, sha256 };
  }
  if (outcome === 'expired') {
    attempt.abandoned = true;
    // Whatever the attempt makes from now on is closed as soon as its step settles.
    work.catch(() => attempt.next?.close()).catch(() => {});
    const reason = `the reload did not finish within ${timeoutMs} ms (stuck ${attempt.stage})`;
    return rollBack(entry, attempt, log, 'GW_ERR_SENSOR_TIMEOUT', reason);
  }
  const err = outcome.err;
  const code: ErrorCode = err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL';
  return rollBack(entry, attempt, log, code, err instanceof Error ? err.message : String(err));
}

/** Loads, starts and first reads the new module, then switches the sensor to it. */
async function switchOver(entry: SensorEntry, config: SensorConfig, options: ReloadOptions, attempt: Attempt): Promise<{ sha256: string; old: ModuleHandle }> {
  const step = (stage: string) => {
    if (attempt.abandoned) throw ABANDONED;
    attempt.stage = stage;
  };
  // Checksum, compile and validate touch no hardware: the old module keeps serving meanwhile.
  const loaded = await oneLoadAtATime(() => (options.load ?? loadModule)(config, options), Math.min(LOAD_TURN_MS, options.timeoutMs ?? reloadTimeoutMs(config.limits)));
  attempt.next = loaded.handle;
  const next = loaded.handle;
  step("waiting for the running module's call in flight");
  // From here the new module drives the chip: reads wait, and the old module's reads already
  // sent finish first, so two modules never configure or read one device at the same time.
  const held = new Promise<void>((resolve) => (attempt.release = () => {
    if (entry.deviceHeld === held) entry.deviceHeld = undefined;
    resolve();
  }));
  entry.deviceHeld = held;
  await entry.module.drain();
  step('starting the new module');
  await next.start();
  step('waiting for the first reading of the new module');
  await firstReading(next, options.clock, step);
  step('switching over');
  // Synchronous from the last check on: an attempt is either abandoned or switched, never both.
  attempt.committed = true;
  const old = entry.module;
  entry.module = next;
  entry.moduleSha256 = loaded.sha256;
  if (config.sha256 === undefined) delete entry.config.sha256;
  else entry.config.sha256 = config.sha256;
  entry.paced.invalidate();
  attempt.release?.();
  return { sha256: loaded.sha256, old };
}

async function rollBack(entry: SensorEntry, attempt: Attempt, log: Logger, code: ErrorCode, reason: string): Promise<ReloadResult> {
  try {
    await attempt.next?.close();
    log.warn('module reload rolled back; the running module stays', { code, reason });
    // The failed module may have configured the chip its own way (shut it down, changed its
    // resolution): the running module sets it up again as it wants it.
    if (attempt.release) {
      try {
        await entry.module.reconfigure(entry.config.settings);
        entry.paced.invalidate();
      } catch (again) {
        log.error('the running module could not set the device up again after the rollback', { detail: again instanceof Error ? again.message : String(again) });
      }
    }
  } finally {
    attempt.release?.();
  }
  return { ok: false, code, reason };
}

/** Reads until the first success, waiting out "not ready" (a freshly configured chip). */
async function firstReading(module: ModuleHandle, clock: Clock, step: (stage: string) => void): Promise<void> {
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
      step('waiting for the first reading of the new module');
    }
  }
}
