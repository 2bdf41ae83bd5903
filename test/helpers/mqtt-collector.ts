/**
 * An MQTT subscriber for the uplink's tests (real Mosquitto: test/helpers/mosquitto.ts): keeps
 * everything it receives, and waits for what a test expects.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

export class Collector {
  readonly messages: Received[] = [];
  readonly client: MqttClient;
  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => this.messages.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
  }
  static async open(url: string, topic = '#', options: mqtt.IClientOptions = {}): Promise<Collector> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 100, ...options });
    const c = new Collector(client);
    await client.subscribeAsync(topic, { qos: 1 });
    return c;
  }
  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }
  async until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.messages.slice(-20))}`);
      await sleep(20);
    }
  }
  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
