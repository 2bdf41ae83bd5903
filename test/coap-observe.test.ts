/**
 * Observe (RFC 7641) on /temp over real UDP, on a ManualClock: registration, notifications when
 * the simulated temperature changes and not when it does not, sequence numbers, Max-Age, the
 * three ways an observation ends, re-registration, NON observers, and failure notifications.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { emptyMessage } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient, type Seen } from './helpers/observe-client.ts';

const value = (r: { cbor: unknown }) => (r.cbor as { value: number }).value;

describe('Observe /temp (RFC 7641)', () => {
  let gw: TestGateway;
  let clock: ManualClock;
  let client: ObserveClient;
  beforeEach(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
    clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
  });
  afterEach(async () => {
    await client.close();
    await gw.close();
  });

  it('a registration gets 2.05 with Observe and Max-Age, piggybacked in the ACK', async () => {
    const res = await client.request('/temp', { token: Buffer.from('t1') });
    assert.equal(res.code, '2.05');
    assert.equal(res.packet.ack, true);
    assert.ok(res.observe !== undefined && res.observe > 0, 'Observe option present');
    assert.equal(res.maxAge, 1);
    assert.equal(value(res), 21.5);
    assert.equal(res.packet.token.toString(), 't1');
  });

  it('notifies when the value changes, with increasing sequence numbers and Max-Age, and not when it does not', async () => {
    const reg = await client.request('/temp', { token: Buffer.from('t2') });
    assert.deepEqual(await client.advance(clock, 1000), [], 'no notification while the temperature holds');
    gw.sim.setTemperature(22.5);
    const first = await client.advance(clock, 400);
    assert.equal(first.length, 1, 'one notification for one change');
    gw.sim.setTemperature(23);
    const second = await client.advance(clock, 400);
    assert.equal(second.length, 1);
    const [a, b] = [first[0]!, second[0]!];
    assert.deepEqual([value(a), value(b)], [22.5, 23]);
    for (const n of [a, b]) {
      assert.equal(n.code, '2.05');
      assert.equal(n.maxAge, 1);
      assert.equal(n.packet.token.toString(), 't2');
      assert.equal(n.packet.confirmable, true, 'a CON registration gets CON notifications');
    }
    assert.ok(reg.observe! < a.observe! && a.observe! < b.observe!, `sequence ${reg.observe} ${a.observe} ${b.observe}`);
    assert.deepEqual(await client.advance(clock, 1000), []);
  });

  it('the notification follows the observer\'s unit and precision; a change hidden by rounding is not notified', async () => {
    await client.request('/temp?unit=K&precision=0', { token: Buffer.from('k') });
    gw.sim.setTemperature(21.625); // 294.775 K -> 295, as before
    assert.deepEqual(await client.advance(clock, 600), []);
    gw.sim.setTemperature(22.5); // 295.65 K -> 296
    const seen = await client.advance(clock, 600);
    assert.deepEqual(seen.map((n) => [value(n), (n.cbor as { unit: string }).unit]), [[296, 'K']]);
  });

  it('a GET with Observe=1 and the same token deregisters and is answered as a plain GET (section 3.6)', async () => {
    await client.request('/temp', { token: Buffer.from('t3') });
    assert.equal(gw.server.observers(), 1);
    const res = await client.request('/temp', { token: Buffer.from('t3'), observe: 1 });
    assert.equal(res.code, '2.05');
    assert.equal(res.observe, undefined);
    assert.equal(gw.server.observers(), 0);
    gw.sim.setTemperature(30);
    assert.deepEqual(await client.advance(clock, 600), []);
  });

  it('a RST in reply to a notification deregisters (section 3.6)', async () => {
    client.autoAck = false;
    await client.request('/temp', { token: Buffer.from('t4') });
    gw.sim.setTemperature(25);
    const [n] = await client.advance(clock, 400);
    assert.ok(n);
    client.raw.send(emptyMessage('rst', n.packet.messageId));
    await client.settle(clock);
    assert.equal(gw.server.observers(), 0);
    gw.sim.setTemperature(26);
    assert.deepEqual(await client.advance(clock, 3000, 50), [], 'no notification and no retransmission after the RST');
  });

  it('a confirmable notification never acknowledged is retransmitted MAX_RETRANSMIT times, then the observer is removed', async () => {
    client.autoAck = false;
    await client.request('/temp', { token: Buffer.from('t5') });
    gw.sim.setTemperature(27);
    // ACK_TIMEOUT 2 s * (1..1.5), doubling: at most 3+6+12+24+48 = 93 s to give up.
    const seen = await client.advance(clock, 95_000, 100);
    const mids = new Set(seen.map((n) => n.packet.messageId));
    assert.equal(mids.size, 1, 'the same message each time');
    assert.equal(seen.length, 5, 'the first transmission and 4 retransmissions');
    const gaps = seen.slice(1).map((n, i) => n.atMs - seen[i]!.atMs);
    for (let i = 1; i < gaps.length; i++) assert.ok(Math.abs(gaps[i]! / gaps[i - 1]! - 2) < 0.1, `binary exponential back-off: ${gaps.join(' ')}`);
    assert.ok(gaps[0]! >= 2000 && gaps[0]! <= 3000 + 100, `first timeout ${gaps[0]} in [ACK_TIMEOUT, ACK_TIMEOUT * 1.5]`);
    assert.equal(gw.server.observers(), 0);
    gw.sim.setTemperature(28);
    assert.deepEqual(await client.advance(clock, 1000), []);
  });

  it('re-registration with the same token replaces the observation and continues the sequence', async () => {
    const first = await client.request('/temp', { token: Buffer.from('t6') });
    const again = await client.request('/temp?unit=K', { token: Buffer.from('t6') });
    assert.equal(gw.server.observers(), 1);
    assert.ok(again.observe! > first.observe!);
    gw.sim.setTemperature(20);
    const seen = await client.advance(clock, 400);
    assert.deepEqual(seen.map((n) => (n.cbor as { unit: string }).unit), ['K'], 'one observation, with the new parameters');
  });

  it('a NON registration: the first notification is CON (the peer must prove its address), then NON; a RST deregisters', async () => {
    // A stranger's address (trustLoopback off) must prove itself; a loopback one needs not.
    await client.close();
    await gw.close();
    gw = await startTestGateway({ simCelsius: 21.5, trustLoopback: false });
    clock = gw.clock as ManualClock;
    client = await ObserveClient.open(gw.port);
    const reg = await client.request('/temp', { token: Buffer.from('t7'), confirmable: false });
    assert.equal(reg.packet.confirmable, false);
    assert.equal(reg.packet.ack, false);
    assert.ok(reg.observe !== undefined);
    gw.sim.setTemperature(24);
    const [first] = await client.advance(clock, 400); // auto-ACKed
    assert.ok(first && first.packet.confirmable, 'the first notification is confirmable');
    client.autoAck = false;
    gw.sim.setTemperature(25);
    const [n] = await client.advance(clock, 400);
    assert.ok(n && !n.packet.confirmable && !n.packet.ack, 'NON notification once the peer acknowledged one');
    client.raw.send(emptyMessage('rst', n.packet.messageId));
    await client.settle(clock);
    assert.equal(gw.server.observers(), 0);
  });

  it('FETCH with Observe=0 registers too (RFC 8132 section 2.4), with parameters from the body', async () => {
    const body = Buffer.from('a164756e6974614b', 'hex'); // {"unit": "K"}
    const { requestDatagram, pathOptions, uint } = await import('./helpers/coap-datagram.ts');
    const req = requestDatagram({ code: '0.05', token: Buffer.from('f'), options: [{ name: 'Observe', value: uint(0) }, ...pathOptions('/temp'), { name: 'Content-Format', value: uint(60) }], payload: body });
    const res = await client.raw.exchange(req);
    assert.equal(res?.code, '2.05');
    assert.ok(res.observe !== undefined);
    assert.equal((res.cbor as { unit: string }).unit, 'K');
    assert.equal(gw.server.observers(), 1);
  });

  it('a failed read is notified with its error code and no Observe option, and ends the observation (section 4.2)', async () => {
    await client.request('/temp', { token: Buffer.from('t8') });
    gw.sim.inject('nack');
    const seen: Seen[] = await client.advance(clock, 600);
    gw.sim.clearFault();
    assert.equal(seen.length, 1, seen.map((s) => s.code).join(' '));
    assert.equal(seen[0]!.code, '5.03');
    assert.equal(seen[0]!.observe, undefined);
    assert.equal((seen[0]!.cbor as { code: string }).code, 'GW_ERR_I2C_NACK');
    await client.settle(clock);
    assert.equal(gw.server.observers(), 0);
    assert.deepEqual(await client.advance(clock, 1000), []);
  });

  it('a registration refused (bad Accept, unknown path) gets the error without Observe and registers nothing', async () => {
    const bad = await client.request('/temp', { token: Buffer.from('t9'), accept: 41 });
    assert.equal(bad.code, '4.06');
    assert.equal(bad.observe, undefined);
    const missing = await client.request('/nope', { token: Buffer.from('ta') });
    assert.equal(missing.code, '4.04');
    assert.equal(missing.observe, undefined);
    assert.equal(gw.server.observers(), 0);
  });

  it('a retransmitted registration (same Message ID) gets the same response and registers once', async () => {
    const { observeRequest } = await import('./helpers/coap-datagram.ts');
    const req = observeRequest('/temp', { token: Buffer.from('tb'), messageId: 0x7777 });
    const a = await client.raw.exchange(req);
    const b = await client.raw.exchange(req);
    assert.ok(a && b);
    assert.deepEqual(b.raw, a.raw);
    assert.equal(gw.server.observers(), 1);
  });
});
