/**
 * The gateway as a process, as a person or a service manager starts it (the launcher, the
 * installed tree, the unit's ExecStart): its output as it comes, the port from its banner, and a
 * real GET /temp over UDP.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { RawClient, pathOptions, requestDatagram } from './coap-datagram.ts';

export interface GatewayProcess {
  child: ReturnType<typeof spawn>;
  exited: Promise<number | null>;
  out(): string;
  err(): string;
  /** Until `pattern` matches stdout and stderr together, the process exits, or `ms` pass. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  /** The port of the banner's `listening on udp 127.0.0.1:<port>`; throws without a banner. */
  port(): number;
}

export function spawnGatewayProcess(argv: string[], options: SpawnOptions = {}): GatewayProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    out: () => stdout,
    err: () => stderr,
    async waitFor(pattern, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(stdout + stderr) && Date.now() < deadline && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 50));
    },
    port() {
      const port = Number(/listening on udp 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
      if (!(port > 0)) throw new Error(`no start-up banner: ${stdout}${stderr}`);
      return port;
    },
  };
}

/** One confirmable GET /temp, after the simulated chip's first conversion (35 ms at most). */
export async function getTemp(port: number) {
  await new Promise((r) => setTimeout(r, 60));
  const client = await RawClient.open('127.0.0.1', port);
  try {
    return await client.exchange(requestDatagram({ options: pathOptions('/temp') }), 2000);
  } finally {
    await client.close();
  }
}
