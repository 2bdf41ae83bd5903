/**
 * Dispatches node-coap requests to the resources and writes their replies. The resources
 * are built once from the configuration: one reading resource per sensor (sensors[].path,
 * observable), its thermostat settings at `<path>/alert` when the module has them, the
 * gateway's statistics at /gw/stats, and /.well-known/core listing them all.
 */
import type { IncomingMessage, OutgoingMessage } from 'coap';
import { GatewayError } from '../errors.ts';
import { monotonicMs } from '../../drivers/clock.ts';
import type { Logger } from '../log.ts';
import { LogThrottle } from '../log-throttle.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { AlertResource } from './alert-resource.ts';
import { ContentFormat, formatNumber, negotiate } from './content-formats.ts';
import { errorReply } from './error-response.ts';
import { READING_FORMATS } from './reading-formats.ts';
import { ReadingResource } from './reading-resource.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import type { ResponseCounter } from './response-counter.ts';
import { STATS_PATH, type StatsSources, StatsResource } from './stats-resource.ts';
import { type LinkTarget, filterLinks, linkFormat, parseFilters, readingLink } from './well-known-core.ts';

export const WELL_KNOWN_CORE = '/.well-known/core';

/** Discovery changes only with the configuration, which needs a restart. */
const DISCOVERY_MAX_AGE_S = 3600;

interface Resource {
  handle(req: RequestView): Reply | Promise<Reply>;
}

export interface RouterOptions {
  service: SensorService;
  logger: Logger;
  counter: ResponseCounter;
  stats: StatsSources;
}

export class Router {
  readonly #resources = new Map<string, Resource>();
  readonly #readings = new Map<string, ReadingResource>();
  readonly #links: LinkTarget[] = [];
  readonly #log: Logger;
  readonly #counter: ResponseCounter;

  /** 5.xx lines: one per path and code every 10 s, however many requests fail. */
  readonly #failures: LogThrottle;

  constructor(options: RouterOptions) {
    const { service, logger } = options;
    this.#failures = new LogThrottle(() => monotonicMs(options.stats.clock));
    this.#log = logger;
    this.#counter = options.counter;
    for (const entry of service.list()) {
      const { name, path } = entry.config;
      const reading = new ReadingResource(service, name);
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
    this.#resources.set(STATS_PATH, new StatsResource(options.stats));
    this.#links.push({ href: STATS_PATH, attributes: { rt: 'gw.stats', ct: '60 50' } });
  }

  get paths(): string[] {
    return [...this.#resources.keys()];
  }

  /** The observable reading resource at a path (for the Observe layer). */
  observable(path: string): ReadingResource | undefined {
    return this.#readings.get(path);
  }

  /** node-coap's 'request' listener. Never throws; every request gets exactly one response. */
  handle(req: IncomingMessage, res: OutgoingMessage): void {
    // An un-ACKed separate response emits 'error' on res; unhandled, it would end the process.
    res.on('error', (err: Error) => this.#log.debug('response not delivered', { peer: `${req.rsinfo.address}:${req.rsinfo.port}`, detail: err.message }));
    let view: RequestView;
    try {
      view = requestView(req);
    } catch (err) {
      this.#write(res, fromError(errorReply(err)));
      return;
    }
    this.#dispatch(view).then(
      (reply) => this.#write(res, reply),
      (err: unknown) => {
        this.#log.error('request handler failed', { path: view.path, detail: err instanceof Error ? err.message : String(err) });
        this.#write(res, fromError(errorReply(err)));
      },
    );
  }

  async #dispatch(req: RequestView): Promise<Reply> {
    if (req.path === WELL_KNOWN_CORE) return this.#discovery(req);
    const resource = this.#resources.get(req.path);
    if (!resource) return fromError(errorReply(new GatewayError('GW_ERR_REQUEST_NOT_FOUND')));
    const reply = await resource.handle(req);
    if (reply.code.startsWith('5.')) {
      const suppressed = this.#failures.take(`${req.path} ${reply.code}`);
      if (suppressed !== undefined) this.#log.warn('request failed', { path: req.path, code: reply.code, ...(suppressed > 0 ? { alsoFailedSinceLastLine: suppressed } : {}) });
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
      return { code: '2.05', contentFormat: ContentFormat.LINK_FORMAT, maxAge: DISCOVERY_MAX_AGE_S, payload: new TextEncoder().encode(linkFormat(links)) };
    } catch (err) {
      return fromError(errorReply(err));
    }
  }

  #write(res: OutgoingMessage, reply: Reply): void {
    this.#counter.count('requests', reply.code);
    res.code = reply.code;
    res.setOption('Content-Format', reply.contentFormat);
    if (reply.maxAge !== undefined) res.setOption('Max-Age', reply.maxAge);
    if (reply.size1 !== undefined) res.setOption('Size1', reply.size1);
    res.end(Buffer.from(reply.payload.buffer, reply.payload.byteOffset, reply.payload.byteLength));
  }
}

function requestView(req: IncomingMessage): RequestView {
  const q = req.url.indexOf('?');
  return {
    method: req.code,
    path: q < 0 ? req.url : req.url.slice(0, q),
    query: q < 0 ? '' : req.url.slice(q + 1),
    accept: formatNumber(req.headers['Accept']),
    contentFormat: formatNumber(req.headers['Content-Format']),
    body: req.payload ?? new Uint8Array(0),
  };
}
