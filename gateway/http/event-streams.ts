/**
 * GET /events: Server-Sent Events (HTML Living Standard, "Server-sent events") for the live page.
 *
 *   sensor feed ─(one update per conversion period)─▶ EventStreams ─┬─ history (1 h, 1 point/s, per sensor)
 *                                                                   └─ every open stream: `event: reading`
 *
 * The sensors are subscribed only while at least one stream is open: like an unobserved CoAP
 * resource, a live page nobody watches costs no bus traffic. A new stream first gets `hello`:
 * the sensors and the history kept so far, so a page shows the last hour at once.
 *
 * Bounds: at most `maxClients` streams (past it the caller answers 503 with Retry-After); a
 * stream whose socket does not drain (more than MAX_BUFFERED_BYTES queued) is closed; the
 * history keeps at most one point per second per sensor for one hour.
 *
 * Several quantities (ABI 1.1): `hello` lists each sensor's quantities, a history point is
 * [time, value of each quantity in that order], and a `reading` of a multi-quantity sensor adds
 * "values": { "<quantity>": { "value", "unit" } }, the shape of the CoAP front's JSON map.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { SensorService } from '../service/sensor-service.ts';
import type { SensorUpdate } from '../service/sensor-feed.ts';

export const DEFAULT_MAX_EVENT_CLIENTS = 32;
export const HISTORY_MS = 3_600_000;
/** One point a second: 3600 an hour per sensor, whatever the conversion rate. */
const HISTORY_STEP_MS = 1000;
const MAX_BUFFERED_BYTES = 256 * 1024;
/** A comment line now and then, so that proxies and browsers do not time the stream out. */
const KEEPALIVE_MS = 15_000;
/** What the browser waits before reconnecting after the stream ends. */
const RETRY_MS = 2000;

export interface SensorSummary {
  name: string;
  path: string;
  /** The primary quantity and its unit, as before ABI 1.1. */
  quantity: string;
  unit: string;
  /** Every quantity, the primary first (one for a single-quantity sensor). */
  quantities: Array<{ name: string; unit: string }>;
  simulated: boolean;
}

/** A point of the charts: [time ms since the epoch, value of each quantity, the primary first]. */
type Point = [number, ...number[]];

export class EventStreams {
  readonly #service: SensorService;
  readonly #log: Logger;
  readonly #maxClients: number;
  readonly #clients = new Set<ServerResponse>();
  readonly #history = new Map<string, Point[]>();
  #unsubscribe: Array<() => void> = [];
  #keepalive: NodeJS.Timeout | undefined;

  constructor(options: { service: SensorService; logger: Logger; maxClients?: number }) {
    this.#service = options.service;
    this.#log = options.logger;
    this.#maxClients = options.maxClients ?? DEFAULT_MAX_EVENT_CLIENTS;
  }

  get clients(): number {
    return this.#clients.size;
  }

  get full(): boolean {
    return this.#clients.size >= this.#maxClients;
  }

  sensors(): SensorSummary[] {
    return this.#service.list().map((e) => {
      const info = this.#service.info(e.config.name);
      const quantity = info?.quantity ?? 'temperature';
      const unit = info?.unit ?? '';
      const quantities = info?.quantities.map((q) => ({ name: q.name, unit: q.unit })) ?? [{ name: quantity, unit }];
      return { name: e.config.name, path: e.config.path, quantity, unit, quantities, simulated: e.simulated };
    });
  }

  /** Takes the response over as an event stream; the caller checked `full` first. */
  open(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    // A client already gone would never emit 'close' again: no stream for it.
    if (req.destroyed || res.destroyed || req.socket.destroyed) return;
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    const history: Record<string, Point[]> = {};
    for (const [name, points] of this.#history) history[name] = points;
    res.write(`retry: ${RETRY_MS}\n`);
    res.write(frame('hello', { sensors: this.sensors(), history }));
    this.#clients.add(res);
    const gone = (): void => this.#drop(res);
    req.once('close', gone);
    res.once('close', gone);
    if (this.#clients.size === 1) this.#start();
  }

  /** Ends every stream (the page's EventSource would reconnect to a server that is gone) and stops following the sensors. */
  close(): void {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#stop();
  }

  #drop(res: ServerResponse): void {
    if (!this.#clients.delete(res)) return;
    if (this.#clients.size === 0) this.#stop();
  }

  #start(): void {
    for (const e of this.#service.list()) {
      this.#unsubscribe.push(this.#service.subscribe(e.config.name, (u) => this.#publish(u)));
    }
    this.#keepalive = setInterval(() => this.#broadcast(': keepalive\n\n'), KEEPALIVE_MS).unref();
  }

  #stop(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    this.#keepalive = undefined;
  }

  #publish(u: SensorUpdate): void {
    if (!u.ok) {
      this.#broadcast(frame('fault', { sensor: u.sensor, code: u.error.code, retryAfterMs: u.error.details.retryAfterMs ?? null }));
      return;
    }
    const r = u.reading.reading;
    const ms = r.measurements;
    this.#remember(u.sensor, ms.length > 1 ? [r.timeMs, ...ms.map((m) => m.value)] : [r.timeMs, r.value]);
    const values = ms.length > 1 ? { values: Object.fromEntries(ms.map((m) => [m.quantity, { value: m.value, unit: m.unit }])) } : {};
    this.#broadcast(frame('reading', { sensor: u.sensor, value: r.value, unit: r.unit, ...values, time: r.timeMs, simulated: r.simulated }));
  }

  #remember(sensor: string, p: Point): void {
    let points = this.#history.get(sensor);
    if (points === undefined) this.#history.set(sensor, (points = []));
    const last = points.at(-1);
    if (last !== undefined && p[0] - last[0] < HISTORY_STEP_MS) return;
    points.push(p);
    const oldest = p[0] - HISTORY_MS;
    let drop = 0;
    while (drop < points.length && points[drop]![0] < oldest) drop++;
    // Also a count bound: a clock that jumps back must not let the array grow.
    drop = Math.max(drop, points.length - HISTORY_MS / HISTORY_STEP_MS);
    if (drop > 0) points.splice(0, drop);
  }

  #broadcast(text: string): void {
    for (const res of this.#clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.#log.warn('event stream not draining; closed', { component: 'http', buffered: res.writableLength });
        res.destroy();
        this.#drop(res);
        continue;
      }
      res.write(text);
    }
  }
}

function frame(event: string, data: unknown): string {
  // JSON has no raw line feeds, so one data line is the whole payload.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
