import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayError } from '../gateway/errors.ts';
import { encodeCbor } from '../gateway/coap/cbor-preferred.ts';
import { freshMaxAge } from '../gateway/coap/reading-resource.ts';
import { convert, mergeParams, paramsFromCbor, paramsFromQuery, roundTo } from '../gateway/coap/request-params.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as GatewayError).code;
  }
  return 'no error';
};

describe('request parameters', () => {
  it('reads unit and precision from the query', () => {
    assert.deepEqual(mergeParams(paramsFromQuery(['unit=K', 'precision=1']), {}), { unit: 'K', precision: 1 });
    assert.deepEqual(mergeParams(paramsFromQuery([]), {}), { precision: 4 });
  });

  it('reads them from a CBOR map', () => {
    assert.deepEqual(paramsFromCbor(new Uint8Array(0)), {});
    assert.deepEqual(paramsFromCbor(encodeCbor({ unit: 'degF', precision: 2 })), { unit: 'degF', precision: 2 });
  });

  it('refuses unknown, repeated, ambiguous and out-of-range parameters with coded errors', () => {
    assert.equal(code(() => paramsFromQuery(['unit=F'])), 'GW_ERR_REQUEST_BAD_PARAMETER');
    assert.equal(code(() => paramsFromQuery(['precision=-1'])), 'GW_ERR_REQUEST_BAD_PARAMETER');
    assert.equal(code(() => paramsFromQuery(['precision=1.5'])), 'GW_ERR_REQUEST_BAD_PARAMETER');
    assert.equal(code(() => paramsFromQuery(['x'])), 'GW_ERR_REQUEST_BAD_PARAMETER');
    assert.equal(code(() => mergeParams({ unit: 'K' }, { unit: 'K' })), 'GW_ERR_REQUEST_BAD_PARAMETER');
    assert.equal(code(() => paramsFromCbor(Buffer.from('a0a0', 'hex'))), 'GW_ERR_REQUEST_BAD_CBOR');
    assert.equal(code(() => paramsFromCbor(Buffer.from('a1016143', 'hex'))), 'GW_ERR_REQUEST_BAD_PARAMETER'); // {1: "C"}
    assert.equal(code(() => paramsFromCbor(Buffer.from('a169707265636973696f6ef93c00', 'hex'))), 'no error'); // precision 1.0 as a float16 is 1
  });

  it('converts from Celsius and rounds half away from zero', () => {
    assert.deepEqual(convert(21.5, 'Cel', { unit: 'K', precision: 4 }), { value: 294.65, unit: 'K' });
    assert.deepEqual(convert(21.5, 'Cel', { unit: 'degF', precision: 4 }), { value: 70.7, unit: 'degF' });
    assert.deepEqual(convert(-12.25, 'Cel', { precision: 1 }), { value: -12.3, unit: 'Cel' });
    assert.deepEqual(convert(-0.0625, 'Cel', { precision: 0 }), { value: 0, unit: 'Cel' });
    assert.equal(roundTo(1.005, 2), 1.01);
    assert.equal(roundTo(294.65, 1), 294.7);
    assert.equal(roundTo(1e-7, 4), 0);
    assert.equal(code(() => convert(50, '%RH', { unit: 'K', precision: 0 })), 'GW_ERR_REQUEST_BAD_PARAMETER');
  });

  it('derives a reading Max-Age from how long the value stays fresh: whole seconds rounded up, at least 1', () => {
    assert.equal(freshMaxAge(250), 1);
    assert.equal(freshMaxAge(4000), 4);
    assert.equal(freshMaxAge(3001), 4);
    assert.equal(freshMaxAge(1500), 2);
    assert.equal(freshMaxAge(0), 1);
    assert.equal(freshMaxAge(-5), 1);
    assert.equal(freshMaxAge(Number.NaN), 1);
  });
});
