/**
 * One live-control command for the simulated sensors (issue 16, docs/simulation.md "Live
 * control"), as a client sends it to POST /gw/sim or `npm run sim` builds it:
 *
 *   {"op": "set", "celsius": 40, "sensor": "tmp102"}      hold the temperature until "release"
 *   {"op": "set", "humidity": 80, "sensor": "env"}        hold the humidity (an SHT3x), with or without "celsius"
 *   {"op": "release"}                                     back to the scenario or configured profiles (both quantities)
 *   {"op": "fault", "fault": "unplugged", "for": "30s"}   inject a fault ("for": until "clear" if absent)
 *   {"op": "clear"}  {"op": "reset"}                      clear the injected fault; reset the chip
 *   {"op": "pause"}  {"op": "resume"}  {"op": "jump", "to": "10m"}   the scenario's time
 *
 * The body arrives decoded (a CBOR map or a JSON object) and is checked strictly, as every
 * request body is here: an unknown key, a wrong type or a value out of range is refused with
 * GW_ERR_SIM_COMMAND_INVALID and a detail naming the field, never ignored, so a typo cannot
 * quietly leave the simulation as it was. `sensor` may be left out only when exactly one sensor
 * is simulated; a sensor that is not simulated is GW_ERR_SIM_UNKNOWN_SENSOR.
 */
import { formatDuration, parseDuration } from '../../drivers/sim/duration.ts';
import { SIM_FAULTS, type SimFault } from '../../drivers/sim/scenario-runner.ts';
import { TMP102_SPEC_RANGE_C } from '../../drivers/sim/tmp102-registers.ts';
import { GatewayError } from '../errors.ts';

/** The TMP102's specified temperature range (SBOS397, Electrical Characteristics): -55..150 °C. */
const { min: SIM_CELSIUS_MIN, max: SIM_CELSIUS_MAX } = TMP102_SPEC_RANGE_C;

/**
 * The longest injected fault: a week. Timers on Node overflow past 2^31 - 1 ms (about 24.8
 * days) and would fire at once; a week is far beyond any test and well inside that.
 */
export const SIM_MAX_FAULT_MS = 7 * 86_400_000;

export type SimCommand =
  /** At least one of `celsius` and `humidity`. */
  | { op: 'set'; sensor: string; celsius?: number; humidity?: number }
  | { op: 'release'; sensor: string }
  | { op: 'fault'; sensor: string; fault: SimFault; forMs: number | undefined }
  | { op: 'clear'; sensor: string }
  | { op: 'reset'; sensor: string }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'jump'; toMs: number };

export type SimOp = SimCommand['op'];

/** The keys each command takes besides `op`. */
const KEYS: Readonly<Record<SimOp, readonly string[]>> = {
  set: ['celsius', 'humidity', 'sensor'],
  release: ['sensor'],
  fault: ['fault', 'for', 'sensor'],
  clear: ['sensor'],
  reset: ['sensor'],
  pause: [],
  resume: [],
  jump: ['to'],
};

export const SIM_OPS = Object.keys(KEYS) as SimOp[];

function invalid(detail: string): GatewayError {
  return new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { detail });
}

/** The body's entries, from a CBOR map (cbor-strict-decode.ts gives a Map) or a JSON object. */
function entriesOf(body: unknown): Map<string, unknown> {
  let pairs: Array<[unknown, unknown]>;
  if (body instanceof Map) pairs = [...body];
  else if (typeof body === 'object' && body !== null && !Array.isArray(body) && !(body instanceof Uint8Array)) pairs = Object.entries(body);
  else throw invalid('body: must be a map such as {"op": "set", "celsius": 40}');
  const out = new Map<string, unknown>();
  for (const [key, value] of pairs) {
    if (typeof key !== 'string') throw invalid('body: keys must be text');
    out.set(key, value);
  }
  return out;
}

export function parseSimCommand(body: unknown, sensors: readonly string[]): SimCommand {
  const fields = entriesOf(body);
  const op = fields.get('op');
  if (op === undefined) throw invalid(`op: missing (one of ${SIM_OPS.join(', ')})`);
  if (typeof op !== 'string' || !Object.hasOwn(KEYS, op)) throw invalid(`op: must be one of ${SIM_OPS.join(', ')}`);
  const known = KEYS[op as SimOp];
  for (const key of fields.keys()) {
    if (key !== 'op' && !known.includes(key)) throw invalid(`${key}: unknown for op "${op}" (it takes ${['op', ...known].join(', ')})`);
  }
  switch (op as SimOp) {
    case 'set': {
      const sensor = sensorFrom(fields, sensors);
      // Humidity alone is a complete command; otherwise celsius is required, as it always was.
      const humidity = fields.get('humidity') === undefined ? undefined : humidityFrom(fields.get('humidity'));
      const celsius = humidity !== undefined && fields.get('celsius') === undefined ? undefined : celsiusFrom(fields.get('celsius'));
      return { op: 'set', sensor, ...(celsius === undefined ? {} : { celsius }), ...(humidity === undefined ? {} : { humidity }) };
    }
    case 'release':
    case 'clear':
    case 'reset':
      return { op: op as 'release' | 'clear' | 'reset', sensor: sensorFrom(fields, sensors) };
    case 'fault':
      return { op: 'fault', sensor: sensorFrom(fields, sensors), fault: faultFrom(fields.get('fault')), forMs: faultDurationFrom(fields.get('for')) };
    case 'pause':
    case 'resume':
      return { op: op as 'pause' | 'resume' };
    case 'jump':
      return { op: 'jump', toMs: durationFrom('to', fields.get('to')) };
  }
}

function sensorFrom(fields: Map<string, unknown>, sensors: readonly string[]): string {
  const v = fields.get('sensor');
  if (v === undefined) {
    if (sensors.length === 1) return sensors[0]!;
    if (sensors.length === 0) throw new GatewayError('GW_ERR_SIM_UNKNOWN_SENSOR', { detail: 'sensor: no sensor is simulated' });
    throw invalid(`sensor: required when more than one sensor is simulated (${sensors.join(', ')})`);
  }
  if (typeof v !== 'string' || v === '') throw invalid('sensor: must be the name of a simulated sensor');
  if (!sensors.includes(v)) {
    throw new GatewayError('GW_ERR_SIM_UNKNOWN_SENSOR', { sensor: v, detail: `sensor: ${JSON.stringify(v)} is not simulated (simulated: ${sensors.join(', ') || 'none'})` });
  }
  return v;
}

function celsiusFrom(v: unknown): number {
  if (v === undefined) throw invalid('celsius: missing (or give "humidity" for a sensor that measures it)');
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid('celsius: must be a number (°C)');
  if (v < SIM_CELSIUS_MIN || v > SIM_CELSIUS_MAX) throw invalid(`celsius: must be ${SIM_CELSIUS_MIN}..${SIM_CELSIUS_MAX} (the TMP102's range)`);
  return v;
}

/** Relative humidity, 0..100 %RH: the SHT3x's output range (SHT3x-DIS section 4.13). */
function humidityFrom(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid('humidity: must be a number (%RH)');
  if (v < 0 || v > 100) throw invalid('humidity: must be 0..100 (%RH)');
  return v;
}

function faultFrom(v: unknown): SimFault {
  if (v === undefined) throw invalid(`fault: missing (one of ${SIM_FAULTS.join(', ')})`);
  if (typeof v !== 'string' || !(SIM_FAULTS as readonly string[]).includes(v)) throw invalid(`fault: must be one of ${SIM_FAULTS.join(', ')}`);
  return v as SimFault;
}

/** A duration as scenario files take it: "30s", "10m", or a number of seconds (drivers/sim/duration.ts). */
function durationFrom(field: string, v: unknown): number {
  if (v === undefined) throw invalid(`${field}: missing (a duration such as "30s" or "10m")`);
  if (typeof v !== 'string' && typeof v !== 'number') throw invalid(`${field}: must be a duration such as "30s" or "10m", or a number of seconds`);
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof RangeError) throw invalid(`${field}: ${err.message}`);
    throw err;
  }
}

function faultDurationFrom(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const ms = durationFrom('for', v);
  if (ms <= 0) throw invalid('for: must be longer than 0 (leave it out for a fault that lasts until "clear")');
  if (ms > SIM_MAX_FAULT_MS) throw invalid(`for: at most ${formatDuration(SIM_MAX_FAULT_MS)}`);
  return ms;
}
