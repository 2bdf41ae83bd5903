/**
 * Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/, "MQTT
 * discovery"; https://www.home-assistant.io/integrations/sensor.mqtt/ for the sensor fields).
 * One retained config per entity, all tied to one device, the gateway (`device.identifiers:
 * [gatewayId]`): a single-quantity sensor is one entity on `<prefix>/sensor/<gatewayId>/<sensor>/config`;
 * a multi-quantity sensor (ABI 1.1) is one entity per quantity on
 * `<prefix>/sensor/<gatewayId>/<sensor>_<quantity>/config` (topics.ts). An empty retained payload
 * on the same topic removes the entity (withdrawal of a sensor no longer configured).
 *
 * A simulated sensor says so where a person sees it, in the entity's name ("tmp102 temperature
 * (simulated)"), and in its attributes: `json_attributes_topic` is the state topic, whose JSON
 * carries "sim": true, so the entity's attributes show `sim: true` beside value, unit and time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../service/config.ts';
import { AVAILABLE, NOT_AVAILABLE, type Topics } from './topics.ts';

/**
 * SenML units (RFC 8428 section 12.1, RFC 8798 sections 2 and 3) to Home Assistant's spelling of
 * the same unit and the sensor device class that takes it (the "Device class" list of
 * https://www.home-assistant.io/integrations/sensor/: each class names the units it accepts; a
 * device class given with a unit it does not accept makes Home Assistant refuse the entity).
 * `byQuantity`: a unit several device classes share (µg/m³ for pm1, pm25, pm10...) gets its
 * class from the quantity's name, or none. A unit not here passes as it is, with no class: the
 * entity still appears, as a plain number with that unit.
 */
const UNITS: Record<string, { unit: string; deviceClass?: string; byQuantity?: Record<string, string> }> = {
  Cel: { unit: '°C', deviceClass: 'temperature' },
  K: { unit: 'K', deviceClass: 'temperature' },
  '%RH': { unit: '%', deviceClass: 'humidity' },
  '%EL': { unit: '%', deviceClass: 'battery' },
  Pa: { unit: 'Pa', deviceClass: 'pressure' },
  hPa: { unit: 'hPa', deviceClass: 'pressure' },
  V: { unit: 'V', deviceClass: 'voltage' },
  mV: { unit: 'mV', deviceClass: 'voltage' },
  A: { unit: 'A', deviceClass: 'current' },
  mA: { unit: 'mA', deviceClass: 'current' },
  W: { unit: 'W', deviceClass: 'power' },
  kW: { unit: 'kW', deviceClass: 'power' },
  lx: { unit: 'lx', deviceClass: 'illuminance' },
  Hz: { unit: 'Hz', deviceClass: 'frequency' },
  MHz: { unit: 'MHz', deviceClass: 'frequency' },
  dBm: { unit: 'dBm', deviceClass: 'signal_strength' },
  'ug/m3': { unit: 'µg/m³', byQuantity: { pm1: 'pm1', pm25: 'pm25', pm2_5: 'pm25', pm10: 'pm10' } },
  ppm: { unit: 'ppm', byQuantity: { co2: 'carbon_dioxide', carbon_dioxide: 'carbon_dioxide', co: 'carbon_monoxide', carbon_monoxide: 'carbon_monoxide' } },
  'm/s': { unit: 'm/s', byQuantity: { wind_speed: 'wind_speed', speed: 'speed' } },
  'km/h': { unit: 'km/h', byQuantity: { wind_speed: 'wind_speed', speed: 'speed' } },
};

/** Home Assistant's unit_of_measurement and device_class (when it has one) for a SenML unit and quantity. */
export function homeAssistantUnit(senmlUnit: string, quantity: string): { unit: string; deviceClass?: string } {
  const mapped = Object.hasOwn(UNITS, senmlUnit) ? UNITS[senmlUnit]! : undefined;
  if (mapped === undefined) return { unit: senmlUnit };
  const deviceClass = mapped.deviceClass ?? (mapped.byQuantity && Object.hasOwn(mapped.byQuantity, quantity) ? mapped.byQuantity[quantity] : undefined);
  return deviceClass === undefined ? { unit: mapped.unit } : { unit: mapped.unit, deviceClass };
}

export interface DiscoveredSensor {
  name: string;
  /** What the module measures and in what SenML unit (ModuleInfo), e.g. temperature, Cel. */
  quantity: string;
  unit: string;
  simulated: boolean;
  /**
   * True for one quantity of a multi-quantity sensor: its own topics and ids
   * (`<gatewayId>/<sensor>/<quantity>`); false for a single-quantity sensor, whose ids stay those
   * of a 1.0 module (`<gatewayId>/<sensor>`).
   */
  perQuantity?: boolean;
}

let version: string | undefined;
/** The gateway's version, from package.json (read once). */
export function softwareVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

export function discoveryConfig(sensor: DiscoveredSensor, gatewayId: string, topics: Topics): Record<string, unknown> {
  const mapped = homeAssistantUnit(sensor.unit, sensor.quantity);
  const quantity = sensor.perQuantity ? sensor.quantity : undefined;
  // "/" cannot occur in any part (all are topic levels), so gatewayId/sensor[/quantity] is
  // unambiguous where gatewayId_sensor would not be (a_b + c against a + b_c).
  const id = quantity === undefined ? `${gatewayId}/${sensor.name}` : `${gatewayId}/${sensor.name}/${quantity}`;
  const slug = entitySlug(quantity === undefined ? `${gatewayId}_${sensor.name}` : `${gatewayId}_${sensor.name}_${quantity}`);
  const state = topics.state(sensor.name, quantity);
  return {
    name: `${sensor.name} ${sensor.quantity}${sensor.simulated ? ' (simulated)' : ''}`,
    unique_id: id,
    // object_id is what Home Assistant up to 2025.9 builds the entity id from; default_entity_id
    // replaces it from 2025.10 (object_id deprecated then). Both, so either version names it
    // sensor.<slug>; an entity id must be lower case letters, digits and single inner underscores.
    object_id: slug,
    default_entity_id: `sensor.${slug}`,
    state_topic: state,
    value_template: '{{ value_json.value }}',
    unit_of_measurement: mapped.unit,
    ...(mapped.deviceClass ? { device_class: mapped.deviceClass } : {}),
    state_class: 'measurement',
    availability_topic: topics.availability,
    payload_available: AVAILABLE,
    payload_not_available: NOT_AVAILABLE,
    json_attributes_topic: state,
    device: {
      identifiers: [gatewayId],
      name: `CoAP gateway ${gatewayId}`,
      manufacturer: 'coap-sensor-gateway',
      model: 'CoAP sensor gateway',
      sw_version: softwareVersion(),
    },
  };
}

/**
 * An entity id part as Home Assistant validates it (homeassistant/core.py, valid_entity_id:
 * [a-z0-9_], no leading, trailing or double underscore): lower case, anything else made "_",
 * runs collapsed, ends trimmed; "sensor" if nothing is left.
 */
export function entitySlug(text: string): string {
  const slug = text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '');
  return slug === '' ? 'sensor' : slug;
}
