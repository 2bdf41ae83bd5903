/**
 * Conditional notifications (draft-ietf-core-conditional-attributes c.gt, c.lt, c.st, c.pmin,
 * c.pmax, and the LwM2M spellings) at their edges, over real UDP on a ManualClock. Temperatures
 * are multiples of 0.0625 °C, the TMP102's resolution, so the chip reports them exactly.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { conditionMet, splitConditions } from '../gateway/coap/observe-conditions.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient, nowMs } from './helpers/observe-client.ts';

const value = (r: { cbor: unknown }) => (r.cbor as { value: number }).value;

describe('observe conditions: parsing and the rule', () => {
  it('accepts the c. names and the LwM2M aliases, decimals and negative thresholds', () => {
    assert.deepEqual(splitConditions('c.gt=-5.5&lt=-10&c.st=0.25&pmin=0.5&c.pmax=2&unit=K'.split('&')).conditions, { pminMs: 500, pmaxMs: 2000, gt: -5.5, lt: -10, st: 0.25 });
    assert.deepEqual(splitConditions(['c.gt=1', 'unit=K', 'precision=1']).rest, ['unit=K', 'precision=1']);
  });

  it('refuses invalid values with GW_ERR_REQUEST_BAD_PARAMETER', () => {
    for (const q of ['c.st=0', 'st=-1', 'c.pmin=5&c.pmax=2', 'c.gt=abc', 'c.gt=1e3', 'c.gt=', 'c.gt', 'c.pmin=-1', 'c.gt=1&gt=2', 'c.pmax=0', 'pmax=86401', 'c.lt=+3', 'c.lt=.5']) {
      assert.throws(() => splitConditions(q.split('&')), { code: 'GW_ERR_REQUEST_BAD_PARAMETER' }, q);
    }
  });

  it('a crossing is a change of side relative to the last reported value; equal to the threshold is not beyond it', () => {
    assert.equal(conditionMet({ gt: 25 }, 24, 25), false);
    assert.equal(conditionMet({ gt: 25 }, 24, 25.0625), true);
    assert.equal(conditionMet({ gt: 25 }, 26, 25), true);
    assert.equal(conditionMet({ lt: -5 }, -4, -5), false);
    assert.equal(conditionMet({ lt: -5 }, -5, -5.0625), true);
    assert.equal(conditionMet({ st: 0.5 }, -10, -10.5), true);
    assert.equal(conditionMet({ st: 0.5 }, -10, -10.4375), false);
    assert.equal(conditionMet({ st: 0.1 }, 21.2, 21.3), true, 'no binary-noise miss at exactly st');
    assert.equal(conditionMet({}, 21.5, 21.5), false);
    assert.equal(conditionMet({ pminMs: 1000 }, 21.5, 21.5625), true, 'pmin/pmax alone: any change');
  });
});

describe('observe conditions over UDP', () => {
  let gw: TestGateway;
  let client: ObserveClient;
  afterEach(async () => {
    await client?.close();
    await gw?.close();
  });

  async function observe(query: string, celsius: number) {
    gw = await startTestGateway({ simCelsius: celsius });
    client = await ObserveClient.open(gw.port);
    const reg = await client.request(`/temp${query}`, { token: Buffer.from('c') });
    assert.equal(reg.code, '2.05', JSON.stringify(reg.cbor));
    const clock = gw.clock as ManualClock;
    /** Sets the temperature and returns the values notified within the next 600 ms. */
    const step = async (c: number) => {
      gw.sim.setTemperature(c);
      return (await client.advance(clock, 600)).map(value);
    };
    return { reg, clock, step };
  }

  it('c.gt notifies on each crossing, upward and downward, and not while on one side', async () => {
    const { step } = await observe('?c.gt=25', 21.5);
    assert.deepEqual(await step(24), []);
    assert.deepEqual(await step(26), [26], 'up across 25');
    assert.deepEqual(await step(27), []);
    assert.deepEqual(await step(24.5), [24.5], 'down across 25');
    assert.deepEqual(await step(25), [], '25 is not above 25');
    assert.deepEqual(await step(25.0625), [25.0625]);
  });

  it('lt (LwM2M spelling) with a negative threshold notifies on crossings in both directions', async () => {
    const { step } = await observe('?lt=-5', -3);
    assert.deepEqual(await step(-4), []);
    assert.deepEqual(await step(-6), [-6]);
    assert.deepEqual(await step(-10), []);
    assert.deepEqual(await step(-5), [-5], '-5 is not below -5: back across');
    assert.deepEqual(await step(-5.0625), [-5.0625]);
  });

  it('c.gt and c.lt together: either crossing notifies', async () => {
    const { step } = await observe('?c.gt=-2&c.lt=-8', -5);
    assert.deepEqual(await step(-1), [-1]);
    assert.deepEqual(await step(-9), [-9], 'one step across both thresholds');
    assert.deepEqual(await step(-7), [-7]);
    assert.deepEqual(await step(-5), []);
  });

  it('c.st with negative values: notifies when the value moved at least st from the last notified one', async () => {
    const { step } = await observe('?c.st=0.5', -10);
    assert.deepEqual(await step(-10.25), []);
    assert.deepEqual(await step(-10.5), [-10.5], '0.5 from -10');
    assert.deepEqual(await step(-10.75), []);
    assert.deepEqual(await step(-10.0625), [], '0.4375 from -10.5');
    assert.deepEqual(await step(-10), [-10]);
    assert.deepEqual(await step(-9.5625), []);
  });

  it('thresholds are in the unit the observer asked for', async () => {
    const { step } = await observe('?unit=K&c.gt=300', 25);
    assert.deepEqual(await step(26.75), [], '299.9 K');
    assert.deepEqual(await step(27), [300.15]);
  });

  it('c.pmin holds notifications back until pmin after the last one, then sends the latest state', async () => {
    const { clock } = await observe('?c.pmin=2', 20);
    const regAt = nowMs(clock);
    gw.sim.setTemperature(21);
    const early = await client.advance(clock, 500);
    gw.sim.setTemperature(22);
    const held = await client.advance(clock, 2000);
    assert.deepEqual(early, []);
    assert.deepEqual(held.map(value), [22], 'one notification, with the latest value');
    assert.ok(held[0]!.atMs - regAt >= 2000 && held[0]!.atMs - regAt < 2100, `at ${held[0]!.atMs - regAt} ms`);
    // The next change right after is held for pmin again.
    gw.sim.setTemperature(23);
    const next = await client.advance(clock, 2500);
    assert.deepEqual(next.map(value), [23]);
    assert.ok(next[0]!.atMs - held[0]!.atMs >= 2000, 'pmin after the previous notification');
  });

  it('pmin: a change that went back before pmin is not notified', async () => {
    const { clock } = await observe('?pmin=2', 20);
    gw.sim.setTemperature(21);
    await client.advance(clock, 500);
    gw.sim.setTemperature(20);
    assert.deepEqual(await client.advance(clock, 3000), []);
  });

  it('c.pmax forces a notification after pmax without any change', async () => {
    const { clock } = await observe('?c.pmax=3', 20);
    const regAt = nowMs(clock);
    const seen = await client.advance(clock, 10_000, 20);
    assert.equal(seen.length, 3, 'at 3, 6 and 9 s');
    seen.forEach((n, i) => {
      assert.equal(value(n), 20);
      assert.ok(Math.abs(n.atMs - regAt - 3000 * (i + 1)) <= 40, `notification ${i} at ${n.atMs - regAt} ms`);
      assert.equal(n.maxAge, 1);
    });
  });

  it('c.pmax with c.gt: forced notifications between crossings; a crossing restarts the pmax period', async () => {
    const { clock, step } = await observe('?c.gt=30&c.pmax=2', 20);
    const regAt = nowMs(clock);
    assert.deepEqual(await step(25), []);
    const forced = await client.advance(clock, 1600);
    assert.deepEqual(forced.map(value), [25], 'pmax');
    assert.ok(Math.abs(forced[0]!.atMs - regAt - 2000) <= 20);
    gw.sim.setTemperature(31);
    const crossed = await client.advance(clock, 600);
    assert.deepEqual(crossed.map(value), [31]);
    const after = await client.advance(clock, 2000);
    assert.equal(after.length, 1);
    assert.ok(Math.abs(after[0]!.atMs - crossed[0]!.atMs - 2000) <= 20, `pmax counts from the crossing notification: ${after[0]!.atMs - crossed[0]!.atMs} ms`);
  });

  it('invalid conditions get 4.00 GW_ERR_REQUEST_BAD_PARAMETER and register nothing', async () => {
    gw = await startTestGateway({ simCelsius: 20 });
    client = await ObserveClient.open(gw.port);
    for (const [i, q] of ['c.st=0', 'c.st=-0.5', 'c.pmin=10&c.pmax=5', 'gt=warm', 'c.lt=1,5', 'pmin=-1'].entries()) {
      const res = await client.request(`/temp?${q}`, { token: Buffer.from([0xbb, i]) });
      assert.equal(res.code, '4.00', q);
      assert.equal(res.observe, undefined);
      assert.equal((res.cbor as { code: string }).code, 'GW_ERR_REQUEST_BAD_PARAMETER', q);
    }
    assert.equal(gw.server.observers(), 0);
  });
});
