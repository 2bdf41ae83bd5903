/**
 * Dispatches requests to the resources. The resources
 * are built once from the configuration: one reading resource per sensor (sensors[].path,
 * observable; a sensor whose module measures several quantities serves them all there as a pack,
 * and each alone at `<path>/<quantity>`, pack-resource.ts), its thermostat settings at `<path>/alert` when the module has them, the
 * gateway's statistics at /gw/stats, live control of the simulation at /gw/sim when the gateway
 * runs on simulated sensors (sim-control-resource.ts), and /.well-known/core listing them all.
 */
import { GatewayError } from '../errors.ts';
import { monotonicMs } from '../../drivers/clock.ts';
import type { QuantityInfo } from '../host/sensor-module.ts';
import type { Logger } from '../log.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { SensorService } from '../service/sensor-service.ts';
import type { SimulationControl } from '../service/simulation-control.ts';
import { AlertResource } from './alert-resource.ts';
import { isSenmlUnit } from '../host/senml-units.ts';
import { ContentFormat, negotiate } from './content-formats.ts';
import { errorReply } from './error-response.ts';
import { READING_FORMATS } from './reading-formats.ts';
import { isMultiQuantity } from './measurement-view.ts';
import type { ObservableResource } from './observable-resource.ts';
import { PackResource } from './pack-resource.ts';
import { ReadingResource } from './reading-resource.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import type { Requester } from './access-policy.ts';
import { SIM_PATH, SimControlResource } from './sim-control-resource.ts';
import { STATS_PATH, type StatsSources, StatsResource } from './stats-resource.ts';
import type { CborMap } from './cbor-preferred.ts';
import { type LinkTarget, filterLinks, linkFormat, packLink, parseFilters, quantityLink, readingLink } from './well-known-core.ts';

export const WELL_KNOWN_CORE = '/.well-known/core';

/**
 * Discovery changes with the configuration, which needs a restart, and when a sensor whose
 * module had not started settles (its quantities become resources): a minute while one is
 * waiting, so that a device that looked at boot learns of them soon.
 */
const DISCOVERY_MAX_AGE_S = 3600;
const DISCOVERY_UNSETTLED_MAX_AGE_S = 60;

interface Resource {
  /** `who`: the requester the server admitted (only /gw/sim names it, in its log and changes). */
  handle(req: RequestView, who?: Requester): Reply | Promise<Reply>;
}

export interface RouterOptions {
  service: SensorService;
  logger: Logger;
  stats: StatsSources;
  /** Live control of the simulated sensors, served at /gw/sim when present. */
  simulation?: SimulationControl;
  /** How many times faster the sensors' clock runs than the network's: Max-Age is divided by it (default 1). */
  timeScale?: number;
}

/** Paths the gateway serves itself: a quantity of a sensor never takes one. */
const GATEWAY_PATHS: readonly string[] = [WELL_KNOWN_CORE, STATS_PATH, SIM_PATH];

export class Router {
  readonly #resources = new Map<string, Resource>();
  readonly #readings = new Map<string, ObservableResource>();
  readonly #links: LinkTarget[] = [];
  readonly #log: Logger;
  readonly #stats: StatsResource;
  #allLinks: Uint8Array | undefined;
  /**
   * Sensors whose module had not started when the router was built (a chip absent at boot): their
   * quantities are unknown, so they are served as one reading until the module starts, and then
   * as what the module announces (a pack and a resource per quantity, for several).
   */
  readonly #unsettled = new Map<string, { name: string; path: string; simulated: boolean }>();
  readonly #service: SensorService;
  readonly #sensorPaths: ReadonlySet<string>;
  readonly #timeScale: { timeScale?: number };

  /** 5.xx lines: one per path and code every 10 s, however many requests fail. */
  readonly #failures: LogThrottle;

  constructor(options: RouterOptions) {
    const { service, logger } = options;
    // flushEvery: a count held back is written when its 10 s are over, even if no failure follows.
    this.#failures = new LogThrottle(() => monotonicMs(options.stats.clock)).flushEvery();
    this.#log = logger;
    const timeScale = options.timeScale === undefined ? {} : { timeScale: options.timeScale };
    const sensorPaths = new Set(service.list().map((e) => e.config.path));
    this.#service = service;
    this.#sensorPaths = sensorPaths;
    this.#timeScale = timeScale;
    for (const entry of service.list()) {
      const { name, path } = entry.config;
      const quantities = service.info(name)?.quantities;
      if (quantities === undefined) this.#unsettled.set(name, { name, path, simulated: entry.simulated });
      if (isMultiQuantity(quantities)) {
        this.#addQuantities(service, entry.config, quantities, entry.simulated, sensorPaths, timeScale);
        continue;
      }
      const reading = new ReadingResource(service, name, timeScale);
      this.#resources.set(path, reading);
      this.#readings.set(path, reading);
      const quantity = service.info(name)?.quantity ?? 'temperature';
      this.#links.push(readingLink(path, quantity, READING_FORMATS, entry.simulated));
    }
    for (const entry of service.list()) {
      const { name, path } = entry.config;
      const alertPath = `${path === '/' ? '' : path}/alert`;
      if (service.alertSettings(name) === undefined) continue;
      if (this.#resources.has(alertPath)) {
        logger.warn('alert resource not served: the path is a sensor', { sensor: name, path: alertPath });
        continue;
      }
      this.#resources.set(alertPath, new AlertResource(service, name));
      this.#links.push({ href: alertPath, attributes: { rt: 'gw.alert', if: 'core.p', ct: '60 50' } });
    }
    this.#stats = new StatsResource(options.simulation ? { ...options.stats, simulation: options.simulation } : options.stats);
    this.#resources.set(STATS_PATH, this.#stats);
    this.#links.push({ href: STATS_PATH, attributes: { rt: 'gw.stats', ct: '60 50' } });
    // Only on a simulation: on real hardware there is nothing to control, and no resource to find.
    if (options.simulation) {
      this.#resources.set(SIM_PATH, new SimControlResource(options.simulation));
      this.#links.push({ href: SIM_PATH, attributes: { rt: 'gw.sim', ct: '60 50' } });
    }
  }

  /**
   * A multi-quantity sensor: the pack at its path, then each quantity at `<path>/<quantity>`. A
   * quantity path that is another sensor's, or the gateway's own, is not served: said once at
   * start-up, as for an alert resource, and the pack still carries the quantity.
   */
  #addQuantities(service: SensorService, sensor: { name: string; path: string }, quantities: readonly QuantityInfo[], simulated: boolean, sensorPaths: ReadonlySet<string>, timeScale: { timeScale?: number }): void {
    const { name, path } = sensor;
    const pack = new PackResource(service, name, { path, quantities, ...timeScale });
    this.#resources.set(path, pack);
    this.#readings.set(path, pack);
    this.#links.push(packLink(path, quantities.map((q) => q.name), READING_FORMATS, simulated));
    for (const q of quantities) {
      const quantityPath = `${path === '/' ? '' : path}/${q.name}`;
      if (sensorPaths.has(quantityPath) || GATEWAY_PATHS.includes(quantityPath) || this.#resources.has(quantityPath)) {
        this.#log.warn('quantity resource not served: the path is taken', { sensor: name, quantity: q.name, path: quantityPath });
        continue;
      }
      const reading = new ReadingResource(service, name, { ...timeScale, quantity: q.name });
      this.#resources.set(quantityPath, reading);
      this.#readings.set(quantityPath, reading);
      this.#links.push(quantityLink(quantityPath, q.name, q.unit, isSenmlUnit(q.unit), READING_FORMATS, simulated));
    }
  }

  /** What /gw/stats shows, as a value (the HTTP view's /metrics reads it). */
  statsSnapshot(): CborMap {
    return this.#stats.snapshot();
  }

  get paths(): string[] {
    return [...this.#resources.keys()];
  }

  /** The observable reading resource at a path (for the Observe layer). */
  observable(path: string): ObservableResource | undefined {
    return this.#readings.get(path);
  }

  /** The unsettled sensor a path belongs to (its reading, or a quantity under it), if any. */
  #unsettledAt(path: string): { name: string; path: string; simulated: boolean } | undefined {
    for (const u of this.#unsettled.values()) if (path === u.path || path.startsWith(`${u.path === '/' ? '' : u.path}/`)) return u;
    return undefined;
  }

  /** Serves each unsettled sensor whose module has started since as what it announced. */
  #settle(): void {
    if (this.#unsettled.size === 0) return;
    for (const u of [...this.#unsettled.values()]) {
      const info = this.#service.info(u.name);
      if (info === undefined) continue;
      this.#unsettled.delete(u.name);
      const at = this.#links.findIndex((l) => l.href === u.path);
      if (isMultiQuantity(info.quantities)) {
        this.#resources.delete(u.path);
        this.#readings.delete(u.path);
        if (at >= 0) this.#links.splice(at, 1);
        this.#addQuantities(this.#service, u, info.quantities, u.simulated, this.#sensorPaths, this.#timeScale);
      } else if (at >= 0) {
        this.#links[at] = readingLink(u.path, info.quantity, READING_FORMATS, u.simulated);
      }
      this.#allLinks = undefined;
      this.#log.info('sensor resources settled: its module has started', { sensor: u.name, quantities: info.quantities.map((q) => q.name).join(' ') });
    }
  }

  /**
   * The reply to a request: at once when the resource can answer without waiting (a reading
   * with a fresh value, discovery, stats), a promise otherwise. Never throws or rejects: a
   * failure is a 5.00 with its catalogue code. `who` is the requester the access policy admitted.
   */
  dispatch(req: RequestView, who?: Requester): Reply | Promise<Reply> {
    const settling = this.settling(req.path);
    if (settling === undefined) return this.#dispatchSettled(req, who);
    return settling.then((failure) => {
      // Still not started: a quantity's path answers the sensor's failure (5.03, its retry time),
      // not 4.04, which a client or proxy would keep for a minute for a resource about to exist.
      const waiting = this.#unsettledAt(req.path);
      if (waiting !== undefined && req.path !== waiting.path && failure !== undefined) return this.#checked(req, fromError(errorReply(failure, this.#timeScale.timeScale)));
      return this.#dispatchSettled(req, who);
    });
  }

  /**
   * A path of a sensor whose module has not started yet (an Observe registration, a request):
   * a promise that starts it (a read does) and serves the sensor as what it announces, settled
   * with the read's failure if it still cannot start; undefined when there is nothing to wait for.
   */
  settling(path: string): Promise<unknown> | undefined {
    if (this.#unsettled.size === 0) return undefined;
    this.#settle();
    const waiting = this.#unsettledAt(path);
    if (waiting === undefined) return undefined;
    return this.#service.read(waiting.name).then(
      () => {
        this.#settle();
        return undefined;
      },
      (err: unknown) => {
        this.#settle();
        return err;
      },
    );
  }

  #dispatchSettled(req: RequestView, who?: Requester): Reply | Promise<Reply> {
    if (req.path === WELL_KNOWN_CORE) return this.#discovery(req);
    const resource = this.#resources.get(req.path);
    if (!resource) return fromError(errorReply(new GatewayError('GW_ERR_REQUEST_NOT_FOUND')));
    let reply: Reply | Promise<Reply>;
    try {
      reply = resource.handle(req, who);
    } catch (err) {
      return this.#failed(req, err);
    }
    if (reply instanceof Promise) return reply.then((r) => this.#checked(req, r), (err: unknown) => this.#failed(req, err));
    return this.#checked(req, reply);
  }

  /** Writes the failure counts still held back and stops their timer. */
  close(): void {
    this.#failures.close();
  }

  #failed(req: RequestView, err: unknown): Reply {
    // A bug a client can trigger on every request: one line per path every 10 s, with a count.
    logThrottled(this.#failures, this.#log, 'error', `handler ${req.path}`, 'request handler failed', { path: req.path, detail: err instanceof Error ? err.message : String(err) });
    return this.#checked(req, fromError(errorReply(err)));
  }

  #checked(req: RequestView, reply: Reply): Reply {
    if (reply.code.startsWith('5.')) {
      logThrottled(this.#failures, this.#log, 'warn', 'request failed', { path: req.path, code: reply.code }, { key: `${req.path} ${reply.code}`, countField: 'alsoFailedSinceLastLine' });
    }
    return reply;
  }

  #discovery(req: RequestView): Reply {
    try {
      if (req.method !== Method.GET) throw new GatewayError('GW_ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: 'allowed: GET' });
      if (negotiate(req.accept, [ContentFormat.LINK_FORMAT], ContentFormat.LINK_FORMAT) === undefined) {
        throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE', { detail: 'offered: 40' });
      }
      const links = filterLinks(this.#links, parseFilters(req.query));
      return { code: '2.05', contentFormat: ContentFormat.LINK_FORMAT, maxAge: this.#unsettled.size > 0 ? DISCOVERY_UNSETTLED_MAX_AGE_S : DISCOVERY_MAX_AGE_S, payload: this.#linkBytes(links) };
    } catch (err) {
      return fromError(errorReply(err));
    }
  }

  /** The unfiltered listing is the same bytes for every request (and so the same ETag in every block). */
  #linkBytes(links: LinkTarget[]): Uint8Array {
    if (links.length === this.#links.length) return (this.#allLinks ??= new TextEncoder().encode(linkFormat(this.#links)));
    return new TextEncoder().encode(linkFormat(links));
  }
}
