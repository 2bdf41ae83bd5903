/** RFC 7252 section 4.5: a duplicated Non-confirmable request is processed once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { NON_LIFETIME_MS, NonDuplicateFilter } from '../gateway/coap/non-duplicates.ts';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { startTestGateway } from './helpers/gateway.ts';

describe('duplicate NON requests', () => {
  it('the same NON request twice gets one response, and the sensor is read once', async () => {
    const gw = await startTestGateway({ simCelsius: 20 });
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const reads0 = gw.service.stats().sensors['tmp102']!.moduleReads;
      (gw.clock as ManualClock).advanceMs(300); // past any earlier reading's freshness
      const datagram = requestDatagram({ confirmable: false, messageId: 0x4242, options: pathOptions('/temp') });
      const first = await client.exchange(datagram, 1000);
      assert.equal(first?.code, '2.05');
      (gw.clock as ManualClock).advanceMs(300);
      client.send(datagram);
      assert.equal(await client.next(300), undefined, 'the duplicate is ignored');
      assert.equal(gw.service.stats().sensors['tmp102']!.moduleReads - reads0, 1);
      // A new Message ID is a new request.
      const again = await client.exchange(requestDatagram({ confirmable: false, messageId: 0x4243, options: pathOptions('/temp') }), 1000);
      assert.equal(again?.code, '2.05');
    } finally {
      await client.close();
      await gw.close();
    }
  });

  it('remembers a Message ID for NON_LIFETIME, and a bounded number of them', () => {
    let now = 0;
    const filter = new NonDuplicateFilter(() => now, { maxEntries: 3 });
    assert.equal(filter.isDuplicate('::1', 5683, 1), false);
    assert.equal(filter.isDuplicate('::1', 5683, 1), true);
    assert.equal(filter.isDuplicate('::1', 5684, 1), false, 'another port is another endpoint');
    now += NON_LIFETIME_MS + 1;
    assert.equal(filter.isDuplicate('::1', 5683, 1), false, 'forgotten after the lifetime');
    for (let id = 10; id < 20; id++) filter.isDuplicate('::1', 5683, id);
    assert.equal(filter.isDuplicate('::1', 5683, 10), false, 'the oldest were forgotten beyond maxEntries');
  });
});
