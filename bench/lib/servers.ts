/**
 * The servers measured, each in its own process so its memory is its own: the bare node-coap
 * server (a), the gateway as `npm start` runs it (b, c), and libcoap's example server (d).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUNDLE_OPTIONS } from '../../gateway/bundle-file.mjs';
import { PROJECT_ROOT } from '../../gateway/service/config.ts';
import { RawClient, pathOptions, requestDatagram } from '../../test/helpers/coap-datagram.ts';

export interface ServerProcess {
  name: string;
  port: number;
  /** The CoAP resource the load generator asks for. */
  path: string;
  pid: number;
  stop(): Promise<void>;
}

export interface ServerSpec {
  name: string;
  path: string;
  command: string;
  args: (port: number) => string[];
  /** Added to the bench's own environment for the child (e.g. GW_COAP_TRUST_LOOPBACK=0). */
  env?: Record<string, string>;
}

/** `npm start` as package.json has it: node, its flags, the launcher and the entry. */
export function startCommand(): { nodeFlags: string[]; rest: string[] } {
  const script = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [node, ...words] = script.split(/\s+/);
  if (node !== 'node') throw new Error(`npm start is not a node command: ${script}`);
  const launcher = words.findIndex((w) => !w.startsWith('-'));
  return { nodeFlags: words.slice(0, launcher), rest: words.slice(launcher) };
}

/**
 * Loaded the way the gateway is (bundled by esbuild, plain node, no loader thread), with node's
 * default flags. The launcher runs only the gateway's own commands, so the bench bundles this
 * server itself, into build/bench/ (npm packages resolve from the project's node_modules).
 */
export function bareNodeCoap(): ServerSpec {
  let file: string | undefined;
  return {
    name: 'node-coap',
    path: 'temp',
    command: process.execPath,
    args: (port) => {
      file ??= bundleBareServer();
      return [file, String(port)];
    },
  };
}

function bundleBareServer(): string {
  const outfile = path.join(PROJECT_ROOT, 'build', 'bench', 'bare-node-coap.mjs');
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  esbuild.buildSync({ ...BUNDLE_OPTIONS, write: true, outfile, entryPoints: [path.join(PROJECT_ROOT, 'bench', 'servers', 'bare-node-coap.ts')] });
  return outfile;
}

/** A simulated chip's temperature (docs/configuration.md, "sensors[].simulation"). */
export type Simulation = { kind: 'constant'; celsius: number } | { kind: 'sine'; mean: number; amplitude: number; periodSeconds: number };

/**
 * The gateway on the simulated TMP102, modules in worker threads, info-level logging to the
 * console: exactly `npm start`'s command line. `nodeArgs` adds e.g. --cpu-prof; `env` goes
 * to the gateway's environment; `simulation` replaces the default constant 21.5 °C (a sine
 * makes readings change, so observers are notified). `oscore` adds the configuration's `oscore`
 * section (docs/configuration.md) with that credentials file, the sequence-number state in
 * this spec's own temporary directory, so every process started from the spec continues the
 * numbers of the one before (RFC 8613 appendix B.1.1).
 */
export function gateway(name: string, options: { pacing: boolean; isolation?: 'worker' | 'in-thread'; nodeArgs?: string[]; env?: Record<string, string>; simulation?: Simulation; oscore?: { credentials: string } }): ServerSpec {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-'));
  const config = path.join(dir, 'gateway.json');
  // Pacing off takes the bus rate limit away too: otherwise the limit, not the WASM path, is measured.
  const sensor = {
    name: 'tmp102',
    ...(options.pacing ? {} : { pacing: false, limits: { i2cRateLimit: false } }),
    ...(options.isolation ? { isolation: options.isolation } : {}),
    ...(options.simulation ? { simulation: options.simulation } : {}),
  };
  const oscore = options.oscore ? { oscore: { credentials: options.oscore.credentials, stateDir: path.join(dir, 'oscore-state') } } : {};
  writeFileSync(config, JSON.stringify({ driver: 'simulated', sensors: [sensor], ...oscore }));
  const start = startCommand();
  return {
    name,
    path: 'temp',
    command: process.execPath,
    args: (port) => [...start.nodeFlags, ...(options.nodeArgs ?? []), ...start.rest, '--host', '127.0.0.1', '--port', String(port), '--config', config, '--no-watch'],
    ...(options.env ? { env: options.env } : {}),
  };
}

export function libcoapAvailable(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v coap-server-notls'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** libcoap 4.3's example server; its /time resource answers a short text/plain. */
export function libcoapServer(): ServerSpec {
  return { name: 'libcoap', path: 'time', command: 'coap-server-notls', args: (port) => ['-A', '127.0.0.1', '-p', String(port)] };
}

export async function startServer(spec: ServerSpec, port: number): Promise<ServerProcess> {
  const child: ChildProcess = spawn(spec.command, spec.args(port), { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...spec.env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitUntilAnswering(port, spec.path, 20_000, () => child.exitCode !== null);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${spec.name} did not start: ${(err as Error).message}\n${stderr}`);
  }
  return {
    name: spec.name,
    port,
    path: spec.path,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends a CON GET every 200 ms until anything comes back from the port. */
async function waitUntilAnswering(port: number, resource: string, timeoutMs: number, dead: () => boolean): Promise<void> {
  const client = await RawClient.open('127.0.0.1', port);
  try {
    const probe = requestDatagram({ options: pathOptions(`/${resource}`) });
    for (const deadline = Date.now() + timeoutMs; ; ) {
      if (dead()) throw new Error('the process exited');
      if (Date.now() > deadline) throw new Error(`no answer on port ${port} within ${timeoutMs} ms`);
      if (await client.exchange(probe, 200)) return;
    }
  } finally {
    await client.close();
  }
}
