/**
 * A sensor's thermostat settings at `<sensor path>/alert` (e.g. /temp/alert), for sensors whose
 * module reports them (the TMP102's T_HIGH, T_LOW, comparator/interrupt mode, ALERT polarity and
 * fault queue):
 *
 *   GET  -> 2.05 {"high": 80, "low": 75, "mode": "comparator", "polarity": "active-low", "faults": 1}
 *   PUT  {"high": 30} (CBOR map, Content-Format 60; any subset of the keys)
 *        -> 2.04 Changed with all settings as the chip now holds them
 *
 * CBOR (60) by default, JSON (50) on request. The body is checked here before the module sees
 * it (4.00 GW_ERR_REQUEST_BAD_PARAMETER naming the key); a combination the module refuses
 * (low not below high, a limit out of the sensor's range) is the client's to fix: 4.00
 * GW_ERR_REQUEST_SETTINGS_REFUSED, and the chip keeps its previous settings. Limits are in the
 * module's unit (°C for the TMP102).
 */
import { GatewayError } from '../errors.ts';
import type { AlertInfo } from '../host/sensor-module.ts';
import type { SensorService } from '../service/sensor-service.ts';
import { encodeCbor } from './cbor-preferred.ts';
import { CborDecodeError, type DecodedCbor, decodeCborStrict } from './cbor-strict-decode.ts';
import { ContentFormat, negotiate } from './content-formats.ts';
import { errorReply } from './error-response.ts';
import { type Reply, type RequestView, Method, fromError } from './reply.ts';
import { MAX_BODY_BYTES } from './request-params.ts';

const FORMATS = [ContentFormat.CBOR, ContentFormat.JSON] as const;
/** The TMP102 fault queue lengths (SBOS397 table 11, bits F1/F0). */
const FAULT_COUNTS = [1, 2, 4, 6];
const MODES = ['comparator', 'interrupt'];
const POLARITIES = ['active-low', 'active-high'];

export class AlertResource {
  readonly #service: SensorService;
  readonly #sensor: string;

  constructor(service: SensorService, sensor: string) {
    this.#service = service;
    this.#sensor = sensor;
  }

  async handle(req: RequestView): Promise<Reply> {
    try {
      if (req.method === Method.GET) return this.#represent('2.05', this.#current(), this.#format(req));
      if (req.method !== Method.PUT) throw new GatewayError('GW_ERR_REQUEST_METHOD_NOT_ALLOWED', { detail: 'allowed: GET, PUT' });
      const changes = changesFrom(req);
      const format = this.#format(req);
      let settings: AlertInfo;
      try {
        settings = await this.#service.setAlertSettings(this.#sensor, changes);
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'GW_ERR_MODULE_BAD_CONFIG') {
          throw new GatewayError('GW_ERR_REQUEST_SETTINGS_REFUSED', { detail: 'the sensor refused these limits (low must be below high, both within its range)' }, { cause: err });
        }
        throw err;
      }
      return this.#represent('2.04', settings, format);
    } catch (err) {
      return fromError(errorReply(err));
    }
  }

  #current(): AlertInfo {
    const settings = this.#service.alertSettings(this.#sensor);
    if (!settings) throw new GatewayError('GW_ERR_SENSOR_NOT_READY', { sensor: this.#sensor, retryAfterMs: 1000 });
    return settings;
  }

  #format(req: RequestView): (typeof FORMATS)[number] {
    const format = negotiate(req.accept, FORMATS, ContentFormat.CBOR);
    if (format === undefined) throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE', { detail: 'offered: 60, 50' });
    return format;
  }

  /** Max-Age 0 on GET: another client may PUT at any time. 2.04 is not cacheable (no Max-Age). */
  #represent(code: '2.04' | '2.05', s: AlertInfo, format: (typeof FORMATS)[number]): Reply {
    const body = { high: s.high, low: s.low, mode: s.mode, polarity: s.polarity, faults: s.faults };
    const payload = format === ContentFormat.JSON ? new TextEncoder().encode(JSON.stringify(body)) : encodeCbor(body);
    return { code, contentFormat: format, maxAge: code === '2.05' ? 0 : undefined, payload };
  }
}

function bad(detail: string): GatewayError {
  return new GatewayError('GW_ERR_REQUEST_BAD_PARAMETER', { detail });
}

/** The PUT body, checked in the order a client can fix it: size, format, CBOR, then each key. */
function changesFrom(req: RequestView): Partial<AlertInfo> {
  if (req.body.length > MAX_BODY_BYTES) throw new GatewayError('GW_ERR_REQUEST_TOO_LARGE', { detail: `at most ${MAX_BODY_BYTES} bytes` });
  if (req.contentFormat !== ContentFormat.CBOR) {
    throw new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_FORMAT', { detail: 'the body must be Content-Format 60 (application/cbor)' });
  }
  let decoded: DecodedCbor;
  try {
    decoded = decodeCborStrict(req.body);
  } catch (err) {
    if (err instanceof CborDecodeError) throw new GatewayError('GW_ERR_REQUEST_BAD_CBOR', { detail: err.message });
    throw err;
  }
  if (!(decoded instanceof Map) || decoded.size === 0) throw bad('the body must be a non-empty CBOR map of settings (high, low, mode, polarity, faults)');
  const out: Partial<AlertInfo> = {};
  for (const [key, value] of decoded) {
    switch (key) {
      case 'high':
      case 'low':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(`${key} must be a number (°C)`);
        out[key] = value;
        break;
      case 'mode':
        if (typeof value !== 'string' || !MODES.includes(value)) throw bad('mode must be "comparator" or "interrupt"');
        out.mode = value as AlertInfo['mode'];
        break;
      case 'polarity':
        if (typeof value !== 'string' || !POLARITIES.includes(value)) throw bad('polarity must be "active-low" or "active-high"');
        out.polarity = value as AlertInfo['polarity'];
        break;
      case 'faults':
        if (typeof value !== 'number' || !FAULT_COUNTS.includes(value)) throw bad('faults must be 1, 2, 4 or 6');
        out.faults = value;
        break;
      default:
        throw bad('unknown setting (known: high, low, mode, polarity, faults)');
    }
  }
  return out;
}
