/**
 * The sensor service: the configured sensors, each read through its WASM module, paced by the
 * sensor's conversion rate, with a live feed for observers and the TMP102 ALERT pin wired to
 * it. The CoAP front and the command-line tools ask it for readings by sensor name; they never
 * see modules, buses or drivers.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import { type RateLimit, TokenBucket } from '../host/token-bucket.ts';
import type { Logger } from '../log.ts';
import type { AlertInfo as AlertSettings, ModuleInfo } from '../host/sensor-module.ts';
import { isSenmlUnit } from '../host/senml-units.ts';
import type { GatewayConfig } from './config.ts';
import { openAlertInputs } from './alert-inputs.ts';
import { type Hardware, openHardware } from './hardware.ts';
import { BusThread } from '../host/worker/bus-thread.ts';
import { workerBundlingFailure } from '../host/worker/spawn.ts';
import { type Isolation, type ModuleFactoryOptions, loadModule } from './module-factory.ts';
import { type ReloadResult, reloadModule } from './module-reload.ts';
import { watchModuleFiles } from './module-watcher.ts';
import { type FreshReading, PacedReader } from './paced-reader.ts';
import { SensorFeed, type UpdateListener } from './sensor-feed.ts';
import type { SensorReading } from './sensor-reading.ts';

export type { SensorReading } from './sensor-reading.ts';
export type { SensorEntry } from './sensor-entry.ts';
import type { SensorEntry } from './sensor-entry.ts';

/**
 * Bus transactions one alert write costs: setAlertSettings calls the module's gw_init again,
 * which on the TMP102 writes and reads back its configuration and limit registers. Measured on
 * the simulated TMP102 through this service: 7 for any change (one limit or all five settings);
 * test/alert-write-budget.test.ts measures it again so this number cannot drift.
 */
export const ALERT_WRITE_TRANSACTIONS = 7;

/** The most writes a sensor takes, for all clients together: 2 a second, 5 back to back. */
export const ALERT_WRITE_BUDGET: RateLimit = Object.freeze({ perSecond: 2, burst: 5 });

/**
 * A sensor's write budget. The module's i2cRateLimit (a token bucket of bus transactions, 200/s
 * with a burst of 50 by default) is shared by its reads and its writes: 28,810 PUTs in 10 s took
 * it all, and reads and observers got GW_ERR_I2C_RATE_LIMITED. Writes may take at most a quarter
 * of it, so reads keep three quarters whatever the number of writers:
 * - in the long run: perSecond * 7 <= i2c.perSecond / 4. Default: 2 * 7 = 14 transactions/s
 *   of 200 (7 %, a quarter would be 50 = 7.1 writes/s; 2 is plenty for a thermostat);
 * - over any one second: (burst + perSecond) * 7 <= (i2c.burst + i2c.perSecond) / 4, what the
 *   bus bucket can give in a second. Default: (5 + 2) * 7 = 49 of 250 (a quarter is 62.5).
 *   A full write burst takes 35 of the bucket's 50 at once: 15 stay for reads, and it refills
 *   at 200/s while paced reads take one per conversion (4/s at 4 Hz).
 * A smaller i2cRateLimit scales the budget down (at least 1 write back to back); without one
 * (`i2cRateLimit: false`) the default still bounds writes.
 */
export function alertWriteBudget(i2c: RateLimit | false): RateLimit {
  if (i2c === false) return { ...ALERT_WRITE_BUDGET };
  const perSecond = Math.min(ALERT_WRITE_BUDGET.perSecond, i2c.perSecond / 4 / ALERT_WRITE_TRANSACTIONS);
  const perWindow = (i2c.burst + i2c.perSecond) / 4 / ALERT_WRITE_TRANSACTIONS - perSecond;
  return { perSecond, burst: Math.max(1, Math.min(ALERT_WRITE_BUDGET.burst, Math.floor(perWindow))) };
}

export interface ServiceOptions {
  clock: Clock;
  logger: Logger;
  /** Sleep budget per module call (default 1000 ms). */
  sleepBudgetMs?: number;
  /** Where modules run (default `shared`: worker threads shared per bus, each module with its limits; module-factory.ts). */
  isolation?: Isolation;
  /**
   * Opens the buses (default `openHardware`). A seam for tests: a wrapper that reports no
   * simulated chips stands a sensor on a bus the service takes for real hardware.
   */
  openHardware?: typeof openHardware;
}

export interface SensorStats {
  /** A simulated chip answers for this sensor: its values are not measurements. */
  simulated: boolean;
  /** Reads that reached the module (and so the bus). */
  moduleReads: number;
  cacheHits: number;
  sharedReads: number;
  moduleCalls: number;
  moduleFaults: number;
  instancesCreated: number;
  memoryBytes: number;
  observers: number;
  alertEdges: number;
  /** Kept from running after failing again and again (docs/threading.md, "Limits"). */
  quarantined: boolean;
  /** Workers stopped from outside: deadline, memory ceiling, crash. */
  restarts: number;
  /** Where its module runs: its bus's shared worker, a worker of its own, the gateway's thread. */
  thread: 'shared' | 'own' | 'gateway';
}

export interface ServiceStats {
  /** Transactions every bus has carried (what the sensors actually saw). */
  i2cTransactions: number;
  moduleCalls: number;
  cacheHits: number;
  /** Successful hot reloads. */
  reloads: number;
  sensors: Record<string, SensorStats>;
}

export class SensorService {
  readonly hardware: Hardware;
  readonly #sensors: Map<string, SensorEntry>;
  readonly #log: Logger;
  readonly #alertEdges = new Map<string, number>();
  readonly #factory: ModuleFactoryOptions;
  /**
   * Lines that clients and devices can repeat at will (a flood of alert PUTs, an ALERT pin that a
   * module set to toggle on every conversion): one per sensor, kind and 10 s, with the count.
   */
  readonly #logThrottle: LogThrottle;
  /** Per sensor: its alert writes, all clients together (alertWriteBudget). */
  readonly #writeBudgets = new Map<string, TokenBucket>();
  #reloads = 0;

  private constructor(hardware: Hardware, sensors: Map<string, SensorEntry>, logger: Logger, factory: ModuleFactoryOptions) {
    this.hardware = hardware;
    this.#sensors = sensors;
    this.#log = logger;
    this.#factory = factory;
    this.#logThrottle = new LogThrottle(() => monotonicMs(factory.clock)).flushEvery();
    for (const entry of sensors.values()) {
      this.#wireAlert(entry);
      this.#writeBudgets.set(entry.config.name, new TokenBucket(alertWriteBudget(entry.config.limits.i2cRateLimit), factory.clock));
    }
  }

  /**
   * Opens the buses, loads and validates every module, and initialises each sensor. A module
   * that cannot load stops start-up (a configuration problem, isLoadError); a sensor that does
   * not answer yet, or whose module's gw_init output cannot be used, is logged and retried on
   * read while the other sensors serve.
   */
  static async start(config: GatewayConfig, options: ServiceOptions): Promise<SensorService> {
    const { clock, logger } = options;
    const isolation = options.isolation ?? 'shared';
    // With workers, a Linux adapter is served from its own bus thread: its blocking ioctls
    // (up to the adapter timeout) never run on the event loop that serves CoAP.
    const hardware = (options.openHardware ?? openHardware)(config, clock, isolation !== 'in-thread' ? { linuxBus: (n, forceAccess, record) => new BusThread(n, { forceAccess, ...(record ? { record } : {}) }) } : {});
    const sensors = new Map<string, SensorEntry>();
    const factory: ModuleFactoryOptions = { clock, logger, hardware, isolation, sleepBudgetMs: options.sleepBudgetMs };
    try {
      for (const bus of hardware.buses.values()) if (bus instanceof BusThread) await bus.ready;
      const alertInputs = await openAlertInputs(config, hardware, clock, logger);
      for (const sensor of config.sensors) {
        const { handle: module, sha256 } = await loadModule(sensor, factory);
        const simulated = hardware.simulated.has(sensor.name);
        const entry = { config: sensor, simulated, module, moduleSha256: sha256, alertInput: alertInputs.get(sensor.name) } as SensorEntry;
        // Through `entry`, not `module`: a hot reload swaps entry.module under the same feed.
        const periodMs = () => entry.module.info?.periodMs;
        entry.paced = new PacedReader<SensorReading>(async () => {
          while (entry.deviceHeld) await entry.deviceHeld;
          // Where the value came from travels with it, into every representation made of it.
          return { ...(await entry.module.read()), simulated };
        }, { clock, periodMs, enabled: sensor.pacing ?? true });
        entry.feed = new SensorFeed(sensor.name, entry.paced, { clock, periodMs, logger });
        sensors.set(sensor.name, entry);
        try {
          const info = await module.start();
          logger.info('sensor ready', { sensor: sensor.name, module: `${info.name} ${info.version}`, periodMs: info.periodMs, quantities: info.quantities.map((q) => `${q.name} (${q.unit})`).join(', ') });
          // Said once here, where the operator looks; every read says it again (throttled).
          const unknown = info.quantities.filter((q) => !isSenmlUnit(q.unit));
          if (unknown.length > 0) logger.error('sensor unit outside the SenML registry; every read fails with GW_ERR_MODULE_BAD_UNIT', { sensor: sensor.name, units: unknown.map((q) => `${q.name}: ${JSON.stringify(q.unit.slice(0, 32))}`).join(', ') });
        } catch (err) {
          if (!(err instanceof GatewayError) || isLoadError(err)) throw err;
          if (err.code === 'GW_ERR_MODULE_BAD_OUTPUT') {
            logger.error('sensor not answering at start-up: its module output is unusable; served as failing, retried on read', { sensor: sensor.name, code: err.code, detail: err.message });
          } else {
            logger.warn('sensor not answering at start-up; will retry on read', { sensor: sensor.name, code: err.code, detail: err.message });
          }
        }
      }
    } catch (err) {
      for (const entry of sensors.values()) {
        entry.alertInput?.close();
        await entry.module.close();
      }
      hardware.close();
      throw err;
    }
    const bundling = workerBundlingFailure();
    if (isolation !== 'in-thread' && bundling !== undefined) {
      logger.warn('worker code not bundled; workers load TypeScript through tsx (slower start, about 20 MB more each)', { detail: bundling });
    }
    return new SensorService(hardware, sensors, logger, factory);
  }

  list(): SensorEntry[] {
    return [...this.#sensors.values()];
  }

  get(name: string): SensorEntry | undefined {
    return this.#sensors.get(name);
  }

  info(name: string): ModuleInfo | undefined {
    return this.#sensors.get(name)?.module.info;
  }

  /**
   * The current reading (shared with concurrent requests, reused within one conversion period);
   * `simulated` says whether a simulated chip answered.
   */
  async read(name: string): Promise<SensorReading> {
    return (await this.readFresh(name)).reading;
  }

  /** The current reading and how long it stays the sensor's latest value. */
  async readFresh(name: string): Promise<FreshReading<SensorReading>> {
    return this.#entry(name).paced.read();
  }

  /** The sensor's reading if one is fresh now, without reading (PacedReader.peek); else undefined. */
  peekFresh(name: string): FreshReading<SensorReading> | undefined {
    return this.#sensors.get(name)?.paced.peek();
  }

  /** Follow a sensor: one update per conversion period while subscribed, and at once on ALERT. */
  subscribe(name: string, listener: UpdateListener): () => void {
    return this.#entry(name).feed.subscribe(listener);
  }

  /** The chip's thermostat settings as read back by the module; undefined if it has none. */
  alertSettings(name: string): AlertSettings | undefined {
    return this.#entry(name).module.info?.alert;
  }

  /**
   * Changes some thermostat settings; the rest stay as they are. Throws the module's refusal,
   * or GW_ERR_WRITE_RATE_LIMITED (4.29, RFC 8516) with retryAfterMs past the sensor's write
   * budget (alertWriteBudget): the bus time reads and observers need is never spent on writes,
   * however many clients send them. A write the module refuses is charged too: it costs a
   * module call, and the budget is taken before the module runs, so concurrent writes cannot
   * all pass one check.
   */
  async setAlertSettings(name: string, changes: Partial<AlertSettings>): Promise<AlertSettings> {
    const entry = this.#entry(name);
    const current = entry.module.info?.alert;
    if (!current) throw new GatewayError('GW_ERR_SENSOR_NOT_READY', { sensor: name, retryAfterMs: 1000, detail: 'the module has not initialised' });
    const budget = this.#writeBudgets.get(name)!;
    if (!budget.take()) {
      throw new GatewayError('GW_ERR_WRITE_RATE_LIMITED', { sensor: name, retryAfterMs: budget.retryAfterMs, detail: `the sensor's alert writes, all clients together, are over its write budget` });
    }
    const settings = { ...entry.config.settings, alert: { ...current, ...changes } };
    const info = await entry.module.reconfigure(settings);
    entry.config.settings = settings;
    logThrottled(this.#logThrottle, this.#log, 'info', `alert settings changed ${name}`, 'alert settings changed', { sensor: name, ...info.alert });
    return info.alert!;
  }

  /**
   * Hot reload: load the sensor's module file again beside the running one, switch over when
   * the new one's first read succeeds, and keep everything else (feed, observers, settings).
   * A module that fails to load, initialise or read is rolled back: the old one keeps running.
   * `sha256` replaces the configured checksum (a reload after a deliberate update); null
   * removes it.
   */
  async reload(name: string, options: { sha256?: string | null } = {}): Promise<ReloadResult> {
    const entry = this.#entry(name);
    const result = await reloadModule(entry, { ...this.#factory, sha256: options.sha256 });
    if (result.ok) this.#reloads++;
    return result;
  }

  /** Reload a sensor whenever its module file's content changes. Returns a function that stops watching. */
  watchModuleFiles(): () => void {
    return watchModuleFiles({ entries: () => this.list(), reload: (name) => this.reload(name), logger: this.#log });
  }

  stats(): ServiceStats {
    const sensors: Record<string, SensorStats> = {};
    let moduleCalls = 0;
    let cacheHits = 0;
    for (const [name, e] of this.#sensors) {
      const m = e.module.stats;
      const p = e.paced.stats;
      moduleCalls += m.calls;
      cacheHits += p.cacheHits;
      sensors[name] = {
        simulated: e.simulated,
        moduleReads: p.sourceReads,
        cacheHits: p.cacheHits,
        sharedReads: p.sharedReads,
        moduleCalls: m.calls,
        moduleFaults: m.faults,
        instancesCreated: m.instancesCreated,
        memoryBytes: m.memoryBytes,
        observers: e.feed.subscribers,
        alertEdges: this.#alertEdges.get(name) ?? 0,
        quarantined: m.quarantined,
        restarts: m.restarts,
        thread: m.thread,
      };
    }
    let i2cTransactions = 0;
    for (const bus of this.hardware.buses.values()) i2cTransactions += bus.transactionCount;
    return { i2cTransactions, moduleCalls, cacheHits, reloads: this.#reloads, sensors };
  }

  /** Stops feeds, ALERT inputs and module workers, then closes the buses. */
  async close(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const entry of this.#sensors.values()) {
      entry.feed.close();
      entry.alertInput?.close();
      closing.push(entry.module.close());
    }
    await Promise.allSettled(closing);
    this.#logThrottle.close();
    this.hardware.close();
    this.#log.debug('sensor service closed');
  }

  #entry(name: string): SensorEntry {
    const entry = this.#sensors.get(name);
    if (!entry) throw new Error(`no sensor named ${name}`);
    return entry;
  }

  /** Any edge of ALERT means a limit was crossed (either polarity, either mode): read now. */
  #wireAlert(entry: SensorEntry): void {
    const name = entry.config.name;
    entry.alertInput?.watch((level) => {
      this.#alertEdges.set(name, (this.#alertEdges.get(name) ?? 0) + 1);
      logThrottled(this.#logThrottle, this.#log, 'info', `ALERT edge ${name}`, 'ALERT edge', { sensor: name, level });
      entry.feed.trigger('alert');
    });
  }
}

/**
 * Errors at start-up that stop the gateway: the module itself is unusable as configured (not
 * found, checksum, invalid WebAssembly, wrong ABI version, refused imports or exports,
 * BAD_CONFIG and the other module statuses, a trap in `_initialize` or `gw_init`). The operator
 * must see those at once, and nothing a read could do would fix them.
 *
 * Not GW_ERR_MODULE_BAD_OUTPUT (issue 14): a gw_init output that is malformed, out of bounds
 * or over the output limit (a module's `gwabi.WriteOutput` refuses it and the call ends with
 * no output), or a status outside the ABI. That is one module's defect in what it says, not a
 * configuration the operator got wrong; stopping every other sensor for it turned one broken
 * module into a dead gateway. The sensor is served as failing with that code instead (its
 * reads answer it, sensor-module.ts `#unusableInit` says how often a fresh instance is tried),
 * logged at error level. Nor GW_ERR_MODULE_DEADLINE: a sleep past its budget is a slow sensor.
 * The "Statuses at gw_init" table of docs/module-abi.md lists every case.
 */
function isLoadError(err: GatewayError): boolean {
  return err.code.startsWith('GW_ERR_MODULE_') && err.code !== 'GW_ERR_MODULE_DEADLINE' && err.code !== 'GW_ERR_MODULE_BAD_OUTPUT';
}
