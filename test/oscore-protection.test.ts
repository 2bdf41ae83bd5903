/**
 * OSCORE (RFC 8613) in gateway/coap/oscore/: the Appendix C test vectors byte for byte, every
 * section 8.2 error, the replay window (section 7.4), Echo freshness after a start (Appendix
 * B.1.2, RFC 9175), Observe (section 4.1.3.5) and the credentials file. No sockets: messages go
 * through encodeMessage/parseMessage as they would on the wire.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../gateway/errors.ts';
import { MessageType, Option, codeByte, encodeMessage, readUint, uintOption, type WireMessage } from '../gateway/coap/coap-wire.ts';
import { aeadNonce, encStructure, externalAad, partialIv, sequenceNumber } from '../gateway/coap/oscore/cose-encrypt0.ts';
import { loadOscoreCredentials, parseClientSettings, parseOscoreCredentials, type OscoreClientSettings, type OscoreCredential } from '../gateway/service/oscore-credentials.ts';
import { ECHO_LENGTH, EchoValues } from '../gateway/coap/echo-values.ts';
import { decodePlaintext, encodePlaintext } from '../gateway/coap/oscore/message-protection.ts';
import { OscoreClient } from '../gateway/coap/oscore/oscore-client.ts';
import { OSCORE_OPTION, decodeOscoreOption, encodeOscoreOption } from '../gateway/coap/oscore/oscore-option.ts';
import { ECHO_VALID_MS, OscoreServer, type Unprotected } from '../gateway/coap/oscore/oscore-server.ts';
import { deriveSecurityContext, kdfInfo } from '../gateway/coap/oscore/security-context.ts';
import { MemorySequence } from '../gateway/coap/oscore/sequence-store.ts';
import { b, hex, parse } from './helpers/hex-messages.ts';

const VECTORS = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/oscore/test-vectors/rfc8613-appendix-c.json', import.meta.url)), 'utf8'));
type Side = { senderId: string; recipientId: string; senderInfo?: string; recipientInfo?: string; ivInfo?: string; senderKey: string; recipientKey: string; commonIv: string; senderNonce: string; recipientNonce: string };
type KeyVector = { masterSecret: string; masterSalt: string; idContext: string | null; client: Side; server: Side };

/** Through the wire and back, so nothing depends on shared buffers. */
const wire = (m: WireMessage) => parse(encodeMessage(m));

function settingsOf(v: KeyVector, side: 'client' | 'server'): OscoreClientSettings {
  return { senderId: b(v[side].senderId), recipientId: b(v[side].recipientId), masterSecret: b(v.masterSecret), masterSalt: b(v.masterSalt), idContext: v.idContext === null ? undefined : b(v.idContext), replayWindow: undefined };
}

function credential(name: string, v: KeyVector): OscoreCredential {
  return { name, ...settingsOf(v, 'server') };
}

class Clock {
  ms = 1_000_000;
  now = () => this.ms;
}

/** A server sequence the test can steer; production sequences never go back (section 7.5.1). */
class SteerableSequence {
  value = 100;
  next(): number {
    return this.value++;
  }
}

async function serverFor(credentials: OscoreCredential[], clock = new Clock()) {
  const sequences = new Map<string, SteerableSequence>();
  let n = 0;
  const server = await OscoreServer.open({
    credentials,
    stateDir: '/nonexistent',
    now: clock.now,
    randomBytes: (len) => Uint8Array.from({ length: len }, () => (n++ * 37 + 11) & 0xff),
    sequences: async (name) => {
      const s = new SteerableSequence();
      sequences.set(name, s);
      return s;
    },
  });
  return { server, sequences, clock };
}

function get(path: string, extra: { number: number; value: Uint8Array }[] = []): WireMessage {
  const options = [{ number: Option.URI_PATH, value: Buffer.from(path) }, ...extra].sort((x, y) => x.number - y.number);
  return { type: MessageType.CON, code: codeByte('0.01'), messageId: 0x1234, token: b('a1b2c3d4'), options, payload: new Uint8Array(0) };
}

function content(text: string, extra: { number: number; value: Uint8Array }[] = []): WireMessage {
  return { type: MessageType.ACK, code: codeByte('2.05'), messageId: 0x1234, token: b('a1b2c3d4'), options: extra, payload: Buffer.from(text) };
}

function assertError(r: Unprotected, code: string, diagnostic: string): void {
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.kind === 'error', `expected an error, got ${JSON.stringify(r.ok ? 'ok' : r.kind)}`);
  assert.equal(r.error.code, code);
  assert.equal(r.diagnostic, diagnostic);
}

/** Appendix B.1.2 from the client's side: the first request is challenged, the repeat with Echo passes. */
function passEcho(server: OscoreServer, client: OscoreClient, request = get('warmup')) {
  const first = client.protectRequest(request);
  const r1 = server.unprotectRequest(wire(first.outer));
  assert.ok(!r1.ok && r1.kind === 'challenge', 'a fresh server challenges');
  const c = client.unprotectResponse(wire(r1.outer), first.pending);
  assert.ok(c.ok && c.echo, 'the challenge verifies and carries Echo');
  const second = client.protectRequest(request, { echo: c.echo });
  const r2 = server.unprotectRequest(wire(second.outer));
  assert.ok(r2.ok, 'the repeated request passes');
  return { r2, pending: second.pending };
}

describe('RFC 8613 Appendix C test vectors', () => {
  for (const id of ['C.1', 'C.2', 'C.3']) {
    test(`${id}: key derivation, client and server`, () => {
      const v = VECTORS.keyDerivation[id] as KeyVector;
      const idContext = v.idContext === null ? undefined : b(v.idContext);
      assert.equal(hex(kdfInfo(b(v.client.senderId), idContext, 'Key', 16)), v.client.senderInfo);
      assert.equal(hex(kdfInfo(b(v.client.recipientId), idContext, 'Key', 16)), v.client.recipientInfo);
      assert.equal(hex(kdfInfo(new Uint8Array(0), idContext, 'IV', 13)), v.client.ivInfo);
      for (const side of ['client', 'server'] as const) {
        const ctx = deriveSecurityContext(settingsOf(v, side));
        assert.equal(hex(ctx.senderKey), v[side].senderKey, `${side} sender key`);
        assert.equal(hex(ctx.recipientKey), v[side].recipientKey, `${side} recipient key`);
        assert.equal(hex(ctx.commonIv), v[side].commonIv, `${side} common IV`);
        assert.equal(hex(aeadNonce(ctx.commonIv, ctx.senderId, partialIv(0))), v[side].senderNonce, `${side} sender nonce`);
        assert.equal(hex(aeadNonce(ctx.commonIv, ctx.recipientId, partialIv(0))), v[side].recipientNonce, `${side} recipient nonce`);
      }
    });
  }

  for (const id of ['C.4', 'C.5', 'C.6']) {
    test(`${id}: request protection by the client, verification by the server`, async () => {
      const r = VECTORS.requests[id];
      const v = VECTORS.keyDerivation[r.context] as KeyVector;
      const ctx = deriveSecurityContext(settingsOf(v, 'client'));
      const binding = { kid: ctx.senderId, piv: partialIv(r.sequence) };
      assert.equal(hex(externalAad(binding)), r.aadArray);
      assert.equal(hex(encStructure(binding)), r.aad);
      assert.equal(hex(aeadNonce(ctx.commonIv, ctx.senderId, binding.piv)), r.nonce);
      const unprotected = parse(r.unprotected);
      assert.equal(hex(encodePlaintext(unprotected.code, unprotected.options.filter((o) => o.number !== Option.URI_HOST), unprotected.payload)), r.plaintext);

      const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(r.sequence));
      const { outer } = client.protectRequest(unprotected);
      assert.equal(hex(outer.options.find((o) => o.number === OSCORE_OPTION)!.value), r.option);
      assert.equal(hex(outer.payload), r.ciphertext);
      assert.equal(hex(encodeMessage(outer)), r.protected);

      const { server } = await serverFor([credential('tv', v)]);
      passEcho(server, new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1)));
      const got = server.unprotectRequest(parse(r.protected));
      assert.ok(got.ok);
      assert.equal(hex(encodeMessage(got.inner)), r.unprotected, 'the inner request is the unprotected one (Uri-Host kept from outside)');
      assert.equal(got.security.client, 'tv');
      assert.equal(got.security.ownPiv, false);
    });
  }

  test('C.7 and C.8: response protection by the server (request nonce, then own Partial IV 0), verification by the client', async () => {
    const req = VECTORS.requests['C.4'];
    const v = VECTORS.keyDerivation['C.1'] as KeyVector;
    const { server, sequences } = await serverFor([credential('tv', v)]);
    passEcho(server, new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1)));
    const got = server.unprotectRequest(parse(req.protected));
    assert.ok(got.ok);
    const c7 = VECTORS.responses['C.7'];
    assert.equal(hex(encodeMessage(server.protectResponse(parse(c7.unprotected), got.security))), c7.protected);
    // A second response to the same request may not reuse the nonce (Appendix D.4): own Partial IV.
    sequences.get('tv')!.value = 0;
    const c8 = VECTORS.responses['C.8'];
    assert.equal(hex(encodeMessage(server.protectResponse(parse(c8.unprotected), got.security))), c8.protected);

    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(req.sequence));
    const { pending } = client.protectRequest(parse(req.unprotected));
    for (const c of [c7, c8]) {
      const r = client.unprotectResponse(parse(c.protected), pending);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.error.message));
      assert.equal(hex(encodeMessage(r.inner)), c.unprotected);
    }
    // Section 8.4.2: the request nonce verifies one response only.
    const again = client.unprotectResponse(parse(c7.protected), pending);
    assert.ok(!again.ok);
    assert.equal(again.error.code, 'GW_ERR_OSCORE_REPLAY');
  });
});

describe('OSCORE option (section 6.1)', () => {
  test('the section 6.3 examples encode and decode', () => {
    const cases: [string, { piv?: string; kid?: string; kidContext?: string }][] = [
      ['090525', { piv: '05', kid: '25' }],
      ['0900', { piv: '00', kid: '' }],
      ['19050544616c656b', { piv: '05', kidContext: '44616c656b', kid: '' }],
      ['', {}],
      ['0107', { piv: '07' }],
    ];
    for (const [value, fields] of cases) {
      const f = { piv: fields.piv === undefined ? undefined : b(fields.piv), kid: fields.kid === undefined ? undefined : b(fields.kid), kidContext: fields.kidContext === undefined ? undefined : b(fields.kidContext) };
      assert.equal(hex(encodeOscoreOption(f)), value);
      const d = decodeOscoreOption(b(value));
      assert.ok(d.ok);
      assert.equal(d.value.piv && hex(d.value.piv), fields.piv);
      assert.equal(d.value.kid && hex(d.value.kid), fields.kid);
      assert.equal(d.value.kidContext && hex(d.value.kidContext), fields.kidContext);
    }
  });

  test('malformed values are refused: each reserved bit, n = 6 and 7, truncated fields', () => {
    for (const bad of ['2914', '4914', '8914', '0e0102030405060708', '0f0102030405060708', '0301', '1914083701', '1914', '0114ff']) {
      assert.equal(decodeOscoreOption(b(bad)).ok, false, bad);
    }
  });
});

describe('section 8.2 errors', async () => {
  const v = VECTORS.keyDerivation['C.2'] as KeyVector;
  const setup = async () => {
    const { server, clock } = await serverFor([credential('alice', v)]);
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    passEcho(server, client);
    return { server, client, clock };
  };
  const withOption = (m: WireMessage, value: Uint8Array): WireMessage => ({ ...m, options: m.options.map((o) => (o.number === OSCORE_OPTION ? { number: o.number, value } : o)) });

  test('unknown kid: 4.01 "Security context not found"', async () => {
    const { server } = await setup();
    const stranger = new OscoreClient({ ...settingsOf(v, 'client'), senderId: b('42') }, new MemorySequence(5));
    assertError(server.unprotectRequest(wire(stranger.protectRequest(get('temp')).outer)), 'GW_ERR_OSCORE_CONTEXT_NOT_FOUND', 'Security context not found');
    // A kid context the context does not have is another context (section 5.1).
    const withCtx = new OscoreClient({ ...settingsOf(v, 'client'), idContext: b('0102') }, new MemorySequence(5));
    assertError(server.unprotectRequest(wire(withCtx.protectRequest(get('temp')).outer)), 'GW_ERR_OSCORE_CONTEXT_NOT_FOUND', 'Security context not found');
  });

  test('tampered ciphertext and wrong key: 4.00 "Decryption failed"', async () => {
    const { server, client } = await setup();
    const { outer } = client.protectRequest(get('temp'));
    const tampered = Uint8Array.from(outer.payload);
    tampered[0]! ^= 1;
    assertError(server.unprotectRequest(wire({ ...outer, payload: tampered })), 'GW_ERR_OSCORE_DECRYPT_FAILED', 'Decryption failed');
    const wrongKey = new OscoreClient({ ...settingsOf(v, 'client'), masterSecret: b('ffffffffffffffffffffffffffffffff') }, new MemorySequence(50));
    assertError(server.unprotectRequest(wire(wrongKey.protectRequest(get('temp')).outer)), 'GW_ERR_OSCORE_DECRYPT_FAILED', 'Decryption failed');
  });

  test('replay and too-old sequence numbers: 4.01 "Replay detected", checked before decryption', async () => {
    const { server, client } = await setup();
    const { outer } = client.protectRequest(get('temp'));
    assert.ok(server.unprotectRequest(wire(outer)).ok);
    assertError(server.unprotectRequest(wire(outer)), 'GW_ERR_OSCORE_REPLAY', 'Replay detected');
    // A replay is refused before the AEAD runs: even a tampered copy says "Replay detected".
    assertError(server.unprotectRequest(wire({ ...outer, payload: new Uint8Array(outer.payload.length) })), 'GW_ERR_OSCORE_REPLAY', 'Replay detected');
    const late = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(4));
    const old = late.protectRequest(get('temp')).outer;
    const ahead = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1000));
    assert.ok(server.unprotectRequest(wire(ahead.protectRequest(get('temp')).outer)).ok);
    assertError(server.unprotectRequest(wire(old)), 'GW_ERR_OSCORE_REPLAY', 'Replay detected');
  });

  test('a forged request with a fresh Partial IV does not move the window', async () => {
    const { server } = await setup();
    const genuine = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(500)).protectRequest(get('temp')).outer;
    const forged = Uint8Array.from(genuine.payload);
    forged[3]! ^= 0x80;
    assertError(server.unprotectRequest(wire({ ...genuine, payload: forged })), 'GW_ERR_OSCORE_DECRYPT_FAILED', 'Decryption failed');
    // Had the forgery been accepted into the window, 500 would now be a replay and 10 too old.
    assert.ok(server.unprotectRequest(wire(genuine)).ok);
    const before = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(480)).protectRequest(get('temp')).outer;
    assert.ok(server.unprotectRequest(wire(before)).ok);
  });

  test('malformed OSCORE option (each reserved flag bit, n = 6, truncated kid context): 4.02 "Failed to decode COSE"', async () => {
    const { server, client } = await setup();
    const { outer } = client.protectRequest(get('temp'));
    const value = outer.options.find((o) => o.number === OSCORE_OPTION)!.value;
    for (const bit of [0x20, 0x40, 0x80]) {
      const v2 = Uint8Array.from(value);
      v2[0]! |= bit;
      assertError(server.unprotectRequest(wire(withOption(outer, v2))), 'GW_ERR_OSCORE_BAD_OPTION', 'Failed to decode COSE');
    }
    assertError(server.unprotectRequest(wire(withOption(outer, b('0e0102030405060700')))), 'GW_ERR_OSCORE_BAD_OPTION', 'Failed to decode COSE');
    assertError(server.unprotectRequest(wire(withOption(outer, b('19140837cbf321')))), 'GW_ERR_OSCORE_BAD_OPTION', 'Failed to decode COSE');
    // Section 5: a request without Partial IV or without kid is not a request's COSE object.
    assertError(server.unprotectRequest(wire(withOption(outer, b('0800')))), 'GW_ERR_OSCORE_DECODE', 'Failed to decode COSE');
    assertError(server.unprotectRequest(wire(withOption(outer, b('0114')))), 'GW_ERR_OSCORE_DECODE', 'Failed to decode COSE');
    assertError(server.unprotectRequest(wire({ ...outer, payload: b('0102') })), 'GW_ERR_OSCORE_DECODE', 'Failed to decode COSE');
    // Verified, but the plaintext's code is a response code: not a request (section 5.3).
    const responseAsRequest = client.protectRequest({ ...get('temp'), code: codeByte('2.05') }).outer;
    assertError(server.unprotectRequest(wire(responseAsRequest)), 'GW_ERR_OSCORE_DECODE', 'Failed to decode COSE');
  });
});

describe('Echo freshness after a start (Appendix B.1.2, RFC 9175)', () => {
  const v = VECTORS.keyDerivation['C.2'] as KeyVector;
  const w = VECTORS.keyDerivation['C.1'] as KeyVector;

  test('a fresh server challenges with a protected 4.01 under its own Partial IV; the repeat with Echo passes and its response uses ownPiv', async () => {
    const { server } = await serverFor([credential('alice', v)]);
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(7));
    const first = client.protectRequest(get('temp'));
    const r1 = server.unprotectRequest(wire(first.outer));
    assert.ok(!r1.ok && r1.kind === 'challenge');
    const option = decodeOscoreOption(r1.outer.options.find((o) => o.number === OSCORE_OPTION)!.value);
    assert.ok(option.ok && option.value.piv, 'the challenge carries the server Partial IV');
    assert.equal(r1.outer.code, codeByte('2.04'));
    assert.equal(r1.outer.type, MessageType.ACK);
    const c = client.unprotectResponse(wire(r1.outer), first.pending);
    assert.ok(c.ok && c.echo);
    assert.equal(c.inner.code, codeByte('4.01'));
    assert.equal(c.echo.length, ECHO_LENGTH);
    assert.equal(c.inner.payload.length, 0, 'no diagnostic payload (B.1.2)');

    const second = client.protectRequest(get('temp'), { echo: c.echo });
    const r2 = server.unprotectRequest(wire(second.outer));
    assert.ok(r2.ok);
    assert.equal(r2.security.ownPiv, true);
    assert.ok(!r2.inner.options.some((o) => o.number === 252), 'the Echo the OSCORE layer consumed is not passed on');
    const response = server.protectResponse(content('21.5'), r2.security);
    const opt = decodeOscoreOption(response.options.find((o) => o.number === OSCORE_OPTION)!.value);
    assert.ok(opt.ok && opt.value.piv, 'B.1.2: the response to the fresh request carries a Partial IV');
    const verified = client.unprotectResponse(wire(response), second.pending);
    assert.ok(verified.ok);
    assert.equal(Buffer.from(verified.inner.payload).toString(), '21.5');
    // The window is known now: the next request passes without Echo, and a replay of the first is refused.
    assert.ok(server.unprotectRequest(wire(client.protectRequest(get('temp')).outer)).ok);
    assertError(server.unprotectRequest(wire(second.outer)), 'GW_ERR_OSCORE_REPLAY', 'Replay detected');
    assertError(server.unprotectRequest(wire(first.outer)), 'GW_ERR_OSCORE_REPLAY', 'Replay detected');
  });

  test('an Echo issued to another context, or expired, is challenged again', async () => {
    const { server, clock } = await serverFor([credential('alice', v), credential('bob', w)]);
    const alice = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    const bob = new OscoreClient(settingsOf(w, 'client'), new MemorySequence(1));
    const a1 = alice.protectRequest(get('temp'));
    const ra = server.unprotectRequest(wire(a1.outer));
    assert.ok(!ra.ok && ra.kind === 'challenge');
    const echoA = alice.unprotectResponse(wire(ra.outer), a1.pending);
    assert.ok(echoA.ok && echoA.echo);
    const b1 = bob.protectRequest(get('temp'), { echo: echoA.echo });
    const rb = server.unprotectRequest(wire(b1.outer));
    assert.ok(!rb.ok && rb.kind === 'challenge', "alice's Echo does not prove bob's request fresh");

    clock.ms += ECHO_VALID_MS + 1;
    const a2 = server.unprotectRequest(wire(alice.protectRequest(get('temp'), { echo: echoA.echo }).outer));
    assert.ok(!a2.ok && a2.kind === 'challenge', 'an expired Echo is challenged again');
  });

  test('Echo values are stateless (a MAC, no memory): the oldest of 50 challenges still passes, each value is fresh for its context only', async () => {
    const clock = { ms: 5_000_000 };
    const issuer = new EchoValues(ECHO_VALID_MS, () => clock.ms, (n) => new Uint8Array(n).fill(3));
    const values = Array.from({ length: 50 }, () => issuer.issue('alice'));
    assert.ok(values.every((x) => issuer.verifies('alice', x)), 'all 50 are fresh');
    assert.ok(!issuer.verifies('bob', values[0]!), "alice's value is not bob's, even under the same key");
    clock.ms += ECHO_VALID_MS;
    assert.ok(!issuer.verifies('alice', values[0]!), 'expired after ECHO_VALID_MS');

    const { server } = await serverFor([credential('alice', v)]);
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    const echoes: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const p = client.protectRequest(get('temp'));
      const r = server.unprotectRequest(wire(p.outer));
      assert.ok(!r.ok && r.kind === 'challenge');
      const c = client.unprotectResponse(wire(r.outer), p.pending);
      assert.ok(c.ok && c.echo);
      echoes.push(c.echo);
    }
    const oldest = server.unprotectRequest(wire(client.protectRequest(get('temp'), { echo: echoes[0] }).outer));
    assert.ok(oldest.ok, 'the first of 50 Echo values still passes');
    const forged = Uint8Array.from(echoes.at(-1)!);
    forged[forged.length - 1]! ^= 1;
    const stranger = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(500));
    // A second server: its window is still unknown, so a forged Echo must be challenged.
    const { server: fresh } = await serverFor([credential('alice', v)]);
    const r = fresh.unprotectRequest(wire(stranger.protectRequest(get('temp'), { echo: forged }).outer));
    assert.ok(!r.ok && r.kind === 'challenge', 'a forged value is challenged');
  });
});

describe('Observe, Block2 and outer options (section 4.1.3)', () => {
  const v = VECTORS.keyDerivation['C.2'] as KeyVector;

  test('registration: outer FETCH with Observe 0 outside and inside; notifications: outer 2.05, outer Observe, empty inner Observe, own Partial IV, growing', async () => {
    const { server } = await serverFor([credential('alice', v)]);
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    passEcho(server, client);
    const reg = client.protectRequest(get('temp', [{ number: Option.OBSERVE, value: uintOption(0) }]));
    assert.equal(reg.outer.code, codeByte('0.05'));
    assert.deepEqual(reg.outer.options.filter((o) => o.number === Option.OBSERVE).map((o) => readUint(o.value)), [0]);
    const r = server.unprotectRequest(wire(reg.outer));
    assert.ok(r.ok);
    assert.deepEqual(r.inner.options.filter((o) => o.number === Option.OBSERVE).map((o) => readUint(o.value)), [0], 'inner Observe 0 reaches the server');

    const notes: WireMessage[] = [];
    for (const [seq, text] of [[5, '21.5'], [6, '21.6']] as const) {
      const n = server.protectNotification(content(text, [{ number: Option.OBSERVE, value: uintOption(seq) }]), r.security);
      assert.equal(n.code, codeByte('2.05'));
      assert.equal(readUint(n.options.find((o) => o.number === Option.OBSERVE)!.value), seq, 'outer Observe for intermediaries');
      assert.equal(n.options.find((o) => o.number === Option.MAX_AGE)!.value.length, 0, 'outer Max-Age 0: proxies do not cache it');
      notes.push(n);
    }
    const first = client.unprotectResponse(wire(notes[0]!), reg.pending);
    assert.ok(first.ok);
    const second = client.unprotectResponse(wire(notes[1]!), reg.pending);
    assert.ok(second.ok);
    assert.equal(Buffer.from(second.inner.payload).toString(), '21.6');
    const o1 = readUint(first.inner.options.find((o) => o.number === Option.OBSERVE)!.value);
    const o2 = readUint(second.inner.options.find((o) => o.number === Option.OBSERVE)!.value);
    assert.ok(o2 > o1, 'the client orders notifications by Partial IV');
    const replay = client.unprotectResponse(wire(notes[0]!), reg.pending);
    assert.ok(!replay.ok);
    assert.equal(replay.error.code, 'GW_ERR_OSCORE_REPLAY');

    // A response with Observe to a request without it is refused (section 4.1.3.5.2).
    const plain = client.protectRequest(get('temp'));
    const pr = server.unprotectRequest(wire(plain.outer));
    assert.ok(pr.ok);
    const wrong = server.protectNotification(content('x', [{ number: Option.OBSERVE, value: uintOption(9) }]), pr.security);
    const refused = client.unprotectResponse(wire(wrong), plain.pending);
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'GW_ERR_OSCORE_DECODE');
  });

  test('the inner Observe of a notification is empty in the plaintext', async () => {
    const { server } = await serverFor([credential('alice', v)]);
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    const { r2 } = passEcho(server, client);
    assert.ok(r2.ok);
    const n = server.protectNotification(content('x', [{ number: Option.OBSERVE, value: uintOption(300) }]), r2.security);
    // The ciphertext length is plaintext + 8: code, Observe (1 byte header, empty), 0xFF, 'x'.
    assert.equal(n.payload.length, 4 + 8);
  });

  test('outer Block2 comes back as outerBlock2; inner Block2, Uri-Host and Uri-Query reach the server, outer Max-Age and outer Observe do not', async () => {
    const { server } = await serverFor([credential('alice', v)]);
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    passEcho(server, client);
    const req = get('temp', [
      { number: Option.URI_HOST, value: Buffer.from('gw.local') },
      { number: Option.URI_QUERY, value: Buffer.from('unit=K') },
      { number: Option.BLOCK2, value: uintOption((2 << 4) | 2) },
    ]);
    const { outer } = client.protectRequest(req);
    assert.ok(!outer.options.some((o) => o.number === Option.URI_PATH || o.number === Option.URI_QUERY || o.number === Option.BLOCK2), 'Class E stays inside');
    assert.ok(outer.options.some((o) => o.number === Option.URI_HOST), 'Uri-Host is Class U');
    const proxied = wire({ ...outer, options: [...outer.options, { number: Option.MAX_AGE, value: uintOption(9) }, { number: Option.BLOCK2, value: uintOption((1 << 4) | 6) }].sort((x, y) => x.number - y.number) });
    const r = server.unprotectRequest(proxied);
    assert.ok(r.ok);
    assert.deepEqual(r.outerBlock2, { num: 1, szx: 6 });
    assert.deepEqual(r.inner.options.map((o) => o.number), [Option.URI_HOST, Option.URI_PATH, Option.URI_QUERY, Option.BLOCK2]);
    assert.equal(readUint(r.inner.options.find((o) => o.number === Option.BLOCK2)!.value), (2 << 4) | 2);
    assert.equal(r.inner.code, codeByte('0.01'));
  });

  test('plaintext encoding round-trips and refuses garbage', () => {
    const p = encodePlaintext(0x45, [{ number: 12, value: uintOption(60) }, { number: 252, value: b('0102') }], Buffer.from('hi'));
    const d = decodePlaintext(p);
    assert.ok(d);
    assert.equal(d.code, 0x45);
    assert.deepEqual(d.options.map((o) => o.number), [12, 252]);
    assert.equal(decodePlaintext(b('45ff')), undefined, 'a payload marker with no payload');
    assert.equal(decodePlaintext(b('')), undefined);
    assert.equal(decodePlaintext(b('45f0')), undefined, 'reserved option nibble');
  });

  test('unprotected section 8.2 errors reach the client as coded errors, not answers', () => {
    const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
    const { pending } = client.protectRequest(get('temp'));
    for (const [diag, code] of [['Security context not found', 'GW_ERR_OSCORE_CONTEXT_NOT_FOUND'], ['Replay detected', 'GW_ERR_OSCORE_REPLAY'], ['Decryption failed', 'GW_ERR_OSCORE_DECRYPT_FAILED'], ['Failed to decode COSE', 'GW_ERR_OSCORE_DECODE']] as const) {
      const r = client.unprotectResponse({ ...content(diag), code: codeByte('4.01') }, pending);
      assert.ok(!r.ok);
      assert.equal(r.error.code, code);
      assert.equal(r.diagnostic, diag);
    }
  });
});

describe('credentials (aiocoap settings.json keys)', () => {
  const good = { 'sender-id_hex': '01', 'recipient-id_hex': '', secret_hex: '0102030405060708090a0b0c0d0e0f10', salt_hex: '9e7ca92223786340' };
  const refused = (json: unknown, field: RegExp) => {
    assert.throws(() => parseOscoreCredentials(json, 'creds.json'), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_OSCORE_CREDENTIALS' && field.test(e.details.detail ?? ''), JSON.stringify(json));
  };

  test('a valid file, with ascii forms, algorithm and kdf-hashfun', () => {
    const c = parseOscoreCredentials({ clients: { 'sensor-1': { ...good, algorithm: 'AES-CCM-16-64-128', 'kdf-hashfun': 'sha256' }, other: { 'sender-id_hex': '01', 'recipient-id_ascii': 'x', secret_ascii: 'hunter2', 'id-context_hex': '37cb' } } }, 'creds.json');
    assert.deepEqual(c.map((x) => x.name), ['sensor-1', 'other']);
    assert.equal(hex(c[0]!.masterSalt), '9e7ca92223786340');
    assert.equal(hex(c[1]!.recipientId), '78');
    assert.equal(hex(c[1]!.idContext!), '37cb');
    assert.equal(c[1]!.masterSalt.length, 0);
  });

  test('each problem is refused with the field path', () => {
    refused({ clients: { a: { ...good, sender_id_hex: '01' } } }, /^clients\.a\.sender_id_hex: unknown key/);
    refused({ clients: { a: { ...good, 'sender-id_hex': '0g' } } }, /^clients\.a\.sender-id_hex: not hex/);
    refused({ clients: { a: { ...good, 'sender-id_hex': '010' } } }, /^clients\.a\.sender-id_hex: not hex/);
    refused({ clients: { a: { ...good, 'sender-id_hex': '0102030405060708' } } }, /^clients\.a\.sender-id: 8 bytes, at most 7/);
    refused({ clients: { a: { ...good, 'recipient-id_hex': '0102030405060708' } } }, /^clients\.a\.recipient-id: 8 bytes/);
    refused({ clients: { a: { ...good, secret_hex: '' } } }, /^clients\.a\.secret: empty/);
    refused({ clients: { a: { 'sender-id_hex': '01', 'recipient-id_hex': '' } } }, /^clients\.a\.secret_hex: missing/);
    refused({ clients: { a: { ...good, secret_ascii: 'x' } } }, /^clients\.a\.secret_ascii: secret given twice/);
    refused({ clients: { a: { ...good, algorithm: 'A128GCM' } } }, /^clients\.a\.algorithm: "A128GCM" is not supported/);
    refused({ clients: { a: { ...good, 'kdf-hashfun': 'sha512' } } }, /^clients\.a\.kdf-hashfun: /);
    refused({ clients: { a: { ...good, 'recipient-id_hex': '01' } } }, /^clients\.a\.recipient-id: equal to sender-id/);
    refused({ clients: { 'a b': good } }, /^clients\."a b": a name is/);
    refused({ clients: { ['x'.repeat(65)]: good } }, /a name is/);
    refused({ clients: { a: good, b: { ...good, 'sender-id_hex': '02' } } }, /^clients\.b\.recipient-id: same recipient-id and id-context as client a/);
    refused({ clients: {} }, /^clients: no client/);
    refused({ clients: { a: good }, extra: 1 }, /^extra: unknown key/);
    refused([], /^\(file\)/);
    refused({ clients: { a: { 'sender-id_hex': '01', 'recipient-id_hex': '', secret_ascii: 'k', salt_ascii: 'é' } } }, /salt_ascii: not an ASCII string/);
    // The same recipient ID under another ID context is another context (section 3.3).
    assert.equal(parseOscoreCredentials({ clients: { a: good, b: { ...good, 'sender-id_hex': '02', 'id-context_hex': '01' } } }, 'f').length, 2);
  });

  test('the client-side parser reads one aiocoap settings.json; the loader bounds the file', async () => {
    const s = parseClientSettings({ 'sender-id_hex': '', 'recipient-id_hex': '01', secret_hex: '0102030405060708090a0b0c0d0e0f10', window: 64 });
    assert.equal(hex(s.recipientId), '01');
    assert.equal(s.replayWindow, 64);
    const dir = await mkdtemp(path.join(tmpdir(), 'oscore-creds-'));
    try {
      const file = path.join(dir, 'creds.json');
      await writeFile(file, JSON.stringify({ clients: { a: good } }));
      assert.equal((await loadOscoreCredentials(file)).length, 1);
      await writeFile(file, ' '.repeat(300 * 1024));
      await assert.rejects(loadOscoreCredentials(file), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_OSCORE_CREDENTIALS');
      await assert.rejects(loadOscoreCredentials(path.join(dir, 'missing.json')), (e: unknown) => e instanceof GatewayError && e.code === 'GW_ERR_OSCORE_CREDENTIALS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('OscoreServer.open with persisted sequences', () => {
  test('one sequence file per context, named after its keys: renaming the client finds the same numbers; close releases them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'oscore-state-'));
    try {
      const v = VECTORS.keyDerivation['C.2'] as KeyVector;
      const server = await OscoreServer.open({ credentials: [credential('alice', v)], stateDir: dir, now: () => 0 });
      assert.deepEqual(server.clients, ['alice']);
      const client = new OscoreClient(settingsOf(v, 'client'), new MemorySequence(1));
      const first = client.protectRequest(get('temp'));
      const r = server.unprotectRequest(wire(first.outer));
      assert.ok(!r.ok && r.kind === 'challenge');
      await server.close();
      const { readdir, readFile } = await import('node:fs/promises');
      const files = await readdir(dir);
      assert.equal(files.length, 1);
      assert.match(files[0]!, /^sender-[0-9a-f]{32}\.seq$/);
      const bound = await readFile(path.join(dir, files[0]!), 'utf8');
      // The same keys under another name: the same file, counting on from where it stopped.
      const renamed = await OscoreServer.open({ credentials: [credential('alice-renamed', v)], stateDir: dir, now: () => 0 });
      const again = renamed.unprotectRequest(wire(client.protectRequest(get('temp')).outer));
      assert.ok(!again.ok && again.kind === 'challenge');
      const piv = (o: WireMessage) => decodeOscoreOption(o.options.find((x) => x.number === 9)!.value);
      const firstPiv = piv(r.outer);
      const againPiv = piv(again.outer);
      assert.ok(firstPiv.ok && againPiv.ok);
      assert.ok(sequenceNumber(againPiv.value.piv!) > sequenceNumber(firstPiv.value.piv!), 'the renamed context counts on');
      await renamed.close();
      assert.deepEqual(await readdir(dir), files);
      assert.match(bound, /^oscore-sender-sequence-bound \d+\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
