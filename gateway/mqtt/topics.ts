/**
 * The topic scheme of the uplink (docs/uplink.md, "Topics"). Sensor names and gateway ids are
 * already [A-Za-z0-9_-] (config.ts, uplink-config.ts) and quantity names [a-z0-9_] (ABI 1.1,
 * gateway/host/module-output.ts), so no level needs escaping and none can hold a wildcard.
 *
 *   <topicPrefix>/<gatewayId>/<sensor>/state               a reading, JSON, retained (one quantity)
 *   <topicPrefix>/<gatewayId>/<sensor>/<quantity>/state    one quantity of a multi-quantity sensor
 *   <topicPrefix>/<gatewayId>/availability                 "online" / "offline" (last will), retained
 *   <topicPrefix>/<gatewayId>/sensors                      the entities announced to Home Assistant, JSON list, retained
 *   <discoveryPrefix>/sensor/<gatewayId>/<sensor>/config            Home Assistant discovery, retained
 *   <discoveryPrefix>/sensor/<gatewayId>/<sensor>_<quantity>/config  the same, per quantity
 *   <discoveryPrefix>/status                               Home Assistant's own "online" / "offline"
 *
 * Home Assistant's discovery topic has one object-id level only ("<component>/[<node_id>/]
 * <object_id>/config"), so a quantity cannot be a level of its own there; `_` joins it to the
 * sensor. That is not injective (a sensor named "env_humidity" beside a sensor "env" measuring
 * "humidity"): the uplink announces the first and refuses the second (uplink.ts, #announce).
 */
import type { MqttConfig } from '../service/uplink-config.ts';

export const AVAILABLE = 'online';
export const NOT_AVAILABLE = 'offline';

/**
 * One Home Assistant entity: a single-quantity sensor, or one quantity of a multi-quantity
 * sensor. Its key, in the retained sensors list, is "<sensor>" or "<sensor>/<quantity>" ("/"
 * can occur in neither part, so the key is unambiguous).
 */
export interface EntityRef {
  sensor: string;
  /** Absent for a single-quantity sensor: its topics are those of a 1.0 module, byte for byte. */
  quantity?: string;
}

export function entityKey(e: EntityRef): string {
  return e.quantity === undefined ? e.sensor : `${e.sensor}/${e.quantity}`;
}

const KEY = /^([A-Za-z0-9_-]{1,64})(?:\/([a-z][a-z0-9_]{0,31}))?$/;

/** The entity a key of the retained sensors list names, or undefined for anything else. */
export function parseEntityKey(key: string): EntityRef | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  return m[2] === undefined ? { sensor: m[1]! } : { sensor: m[1]!, quantity: m[2] };
}

export class Topics {
  readonly #base: string;
  readonly #discovery: string;
  readonly #gatewayId: string;

  constructor(config: Pick<MqttConfig, 'topicPrefix' | 'gatewayId' | 'discovery'>) {
    this.#base = `${config.topicPrefix}/${config.gatewayId}`;
    this.#discovery = config.discovery.prefix;
    this.#gatewayId = config.gatewayId;
  }

  state(sensor: string, quantity?: string): string {
    return quantity === undefined ? `${this.#base}/${sensor}/state` : `${this.#base}/${sensor}/${quantity}/state`;
  }

  get availability(): string {
    return `${this.#base}/availability`;
  }

  get sensors(): string {
    return `${this.#base}/sensors`;
  }

  discoveryConfig(sensor: string, quantity?: string): string {
    return `${this.#discovery}/sensor/${this.#gatewayId}/${quantity === undefined ? sensor : `${sensor}_${quantity}`}/config`;
  }

  get homeAssistantStatus(): string {
    return `${this.#discovery}/status`;
  }
}
