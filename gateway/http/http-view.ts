/**
 * The HTTP view: the gateway's CoAP resources over HTTP/1.1 (node:http), mapped as RFC 8075
 * describes, plus three things of its own. docs/http.md is the user's side of this file.
 *
 *   HTTP request ─┬─ GET /         the live page (live-page.ts)
 *                 ├─ GET /events   Server-Sent Events (event-streams.ts), after the access policy
 *                 ├─ GET /metrics  Prometheus text (metrics.ts), after the access policy of /gw/stats
 *                 └─ anything else ─ RequestView (coap-mapping.ts) ─ GatewayServer.proxied
 *                                    (access policy, write limits, the CoAP resources) ─ Reply
 *                                    ─ HTTP status, Content-Type, Cache-Control (coap-mapping.ts)
 *
 * The view sits in front of the CoAP front: it imports gateway/coap/ and gateway/service/, never
 * the reverse. Requests over HTTP are refused or allowed by the same rules as over CoAP, with
 * the HTTP peer's address (no OSCORE identity: with the default rules, writes over HTTP are
 * for this machine only). A write must also name this machine by address or "localhost" in
 * Host and come from no other Origin: a web page elsewhere cannot make the browser of someone
 * on this machine change the thermostat (cross-site requests, DNS rebinding).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Clock } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { GatewayServer } from '../coap/server.ts';
import { errorReply } from '../coap/error-response.ts';
import { type Reply, fromError } from '../coap/reply.ts';
import { MAX_BODY_BYTES } from '../coap/request-params.ts';
import type { HttpConfig } from '../service/http-config.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { type HttpResponse, coapMethodOf, httpResponseOf, isSafe, viewOf } from './coap-mapping.ts';
import { DEFAULT_MAX_EVENT_CLIENTS, EventStreams } from './event-streams.ts';
import { LIVE_PAGE_CSP, LIVE_PAGE_HTML } from './live-page.ts';
import { listen } from './listen.ts';
import { acceptCandidates, contentFormatOfType } from './media-types.ts';
import { METRICS_CONTENT_TYPE, type ReadingSample, renderMetrics } from './metrics.ts';

export interface HttpViewOptions {
  config: HttpConfig;
  server: GatewayServer;
  service: SensorService;
  logger: Logger;
  clock: Clock;
  /** Open event streams at most (default 32); past it /events answers 503. */
  maxEventClients?: number;
}

/** Headers on every response: no MIME sniffing of a CBOR body, no framing, no referrer leaks. */
const COMMON_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };

/** The browser reconnects after this when the event streams are full. */
const EVENTS_RETRY_AFTER_S = 10;
/** Headers and idle keep-alive: a client that sends nothing cannot hold a connection for long. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const STATS_PATH = '/gw/stats';

export class HttpView {
  readonly #http: Server;
  readonly #gateway: GatewayServer;
  readonly #service: SensorService;
  readonly #log: Logger;
  readonly #streams: EventStreams;
  /** Host names answered besides IP literals (lower case): OWN_NAMES and http.allowedHosts. */
  readonly #hosts: Set<string>;
  readonly #responses = new Map<number, number>();
  readonly port: number;
  #closed = false;

  private constructor(http: Server, options: HttpViewOptions, log: Logger, streams: EventStreams) {
    this.#http = http;
    this.#gateway = options.server;
    this.#service = options.service;
    this.#log = log;
    this.#streams = streams;
    this.#hosts = new Set([...OWN_NAMES, ...(options.config.allowedHosts ?? [])]);
    const address = http.address();
    this.port = typeof address === 'object' && address !== null ? address.port : options.config.port;
  }

  static async start(options: HttpViewOptions): Promise<HttpView> {
    const log = options.logger.child({ component: 'http' });
    const streams = new EventStreams({ service: options.service, logger: log, maxClients: options.maxEventClients ?? DEFAULT_MAX_EVENT_CLIENTS });
    let view: HttpView | undefined;
    const http = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
      if (view === undefined) {
        res.writeHead(503).end();
        return;
      }
      view.#handle(req, res).catch((err: unknown) => {
        log.error('HTTP request failed', { path: req.url, detail: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) view!.#send(req, res, httpResponseOf(fromError(errorReply(err))));
        else res.destroy();
      });
    });
    await listen(http, options.config.host, options.config.port);
    view = new HttpView(http, options, log, streams);
    log.info('HTTP view listening', { host: options.config.host, port: view.port });
    return view;
  }

  /** Stops listening, ends the event streams and every open connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#streams.close();
    const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#http.closeAllConnections();
    await closed;
    this.#log.debug('HTTP view closed');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    if (!rawPath.startsWith('/')) return this.#send(req, res, plain(400, 'request target must be a path'));
    const who = { address: req.socket.remoteAddress ?? '' };
    // Every request, reads too: a page on a DNS name rebound to this address would otherwise
    // read through a browser on the LAN what the policy grants that browser (RFC 9110 section 7.2).
    const misdirected = this.#hostProblem(req);
    if (misdirected !== undefined) {
      this.#log.warn('HTTP request refused', { peer: who.address, path: rawPath, detail: misdirected });
      return this.#send(req, res, plain(421, misdirected));
    }

    if (rawPath === '/' || rawPath === '/events' || rawPath === '/metrics' || rawPath === '/favicon.ico') {
      if (!isSafe(method)) return this.#send(req, res, { status: 405, headers: { allow: 'GET, HEAD' }, body: new Uint8Array() });
      if (rawPath === '/') return this.#send(req, res, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': LIVE_PAGE_CSP, 'cache-control': 'no-cache' }, body: Buffer.from(LIVE_PAGE_HTML) });
      // No icon: an empty answer keeps the browser from logging a 404 on every load.
      if (rawPath === '/favicon.ico') return this.#send(req, res, { status: 204, headers: { 'cache-control': 'max-age=86400' }, body: new Uint8Array() });
      if (rawPath === '/metrics') return this.#metrics(req, res, who);
      return this.#events(req, res, who);
    }

    const coapMethod = coapMethodOf(method);
    if (coapMethod === undefined) return this.#send(req, res, plain(501, `${method} has no CoAP method (RFC 8075 section 5.3)`));
    const contentFormat = contentFormatOfType(req.headers['content-type']);
    if (contentFormat === 'unknown') return this.#send(req, res, httpResponseOf(refusal('GW_ERR_REQUEST_UNSUPPORTED_FORMAT', 'Content-Type has no CoAP Content-Format here (offered: application/cbor, application/json)')));
    const candidates = acceptCandidates(req.headers['accept']);
    if (candidates.length === 0) return this.#send(req, res, httpResponseOf(refusal('GW_ERR_REQUEST_NOT_ACCEPTABLE', 'no media type in Accept has a CoAP Content-Format here')));
    if (!isSafe(method)) {
      const why = crossSite(req);
      if (why !== undefined) {
        this.#log.warn('HTTP write refused', { peer: who.address, method, path: rawPath, detail: why });
        return this.#send(req, res, httpResponseOf(fromError(errorReply(new GatewayError('GW_ERR_ACCESS_FORBIDDEN', { detail: why })))));
      }
    }
    const body = await readBody(req);
    if (body === undefined) return this.#send(req, res, httpResponseOf(refusal('GW_ERR_REQUEST_TOO_LARGE', `at most ${MAX_BODY_BYTES} bytes`)));

    let reply: Reply | undefined;
    // A safe request answered 4.06 is asked again with the client's next acceptable format.
    for (const accept of isSafe(method) ? candidates : candidates.slice(0, 1)) {
      const view = viewOf(coapMethod, rawPath, rawQuery, accept, contentFormat, body);
      if (view === undefined) return this.#send(req, res, httpResponseOf(refusal('GW_ERR_REQUEST_BAD_PARAMETER', 'malformed %-escape in the path or query')));
      reply = await this.#gateway.proxied(view, who);
      if (reply.code !== '4.06') break;
    }
    this.#send(req, res, httpResponseOf(reply!));
  }

  /**
   * /gw/stats as Prometheus text, to whom the access policy shows /gw/stats, with the readings
   * of only the sensors the policy lets that requester GET: a rule that opens /gw/* to a
   * Prometheus server must not open every reading to it too.
   */
  async #metrics(req: IncomingMessage, res: ServerResponse, who: { address: string }): Promise<void> {
    const refused = this.#gateway.refuses('0.01', STATS_PATH, who);
    if (refused !== undefined) return this.#send(req, res, httpResponseOf(fromError(errorReply(refused))));
    const readings: ReadingSample[] = [];
    const failures: Array<{ sensor: string; code: string }> = [];
    await Promise.all(
      this.#service.list().filter((e) => this.#gateway.refuses('0.01', e.config.path, who) === undefined).map(async (e) => {
        const name = e.config.name;
        try {
          // A reading still fresh costs nothing; otherwise one paced read, shared with CoAP requests.
          const { reading } = this.#service.peekFresh(name) ?? (await this.#service.readFresh(name));
          const measurements = reading.measurements.length > 0 ? reading.measurements : [{ quantity: this.#service.info(name)?.quantity ?? 'temperature', unit: reading.unit, value: reading.value }];
          readings.push({ sensor: name, simulated: reading.simulated, timeMs: reading.timeMs, measurements });
        } catch (err) {
          failures.push({ sensor: name, code: err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL' });
        }
      }),
    );
    const byName = (a: { sensor: string }, b: { sensor: string }): number => (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : 0);
    readings.sort(byName);
    failures.sort(byName);
    const text = renderMetrics({ stats: this.#gateway.stats(), readings, failures, http: { responses: this.#responses, eventClients: this.#streams.clients } });
    this.#send(req, res, { status: 200, headers: { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' }, body: Buffer.from(text) });
  }

  /** The event stream, to whom the access policy lets read every sensor; at most maxEventClients at once. */
  async #events(req: IncomingMessage, res: ServerResponse, who: { address: string }): Promise<void> {
    if (req.method === 'HEAD') return this.#send(req, res, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' }, body: new Uint8Array() });
    // The policy alone (no read, no await): the stream opens in the same turn as the request,
    // so a client gone meanwhile cannot leave a stream behind.
    for (const e of this.#service.list()) {
      const refused = this.#gateway.refuses('0.01', e.config.path, who);
      if (refused !== undefined) return this.#send(req, res, httpResponseOf(fromError(errorReply(refused))));
    }
    if (this.#streams.full || this.#closed) {
      return this.#send(req, res, { ...plain(503, 'too many live pages open; try again later'), headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(EVENTS_RETRY_AFTER_S), 'cache-control': 'no-store' } });
    }
    this.#count(200);
    this.#streams.open(req, res, { ...COMMON_HEADERS });
  }

  /** Why the Host header does not name this view (undefined when it does): an IP literal, or a name it knows. */
  #hostProblem(req: IncomingMessage): string | undefined {
    const host = req.headers.host;
    if (host === undefined) return 'no Host header';
    const name = hostNameOf(host);
    if (isIP(name) !== 0 || this.#hosts.has(name)) return undefined;
    return `Host ${JSON.stringify(host)} is not a name of this gateway (add it to http.allowedHosts)`;
  }

  #send(req: IncomingMessage, res: ServerResponse, r: HttpResponse): void {
    this.#count(r.status);
    const noBody = req.method === 'HEAD' || r.status === 204 || r.status === 304;
    res.writeHead(r.status, { ...COMMON_HEADERS, ...r.headers, ...(noBody && r.status !== 204 ? { 'content-length': String(r.body.length) } : {}) });
    res.end(noBody ? undefined : r.body);
  }

  #count(status: number): void {
    // Statuses are a few dozen at most; the map cannot grow past that.
    this.#responses.set(status, (this.#responses.get(status) ?? 0) + 1);
  }
}

function plain(status: number, text: string): HttpResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: Buffer.from(`${text}\n`) };
}

function refusal(code: 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT' | 'GW_ERR_REQUEST_NOT_ACCEPTABLE' | 'GW_ERR_REQUEST_TOO_LARGE' | 'GW_ERR_REQUEST_BAD_PARAMETER', detail: string): Reply {
  return fromError(errorReply(new GatewayError(code, { detail })));
}

/** The body, or undefined past MAX_BODY_BYTES (the CoAP front's limit; 413 with it). */
async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Why a write is refused before the access policy sees it, or undefined:
 * - Host must be an IP literal or "localhost": a page on a name that resolves to this machine
 *   (DNS rebinding) sends its own name;
 * - an Origin, when sent, must be this very host: a browser sends it on every cross-site write.
 */
/** This machine's own names, which a browser on the LAN uses to reach the view. */
const OWN_NAMES = new Set(['localhost', hostname().toLowerCase(), `${hostname().toLowerCase()}.local`]);

/** The name or address of a Host header, without the port or an IPv6 literal's brackets, lower case. */
function hostNameOf(host: string): string {
  return (host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')).toLowerCase();
}

/** Writes only, after #hostProblem: a write needs the address or localhost, and no other site's Origin. */
function crossSite(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (host === undefined) return 'no Host header';
  const name = hostNameOf(host);
  if (name !== 'localhost' && isIP(name) === 0) return `Host ${JSON.stringify(host)} is a name: writes over HTTP need the address or localhost`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return `Origin ${JSON.stringify(origin)} is not this host`;
  return undefined;
}
