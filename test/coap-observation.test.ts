/**
 * One Observation (gateway/coap/observation.ts) against a recording host, on a ManualClock:
 * what the socket tests cannot easily reach.
 *
 * - A registration whose response goes out as a separate CON (the first reading took longer
 *   than the piggyback wait, RFC 7252 section 5.2.2): that CON is the observation's first
 *   notification (RFC 7641 section 3.2), so it is the one CON in transit (section 4.5.2), a RST
 *   to it ends the observation (section 3.6) and so does its timeout (section 4.5).
 * - A timer whose work throws ends the observation with an error instead of throwing into the
 *   clock (with the SystemClock that would be an uncaught exception).
 * - Closing leaves no timer and no route behind, even while an error notification is in transit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { DEFAULT_OBSERVE_TIMING } from '../gateway/coap/observe-timing.ts';
import { type FeedState, Observation, type ObservationHost, type Rendered } from '../gateway/coap/observation.ts';

const PEER = { address: '192.0.2.7', port: 5683 };

function recordingHost(clock: ManualClock, o: { verified: boolean; encode?: () => Buffer }) {
  const sent: Buffer[] = [];
  const routes = new Map<number, boolean>();
  const ended: string[] = [];
  let finished = 0;
  let nextMid = 100;
  const host: ObservationHost = {
    clock,
    timing: { ...DEFAULT_OBSERVE_TIMING, ackTimeoutMs: 100, ackRandomFactor: 1 },
    random: () => 0,
    send: (d) => sent.push(d),
    newMessageId: () => nextMid++,
    track: (_p, mid, _obs, confirmable) => routes.set(mid, confirmable),
    untrack: (_p, mid) => routes.delete(mid),
    isVerified: () => o.verified,
    maxRetransmit: () => (o.verified ? 2 : 0),
    encode: o.encode ?? ((_obs, type, mid) => Buffer.from([0x40 | (type << 4), 0x45, mid >> 8, mid & 0xff])),
    notified: () => {},
    confirmLater: () => {},
    ended: (_obs, reason) => ended.push(reason),
    finished: () => finished++,
  };
  return { host, sent, routes, ended, finished: () => finished };
}

function state(value: number): FeedState {
  return { update: { sensor: 's', cause: 'period', ok: true, reading: { reading: { value } as never, freshForMs: 250, fromCache: false } } as never, receivedAtMs: 0, memo: new Map() };
}

/** The value a state carries, or an error rendering for a failed read (as observe-layer.ts renders). */
function renderState(s: FeedState): Rendered {
  if (!s.update.ok) return { code: '5.03', contentFormat: 60, maxAge: 5, payload: Uint8Array.of(0xa0), value: undefined };
  const value = s.update.reading.reading.value;
  return { code: '2.05', contentFormat: 60, maxAge: 1, payload: Uint8Array.of(value), value };
}

function observation(host: ObservationHost, o: { confirmable?: boolean; conditions?: { pmaxMs?: number }; render?: (s: FeedState) => Rendered } = {}): Observation {
  return new Observation({
    host,
    key: 'k',
    peer: PEER,
    token: Uint8Array.of(1),
    sensor: 's',
    confirmable: o.confirmable ?? true,
    conditions: o.conditions ?? {},
    render: o.render ?? renderState,
    wire: { block2: undefined, requestBytes: 12, holdKey: 'h' },
  });
}

describe('an observation whose registration response is a separate CON', () => {
  it('is the one CON in transit: a newer state waits for its ACK, then goes out', () => {
    const clock = new ManualClock();
    const r = recordingHost(clock, { verified: true });
    const obs = observation(r.host);
    obs.start(state(20));
    obs.sendRegistration(7, Buffer.from('registration'));
    assert.equal(r.routes.get(7), true, 'its Message ID is routed here, as a CON');
    assert.equal(r.sent.length, 1);
    obs.offer(state(21));
    assert.equal(r.sent.length, 1, 'no second CON while the registration response is in transit');
    obs.acknowledged(7);
    assert.equal(r.sent.length, 2, 'the newer state goes out once the response is acknowledged');
    assert.equal(r.routes.has(7), false);
  });

  it('a RST to it ends the observation (RFC 7641 section 3.6)', () => {
    const clock = new ManualClock();
    const r = recordingHost(clock, { verified: true });
    const obs = observation(r.host);
    obs.start(state(20));
    obs.sendRegistration(7, Buffer.from('registration'));
    obs.rejected(7);
    assert.deepEqual(r.ended, ['reset']);
    assert.equal(r.routes.size, 0);
    assert.ok(r.finished() >= 1);
  });

  it('never acknowledged, it is retransmitted MAX_RETRANSMIT times (verified address) and then ends the observation', () => {
    const clock = new ManualClock();
    const r = recordingHost(clock, { verified: true });
    const obs = observation(r.host);
    obs.start(state(20));
    obs.sendRegistration(7, Buffer.from('registration'));
    clock.advanceMs(100 + 200 + 400 + 1);
    assert.equal(r.sent.length, 3, 'sent, then retransmitted twice (maxRetransmit 2)');
    assert.deepEqual(r.ended, ['timeout']);
    assert.equal(pendingAfter(clock), 0, 'no timer left');
  });

  it('to an unverified address it is sent once, and its timeout ends the observation', () => {
    const clock = new ManualClock();
    const r = recordingHost(clock, { verified: false });
    const obs = observation(r.host);
    obs.start(state(20));
    obs.sendRegistration(7, Buffer.from('registration'));
    clock.advanceMs(10_000);
    assert.equal(r.sent.length, 1);
    assert.deepEqual(r.ended, ['timeout']);
  });
});

describe('an observation never throws into the clock', () => {
  it('a notification that cannot be encoded ends the observation with an error', () => {
    const clock = new ManualClock();
    let fail = false;
    const r = recordingHost(clock, {
      verified: true,
      encode: () => {
        if (fail) throw new Error('encoder broke');
        return Buffer.from([0x50, 0x45, 0, 1]);
      },
    });
    const obs = observation(r.host, { confirmable: false, conditions: { pmaxMs: 1000 }, render: (): Rendered => ({ code: '2.05', contentFormat: 60, maxAge: 1, payload: Uint8Array.of(1), value: 1 }) });
    obs.start(state(1));
    fail = true;
    assert.doesNotThrow(() => clock.advanceMs(1500), 'the pmax timer fires and its work throws');
    assert.deepEqual(r.ended, ['error']);
    assert.doesNotThrow(() => obs.offer(state(2)), 'a closed observation ignores updates');
  });
});

describe('closing', () => {
  it('stops the retransmission of an error notification in transit', () => {
    const clock = new ManualClock();
    const r = recordingHost(clock, { verified: true });
    const obs = observation(r.host);
    obs.start(state(20));
    obs.offer({ update: { sensor: 's', cause: 'period', ok: false, error: new Error('bus') } as never, receivedAtMs: 0, memo: new Map() });
    assert.deepEqual(r.ended, ['error'], 'a failed read ends the observation for the client');
    assert.equal(r.sent.length, 1, 'with a CON carrying the error');
    assert.equal(r.routes.size, 1, 'which is still routed for its ACK');
    obs.close();
    assert.equal(r.routes.size, 0);
    clock.advanceMs(60_000);
    assert.equal(r.sent.length, 1, 'no retransmission after close');
    assert.equal(pendingAfter(clock), 0);
  });
});

/** Timers still scheduled on the ManualClock. */
function pendingAfter(clock: ManualClock): number {
  return clock.pendingTimers;
}

describe('a NON observer whose read fails', () => {
  it('leaves no route behind once its error notification is acknowledged', () => {
    const clock = new ManualClock();
    const r = recordingHost(clock, { verified: true });
    const obs = observation(r.host, { confirmable: false });
    obs.start(state(20));
    obs.offer(state(21));
    obs.offer(state(22));
    assert.equal([...r.routes.values()].filter((c) => !c).length, 2, 'two NON notifications, routed for a RST');
    obs.offer({ update: { sensor: 's', cause: 'period', ok: false, error: new Error('bus') } as never, receivedAtMs: 0, memo: new Map() });
    const errorMid = [...r.routes].find(([, confirmable]) => confirmable)![0];
    obs.acknowledged(errorMid);
    assert.equal(r.routes.size, 0, 'nothing routed to an observation that is over');
    assert.equal(clock.pendingTimers, 0);
  });
});
