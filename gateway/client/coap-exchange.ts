/**
 * One CoAP exchange over node-coap (npm `coap` 1.5.0): a request and its response, or an
 * observation (RFC 7641) and its notifications.
 *
 * Each exchange gets its own node-coap Agent, and with it its own UDP socket; the Agent closes
 * that socket by itself once nothing is in flight, and its 'close' event is how we know the
 * exchange is finished (ACKs for separate responses included). The module-level globalAgent is
 * avoided: it is shared state, and it is IPv4-only.
 */
import { randomBytes } from 'node:crypto';
import { Agent, type OutgoingMessage, type IncomingMessage, request as coapRequest } from 'coap';
import type { CoapTarget, ResolvedAddress } from './target.ts';
import { TargetUnreachableError } from './target.ts';

/** The methods of RFC 7252 section 5.8 and FETCH (RFC 8132); node-coap 1.5.0 encodes all of them. */
export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH';

export interface RequestSpec {
  method: CoapMethod;
  target: CoapTarget;
  address: ResolvedAddress;
  accept?: number;
  contentFormat?: number;
  payload?: Buffer;
  /** false sends a NON request (RFC 7252 section 4.3): no retransmission. */
  confirmable: boolean;
}

export interface ResponseOption {
  name: string;
  /** As node-coap decodes it: numbers for uint options, strings for known text options and formats. */
  value: unknown;
}

export interface ClientResponse {
  code: string;
  options: ResponseOption[];
  payload: Buffer;
  remote: { address: string; port: number };
}

/** No response within the client's --timeout. */
export class ResponseTimeoutError extends Error {
  override readonly name = 'ResponseTimeoutError';
  constructor(readonly seconds: number) {
    super(`no response within ${seconds} s`);
  }
}

/** What node-coap sets on a response besides its typed fields (lib/helpers.js packetToMessage). */
interface ResponseWithOptions {
  options?: { name: string | number; value: unknown }[];
}

export interface ObserveOutcome {
  /** False when the server answered without an Observe option: it did not register us (RFC 7641 section 3.1). */
  registered: boolean;
  /** The last response or notification; observation ends early when its code is not 2.xx (RFC 7641 section 3.2). */
  last: ClientResponse;
}

/** How long to wait for the answer to the deregistering GET (Observe=1) before giving up on it. */
const DEREGISTER_WAIT_MS = 2000;

export class CoapExchange {
  readonly #agent: Agent;
  #closed = false;
  readonly #closedPromise: Promise<void>;

  private constructor(family: 4 | 6) {
    this.#agent = new Agent({ type: family === 6 ? 'udp6' : 'udp4' });
    this.#closedPromise = new Promise((resolve) => {
      this.#agent.once('close', () => {
        this.#closed = true;
        resolve();
      });
    });
  }

  static for(address: ResolvedAddress): CoapExchange {
    return new CoapExchange(address.family);
  }

  /** One request, one response. Rejects with ResponseTimeoutError after timeoutMs. */
  async request(spec: RequestSpec, timeoutMs: number): Promise<ClientResponse> {
    const req = this.#send(spec, false, undefined);
    try {
      const res = await this.#firstResponse(req, timeoutMs);
      return snapshot(res, res.payload);
    } finally {
      await this.#finish();
    }
  }

  /**
   * Registers an observation (GET or FETCH with Observe=0, RFC 7641 section 3.1; RFC 8132
   * section 2.4), hands every notification to `onNotification` for `durationMs`, then
   * deregisters with a GET carrying Observe=1 (RFC 7641 section 3.6) rather than waiting to
   * RST the next notification.
   */
  async observe(spec: RequestSpec, timeoutMs: number, durationMs: number, onNotification: (n: ClientResponse) => void): Promise<ObserveOutcome> {
    // Our own token, so that the deregistration can carry the same one (RFC 7641 section 3.6);
    // random, as RFC 7252 section 5.3.1 asks of tokens exposed to off-path attackers.
    const token = randomBytes(8);
    const req = this.#send(spec, 0, token);
    try {
      const res = await this.#firstResponse(req, timeoutMs);
      const stream = res as IncomingMessage & { close(eagerDeregister?: boolean): void };
      if (res.headers['Observe'] === undefined) {
        const only = snapshot(res, res.payload ?? Buffer.alloc(0));
        onNotification(only);
        // node-coap answers a 4.04 to an observe request with a plain message, which has no close().
        if (typeof stream.close === 'function') stream.close(false);
        return { registered: false, last: only };
      }
      const last = await new Promise<ClientResponse>((resolve) => {
        let latest: ClientResponse | undefined;
        const end = () => {
          clearTimeout(timer);
          stream.removeListener('data', onData);
          resolve(latest!);
        };
        // Every notification reaches us as a 'data' chunk (the payload) after node-coap has
        // copied that packet's code and options onto the stream.
        const onData = (payload: Buffer) => {
          latest = snapshot(stream, payload);
          onNotification(latest);
          // A notification that is not 2.xx ends the observation (RFC 7641 section 3.2).
          if (!latest.code.startsWith('2.')) end();
        };
        const timer = setTimeout(end, durationMs);
        stream.on('data', onData);
      });
      if (last.code.startsWith('2.')) this.#deregister(spec, token);
      // Not close(true): node-coap 1.5.0 emits 'close' before 'deregister', its Agent closes the
      // socket on 'close', and the deregistering send then throws ERR_SOCKET_DGRAM_NOT_RUNNING.
      stream.close(false);
      return { registered: true, last };
    } finally {
      await this.#finish(DEREGISTER_WAIT_MS);
    }
  }

  /**
   * GET (or FETCH) with Observe=1 and the registration's token (RFC 7641 section 3.6). node-coap
   * never counts such a request as answered, so its Agent would keep the socket open: close it
   * once the answer is in.
   */
  #deregister(spec: RequestSpec, token: Buffer): void {
    const req = this.#send(spec, 1, token);
    req.once('response', () => this.#abort());
    req.once('error', () => this.#abort());
  }

  #send(spec: RequestSpec, observe: false | 0 | 1, token: Buffer | undefined): OutgoingMessage {
    const options: Record<string, Buffer[]> = {};
    // Pre-split option values: node-coap's own `pathname` splitting would cut a percent-encoded
    // "/" apart and does not percent-decode.
    if (spec.target.path.length > 0) options['Uri-Path'] = spec.target.path;
    if (spec.target.query.length > 0) options['Uri-Query'] = spec.target.query;
    const req = coapRequest({
      hostname: spec.address.address,
      port: spec.target.port,
      method: spec.method,
      confirmable: spec.confirmable,
      agent: this.#agent,
      observe,
      ...(token ? { token } : {}),
      // Numbers, never media-type strings: node-coap throws on a string it has not registered.
      ...(spec.accept !== undefined ? { accept: spec.accept } : {}),
      ...(spec.contentFormat !== undefined ? { contentFormat: spec.contentFormat } : {}),
      options: options as never,
    });
    req.end(spec.payload ?? undefined);
    return req;
  }

  #firstResponse(req: OutgoingMessage, timeoutMs: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ResponseTimeoutError(timeoutMs / 1000));
        this.#abort();
      }, timeoutMs);
      req.once('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        // An un-ACKed separate response makes node-coap emit 'error' on the response; unhandled,
        // that would crash the process.
        res.on('error', () => {});
        resolve(res);
      });
      req.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(new TargetUnreachableError(`cannot send to ${req.url?.hostname ?? 'target'}: ${err.message}`));
        this.#abort();
      });
      // node-coap gives up after EXCHANGE_LIFETIME (247 s); our own timer normally fires first.
      req.once('timeout', () => {
        clearTimeout(timer);
        reject(new ResponseTimeoutError(timeoutMs / 1000));
      });
    });
  }

  /** Abandon what is in flight; the Agent closes its socket once everything is aborted. */
  #abort(): void {
    if (this.#closed) return;
    try {
      this.#agent.close();
    } catch {
      // The Agent had already begun closing its socket (a race node-coap does not guard).
    }
  }

  /** Wait for the Agent to close its socket by itself; force it after graceMs. */
  async #finish(graceMs = 1000): Promise<void> {
    if (this.#closed) return;
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#abort();
        resolve();
      }, graceMs);
    });
    await Promise.race([this.#closedPromise, forced]);
    clearTimeout(timer);
  }
}

function snapshot(res: IncomingMessage, payload: Buffer): ClientResponse {
  const raw = (res as unknown as ResponseWithOptions).options ?? [];
  return {
    code: res.code,
    // Copied: node-coap reuses the stream object for every notification.
    options: raw.map((o) => ({ name: String(o.name), value: o.value })),
    payload: Buffer.from(payload ?? Buffer.alloc(0)),
    remote: { address: res.rsinfo.address, port: res.rsinfo.port },
  };
}
