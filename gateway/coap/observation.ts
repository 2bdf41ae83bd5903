/**
 * One observer of one resource (RFC 7641): its sequence numbers, the last value it was told, its
 * conditions, and the reliability of its notifications.
 *
 * Two clocks (docs/simulation.md, "Time that runs faster"): what the observer asked about the
 * sensor's world (c.pmin, c.pmax, and the Max-Age countdown) runs on the sensor's clock,
 * `host.clock`, which may run faster than real time; what belongs to the network (the
 * retransmission of a CON, RFC 7252 section 4.2, and the confirmable check every 24 h, RFC 7641
 * section 4.5, both about whether the client is still there) runs on `host.networkClock`.
 *
 *   feed update ──offer()──> conditions met? ──no──> wait (pmax forces later)
 *                                  │ yes
 *                       pmin elapsed? ──no──> hold until pmin, then re-check the latest state
 *                                  │ yes
 *                  a CON in transit? ──yes──> queue: the newest state replaces it (section 4.5.2)
 *                                  │ no
 *                     send CON or NON; a CON is retransmitted (RFC 7252 section 4.2) until
 *                     ACKed; RST or no ACK after MAX_RETRANSMIT ends the observation (4.5)
 *
 * Notifications are confirmable when the registration was, and at least every
 * `confirmEveryMs` (24 h) otherwise (RFC 7641 section 4.5); the layer's one timer for all
 * observations (confirm()) sends the current state as a CON when nothing else did. A non-2.xx
 * notification has no Observe option and ends the observation (section 4.2); it is sent
 * confirmable so the client learns of it.
 *
 * Timers are lazy (they re-check when they fire instead of being cancelled and re-armed on
 * every notification): a thousand observers must not cost a thousand timer moves per update.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { MessageType } from './coap-wire.ts';
import { type ObserveConditions, conditionMet } from './observe-conditions.ts';
import type { FeedState, ObservationHost, ObservationWire, ObserverRef, Peer, Rendered } from './observe-host.ts';
import { initialTimeoutMs } from './observe-timing.ts';

export type { FeedState, ObservationHost, ObservationWire, Peer, Rendered } from './observe-host.ts';

/** The host with the network's clock beside the sensor's (`clock`); without one, or unless time is scaled, they are the same. */
export interface TimedObservationHost extends ObservationHost {
  readonly networkClock?: Clock;
}

/** RFC 7641 section 3.4: sequence numbers are 24 bits. */
const SEQ_MODULO = 1 << 24;
/** RST to any of the last few NON notifications ends the observation (RFC 7641 section 3.6). */
const RECENT_NON = 4;

interface Transit {
  mids: number[];
  /**
   * The message as sent, one character per byte: Buffer.allocUnsafe hands out slices of a
   * shared 8 KiB slab, and a notification kept for seconds would keep its whole slab alive
   * (8,192 in transit, each in its own slab, would be 64 MB).
   */
  datagram: string;
  attempt: number;
  /** Retransmissions this message may have: none to an address not yet verified. */
  limit: number;
  timeoutMs: number;
  cancel: () => void;
  /** Its retransmission timer's work, made once per message rather than once per attempt. */
  fire: () => void;
}

const NOTHING = (): void => {};

export class Observation implements ObserverRef {
  readonly key: string;
  readonly peer: Peer;
  readonly sensor: string;
  /** What the observe layer charged this observation against its byte budget (observe-limits.ts). */
  readonly bytes: number;
  /** One character per byte: a short string costs a tenth of a Uint8Array and its ArrayBuffer. */
  readonly #token: string;
  readonly #host: TimedObservationHost;
  readonly #conditions: ObserveConditions;
  readonly #render: (state: FeedState, nowMs: number) => Rendered;
  readonly #confirmable: boolean;
  #seq: number;
  #latest!: FeedState;
  /** The value last sent and when, on the sensor's clock (c.pmin, c.pmax). */
  #reported: { value: number | undefined; atMs: number } = { value: undefined, atMs: 0 };
  /** When the client last acknowledged, on the network's clock (the 24 h check). */
  #lastConfirmedAtMs = 0;
  #transit: Transit | undefined;
  #queued = false;
  #recentNon: number[] = [];
  /** Cancels of the pending pmin and pmax timers, at most one of each (the lazy timers above). */
  #pminTimer: (() => void) | undefined;
  #pmaxTimer: (() => void) | undefined;
  #holding = false;
  #pmaxArmed = false;
  #closed = false;
  /** How the registration was asked, for the encoding of every notification. */
  readonly wire: ObservationWire;

  constructor(o: { host: TimedObservationHost; key: string; peer: Peer; token: Uint8Array; sensor: string; confirmable: boolean; conditions: ObserveConditions; render: (state: FeedState, nowMs: number) => Rendered; wire: ObservationWire; previousSeq?: number; bytes?: number }) {
    this.wire = o.wire;
    this.#host = o.host;
    this.key = o.key;
    this.peer = o.peer;
    this.bytes = o.bytes ?? 0;
    // A copy: the token may be a view of the registration's datagram.
    this.#token = Buffer.from(o.token.buffer, o.token.byteOffset, o.token.byteLength).toString('latin1');
    this.sensor = o.sensor;
    this.#confirmable = o.confirmable;
    this.#conditions = o.conditions;
    this.#render = o.render;
    // A re-registration continues the old sequence, so the client does not take the new
    // notifications for reordered old ones (RFC 7641 section 3.4).
    this.#seq = o.previousSeq ?? 0;
  }

  get seq(): number {
    return this.#seq;
  }

  /** The registration's token, for the notifications' encoding. */
  get token(): Uint8Array {
    return Buffer.from(this.#token, 'latin1');
  }

  /**
   * Starts observing with the registration's state and returns the content of its response
   * with the first sequence number; the server sends it (piggybacked in the ACK of a CON,
   * section 5.2.1; a NON for a NON) and tells sentAs() which message carried it.
   */
  start(state: FeedState): { rendered: Rendered; seq: number } {
    const now = this.#now();
    this.#latest = state;
    const rendered = this.#render(state, now);
    const seq = this.#nextSeq();
    this.#reported = { value: rendered.value, atMs: now };
    this.#lastConfirmedAtMs = this.#networkNow();
    this.#armPmax();
    this.#host.confirmLater(this);
    return { rendered, seq };
  }

  /** The registration's response went out as a NON with this Message ID: a RST to it ends the observation (RFC 7641 section 3.6). */
  sentAs(type: number, messageId: number): void {
    if (type === MessageType.NON && !this.#closed) this.#rememberNon(messageId);
  }

  /**
   * The registration's response goes out as a separate CON (the read took longer than the
   * piggyback wait, RFC 7252 section 5.2.2). It is this observation's first notification (RFC
   * 7641 section 3.2): it is the one CON in transit (section 4.5.2), retransmitted here, and
   * a RST or a timeout ends the observation (sections 3.6, 4.5).
   */
  sendRegistration(messageId: number, datagram: Buffer): void {
    if (this.#closed) return;
    this.#endTransit();
    this.#startTransit(messageId, datagram);
    this.#host.send(datagram, this.peer);
  }

  /** A new feed update (every conversion period, and at once on ALERT). */
  offer(state: FeedState): void {
    if (this.#closed) return;
    this.#latest = state;
    this.#guarded(() => {
      if (state.update.ok) this.#consider();
      else this.#fail();
    })();
  }

  /** An ACK with one of this observation's Message IDs. */
  acknowledged(mid: number): void {
    const t = this.#transit;
    if (!t || !t.mids.includes(mid)) return;
    this.#endTransit();
    if (this.#closed) return;
    this.#lastConfirmedAtMs = this.#networkNow();
    this.#host.confirmLater(this);
    // The client acknowledged content that a newer state had replaced: send the newest.
    if (mid !== t.mids.at(-1)) this.#queued = true;
    if (this.#queued) {
      this.#queued = false;
      this.#guarded(() => this.#transmit(false))();
    }
  }

  /** A RST to one of its notifications: the client does not want them any more (RFC 7641 section 3.6). */
  rejected(_mid?: number): void {
    this.#end('reset');
  }

  /** Stops everything without telling the host (deregistration, replacement, shutdown). */
  close(): void {
    this.#release();
    this.#closed = true;
    if (this.#transit) this.#endTransit();
    else this.#host.finished(this);
  }

  /** Timers and the routes of recent NON notifications: what nothing needs once the observation is over. */
  #release(): void {
    for (const mid of this.#recentNon) this.#host.untrack(this.peer, mid);
    this.#recentNon = [];
    this.#pminTimer?.();
    this.#pmaxTimer?.();
    this.#pminTimer = this.#pmaxTimer = undefined;
  }

  #consider(): void {
    const now = this.#now();
    const r = this.#render(this.#latest, now);
    if (r.value === undefined || !conditionMet(this.#conditions, this.#reported.value, r.value)) return;
    const wait = this.#reported.atMs + (this.#conditions.pminMs ?? 0) - now;
    if (wait > 0) {
      // pmin: hold back, then look at the state as it is then (it may have gone back).
      if (!this.#holding) {
        this.#holding = true;
        this.#pminTimer = this.#schedule(wait, () => {
          this.#pminTimer = undefined;
          this.#holding = false;
          this.#consider();
        });
      }
      return;
    }
    this.#notify(false);
  }

  #notify(forceCon: boolean): void {
    // RFC 7641 section 4.5.2: one CON in transit per observer; the newest state goes out when
    // it has been acknowledged, or replaces it at its next retransmission.
    if (this.#transit) {
      this.#queued = true;
      return;
    }
    this.#transmit(forceCon);
  }

  #transmit(forceCon: boolean): void {
    const now = this.#now();
    const r = this.#render(this.#latest, now);
    // Until the peer's address is verified every notification is confirmable, even after a NON
    // registration, and sent once: a registration from a spoofed source then costs its victim
    // one notification, not one every conversion for 24 hours (RFC 7252 section 11.3, RFC
    // 7641 section 7). A real client acknowledges, and is verified from then on; one whose
    // acknowledgement was lost re-registers when Max-Age runs out (RFC 7641 section 3.3.1).
    const con = this.#confirmable || !this.#host.isVerified(this.peer) || forceCon || r.value === undefined || this.#networkNow() - this.#lastConfirmedAtMs >= this.#host.timing.confirmEveryMs;
    const mid = this.#host.newMessageId(this.peer);
    // Section 4.2: a non-2.xx notification carries no Observe option.
    const datagram = this.#encode(con ? MessageType.CON : MessageType.NON, mid, r, r.value === undefined ? undefined : this.#nextSeq());
    this.#reported = { value: r.value, atMs: now };
    this.#host.notified(r.code);
    if (con) {
      this.#startTransit(mid, datagram);
    } else {
      this.#rememberNon(mid);
    }
    this.#host.send(datagram, this.peer);
    this.#armPmax();
  }

  /** A CON goes out: it is the one in transit (section 4.5.2), routed and retransmitted until ACKed. */
  #startTransit(mid: number, datagram: Buffer): void {
    const t: Transit = { mids: [mid], datagram: datagram.toString('latin1'), attempt: 0, limit: this.#host.maxRetransmit(this.peer), timeoutMs: initialTimeoutMs(this.#host.timing, this.#host.random()), cancel: NOTHING, fire: NOTHING };
    t.fire = this.#guarded(() => this.#retransmit(t));
    this.#transit = t;
    this.#host.track(this.peer, mid, this, true);
    this.#armRetransmit();
  }

  #armRetransmit(): void {
    const t = this.#transit!;
    // Not released with the pmin/pmax timers: an error notification keeps retransmitting after
    // the observation closed. Real time: it races the client's ACK, not the sensor.
    t.cancel = this.#networkClock().schedule(t.timeoutMs, t.fire);
  }

  #retransmit(t: Transit): void {
    if (this.#transit !== t) return;
    if (t.attempt >= t.limit) {
      this.#end('timeout');
      return;
    }
    t.attempt++;
    t.timeoutMs *= 2;
    if (this.#queued && !this.#closed) {
      // Section 4.5.2: the newer notification replaces the one in transit, keeping its
      // retransmission counter and timeout; it is a new message, so a new Message ID.
      this.#queued = false;
      const now = this.#now();
      const r = this.#render(this.#latest, now);
      const mid = this.#host.newMessageId(this.peer);
      t.datagram = this.#encode(MessageType.CON, mid, r, r.value === undefined ? undefined : this.#nextSeq()).toString('latin1');
      t.mids.push(mid);
      this.#host.track(this.peer, mid, this, true);
      this.#reported = { value: r.value, atMs: now };
      this.#host.notified(r.code);
    }
    this.#host.send(Buffer.from(t.datagram, 'latin1'), this.peer);
    this.#armRetransmit();
  }

  /**
   * A timer's work, which must never throw into the clock (a bare setTimeout: the process
   * would die): a failure ends the observation, and the host logs it.
   */
  #guarded(fn: () => void): () => void {
    return () => {
      try {
        fn();
      } catch (err) {
        const wasClosed = this.#closed;
        this.close();
        if (!wasClosed) this.#host.ended(this, 'error', err instanceof Error ? err.message : String(err));
      }
    };
  }

  #endTransit(): void {
    const t = this.#transit;
    if (!t) return;
    t.cancel();
    for (const mid of t.mids) this.#host.untrack(this.peer, mid);
    this.#transit = undefined;
    if (this.#closed) this.#host.finished(this);
  }

  /** A failed read: tell the observer with the error response, then stop (RFC 7641 section 4.2). */
  #fail(): void {
    this.#queued = false;
    if (this.#transit) this.#endTransit();
    this.#release();
    this.#closed = true;
    // Leave the registry now; the CON carrying the error keeps its retransmissions until it
    // is acknowledged or times out (its Message IDs stay routed here).
    this.#host.ended(this, 'error');
    this.#transmit(true);
  }

  #end(reason: 'reset' | 'timeout'): void {
    const wasClosed = this.#closed;
    this.close();
    if (!wasClosed) this.#host.ended(this, reason);
  }

  /** pmax: notify the current state if nothing was sent for pmax (checked lazily). */
  #armPmax(): void {
    const pmax = this.#conditions.pmaxMs;
    if (pmax === undefined || this.#pmaxArmed || this.#closed) return;
    this.#pmaxArmed = true;
    const check = () => {
      this.#pmaxTimer = undefined;
      this.#pmaxArmed = false;
      if (this.#closed) return;
      const due = this.#reported.atMs + pmax - this.#now();
      if (due <= 0) this.#notify(false);
      else {
        this.#pmaxArmed = true;
        this.#pmaxTimer = this.#schedule(due, check);
      }
    };
    this.#pmaxTimer = this.#schedule(Math.max(0, this.#reported.atMs + pmax - this.#now()), check);
  }

  /**
   * RFC 7641 section 4.5: a CON at least every confirmEveryMs, with the current state if nothing
   * else went out. The host calls this confirmEveryMs after the last confirmLater() (the start,
   * each ACK, each call here): one timer in the layer for every observation, not one each.
   */
  confirm(): void {
    this.#guarded(() => {
      if (this.#closed) return;
      // A CON in transit: its ACK schedules the next check, its timeout ends the observation.
      if (this.#transit === undefined && this.#networkNow() - this.#lastConfirmedAtMs >= this.#host.timing.confirmEveryMs) this.#transmit(true);
      this.#host.confirmLater(this);
    })();
  }

  /** A timer on the sensor's clock (pmin, pmax) whose work cannot throw into the clock; the caller keeps its cancel, and forgets it when it fires. */
  #schedule(ms: number, fn: () => void): () => void {
    return this.#host.clock.schedule(ms, this.#guarded(fn));
  }

  #rememberNon(mid: number): void {
    this.#recentNon.push(mid);
    this.#host.track(this.peer, mid, this, false);
    if (this.#recentNon.length > RECENT_NON) this.#host.untrack(this.peer, this.#recentNon.shift()!);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) % SEQ_MODULO;
    return this.#seq;
  }

  /** The sensor's time: pmin, pmax and the Max-Age countdown. */
  #now(): number {
    return monotonicMs(this.#host.clock);
  }

  /** The network's time: when the client last acknowledged. */
  #networkNow(): number {
    return monotonicMs(this.#networkClock());
  }

  #networkClock(): Clock {
    return this.#host.networkClock ?? this.#host.clock;
  }

  #encode(type: number, messageId: number, r: Rendered, seq: number | undefined): Buffer {
    return this.#host.encode(this, type, messageId, r, seq);
  }
}
