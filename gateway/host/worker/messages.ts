/**
 * The messages between WorkerModule (main thread) and its module worker (module-worker.ts).
 * Everything here crosses postMessage, so it is plain data: errors travel as their code,
 * details and message and become GatewayErrors again on the other side.
 */
import type { RateLimit } from '../token-bucket.ts';
import type { SharedClockState } from '../../../drivers/clock.ts';
import { type ErrorCode, type ErrorDetails, GatewayError, isErrorCode } from '../../errors.ts';
import type { ThrottleSnapshot } from '../../log-throttle.ts';
import type { LogLevel } from '../../log.ts';
import type { Capabilities } from '../capabilities.ts';
import type { ModuleInfo, Reading, SensorModuleStats } from '../sensor-module.ts';
import type { ChannelDescriptor } from './bus-channel.ts';

/** SystemClock: the worker uses its own. ManualClock: the worker sees (and sleeps on) the same time. */
export type ClockDescriptor = { kind: 'system' } | { kind: 'manual'; state: SharedClockState };

export interface ModuleWorkerData {
  module: WebAssembly.Module;
  name: string;
  capabilities: Capabilities;
  init: { bus: number; address: number; settings?: Record<string, unknown> };
  sleepBudgetMs: number | undefined;
  i2cRateLimit: RateLimit | undefined;
  memoryLimitBytes: number;
  clock: ClockDescriptor;
  bus: ChannelDescriptor | undefined;
  /** The module's log throttle as the previous worker left it: a restart does not refill the budget. */
  logThrottle: ThrottleSnapshot;
}

export type CallOp = 'start' | 'read' | 'reconfigure';

export interface CallRequest {
  type: 'call';
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
  | { type: 'log'; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | {
      type: 'result';
      id: number;
      ok: boolean;
      value?: Reading | ModuleInfo;
      error?: SerializedError;
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
