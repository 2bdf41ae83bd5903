/**
 * A sensor's resource (e.g. /temp): GET with Uri-Query parameters, FETCH (RFC 8132) and POST
 * with a CBOR parameter body. Everything about the request is checked before the sensor is
 * read, in the order a client can fix it: method, body size, body format, body content,
 * Accept.
 */
import { GatewayError } from '../errors.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { ContentFormat, negotiate } from './content-formats.ts';
import { errorReply } from './error-response.ts';
import { READING_FORMATS, encodeReading } from './reading-formats.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import { MAX_BODY_BYTES, type ReadingParams, convert, mergeParams, paramsFromCbor, paramsFromQuery } from './request-params.ts';

/**
 * Max-Age of a reading: the sensor makes a new value every periodMs, so a cached reading is
 * stale after that long. Whole seconds rounded down, at least 1 (Max-Age has 1 s resolution;
 * 0 would forbid caching altogether). The TMP102 at 4 Hz (250 ms) gives 1 s.
 */
export function readingMaxAge(periodMs: number | undefined): number {
  if (periodMs === undefined || !Number.isFinite(periodMs)) return 1;
  return Math.max(1, Math.floor(periodMs / 1000));
}

export class ReadingResource {
  readonly #service: SensorService;
  readonly #sensor: string;

  constructor(service: SensorService, sensor: string) {
    this.#service = service;
    this.#sensor = sensor;
  }

  get sensor(): string {
    return this.#sensor;
  }

  async handle(req: RequestView): Promise<Reply> {
    try {
      const params = this.#params(req);
      const format = negotiate(req.accept, READING_FORMATS, ContentFormat.CBOR);
      if (format === undefined) throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE', { detail: 'offered: 60, 112, 110, 50, 0' });
      const reading = await this.#service.read(this.#sensor);
      const info = this.#service.info(this.#sensor);
      const { value, unit } = convert(reading.value, reading.unit, params);
      const payload = encodeReading({ sensor: reading.sensor, quantity: info?.quantity ?? 'temperature', value, unit, timeMs: reading.timeMs }, format);
      return { code: '2.05', contentFormat: format, maxAge: readingMaxAge(info?.periodMs), payload };
    } catch (err) {
      return fromError(errorReply(err));
    }
  }

  #params(req: RequestView): ReadingParams {
    if (req.method !== Method.GET && req.method !== Method.POST && req.method !== Method.FETCH) {
      throw new GatewayError('GW_ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: 'allowed: GET, FETCH, POST' });
    }
    const query = paramsFromQuery(req.query);
    // A GET has no body semantics (RFC 7252 section 5.8.1); its payload, if any, is ignored.
    if (req.method === Method.GET) return mergeParams(query, {});
    if (req.body.length > MAX_BODY_BYTES) throw new GatewayError('GW_ERR_REQUEST_TOO_LARGE', { detail: `at most ${MAX_BODY_BYTES} bytes` });
    const declared = req.contentFormat;
    if ((declared !== undefined && declared !== ContentFormat.CBOR) || (declared === undefined && req.body.length > 0)) {
      throw new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_FORMAT', { detail: 'the body must be Content-Format 60 (application/cbor)' });
    }
    return mergeParams(query, paramsFromCbor(req.body));
  }
}
