/**
 * The replay window of one OSCORE recipient context (RFC 8613 section 7.4): a server accepts a
 * request's Partial IV (the client's Sender Sequence Number) only if it has not received it
 * before. The default window (section 3.2.2) is the anti-replay sliding window of DTLS (RFC 6347
 * section 4.1.2.6) with 32 entries: the highest number accepted is the right edge, the `size`
 * numbers ending there are remembered in a bitmap, and anything left of them is refused.
 *
 *            too-old           │◀──────── size numbers ────────▶│        ok
 *   ... ───────────────────────┼──┬──┬──┬──────────────────┬──┬──┼─────────────▶ seq
 *                              │ leftEdge         bits: received │ right (highest accepted)
 *
 * The window is not persisted: after a start it is unknown (Appendix B.1.2) and `check` says
 * 'uninitialized' until an Echo exchange (RFC 9175) proved a request fresh and `initializeAt`
 * starts the window at that request's number.
 *
 * Sequence numbers go up to 2^40 - 1 (section 7.2.1: a Partial IV is at most 5 bytes), beyond
 * 32-bit integers, so they are only compared and subtracted as JS numbers (exact to 2^53); the
 * bit operations work on the position in the bitmap (seq % size < size), never on seq itself.
 * Every operation is O(1) in the sequence numbers; a slide clears at most `size` bits.
 */
import { GatewayError } from '../../errors.ts';

/** Section 7.2.1: a Sender Sequence Number is at most 2^40 - 1 (a Partial IV of at most 5 bytes). */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;

/** Section 3.2.2: the default Replay Window size. */
export const DEFAULT_REPLAY_WINDOW_SIZE = 32;

/** Memory stays bounded whatever the configuration: 4,096 entries are 512 bytes of bitmap. */
export const MAX_REPLAY_WINDOW_SIZE = 4096;

export type ReplayVerdict = 'ok' | 'replay' | 'too-old' | 'uninitialized';

/** An integer from 0 to 2^40 - 1: a number a Partial IV can carry (section 6.1, 7.2.1). */
export function isSequenceNumber(seq: number): boolean {
  return Number.isInteger(seq) && seq >= 0 && seq <= MAX_SEQUENCE_NUMBER;
}

export class ReplayWindow {
  readonly size: number;
  /** Bit (seq % size) is set when seq, within the window, was received. */
  readonly #bits: Uint32Array;
  /** The highest number accepted; -1 while the window is unknown (Appendix B.1.2). */
  #right = -1;
  /** The number initializeAt started from: nothing below it is known, so nothing below it is fresh. */
  #floor = 0;

  constructor(size: number = DEFAULT_REPLAY_WINDOW_SIZE) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW_SIZE) {
      throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `OSCORE replay window size must be an integer from 1 to ${MAX_REPLAY_WINDOW_SIZE}, got ${size}` });
    }
    this.size = size;
    this.#bits = new Uint32Array(Math.ceil(size / 32));
  }

  /** False after a start: the window is unknown (Appendix B.1.2), so freshness must be checked with Echo. */
  get initialized(): boolean {
    return this.#right >= 0;
  }

  /**
   * Whether this sequence number may be accepted: 'ok', 'replay' (seen), 'too-old' (left of the
   * window) or 'uninitialized'. Does not change the window.
   *
   * A number no Partial IV can carry (negative, fractional, NaN, above 2^40 - 1) is 'too-old',
   * whatever the window's state: it can never be accepted, and an Echo exchange could not make
   * it so, so it is refused like a number the window has left behind (4.01, section 7.4).
   */
  check(seq: number): ReplayVerdict {
    if (!isSequenceNumber(seq)) return 'too-old';
    if (!this.initialized) return 'uninitialized';
    if (seq > this.#right) return 'ok';
    if (seq < this.#leftEdge()) return 'too-old';
    return this.#has(seq) ? 'replay' : 'ok';
  }

  /**
   * Marks seq received; call only after the request verified (section 7.4: an unverified
   * request must not move the window, or a forged Partial IV would push genuine ones out).
   * A number `check` would not call 'ok' is refused with GW_ERR_OSCORE_REPLAY and the window is
   * left as it was: two copies of one request that were both checked before either verified
   * (verification may be asynchronous) end here, and only the first is accepted.
   */
  accept(seq: number): void {
    const verdict = this.check(seq);
    if (verdict !== 'ok') {
      throw new GatewayError('GW_ERR_OSCORE_REPLAY', { detail: `Partial IV ${seq} is not acceptable: ${verdict}` });
    }
    if (seq > this.#right) this.#slideTo(seq);
    this.#set(seq);
  }

  /**
   * After an Echo exchange proved freshness (Appendix B.1.2, RFC 9175 section 2.4): the window
   * starts at seq (accepted), and every number below it is 'too-old', since what was received
   * before the window was lost is unknown. On a window already initialized (a second Echo
   * exchange finishing after the first) this is accept(seq): the window never moves back, which
   * would make numbers it already saw acceptable again.
   */
  initializeAt(seq: number): void {
    if (!isSequenceNumber(seq)) {
      throw new GatewayError('GW_ERR_OSCORE_BAD_OPTION', { detail: `Partial IV ${seq} is not a sequence number (0 to 2^40 - 1, section 7.2.1)` });
    }
    if (this.initialized) {
      this.accept(seq);
      return;
    }
    this.#bits.fill(0);
    this.#floor = seq;
    this.#right = seq;
    this.#set(seq);
  }

  /** The lowest number still in the window. */
  #leftEdge(): number {
    return Math.max(this.#floor, this.#right - this.size + 1);
  }

  /** Moves the right edge to seq, forgetting the positions the new numbers reuse. */
  #slideTo(seq: number): void {
    if (seq - this.#right >= this.size) {
      this.#bits.fill(0);
    } else {
      for (let n = this.#right + 1; n <= seq; n++) this.#clear(n);
    }
    this.#right = seq;
  }

  #has(seq: number): boolean {
    const i = seq % this.size;
    return (this.#bits[i >>> 5]! & bitOf(i)) !== 0;
  }

  #set(seq: number): void {
    const i = seq % this.size;
    this.#bits[i >>> 5] = this.#bits[i >>> 5]! | bitOf(i);
  }

  #clear(seq: number): void {
    const i = seq % this.size;
    this.#bits[i >>> 5] = this.#bits[i >>> 5]! & ~bitOf(i);
  }
}

/** The mask of bitmap position i (< size <= 4096) within its 32-bit word. */
function bitOf(i: number): number {
  return 1 << (i & 31);
}
