/**
 * The sensor service: the configured sensors, each read through its WASM module. The CoAP
 * front and the command-line tools ask it for readings by sensor name; they never see modules,
 * buses or drivers.
 *
 * `read` is async although today's module calls are synchronous, so that moving modules into
 * worker threads and pacing reads by the sensor's conversion rate stays inside this layer.
 */
import type { Clock } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { type ModuleInfo, type Reading, SensorModule } from '../host/sensor-module.ts';
import type { GatewayConfig, SensorConfig } from './config.ts';
import { type Hardware, openHardware } from './hardware.ts';

export interface SensorEntry {
  config: SensorConfig;
  module: SensorModule;
}

export interface ServiceOptions {
  clock: Clock;
  logger: Logger;
  /** Sleep budget per module call (default 1000 ms). */
  sleepBudgetMs?: number;
}

export class SensorService {
  readonly hardware: Hardware;
  readonly #sensors: Map<string, SensorEntry>;
  readonly #log: Logger;

  private constructor(hardware: Hardware, sensors: Map<string, SensorEntry>, logger: Logger) {
    this.hardware = hardware;
    this.#sensors = sensors;
    this.#log = logger;
  }

  /**
   * Opens the buses, loads and validates every module, and initialises each sensor. A module
   * that cannot load stops start-up (a configuration problem); a sensor that does not answer
   * yet is logged and retried on its first read.
   */
  static async start(config: GatewayConfig, options: ServiceOptions): Promise<SensorService> {
    const hardware = openHardware(config, options.clock);
    const sensors = new Map<string, SensorEntry>();
    try {
      for (const sensor of config.sensors) {
        const module = await SensorModule.fromFile(sensor.module, {
          name: sensor.name,
          capabilities: { i2c: sensor.grant },
          bus: hardware.buses.get(sensor.grant.bus),
          clock: options.clock,
          logger: options.logger,
          init: { bus: sensor.bus, address: sensor.address, settings: sensor.settings },
          sleepBudgetMs: options.sleepBudgetMs,
        });
        sensors.set(sensor.name, { config: sensor, module });
        try {
          const info = module.start();
          options.logger.info('sensor ready', { sensor: sensor.name, module: `${info.name} ${info.version}`, periodMs: info.periodMs });
        } catch (err) {
          if (!(err instanceof GatewayError) || isLoadError(err)) throw err;
          options.logger.warn('sensor not answering at start-up; will retry on read', { sensor: sensor.name, code: err.code, detail: err.message });
        }
      }
    } catch (err) {
      hardware.close();
      throw err;
    }
    return new SensorService(hardware, sensors, options.logger);
  }

  list(): SensorEntry[] {
    return [...this.#sensors.values()];
  }

  get(name: string): SensorEntry | undefined {
    return this.#sensors.get(name);
  }

  info(name: string): ModuleInfo | undefined {
    return this.#sensors.get(name)?.module.info;
  }

  async read(name: string): Promise<Reading> {
    const entry = this.#sensors.get(name);
    if (!entry) throw new Error(`no sensor named ${name}`);
    return entry.module.read();
  }

  close(): void {
    this.hardware.close();
    this.#log.debug('sensor service closed');
  }
}

/** Errors that mean the module itself is unusable, not that the sensor is absent. */
function isLoadError(err: GatewayError): boolean {
  return err.code.startsWith('GW_ERR_MODULE_') && err.code !== 'GW_ERR_MODULE_DEADLINE';
}
