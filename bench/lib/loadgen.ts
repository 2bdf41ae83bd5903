/**
 * The load generator (bench/loadgen, Go on raw UDP: no node-coap on the client side), built
 * once into build/bench/ and run as a child process per measurement.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../gateway/service/config.ts';

export const LOADGEN_BIN = path.join(PROJECT_ROOT, 'build', 'bench', 'loadgen');

export interface LoadResult {
  target: string;
  path: string;
  sockets: number;
  inflight: number;
  seconds: number;
  requests: number;
  ok: number;
  errors: Record<string, number>;
  timeouts: number;
  stray: number;
  rotations: number;
  rps: number;
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** Of the last ok response. */
  payload_bytes: number;
  content_format: number | null;
  /** The request sent (loadgen's -type, -method, -query, -payload-hex, -content-format, -oscore); with OSCORE, bytes are those of the last ok response's request. */
  request: { type: 'CON' | 'NON'; method: string; query: string[]; content_format: number | null; payload_bytes: number; bytes: number; oscore: boolean };
  /** With -oscore: one client context per socket, the Echo challenges answered (one per context after a server start) and the sequence numbers used. */
  oscore?: { contexts: number; echo_challenges: number; seq_first: number; seq_next: number };
}

/** What each request is: by default a confirmable GET with no query, payload or Accept. */
export interface RequestShape {
  type?: 'CON' | 'NON';
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';
  /** Uri-Query options, one per item (`unit=K`). */
  query?: string[];
  payload?: Uint8Array;
  /** Content-Format of the payload. */
  contentFormat?: number;
  accept?: number;
  /**
   * Protect every request with OSCORE (RFC 8613): loadgen's credentials file, the clients'
   * point of view, one client per socket; the gateway's file must mirror it. The sequence
   * numbers persist beside it, in <file>.seq.
   */
  oscore?: string;
}

/** "CON GET /temp?unit=K", "CON FETCH /temp + 8-byte body, CF 60", "OSCORE CON GET /temp": a request as loadgen sent it. */
export function describeRequest(r: LoadResult): string {
  const q = r.request;
  const query = q.query.length ? `?${q.query.join('&')}` : '';
  const body = q.payload_bytes ? ` + ${q.payload_bytes}-byte body` : '';
  const cf = q.content_format === null ? '' : `${body ? ',' : ''} CF ${q.content_format}`;
  return `${q.oscore ? 'OSCORE ' : ''}${q.type} ${q.method} /${r.path.replace(/^\//, '')}${query}${body}${cf}`;
}

export interface LoadProgress {
  [field: string]: number;
}

export function buildLoadgen(): void {
  mkdirSync(path.dirname(LOADGEN_BIN), { recursive: true });
  execFileSync('go', ['build', '-o', LOADGEN_BIN, '.'], { cwd: path.join(PROJECT_ROOT, 'bench', 'loadgen'), stdio: 'inherit' });
}

export interface LoadOptions extends RequestShape {
  port: number;
  path: string;
  seconds: number;
  sockets: number;
  inflight?: number;
  /** Client addresses 127.0.0.1.. the sockets are spread over (default 1). */
  sources?: number;
  warmupSeconds?: number;
  /** Progress every N seconds, passed to onProgress. */
  intervalSeconds?: number;
  onProgress?: (p: LoadProgress) => void;
}

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  const args = ['-target', `127.0.0.1:${o.port}`, '-path', o.path, '-sockets', String(o.sockets), '-inflight', String(o.inflight ?? 1), '-duration', `${o.seconds}s`, '-warmup', `${o.warmupSeconds ?? 1}s`, '-json'];
  if (o.intervalSeconds) args.push('-interval', `${o.intervalSeconds}s`);
  if (o.sources) args.push('-sources', String(o.sources));
  if (o.type) args.push('-type', o.type);
  if (o.method) args.push('-method', o.method);
  for (const item of o.query ?? []) args.push('-query', item);
  if (o.payload?.length) args.push('-payload-hex', Buffer.from(o.payload).toString('hex'));
  if (o.contentFormat !== undefined) args.push('-content-format', String(o.contentFormat));
  if (o.accept !== undefined) args.push('-accept', String(o.accept));
  if (o.oscore !== undefined) args.push('-oscore', o.oscore);
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      let nl: number;
      while ((nl = err.indexOf('\n')) >= 0) {
        const line = err.slice(0, nl);
        err = err.slice(nl + 1);
        try {
          o.onProgress?.(JSON.parse(line) as LoadProgress);
        } catch {
          process.stderr.write(`loadgen: ${line}\n`);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`loadgen exited with ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new Error(`loadgen printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}
