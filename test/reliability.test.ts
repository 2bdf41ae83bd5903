/**
 * The gateway's Message IDs and address verification (gateway/coap/reliability.ts) on a
 * ManualClock: per-endpoint sequences (RFC 7252 section 4.4), only an ACK to a CON verifies
 * (return routability, RFC 7252 section 11.3), and ACKs sprayed to guess an ID stop counting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { MessageType } from '../gateway/coap/coap-wire.ts';
import { DEFAULT_OBSERVE_TIMING } from '../gateway/coap/observe-timing.ts';
import { MAX_UNMATCHED, MAX_UNMATCHED_ADDRESSES, Reliability, UNMATCHED_WINDOW_MS, VERIFIED_TTL_MS } from '../gateway/coap/reliability.ts';

function reliability(clock = new ManualClock()): { r: Reliability; clock: ManualClock; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const r = new Reliability({ clock, timing: DEFAULT_OBSERVE_TIMING, random: () => 0, send: (d) => sent.push(d), trustLoopback: true });
  return { r, clock, sent };
}

const owner = { acknowledged: () => {}, rejected: () => {} };

describe('Message IDs', () => {
  it('each endpoint has its own sequence: consecutive for one, independent of another', () => {
    const { r } = reliability();
    const a = { address: '192.0.2.1', port: 1000 };
    const b = { address: '192.0.2.2', port: 1000 };
    const a1 = r.newMessageId(a);
    const b1 = r.newMessageId(b);
    const a2 = r.newMessageId(a);
    const a3 = r.newMessageId(a);
    assert.equal(a2, (a1 + 1) & 0xffff);
    assert.equal(a3, (a1 + 2) & 0xffff);
    assert.equal(r.newMessageId(b), (b1 + 1) & 0xffff, "another endpoint's messages do not advance this one's");
  });

  it('skips an ID still awaiting a reply from that endpoint', () => {
    const { r } = reliability();
    const a = { address: '192.0.2.1', port: 1000 };
    const first = r.newMessageId(a);
    r.track(a, (first + 1) & 0xffff, owner, true);
    assert.equal(r.newMessageId(a), (first + 2) & 0xffff);
  });
});

describe('address verification', () => {
  const peer = { address: '198.51.100.7', port: 5683 };

  it('an ACK to a CON verifies the address; an ACK to a NON does not', () => {
    const { r } = reliability();
    r.track(peer, 10, owner, false);
    r.match(MessageType.ACK, peer, 10);
    assert.equal(r.isVerified(peer.address), false);
    r.track(peer, 11, owner, true);
    r.match(MessageType.ACK, peer, 11);
    assert.equal(r.isVerified(peer.address), true);
  });

  it('stays verified for 25 hours after the last ACK, past the 24 h between CON notifications', () => {
    const { r, clock } = reliability();
    r.track(peer, 11, owner, true);
    r.match(MessageType.ACK, peer, 11);
    clock.advanceMs(24 * 3600_000);
    assert.equal(r.isVerified(peer.address), true);
    clock.advanceMs(VERIFIED_TTL_MS - 24 * 3600_000);
    assert.equal(r.isVerified(peer.address), false);
  });

  it(`more than ${MAX_UNMATCHED} unmatched ACKs: a matching one does not verify until the window is over`, () => {
    const { r, clock } = reliability();
    for (let mid = 0; mid <= MAX_UNMATCHED; mid++) r.match(MessageType.ACK, peer, 1000 + mid);
    r.track(peer, 11, owner, true);
    r.match(MessageType.ACK, peer, 11);
    assert.equal(r.isVerified(peer.address), false);
    clock.advanceMs(UNMATCHED_WINDOW_MS);
    r.track(peer, 12, owner, true);
    r.match(MessageType.ACK, peer, 12);
    assert.equal(r.isVerified(peer.address), true);
  });

  it('a verified address keeps itself verified whatever else sprays ACKs in its name', () => {
    const { r } = reliability();
    r.track(peer, 11, owner, true);
    r.match(MessageType.ACK, peer, 11);
    for (let mid = 0; mid < 50; mid++) r.match(MessageType.ACK, peer, 2000 + mid);
    r.track(peer, 12, owner, true);
    r.match(MessageType.ACK, peer, 12);
    assert.equal(r.isVerified(peer.address), true);
  });

  it('a flood of unmatched ACKs from other addresses cannot reset the count: no new address is verified meanwhile', () => {
    const { r, clock } = reliability();
    for (let i = 0; i <= MAX_UNMATCHED; i++) r.match(MessageType.ACK, peer, 3000 + i); // the victim's guesses
    for (let i = 0; i < MAX_UNMATCHED_ADDRESSES + 10; i++) r.match(MessageType.ACK, { address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 1 }, 1);
    r.track(peer, 11, owner, true);
    r.match(MessageType.ACK, peer, 11);
    assert.equal(r.isVerified(peer.address), false, 'the guesser is still counted');
    const other = { address: '203.0.113.9', port: 1 };
    r.track(other, 5, owner, true);
    r.match(MessageType.ACK, other, 5);
    assert.equal(r.isVerified(other.address), false, 'while the table is full of live windows, nobody new is verified by ACK');
    clock.advanceMs(UNMATCHED_WINDOW_MS);
    r.track(other, 6, owner, true);
    r.match(MessageType.ACK, other, 6);
    assert.equal(r.isVerified(other.address), true);
  });

  it('loopback counts as verified unless told otherwise', () => {
    const { r } = reliability();
    assert.equal(r.isVerified('127.0.0.1'), true);
    assert.equal(r.isVerified('::ffff:127.0.0.1'), true);
    assert.equal(r.isVerified('::1'), true);
    const strict = new Reliability({ clock: new ManualClock(), timing: DEFAULT_OBSERVE_TIMING, random: () => 0, send: () => {}, trustLoopback: false });
    assert.equal(strict.isVerified('127.0.0.1'), false);
  });
});
