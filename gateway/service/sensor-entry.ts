/**
 * One configured sensor as the service holds it. Its own file so that the service's helpers
 * (hot reload, the file watcher) can name it without importing the service that uses them.
 */
import type { GpioInput } from '../../drivers/gpio.ts';
import type { ModuleHandle } from '../host/module-handle.ts';
import type { SensorConfig } from './config.ts';
import type { PacedReader } from './paced-reader.ts';
import type { SensorFeed } from './sensor-feed.ts';
import type { SensorReading } from './sensor-reading.ts';

export interface SensorEntry {
  config: SensorConfig;
  /**
   * True when a simulated chip answers for this sensor (its name is in `Hardware.simulated`):
   * its readings are not measurements, and every reading of it carries `simulated: true`.
   */
  readonly simulated: boolean;
  /** Replaced by a hot reload; everything else about the sensor (feed, observers) stays. */
  module: ModuleHandle;
  /** SHA-256 of the module file now running. */
  moduleSha256: string;
  /**
   * Set while a hot reload has the device to itself (the new module configuring and first
   * reading the chip): reads wait for it rather than let two modules drive one chip at once.
   */
  deviceHeld?: Promise<void> | undefined;
  paced: PacedReader<SensorReading>;
  feed: SensorFeed;
  alertInput: GpioInput | undefined;
}
