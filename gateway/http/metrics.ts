/**
 * GET /metrics: what /gw/stats shows, and each sensor's latest reading, in the Prometheus text
 * exposition format 0.0.4 (`# HELP`, `# TYPE`, `name{label="v"} value`). Names carry the
 * `coapgw_` prefix, counters end in `_total`, and units are in the names in base units
 * (`_seconds`, `_bytes`, `_celsius`), as Prometheus' naming conventions ask.
 *
 * One sample per quantity of a reading (a multi-quantity sensor, ABI 1.1, has several), in a
 * family named after the quantity and its Prometheus base unit: a TMP102 gives
 * coapgw_sensor_temperature_celsius{sensor="tmp102",quantity="temperature",unit="Cel",simulated="true"},
 * an SHT3x also coapgw_sensor_humidity_ratio{sensor="env",quantity="humidity",unit="%RH",...} 0.4521.
 * Why a family per quantity and base unit, not one family with a unit label: a metric name
 * "MUST refer to a single unit and a single quantity" and "SHOULD use base units" with a unit
 * suffix (https://prometheus.io/docs/practices/naming/): sum() or avg() over one family must
 * mean something, which a temperature averaged with a humidity does not. The base units are
 * that page's table: celsius for temperature, and for a percentage a ratio, "values are 0-1
 * (rather than 0-100)", so %RH is divided by 100 (`unit` keeps the SenML unit the module reported).
 * A unit the table below does not know goes into coapgw_sensor_value with the unit as a label only.
 * `simulated="true"` is never dropped: a dashboard must be able to tell a simulated chip from a
 * measurement, as every CoAP payload can.
 */
import type { CborMap, CborValue } from '../coap/cbor-preferred.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * SenML unit symbols (RFC 8428 section 12.1; RFC 8798 sections 2 and 3 for the secondary units
 * and their scales) -> the Prometheus base unit's suffix and the factor to it. Kelvin stays
 * kelvin: the naming page's "celsius" is for practical temperatures, and a module reporting K
 * means an absolute one.
 */
const BASE_UNITS: Readonly<Record<string, { suffix: string; scale: number }>> = {
  Cel: { suffix: 'celsius', scale: 1 },
  K: { suffix: 'kelvin', scale: 1 },
  Pa: { suffix: 'pascals', scale: 1 },
  hPa: { suffix: 'pascals', scale: 100 },
  '%RH': { suffix: 'ratio', scale: 0.01 },
  '%EL': { suffix: 'ratio', scale: 0.01 },
  '%': { suffix: 'ratio', scale: 0.01 },
  '/100': { suffix: 'ratio', scale: 0.01 },
  '/': { suffix: 'ratio', scale: 1 },
  V: { suffix: 'volts', scale: 1 },
  mV: { suffix: 'volts', scale: 0.001 },
  A: { suffix: 'amperes', scale: 1 },
  mA: { suffix: 'amperes', scale: 0.001 },
  W: { suffix: 'watts', scale: 1 },
  kW: { suffix: 'watts', scale: 1000 },
  J: { suffix: 'joules', scale: 1 },
  Wh: { suffix: 'joules', scale: 3600 },
  kWh: { suffix: 'joules', scale: 3_600_000 },
  lx: { suffix: 'lux', scale: 1 },
  m: { suffix: 'meters', scale: 1 },
  mm: { suffix: 'meters', scale: 0.001 },
  cm: { suffix: 'meters', scale: 0.01 },
  km: { suffix: 'meters', scale: 1000 },
  s: { suffix: 'seconds', scale: 1 },
  ms: { suffix: 'seconds', scale: 0.001 },
  Hz: { suffix: 'hertz', scale: 1 },
  B: { suffix: 'bytes', scale: 1 },
};

/** A value in its base unit; 15 significant digits drop what binary floating point adds (45.21 * 0.01). */
function toBase(value: number, scale: number): number {
  return scale === 1 ? value : Number((value * scale).toPrecision(15));
}

/** Families of the gateway's own that a quantity's name could spell (a "reading_timestamp" in s): such a quantity goes to coapgw_sensor_value. */
const OWN_SENSOR_FAMILIES: ReadonlySet<string> = new Set(['coapgw_sensor_reading_timestamp_seconds', 'coapgw_sensor_module_memory_bytes']);

/** A sensor's latest reading: every quantity measured, the primary first. */
export interface ReadingSample {
  sensor: string;
  simulated: boolean;
  timeMs: number;
  measurements: ReadonlyArray<{ quantity: string; unit: string; value: number }>;
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
    for (const m of r.measurements) {
      const base = Object.hasOwn(BASE_UNITS, m.unit) ? BASE_UNITS[m.unit] : undefined;
      const labels = { sensor: r.sensor, quantity: m.quantity, unit: m.unit, simulated: String(r.simulated) };
      const family = base === undefined ? undefined : `coapgw_sensor_${snake(m.quantity)}_${base.suffix}`;
      if (base !== undefined && family !== undefined && !OWN_SENSOR_FAMILIES.has(family)) {
        const help = `The sensor's latest ${m.quantity} reading, in ${base.suffix === 'ratio' ? 'a ratio 0..1' : base.suffix} (the unit label: the SenML unit the module reported); simulated="true": a simulated chip, not a measurement.`;
        w.add(family, 'gauge', help, toBase(m.value, base.scale), labels);
      } else w.add('coapgw_sensor_value', 'gauge', "The sensor's latest reading, in the unit its label names; simulated=\"true\": not a measurement.", m.value, labels);
    }
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
