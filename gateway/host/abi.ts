/**
 * Module ABI version 1: the constants of docs/module-abi.md. Change them only together with
 * that page and the Go side (wasm-src/gwabi). Minor version 1.1 (several quantities per
 * reading) adds output keys only, checked in module-output.ts: nothing here changes for it.
 */
import type { ErrorCode } from '../errors.ts';

export const ABI_VERSION = 1;

export const GW_NAMESPACE = 'gw';
export const WASI_NAMESPACE = 'wasi_snapshot_preview1';

/** Exports every module must have, with the kind WebAssembly.Module.exports reports. */
export const REQUIRED_EXPORTS = [
  { name: 'memory', kind: 'memory' },
  { name: '_initialize', kind: 'function' },
  { name: 'gw_abi_version', kind: 'function' },
  { name: 'gw_init', kind: 'function' },
  { name: 'gw_read', kind: 'function' },
] as const;

/** The `gw` imports of version 1. */
export const GW_IMPORT_NAMES = [
  'input_read',
  'output_write',
  'log',
  'i2c_write',
  'i2c_read',
  'i2c_read_reg',
  'i2c_write_reg',
] as const;

/** Largest output a module may hand back in one call (bytes). */
export const MAX_OUTPUT_BYTES = 4096;
/** Largest single I2C transfer (the SMBus block limit). */
export const MAX_I2C_TRANSFER = 32;

/** Status codes returned by exports and by `gw` imports (docs/module-abi.md, "Status codes"). */
export const Status = {
  OK: 0,
  NOT_READY: -1,
  I2C_NACK: -2,
  I2C_BUS: -3,
  I2C_TIMEOUT: -4,
  DENIED: -5,
  BAD_ARGUMENT: -6,
  WRONG_DEVICE: -7,
  BAD_CONFIG: -8,
  BAD_REQUEST: -9,
  NOT_INITIALIZED: -10,
  INTERNAL: -11,
  I2C_UNAVAILABLE: -12,
  /** The module went over its bus transaction rate limit; nothing reached the bus. */
  RATE_LIMITED: -13,
} as const;

export type StatusValue = (typeof Status)[keyof typeof Status];

/** What a module's negative status means in the error catalogue. */
export const STATUS_ERROR_CODES: Record<number, ErrorCode> = {
  [Status.NOT_READY]: 'GW_ERR_SENSOR_NOT_READY',
  [Status.I2C_NACK]: 'GW_ERR_I2C_NACK',
  [Status.I2C_BUS]: 'GW_ERR_I2C_BUS',
  [Status.I2C_TIMEOUT]: 'GW_ERR_I2C_TIMEOUT',
  [Status.DENIED]: 'GW_ERR_CAPABILITY_DENIED',
  [Status.BAD_ARGUMENT]: 'GW_ERR_MODULE_BAD_ARGUMENT',
  [Status.WRONG_DEVICE]: 'GW_ERR_SENSOR_WRONG_DEVICE',
  [Status.BAD_CONFIG]: 'GW_ERR_MODULE_BAD_CONFIG',
  [Status.BAD_REQUEST]: 'GW_ERR_MODULE_BAD_REQUEST',
  [Status.NOT_INITIALIZED]: 'GW_ERR_MODULE_NOT_INITIALIZED',
  [Status.INTERNAL]: 'GW_ERR_MODULE_INTERNAL',
  // I2C_UNAVAILABLE has no fixed code: the host reports the driver's precise one.
  [Status.I2C_UNAVAILABLE]: 'GW_ERR_I2C_NO_ADAPTER',
  [Status.RATE_LIMITED]: 'GW_ERR_I2C_RATE_LIMITED',
};

/** The status a `gw` I2C import returns for a driver error code. */
export const I2C_ERROR_STATUS: Record<string, StatusValue> = {
  GW_ERR_I2C_NACK: Status.I2C_NACK,
  GW_ERR_I2C_BUS: Status.I2C_BUS,
  GW_ERR_I2C_TIMEOUT: Status.I2C_TIMEOUT,
  GW_ERR_I2C_UNSUPPORTED: Status.I2C_BUS,
  GW_ERR_I2C_PERMISSION: Status.I2C_UNAVAILABLE,
  GW_ERR_I2C_NO_ADAPTER: Status.I2C_UNAVAILABLE,
  GW_ERR_I2C_BUSY: Status.I2C_UNAVAILABLE,
};

/**
 * The `"code"` of a failure's output as `wasm-src/gwabi` writes it: the status's name in lower
 * case with dashes (`"not-ready"`). It restates the status, which decides the error.
 */
export const STATUS_CODE_NAMES: ReadonlySet<string> = new Set([
  'not-ready', 'i2c-nack', 'i2c-bus', 'i2c-timeout', 'denied', 'bad-argument', 'wrong-device',
  'bad-config', 'bad-request', 'not-initialized', 'internal', 'i2c-unavailable', 'rate-limited',
]);

/**
 * The catalogue codes a module may name as a failure's `"code"` in place of its status's code
 * (docs/module-abi.md, "Output on failure"): the states of the sensor itself, which only the
 * module can tell. A Sensirion SHT3x, for one, NACKs the read header after Fetch Data while it
 * has no measurement yet (SHT3x-DIS datasheet v5, section 4.6 "Readout of Measurement Results
 * for Periodic Mode"): the host sees GW_ERR_I2C_NACK, the module knows it means
 * GW_ERR_SENSOR_NOT_READY.
 *
 * Not the others. The I2C codes and GW_ERR_CAPABILITY_DENIED are facts the host observed itself,
 * with its own precise message (GW_ERR_I2C_PERMISSION's advice to join group `i2c` would be
 * false from a module). The GW_ERR_MODULE_* codes judge the module (traps, bad output, a unit
 * outside the SenML registry), and most stop the gateway at start-up (sensor-service.ts,
 * isLoadError): a module that wants that returns BAD_CONFIG or INTERNAL. The
 * supervision states (GW_ERR_SENSOR_TIMEOUT, _RESTARTING, _QUARANTINED) are the host's, with
 * retry times it keeps. Request codes (GW_ERR_REQUEST_*) blame the CoAP client (4.xx), and the
 * rest (configuration, OSCORE, uplink, GW_ERR_INTERNAL) belong to other parts of the gateway.
 */
export const MODULE_REPORTABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'GW_ERR_SENSOR_NOT_READY',
  'GW_ERR_SENSOR_WRONG_DEVICE',
]);
