/**
 * The five representations of a multi-quantity reading (GET /env of an SHT3x: temperature and
 * humidity), what a sensor's own path answers when its module declared several quantities.
 * Each quantity alone is at `<path>/<quantity>`, in reading-formats.ts's formats.
 *
 * - application/senml+cbor (112): a pack of one record per quantity, in the module's order
 *   (primary first). bn and bt are on the first record only: RFC 8428 section 4.5 applies a base
 *   field to every later record until another replaces it, so the resolved names are
 *   "env/temperature", "env/humidity" and every record has the same time:
 *   [{-2: "env/", -3: time, 0: "temperature", 1: "Cel", 2: 25.01}, {0: "humidity", 1: "%RH", 2: 40.01}].
 *   A simulated value: "sim_": true on EVERY record, since a must-understand label (section 4.4)
 *   is per record, and a consumer that splits the pack must still see it on each value.
 * - application/senml+json (110): the same pack with the JSON labels.
 * - application/cbor (60, the default) and application/json (50): one map,
 *   {"sensor": "env", "time": 1767225600.04, "sim": true, "values": {"temperature": {"value": 25, "unit": "Cel"}, "humidity": {"value": 40, "unit": "%RH"}}},
 *   "sim" present only for a simulated value, as in a single reading.
 * - text/plain (0): one line per quantity, the SenML resolved name first:
 *   "env/temperature 25 Cel 2026-01-01T00:00:00.040Z simulated\nenv/humidity 40 %RH 2026-01-01T00:00:00.040Z simulated".
 */
import { type CborValue, encodeCbor } from './cbor-preferred.ts';
import { ContentFormat } from './content-formats.ts';
import { type ReadingFormat, SENML_LABEL, SENML_SIM_LABEL, SIM_KEY, TEXT_SIM_SUFFIX, epochSeconds } from './reading-formats.ts';

export interface PackEntry {
  quantity: string;
  value: number;
  unit: string;
}

export interface PackView {
  sensor: string;
  timeMs: number;
  /** Every quantity, the primary first. */
  entries: readonly PackEntry[];
  /** True when the values came from a simulated chip, not a sensor. */
  simulated?: boolean;
}

export function encodePack(view: PackView, format: ReadingFormat): Uint8Array {
  const time = epochSeconds(view.timeMs);
  const sim = view.simulated === true;
  switch (format) {
    case ContentFormat.CBOR:
    case ContentFormat.JSON: {
      const values: Record<string, { value: number; unit: string }> = {};
      for (const e of view.entries) values[e.quantity] = { value: e.value, unit: e.unit };
      const map = { sensor: view.sensor, time, ...(sim ? { [SIM_KEY]: true } : {}), values };
      return format === ContentFormat.CBOR ? encodeCbor(map) : utf8(JSON.stringify(map));
    }
    case ContentFormat.SENML_CBOR:
      return encodeCbor(
        view.entries.map((e, i) => {
          const record = new Map<number | string, CborValue>();
          if (i === 0) {
            record.set(SENML_LABEL.bn, `${view.sensor}/`);
            record.set(SENML_LABEL.bt, time);
          }
          record.set(SENML_LABEL.n, e.quantity);
          record.set(SENML_LABEL.u, e.unit);
          record.set(SENML_LABEL.v, e.value);
          if (sim) record.set(SENML_SIM_LABEL, true);
          return record;
        }),
      );
    case ContentFormat.SENML_JSON:
      return utf8(JSON.stringify(view.entries.map((e, i) => ({ ...(i === 0 ? { bn: `${view.sensor}/`, bt: time } : {}), n: e.quantity, u: e.unit, v: e.value, ...(sim ? { [SENML_SIM_LABEL]: true } : {}) }))));
    case ContentFormat.TEXT: {
      const at = new Date(view.timeMs).toISOString();
      return utf8(view.entries.map((e) => `${view.sensor}/${e.quantity} ${e.value} ${e.unit} ${at}${sim ? TEXT_SIM_SUFFIX : ''}`).join('\n'));
    }
  }
}

/**
 * A number that differs when any value of the pack differs, for Observe's "notify on change"
 * (observe-conditions.ts compares one number per notification). A 53-bit hash of the values as
 * reported (after unit and precision): two different value sets share it with odds of 2^-53, and
 * the cost of that would be one change not notified until the next.
 */
export function packFingerprint(entries: readonly PackEntry[]): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (const e of entries) {
    const s = `${e.quantity}=${e.value};`;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
