/**
 * /gw/sim: live control of a simulated gateway (docs/simulation.md "Live control"), served only
 * when the gateway runs on simulated sensors.
 *
 *   GET  -> 2.05 {"timeScale": 1, "scenario": {...} | null, "sensors": {...}, "changes": [...]}
 *   POST {"op": "set", "celsius": 40} (CBOR 60 or JSON 50)
 *        -> 2.04 Changed {"timeScale": 1, "scenario": ..., "sensors": ..., "change": {...}}
 *
 * CBOR (60) by default, JSON (50) on request (Accept). GET has Max-Age 0: a scenario or another
 * client changes the state at any time. The 2.04 carries the change and the state after it but
 * not the ring of recent changes, so that it fits one datagram: only a 2.05 can be cut in
 * blocks (RFC 7959 needs an ETag to reassemble, RFC 7252 section 5.10.6.1 allows one on 2.05).
 * A malformed or out-of-range command is 4.00 GW_ERR_SIM_COMMAND_INVALID naming the field; a
 * sensor that is not simulated 4.04 GW_ERR_SIM_UNKNOWN_SENSOR. Who may do this is the access
 * policy's business, checked before dispatch (default: loopback and OSCORE clients only,
 * docs/security.md).
 */
import { GatewayError } from '../errors.ts';
import type { SimulationControl } from '../service/simulation-control.ts';
import type { Requester } from './access-policy.ts';
import { type CborMap, encodeCbor } from './cbor-preferred.ts';
import { CborDecodeError, decodeCborStrict } from './cbor-strict-decode.ts';
import { ContentFormat, negotiate } from './content-formats.ts';
import { errorReply } from './error-response.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import { MAX_BODY_BYTES } from './request-params.ts';

export const SIM_PATH = '/gw/sim';
const FORMATS = [ContentFormat.CBOR, ContentFormat.JSON] as const;
type Format = (typeof FORMATS)[number];

// fatal: a JSON body that is not UTF-8 is refused, not decoded with replacement characters.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class SimControlResource {
  readonly #control: SimulationControl;

  constructor(control: SimulationControl) {
    this.#control = control;
  }

  /** `who`: the requester the server admitted, named in the log and the ring of changes. */
  handle(req: RequestView, who?: Requester): Reply {
    try {
      if (req.method === Method.GET) return represent('2.05', this.#control.snapshot(), format(req));
      if (req.method !== Method.POST) throw new GatewayError('GW_ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: 'allowed: GET, POST' });
      const body = commandBody(req);
      const answer = format(req);
      return represent('2.04', this.#control.command(body, sourceOf(who)), answer);
    } catch (err) {
      return fromError(errorReply(err));
    }
  }
}

/** An OSCORE client by its credentials name (it is what the operator knows it by), else its address. */
function sourceOf(who: Requester | undefined): string {
  if (who === undefined) return 'coap';
  return who.oscoreClient !== undefined ? `oscore:${who.oscoreClient}` : who.address;
}

function format(req: RequestView): Format {
  const f = negotiate(req.accept, FORMATS, ContentFormat.CBOR);
  if (f === undefined) throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE', { detail: 'offered: 60, 50' });
  return f;
}

/** The POST body, checked in the order a client can fix it: size, format, then decoding. */
function commandBody(req: RequestView): unknown {
  if (req.body.length > MAX_BODY_BYTES) throw new GatewayError('GW_ERR_REQUEST_TOO_LARGE', { detail: `at most ${MAX_BODY_BYTES} bytes` });
  if (req.contentFormat !== ContentFormat.CBOR && req.contentFormat !== ContentFormat.JSON) {
    throw new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_FORMAT', { detail: 'the body must be Content-Format 60 (application/cbor) or 50 (application/json)' });
  }
  if (req.body.length === 0) throw malformed('body: empty (a command such as {"op": "set", "celsius": 40})');
  if (req.contentFormat === ContentFormat.CBOR) {
    try {
      return decodeCborStrict(req.body);
    } catch (err) {
      if (err instanceof CborDecodeError) throw malformed(`body: ${err.message}`);
      throw err;
    }
  }
  let text: string;
  try {
    text = utf8.decode(req.body);
  } catch {
    throw malformed('body: not UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed('body: not JSON');
  }
}

function malformed(detail: string): GatewayError {
  return new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { detail });
}

/** 2.04 is not cacheable (RFC 7252 section 5.9.1.4): no Max-Age. */
function represent(code: '2.04' | '2.05', body: CborMap, f: Format): Reply {
  const payload = f === ContentFormat.JSON ? new TextEncoder().encode(JSON.stringify(body)) : encodeCbor(body);
  return { code, contentFormat: f, maxAge: code === '2.05' ? 0 : undefined, payload };
}
