/**
 * The topic scheme of the uplink (docs/uplink.md, "Topics"). Sensor names and gateway ids are
 * already [A-Za-z0-9_-] (config.ts, uplink-config.ts), so no level needs escaping and none can
 * hold a wildcard.
 *
 *   <topicPrefix>/<gatewayId>/<sensor>/state          a reading, JSON, retained
 *   <topicPrefix>/<gatewayId>/availability            "online" / "offline" (last will), retained
 *   <topicPrefix>/<gatewayId>/sensors                 the sensors announced to Home Assistant, JSON list, retained
 *   <discoveryPrefix>/sensor/<gatewayId>/<sensor>/config   Home Assistant discovery, retained
 *   <discoveryPrefix>/status                          Home Assistant's own "online" / "offline"
 */
import type { MqttConfig } from '../service/uplink-config.ts';

export const AVAILABLE = 'online';
export const NOT_AVAILABLE = 'offline';

export class Topics {
  readonly #base: string;
  readonly #discovery: string;
  readonly #gatewayId: string;

  constructor(config: Pick<MqttConfig, 'topicPrefix' | 'gatewayId' | 'discovery'>) {
    this.#base = `${config.topicPrefix}/${config.gatewayId}`;
    this.#discovery = config.discovery.prefix;
    this.#gatewayId = config.gatewayId;
  }

  state(sensor: string): string {
    return `${this.#base}/${sensor}/state`;
  }

  get availability(): string {
    return `${this.#base}/availability`;
  }

  get sensors(): string {
    return `${this.#base}/sensors`;
  }

  discoveryConfig(sensor: string): string {
    return `${this.#discovery}/sensor/${this.#gatewayId}/${sensor}/config`;
  }

  get homeAssistantStatus(): string {
    return `${this.#discovery}/status`;
  }
}
