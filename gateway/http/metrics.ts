/**
 * GET /metrics: what /gw/stats shows, and each sensor's latest reading, in the Prometheus text
 * exposition format 0.0.4 (`# HELP`, `# TYPE`, `name{label="v"} value`). Names carry the
 * `coapgw_` prefix, counters end in `_total`, and units are in the names in base units
 * (`_seconds`, `_bytes`, `_celsius`), as Prometheus' naming conventions ask.
 *
 * A reading's family is named after its quantity and unit: a TMP102 gives
 * coapgw_sensor_temperature_celsius{sensor="tmp102",unit="Cel",simulated="true"}. A unit the
 * table below does not know goes into coapgw_sensor_value with the unit as a label only.
 * `simulated="true"` is never dropped: a dashboard must be able to tell a simulated chip from a
 * measurement, as every CoAP payload can.
 */
import type { CborMap, CborValue } from '../coap/cbor-preferred.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** SenML unit symbols (RFC 8428 section 12.1) -> Prometheus base-unit suffixes. */
const UNIT_SUFFIX: Readonly<Record<string, string>> = { Cel: 'celsius', K: 'kelvin', Pa: 'pascals', '%RH': 'percent', V: 'volts', A: 'amperes', W: 'watts', lx: 'lux', m: 'meters', s: 'seconds' };

export interface ReadingSample {
  sensor: string;
  quantity: string;
  value: number;
  unit: string;
  simulated: boolean;
  timeMs: number;
}

type Labels = Record<string, string>;

class Family {
  readonly samples: Array<{ labels: Labels; value: number }> = [];
  constructor(readonly name: string, readonly type: 'gauge' | 'counter', readonly help: string) {}
}

/** Label values: backslash, double quote and line feed escaped (the format's only escapes). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** A metric name part from a free name: camelCase to snake_case, anything else to '_'. */
export function snake(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
}

export class MetricsWriter {
  readonly #families = new Map<string, Family>();

  add(name: string, type: 'gauge' | 'counter', help: string, value: number, labels: Labels = {}): void {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = new Family(name, type, help);
      this.#families.set(name, f);
    }
    f.samples.push({ labels, value });
  }

  /** Declares a family with no sample yet, so that HELP and TYPE are there (a counter at its start). */
  declare(name: string, type: 'gauge' | 'counter', help: string): void {
    if (!this.#families.has(name)) this.#families.set(name, new Family(name, type, help));
  }

  text(): string {
    let out = '';
    for (const f of this.#families.values()) {
      out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
      for (const s of f.samples) {
        const labels = Object.entries(s.labels);
        const l = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
        out += `${f.name}${l} ${formatValue(s.value)}\n`;
      }
    }
    return out;
  }
}

const num = (v: CborValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const isMap = (v: CborValue | undefined): v is CborMap => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

export interface MetricsInput {
  /** GatewayServer.stats(): what /gw/stats shows. */
  stats: CborMap;
  readings: ReadingSample[];
  /** Sensors whose last read failed, with the catalogue code. */
  failures: Array<{ sensor: string; code: string }>;
  /** Responses of the HTTP view by status, and the open event streams. */
  http: { responses: ReadonlyMap<number, number>; eventClients: number };
}

export function renderMetrics(input: MetricsInput): string {
  const w = new MetricsWriter();
  const { stats } = input;

  for (const r of input.readings) {
    const suffix = UNIT_SUFFIX[r.unit];
    const labels = { sensor: r.sensor, unit: r.unit, simulated: String(r.simulated) };
    if (suffix !== undefined) w.add(`coapgw_sensor_${snake(r.quantity)}_${suffix}`, 'gauge', `The sensor's latest ${r.quantity} reading, in ${suffix}; simulated="true": a simulated chip, not a measurement.`, r.value, labels);
    else w.add('coapgw_sensor_value', 'gauge', "The sensor's latest reading, in the unit its label names; simulated=\"true\": not a measurement.", r.value, { ...labels, quantity: r.quantity });
  }
  w.declare('coapgw_sensor_reading_timestamp_seconds', 'gauge', 'When the latest reading was taken, seconds since the Unix epoch.');
  for (const r of input.readings) w.add('coapgw_sensor_reading_timestamp_seconds', 'gauge', '', r.timeMs / 1000, { sensor: r.sensor });
  w.declare('coapgw_sensor_up', 'gauge', '1 when the latest read of the sensor succeeded, 0 when it failed (the code label says why).');
  for (const r of input.readings) w.add('coapgw_sensor_up', 'gauge', '', 1, { sensor: r.sensor, code: '' });
  for (const f of input.failures) w.add('coapgw_sensor_up', 'gauge', '', 0, { sensor: f.sensor, code: f.code });

  const simulated = Array.isArray(stats['simulatedSensors']) ? (stats['simulatedSensors'] as string[]) : [];
  const sensors = isMap(stats['sensors']) ? stats['sensors'] : {};
  w.declare('coapgw_sensor_simulated', 'gauge', '1 when a simulated chip answers for the sensor: its values are not measurements.');
  for (const name of Object.keys(sensors)) w.add('coapgw_sensor_simulated', 'gauge', '', simulated.includes(name) ? 1 : 0, { sensor: name });

  w.declare('coapgw_coap_requests_total', 'counter', 'CoAP responses to requests, by response code (requests over HTTP are in coapgw_http_responses_total).');
  for (const [code, n] of Object.entries(isMap(stats['requests']) ? stats['requests'] : {})) if (num(n) !== undefined) w.add('coapgw_coap_requests_total', 'counter', '', num(n)!, { code });
  w.declare('coapgw_coap_notifications_total', 'counter', 'CoAP Observe notifications sent (RFC 7641), by response code.');
  for (const [code, n] of Object.entries(isMap(stats['notifications']) ? stats['notifications'] : {})) if (num(n) !== undefined) w.add('coapgw_coap_notifications_total', 'counter', '', num(n)!, { code });

  const totals: Array<[string, string, string]> = [
    ['i2cTransactions', 'coapgw_i2c_transactions_total', 'I2C transactions every bus has carried.'],
    ['moduleCalls', 'coapgw_module_calls_total', 'Calls into the sensor modules (WebAssembly).'],
    ['cacheHits', 'coapgw_reading_cache_hits_total', 'Requests answered with a reading still fresh, without a bus read.'],
    ['reloads', 'coapgw_module_reloads_total', 'Successful hot reloads of sensor modules.'],
  ];
  for (const [key, name, help] of totals) {
    const v = num(stats[key]);
    if (v !== undefined) w.add(name, 'counter', help, v);
  }
  const observers = num(stats['observers']);
  if (observers !== undefined) w.add('coapgw_coap_observers', 'gauge', 'Registered CoAP observers (RFC 7641), all sensors.', observers);
  w.declare('coapgw_sensor_observers', 'gauge', 'Registered CoAP observers of the sensor.');
  w.declare('coapgw_sensor_module_faults_total', 'counter', "Failed calls into the sensor's module.");
  w.declare('coapgw_sensor_module_memory_bytes', 'gauge', "Linear memory of the sensor's module instance.");
  w.declare('coapgw_sensor_quarantined', 'gauge', '1 while the sensor is kept from running after failing again and again.');
  for (const [name, s] of Object.entries(sensors)) {
    if (!isMap(s)) continue;
    const o = num(s['observers']);
    if (o !== undefined) w.add('coapgw_sensor_observers', 'gauge', '', o, { sensor: name });
    const faults = num(s['moduleFaults']);
    if (faults !== undefined) w.add('coapgw_sensor_module_faults_total', 'counter', '', faults, { sensor: name });
    const mem = num(s['memoryBytes']);
    if (mem !== undefined) w.add('coapgw_sensor_module_memory_bytes', 'gauge', '', mem, { sensor: name });
    if (typeof s['quarantined'] === 'boolean') w.add('coapgw_sensor_quarantined', 'gauge', '', s['quarantined'] ? 1 : 0, { sensor: name });
  }
  if (isMap(stats['exchanges'])) {
    const e = stats['exchanges'];
    if (num(e['entries']) !== undefined) w.add('coapgw_coap_exchanges', 'gauge', 'CoAP exchanges held for duplicate detection (RFC 7252 section 4.5).', num(e['entries'])!);
    if (num(e['duplicates']) !== undefined) w.add('coapgw_coap_duplicates_total', 'counter', 'Duplicate CoAP messages recognised.', num(e['duplicates'])!);
  }
  if (isMap(stats['uplink'])) uplinkMetrics(w, stats['uplink']);
  const uptime = num(stats['uptimeSeconds']);
  if (uptime !== undefined) w.add('coapgw_uptime_seconds', 'gauge', 'Seconds since the CoAP server started.', uptime);

  w.declare('coapgw_http_responses_total', 'counter', 'Responses of the HTTP view, by HTTP status.');
  for (const [status, n] of [...input.http.responses].sort((a, b) => a[0] - b[0])) w.add('coapgw_http_responses_total', 'counter', '', n, { status: String(status) });
  w.add('coapgw_http_event_clients', 'gauge', 'Open Server-Sent Events streams of the live page.', input.http.eventClients);
  return w.text();
}

/**
 * The uplink object of /gw/stats (docs/uplink.md), whatever fields it has: its `state` string as
 * coapgw_uplink_state{state="..."} 1, numbers and booleans as gauges named after their path
 * (buffer.entries -> coapgw_uplink_buffer_entries), and numbers whose name says they only grow
 * (published, dropped, ...Total) as counters.
 */
function uplinkMetrics(w: MetricsWriter, uplink: CborMap, prefix = 'coapgw_uplink'): void {
  for (const [key, v] of Object.entries(uplink)) {
    const name = `${prefix}_${snake(key)}`;
    if (key === 'state' && typeof v === 'string' && prefix === 'coapgw_uplink') w.add('coapgw_uplink_state', 'gauge', 'The MQTT uplink state: 1 on the current one.', 1, { state: v });
    else if (typeof v === 'boolean') w.add(name, 'gauge', `/gw/stats uplink.${key} (1 true, 0 false).`, v ? 1 : 0);
    else if (typeof v === 'number') {
      const counter = /^(published|dropped|failed|sent|received|connects|reconnects|errors)|Total$/i.test(key);
      const metric = counter ? `${name.replace(/_total$/, '')}_total` : name;
      w.add(metric, counter ? 'counter' : 'gauge', `/gw/stats uplink ${prefix === 'coapgw_uplink' ? '' : prefix.slice('coapgw_uplink_'.length) + '.'}${key}.`, v);
    } else if (isMap(v)) uplinkMetrics(w, v, name);
  }
}
