/**
 * Eclipse Californium 3.14.0 (Java) as an interop peer: test/peers/californium/ is a small
 * CoapClient program, built by Maven into one runnable jar, build/peers/californium-peer.jar.
 * It runs one named exchange per JVM and prints one JSON object (see CaliforniumPeer.java).
 *
 * The tests do not build the jar (Maven downloads Californium and Jackson on a cold build);
 * .ci/run does, with the command in CALIFORNIUM_BUILD_HINT. A missing jar or `java` skips the
 * test on a developer machine and fails it under COAP_INTEROP_REQUIRED=1 (CI), as peerOrSkip
 * (helpers/peers.ts) does for the installed peers.
 *
 * A JVM start with Californium takes about 0.4 s here; the peer gives up after 8 s without a
 * response, well inside PEER_TIMEOUT_MS.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PROJECT_ROOT } from '../../gateway/service/config.ts';
import { type ProcessResult, findExecutable, runProcess, skipOrFail } from './peers.ts';

export const CALIFORNIUM_JAR = join(PROJECT_ROOT, 'build/peers/californium-peer.jar');
export const CALIFORNIUM_BUILD_HINT = 'apt-get install default-jdk-headless maven; mvn -B -q -f test/peers/californium/pom.xml package';

export type CaliforniumExchange =
  | 'get-cbor'
  | 'get-senml-cbor'
  | 'get-ipv6'
  | 'fetch-cbor'
  | 'discovery'
  | 'block-wellknown-16'
  | 'block-wellknown-64'
  | 'block-stats-16'
  | 'block-stats-64'
  | 'get-stats'
  | 'observe-cancel';

/** A response as the peer reports it; codes are "2.05", contentFormat -1 when absent. */
export interface CaliforniumResponse {
  code: string;
  contentFormat: number;
  payloadHex: string;
  observeSeq?: number;
  maxAge?: number;
  etag?: string;
}

/** One datagram the peer's endpoint sent or received; block2 is "num/m/size". */
export interface CaliforniumMessage {
  dir: 'sent' | 'received';
  type: string;
  code: string;
  mid: number;
  token: string;
  block2?: string;
  observe?: number;
  etag?: string;
  payloadLength: number;
}

export interface CaliforniumResult extends Omit<Partial<CaliforniumResponse>, 'code'> {
  exchange: string;
  /** null: no response came back (see errors). */
  code: string | null;
  messages: CaliforniumMessage[];
  /** What Californium reported instead of a response: a block-wise failure, a timeout. */
  errors: string[];
  /** fetch-cbor: the body Jackson wrote. */
  requestHex?: string;
  /** observe-cancel: the registration response, then each notification. */
  observe?: CaliforniumResponse[];
  /** observe-cancel: the response to proactiveCancel()'s GET with Observe=1, or null. */
  cancel?: CaliforniumResponse | null;
  canceled?: boolean;
  process: ProcessResult;
}

export interface CaliforniumPeer {
  java: string;
  jar: string;
}

/** `java` and the jar, or undefined after skipping; throws under COAP_INTEROP_REQUIRED=1. */
export function californiumOrSkip(t: TestContext): CaliforniumPeer | undefined {
  const java = findExecutable('java');
  const missing = !java ? 'java is not on PATH' : !existsSync(CALIFORNIUM_JAR) ? `${CALIFORNIUM_JAR} is not built` : undefined;
  if (!missing) return { java: java!, jar: CALIFORNIUM_JAR };
  return skipOrFail(t, `${missing} (${CALIFORNIUM_BUILD_HINT})`);
}

/** Runs one exchange against host:port; throws when the peer printed no JSON object. */
export async function californiumExchange(peer: CaliforniumPeer, exchange: CaliforniumExchange, host: string, port: number): Promise<CaliforniumResult> {
  // C1 only and a small heap: short-lived JVMs, several at once on a 2-core machine.
  const run = await runProcess(peer.java, ['-Xmx128m', '-XX:TieredStopAtLevel=1', '-jar', peer.jar, exchange, host, String(port)]);
  const text = run.stdout.toString('utf8').trim();
  let parsed: Omit<CaliforniumResult, 'process'>;
  try {
    parsed = JSON.parse(text) as Omit<CaliforniumResult, 'process'>;
  } catch {
    throw new Error(`californium-peer ${exchange}: no JSON on stdout (exit ${run.exitCode}, timed out ${run.timedOut}): ${text.slice(0, 500)} ${run.stderr.slice(0, 2000)}`);
  }
  return { ...parsed, process: run };
}

/** The payload bytes of a response the peer reported. */
export function payloadOf(r: { payloadHex?: string }): Buffer {
  return Buffer.from(r.payloadHex ?? '', 'hex');
}
