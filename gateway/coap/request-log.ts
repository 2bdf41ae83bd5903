/**
 * The debug line of each CoAP request, written when its response leaves:
 *
 *   DEBUG request component=coap peer=127.0.0.1:51234 type=CON method=GET path=/temp code=2.05 ms=0.183 via=resource
 *
 * `via` says which step of the pipeline (server.ts) answered: `resource` (a handler),
 * `refused` (the request's options, with `reason`), `observe` (a registration),
 * `held` (a later block of a representation held for a block-wise transfer), `duplicate` (the
 * reply already sent for this Message ID, RFC 7252 section 4.5). A separate response (after an
 * Empty ACK) is logged when it is sent.
 *
 * The server builds this only when the logger writes debug lines: at any other level a request
 * costs one `undefined` check.
 */
import type { Logger } from '../log.ts';
import { MessageType } from './coap-wire.ts';
import type { InboundRequest } from './inbound-request.ts';

export type ServedBy = 'resource' | 'refused' | 'observe' | 'held' | 'duplicate';

export interface LoggedRequest {
  peer: { address: string; port: number };
  type: number;
  method: string;
  /** Undefined for a request refused before its view was read; `path` is then given. */
  request: InboundRequest | undefined;
  path?: string | undefined;
  startedMs: number;
}

export class RequestLog {
  readonly #log: Logger;
  readonly #now: () => number;

  /** `now`: milliseconds, monotonic and sub-millisecond (performance.now); real time taken, whatever clock the gateway runs on. */
  constructor(logger: Logger, now: () => number) {
    this.#log = logger;
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  write(r: LoggedRequest, code: string, via: ServedBy, reason?: string): void {
    const fields: Record<string, unknown> = {
      peer: `${r.peer.address}:${r.peer.port}`,
      type: r.type === MessageType.CON ? 'CON' : r.type === MessageType.NON ? 'NON' : String(r.type),
      method: r.method,
    };
    const view = r.request?.view;
    fields['path'] = view?.path ?? r.path;
    if (view !== undefined && view.query.length > 0) fields['query'] = view.query.join('&');
    const observe = r.request?.observe;
    if (observe !== undefined) fields['observe'] = observe === 0 ? 'register' : observe === 1 ? 'deregister' : observe;
    fields['code'] = code;
    // Microseconds are what an answer from a fresh reading takes; milliseconds would show 0.
    fields['ms'] = Math.round((this.#now() - r.startedMs) * 1000) / 1000;
    fields['via'] = via;
    if (reason !== undefined) fields['reason'] = reason;
    this.#log.debug('request', fields);
  }
}
