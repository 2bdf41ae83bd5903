/**
 * The five representations of a reading. Each carries the value, the unit, the time and the
 * sensor's name:
 *
 * - application/cbor (60, the default): {"sensor": "tmp102", "value": 21.5, "unit": "Cel", "time": 1767225600.04}
 *   in preferred serialization; readable text keys, because a reading still fits one 6LoWPAN
 *   frame (127 bytes) with them. The compact form is SenML CBOR.
 * - application/senml+cbor (112): a SenML pack of one record with RFC 8428 integer labels
 *   (section 6: bn -2, bt -3, n 0, u 1, v 2): [{-2: "tmp102/", -3: time, 0: "temperature", 1: "Cel", 2: 21.5}].
 * - application/senml+json (110): the same record with the JSON names (bn, bt, n, u, v).
 * - application/json (50): the same fields as the CBOR map.
 * - text/plain (0): "tmp102 21.5 Cel 2026-01-01T00:00:00.040Z".
 *
 * `time` and SenML `bt` are seconds since the Unix epoch with millisecond decimals, the SenML
 * convention (RFC 8428 section 4.5.3: values >= 2^28 are absolute). Units are SenML unit symbols:
 * "Cel" and "K" are in the SenML units registry; "degF" is not, and is written as asked.
 *
 * A value from a simulated chip says so in every format, and a measurement carries nothing
 * extra (its bytes are what they were before simulation was marked):
 * - CBOR and JSON maps: a last key "sim": true.
 * - SenML: a last label "sim_": true in the record. RFC 8428 section 4.4: a label ending in "_" is
 *   must-understand, so a recipient that does not know it rejects the pack rather than store a
 *   simulated value as a measurement. In SenML-CBOR it is a text label (section 6: the integer
 *   labels are a closed set; extensions use text strings). Why not a plain "sim": docs/coap-api.md.
 * - text/plain: " simulated" after the time.
 */
import type { SensorReading } from '../service/sensor-reading.ts';
import { encodeCbor } from './cbor-preferred.ts';
import { ContentFormat } from './content-formats.ts';

export interface ReadingView {
  sensor: string;
  /** Module quantity, e.g. "temperature" (the SenML record name). */
  quantity: string;
  value: number;
  unit: string;
  timeMs: number;
  /** True when the value came from a simulated chip, not a sensor; absent or false: a measurement. */
  simulated?: boolean;
}

export const READING_FORMATS = [ContentFormat.CBOR, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.JSON, ContentFormat.TEXT] as const;
export type ReadingFormat = (typeof READING_FORMATS)[number];

export function viewOf(reading: SensorReading, quantity: string, value: number, unit: string): ReadingView {
  return { sensor: reading.sensor, quantity, value, unit, timeMs: reading.timeMs, simulated: reading.simulated };
}

/** Milliseconds to seconds without binary noise (1767225600040 -> 1767225600.04). */
export function epochSeconds(timeMs: number): number {
  return Number((timeMs / 1000).toFixed(3));
}

/** SenML base name: the sensor, so the resolved name is e.g. "tmp102/temperature" (RFC 8428 section 4.5.1). */
function baseName(view: ReadingView): string {
  return `${view.sensor}/`;
}

/** RFC 8428 section 6, table 4: the integer labels of SenML CBOR. */
export const SENML_LABEL = { bn: -2, bt: -3, n: 0, u: 1, v: 2 } as const;

/** The key of the CBOR and JSON maps that marks a simulated value. */
export const SIM_KEY = 'sim';
/** The SenML label that marks a simulated value: must-understand (RFC 8428 section 4.4), a text label in CBOR too. */
export const SENML_SIM_LABEL = 'sim_';
/** What text/plain appends for a simulated value. */
export const TEXT_SIM_SUFFIX = ' simulated';

export function encodeReading(view: ReadingView, format: ReadingFormat): Uint8Array {
  const time = epochSeconds(view.timeMs);
  const sim = view.simulated === true;
  switch (format) {
    case ContentFormat.CBOR:
      return encodeCbor({ sensor: view.sensor, value: view.value, unit: view.unit, time, ...(sim ? { [SIM_KEY]: true } : {}) });
    case ContentFormat.JSON:
      return utf8(JSON.stringify({ sensor: view.sensor, value: view.value, unit: view.unit, time, ...(sim ? { [SIM_KEY]: true } : {}) }));
    case ContentFormat.SENML_CBOR: {
      const record = new Map<number | string, string | number | boolean>([
        [SENML_LABEL.bn, baseName(view)],
        [SENML_LABEL.bt, time],
        [SENML_LABEL.n, view.quantity],
        [SENML_LABEL.u, view.unit],
        [SENML_LABEL.v, view.value],
      ]);
      if (sim) record.set(SENML_SIM_LABEL, true);
      return encodeCbor([record]);
    }
    case ContentFormat.SENML_JSON:
      return utf8(JSON.stringify([{ bn: baseName(view), bt: time, n: view.quantity, u: view.unit, v: view.value, ...(sim ? { [SENML_SIM_LABEL]: true } : {}) }]));
    case ContentFormat.TEXT:
      return utf8(`${view.sensor} ${view.value} ${view.unit} ${new Date(view.timeMs).toISOString()}${sim ? TEXT_SIM_SUFFIX : ''}`);
  }
}

export function isReadingFormat(n: number): n is ReadingFormat {
  return (READING_FORMATS as readonly number[]).includes(n);
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
