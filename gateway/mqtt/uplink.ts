/**
 * The MQTT uplink: every new reading of every sensor, published on the gateway's topics
 * (topics.ts), with Home Assistant discovery (discovery.ts) and a bounded buffer for the
 * time the broker is away (docs/uplink.md).
 *
 *   SensorService feed ──listener──▶ BoundedBuffer ──pump (setImmediate)──▶ mqtt.js ──TCP/TLS──▶ broker
 *   (one update per period,          (bufferSize, drop    (at most MAX_IN_FLIGHT
 *    sync, never awaits)              oldest, counted)     unacknowledged)
 *
 * The uplink can never slow or stop CoAP: the listener the feed calls only encodes one small
 * JSON object and pushes it into the ring buffer (constant work, no await, no I/O); publishing
 * happens later, from the event loop, and only while connected. Nothing queues in mqtt.js
 * behind the buffer's back (connection.ts): at most MAX_IN_FLIGHT readings are handed to it,
 * and those not acknowledged when the connection drops go back to the front of the buffer, so
 * readings leave in the order they were made, each with its own timestamp.
 *
 * A multi-quantity sensor (ABI 1.1) is one Home Assistant entity and one state topic per
 * quantity (topics.ts); each quantity's payload is one buffer entry, so `bufferSize` counts
 * state messages, two per reading of a temperature-and-humidity sensor.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import type { CborMap } from '../coap/cbor-preferred.ts';
import type { ErrorCode } from '../errors.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { Logger } from '../log.ts';
import type { SensorUpdate } from '../service/sensor-feed.ts';
import type { SensorService } from '../service/sensor-service.ts';
import type { MqttConfig } from '../service/uplink-config.ts';
import { BoundedBuffer } from './bounded-buffer.ts';
import { type UplinkState, brokerName, classifyError, clientOptions, stateOf } from './connection.ts';
import { discoveryConfig } from './discovery.ts';
import { stateMessages } from './state-payload.ts';
import { parseSensorsList, planSettle, relist } from './sensors-list.ts';
import { AVAILABLE, type EntityRef, NOT_AVAILABLE, Topics, entityKey } from './topics.ts';

/** Readings handed to mqtt.js and not yet acknowledged (PUBACK), at most. */
export const MAX_IN_FLIGHT = 32;
/** How long close() waits for the buffer to drain and "offline" to be acknowledged. */
export const CLOSE_BOUND_MS = 2_000;
/** After SUBACK, how long the retained sensors list may take to arrive before we take it as absent. */
const SENSORS_LIST_WAIT_MS = 1_000;

export interface UplinkRetry {
  /** First reconnect delay; doubled after each failure up to maxMs (with 20 % jitter). */
  initialMs: number;
  maxMs: number;
}
export const DEFAULT_RETRY: UplinkRetry = Object.freeze({ initialMs: 1_000, maxMs: 30_000 });

interface Pending {
  sensor: string;
  topic: string;
  payload: string;
}

/** One connection attempt: its own client, so nothing of a dead connection reaches the next. */
interface Connection {
  client: MqttClient;
  connected: boolean;
  dead: boolean;
  error?: ErrorCode;
  inFlight: Pending[];
  /** Sensors whose discovery configs went out on this connection. */
  announced: Set<string>;
  sensorsListSettled: boolean;
  /** The entity keys of the retained sensors list as this connection last wrote it. */
  listed: Set<string>;
  /** Discovery config topic -> the entity key announced on it (two entities must not share one). */
  configTopics: Map<string, string>;
}

export interface MqttUplinkOptions {
  config: MqttConfig;
  service: SensorService;
  logger: Logger;
  clock: Clock;
  /** Reconnect back-off (default DEFAULT_RETRY); tests shorten it. */
  retry?: UplinkRetry;
}

export class MqttUplink {
  readonly #config: MqttConfig;
  readonly #service: SensorService;
  readonly #log: Logger;
  readonly #topics: Topics;
  readonly #clientOptions: IClientOptions;
  readonly #buffer: BoundedBuffer<Pending>;
  readonly #throttle: LogThrottle;
  readonly #retry: UplinkRetry;
  readonly #unsubscribe: Array<() => void> = [];
  /** The last reading published per sensor, by identity: a wall clock stepped back must not silence the uplink. */
  readonly #lastReading = new Map<string, object>();
  #conn: Connection | undefined;
  #state: UplinkState = 'connecting';
  #published = 0;
  #dropped = 0;
  #lastError: ErrorCode | undefined;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #pumpScheduled = false;
  #closing = false;

  private constructor(options: MqttUplinkOptions, clientOpts: IClientOptions, topics: Topics) {
    this.#config = options.config;
    this.#service = options.service;
    this.#log = options.logger.child({ component: 'mqtt' });
    this.#topics = topics;
    this.#clientOptions = clientOpts;
    this.#buffer = new BoundedBuffer(options.config.bufferSize);
    this.#retry = options.retry ?? DEFAULT_RETRY;
    const clock = options.clock;
    this.#throttle = new LogThrottle(() => monotonicMs(clock)).flushEvery();
  }

  /**
   * Returns at once and connects in the background: an unreachable broker never delays or
   * stops the gateway. Throws only for files it cannot read (GW_ERR_UPLINK_TLS for mqtt.ca,
   * cert, key; GW_ERR_CONFIG_INVALID for mqtt.passwordFile): a configuration error the operator
   * must see, so the gateway does not start.
   */
  static start(options: MqttUplinkOptions): MqttUplink {
    const topics = new Topics(options.config);
    const uplink = new MqttUplink(options, clientOptions(options.config, topics), topics);
    uplink.#follow();
    uplink.#connect();
    return uplink;
  }

  /** For /gw/stats "uplink". */
  stats(): CborMap {
    return {
      state: this.#state,
      broker: brokerName(this.#config),
      gatewayId: this.#config.gatewayId,
      published: this.#published,
      buffered: this.#buffer.length + (this.#conn?.inFlight.length ?? 0),
      bufferSize: this.#config.bufferSize,
      dropped: this.#dropped,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /** Publishes "offline" on availability, flushes what it can within CLOSE_BOUND_MS, disconnects. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const stop of this.#unsubscribe.splice(0)) stop();
    clearTimeout(this.#retryTimer);
    const conn = this.#conn;
    const deadline = Date.now() + CLOSE_BOUND_MS;
    let offlineAcked = false;
    if (conn?.connected && !conn.dead) {
      this.#pump();
      // Readings wait for the sensors list (#settleSensorsList); a close within that second leaves them buffered.
      while (Date.now() < deadline && conn.connected && conn.sensorsListSettled && (this.#buffer.length > 0 || conn.inFlight.length > 0)) await sleep(10);
      if (conn.connected) {
        offlineAcked = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
          conn.client.publish(this.#topics.availability, NOT_AVAILABLE, { qos: 1, retain: true }, (err) => {
            clearTimeout(timer);
            resolve(err === undefined || err === null);
          });
        });
      }
    }
    if (conn) {
      conn.dead = true;
      // One end() only, decided now: mqtt.js 5 ignores a second end() once it is disconnecting,
      // and a graceful end() waits for every unacknowledged publish, which a hung broker never
      // acknowledges, so the socket would stay open after close(). Graceful only when nothing is
      // outstanding; otherwise forced, and the unacknowledged readings counted as not published.
      const graceful = conn.connected && conn.inFlight.length === 0 && offlineAcked;
      if (conn.inFlight.length > 0) this.#buffer.unshiftAll(conn.inFlight.splice(0));
      await new Promise<void>((resolve) => conn.client.end(!graceful, {}, () => resolve()));
    }
    this.#state = 'closed';
    if (this.#buffer.length > 0) this.#log.warn('uplink closed with readings not published', { buffered: this.#buffer.length });
    this.#throttle.close();
  }

  // ---- readings -----------------------------------------------------------------------------

  #follow(): void {
    for (const entry of this.#service.list()) {
      const name = entry.config.name;
      this.#unsubscribe.push(this.#service.subscribe(name, (update) => this.#onUpdate(update)));
    }
  }

  /**
   * Called by the sensor feed, on the path that also serves CoAP observers: constant work only.
   * A failed read publishes nothing (docs/uplink.md, "Failed reads"): the retained state stays the
   * last real value, with its own time.
   */
  #onUpdate(update: SensorUpdate): void {
    if (!update.ok || this.#closing) return;
    const reading = update.reading.reading;
    // The feed can hand the same reading twice (an ALERT edge within a period): "each new reading".
    if (reading === this.#lastReading.get(update.sensor)) return;
    this.#lastReading.set(update.sensor, reading);
    let dropped = 0;
    for (const m of stateMessages(update.sensor, reading, this.#topics)) if (this.#buffer.push({ sensor: update.sensor, ...m }) !== undefined) dropped++;
    if (dropped > 0) this.#countDropped(dropped);
    this.#schedulePump();
  }

  #countDropped(n: number): void {
    this.#dropped += n;
    logThrottled(this.#throttle, this.#log, 'warn', 'uplink buffer full: oldest readings dropped', { code: 'GW_ERR_UPLINK_BUFFER_FULL', bufferSize: this.#config.bufferSize, droppedTotal: this.#dropped });
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || !this.#conn?.connected) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Hands readings to mqtt.js, oldest first, while connected and fewer than MAX_IN_FLIGHT wait for their PUBACK. */
  #pump(): void {
    const conn = this.#conn;
    if (!conn?.connected || conn.dead || !conn.sensorsListSettled) return;
    while (conn.inFlight.length < MAX_IN_FLIGHT) {
      const item = this.#buffer.shift();
      if (item === undefined) return;
      if (!conn.announced.has(item.sensor)) this.#announce(conn, item.sensor);
      conn.inFlight.push(item);
      conn.client.publish(item.topic, item.payload, { qos: this.#config.qos, retain: true }, (err) => {
        if (conn.dead) return; // put back in the buffer by #onClose
        const i = conn.inFlight.indexOf(item);
        if (i >= 0) conn.inFlight.splice(i, 1);
        if (err) {
          this.#log.warn('uplink publish failed', { code: 'GW_ERR_UPLINK_UNREACHABLE', topic: item.topic, detail: err.message });
          this.#countDropped(1);
        } else {
          this.#published++;
        }
        this.#pump();
      });
    }
  }

  // ---- the connection -----------------------------------------------------------------------

  #connect(): void {
    if (this.#closing) return;
    const client = mqtt.connect(this.#config.url, this.#clientOptions);
    const conn: Connection = { client, connected: false, dead: false, inFlight: [], announced: new Set(), sensorsListSettled: false, listed: new Set(), configTopics: new Map() };
    this.#conn = conn;
    client.on('connect', () => this.#onConnect(conn));
    client.on('message', (topic, payload) => this.#onMessage(conn, topic, payload));
    client.on('error', (err) => this.#onError(conn, err));
    client.on('close', () => this.#onClose(conn));
  }

  #onError(conn: Connection, err: unknown): void {
    if (conn.dead) return;
    const code = classifyError(err);
    conn.error = code;
    this.#lastError = code;
    this.#state = stateOf(code);
    logThrottled(this.#throttle, this.#log, code === 'GW_ERR_UPLINK_UNREACHABLE' ? 'warn' : 'error', 'uplink cannot connect to the broker', {
      code,
      broker: brokerName(this.#config),
      detail: err instanceof Error ? err.message : String(err),
      buffered: this.#buffer.length,
    }, { key: `connect ${code}` });
  }

  #onClose(conn: Connection): void {
    if (conn.dead) return;
    conn.dead = true;
    const wasConnected = conn.connected;
    conn.connected = false;
    // Unacknowledged readings go out again first on the next connection (QoS 1: at least once).
    const back = conn.inFlight.splice(0);
    const dropped = this.#buffer.unshiftAll(back);
    if (dropped.length > 0) this.#countDropped(dropped.length);
    conn.client.end(true);
    if (this.#closing) return;
    if (conn.error === undefined) {
      this.#lastError = 'GW_ERR_UPLINK_UNREACHABLE';
      this.#state = 'disconnected';
      if (wasConnected) this.#log.warn('uplink lost the broker; buffering readings', { code: 'GW_ERR_UPLINK_UNREACHABLE', broker: brokerName(this.#config) });
      else logThrottled(this.#throttle, this.#log, 'warn', 'uplink cannot connect to the broker', { code: 'GW_ERR_UPLINK_UNREACHABLE', broker: brokerName(this.#config), buffered: this.#buffer.length }, { key: 'connect GW_ERR_UPLINK_UNREACHABLE' });
    }
    const base = Math.min(this.#retry.maxMs, this.#retry.initialMs * 2 ** Math.min(this.#failures, 20));
    this.#failures++;
    const delay = base * (0.8 + 0.2 * Math.random());
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
    this.#retryTimer.unref();
  }

  #onConnect(conn: Connection): void {
    if (conn.dead || this.#closing) return;
    conn.connected = true;
    this.#failures = 0;
    this.#state = 'connected';
    this.#log.info('uplink connected', { broker: brokerName(this.#config), gatewayId: this.#config.gatewayId, buffered: this.#buffer.length });
    const { client } = conn;
    client.publish(this.#topics.availability, AVAILABLE, { qos: 1, retain: true });
    if (this.#config.discovery.enabled) client.subscribe(this.#topics.homeAssistantStatus, { qos: 1 });
    // Read back which sensors this gatewayId announced before, to withdraw those no longer
    // configured; readings wait for it, so that they follow their discovery configs.
    client.subscribe(this.#topics.sensors, { qos: 1 }, (err) => {
      if (conn.dead) return;
      if (err) return this.#settleSensorsList(conn, undefined);
      const timer = setTimeout(() => this.#settleSensorsList(conn, undefined), SENSORS_LIST_WAIT_MS);
      timer.unref();
    });
  }

  #onMessage(conn: Connection, topic: string, payload: Buffer): void {
    if (conn.dead) return;
    if (topic === this.#topics.sensors) {
      this.#settleSensorsList(conn, payload);
    } else if (topic === this.#topics.homeAssistantStatus && payload.toString() === 'online') {
      // Home Assistant (re)started: announce everything again (its discovery may have lost the retained configs).
      this.#log.info('Home Assistant came online: discovery configs published again');
      conn.announced.clear();
      conn.configTopics.clear();
      for (const entry of this.#service.list()) this.#announce(conn, entry.config.name);
    }
  }

  /**
   * A sensor's Home Assistant entities: itself when it has one quantity (its 1.0 topics), one
   * per quantity otherwise; undefined before its module first initialised (quantities unknown).
   */
  #entitiesOf(sensor: string): EntityRef[] | undefined {
    const quantities = this.#service.info(sensor)?.quantities;
    if (quantities === undefined) return undefined;
    return quantities.length > 1 ? quantities.map((q) => ({ sensor, quantity: q.name })) : [{ sensor }];
  }

  /** Empties an entity's retained config (removing it from Home Assistant) and, when asked, its retained state. */
  #withdraw(conn: Connection, e: EntityRef, state: boolean): void {
    conn.client.publish(this.#topics.discoveryConfig(e.sensor, e.quantity), '', { qos: 1, retain: true });
    if (state) conn.client.publish(this.#topics.state(e.sensor, e.quantity), '', { qos: 1, retain: true });
    this.#log.info('uplink: entity withdrawn from Home Assistant', { sensor: e.sensor, ...(e.quantity === undefined ? {} : { quantity: e.quantity }) });
  }

  /**
   * Withdraws the entities announced before and not served now, announces the current ones,
   * writes the new list. An entry of a sensor still configured whose module has not initialised
   * yet (its quantities unknown) is kept as it is: #announce settles it when they are known.
   */
  #settleSensorsList(conn: Connection, payload: Buffer | undefined): void {
    if (conn.sensorsListSettled || conn.dead) return;
    conn.sensorsListSettled = true;
    const { client } = conn;
    client.unsubscribe(this.#topics.sensors);
    let before = parseSensorsList(payload);
    if (before === undefined) {
      this.#log.warn('uplink: the retained sensors list is not JSON; nothing withdrawn', { topic: this.#topics.sensors });
      before = [];
    }
    const configured = this.#service.list().map((e) => e.config.name);
    const plan = planSettle({ before, entities: new Map(configured.map((name) => [name, this.#entitiesOf(name)])), discovery: this.#config.discovery.enabled });
    for (const { entity, state } of plan.withdraw) this.#withdraw(conn, entity, state);
    for (const key of plan.listed) conn.listed.add(key);
    for (const name of configured) this.#announce(conn, name);
    client.publish(this.#topics.sensors, JSON.stringify([...conn.listed]), { qos: 1, retain: true });
    this.#pump();
  }

  /**
   * Publishes a sensor's discovery configs, once per connection (again when Home Assistant
   * restarts). A sensor announced late (its module initialised after the list was settled) is
   * added to the list, and the entries it had there that no longer match its quantities withdrawn.
   */
  #announce(conn: Connection, sensor: string): void {
    if (!this.#config.discovery.enabled || conn.announced.has(sensor)) return;
    const info = this.#service.info(sensor);
    const entry = this.#service.get(sensor);
    const entities = this.#entitiesOf(sensor);
    // Before its module first initialised the unit is unknown: announced with its first reading.
    if (info === undefined || entry === undefined || entities === undefined) return;
    conn.announced.add(sensor);
    const perQuantity = entities.length > 1;
    for (const e of entities) {
      const key = entityKey(e);
      const topic = this.#topics.discoveryConfig(e.sensor, e.quantity);
      const owner = conn.configTopics.get(topic);
      if (owner !== undefined && owner !== key) {
        // "env" measuring "humidity" and a sensor named "env_humidity" (topics.ts): the first announced keeps the topic.
        this.#log.warn('uplink: two entities share one discovery topic; the second is not announced (rename one sensor)', { sensor, entity: key, topic, announced: owner });
        continue;
      }
      conn.configTopics.set(topic, key);
      const q = info.quantities.find((x) => x.name === e.quantity) ?? { name: info.quantity, unit: info.unit };
      const config = discoveryConfig({ name: sensor, quantity: q.name, unit: q.unit, simulated: entry.simulated, perQuantity }, this.#config.gatewayId, this.#topics);
      conn.client.publish(topic, JSON.stringify(config), { qos: 1, retain: true });
    }
    if (!conn.sensorsListSettled) return;
    const { withdraw, changed } = relist(conn.listed, sensor, entities);
    for (const e of withdraw) this.#withdraw(conn, e, true);
    if (changed) conn.client.publish(this.#topics.sensors, JSON.stringify([...conn.listed]), { qos: 1, retain: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
