/**
 * A reading as the sensor service hands it out: the module's reading and where it came from.
 * The flag travels with the value, so that every representation made of it (each CoAP payload
 * format, a notification, the read command) can say so; nothing downstream has to remember
 * which sensor runs on which bus.
 */
import type { Reading } from '../host/sensor-module.ts';

export interface SensorReading extends Reading {
  /**
   * True when a simulated chip answered (the sensor is in `Hardware.simulated`), not a sensor:
   * the value is not a measurement and must never be passed off as one.
   */
  simulated: boolean;
}
