import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CODES, GatewayError, isErrorCode } from '../gateway/errors.ts';
import { STATUS_ERROR_CODES, Status } from '../gateway/host/abi.ts';

describe('error catalogue', () => {
  it('lists exactly the codes docs/errors.md documents', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `(GW_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
  });

  it('maps every module status except OK to a catalogue code', () => {
    for (const [name, value] of Object.entries(Status)) {
      if (value === Status.OK) continue;
      assert.ok(isErrorCode(STATUS_ERROR_CODES[value]), `status ${name} (${value}) has no code`);
    }
  });

  it('documents every status in docs/module-abi.md', () => {
    const doc = readFileSync(new URL('../docs/module-abi.md', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(Status)) {
      assert.match(doc, new RegExp(`^\\| ${value} \\| ${name} \\|`, 'm'), `status ${name} missing from the ABI doc`);
    }
  });

  it('keeps the code on the error and the detail in the message', () => {
    const err = new GatewayError('GW_ERR_SENSOR_NOT_READY', { retryAfterMs: 12, detail: 'first conversion' });
    assert.equal(err.code, 'GW_ERR_SENSOR_NOT_READY');
    assert.equal(err.details.retryAfterMs, 12);
    assert.ok(err.message.includes('first conversion'));
  });
});
