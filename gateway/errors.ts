/**
 * The gateway's one error catalogue. Every failure a user can see carries one of these stable
 * codes; messages may be reworded, codes may not. The CoAP front maps codes to response codes
 * in one place (gateway/coap/error-response.ts); tests assert codes, never message text.
 * docs/errors.md lists the same codes and test/errors.test.ts keeps the two in step.
 */
import { I2C_ERROR_CODES, I2CError } from '../drivers/i2c-error.ts';

export const ERROR_CODES = {
  ...I2C_ERROR_CODES,

  // Sensor state, reported by a module.
  GW_ERR_SENSOR_NOT_READY: 'The sensor has no valid reading yet (first conversion not finished); retry after the given time',
  GW_ERR_SENSOR_WRONG_DEVICE: 'The device at the configured address is not the expected sensor',

  // Capabilities.
  GW_ERR_CAPABILITY_DENIED: 'The module asked for a bus or address it was not granted',

  // Loading a module.
  GW_ERR_MODULE_NOT_FOUND: 'The module file could not be read',
  GW_ERR_MODULE_CHECKSUM: 'The module file does not have the configured sha256',
  GW_ERR_MODULE_INVALID: 'The file is not a valid WebAssembly module',
  GW_ERR_MODULE_MISSING_EXPORT: 'The module lacks an export the ABI requires',
  GW_ERR_MODULE_UNKNOWN_IMPORT: 'The module imports a function the ABI does not provide',
  GW_ERR_MODULE_ABI_VERSION: 'The module was built for another ABI version',
  GW_ERR_MODULE_BAD_CONFIG: 'The module refused its configuration',

  // A module misbehaving during a call. The instance is discarded and replaced.
  GW_ERR_MODULE_TRAP: 'The module trapped (a WebAssembly runtime error)',
  GW_ERR_MODULE_PANIC: 'The module panicked',
  GW_ERR_MODULE_EXIT: 'The module exited during a call',
  GW_ERR_MODULE_BAD_ARGUMENT: 'The module passed an out-of-range pointer, length or address to the host',
  GW_ERR_MODULE_BAD_OUTPUT: 'The module returned output that does not follow the ABI',
  GW_ERR_MODULE_BAD_UNIT: 'The module reports a unit outside the SenML units registry (RFC 8428 section 12.1, RFC 8798)',
  GW_ERR_MODULE_BAD_REQUEST: 'The module refused the request parameters',
  GW_ERR_MODULE_NOT_INITIALIZED: 'The module was called before it was initialised',
  GW_ERR_MODULE_INTERNAL: 'The module reported an internal error',
  GW_ERR_MODULE_DEADLINE: 'The module ran past its call deadline',

  // Configuration of the gateway itself.
  GW_ERR_CONFIG_INVALID: 'The gateway configuration is invalid',

  // Starting the gateway (gateway/cli/launch.mjs, gateway/bind-socket.ts); never sent to a client.
  GW_ERR_NODE_VERSION: 'The Node.js running the gateway is older than it needs',
  GW_ERR_BUILD_MISSING: 'The gateway has not been built (no bundles in build/bundles)',
  GW_ERR_BUILD_STALE: 'The sources changed since the gateway was built',
  GW_ERR_LISTEN_IN_USE: 'The UDP port is already in use',
  GW_ERR_LISTEN_ADDRESS_UNAVAILABLE: 'The address to listen on is not one of this machine',
  GW_ERR_LISTEN_HOST_UNKNOWN: 'The host name to listen on does not resolve',
  GW_ERR_LISTEN_PERMISSION: 'Not allowed to listen on this port',
  /** Thrown by drivers/sim/temperature-trace.ts for a bad recorded trace. */
  GW_ERR_SIM_TRACE_FILE: 'The simulated temperature trace file is invalid',
  /** A scenario file (docs/simulation.md) that does not validate; the detail names the field. The gateway does not start. */
  GW_ERR_SCENARIO_INVALID: 'The simulation scenario file is invalid',

  // Live control of a simulated gateway (POST /gw/sim, npm run sim; docs/simulation.md).
  GW_ERR_SIM_COMMAND_INVALID: 'The simulation command is malformed or has an out-of-range value',
  GW_ERR_SIM_UNKNOWN_SENSOR: 'The simulation command names a sensor that is not simulated',

  // CoAP requests the gateway refuses (gateway/coap/error-response.ts maps each to a response code).
  GW_ERR_REQUEST_BAD_CBOR: 'The request body is not valid CBOR',
  GW_ERR_REQUEST_BAD_PARAMETER: 'A request parameter is unknown or has an invalid value',
  GW_ERR_REQUEST_UNSUPPORTED_FORMAT: 'The request body has a Content-Format this resource does not accept',
  GW_ERR_REQUEST_TOO_LARGE: 'The request body is larger than the gateway accepts',
  GW_ERR_REQUEST_NOT_ACCEPTABLE: 'The resource cannot be represented in the requested Accept format',
  GW_ERR_REQUEST_NOT_FOUND: 'No resource at this path',
  GW_ERR_REQUEST_METHOD_NOT_ALLOWED: 'The resource does not support this method',
  GW_ERR_REQUEST_BAD_OPTION: 'The request carries a critical option the gateway does not understand',
  GW_ERR_REQUEST_PROXY_NOT_SUPPORTED: 'The gateway is not a forward proxy (Proxy-Uri and Proxy-Scheme are not supported)',
  GW_ERR_REQUEST_SETTINGS_REFUSED: 'The sensor refused the requested settings',
  GW_ERR_REQUEST_BODY_NOT_ALLOWED: 'The request carries a body its method does not take (a GET has none; send parameters with FETCH)',
  GW_ERR_REQUEST_BAD_BLOCK: 'The Block2 option asks for a reserved block size (SZX 7)',
  GW_ERR_INTERNAL: 'The gateway failed unexpectedly while handling the request',

  // Modules in worker threads (gateway/host/worker/, docs/threading.md). A fault of the module:
  GW_ERR_MODULE_MEMORY_LIMIT: 'The module needs more memory than its ceiling allows',
  GW_ERR_MODULE_WORKER_FAILED: 'The thread running the module stopped unexpectedly; it is restarted',
  // The sensor kept from its module for a while (5.03 with the retry time):
  GW_ERR_SENSOR_TIMEOUT: 'The sensor\'s module ran past its call deadline and was stopped; it restarts after the given time',
  GW_ERR_SENSOR_RESTARTING: 'The sensor\'s module is restarting after a fault; retry after the given time',
  GW_ERR_SENSOR_QUARANTINED: 'The sensor\'s module kept failing and is quarantined; retry after the given time',
  // A limit on what a module may ask of the bus:
  GW_ERR_I2C_RATE_LIMITED: 'The module went over its rate of bus transactions; retry after the given time',

  // Security: OSCORE (RFC 8613), Echo (RFC 9175) and the access policy (docs/security.md)
  GW_ERR_ACCESS_UNAUTHORIZED: 'The access policy allows this method on this resource only to authenticated clients (OSCORE) or other sources',
  GW_ERR_ACCESS_FORBIDDEN: 'The access policy does not allow this client this method on this resource',
  GW_ERR_WRITE_RATE_LIMITED: 'The client sent more writes than its rate allows; retry after the given time',
  GW_ERR_OSCORE_CONTEXT_NOT_FOUND: 'The OSCORE request names a security context (kid, kid context) the gateway does not have',
  GW_ERR_OSCORE_DECRYPT_FAILED: 'The OSCORE request did not decrypt and verify with its security context',
  GW_ERR_OSCORE_REPLAY: 'The OSCORE request repeats a sequence number already received (replay)',
  GW_ERR_OSCORE_BAD_OPTION: 'The OSCORE option is malformed',
  GW_ERR_OSCORE_DECODE: 'The OSCORE message could not be decoded (COSE object or inner message malformed)',
  GW_ERR_OSCORE_CREDENTIALS: 'The OSCORE credentials file is invalid',
  GW_ERR_OSCORE_SEQUENCE_STORE: 'The OSCORE sender sequence numbers could not be read or persisted; the gateway does not send protected messages without them',
  GW_ERR_OSCORE_SEQUENCE_EXHAUSTED: 'The OSCORE sender sequence numbers of a security context are used up; a new context (new keys) is needed',

  // The MQTT uplink (docs/uplink.md): logged and shown in /gw/stats, never a CoAP response
  GW_ERR_UPLINK_UNREACHABLE: 'The MQTT broker cannot be reached; readings are kept in the bounded buffer until it can',
  GW_ERR_UPLINK_AUTH: 'The MQTT broker refused the credentials (or the client id); readings are kept in the bounded buffer',
  GW_ERR_UPLINK_TLS: 'The TLS files of the MQTT uplink cannot be read, or the TLS handshake with the broker failed',
  GW_ERR_UPLINK_BUFFER_FULL: 'The MQTT uplink buffer is full: the oldest buffered readings are dropped',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetails {
  /** How long until retrying makes sense (not ready, quarantined...). */
  retryAfterMs?: number;
  /** The sensor or module concerned. */
  sensor?: string;
  /** A short operator-facing detail; never shown to CoAP clients. */
  detail?: string;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  /** `options.message` replaces the whole message (catalogue text and detail) verbatim. */
  constructor(code: ErrorCode, details: ErrorDetails = {}, options: { cause?: unknown; message?: string } = {}) {
    const base = ERROR_CODES[code];
    super(options.message ?? (details.detail ? `${base}: ${details.detail}` : base), { cause: options.cause });
    this.code = code;
    this.details = details;
  }

  /** The same error with its retry time replaced (a cached failure counting down). */
  withRetryAfter(ms: number): GatewayError {
    return new GatewayError(this.code, { ...this.details, retryAfterMs: ms }, { cause: this.cause, message: this.message });
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Driver errors already carry a catalogue code; keep their actionable message. */
export function fromI2CError(err: I2CError, details: ErrorDetails = {}): GatewayError {
  return new GatewayError(err.code, details, { cause: err, message: err.message });
}
