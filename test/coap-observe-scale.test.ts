/**
 * What many clients cost the bus, over real UDP on a ManualClock: 1,000 observers share one
 * read per conversion, and 50 clients polling GET /temp as fast as they can never push the
 * TMP102 (4 Hz) past 4 bus transactions per second of sensor time.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { rampProfile } from '../drivers/sim/temperature-profile.ts';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient, turn } from './helpers/observe-client.ts';
import { DEFAULT_OBSERVER_LIMITS as OBSERVER_LIMITS } from '../gateway/coap/observe-limits.ts';

describe('many clients, one bus', () => {
  let gw: TestGateway;
  const sockets: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await gw?.close();
  });

  it('1,000 observers (10 sockets x 100 tokens, CON and NON) cost one bus read per conversion', async () => {
    // One address stands for 1,000 devices here: the per-address share is raised to let it.
    gw = await startTestGateway({ simCelsius: 20, observerLimits: { perAddress: 1000 } });
    const clock = gw.clock as ManualClock;
    const clients = await Promise.all(Array.from({ length: 10 }, () => ObserveClient.open(gw.port)));
    sockets.push(...clients);
    const bus0 = gw.service.stats().i2cTransactions;
    // Ten registrations in flight at a time, one per socket: a burst of 1,000 datagrams would
    // overflow the server socket's receive buffer, and a raw client does not retransmit.
    const regs = (
      await Promise.all(
        clients.map(async (c, ci) => {
          const out = [];
          for (let i = 0; i < 100; i++) out.push(await c.request('/temp', { token: Buffer.from([ci, i, 0x0b]), confirmable: i % 2 === 0 }));
          return out;
        }),
      )
    ).flat();
    assert.equal(regs.length, 1000);
    assert.ok(regs.every((r) => r.code === '2.05' && r.observe !== undefined));
    assert.equal(gw.server.observers(), 1000);
    assert.ok(gw.service.stats().i2cTransactions - bus0 <= 1, 'the registrations share one read');

    gw.sim.setProfile(rampProfile({ from: 20, to: 25, overMs: 5000 }));
    const reads0 = gw.service.stats().sensors['tmp102']!.moduleReads;
    const bus1 = gw.service.stats().i2cTransactions;
    for (let t = 0; t < 5000; t += 10) {
      clock.advanceMs(10);
      await turn();
      await turn();
      for (const c of clients) c.collect(clock);
    }
    await new Promise((r) => setTimeout(r, 50));
    for (const c of clients) c.collect(clock);
    const reads = gw.service.stats().sensors['tmp102']!.moduleReads - reads0;
    const bus = gw.service.stats().i2cTransactions - bus1;
    assert.ok(reads >= 18 && reads <= 21, `${reads} reads in 5 s at 4 Hz`);
    assert.equal(bus, reads, 'one bus transaction per read, whatever the number of observers');
    // Let retransmissions settle (a CON whose ACK was lost in the burst is resent with the
    // newest state, RFC 7641 section 4.5.2), then every observer must hold the final value.
    for (let t = 0; t < 15_000; t += 100) {
      clock.advanceMs(100);
      await turn();
      await turn();
      for (const c of clients) c.collect(clock);
    }
    await new Promise((r) => setTimeout(r, 50));
    for (const c of clients) c.collect(clock);
    const last = new Map<string, { count: number; value: number; con: boolean }>();
    for (const c of clients) {
      for (const n of c.seen) {
        const k = n.packet.token.toString('hex');
        const prev = last.get(k);
        last.set(k, { count: (prev?.count ?? 0) + 1, value: (n.cbor as { value: number }).value, con: n.packet.confirmable });
      }
    }
    assert.equal(last.size, 1000, 'every observer was notified');
    assert.ok([...last.values()].every((l) => l.value === 25), 'every observer ends with the final temperature');
    const non = [...last.values()].filter((l) => !l.con).map((l) => l.count);
    assert.ok(Math.min(...non) >= 15, `each NON observer saw the ramp: min ${Math.min(...non)} notifications`);
    assert.equal(gw.server.observers(), 1000, 'nobody was dropped');
    assert.equal(gw.service.stats().sensors['tmp102']!.observers, 1, 'one feed subscription for all of them');
  });

  it('past OBSERVER_LIMITS.perAddress registrations from one address, a registration is answered without Observe', async () => {
    gw = await startTestGateway({ simCelsius: 20 });
    const clients = await Promise.all(Array.from({ length: 8 }, () => ObserveClient.open(gw.port)));
    sockets.push(...clients);
    const per = OBSERVER_LIMITS.perAddress / clients.length;
    await Promise.all(clients.map(async (c, ci) => {
      for (let i = 0; i < per; i++) await c.request('/temp', { token: Buffer.from([ci, i >> 8, i & 0xff, 0x0c]), confirmable: false });
    }));
    assert.equal(gw.server.observers(), OBSERVER_LIMITS.perAddress);
    const extra = await clients[0]!.request('/temp', { token: Buffer.from('over'), confirmable: false });
    assert.equal(extra.code, '2.05', 'the client still gets the reading');
    assert.equal(extra.observe, undefined, 'but is not registered (RFC 7641 section 4.1)');
    assert.equal(gw.server.observers(), OBSERVER_LIMITS.perAddress);
  });

  it('50 concurrent clients polling GET /temp for 5 s of sensor time: at most 4 bus transactions per second, plus start-up', async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
    const clock = gw.clock as ManualClock;
    const bus0 = gw.service.stats().i2cTransactions;
    const clients = await Promise.all(Array.from({ length: 50 }, () => RawClient.open('127.0.0.1', gw.port)));
    sockets.push(...clients);
    gw.sim.setProfile(rampProfile({ from: 21.5, to: 26.5, overMs: 5000 }));
    let responses = 0;
    const values = new Set<number>();
    const seconds = 5;
    for (let t = 0; t < seconds * 1000; t += 25) {
      const replies = await Promise.all(clients.map((c) => c.exchange(requestDatagram({ options: pathOptions('/temp') }))));
      for (const r of replies) {
        assert.equal(r?.code, '2.05');
        assert.equal(r.maxAge, 1, 'Max-Age: the rest of the 250 ms period, rounded up');
        values.add((r.cbor as { value: number }).value);
        responses++;
      }
      clock.advanceMs(25);
      await turn();
    }
    const bus = gw.service.stats().i2cTransactions - bus0;
    assert.equal(responses, 50 * 40 * seconds);
    assert.ok(bus <= 4 * seconds + 2, `${bus} bus transactions for ${responses} requests in ${seconds} s of sensor time`);
    assert.ok(bus >= 4 * seconds - 2, `the sensor was still read every period (${bus})`);
    assert.ok(values.size >= 15, `the clients saw the ramp (${values.size} values)`);
  });
});
