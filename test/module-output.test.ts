/**
 * What a module reports is bounded before it reaches a CoAP header or a timer (issue 12,
 * docs/module-abi.md, "Bounds"): crafted gw_init, gw_read and failure outputs straight into the
 * parser the host uses, then the Max-Age a client gets from a real gateway.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from 'cbor-x';
import { errorMaxAge } from '../gateway/coap/error-response.ts';
import { freshMaxAge } from '../gateway/coap/reading-resource.ts';
import { GatewayError } from '../gateway/errors.ts';
import {
  MAX_PERIOD_MS,
  MAX_RETRY_AFTER_MS,
  MIN_PERIOD_MS,
  MIN_RETRY_AFTER_MS,
  decodeOutput,
  parseErrorOutput,
  parseInitOutput,
  parseReadOutput,
} from '../gateway/host/module-output.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { startTestGateway } from './helpers/gateway.ts';
import type { ManualClock } from '../drivers/clock.ts';

const TMP102_INIT = { name: 'tmp102', version: '1.0.0', quantity: 'temperature', unit: 'Cel', periodMs: 250, resolution: 0.0625 };

/** As the host sees it: CBOR bytes from the module, decoded, then checked. */
function init(out: Record<string, unknown>) {
  return parseInitOutput(decodeOutput(new Uint8Array(encode(out)), 'gw_init', 's'), 's');
}

function refusal(fn: () => unknown): { code: string; detail: unknown } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return { code: err.code, detail: err.details.detail };
  }
  assert.fail('expected GW_ERR_MODULE_BAD_OUTPUT, nothing thrown');
}

describe('gw_init output: periodMs and resolution', () => {
  it('takes the TMP102 module at every conversion rate (8 Hz to 0.25 Hz: 125 ms to 4 s)', () => {
    for (const periodMs of [125, 250, 1000, 4000]) assert.equal(init({ ...TMP102_INIT, periodMs }).periodMs, periodMs);
  });

  it('takes both ends of the range', () => {
    assert.equal(init({ ...TMP102_INIT, periodMs: MIN_PERIOD_MS }).periodMs, 10);
    assert.equal(init({ ...TMP102_INIT, periodMs: MAX_PERIOD_MS }).periodMs, 3_600_000);
  });

  // 1e12: a Max-Age of 10^9 s and one module read for every 200 GETs; 2^53: a Max-Age past the
  // option's 4 bytes; 1e-6 and 0: pacing off; a timer past 2^31-1 ms fires after 1 ms in Node.
  for (const periodMs of [1e12, 2 ** 53, 2 ** 31, MAX_PERIOD_MS + 1, 9.99, 1e-6, 0, -250]) {
    it(`refuses periodMs ${periodMs} with GW_ERR_MODULE_BAD_OUTPUT`, () => {
      const r = refusal(() => init({ ...TMP102_INIT, periodMs }));
      assert.equal(r.code, 'GW_ERR_MODULE_BAD_OUTPUT');
      assert.match(String(r.detail), /periodMs/);
    });
  }

  it('refuses a periodMs that is not a finite number as missing', () => {
    for (const periodMs of ['250', null, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(refusal(() => init({ ...TMP102_INIT, periodMs })).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    }
  });

  it('refuses a resolution that is not positive', () => {
    for (const resolution of [0, -0.0625]) assert.equal(refusal(() => init({ ...TMP102_INIT, resolution })).code, 'GW_ERR_MODULE_BAD_OUTPUT');
    assert.equal(init({ ...TMP102_INIT, resolution: 0.03125 }).resolution, 0.03125);
  });
});

describe('gw_read output', () => {
  const read = (out: Record<string, unknown>) => parseReadOutput(decodeOutput(new Uint8Array(encode(out)), 'gw_read', 's'), 's');

  it('takes a TMP102 reading', () => {
    assert.deepEqual(read({ value: 21.5, raw: 0x1580, bits: 12 }), { value: 21.5, raw: 0x1580, bits: 12 });
  });

  it('refuses a raw value that is not an exact integer and bits outside 0..64', () => {
    for (const out of [{ value: 1, raw: 1e300, bits: 12 }, { value: 1, raw: 2 ** 53, bits: 12 }, { value: 1, raw: 1, bits: -1 }, { value: 1, raw: 1, bits: 65 }, { value: 1, raw: 1, bits: 12.5 }]) {
      assert.equal(refusal(() => read(out)).code, 'GW_ERR_MODULE_BAD_OUTPUT', JSON.stringify(out));
    }
  });
});

describe('failure output: retryAfterMs is a hint, clamped', () => {
  const failure = (out: unknown) => parseErrorOutput(new Uint8Array(encode(out)), 's');

  it('keeps the TMP102 first-conversion hint and the detail', () => {
    assert.deepEqual(failure({ code: 'not-ready', retryAfterMs: 35, detail: 'first conversion not finished' }), { retryAfterMs: 35, detail: 'first conversion not finished' });
  });

  it('clamps to 10 ms..1 h: 0 would switch pacing off, 1e12 would hold the failure for 31 years', () => {
    assert.equal(failure({ retryAfterMs: 0 }).retryAfterMs, MIN_RETRY_AFTER_MS);
    assert.equal(failure({ retryAfterMs: 1e-6 }).retryAfterMs, MIN_RETRY_AFTER_MS);
    assert.equal(failure({ retryAfterMs: 1e12 }).retryAfterMs, MAX_RETRY_AFTER_MS);
    assert.equal(failure({ retryAfterMs: 2 ** 53 }).retryAfterMs, MAX_RETRY_AFTER_MS);
  });

  it('ignores a hint that is not a non-negative finite number, and never throws', () => {
    for (const retryAfterMs of [-1, '35', Number.NaN, Number.POSITIVE_INFINITY]) assert.equal(failure({ retryAfterMs }).retryAfterMs, undefined);
    assert.deepEqual(parseErrorOutput(new Uint8Array([0xff, 0x00]), 's'), {});
    assert.deepEqual(failure([1, 2]), {});
    assert.equal(failure({ detail: 'x'.repeat(1000) }).detail!.length, 200);
  });
});

describe('Max-Age stays within its option (RFC 7252 section 5.10.5: uint, at most 4 bytes)', () => {
  it('a reading: at most 3600 s however long the freshness', () => {
    assert.equal(freshMaxAge(MAX_PERIOD_MS), 3600);
    assert.equal(freshMaxAge(1e12), 3600);
    assert.equal(freshMaxAge(2 ** 53), 3600);
    assert.equal(freshMaxAge(Number.MAX_VALUE), 3600);
    assert.equal(freshMaxAge(250), 1);
  });

  it('an error: at most 3600 s however long the retry time (a quarantine may be configured for days)', () => {
    const unavailable = (retryAfterMs: number) => errorMaxAge('5.03', new GatewayError('GW_ERR_SENSOR_QUARANTINED', { retryAfterMs }));
    assert.equal(unavailable(300_000), 300);
    assert.equal(unavailable(2 ** 31 - 1), 3600);
    assert.equal(unavailable(2 ** 53), 3600);
    assert.equal(unavailable(Number.MAX_VALUE), 3600);
    assert.equal(unavailable(35), 1);
  });
});

describe('Max-Age of a TMP102 reading over CoAP', () => {
  it('at 0.25 Hz (the slowest: periodMs 4000) is at most 4 s, and counts down with the period', async () => {
    const config = defaultConfig({ driver: 'simulated' });
    config.sensors[0]!.settings = { rateHz: 0.25 };
    const gw = await startTestGateway({ config });
    const client = await RawClient.open('127.0.0.1', gw.port);
    const clock = gw.clock as ManualClock;
    try {
      assert.equal(gw.service.info('tmp102')!.periodMs, 4000);
      const get = async () => (await client.exchange(requestDatagram({ options: pathOptions('/temp') })))!;
      const first = await get();
      assert.equal(first.code, '2.05');
      assert.equal(first.maxAge, 4, 'one period, in whole seconds');
      clock.advanceMs(3500);
      const later = await get();
      assert.equal(later.code, '2.05');
      assert.equal(later.maxAge, 1, 'the 0.5 s left of the period, rounded up');
    } finally {
      await client.close();
      await gw.close();
    }
  });
});
