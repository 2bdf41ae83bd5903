/**
 * OSCORE cross-checked with aiocoap's own implementation (aiocoap.oscore, the gateway's interop
 * peer), in-process in Python, no sockets: a python3 child builds FilesystemSecurityContexts
 * from the same secrets in temp directories and protects/unprotects messages it gets as hex
 * over stdin (one JSON command a line), while this side uses OscoreServer and OscoreClient.
 *
 *   aiocoap client ──request──▶ OscoreServer (Echo challenge, Appendix B.1.2) ──response──▶ aiocoap
 *   OscoreClient   ──request──▶ aiocoap server ──response / notifications──▶ OscoreClient
 *   aiocoap client ──Observe──▶ OscoreServer ──notifications (own Partial IVs)──▶ aiocoap
 *
 * Skipped only when python3 or aiocoap's OSCORE support is missing and neither CI nor
 * COAP_INTEROP_REQUIRED is set.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test, type TestContext } from 'node:test';
import { MessageType, Option, codeByte, encodeMessage, readUint, uintOption, type WireMessage } from '../gateway/coap/coap-wire.ts';
import type { OscoreClientSettings, OscoreCredential } from '../gateway/service/oscore-credentials.ts';
import { OscoreClient } from '../gateway/coap/oscore/oscore-client.ts';
import { ECHO_LENGTH } from '../gateway/coap/echo-values.ts';
import { OscoreServer } from '../gateway/coap/oscore/oscore-server.ts';
import { MemorySequence } from '../gateway/coap/oscore/sequence-store.ts';
import { runProcess, skipOrFail } from './helpers/peers.ts';
import { b, hex, parse } from './helpers/hex-messages.ts';

const PEER_PY = String.raw`
import sys, json
from aiocoap import Message
from aiocoap.message import Direction
from aiocoap import oscore

contexts, requests = {}, {}

def code(c):
    c = int(c)
    return "%d.%02d" % (c >> 5, c & 31)

def outgoing(h):
    m = Message.decode(bytes.fromhex(h))
    m.direction = Direction.OUTGOING
    return m

def finish(outer, like):
    outer.mtype, outer.mid, outer.token = like.mtype, like.mid, like.token
    return outer.encode().hex()

def describe(m):
    return {"code": code(m.code), "payload": m.payload.hex(), "uri_path": list(m.opt.uri_path),
            "echo": m.opt.echo.hex() if m.opt.echo else None, "observe": m.opt.observe}

def handle(c):
    op = c["op"]
    if op == "open":
        contexts[c["name"]] = oscore.FilesystemSecurityContext(c["dir"])
        return {}
    ctx = contexts[c["ctx"]]
    if op == "protect_request":
        m = outgoing(c["hex"])
        if c.get("echo"):
            m.opt.echo = bytes.fromhex(c["echo"])
        outer, rid = ctx.protect(m)
        requests[c["rid"]] = rid
        return {"hex": finish(outer, m)}
    if op == "unprotect_response":
        inner, _ = ctx.unprotect(Message.decode(bytes.fromhex(c["hex"])), requests[c["rid"]])
        return describe(inner)
    if op == "unprotect_request":
        inner, rid = ctx.unprotect(Message.decode(bytes.fromhex(c["hex"])))
        requests[c["rid"]] = rid
        return describe(inner)
    if op == "protect_response":
        m = outgoing(c["hex"])
        outer, _ = ctx.protect(m, requests[c["rid"]])
        return {"hex": finish(outer, m)}
    raise ValueError("unknown op " + op)

for line in sys.stdin:
    try:
        out = handle(json.loads(line))
    except Exception as e:
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out), flush=True)
`;

/** The Python side: one command, one answer line. */
class AiocoapPeer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: ((line: string) => void)[] = [];

  constructor() {
    this.#child = spawn('python3', ['-u', '-c', PEER_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#waiting.shift()?.(line));
    this.#child.stderr.on('data', (d: Buffer) => process.stderr.write(`[aiocoap] ${d.toString()}`));
  }

  call(command: Record<string, unknown>): Promise<Record<string, any>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`aiocoap peer did not answer ${JSON.stringify(command)}`)), 10_000);
      this.#waiting.push((line) => {
        clearTimeout(timer);
        const answer = JSON.parse(line) as Record<string, any>;
        if (answer['error']) reject(new Error(`aiocoap: ${answer['error']}: ${answer['message']}`));
        else resolve(answer);
      });
      this.#child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#child.on('close', () => resolve()));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await closed;
    clearTimeout(timer);
  }
}

const SECRET = '0102030405060708090a0b0c0d0e0f10';
const SALT = '9e7ca92223786340';

function request(pathSegment: string, extra: { number: number; value: Uint8Array }[] = [], messageId = 0x2001): WireMessage {
  const options = [{ number: Option.URI_PATH, value: Buffer.from(pathSegment) }, ...extra].sort((x, y) => x.number - y.number);
  return { type: MessageType.CON, code: codeByte('0.01'), messageId, token: b('0badc0de'), options, payload: new Uint8Array(0) };
}

function response(text: string, extra: { number: number; value: Uint8Array }[] = [], messageId = 0x2001): WireMessage {
  return { type: MessageType.ACK, code: codeByte('2.05'), messageId, token: b('0badc0de'), options: [{ number: Option.CONTENT_FORMAT, value: uintOption(0) }, ...extra].sort((x, y) => x.number - y.number), payload: Buffer.from(text) };
}

async function aiocoapAvailable(): Promise<string | undefined> {
  try {
    const r = await runProcess('python3', ['-c', 'import aiocoap.oscore, cbor2, cryptography, filelock'], { timeoutMs: 15_000 });
    return r.exitCode === 0 ? undefined : `aiocoap's OSCORE support is not importable (pip install 'aiocoap[oscore]'): ${r.stderr.trim().split('\n').at(-1)}`;
  } catch (err) {
    return `python3 is not runnable: ${String(err)}`;
  }
}

/** Skips on a developer machine; fails under CI or COAP_INTEROP_REQUIRED=1 (skipOrFail). */
function unavailable(t: TestContext, why: string): void {
  if (process.env['CI']) throw new Error(`${why}; CI is set, so this is a failure`);
  skipOrFail(t, why);
}

describe('OSCORE against aiocoap.oscore (in-process, no sockets)', () => {
  let missing: string | undefined;
  let dir = '';
  let peer: AiocoapPeer | undefined;

  before(async () => {
    missing = await aiocoapAvailable();
    if (missing) return;
    dir = await mkdtemp(path.join(tmpdir(), 'oscore-aiocoap-'));
    peer = new AiocoapPeer();
  });

  after(async () => {
    await peer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function aiocoapContext(name: string, settings: Record<string, string>): Promise<void> {
    const d = path.join(dir, name);
    await import('node:fs/promises').then((fs) => fs.mkdir(d));
    await writeFile(path.join(d, 'settings.json'), JSON.stringify(settings));
    await peer!.call({ op: 'open', name, dir: d });
  }

  test('aiocoap client -> OscoreServer: Echo challenge after a start, then requests and responses both ways verify', async (t) => {
    if (missing) return unavailable(t, missing);
    // The gateway's view: it sends as 01 and receives from 00.
    const credential: OscoreCredential = { name: 'py', senderId: b('01'), recipientId: b('00'), masterSecret: b(SECRET), masterSalt: b(SALT), idContext: b('c0ffee'), replayWindow: undefined };
    await aiocoapContext('client1', { 'sender-id_hex': '00', 'recipient-id_hex': '01', secret_hex: SECRET, salt_hex: SALT, 'id-context_hex': 'c0ffee' });
    const server = await OscoreServer.open({ credentials: [credential], stateDir: dir, now: () => 0, sequences: async () => new MemorySequence(0) });
    try {
      const plain = request('temp', [{ number: Option.ACCEPT, value: uintOption(60) }]);
      const first = await peer!.call({ op: 'protect_request', ctx: 'client1', rid: 1, hex: hex(encodeMessage(plain)) });
      const challenged = server.unprotectRequest(parse(first['hex']));
      assert.ok(!challenged.ok && challenged.kind === 'challenge', 'a fresh gateway challenges');
      const seen = await peer!.call({ op: 'unprotect_response', ctx: 'client1', rid: 1, hex: hex(encodeMessage(challenged.outer)) });
      assert.equal(seen['code'], '4.01');
      assert.equal(seen['echo']?.length, 2 * ECHO_LENGTH, 'aiocoap reads the Echo inside the protected 4.01 (hex)');

      const second = await peer!.call({ op: 'protect_request', ctx: 'client1', rid: 2, hex: hex(encodeMessage(plain)), echo: seen['echo'] });
      const ok = server.unprotectRequest(parse(second['hex']));
      assert.ok(ok.ok, 'the repeat with Echo verifies');
      assert.equal(ok.security.client, 'py');
      assert.equal(ok.inner.code, codeByte('0.01'));
      assert.deepEqual(ok.inner.options.map((o) => [o.number, hex(o.value)]), [[Option.URI_PATH, hex(Buffer.from('temp'))], [Option.ACCEPT, '3c']]);
      assert.equal(ok.security.ownPiv, true);
      const answer = server.protectResponse(response('21.5'), ok.security);
      const got = await peer!.call({ op: 'unprotect_response', ctx: 'client1', rid: 2, hex: hex(encodeMessage(answer)) });
      assert.equal(got['code'], '2.05');
      assert.equal(Buffer.from(got['payload'], 'hex').toString(), '21.5');

      // The window is known now: no Echo, and the response reuses the request's nonce (section 5.2).
      const third = await peer!.call({ op: 'protect_request', ctx: 'client1', rid: 3, hex: hex(encodeMessage(request('alert'))) });
      const ok3 = server.unprotectRequest(parse(third['hex']));
      assert.ok(ok3.ok);
      assert.equal(ok3.security.ownPiv, false);
      const answer3 = server.protectResponse({ ...response('no alert'), code: codeByte('4.04'), options: [] }, ok3.security);
      assert.equal(answer3.options.find((o) => o.number === 9)!.value.length, 0, 'no Partial IV: the request nonce');
      const got3 = await peer!.call({ op: 'unprotect_response', ctx: 'client1', rid: 3, hex: hex(encodeMessage(answer3)) });
      assert.equal(got3['code'], '4.04');

      // Observe: registration from aiocoap, notifications under the gateway's own Partial IVs.
      const reg = await peer!.call({ op: 'protect_request', ctx: 'client1', rid: 4, hex: hex(encodeMessage(request('temp', [{ number: Option.OBSERVE, value: uintOption(0) }]))) });
      const okReg = server.unprotectRequest(parse(reg['hex']));
      assert.ok(okReg.ok);
      assert.equal(readUint(okReg.inner.options.find((o) => o.number === Option.OBSERVE)!.value), 0);
      const observed: number[] = [];
      for (const [n, text] of [[2, '21.5'], [3, '21.75']] as const) {
        const note = server.protectNotification(response(text, [{ number: Option.OBSERVE, value: uintOption(n) }]), okReg.security);
        const g = await peer!.call({ op: 'unprotect_response', ctx: 'client1', rid: 4, hex: hex(encodeMessage(note)) });
        assert.equal(g['code'], '2.05');
        assert.equal(Buffer.from(g['payload'], 'hex').toString(), text);
        observed.push(g['observe']);
      }
      assert.ok(observed[1]! > observed[0]!, 'aiocoap orders the notifications by their Partial IVs');
    } finally {
      await server.close();
    }
  });

  test('OscoreClient -> aiocoap server: request, response, and Observe notifications verify', async (t) => {
    if (missing) return unavailable(t, missing);
    await aiocoapContext('server2', { 'sender-id_hex': '5a', 'recipient-id_hex': '', secret_ascii: 'a pre-shared secret', 'id-context_hex': '37cbf3210017a2d3' });
    const settings: OscoreClientSettings = { senderId: b(''), recipientId: b('5a'), masterSecret: Buffer.from('a pre-shared secret'), masterSalt: new Uint8Array(0), idContext: b('37cbf3210017a2d3'), replayWindow: undefined };
    const client = new OscoreClient(settings, new MemorySequence(40));

    const plain = request('temp', [{ number: Option.URI_QUERY, value: Buffer.from('unit=Cel') }]);
    const { outer, pending } = client.protectRequest(plain);
    const seen = await peer!.call({ op: 'unprotect_request', ctx: 'server2', rid: 10, hex: hex(encodeMessage(outer)) });
    assert.equal(seen['code'], '0.01');
    assert.deepEqual(seen['uri_path'], ['temp']);
    const reply = await peer!.call({ op: 'protect_response', ctx: 'server2', rid: 10, hex: hex(encodeMessage(response('hello'))) });
    const r = client.unprotectResponse(parse(reply['hex']), pending);
    assert.ok(r.ok, !r.ok ? r.error.message : '');
    assert.equal(Buffer.from(r.inner.payload).toString(), 'hello');
    assert.equal(r.inner.code, codeByte('2.05'));

    const reg = client.protectRequest(request('temp', [{ number: Option.OBSERVE, value: uintOption(0) }], 0x2002));
    const seenReg = await peer!.call({ op: 'unprotect_request', ctx: 'server2', rid: 11, hex: hex(encodeMessage(reg.outer)) });
    assert.equal(seenReg['observe'], 0);
    const payloads: string[] = [];
    for (const [n, text] of [[1, 'first'], [2, 'second'], [3, 'third']] as const) {
      const note = await peer!.call({ op: 'protect_response', ctx: 'server2', rid: 11, hex: hex(encodeMessage(response(text, [{ number: Option.OBSERVE, value: uintOption(n) }], 0x2002))) });
      const v = client.unprotectResponse(parse(note['hex']), reg.pending);
      assert.ok(v.ok, !v.ok ? v.error.message : '');
      assert.ok(v.inner.options.some((o) => o.number === Option.OBSERVE));
      payloads.push(Buffer.from(v.inner.payload).toString());
    }
    assert.deepEqual(payloads, ['first', 'second', 'third']);
  });
});
