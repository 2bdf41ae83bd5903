/**
 * The MQTT client's options, built once at start from the configuration, and what a failed
 * connection means as one of the gateway's codes.
 *
 * The uplink owns its buffer (bounded-buffer.ts), so nothing may queue behind its back:
 * - `queueQoSZero: false`: mqtt.js would otherwise queue every QoS 0 publish made while offline,
 *   without bound; the uplink publishes only while connected anyway.
 * - `reconnectPeriod: 0`: no fixed-period reconnect by the library; the uplink reconnects with a
 *   back-off of its own, on a fresh client each time, so nothing the library held for the old
 *   connection lingers (with reconnectPeriod 0 and a clean session, mqtt.js fails the callbacks
 *   of unacknowledged publishes when the connection closes, and the uplink puts them back at
 *   the front of its buffer).
 * - `connectTimeout`: 10 s for TCP, TLS and CONNACK, not the library's 30.
 * - `clean: true`: the broker keeps no session; the uplink re-announces itself on every connect.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { IClientOptions } from 'mqtt';
import { type ErrorCode, GatewayError } from '../errors.ts';
import type { MqttConfig } from '../service/uplink-config.ts';
import { NOT_AVAILABLE, type Topics } from './topics.ts';

export const CONNECT_TIMEOUT_MS = 10_000;
export const KEEPALIVE_S = 30;

/**
 * Reads the password and TLS files. Throws GW_ERR_UPLINK_TLS for an unreadable TLS file and
 * GW_ERR_CONFIG_INVALID naming mqtt.passwordFile for an unreadable password file: at start, so
 * the operator sees it at once and the gateway does not start (docs/uplink.md, "Errors").
 */
export function clientOptions(config: MqttConfig, topics: Topics): IClientOptions {
  const read = (file: string, field: string, code: ErrorCode): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new GatewayError(code, { detail: `mqtt.${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }, { cause: err });
    }
  };
  const options: IClientOptions = {
    clientId: config.clientId,
    protocolVersion: 4,
    clean: true,
    keepalive: KEEPALIVE_S,
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectPeriod: 0,
    queueQoSZero: false,
    resubscribe: false,
    will: { topic: topics.availability, payload: Buffer.from(NOT_AVAILABLE), qos: 1, retain: true },
  };
  if (config.username !== undefined) options.username = config.username;
  if (config.passwordFile !== undefined) {
    // One line, as `echo secret > file` writes it: the trailing newline is not part of the password.
    options.password = read(config.passwordFile, 'passwordFile', 'GW_ERR_CONFIG_INVALID').toString('utf8').replace(/\r?\n$/, '');
  }
  if (config.ca !== undefined) options.ca = read(config.ca, 'ca', 'GW_ERR_UPLINK_TLS');
  if (config.cert !== undefined) options.cert = read(config.cert, 'cert', 'GW_ERR_UPLINK_TLS');
  if (config.key !== undefined) options.key = read(config.key, 'key', 'GW_ERR_UPLINK_TLS');
  if (options.ca !== undefined || options.cert !== undefined) {
    // Readable is not enough: a file that is not PEM, or a key that does not match its
    // certificate, is as much a configuration error, and would otherwise surface later as a raw
    // OpenSSL error or (a CA that parses as nothing) as no CA at all.
    try {
      const ca = options.ca === undefined ? undefined : String(options.ca);
      if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
      createSecureContext({ ...(ca !== undefined ? { ca } : {}), ...(options.cert !== undefined ? { cert: options.cert as Buffer } : {}), ...(options.key !== undefined ? { key: options.key as Buffer } : {}) });
    } catch (err) {
      throw new GatewayError('GW_ERR_UPLINK_TLS', { detail: `mqtt.ca/cert/key: ${err instanceof Error ? err.message : String(err)}` }, { cause: err });
    }
  }
  return options;
}

/** The broker's address for stats and logs (the configuration's url: it holds no credentials). */
export function brokerName(config: MqttConfig): string {
  return config.url;
}

/**
 * CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3) that mean the broker refused who we are:
 * 2 identifier rejected, 4 bad user name or password, 5 not authorized. (MQTT 5 reason codes
 * 0x85, 0x86, 0x87, 0x8c for a client that speaks it.)
 */
const AUTH_CODES = new Set([2, 4, 5, 0x85, 0x86, 0x87, 0x8c]);

/** What a connection failure is, as a code. */
export function classifyError(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') return AUTH_CODES.has(code) ? 'GW_ERR_UPLINK_AUTH' : 'GW_ERR_UPLINK_UNREACHABLE';
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/i.test(code)) return 'GW_ERR_UPLINK_TLS';
  const message = err instanceof Error ? err.message : String(err);
  if (/certificate|ssl|tls/i.test(message)) return 'GW_ERR_UPLINK_TLS';
  return 'GW_ERR_UPLINK_UNREACHABLE';
}

export type UplinkState = 'connecting' | 'connected' | 'disconnected' | 'auth-failed' | 'tls-failed' | 'closed';

export function stateOf(code: ErrorCode): UplinkState {
  return code === 'GW_ERR_UPLINK_AUTH' ? 'auth-failed' : code === 'GW_ERR_UPLINK_TLS' ? 'tls-failed' : 'disconnected';
}
