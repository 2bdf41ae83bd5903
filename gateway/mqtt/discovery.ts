/**
 * Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/, "MQTT
 * discovery"; https://www.home-assistant.io/integrations/sensor.mqtt/ for the sensor fields).
 * One retained config per sensor on `<prefix>/sensor/<gatewayId>/<sensor>/config`, all tied to one
 * device, the gateway (`device.identifiers: [gatewayId]`). An empty retained payload on the same
 * topic removes the entity (withdrawal of a sensor no longer configured).
 *
 * A simulated sensor says so where a person sees it, in the entity's name ("tmp102 temperature
 * (simulated)"), and in its attributes: `json_attributes_topic` is the state topic, whose JSON
 * carries "sim": true, so the entity's attributes show `sim: true` beside value, unit and time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../service/config.ts';
import { AVAILABLE, NOT_AVAILABLE, type Topics } from './topics.ts';

/** SenML units (RFC 8428 section 12.1) to Home Assistant's unit_of_measurement and device_class. */
const UNITS: Record<string, { unit: string; deviceClass?: string }> = {
  Cel: { unit: '°C', deviceClass: 'temperature' },
  K: { unit: 'K', deviceClass: 'temperature' },
  degF: { unit: '°F', deviceClass: 'temperature' },
  '%RH': { unit: '%', deviceClass: 'humidity' },
  Pa: { unit: 'Pa', deviceClass: 'pressure' },
  hPa: { unit: 'hPa', deviceClass: 'pressure' },
};

export interface DiscoveredSensor {
  name: string;
  /** What the module measures and in what SenML unit (ModuleInfo), e.g. temperature, Cel. */
  quantity: string;
  unit: string;
  simulated: boolean;
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
  const mapped = UNITS[sensor.unit];
  // "/" cannot occur in either part (both are topic levels), so gatewayId/sensor is unambiguous
  // where gatewayId_sensor would not be (a_b + c against a + b_c).
  const id = `${gatewayId}/${sensor.name}`;
  const slug = entitySlug(`${gatewayId}_${sensor.name}`);
  return {
    name: `${sensor.name} ${sensor.quantity}${sensor.simulated ? ' (simulated)' : ''}`,
    unique_id: id,
    // object_id is what Home Assistant up to 2025.9 builds the entity id from; default_entity_id
    // replaces it from 2025.10 (object_id deprecated then). Both, so either version names it
    // sensor.<slug>; an entity id must be lower case letters, digits and single inner underscores.
    object_id: slug,
    default_entity_id: `sensor.${slug}`,
    state_topic: topics.state(sensor.name),
    value_template: '{{ value_json.value }}',
    unit_of_measurement: mapped?.unit ?? sensor.unit,
    ...(mapped?.deviceClass ? { device_class: mapped.deviceClass } : {}),
    state_class: 'measurement',
    availability_topic: topics.availability,
    payload_available: AVAILABLE,
    payload_not_available: NOT_AVAILABLE,
    json_attributes_topic: topics.state(sensor.name),
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
