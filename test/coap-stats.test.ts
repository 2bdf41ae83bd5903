/**
 * GET /gw/stats: responses counted by code (guard replies and Observe registrations included,
 * notifications apart), the service's bus and cache counters, observers, uptime on the
 * gateway's clock; CBOR by default, JSON with Accept 50, 4.06 otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { RawClient, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient } from './helpers/observe-client.ts';

interface Stats {
  requests: Record<string, number>;
  notifications: Record<string, number>;
  i2cTransactions: number;
  moduleCalls: number;
  cacheHits: number;
  observers: number;
  uptimeSeconds: number;
  sensors: Record<string, { observers: number; feedSubscribers: number; moduleReads: number; cacheHits: number }>;
}

describe('GET /gw/stats', () => {
  let gw: TestGateway;
  let client: RawClient;
  let observer: ObserveClient;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
    client = await RawClient.open('127.0.0.1', gw.port);
    observer = await ObserveClient.open(gw.port);
  });
  after(async () => {
    await observer.close();
    await client.close();
    await gw.close();
  });

  const stats = async (accept?: number) => {
    const res = await client.exchange(requestDatagram({ options: [...pathOptions('/gw/stats'), ...(accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }])] }));
    assert.ok(res);
    return res;
  };

  it('counts responses by code, notifications apart, and reports the bus, cache, observers and uptime', async () => {
    const clock = gw.clock as ManualClock;
    const get = (path: string, extra: { name: string; value: Buffer }[] = []) => client.exchange(requestDatagram({ options: [...pathOptions(path), ...extra] }));
    for (let i = 0; i < 3; i++) assert.equal((await get('/temp'))?.code, '2.05');
    assert.equal((await get('/nothing'))?.code, '4.04');
    assert.equal((await get('/temp', [{ name: 'If-Match', value: Buffer.from([1]) }]))?.code, '4.02', 'answered by the guard');
    await observer.request('/temp', { token: Buffer.from('s') });
    gw.sim.setTemperature(23);
    const notes = await observer.advance(clock, 400);
    assert.equal(notes.length, 1);
    clock.advanceMs(2000);

    const res = await stats();
    assert.equal(res.code, '2.05');
    assert.equal(res.contentFormat, 60);
    assert.equal(res.maxAge, 0);
    const s = res.cbor as Stats;
    assert.deepEqual(s.requests, { '2.05': 4, '4.02': 1, '4.04': 1 }, 'three GETs and the registration, the 4.04, the guard\'s 4.02');
    assert.deepEqual(s.notifications, { '2.05': 1 });
    assert.equal(s.observers, 1);
    assert.equal(s.sensors['tmp102']!.observers, 1);
    assert.equal(s.sensors['tmp102']!.feedSubscribers, 1);
    const service = gw.service.stats();
    assert.equal(s.i2cTransactions, service.i2cTransactions);
    assert.equal(s.moduleCalls, service.moduleCalls);
    assert.equal(s.cacheHits, service.cacheHits);
    assert.ok(s.cacheHits >= 2, 'three GETs in one period: one read, two cache hits');
    assert.equal(s.uptimeSeconds, 2, 'on the gateway clock: 40 ms start-up + 400 ms + 2 s');
    assert.equal(s.sensors['tmp102']!.moduleReads, service.sensors['tmp102']!.moduleReads);
  });

  it('JSON with Accept 50; 4.06 for another Accept; 4.05 for another method', async () => {
    const json = await stats(50);
    assert.equal(json.contentFormat, 50);
    const s = JSON.parse(json.packet.payload.toString()) as Stats;
    assert.ok(s.requests['2.05']! >= 5, 'the previous stats request is counted now');
    assert.equal(typeof s.i2cTransactions, 'number');
    assert.equal((await stats(0)).code, '4.06');
    const post = await client.exchange(requestDatagram({ code: '0.02', options: pathOptions('/gw/stats') }));
    assert.equal(post?.code, '4.05');
  });
});
