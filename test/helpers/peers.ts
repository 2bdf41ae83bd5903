/**
 * Independent CoAP peers for interop tests: libcoap's coap-client-notls and coap-server-notls
 * (Debian package libcoap3-bin) and aiocoap's aiocoap-client (PyPI). Finds them on PATH, runs
 * them with a hard timeout, and turns what they print into a response code and payload bytes.
 *
 * A missing peer skips the test on a developer machine; .ci/run installs the peers and sets
 * COAP_INTEROP_REQUIRED=1, under which a missing peer fails the test instead, so that CI cannot
 * go green by skipping.
 *
 * What the peers print (libcoap 4.3.1, aiocoap 0.4.17), learnt by running them:
 * - coap-client-notls exits 0 whatever the response code, and also when nothing came back
 *   before -B seconds. It prints a non-2.xx code on stderr ("4.04 Not Found") and nothing for
 *   2.xx; with -v 6 it dumps every datagram on stdout ("v:1 t:ACK c:2.05 i:... [ ... ]"), which
 *   is where the code is read from here. With -o file the payload goes to the file, byte-exact.
 * - aiocoap-client exits 1 for a non-2.xx response (code on stderr) and 0 for 2.xx. It writes
 *   the raw payload bytes to stdout when pretty-printing is off (it is off by default when
 *   stdout is not a TTY; --no-pretty-print makes it explicit). With -v it logs
 *   "2.05 Content from coap://..." on stderr. It has no timeout option of its own: CON
 *   retransmission gives up only after about 93 s (RFC 7252 section 4.8.2, MAX_TRANSMIT_WAIT).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { generate, parse } from 'coap-packet';

export const LIBCOAP_CLIENT = 'coap-client-notls';
export const LIBCOAP_SERVER = 'coap-server-notls';
export const AIOCOAP_CLIENT = 'aiocoap-client';

/** Every external process is killed after this long, whatever it is doing. */
export const PEER_TIMEOUT_MS = 15_000;

export function interopRequired(): boolean {
  return process.env['COAP_INTEROP_REQUIRED'] === '1';
}

export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The peer's path, or undefined after skipping the test. Under COAP_INTEROP_REQUIRED=1 a missing
 * peer throws instead, failing the test.
 */
export function peerOrSkip(t: TestContext, name: string, installHint: string): string | undefined {
  return findExecutable(name) ?? skipOrFail(t, `${name} is not on PATH (${installHint})`);
}

/** Skips the test with `message`, or under COAP_INTEROP_REQUIRED=1 (CI) throws it: a missing peer never passes there. */
export function skipOrFail(t: TestContext, message: string): undefined {
  if (interopRequired()) throw new Error(`${message}; COAP_INTEROP_REQUIRED=1 makes this a failure`);
  t.skip(`${message}; skipped`);
  return undefined;
}

export const LIBCOAP_HINT = 'apt-get install libcoap3-bin';
export const AIOCOAP_HINT = "pip install 'aiocoap[prettyprint]'";

export interface ProcessResult {
  /** null when the process was killed. */
  exitCode: number | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program asynchronously (the gateway under test shares this event loop) with a hard timeout. */
/** `onStderrLine` sees each line of stderr as it arrives (a peer announcing what it received); `input` goes to stdin. */
export function runProcess(file: string, args: string[], options: { timeoutMs?: number; cwd?: string; onStderrLine?: (line: string) => void; input?: string } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (options.input !== undefined) child.stdin!.end(options.input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? PEER_TIMEOUT_MS);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    let pending = '';
    child.stderr!.on('data', (b: Buffer) => {
      err.push(b);
      if (!options.onStderrLine) return;
      const lines = (pending + b.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onStderrLine(line);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

/** A Python script (`python -c`) with `stdin` as its input: an independent parser a test hands the gateway's output to. */
export async function runPython(python: string, script: string, stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runProcess(python, ['-c', script], { input: stdin, timeoutMs: 15_000 });
  return { code: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

export interface PeerExchange {
  /** "2.05"; undefined when no response was seen. */
  code: string | undefined;
  payload: Buffer;
  process: ProcessResult;
}

export interface PeerRequest {
  url: string;
  method?: 'get' | 'post' | 'put' | 'delete' | 'fetch';
  accept?: number;
}

/**
 * coap-client-notls -v 6 -B 5 -o <file> [-m method] [-A accept] [-t 60 -f body.cbor] <url>.
 * The body goes through a file because -e takes text (percent-encoded), and CBOR is binary.
 */
export async function libcoapRequest(bin: string, req: PeerRequest & { cborBody?: Buffer; blockSize?: number }): Promise<PeerExchange> {
  const dir = await mkdtemp(join(tmpdir(), 'libcoap-'));
  try {
    const outFile = join(dir, 'payload.bin');
    // -B bounds libcoap's own wait; runProcess's timeout bounds everything else.
    const args = ['-v', '6', '-B', '5', '-o', outFile, '-m', req.method ?? 'get'];
    if (req.accept !== undefined) args.push('-A', String(req.accept));
    if (req.blockSize !== undefined) args.push('-b', String(req.blockSize));
    if (req.cborBody) {
      const bodyFile = join(dir, 'body.cbor');
      await writeFile(bodyFile, req.cborBody);
      args.push('-t', '60', '-f', bodyFile);
    }
    args.push(req.url);
    const result = await runProcess(bin, args);
    const payload = await readFile(outFile).catch(() => Buffer.alloc(0));
    return { code: libcoapResponseCode(result.stdout.toString('utf8')), payload, process: result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The code of the last response datagram in a -v 6 dump; requests show method names there, not numbers. */
export function libcoapResponseCode(dump: string): string | undefined {
  const codes = [...dump.matchAll(/^v:1 t:(?:CON|NON|ACK|RST) c:(\d\.\d\d) /gm)].map((m) => m[1]!);
  return codes.at(-1);
}

/**
 * aiocoap-client --no-color --no-pretty-print -v [-m METHOD] [--accept N]
 * [--content-format 60 --payload '<CBOR diagnostic notation>'] <url>.
 * With --content-format 60, aiocoap turns the --payload text from CBOR diagnostic notation
 * (RFC 8949 section 8) into CBOR itself (cbor-diag, from the prettyprint extra): an encoder
 * independent of ours.
 */
export async function aiocoapRequest(bin: string, req: PeerRequest & { cborDiagnostic?: string }): Promise<PeerExchange> {
  const args = ['--no-color', '--no-pretty-print', '-v'];
  if (req.method) args.push('-m', req.method.toUpperCase());
  if (req.accept !== undefined) args.push('--accept', String(req.accept));
  if (req.cborDiagnostic !== undefined) args.push('--content-format', '60', '--payload', req.cborDiagnostic);
  args.push(req.url);
  const result = await runProcess(bin, args);
  const code = /^(?:INFO:coap\.aiocoap-client:)?(\d\.\d\d) \S.* from coap:/m.exec(result.stderr)?.[1] ?? /^(\d\.\d\d) /m.exec(result.stderr)?.[1];
  // A 2.xx payload is on stdout; an error payload on stderr after the code.
  return { code, payload: code?.startsWith('2.') ? result.stdout : Buffer.alloc(0), process: result };
}

/** A link as aiocoap's link-format parser reads it: href and attributes in order (a flag as null). */
export interface AiocoapLink {
  href: string;
  attributes: [string, string | null][];
}

const PARSE_LINKS_PY = `
import json, sys
from aiocoap.util.linkformat import parse
print(json.dumps([{"href": l.href, "attributes": l.attr_pairs} for l in parse(sys.argv[1]).links]))
`;

/**
 * Parses CoRE link-format (RFC 6690) with aiocoap's own parser (aiocoap.util.linkformat) in
 * python3, the interpreter .ci/run installs aiocoap into. Throws when aiocoap cannot parse it.
 */
export async function aiocoapParseLinks(text: string): Promise<AiocoapLink[]> {
  const result = await runProcess('python3', ['-c', PARSE_LINKS_PY, text]);
  if (result.exitCode !== 0) throw new Error(`aiocoap's link-format parser failed: ${result.stderr}`);
  return JSON.parse(result.stdout.toString('utf8')) as AiocoapLink[];
}

export interface RunningPeerServer {
  port: number;
  close(): Promise<void>;
}

/**
 * coap-server-notls on a free port. It takes no port 0, so a port is picked by binding and
 * releasing one; if the server cannot bind it, it exits and another port is tried. Ready when it
 * answers a CoAP ping (an empty CON, RFC 7252 section 4.3) with a RST.
 */
export async function startLibcoapServer(bin: string): Promise<RunningPeerServer> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort();
    const child = spawn(bin, ['-p', String(port), '-v', '0'], { stdio: 'ignore' });
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const close = async () => {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await closed;
      clearTimeout(timer);
    };
    for (let i = 0; i < 50 && !exited; i++) {
      if (await pingAnswered('127.0.0.1', port, 100)) return { port, close };
    }
    await close();
  }
  throw new Error(`${bin} did not start`);
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function pingAnswered(host: string, port: number, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const messageId = Math.floor(Math.random() * 0xffff);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), waitMs);
    s.on('message', (msg) => {
      try {
        const p = parse(msg);
        if (p.reset && p.messageId === messageId) done(true);
      } catch {
        // not CoAP
      }
    });
    s.on('error', () => done(false));
    s.send(generate({ code: '0.00', confirmable: true, messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }), port, host);
  });
}
