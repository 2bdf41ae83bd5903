/**
 * A real Mosquitto broker for tests: a config file in a temp dir, a free loopback port,
 * persistence in the same dir (so retained messages survive stop() + start() on the same
 * port, as across a broker restart), and optionally a password file made with mosquitto_passwd.
 *
 * Mosquitto 2.0 (Debian 2.0.11) run as root drops its privileges to the user "mosquitto" unless
 * told otherwise, and could then not read the temp dir: the config says `user` = whoever runs
 * the tests. It writes its log to stderr ("log_dest stderr"); start() waits until the port
 * accepts connections.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { findExecutable, skipOrFail } from './peers.ts';

export const MOSQUITTO_HINT = 'apt-get install mosquitto mosquitto-clients';

/** The broker on PATH, or where Debian puts it (/usr/sbin, not on a normal user's PATH). */
export function mosquittoPath(): string | undefined {
  const found = findExecutable('mosquitto');
  if (found) return found;
  try {
    accessSync(DEBIAN_PATH, constants.X_OK);
    return DEBIAN_PATH;
  } catch {
    return undefined;
  }
}
const DEBIAN_PATH = '/usr/sbin/mosquitto';

/** The broker's path, or undefined after skipping (under COAP_INTEROP_REQUIRED=1: a failure). */
export function mosquittoOrSkip(t: TestContext): string | undefined {
  return mosquittoPath() ?? skipOrFail(t, `mosquitto is not installed (${MOSQUITTO_HINT})`);
}

export interface MosquittoOptions {
  /** User name and password: the broker then refuses anonymous clients. */
  users?: Record<string, string>;
  /** PEM files of the broker's certificate and key: the listener speaks TLS (mqtts://). */
  tls?: { certfile: string; keyfile: string };
}

export class Mosquitto {
  readonly dir: string;
  readonly port: number;
  readonly #binary: string;
  readonly #tls: boolean;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(binary: string, dir: string, port: number, tls: boolean) {
    this.#binary = binary;
    this.#tls = tls;
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `${this.#tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  /** What the broker wrote on stderr, for a failing test's message. */
  get log(): string {
    return this.#log;
  }

  static async start(binary: string, options: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = await mkdtemp(join(tmpdir(), 'mosquitto-'));
    const port = await freePort();
    const lines = [
      `listener ${port} 127.0.0.1`,
      ...(options.tls ? [`certfile ${options.tls.certfile}`, `keyfile ${options.tls.keyfile}`] : []),
      `user ${userInfo().username}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
    ];
    if (options.users) {
      const file = join(dir, 'passwd');
      await writeFile(file, '');
      const passwd = findExecutable('mosquitto_passwd') ?? '/usr/bin/mosquitto_passwd';
      for (const [user, password] of Object.entries(options.users)) await promisify(execFile)(passwd, ['-b', file, user, password]);
      lines.push('allow_anonymous false', `password_file ${file}`);
    } else {
      lines.push('allow_anonymous true');
    }
    await writeFile(join(dir, 'mosquitto.conf'), lines.join('\n') + '\n');
    const broker = new Mosquitto(binary, dir, port, options.tls !== undefined);
    await broker.resume();
    return broker;
  }

  /** Starts the broker (again) on the same port with the same persistence. */
  async resume(): Promise<void> {
    if (this.#child) return;
    const child = spawn(this.#binary, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => {
      this.#log += d.toString();
    });
    this.#child = child;
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${this.#log}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port} within 10 s: ${this.#log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Stops the broker (SIGTERM: it saves its retained messages to the persistence file first). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
