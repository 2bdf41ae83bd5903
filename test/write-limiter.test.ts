/**
 * The per-client write limiter (gateway/coap/write-limiter.ts) on a controllable clock: burst,
 * sustained rate, the retry time a 4.29 carries (RFC 8516), keys, and memory that stays bounded
 * whatever sources a flood uses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COAP_CODE_FOR, errorReply } from '../gateway/coap/error-response.ts';
import { DEFAULT_MAX_WRITE_CLIENTS, WriteLimiter } from '../gateway/coap/write-limiter.ts';

function clock(startMs = 1000) {
  let t = startMs;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const lan = { address: '::ffff:192.168.1.20' };

describe('WriteLimiter', () => {
  it('lets a burst through, then refuses with GW_ERR_WRITE_RATE_LIMITED (4.29) and the time to wait', () => {
    const c = clock();
    const limiter = new WriteLimiter({ perSecond: 2, burst: 10 }, c.now);
    for (let i = 0; i < 10; i++) assert.equal(limiter.take(lan), undefined, `write ${i}`);
    const err = limiter.take(lan);
    assert.equal(err?.code, 'GW_ERR_WRITE_RATE_LIMITED');
    assert.equal(COAP_CODE_FOR[err!.code], '4.29');
    assert.equal(err!.details.retryAfterMs, 500, 'one token at 2/s');
    assert.equal(errorReply(err).maxAge, 1, 'Max-Age: whole seconds, rounded up (RFC 8516 section 4)');
    c.advance(499);
    assert.equal(limiter.take(lan)?.details.retryAfterMs, 1);
    c.advance(1);
    assert.equal(limiter.take(lan), undefined);
    assert.equal(limiter.take(lan)?.code, 'GW_ERR_WRITE_RATE_LIMITED', 'a refusal takes nothing, a success took the token');
  });

  it('holds a client to its rate over time, and refills no further than the burst', () => {
    const c = clock();
    const limiter = new WriteLimiter({ perSecond: 2, burst: 10 }, c.now);
    let passed = 0;
    // 10 s of a write every millisecond: the burst, then 2 a second.
    for (let ms = 0; ms < 10_000; ms++) {
      if (limiter.take(lan) === undefined) passed++;
      c.advance(1);
    }
    // The burst in the first 10 ms, then one each time 500 ms of refill is in: at 500, 1000, ... 9500 ms.
    assert.equal(passed, 10 + 19);
    c.advance(3_600_000);
    passed = 0;
    for (let i = 0; i < 100; i++) if (limiter.take(lan) === undefined) passed++;
    assert.equal(passed, 10, 'an hour of quiet is worth the burst, not 7200 writes');
  });

  it('keys an OSCORE client by its name whatever its address, anyone else by address', () => {
    const c = clock();
    const limiter = new WriteLimiter({ perSecond: 1, burst: 1 }, c.now);
    assert.equal(limiter.take({ address: '::ffff:10.0.0.1', oscoreClient: 'app' }), undefined);
    assert.equal(limiter.take({ address: '::ffff:10.0.0.2', oscoreClient: 'app' })?.code, 'GW_ERR_WRITE_RATE_LIMITED', 'same client, another address');
    assert.equal(limiter.take({ address: '::ffff:10.0.0.1' }), undefined, 'the address alone is another client');
    assert.equal(limiter.take({ address: '::ffff:10.0.0.3' }), undefined);
    assert.equal(limiter.take({ address: '::ffff:10.0.0.3' })?.code, 'GW_ERR_WRITE_RATE_LIMITED');
    assert.equal(limiter.take({ address: 'oscore:app' }), undefined, 'an address cannot pose as an OSCORE client\'s bucket');
  });

  it(`stays bounded under 100,000 distinct sources (at most maxClients, default ${DEFAULT_MAX_WRITE_CLIENTS}), evicting the least recently used`, () => {
    const c = clock();
    const limiter = new WriteLimiter({ perSecond: 2, burst: 10 }, c.now);
    const regular = { address: '::1' };
    for (let i = 0; i < 10; i++) assert.equal(limiter.take(regular), undefined);
    for (let i = 0; i < 100_000; i++) {
      limiter.take({ address: `2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}` });
      // A regular client that keeps writing stays among the recent ones: it keeps its (empty) bucket.
      if (i % 1000 === 0) assert.equal(limiter.take(regular)?.code, 'GW_ERR_WRITE_RATE_LIMITED', `flood source ${i}`);
      assert.ok(limiter.size <= DEFAULT_MAX_WRITE_CLIENTS);
    }
    assert.equal(limiter.size, DEFAULT_MAX_WRITE_CLIENTS);
    const small = new WriteLimiter({ perSecond: 2, burst: 1 }, c.now, 3);
    for (const a of ['a', 'b', 'c']) assert.equal(small.take({ address: a }), undefined);
    assert.equal(small.take({ address: 'a' })?.code, 'GW_ERR_WRITE_RATE_LIMITED', 'a is now the most recent');
    assert.equal(small.take({ address: 'd' }), undefined, 'evicts b, the least recently used');
    assert.equal(small.take({ address: 'c' })?.code, 'GW_ERR_WRITE_RATE_LIMITED', 'c kept its bucket');
    assert.equal(small.take({ address: 'b' }), undefined, 'b was forgotten: a fresh bucket');
    assert.equal(small.size, 3);
  });

  it('refuses a rate it cannot honour', () => {
    const c = clock();
    assert.throws(() => new WriteLimiter({ perSecond: 0, burst: 1 }, c.now), RangeError);
    assert.throws(() => new WriteLimiter({ perSecond: 1, burst: 0.5 }, c.now), RangeError);
    assert.throws(() => new WriteLimiter({ perSecond: 1, burst: 1 }, c.now, 0), RangeError);
  });
});
