/**
 * go-coap (github.com/plgd-dev/go-coap/v3) as an interop peer: test/peers/gocoap/ is a small Go
 * client written against the library's own API; this builds it once into build/peers/ and runs
 * one named exchange per invocation, parsing the JSON object it prints.
 *
 * The peer is built from source, so what it needs is Go: a missing `go` skips the test on a
 * developer machine and fails it under COAP_INTEROP_REQUIRED=1 (CI), as peerOrSkip does for
 * the installed peers. The build is skipped when the binary was built from the same sources
 * (a SHA-256 of main.go, go.mod and go.sum, kept beside the binary).
 *
 * `go build ./test/peers/gocoap` from the repository root does not work: the root is no Go
 * module, and the go command resolves the module from its working directory, not from the
 * package path. Hence `go -C test/peers/gocoap build`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { PROJECT_ROOT } from '../../gateway/service/config.ts';
import { findExecutable, runProcess, skipOrFail } from './peers.ts';

export const GOCOAP_SOURCE_DIR = join(PROJECT_ROOT, 'test/peers/gocoap');
export const GOCOAP_BIN = join(PROJECT_ROOT, 'build/peers/gocoap-peer');
const STAMP = `${GOCOAP_BIN}.sha256`;
const SOURCES = ['main.go', 'go.mod', 'go.sum'];

/** A build with a cold cache compiles go-coap (about 15 s here) and needs its modules in the module cache, or the Go module proxy (.ci/run downloads them first; go.sum pins their hashes). */
const BUILD_TIMEOUT_MS = 120_000;

export const GO_HINT = 'install Go >= 1.26 (go-coap v3.8.0 requires it)';

/** `go` on PATH, or undefined after skipping; throws under COAP_INTEROP_REQUIRED=1. */
export function goOrSkip(t: TestContext): string | undefined {
  return findExecutable('go') ?? skipOrFail(t, `go is not on PATH (${GO_HINT}), so the go-coap peer cannot be built`);
}

async function sourceHash(): Promise<string> {
  const h = createHash('sha256');
  for (const f of SOURCES) {
    h.update(f).update('\0').update(await readFile(join(GOCOAP_SOURCE_DIR, f))).update('\0');
  }
  return h.digest('hex');
}

/** Builds build/peers/gocoap-peer unless it is already built from these sources; returns its path. */
export async function buildGocoapPeer(go: string): Promise<string> {
  const hash = await sourceHash();
  const stamp = await readFile(STAMP, 'utf8').catch(() => '');
  if (stamp.trim() === hash && existsSync(GOCOAP_BIN)) return GOCOAP_BIN;
  await mkdir(dirname(GOCOAP_BIN), { recursive: true });
  const res = await runProcess(go, ['-C', GOCOAP_SOURCE_DIR, 'build', '-o', GOCOAP_BIN, '.'], { timeoutMs: BUILD_TIMEOUT_MS });
  if (res.exitCode !== 0) {
    throw new Error(`go build of the go-coap peer failed (${res.timedOut ? 'timed out' : `exit ${res.exitCode}`}): ${res.stderr}`);
  }
  await writeFile(STAMP, `${hash}\n`);
  return GOCOAP_BIN;
}

/** One CoAP response as the go-coap application saw it (block-wise transfers already reassembled). */
export interface GocoapResponse {
  code: string;
  contentFormat: number | null;
  payloadHex: string;
  etagHex?: string;
  observeSeq?: number;
}

export interface GocoapResult extends GocoapResponse {
  exchange: string;
  /** The request body sent (fetch-cbor), as fxamacker/cbor wrote it. */
  requestHex?: string;
  /** observe-cancel: every message the observation handler got, the registration response first. */
  observe?: GocoapResponse[];
  /** observe-cancel: "ok" or Observation.Cancel's error. */
  cancel?: string;
  /** The exchange failed in the peer (no response, a library error). */
  error?: string;
}

export type GocoapExchange =
  | 'get-cbor'
  | 'get-senml-cbor'
  | 'fetch-cbor'
  | 'discovery'
  | 'block-wellknown-16'
  | 'block-wellknown-64'
  | 'block-stats-16'
  | 'block-stats-64'
  | 'observe-cancel'
  | 'get-ipv6';

export interface GocoapRun {
  result: GocoapResult;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
}

/** The peer gives up after 8 s of its own; this bounds everything else. */
const RUN_TIMEOUT_MS = 12_000;

/**
 * Runs `gocoap-peer <exchange> <target>`; `onStderrLine` sees each stderr line as it arrives
 * (observe-cancel announces each notification there). Throws when stdout is not one JSON object.
 */
export async function runGocoapPeer(bin: string, exchange: GocoapExchange, target: string, onStderrLine?: (line: string) => void): Promise<GocoapRun> {
  const run = await runProcess(bin, [exchange, target], { timeoutMs: RUN_TIMEOUT_MS, onStderrLine });
  const stdout = run.stdout.toString('utf8');
  try {
    return { result: JSON.parse(stdout) as GocoapResult, stderr: run.stderr, exitCode: run.exitCode, timedOut: run.timedOut };
  } catch {
    throw new Error(`gocoap-peer ${exchange} printed no JSON (exit ${run.exitCode}${run.timedOut ? ', killed after timeout' : ''}): ${stdout} ${run.stderr}`);
  }
}
