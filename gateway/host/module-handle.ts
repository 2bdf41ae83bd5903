/**
 * A sensor module as the service uses it, wherever it runs. Two implementations:
 *   InThreadModule  (gateway/host/in-thread-module.ts) runs the engine (SensorModule) on the
 *                   calling thread: simple, for tools and tests;
 *   WorkerModule    (gateway/host/worker/) runs the same engine in a worker thread, so a slow
 *                   bus or a runaway module never holds up the CoAP event loop, and can be
 *                   stopped when it runs past its deadline.
 * The worker is only transport around the engine (as the Extism JS SDK does it).
 */
import type { ModuleInfo, Reading, SensorModuleStats } from './sensor-module.ts';

export interface ModuleHandle {
  readonly name: string;
  /** What the last successful `gw_init` announced; undefined before. */
  readonly info: ModuleInfo | undefined;
  /** A snapshot of the engine's counters (updated after each call). */
  readonly stats: ModuleHandleStats;
  /** Instantiate and initialise now; rejects with what `gw_init` reported. */
  start(): Promise<ModuleInfo>;
  /** One reading; rejects with a GatewayError. */
  read(): Promise<Reading>;
  /** `gw_init` again with new settings; the old ones stay when the module refuses. */
  reconfigure(settings: Record<string, unknown>): Promise<ModuleInfo>;
  /** Settles when every call made so far has finished (a hot reload waits for it before close). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface ModuleHandleStats extends SensorModuleStats {
  /** True while the module is kept from running after failing again and again. */
  quarantined: boolean;
  /** Instances stopped from outside (deadline, memory ceiling). */
  restarts: number;
  /**
   * Where the module runs now: its bus's shared worker, a worker of its own, or the gateway's
   * thread (docs/threading.md).
   */
  thread: 'shared' | 'own' | 'gateway';
}
