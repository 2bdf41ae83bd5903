/**
 * The messages between WorkerModule (main thread) and its module worker (module-worker.ts).
 * Everything here crosses postMessage, so it is plain data: errors travel as their code,
 * details and message and become GatewayErrors again on the other side.
 */
import type { RateLimit } from '../token-bucket.ts';
import type { ScaledClockState, SharedClockState } from '../../../drivers/clock.ts';
import { type ErrorCode, type ErrorDetails, GatewayError, isErrorCode } from '../../errors.ts';
import type { ThrottleSnapshot } from '../../log-throttle.ts';
import type { LogLevel } from '../../log.ts';
import type { Capabilities } from '../capabilities.ts';
import type { ModuleInfo, Reading, SensorModuleStats } from '../sensor-module.ts';
import type { ChannelDescriptor } from './bus-channel.ts';

/**
 * SystemClock: the worker uses its own. ManualClock: the worker sees (and sleeps on) the same
 * time. ScaledClock: the worker builds the same clock (same origin and rate) over the process's
 * one monotonic clock.
 */
export type ClockDescriptor = { kind: 'system' } | { kind: 'manual'; state: SharedClockState } | { kind: 'scaled'; state: ScaledClockState };

/** What a module worker is started with: the clock every module on it shares. */
export interface ModuleWorkerData {
  clock: ClockDescriptor;
}

/**
 * One module on a worker (a "tenant"): a worker of its own has one, a shared worker several
 * (docs/threading.md, "Shared workers").
 */
export interface TenantData {
  module: WebAssembly.Module;
  name: string;
  capabilities: Capabilities;
  init: { bus: number; address: number; settings?: Record<string, unknown> };
  sleepBudgetMs: number | undefined;
  i2cRateLimit: RateLimit | undefined;
  memoryLimitBytes: number;
  bus: ChannelDescriptor | undefined;
  /** The module's log throttle as the previous worker left it: a restart does not refill the budget. */
  logThrottle: ThrottleSnapshot;
  /**
   * Set on a shared worker: the longest one call of this module may hold the thread (and so the
   * other modules on it), enforced in the worker through the module's interrupt points
   * (gateway/host/interrupt-points.ts) and its sleep budget.
   */
  sliceMs: number | undefined;
}

/** The counters of a module that has made no call yet. */
export const EMPTY_STATS: Readonly<SensorModuleStats> = Object.freeze({ calls: 0, faults: 0, instancesCreated: 0, i2cTransactions: 0, memoryBytes: 0 });

export type CallOp = 'start' | 'read' | 'reconfigure';

export type WorkerRequest =
  | { type: 'add'; tenant: number; data: TenantData }
  | { type: 'remove'; tenant: number }
  | CallRequest;

export interface CallRequest {
  type: 'call';
  tenant: number;
  id: number;
  op: CallOp;
  settings?: Record<string, unknown>;
}

export interface SerializedError {
  code: ErrorCode;
  details: ErrorDetails;
  message: string;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'log'; tenant: number; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | {
      type: 'result';
      tenant: number;
      id: number;
      ok: boolean;
      value?: Reading | ModuleInfo;
      error?: SerializedError;
      /** The call was ended because it ran past its slice on a shared worker (not a fault of its configured limits). */
      sliceExceeded?: boolean;
      info: ModuleInfo | undefined;
      stats: SensorModuleStats;
      logThrottle: ThrottleSnapshot;
    };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof GatewayError) return { code: err.code, details: { ...err.details }, message: err.message };
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code: 'GW_ERR_INTERNAL', details: { detail: text.slice(0, 200) }, message: text };
}

export function deserializeError(e: SerializedError): GatewayError {
  const code = isErrorCode(e.code) ? e.code : 'GW_ERR_INTERNAL';
  return new GatewayError(code, e.details, { message: e.message });
}
