import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decode } from 'cbor-x';
import { COAP_CODE_FOR, errorReply } from '../gateway/coap/error-response.ts';
import { ERROR_CODES, type ErrorCode, GatewayError } from '../gateway/errors.ts';

describe('catalogue code -> CoAP response code', () => {
  it('maps every code in ERROR_CODES, and nothing else', () => {
    assert.deepEqual(Object.keys(COAP_CODE_FOR).sort(), Object.keys(ERROR_CODES).sort());
    for (const code of Object.values(COAP_CODE_FOR)) assert.match(code, /^[45]\.\d\d$/);
  });

  it('sends not-ready and I2C failures as 5.03, module faults as 5.00', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      if (code.startsWith('GW_ERR_I2C_') || code === 'GW_ERR_SENSOR_NOT_READY') assert.equal(COAP_CODE_FOR[code], '5.03', code);
      if (code.startsWith('GW_ERR_MODULE_')) assert.equal(COAP_CODE_FOR[code], '5.00', code);
    }
  });

  it('docs/errors.md gives the same CoAP code for every catalogue code', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## CoAP response codes'));
    const rows = Object.fromEntries([...section.matchAll(/^\| ([45]\.\d\d) [A-Za-z -]+ \| `(GW_ERR_[A-Z0-9_]+)` \|$/gm)].map((m) => [m[2], m[1]]));
    assert.deepEqual(rows, COAP_CODE_FOR);
  });

  it('5.03 Max-Age is retryAfterMs rounded up to whole seconds, at least 1', () => {
    assert.equal(errorReply(new GatewayError('GW_ERR_SENSOR_NOT_READY', { retryAfterMs: 35 })).maxAge, 1);
    assert.equal(errorReply(new GatewayError('GW_ERR_SENSOR_NOT_READY', { retryAfterMs: 1001 })).maxAge, 2);
    assert.equal(errorReply(new GatewayError('GW_ERR_SENSOR_NOT_READY', { retryAfterMs: 0 })).maxAge, 1);
    assert.equal(errorReply(new GatewayError('GW_ERR_I2C_NACK')).maxAge, 5);
    assert.equal(errorReply(new GatewayError('GW_ERR_MODULE_TRAP')).maxAge, 0);
    assert.equal(errorReply(new GatewayError('GW_ERR_REQUEST_NOT_FOUND')).maxAge, 60);
  });

  it('5.00 Max-Age is 0 (a fresh module instance may succeed), but 60 for a unit no instance can mend', () => {
    assert.equal(errorReply(new GatewayError('GW_ERR_MODULE_TRAP')).maxAge, 0);
    assert.equal(errorReply(new GatewayError('GW_ERR_MODULE_BAD_UNIT', { sensor: 'env', detail: 'unit "degC"' })).maxAge, 60);
  });

  it('never puts err.message or a non-request detail in the body', () => {
    const err = new GatewayError('GW_ERR_MODULE_PANIC', { detail: 'panic: secret /home/pi/x.go:12' });
    const body = decode(Buffer.from(errorReply(err).payload));
    assert.deepEqual(body, { code: 'GW_ERR_MODULE_PANIC' });
    const plain = decode(Buffer.from(errorReply(new Error('ENOENT /etc/secret')).payload));
    assert.deepEqual(plain, { code: 'GW_ERR_INTERNAL' });
    assert.equal(errorReply(new Error('x')).code, '5.00');
  });

  it('4.13 carries Size1', () => {
    assert.equal(errorReply(new GatewayError('GW_ERR_REQUEST_TOO_LARGE')).size1, 256);
  });
});
