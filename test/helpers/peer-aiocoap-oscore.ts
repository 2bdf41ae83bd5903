/**
 * aiocoap-client as an OSCORE client (RFC 8613): `--credentials <file>` naming a security context
 * directory (aiocoap's FilesystemSecurityContext: settings.json with sender-id_hex,
 * recipient-id_hex, secret_hex, salt_hex).
 *
 * aiocoap writes into a context's directory: sequence.json (its next Sender Sequence Number,
 * persisted ahead in chunks, and its replay window) and a lock file, held while a process uses
 * the context, so that two processes cannot use one context at once. So the fixture directories
 * (fixtures/oscore/interop/aiocoap/<name>) are copied into a fresh temporary directory
 * (`AiocoapOscoreClients.create`), never used in place; one copy per gateway run, shared by the
 * commands sent to that run, as a real client keeps its context as long as the server keeps its
 * replay window: their sequence numbers go on increasing (a fresh copy against the same run
 * would start again at 0, a replay). Two copies used against one run would reuse nonces.
 *
 * The credentials file aiocoap reads maps URI patterns to credentials (aiocoap/credentials.py):
 *   {"coap://*": {"oscore": {"basedir": "<dir>/"}}}
 * ("contextfile" is the old, deprecated name of "basedir": it makes aiocoap warn on stderr.)
 *
 * What aiocoap-client 0.4.17 prints, learnt by running it against aiocoap's own OSCORE server
 * and the gateway: with -v, "2.05 Content from coap://127.0.0.1:<port>" on stderr for the
 * (inner, decrypted) response, exactly as without OSCORE; the payload raw on stdout for 2.xx,
 * on stderr for an error code (a 4.03's CBOR body shows its text strings there). An unprotected
 * response to a protected request (the OSCORE errors of RFC 8613 section 8.2) is not a response
 * to aiocoap: it fails the request with an error on stderr and exits 1; its code and diagnostic
 * payload are only seen on the wire (test/helpers/udp-recorder.ts). A protected 4.01 with an
 * Echo option (RFC 8613 Appendix B.1.2) is answered by aiocoap itself, repeating the request
 * with the Echo value, once per request (a second 4.01 is the response); it logs "Answering the
 * server's 4.01 Unauthorized / Echo" at INFO on the "coap" logger, shown with -vv.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AIOCOAP_CLIENT, type PeerExchange, type ProcessResult, findExecutable, runProcess } from './peers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const OSCORE_FIXTURES = path.join(ROOT, 'fixtures/oscore/interop');
/** The gateway's side: `oscore.credentials` in its configuration. */
export const GATEWAY_OSCORE_CREDENTIALS = path.join(OSCORE_FIXTURES, 'gateway/oscore-clients.json');

export type OscoreClientName = 'thermostat-app' | 'monitor' | 'wrong-key' | 'unknown-kid';

export const AIOCOAP_OSCORE_HINT = "pip install 'aiocoap[oscore,prettyprint]==0.4.17'";

/** The fixture's settings.json of a client context (sender-id_hex is the client's own ID, the kid it sends). */
export function clientSettings(name: OscoreClientName): { 'sender-id_hex': string; 'recipient-id_hex': string; secret_hex: string; salt_hex: string } {
  return JSON.parse(readFileSync(path.join(OSCORE_FIXTURES, 'aiocoap', name, 'settings.json'), 'utf8'));
}

/**
 * aiocoap-client's path, or why it cannot do OSCORE here: not on PATH, or its Python lacks the
 * oscore extra's modules (cryptography, cbor2, filelock, ...: aiocoap.defaults says which).
 * Asked of the interpreter in aiocoap-client's own #! line, which may not be the python3 on PATH.
 */
export async function aiocoapOscoreClient(): Promise<{ bin: string } | { missing: string }> {
  const bin = findExecutable(AIOCOAP_CLIENT);
  if (!bin) return { missing: `${AIOCOAP_CLIENT} is not on PATH (${AIOCOAP_OSCORE_HINT})` };
  const probe = await runProcess(aiocoapPython(bin), ['-c', 'import aiocoap.defaults as d, sys; m = d.oscore_missing_modules(); print(",".join(m)); sys.exit(1 if m else 0)'], { timeoutMs: 10_000 }).catch((e: Error) => ({ exitCode: -1, stdout: Buffer.from(e.message), stderr: '', timedOut: false }));
  if (probe.exitCode !== 0) return { missing: `aiocoap cannot do OSCORE here (missing: ${probe.stdout.toString('utf8').trim() || probe.stderr.trim()}; ${AIOCOAP_OSCORE_HINT})` };
  return { bin };
}

export interface OscoreRequest {
  url: string;
  method?: 'get' | 'put' | 'post' | 'delete' | 'fetch';
  accept?: number;
  /** Sent with Content-Format 60; aiocoap encodes it from CBOR diagnostic notation (cbor-diag). */
  cborDiagnostic?: string;
  timeoutMs?: number;
}

export interface OscoreExchange extends PeerExchange {
  /** aiocoap answered a 4.01 + Echo by repeating the request (RFC 8613 Appendix B.1.2), by its own log. */
  echoAnswered: boolean;
}

/** The code of the response aiocoap-client reports on stderr (with -v), as peers.ts's aiocoapRequest reads it. */
export function aiocoapResponseCode(stderr: string): string | undefined {
  return /^(?:INFO:coap\.aiocoap-client:)?(\d\.\d\d) \S.* from coap/m.exec(stderr)?.[1] ?? /^(\d\.\d\d) /m.exec(stderr)?.[1];
}

function requestArgs(credentials: string | undefined, req: OscoreRequest): string[] {
  // -vv: every aiocoap logger at INFO, so that the OSCORE transport's "Answering the server's
  // 4.01 Unauthorized / Echo" shows; the response lines are the same as with -v.
  const args = ['--no-color', '--no-pretty-print', '-vv'];
  if (credentials) args.push('--credentials', credentials);
  if (req.method) args.push('-m', req.method.toUpperCase());
  if (req.accept !== undefined) args.push('--accept', String(req.accept));
  if (req.cborDiagnostic !== undefined) args.push('--content-format', '60', '--payload', req.cborDiagnostic);
  args.push(req.url);
  return args;
}

function exchangeOf(result: ProcessResult): OscoreExchange {
  const code = aiocoapResponseCode(result.stderr);
  return {
    code,
    payload: code?.startsWith('2.') ? result.stdout : Buffer.alloc(0),
    process: result,
    echoAnswered: /4\.01 Unauthorized \/ Echo/.test(result.stderr),
  };
}

/** One aiocoap-client request without OSCORE (no credentials file), the same output parsing. */
export async function aiocoapPlainRequest(bin: string, req: OscoreRequest): Promise<OscoreExchange> {
  return exchangeOf(await runProcess(bin, requestArgs(undefined, req), { timeoutMs: req.timeoutMs }));
}

/**
 * Observe over OSCORE with the aiocoap library (transports/oscore.py protects the registration
 * and unprotects each notification, section 8.4), not aiocoap-client: aiocoap-client 0.4.17
 * cancels its own observation right after the first response (aiocoap issue #395; see
 * test/interop-observe.test.ts), so it never shows a notification. Several URLs at once, one
 * security context (one process holds a context's lock). One line per response on stdout:
 * "R <url index> <code> <observe> <payload hex>" for a registration's response, "N ..." for
 * each notification, "E <url index> <error>" when a request or an observation fails, "END <url
 * index>" when the server ends it. Run by the interpreter behind aiocoap-client.
 */
const OBSERVE_SCRIPT = `
import asyncio, json, sys, aiocoap
async def observe(ctx, i, uri, accept):
    r = ctx.request(aiocoap.Message(code=aiocoap.GET, uri=uri, observe=0, accept=accept))
    try:
        first = await r.response
        print("R", i, first.code.dotted, first.opt.observe, first.payload.hex(), flush=True)
        async for n in r.observation:
            print("N", i, n.code.dotted, n.opt.observe, n.payload.hex(), flush=True)
        print("END", i, flush=True)
    except Exception as e:
        print("E", i, type(e).__name__, str(e).replace("\\n", " "), flush=True)
async def main():
    ctx = await aiocoap.Context.create_client_context()
    with open(sys.argv[1]) as f:
        ctx.client_credentials.load_from_dict(json.load(f))
    accept = int(sys.argv[2])
    await asyncio.gather(*(observe(ctx, i, uri, accept) for i, uri in enumerate(sys.argv[3:])))
try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
`;

export interface ObservedResponse {
  kind: 'R' | 'N';
  /** Which of the observed URLs. */
  url: number;
  code: string;
  observe: number | undefined;
  payload: Buffer;
}

export interface RunningObserver {
  /** The registration's response ("R") and the notifications ("N") so far, decrypted by aiocoap. */
  responses(): ObservedResponse[];
  /** The "E" lines: errors that ended an observation. */
  errors(): string[];
  stderr(): string;
  /** Until `count` notifications (after the registration's response) arrived, the process ends, or `ms` pass. */
  waitForNotifications(count: number, ms: number): Promise<void>;
  /** SIGINT (Python leaves its loop), then SIGKILL after 2 s; resolves with the process's end. */
  stop(): Promise<ProcessResult>;
}

/**
 * The interpreter in aiocoap-client's #! line when it is a Python (pip's console script), else
 * python3 on PATH (a pyenv shim is a bash script that execs the same pyenv Python).
 */
export function aiocoapPython(bin: string): string {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  return /^#!\s*(\S+python[0-9.]*)\s*$/.exec(first)?.[1] ?? findExecutable('python3') ?? 'python3';
}

/** Copies of the fixture contexts for one test, in a temporary directory removed by `cleanup`. */
export class AiocoapOscoreClients {
  readonly #dir: string;
  readonly #bin: string;
  readonly #names: Set<OscoreClientName>;

  private constructor(bin: string, dir: string, names: OscoreClientName[]) {
    this.#bin = bin;
    this.#dir = dir;
    this.#names = new Set(names);
  }

  /**
   * `firstSequence` starts a context's Sender Sequence Number there instead of 0 (a sequence.json
   * as aiocoap writes it): `wrong-key` shares thermostat-app's kid, and a server checks the
   * replay window before it decrypts (RFC 8613 section 8.2, steps 3 and 6), so wrong-key's
   * requests must carry Partial IVs thermostat-app has not used for "Decryption failed" to be
   * what the gateway answers.
   */
  static async create(bin: string, names: OscoreClientName[], firstSequence: Partial<Record<OscoreClientName, number>> = {}): Promise<AiocoapOscoreClients> {
    const dir = await mkdtemp(path.join(tmpdir(), 'aiocoap-oscore-'));
    for (const name of names) {
      // settings.json only: never a sequence.json or lock that a run in place may have left.
      await cp(path.join(OSCORE_FIXTURES, 'aiocoap', name, 'settings.json'), path.join(dir, name, 'settings.json'));
      const first = firstSequence[name];
      if (first !== undefined) await writeFile(path.join(dir, name, 'sequence.json'), JSON.stringify({ 'next-to-send': first, received: { index: 0, bitfield: 0 } }));
      await writeFile(path.join(dir, `${name}.credentials.json`), JSON.stringify({ 'coap://*': { oscore: { basedir: `${path.join(dir, name)}/` } } }));
    }
    return new AiocoapOscoreClients(bin, dir, names);
  }

  credentialsFile(name: OscoreClientName): string {
    if (!this.#names.has(name)) throw new Error(`context ${name} was not copied for this test`);
    return path.join(this.#dir, `${name}.credentials.json`);
  }

  /** aiocoap's sequence.json of a context (next-to-send is persisted ahead of what it used), or undefined before its first request. */
  async sequence(name: OscoreClientName): Promise<{ 'next-to-send': number; received: unknown } | undefined> {
    return readFile(path.join(this.#dir, name, 'sequence.json'), 'utf8').then((t) => JSON.parse(t), () => undefined);
  }

  async request(name: OscoreClientName, req: OscoreRequest): Promise<OscoreExchange> {
    return exchangeOf(await runProcess(this.#bin, requestArgs(this.credentialsFile(name), req), { timeoutMs: req.timeoutMs }));
  }

  /** Registers observations of `urls` (Accept `accept`) with the aiocoap library, one process, one context; runs until `stop`. */
  observe(name: OscoreClientName, urls: string[], accept = 60): RunningObserver {
    const args = ['-c', OBSERVE_SCRIPT, this.credentialsFile(name), String(accept), ...urls];
    const child = spawn(aiocoapPython(this.#bin), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let ended = false;
    void closed.then(() => (ended = true));
    const responses = (): ObservedResponse[] =>
      out
        .split('\n')
        .filter((l) => /^[RN] /.test(l))
        .map((l) => {
          const [kind, url, code, observe, hex] = l.split(' ') as ['R' | 'N', string, string, string, string | undefined];
          return { kind, url: Number(url), code, observe: observe === 'None' ? undefined : Number(observe), payload: Buffer.from(hex ?? '', 'hex') };
        });
    return {
      responses,
      errors: () => [...out.matchAll(/^E (.*)$/gm)].map((m) => m[1]!),
      stderr: () => err,
      async waitForNotifications(n, ms) {
        const deadline = Date.now() + ms;
        while (responses().filter((r) => r.kind === 'N').length < n && Date.now() < deadline && !ended) await new Promise((r) => setTimeout(r, 25));
      },
      async stop() {
        let timedOut = false;
        if (!ended) {
          child.kill('SIGINT');
          const timer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, 2000);
          await closed;
          clearTimeout(timer);
        }
        return { exitCode: await closed, stdout: Buffer.from(out), stderr: err, timedOut };
      },
    };
  }

  async cleanup(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}
