/**
 * A reading as the uplink publishes it: {"value": 21.5, "unit": "Cel", "time": 1767225600.04}
 * plus "sim": true for a simulated chip, the same keys and the same marking as the CoAP JSON
 * representation (gateway/coap/reading-formats.ts), without "sensor" (the topic names it).
 * `time` is the reading's own time, seconds since the epoch with millisecond decimals: a
 * reading published late from the buffer, or twice (QoS 1 is at least once), says when it was made.
 *
 * A multi-quantity sensor (ABI 1.1) publishes one such payload per quantity, each on its own
 * topic, with "quantity" added: {"value": 45.21, "unit": "%RH", "quantity": "humidity", ...}.
 * One value per payload keeps `value_json.value` working for every consumer, as it does for a
 * TMP102.
 */
import type { SensorReading } from '../service/sensor-reading.ts';
import type { Topics } from './topics.ts';

/** The key that marks a simulated value: the same as SIM_KEY of the CoAP front, which this front does not import. */
export const SIM_KEY = 'sim';

function seconds(reading: SensorReading): number {
  return Number((reading.timeMs / 1000).toFixed(3));
}

export function statePayload(reading: SensorReading): string {
  return JSON.stringify({ value: reading.value, unit: reading.unit, time: seconds(reading), ...(reading.simulated ? { [SIM_KEY]: true } : {}) });
}

/** One of a reading's measurements (the service's type, so this front needs nothing of the WASM host). */
export type Measurement = SensorReading['measurements'][number];

/** One quantity of a multi-quantity reading. */
export function quantityPayload(reading: SensorReading, m: Measurement): string {
  return JSON.stringify({ value: m.value, unit: m.unit, quantity: m.quantity, time: seconds(reading), ...(reading.simulated ? { [SIM_KEY]: true } : {}) });
}

/**
 * A reading's state messages: one on `<sensor>/state` for a single-quantity sensor, one per
 * quantity on `<sensor>/<quantity>/state` otherwise (at most 8, ABI 1.1: bounded work per reading).
 */
export function stateMessages(sensor: string, reading: SensorReading, topics: Topics): Array<{ topic: string; payload: string }> {
  const ms = reading.measurements;
  if (ms.length <= 1) return [{ topic: topics.state(sensor), payload: statePayload(reading) }];
  return ms.map((m) => ({ topic: topics.state(sensor, m.quantity), payload: quantityPayload(reading, m) }));
}
