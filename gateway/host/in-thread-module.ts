/**
 * The engine on the calling thread behind the ModuleHandle interface. Calls block the thread
 * for as long as the module and the bus take: fine for `npm run read` and tests, while the
 * gateway itself uses WorkerModule.
 */
import type { ModuleHandle, ModuleHandleStats } from './module-handle.ts';
import type { ModuleInfo, Reading, SensorModule } from './sensor-module.ts';

export class InThreadModule implements ModuleHandle {
  readonly #engine: SensorModule;

  constructor(engine: SensorModule) {
    this.#engine = engine;
  }

  get name(): string {
    return this.#engine.name;
  }
  get info(): ModuleInfo | undefined {
    return this.#engine.info;
  }
  get stats(): ModuleHandleStats {
    return { ...this.#engine.stats, quarantined: false, restarts: 0, thread: 'gateway' };
  }
  async start(): Promise<ModuleInfo> {
    return this.#engine.start();
  }
  async read(): Promise<Reading> {
    return this.#engine.read();
  }
  async reconfigure(settings: Record<string, unknown>): Promise<ModuleInfo> {
    return this.#engine.reconfigure(settings);
  }
  async drain(): Promise<void> {}
  async close(): Promise<void> {}
}
