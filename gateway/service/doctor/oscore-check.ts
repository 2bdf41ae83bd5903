/**
 * The doctor's OSCORE check (`npm run doctor -- --config <file>`): the credentials file the
 * configuration names parses as the gateway will parse it (each refusal names the field), it
 * is not readable by other users (it holds Master Secrets: RFC 8613 section 3.1 expects them
 * kept secret), and the state directory where the gateway persists its sender sequence numbers
 * can be written by whoever runs the doctor (on a Pi: run it as the service user). It reads
 * the sequence files but never writes them: reserving numbers is the gateway's job.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { GatewayError } from '../../errors.ts';
import type { OscoreConfig } from '../config.ts';
import { loadOscoreCredentials } from '../oscore-credentials.ts';
import type { Check, CheckOutcome } from './check.ts';

export const oscoreCheck: Check = {
  id: 'oscore',
  name: 'OSCORE credentials',
  needs: [],
  run: (ctx) => (ctx.target.oscore === undefined ? { status: 'skip', reason: 'not-configured', detail: 'no "oscore" section in the configuration: protected requests are refused (docs/security.md)' } : checkOscore(ctx.target.oscore)),
};

async function checkOscore(config: OscoreConfig): Promise<CheckOutcome> {
  let names: string[];
  try {
    names = (await loadOscoreCredentials(config.credentials)).map((c) => c.name);
  } catch (err) {
    const code = err instanceof GatewayError ? err.code : undefined;
    return { status: 'fail', reason: 'credentials-invalid', detail: `${config.credentials}: ${err instanceof Error ? err.message : String(err)}`, fix: 'fix the field named; the settings use aiocoap\'s settings.json keys (docs/security.md)', ...(code ? { code } : {}) };
  }
  const data = { credentials: config.credentials, stateDir: config.stateDir, clients: names };
  const mode = (await stat(config.credentials)).mode & 0o777;
  const writable = await stateDirWritable(config.stateDir);
  if (!writable.ok) {
    return { status: 'fail', reason: 'state-dir', code: 'GW_ERR_OSCORE_SEQUENCE_STORE', detail: `${config.stateDir}: ${writable.problem}`, fix: 'create it writable by the service user (the systemd unit\'s StateDirectory= does), or set oscore.stateDir', data };
  }
  if ((mode & 0o077) !== 0) {
    return { status: 'warn', reason: 'credentials-readable', detail: `${config.credentials} is readable by other users (mode ${mode.toString(8).padStart(3, '0')}); it holds the Master Secrets`, fix: `chmod 600 ${config.credentials} (owned by the service user)`, data };
  }
  return { status: 'ok', detail: `${names.length} client${names.length === 1 ? '' : 's'} (${names.join(', ')}); sequence numbers in ${config.stateDir}${writable.files > 0 ? ` (${writable.files} kept)` : ''}`, data };
}

async function stateDirWritable(dir: string): Promise<{ ok: true; files: number } | { ok: false; problem: string }> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.seq')).length;
    return { ok: true, files };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { ok: false, problem: `not writable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  // Absent: the gateway creates it, so its parent must be writable.
  try {
    await access(path.dirname(dir), constants.W_OK | constants.X_OK);
    return { ok: true, files: 0 };
  } catch (err) {
    return { ok: false, problem: `absent, and its parent is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
}
