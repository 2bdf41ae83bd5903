/**
 * The `http` section of the configuration: the HTTP view (docs/http.md). Absent: no HTTP view,
 * no listener. Present, even empty (`"http": {}`): the view on 127.0.0.1:8080, this machine
 * only; "host": "0.0.0.0" or "::" opens it to the network, where the access policy (`access`)
 * still decides who reads and writes what. Refused with GW_ERR_CONFIG_INVALID naming the field,
 * like the rest of the file.
 */
import { isIP } from 'node:net';
import { fieldChecks } from './config-fields.ts';

const { invalid } = fieldChecks('GW_ERR_CONFIG_INVALID');

export interface HttpConfig {
  /** Address to listen on; default "127.0.0.1" (this machine only). */
  host: string;
  /** TCP port; default 8080. */
  port: number;
  /**
   * Host names the view answers to besides IP literals, `localhost` and this machine's own
   * name (and `<name>.local`): any other Host header is refused, which is what keeps a web page
   * on a rebound DNS name from reading the view through a browser on the LAN (docs/http.md).
   */
  allowedHosts?: string[];
}

export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 8080;

/** A DNS name (RFC 1123 labels) or an IP literal; a name is resolved when the view listens. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function parseHttp(v: unknown): HttpConfig | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('http', `must be an object { "host": "127.0.0.1", "port": 8080 }, got ${JSON.stringify(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'host' && k !== 'port' && k !== 'allowedHosts') throw invalid(`http.${k}`, 'unknown field (allowed: host, port, allowedHosts)');
  }
  const host = o['host'] ?? DEFAULT_HTTP_HOST;
  if (typeof host !== 'string' || (isIP(host) === 0 && !HOST_NAME.test(host))) {
    throw invalid('http.host', `must be an IP address ("127.0.0.1", "::", "0.0.0.0") or a host name, got ${JSON.stringify(host)}`);
  }
  const port = o['port'] ?? DEFAULT_HTTP_PORT;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid('http.port', `must be an integer from 1 to 65535, got ${JSON.stringify(port)}`);
  }
  const names = o['allowedHosts'] ?? [];
  if (!Array.isArray(names) || names.length > 32) throw invalid('http.allowedHosts', `must be a list of at most 32 host names, got ${JSON.stringify(names)}`);
  const allowedHosts = names.map((n, i) => {
    if (typeof n !== 'string' || !HOST_NAME.test(n)) throw invalid(`http.allowedHosts[${i}]`, `must be a host name, got ${JSON.stringify(n)}`);
    return n.toLowerCase();
  });
  return { host, port, allowedHosts };
}
