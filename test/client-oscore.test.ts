/**
 * `npm run client -- --oscore <settings.json>` (gateway/client/oscore-exchange.ts) as a child
 * process against the gateway with OSCORE: the Echo exchange of a fresh start, writes the policy
 * keeps to one client, Observe, sequence numbers that carry on from one run to the next
 * (persisted in <settings>.seq, RFC 8613 section 7.5.1), and the section 8.2 errors.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SystemClock, monotonicMs } from '../drivers/clock.ts';
import { MessageType, codeByte, encodeMessage, parseMessage } from '../gateway/coap/coap-wire.ts';
import { OscoreServer } from '../gateway/coap/oscore/oscore-server.ts';
import { parseAccess } from '../gateway/service/security-config.ts';
import { parseOscoreCredentials } from '../gateway/service/oscore-credentials.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { runProcess } from './helpers/peers.ts';

const root = new URL('..', import.meta.url).pathname;
const SECRET = '00112233445566778899aabbccddeeff';

async function client(...args: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const r = await runProcess(process.execPath, ['--import', 'tsx', 'gateway/cli/client.ts', ...args], { cwd: root, timeoutMs: 30_000 });
  assert.equal(r.timedOut, false);
  return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

describe('npm run client -- --oscore', () => {
  let gw: TestGateway;
  let dir: string;
  let settings: string;
  let url: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'client-oscore-'));
    const clock = new SystemClock();
    const credentials = parseOscoreCredentials({ clients: { 'thermostat-app': { 'sender-id_hex': '0a', 'recipient-id_hex': '0b', secret_hex: SECRET } } }, 'test');
    const oscore = await OscoreServer.open({ credentials, stateDir: path.join(dir, 'state'), now: () => monotonicMs(clock) });
    gw = await startTestGateway({ clock, oscore, access: parseAccess({ rules: [{ path: '/temp/alert', methods: ['PUT'], allow: ['oscore:thermostat-app'] }] }) });
    settings = path.join(dir, 'settings.json');
    writeFileSync(settings, JSON.stringify({ 'sender-id_hex': '0b', 'recipient-id_hex': '0a', secret_hex: SECRET }));
    url = `coap://127.0.0.1:${gw.port}`;
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /temp: the reading, with the simulated mark, through the Echo exchange of a fresh start', async () => {
    const r = await client('get', `${url}/temp`, '--oscore', settings);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sim, true);
    assert.match(r.stderr, /^2\.05 Content/m);
  });

  it('a second run carries on from the sequence numbers the first persisted: no replay refusal', async () => {
    const seqFile = `${settings}.seq`;
    const before = readFileSync(seqFile, 'utf8');
    const r = await client('get', `${url}/temp`, '--oscore', settings);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(before, /^oscore-sender-sequence-bound \d+\n$/);
  });

  it('PUT /temp/alert: 2.04 with the key; without it 4.01 GW_ERR_ACCESS_UNAUTHORIZED and nothing changed', async () => {
    const ok = await client('put', `${url}/temp/alert`, '--payload', '{"high": 30, "low": 25}', '--oscore', settings);
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).high, 30);
    const refused = await client('put', `${url}/temp/alert`, '--payload', '{"high": 40, "low": 35}');
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /4\.01 Unauthorized/);
    assert.match(refused.stderr, /GW_ERR_ACCESS_UNAUTHORIZED/);
    assert.equal(gw.service.alertSettings('tmp102')?.high, 30);
  });

  it('--observe over OSCORE: the protected registration is answered with Observe', async () => {
    const r = await client('get', `${url}/temp`, '--observe', '1', '--oscore', settings);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /Observe: \d+/);
    assert.doesNotMatch(r.stderr, /did not register/);
  });

  it('a wrong secret: exit 1 with 4.00 "Decryption failed"', async () => {
    const wrong = path.join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ 'sender-id_hex': '0b', 'recipient-id_hex': '0a', secret_hex: 'ff'.repeat(16) }));
    // Sequence numbers past the right client's, or the gateway would see a replay first (its
    // window is checked before decryption, RFC 8613 section 7.4).
    writeFileSync(`${wrong}.seq`, 'oscore-sender-sequence-bound 1000000\n');
    const r = await client('get', `${url}/temp`, '--oscore', wrong);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /4\.00 Bad Request/);
    assert.match(r.stderr, /Decryption failed/);
  });

  it('an unprotected 2.05 to a protected request is never taken for the answer (RFC 8613 section 8.4): no output, exit 1', async () => {
    // A server without OSCORE, or a forger on the path: it answers every request in plain CoAP.
    const fake = createSocket('udp4');
    await new Promise<void>((r) => fake.bind(0, '127.0.0.1', () => r()));
    fake.on('message', (d, rinfo) => {
      const p = parseMessage(d);
      if (!p.ok) return;
      const forged = encodeMessage({ type: MessageType.ACK, code: codeByte('2.05'), messageId: p.message.messageId, token: p.message.token, options: [], payload: Buffer.from('{"value": 99.9}') });
      fake.send(forged, rinfo.port, rinfo.address);
    });
    try {
      const r = await client('get', `coap://127.0.0.1:${fake.address().port}/temp`, '--oscore', settings, '--timeout', '2');
      assert.equal(r.exitCode, 1);
      assert.equal(r.stdout, '', 'the forged body is not printed');
      assert.match(r.stderr, /no response within 2 s/);
    } finally {
      fake.close();
    }
  });
});
