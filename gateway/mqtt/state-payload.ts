/**
 * A reading as the uplink publishes it: {"value": 21.5, "unit": "Cel", "time": 1767225600.04}
 * plus "sim": true for a simulated chip, the same keys and the same marking as the CoAP JSON
 * representation (gateway/coap/reading-formats.ts), without "sensor" (the topic names it).
 * `time` is the reading's own time, seconds since the epoch with millisecond decimals: a
 * reading published late from the buffer, or twice (QoS 1 is at least once), says when it was made.
 */
import type { SensorReading } from '../service/sensor-reading.ts';

/** The key that marks a simulated value: the same as SIM_KEY of the CoAP front, which this front does not import. */
export const SIM_KEY = 'sim';

export function statePayload(reading: SensorReading): string {
  const time = Number((reading.timeMs / 1000).toFixed(3));
  return JSON.stringify({ value: reading.value, unit: reading.unit, time, ...(reading.simulated ? { [SIM_KEY]: true } : {}) });
}
