/**
 * The doctor's OSCORE check (gateway/service/doctor/oscore-check.ts): the credentials file as
 * the gateway reads it, its mode (it holds Master Secrets), and the state directory of the
 * sender sequence numbers.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { oscoreCheck } from '../gateway/service/doctor/oscore-check.ts';
import type { DoctorContext } from '../gateway/service/doctor/context.ts';
import type { OscoreConfig } from '../gateway/service/config.ts';

const GOOD = { clients: { 'thermostat-app': { 'sender-id_hex': '01', 'recipient-id_hex': '02', secret_hex: '00112233445566778899aabbccddeeff' } } };

function ctx(oscore: OscoreConfig | undefined): DoctorContext {
  return { target: { oscore } as DoctorContext['target'], env: undefined as never, bus: undefined, scan: undefined, module: undefined };
}

describe('doctor: oscore check', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'doctor-oscore-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, json: unknown, mode = 0o600) => {
    const f = path.join(dir, name);
    writeFileSync(f, JSON.stringify(json));
    chmodSync(f, mode);
    return f;
  };

  it('skips without an oscore section', async () => {
    const r = await oscoreCheck.run(ctx(undefined));
    assert.equal(r.status, 'skip');
    assert.equal(r.reason, 'not-configured');
  });

  it('passes a good file with a writable state directory, naming the clients', async () => {
    const r = await oscoreCheck.run(ctx({ credentials: file('good.json', GOOD), stateDir: path.join(dir, 'state') }));
    assert.equal(r.status, 'ok', r.detail);
    assert.match(r.detail, /thermostat-app/);
  });

  it('fails an invalid file with GW_ERR_OSCORE_CREDENTIALS naming the field', async () => {
    const bad = { clients: { 'thermostat-app': { ...GOOD.clients['thermostat-app'], 'sender-id_hex': 'zz' } } };
    const r = await oscoreCheck.run(ctx({ credentials: file('bad.json', bad), stateDir: path.join(dir, 'state') }));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_OSCORE_CREDENTIALS');
    assert.match(r.detail, /sender-id/);
  });

  it('warns when other users can read the secrets', async () => {
    const r = await oscoreCheck.run(ctx({ credentials: file('open.json', GOOD, 0o644), stateDir: path.join(dir, 'state') }));
    assert.equal(r.status, 'warn');
    assert.equal(r.reason, 'credentials-readable');
    assert.match(r.fix!, /chmod 600/);
  });

  it('fails a state directory that cannot be created', async () => {
    const notADir = file('plain-file', {});
    const r = await oscoreCheck.run(ctx({ credentials: file('good2.json', GOOD), stateDir: path.join(notADir, 'state') }));
    assert.equal(r.status, 'fail');
    assert.equal(r.code, 'GW_ERR_OSCORE_SEQUENCE_STORE');
  });
});
