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
  payload_bytes: number;
  content_format: number | null;
}

export interface LoadProgress {
  [field: string]: number;
}

export function buildLoadgen(): void {
  mkdirSync(path.dirname(LOADGEN_BIN), { recursive: true });
  execFileSync('go', ['build', '-o', LOADGEN_BIN, '.'], { cwd: path.join(PROJECT_ROOT, 'bench', 'loadgen'), stdio: 'inherit' });
}

export interface LoadOptions {
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
