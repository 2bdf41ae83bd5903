/**
 * A sensor's resource (e.g. /temp): GET with Uri-Query parameters, FETCH (RFC 8132) with a
 * CBOR parameter body. Everything about the request is checked before the sensor is
 * read, in the order a client can fix it: method, body size, body format, body content,
 * Accept. The resource is observable (RFC 7641); the Observe layer (observe-layer.ts) uses
 * `prepare` and `represent` so that a registration and its notifications are checked and
 * encoded exactly like a plain GET.
 */
import { GatewayError } from '../errors.ts';
import type { FreshReading } from '../service/paced-reader.ts';
import type { SensorReading } from '../service/sensor-reading.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { ContentFormat, negotiate } from './content-formats.ts';
import { errorReply, maxAgeOf } from './error-response.ts';
import { checkConvertible, measurementOf } from './measurement-view.ts';
import { type ObserveConditions, splitConditions } from './observe-conditions.ts';
import { READING_FORMATS, type ReadingFormat, encodeReading, viewOf } from './reading-formats.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import { MAX_BODY_BYTES, type ReadingParams, convert, mergeParams, paramsFromCbor, paramsFromQuery } from './request-params.ts';

/**
 * Max-Age of a reading: how much longer the value stays the sensor's latest (the pacing's
 * freshForMs), rounded up to whole seconds because Max-Age has 1 s resolution, and never 0 for
 * a reading (0 would forbid caching a value that is still current). The TMP102 at 4 Hz gives 1.
 * At most 3600: the host refuses a module period above one hour (docs/module-abi.md, "Bounds"),
 * and the clamp keeps the value inside the option's 4-byte uint (RFC 7252 section 5.10.5) even
 * if a larger freshness ever got here.
 *
 * `timeScale` (docs/simulation.md, "Time that runs faster"): freshForMs is the sensor clock's
 * time, which runs that many times faster than the device's; Max-Age is the device's seconds,
 * so the freshness is divided by the scale before it is rounded up.
 */
export function freshMaxAge(freshForMs: number, timeScale = 1): number {
  return Number.isFinite(freshForMs) ? maxAgeOf(freshForMs / timeScale) : 1;
}

/** A request checked and ready: what to read it in and which notification conditions apply. */
export interface ReadingRequest {
  readonly params: ReadingParams;
  readonly format: ReadingFormat;
  readonly conditions: ObserveConditions;
  /** format|unit|precision: the representation this request gets, one encoding per reading. */
  readonly variant: string;
}

/** A reading as one client asked for it: the value after unit and precision, and the payload. */
export interface Representation {
  value: number;
  payload: Uint8Array;
}

/** Variants kept per reading (format x unit x precision); more than any client mix needs. */
const MAX_VARIANTS = 32;
/** Request shapes whose check is remembered; a client mix has a handful. */
const MAX_PREPARED = 64;

/** The shape of a request that decides its check; undefined for one not worth remembering. */
function shapeKey(req: RequestView): string | undefined {
  if (req.method !== Method.GET && (req.method !== Method.FETCH || req.body.length > 64)) return undefined;
  // Every part with its length in front: two different requests never make the same key.
  let key = `${req.method}|${req.accept ?? ''}|${req.contentFormat ?? ''}|${req.query.length}`;
  for (const q of req.query) key += `|${q.length}:${q}`;
  if (req.body.length > 0) key += `|${req.body.length}:${Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength).toString('latin1')}`;
  return key;
}

export class ReadingResource {
  readonly #service: SensorService;
  readonly #sensor: string;
  /**
   * The representations of the latest reading. Pacing hands one Reading object to every request
   * of its conversion period and the feed hands one to every observer, so a representation is
   * encoded once per variant and reading, not once per request (the encoder was a tenth of the
   * CPU time under load before this). Whether the value is simulated is part of the reading
   * object, so it is in every payload encoded from it and needs no place in the variant key.
   */
  #memo: { reading: SensorReading; quantity: string; variants: Map<string, Representation> } | undefined;
  /**
   * Requests checked before, by shape (method, Accept, query, and a FETCH's Content-Format and
   * body): the check depends on nothing else, and every sensor node sends the same request again
   * and again. Only checks that passed are kept.
   */
  readonly #prepared = new Map<string, ReadingRequest>();
  /** How much faster the sensor's clock runs than the network's (freshMaxAge, errorMaxAge). */
  readonly #timeScale: number;
  /**
   * The one quantity served, for `<path>/<quantity>` of a multi-quantity sensor
   * (measurement-view.ts); undefined: the sensor's primary value, as before ABI 1.1.
   */
  readonly #quantity: string | undefined;

  constructor(service: SensorService, sensor: string, options: { timeScale?: number; quantity?: string } = {}) {
    this.#service = service;
    this.#sensor = sensor;
    this.#timeScale = options.timeScale ?? 1;
    this.#quantity = options.quantity;
  }

  /** How much faster the sensor's clock runs than the network's: Max-Age is divided by it. */
  get timeScale(): number {
    return this.#timeScale;
  }

  get sensor(): string {
    return this.#sensor;
  }

  /**
   * The reply at once when the request is refused or the sensor has a fresh reading (pacing
   * keeps one for each conversion period, so under load nearly every request finds one); a
   * promise when the sensor must be read first.
   */
  handle(req: RequestView): Reply | Promise<Reply> {
    let prepared: ReadingRequest;
    try {
      prepared = this.prepare(req);
      const fresh = this.#service.peekFresh(this.#sensor);
      if (fresh !== undefined) return this.reply(fresh, prepared);
    } catch (err) {
      return fromError(errorReply(err, this.#timeScale));
    }
    return this.#service.readFresh(this.#sensor).then(
      (fresh) => this.reply(fresh, prepared),
      (err: unknown) => fromError(errorReply(err, this.#timeScale)),
    );
  }

  /** Checks the request without reading the sensor; throws a GatewayError for the client. */
  prepare(req: RequestView): ReadingRequest {
    const key = shapeKey(req);
    if (key !== undefined) {
      const known = this.#prepared.get(key);
      if (known !== undefined) return known;
    }
    const prepared = this.#check(req);
    if (key !== undefined) {
      if (this.#prepared.size >= MAX_PREPARED) this.#prepared.clear();
      this.#prepared.set(key, prepared);
    }
    return prepared;
  }

  #check(req: RequestView): ReadingRequest {
    const { params, conditions } = this.#params(req);
    if (this.#quantity !== undefined) {
      const q = this.#quantity;
      checkConvertible(q, this.#service.info(this.#sensor)?.quantities.find((i) => i.name === q)?.unit, params);
    }
    const format = negotiate(req.accept, READING_FORMATS, ContentFormat.CBOR);
    if (format === undefined) throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE', { detail: 'offered: 60, 112, 110, 50, 0' });
    // RFC 8428 section 12.1: SenML units come from its registry, which leaves degF out on
    // purpose ("SHOULD NOT" be used); a SenML consumer would have to reject the record.
    if (params.unit === 'degF' && (format === ContentFormat.SENML_CBOR || format === ContentFormat.SENML_JSON)) {
      throw new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail: 'SenML has no degF (RFC 8428 section 12.1): ask for Cel or K, or CBOR/JSON' });
    }
    return { params, format, conditions, variant: `${format}|${params.unit ?? ''}|${params.precision}` };
  }

  /** The 2.05 for a reading. */
  reply(fresh: FreshReading<SensorReading>, req: ReadingRequest): Reply {
    const { payload } = this.represent(fresh.reading, req);
    return { code: '2.05', contentFormat: req.format, maxAge: freshMaxAge(fresh.freshForMs, this.#timeScale), payload };
  }

  /** The reading as `req` asks for it. The payload may be shared: callers must not modify it. */
  represent(reading: SensorReading, req: ReadingRequest): Representation {
    const quantity = this.#quantity ?? this.#service.info(this.#sensor)?.quantity ?? 'temperature';
    let memo = this.#memo;
    if (memo?.reading !== reading || memo.quantity !== quantity) this.#memo = memo = { reading, quantity, variants: new Map() };
    const key = req.variant;
    let rep = memo.variants.get(key);
    if (rep === undefined) {
      const measured = this.#quantity === undefined ? reading : measurementOf(reading, this.#quantity);
      const { value, unit } = convert(measured.value, measured.unit, req.params);
      rep = { value, payload: encodeReading(viewOf(reading, quantity, value, unit), req.format) };
      if (memo.variants.size < MAX_VARIANTS) memo.variants.set(key, rep);
    }
    return rep;
  }

  #params(req: RequestView): { params: ReadingParams; conditions: ObserveConditions } {
    // Reading is safe and idempotent: GET, or FETCH with a body (RFC 8132). A POST is not
    // refused for its body but for its meaning: it asks the resource to process something.
    if (req.method !== Method.GET && req.method !== Method.FETCH) {
      throw new GatewayError('GW_ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: 'allowed: GET, FETCH' });
    }
    // Conditions live in the query only (they qualify the observation, not the representation).
    const { conditions, rest } = splitConditions(req.query);
    const query = paramsFromQuery(rest);
    // A GET with a body never gets here (inbound-request.ts refuses it, RFC 7252 section 5.8.1).
    if (req.method === Method.GET) return { params: mergeParams(query, {}), conditions };
    if (req.body.length > MAX_BODY_BYTES) throw new GatewayError('GW_ERR_REQUEST_TOO_LARGE', { detail: `at most ${MAX_BODY_BYTES} bytes` });
    const declared = req.contentFormat;
    if ((declared !== undefined && declared !== ContentFormat.CBOR) || (declared === undefined && req.body.length > 0)) {
      throw new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_FORMAT', { detail: 'the body must be Content-Format 60 (application/cbor)' });
    }
    return { params: mergeParams(query, paramsFromCbor(req.body)), conditions };
  }
}
