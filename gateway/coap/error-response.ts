/**
 * The one place where the gateway's error catalogue meets CoAP response codes (RFC 7252
 * section 5.9). `Record<ErrorCode, ...>` makes the compiler refuse a catalogue code without a
 * mapping; test/coap-error-response.test.ts checks the same at run time.
 *
 * Error bodies are CBOR maps {"code": <catalogue code>} plus, for a refused request only,
 * "detail": a short diagnostic this front wrote itself (which parameter, which limit). The
 * catalogue's text is in docs/errors.md, not in every datagram: a response much larger than
 * its request is what makes a UDP server an amplifier for spoofed sources (RFC 7252 section
 * 11.3). err.message never reaches a client: it can hold bus numbers, file paths or a
 * module's own words.
 */
import { type ErrorCode, GatewayError } from '../errors.ts';
import { encodeCbor, type CborMap } from './cbor-preferred.ts';
import { ContentFormat } from './content-formats.ts';
import { MAX_BODY_BYTES } from './request-params.ts';

export type CoapErrorCode = '4.00' | '4.01' | '4.02' | '4.03' | '4.04' | '4.05' | '4.06' | '4.13' | '4.15' | '4.29' | '5.00' | '5.03' | '5.05';

/** 5.03 Service Unavailable: the sensor cannot answer now; Max-Age says when to retry (RFC 7252 section 5.9.3.4). */
const UNAVAILABLE = '5.03';
/** 5.00 Internal Server Error: the module or the gateway failed. */
const FAULT = '5.00';

export const COAP_CODE_FOR: Record<ErrorCode, CoapErrorCode> = {
  GW_ERR_I2C_NACK: UNAVAILABLE,
  GW_ERR_I2C_BUS: UNAVAILABLE,
  GW_ERR_I2C_TIMEOUT: UNAVAILABLE,
  GW_ERR_I2C_PERMISSION: UNAVAILABLE,
  GW_ERR_I2C_NO_ADAPTER: UNAVAILABLE,
  GW_ERR_I2C_BUSY: UNAVAILABLE,
  GW_ERR_I2C_UNSUPPORTED: UNAVAILABLE,
  GW_ERR_SENSOR_NOT_READY: UNAVAILABLE,
  GW_ERR_SENSOR_WRONG_DEVICE: UNAVAILABLE,
  GW_ERR_CAPABILITY_DENIED: FAULT,
  GW_ERR_MODULE_NOT_FOUND: FAULT,
  GW_ERR_MODULE_CHECKSUM: FAULT,
  GW_ERR_MODULE_INVALID: FAULT,
  GW_ERR_MODULE_MISSING_EXPORT: FAULT,
  GW_ERR_MODULE_UNKNOWN_IMPORT: FAULT,
  GW_ERR_MODULE_ABI_VERSION: FAULT,
  GW_ERR_MODULE_BAD_CONFIG: FAULT,
  GW_ERR_MODULE_TRAP: FAULT,
  GW_ERR_MODULE_PANIC: FAULT,
  GW_ERR_MODULE_EXIT: FAULT,
  GW_ERR_MODULE_BAD_ARGUMENT: FAULT,
  GW_ERR_MODULE_BAD_OUTPUT: FAULT,
  GW_ERR_MODULE_BAD_UNIT: FAULT,
  GW_ERR_MODULE_BAD_REQUEST: FAULT,
  GW_ERR_MODULE_NOT_INITIALIZED: FAULT,
  GW_ERR_MODULE_INTERNAL: FAULT,
  GW_ERR_MODULE_DEADLINE: FAULT,
  GW_ERR_CONFIG_INVALID: FAULT,
  GW_ERR_NODE_VERSION: FAULT,
  GW_ERR_BUILD_MISSING: FAULT,
  GW_ERR_BUILD_STALE: FAULT,
  GW_ERR_LISTEN_IN_USE: FAULT,
  GW_ERR_LISTEN_ADDRESS_UNAVAILABLE: FAULT,
  GW_ERR_LISTEN_HOST_UNKNOWN: FAULT,
  GW_ERR_LISTEN_PERMISSION: FAULT,
  GW_ERR_SIM_TRACE_FILE: FAULT,
  GW_ERR_SCENARIO_INVALID: FAULT,
  GW_ERR_SIM_COMMAND_INVALID: '4.00',
  GW_ERR_SIM_UNKNOWN_SENSOR: '4.04',
  GW_ERR_REQUEST_BAD_CBOR: '4.00',
  GW_ERR_REQUEST_BAD_PARAMETER: '4.00',
  GW_ERR_REQUEST_UNSUPPORTED_FORMAT: '4.15',
  GW_ERR_REQUEST_TOO_LARGE: '4.13',
  GW_ERR_REQUEST_NOT_ACCEPTABLE: '4.06',
  GW_ERR_REQUEST_NOT_FOUND: '4.04',
  GW_ERR_REQUEST_METHOD_NOT_ALLOWED: '4.05',
  GW_ERR_REQUEST_BAD_OPTION: '4.02',
  GW_ERR_REQUEST_PROXY_NOT_SUPPORTED: '5.05',
  // A PUT the module refused (e.g. low >= high): the client's request, not a gateway fault.
  GW_ERR_REQUEST_SETTINGS_REFUSED: '4.00',
  GW_ERR_REQUEST_BODY_NOT_ALLOWED: '4.00',
  // RFC 7959 section 2.2: SZX 7 is reserved and MUST be treated as 4.00 Bad Request.
  GW_ERR_REQUEST_BAD_BLOCK: '4.00',
  GW_ERR_INTERNAL: FAULT,
  GW_ERR_MODULE_MEMORY_LIMIT: FAULT,
  GW_ERR_MODULE_WORKER_FAILED: FAULT,
  GW_ERR_SENSOR_TIMEOUT: UNAVAILABLE,
  GW_ERR_SENSOR_RESTARTING: UNAVAILABLE,
  GW_ERR_SENSOR_QUARANTINED: UNAVAILABLE,
  GW_ERR_I2C_RATE_LIMITED: UNAVAILABLE,
  GW_ERR_ACCESS_UNAUTHORIZED: '4.01',
  GW_ERR_ACCESS_FORBIDDEN: '4.03',
  // RFC 8516: 4.29 Too Many Requests, Max-Age the time after which the client may retry.
  GW_ERR_WRITE_RATE_LIMITED: '4.29',
  // RFC 8613 section 8.2: 4.01 "Security context not found" and "Replay detected"; 4.02 "Failed
  // to decode COSE" for a malformed OSCORE option or COSE object; 4.00 "Decryption failed".
  GW_ERR_OSCORE_CONTEXT_NOT_FOUND: '4.01',
  GW_ERR_OSCORE_DECRYPT_FAILED: '4.00',
  GW_ERR_OSCORE_REPLAY: '4.01',
  GW_ERR_OSCORE_BAD_OPTION: '4.02',
  GW_ERR_OSCORE_DECODE: '4.02',
  GW_ERR_OSCORE_CREDENTIALS: FAULT,
  GW_ERR_OSCORE_SEQUENCE_STORE: FAULT,
  GW_ERR_OSCORE_SEQUENCE_EXHAUSTED: FAULT,
  // The uplink's codes are for the log and /gw/stats; no CoAP request fails with them.
  GW_ERR_UPLINK_UNREACHABLE: FAULT,
  GW_ERR_UPLINK_AUTH: FAULT,
  GW_ERR_UPLINK_TLS: FAULT,
  GW_ERR_UPLINK_BUFFER_FULL: FAULT,
};

/**
 * Retry hint when a 5.03 error carries no retryAfterMs (an I2C failure): long enough not to
 * hammer a broken bus, short enough for a sensor that was only briefly unplugged.
 */
export const DEFAULT_RETRY_AFTER_S = 5;

/**
 * Milliseconds as a Max-Age (RFC 7252 section 5.10.5): whole seconds rounded up (1 s resolution),
 * at least 1, at most 3600, which keeps it well inside the option's 4-byte uint whatever a
 * module or a configured quarantine says.
 */
export const MAX_AGE_CAP_S = 3600;
export function maxAgeOf(ms: number): number {
  return Math.min(MAX_AGE_CAP_S, Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Max-Age of error responses (RFC 7252 section 5.10.5; absent means 60 s, so it is always set):
 * - 5.03: the retry time, details.retryAfterMs rounded up to whole seconds, at least 1 and at
 *   most 3600: a client asks again within the hour even when a module is quarantined for days
 *   (the operator may reload it sooner), and the value always fits the option's 4-byte uint;
 * - 5.00: 0, the next request gets a fresh module instance and may well succeed; but 60 for
 *   GW_ERR_MODULE_BAD_UNIT, which no fresh instance can mend;
 * - 4.xx and 5.05: 60, they depend only on the request and the configuration, not on the sensor.
 *
 * `timeScale` (docs/simulation.md, "Time that runs faster"): every 5.03 is the sensor's (an I2C
 * failure, a module restarting or quarantined, its bus budget), timed by the simulated world's
 * clock, so its retry time is simulated and goes on the wire as real seconds: divided by the
 * scale, then rounded up. A 4.29 is the network's (the per-client write limiter runs on real
 * time) and is never scaled.
 */
export function errorMaxAge(code: CoapErrorCode, err: GatewayError | undefined, timeScale = 1): number {
  if (code === UNAVAILABLE) {
    const ms = err?.details.retryAfterMs;
    return maxAgeOf((ms === undefined || !Number.isFinite(ms) ? DEFAULT_RETRY_AFTER_S * 1000 : ms) / timeScale);
  }
  // A unit outside the registry is fixed at gw_init: a fresh instance announces the same one, so
  // asking again at once would only loop (docs/errors.md). As long as for a refused request.
  if (err?.code === 'GW_ERR_MODULE_BAD_UNIT') return 60;
  if (code === FAULT) return 0;
  // RFC 8516 section 4: the Max-Age of a 4.29 is the time after which the client may retry.
  if (code === '4.29') {
    const ms = err?.details.retryAfterMs;
    return ms === undefined || !Number.isFinite(ms) ? 1 : maxAgeOf(ms);
  }
  return 60;
}

export interface ErrorReply {
  code: CoapErrorCode;
  maxAge: number;
  contentFormat: typeof ContentFormat.CBOR;
  payload: Uint8Array;
  /** RFC 7252 section 5.10.9: on 4.13, the largest body the server accepts. */
  size1?: number;
  /** The body with the code only, when `payload` also carries `detail`. */
  brief?: Uint8Array;
  errorCode: ErrorCode;
}

/**
 * Turns anything a handler threw into the response a client sees. Non-gateway errors become
 * GW_ERR_INTERNAL. `timeScale`: how much faster the sensors' clock runs (errorMaxAge).
 */
export function errorReply(err: unknown, timeScale = 1): ErrorReply {
  const gwErr = err instanceof GatewayError ? err : undefined;
  const errorCode: ErrorCode = gwErr?.code ?? 'GW_ERR_INTERNAL';
  const code = COAP_CODE_FOR[errorCode];
  const body: CborMap = { code: errorCode };
  // The simulation's commands are requests too: their detail names the field (docs/simulation.md).
  if (gwErr && (errorCode.startsWith('GW_ERR_REQUEST_') || errorCode.startsWith('GW_ERR_SIM_')) && gwErr.details.detail) body['detail'] = gwErr.details.detail;
  const reply: ErrorReply = { code, maxAge: errorMaxAge(code, gwErr, timeScale), contentFormat: ContentFormat.CBOR, payload: encodeCbor(body), errorCode };
  if (errorCode === 'GW_ERR_REQUEST_TOO_LARGE') reply.size1 = MAX_BODY_BYTES;
  if (body['detail'] !== undefined) reply.brief = encodeCbor({ code: errorCode });
  return reply;
}
