/**
 * The `mqtt` section of the configuration: the MQTT uplink (docs/uplink.md). Absent: no uplink.
 * Every field is checked here and refused with GW_ERR_CONFIG_INVALID naming it, like the rest of
 * the file (security-config.ts); the files it names (password, TLS) are read when the uplink
 * starts (gateway/mqtt/connection.ts), so a configuration can be checked on another machine.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fieldChecks, isObj } from './config-fields.ts';

const { invalid } = fieldChecks('GW_ERR_CONFIG_INVALID');

export interface MqttConfig {
  /** mqtt://host[:port] or mqtts://host[:port]. */
  url: string;
  /** This gateway's identity in topics and in Home Assistant: [A-Za-z0-9_-], default from the host name. */
  gatewayId: string;
  /** MQTT client id; default `coapgw-<gatewayId>`. */
  clientId: string;
  username?: string;
  /** Absolute path of a file holding the password (never the password itself in the configuration). */
  passwordFile?: string;
  /** Absolute paths of PEM files for mqtts:// (a CA to trust; a client certificate and key). */
  ca?: string;
  cert?: string;
  key?: string;
  /** Topics are `<topicPrefix>/<gatewayId>/...`; default "coapgw". */
  topicPrefix: string;
  /** QoS of the readings (default 1: at least once). */
  qos: 0 | 1;
  /** Readings kept while the broker is unreachable, oldest dropped past it (default 10,000). */
  bufferSize: number;
  /** Home Assistant MQTT discovery (default on, prefix "homeassistant"). */
  discovery: { enabled: boolean; prefix: string };
}

export const MQTT_DEFAULTS = Object.freeze({ topicPrefix: 'coapgw', qos: 1 as const, bufferSize: 10_000, discoveryPrefix: 'homeassistant' });
/** 1,000,000 readings of about 150 bytes each (topic, JSON, bookkeeping) is some 150 MB: more is a unit mistake on a Pi. */
export const MAX_BUFFER_SIZE = 1_000_000;
/** MQTT 3.1.1 section 3.1.3.1 only promises 23 characters of client id; Mosquitto takes up to 65535. 128 is plenty. */
const MAX_CLIENT_ID = 128;
const GATEWAY_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A topic level or levels: no wildcards (+ #), no empty level, no leading or trailing "/", no "$" start (broker topics). */
const TOPIC_PREFIX = /^[^/+#$\u0000][^+#\u0000]*$/;

const KEYS = ['url', 'gatewayId', 'clientId', 'username', 'passwordFile', 'ca', 'cert', 'key', 'topicPrefix', 'qos', 'bufferSize', 'discovery'];

/**
 * Host names every fresh install has: two gateways with one of them on one broker would take the
 * same client id (the broker then disconnects the older session each time the other connects,
 * MQTT 3.1.1 section 3.1.4), the same topics and the same Home Assistant device.
 */
const STOCK_HOST_NAMES = new Set(['raspberrypi', 'raspberry', 'localhost', 'debian', 'ubuntu', 'pi', 'gateway']);

/** This machine's id (systemd's /etc/machine-id, 32 hex digits), or undefined without one. */
function machineId(): string | undefined {
  try {
    const id = readFileSync('/etc/machine-id', 'utf8').trim();
    return /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The host name as a gateway id: every character outside [A-Za-z0-9_-] becomes "_" ("pi.local"
 * -> "pi_local"); a stock name ("raspberrypi") gets the first 6 hex digits of the machine id
 * ("raspberrypi-3f2a9c"), so that two fresh Pis on one broker do not take each other's place.
 */
export function defaultGatewayId(host: string = hostname(), machine: string | null = machineId() ?? null): string {
  const id = host.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 57) || 'gateway';
  return STOCK_HOST_NAMES.has(id.toLowerCase()) && machine !== null ? `${id}-${machine.slice(0, 6)}` : id;
}

function topicPrefix(v: unknown, field: string, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || v.length > 128 || !TOPIC_PREFIX.test(v) || v.endsWith('/') || v.includes('//')) {
    throw invalid(field, `must be a topic prefix such as "coapgw" or "home/coapgw" (no +, #, leading $, empty level or trailing /), got ${JSON.stringify(v)}`);
  }
  return v;
}

function filePath(v: unknown, field: string, what: string, baseDir: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '' || v.includes('\0')) throw invalid(field, `must be the path of ${what}, got ${JSON.stringify(v)}`);
  return path.resolve(baseDir, v);
}

export function parseMqtt(v: unknown, baseDir: string): MqttConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw invalid('mqtt', 'must be an object { "url": "mqtt://host:1883", ... }');
  for (const k of Object.keys(v)) if (!KEYS.includes(k)) throw invalid(`mqtt.${k}`, `unknown field (allowed: ${KEYS.join(', ')})`);

  const url = v['url'];
  if (typeof url !== 'string') throw invalid('mqtt.url', 'is required: mqtt://host[:port] or mqtts://host[:port]');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('mqtt.url', `must be mqtt://host[:port] or mqtts://host[:port], got ${JSON.stringify(url)}`);
  }
  const tls = parsed.protocol === 'mqtts:';
  if (parsed.protocol !== 'mqtt:' && !tls) throw invalid('mqtt.url', `must start with mqtt:// or mqtts://, got ${JSON.stringify(url)}`);
  if (parsed.hostname === '') throw invalid('mqtt.url', `names no host, got ${JSON.stringify(url)}`);
  if (parsed.username !== '' || parsed.password !== '') throw invalid('mqtt.url', 'must not hold credentials: use mqtt.username and mqtt.passwordFile');
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '') throw invalid('mqtt.url', `must be only a scheme, a host and a port, got ${JSON.stringify(url)}`);

  const gatewayId = v['gatewayId'] ?? defaultGatewayId();
  if (typeof gatewayId !== 'string' || !GATEWAY_ID.test(gatewayId)) throw invalid('mqtt.gatewayId', `must be 1-64 letters, digits, "_" or "-", got ${JSON.stringify(gatewayId)}`);
  const clientId = v['clientId'] ?? `coapgw-${gatewayId}`;
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > MAX_CLIENT_ID || !/^[\x21-\x7e]+$/.test(clientId)) {
    throw invalid('mqtt.clientId', `must be 1-${MAX_CLIENT_ID} printable ASCII characters without spaces, got ${JSON.stringify(clientId)}`);
  }
  const username = v['username'];
  if (username !== undefined && (typeof username !== 'string' || username === '' || username.length > 256)) throw invalid('mqtt.username', 'must be a non-empty string');
  const passwordFile = filePath(v['passwordFile'], 'mqtt.passwordFile', 'a file holding the password', baseDir);
  if (passwordFile !== undefined && username === undefined) throw invalid('mqtt.passwordFile', 'needs mqtt.username (MQTT sends no password without a user name)');

  const ca = filePath(v['ca'], 'mqtt.ca', 'a PEM file of CA certificates', baseDir);
  const cert = filePath(v['cert'], 'mqtt.cert', 'a PEM client certificate', baseDir);
  const key = filePath(v['key'], 'mqtt.key', 'the PEM key of the client certificate', baseDir);
  for (const [name, value] of [['ca', ca], ['cert', cert], ['key', key]] as const) {
    if (value !== undefined && !tls) throw invalid(`mqtt.${name}`, 'is for TLS: the url must start with mqtts://');
  }
  if ((cert === undefined) !== (key === undefined)) throw invalid(cert === undefined ? 'mqtt.cert' : 'mqtt.key', 'mqtt.cert and mqtt.key go together');

  const prefix = topicPrefix(v['topicPrefix'], 'mqtt.topicPrefix', MQTT_DEFAULTS.topicPrefix);
  const qos = v['qos'] ?? MQTT_DEFAULTS.qos;
  if (qos !== 0 && qos !== 1) throw invalid('mqtt.qos', `must be 0 (at most once) or 1 (at least once), got ${JSON.stringify(qos)}`);
  const bufferSize = v['bufferSize'] ?? MQTT_DEFAULTS.bufferSize;
  if (typeof bufferSize !== 'number' || !Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > MAX_BUFFER_SIZE) {
    throw invalid('mqtt.bufferSize', `must be an integer 1..${MAX_BUFFER_SIZE} (readings kept while the broker is unreachable), got ${JSON.stringify(bufferSize)}`);
  }

  const d = v['discovery'] ?? {};
  if (!isObj(d)) throw invalid('mqtt.discovery', 'must be an object { "enabled": true, "prefix": "homeassistant" }');
  for (const k of Object.keys(d)) if (k !== 'enabled' && k !== 'prefix') throw invalid(`mqtt.discovery.${k}`, 'unknown field (allowed: enabled, prefix)');
  const enabled = d['enabled'] ?? true;
  if (typeof enabled !== 'boolean') throw invalid('mqtt.discovery.enabled', 'must be true or false');
  const discoveryPrefix = topicPrefix(d['prefix'], 'mqtt.discovery.prefix', MQTT_DEFAULTS.discoveryPrefix);
  if (enabled && discoveryPrefix === prefix) throw invalid('mqtt.discovery.prefix', 'must differ from mqtt.topicPrefix');

  return {
    url: `${parsed.protocol}//${parsed.host}`,
    gatewayId,
    clientId,
    ...(username === undefined ? {} : { username }),
    ...(passwordFile === undefined ? {} : { passwordFile }),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    topicPrefix: prefix,
    qos,
    bufferSize,
    discovery: { enabled, prefix: discoveryPrefix },
  };
}
