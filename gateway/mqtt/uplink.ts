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
import { statePayload } from './state-payload.ts';
import { AVAILABLE, NOT_AVAILABLE, Topics } from './topics.ts';

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
  /** Sensors whose discovery config went out on this connection. */
  announced: Set<string>;
  sensorsListSettled: boolean;
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
    const dropped = this.#buffer.push({ sensor: update.sensor, topic: this.#topics.state(update.sensor), payload: statePayload(reading) });
    if (dropped !== undefined) this.#countDropped(1);
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
    const conn: Connection = { client, connected: false, dead: false, inFlight: [], announced: new Set(), sensorsListSettled: false };
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
      for (const entry of this.#service.list()) this.#announce(conn, entry.config.name);
    }
  }

  /** Withdraws the sensors announced before and not configured now, announces the current ones, writes the new list. */
  #settleSensorsList(conn: Connection, payload: Buffer | undefined): void {
    if (conn.sensorsListSettled || conn.dead) return;
    conn.sensorsListSettled = true;
    const { client } = conn;
    client.unsubscribe(this.#topics.sensors);
    let before: string[] = [];
    if (payload !== undefined && payload.length > 0) {
      try {
        const parsed: unknown = JSON.parse(payload.toString('utf8'));
        if (Array.isArray(parsed)) before = parsed.filter((s): s is string => typeof s === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(s));
      } catch {
        this.#log.warn('uplink: the retained sensors list is not JSON; nothing withdrawn', { topic: this.#topics.sensors });
      }
    }
    const configured = this.#service.list().map((e) => e.config.name);
    const now = this.#config.discovery.enabled ? configured : [];
    for (const name of before) {
      if (now.includes(name)) continue;
      // An empty retained payload removes the entity; the retained state goes only with a sensor
      // that is gone (with discovery switched off, a configured sensor keeps publishing its state).
      client.publish(this.#topics.discoveryConfig(name), '', { qos: 1, retain: true });
      if (!configured.includes(name)) client.publish(this.#topics.state(name), '', { qos: 1, retain: true });
      this.#log.info('uplink: sensor withdrawn from Home Assistant', { sensor: name });
    }
    for (const name of now) this.#announce(conn, name);
    client.publish(this.#topics.sensors, JSON.stringify(now), { qos: 1, retain: true });
    this.#pump();
  }

  /** Publishes a sensor's discovery config, once per connection (again when Home Assistant restarts). */
  #announce(conn: Connection, sensor: string): void {
    if (!this.#config.discovery.enabled || conn.announced.has(sensor)) return;
    const info = this.#service.info(sensor);
    const entry = this.#service.get(sensor);
    // Before its module first initialised the unit is unknown: announced with its first reading.
    if (info === undefined || entry === undefined) return;
    conn.announced.add(sensor);
    const config = discoveryConfig({ name: sensor, quantity: info.quantity, unit: info.unit, simulated: entry.simulated }, this.#config.gatewayId, this.#topics);
    conn.client.publish(this.#topics.discoveryConfig(sensor), JSON.stringify(config), { qos: 1, retain: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
