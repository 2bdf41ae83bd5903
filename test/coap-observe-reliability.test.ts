/**
 * Reliability of notifications (RFC 7641 section 4.5) on a ManualClock: one confirmable
 * notification in transit per observer, a newer state replacing it at its next retransmission
 * (section 4.5.2), configurable timing, and the confirmable notification at least every 24 hours
 * that a NON observer gets even when nothing changes.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { emptyMessage } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient, nowMs } from './helpers/observe-client.ts';

const value = (r: { cbor: unknown }) => (r.cbor as { value: number }).value;

describe('Observe: confirmable notifications', () => {
  let gw: TestGateway;
  let client: ObserveClient;
  afterEach(async () => {
    await client?.close();
    await gw?.close();
  });

  it('keeps one CON in transit; a newer state replaces it at the next retransmission, keeping the back-off', async () => {
    // random 0: the first timeout is exactly ACK_TIMEOUT (2 s).
    gw = await startTestGateway({ simCelsius: 20, random: () => 0 });
    const clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    client.autoAck = false;
    const reg = await client.request('/temp', { token: Buffer.from('r1') });
    gw.sim.setTemperature(21);
    const [first] = await client.advance(clock, 400);
    assert.ok(first && first.packet.confirmable);
    gw.sim.setTemperature(22);
    const waiting = await client.advance(clock, 1000);
    assert.deepEqual(waiting, [], 'no second notification while the first is unacknowledged');
    const [replacement] = await client.advance(clock, 1000);
    assert.ok(replacement, 'the retransmission came');
    assert.equal(value(replacement), 22, 'it carries the newest state');
    assert.notEqual(replacement.packet.messageId, first.packet.messageId, 'a new message');
    assert.ok(replacement.observe! > first.observe! && first.observe! > reg.observe!);
    assert.ok(Math.abs(replacement.atMs - first.atMs - 2000) <= 10, 'at the first retransmission time');
    // The back-off continues from the replaced notification: the next retransmission 4 s later.
    const [again] = await client.advance(clock, 4000);
    assert.equal(again?.packet.messageId, replacement.packet.messageId);
    assert.ok(Math.abs(again.atMs - replacement.atMs - 4000) <= 10);
    client.raw.send(emptyMessage('ack', again.packet.messageId));
    await client.settle(clock);
    assert.deepEqual(await client.advance(clock, 10_000, 50), [], 'acknowledged: no more retransmissions');
    assert.equal(gw.server.observers(), 1);
  });

  it('an ACK for a replaced notification counts: the newest state is sent at once', async () => {
    gw = await startTestGateway({ simCelsius: 20, random: () => 0 });
    const clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    client.autoAck = false;
    await client.request('/temp', { token: Buffer.from('r2') });
    gw.sim.setTemperature(21);
    const [first] = await client.advance(clock, 400);
    gw.sim.setTemperature(22);
    await client.advance(clock, 1000);
    client.raw.send(emptyMessage('ack', first!.packet.messageId));
    const [next] = await client.settle(clock);
    assert.equal(next && value(next), 22);
  });

  it('timing is configurable: ACK_TIMEOUT 100 ms and MAX_RETRANSMIT 1 give up after 300 ms', async () => {
    gw = await startTestGateway({ simCelsius: 20, random: () => 0, observeTiming: { ackTimeoutMs: 100, maxRetransmit: 1 } });
    const clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    client.autoAck = false;
    await client.request('/temp', { token: Buffer.from('r3') });
    gw.sim.setTemperature(25);
    const seen = await client.advance(clock, 600, 5);
    assert.equal(seen.length, 2, 'one transmission, one retransmission');
    assert.equal(gw.server.observers(), 0);
  });

  it('a NON registration from an address that never acknowledges (a spoofed source) ends after one unretransmitted CON', async () => {
    // trustLoopback off: 127.0.0.1 is a stranger, as a spoofed source on the network would be.
    gw = await startTestGateway({ simCelsius: 20, random: () => 0, observeTiming: { ackTimeoutMs: 100, maxRetransmit: 1 }, trustLoopback: false });
    const clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    client.autoAck = false; // plays the victim: it never sent the registration and answers nothing
    await client.request('/temp', { token: Buffer.from('sp'), confirmable: false });
    gw.sim.setTemperature(25);
    const seen = await client.advance(clock, 600, 5);
    assert.ok(seen.every((n) => n.packet.confirmable), 'nothing but confirmable notifications before an ACK');
    assert.equal(seen.length, 1, 'one transmission, no retransmission to an unverified address, then silence');
    assert.equal(gw.server.observers(), 0);
    gw.sim.setTemperature(30);
    assert.equal((await client.advance(clock, 600, 5)).length, 0);
  });

  it('a NON observer gets a confirmable notification after 24 hours without any change (RFC 7641 section 4.5)', async () => {
    // The slowest TMP102 rate keeps a simulated day cheap: one conversion every 4 s.
    const config = defaultConfig({ driver: 'simulated', simCelsius: 19.5 });
    config.sensors[0]!.settings = { rateHz: 0.25 };
    gw = await startTestGateway({ config });
    const clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    const reg = await client.request('/temp', { token: Buffer.from('day'), confirmable: false });
    assert.equal(reg.maxAge !== undefined && reg.maxAge >= 1 && reg.maxAge <= 4, true, `Max-Age ${reg.maxAge} at 0.25 Hz`);
    const regAt = nowMs(clock);
    const day = 24 * 3600 * 1000;
    const before = await client.advance(clock, day - 60_000, 60_000);
    assert.deepEqual(before, [], 'nothing while the temperature holds');
    const seen = await client.advance(clock, 120_000, 1000);
    assert.equal(seen.length, 1);
    const con = seen[0]!;
    assert.equal(con.packet.confirmable, true);
    assert.equal(value(con), 19.5);
    assert.ok(con.observe! > reg.observe!);
    assert.ok(con.atMs - regAt >= day && con.atMs - regAt <= day + 1000, `after ${(con.atMs - regAt) / 3.6e6} h`);
    await client.settle(clock); // the helper ACKed it
    assert.equal(gw.server.observers(), 1, 'acknowledged: still observing');
  });
});
