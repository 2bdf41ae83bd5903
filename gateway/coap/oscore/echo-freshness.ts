/**
 * The Echo values a server hands out to prove a request fresh after a restart (RFC 8613
 * Appendix B.1.2, RFC 9175 section 2.4), one issuer per security context.
 *
 * Stateless: a value is the time it was made (4 bytes, seconds on the gateway's monotonic
 * clock) and 8 bytes of HMAC-SHA-256 over the context's name and that time, under a key drawn
 * at start. So a client that sends several requests at once (six observations as its first
 * requests, say) gets a challenge for each, and none of the values is forgotten however many
 * were issued; nothing is kept per challenge, so a flood of requests costs no memory. A value is
 * valid for ECHO_VALID_MS and only for its context; a restart draws a new key, so no value
 * survives one. (The first repeat that passes starts the replay window at its sequence number;
 * repeats of lower numbers that arrive after it are refused as too old, as in aiocoap: a
 * client's parallel repeats pass when they arrive in the order it sent them, as on one path.)
 */
import { createHmac } from 'node:crypto';

/** RFC 9175 section 2.3: a short validity keeps a delayed (held-back) request from passing as fresh. */
export const ECHO_VALID_MS = 30_000;
const MAC_BYTES = 8;
/** RFC 9175 section 2.2.1 allows 1 to 40 bytes: 4 of time and 8 of MAC. */
export const ECHO_LENGTH = 4 + MAC_BYTES;
const KEY_BYTES = 32;

export class EchoFreshness {
  readonly #key: Uint8Array;
  readonly #context: string;
  readonly #nowS: () => number;

  /** `now`: monotonic milliseconds; `randomBytes`: the key's source. */
  constructor(context: string, now: () => number, randomBytes: (n: number) => Uint8Array) {
    this.#context = context;
    this.#key = Uint8Array.from(randomBytes(KEY_BYTES));
    // Milliseconds kept as a whole count of seconds, offset so that a clock starting at 0
    // still gives values whose age can be told.
    this.#nowS = () => Math.floor(now() / 1000);
  }

  /** A new value to send in a 4.01 challenge. */
  issue(): Uint8Array {
    const out = Buffer.allocUnsafe(ECHO_LENGTH);
    out.writeUInt32BE(this.#nowS() >>> 0, 0);
    this.#mac(out.subarray(0, 4)).copy(out, 4);
    return out;
  }

  /** Whether `value` was issued for this context within ECHO_VALID_MS. */
  isFresh(value: Uint8Array): boolean {
    if (value.length !== ECHO_LENGTH) return false;
    const v = Buffer.from(value.buffer, value.byteOffset, value.length);
    const ageS = this.#nowS() - v.readUInt32BE(0);
    // Whole seconds: a value made in second t is good until second t + 29 (under ECHO_VALID_MS, never over).
    if (ageS < 0 || ageS * 1000 >= ECHO_VALID_MS) return false;
    const expected = this.#mac(v.subarray(0, 4));
    // Constant time: a forger must not learn how many bytes it got right.
    let diff = 0;
    for (let i = 0; i < MAC_BYTES; i++) diff |= expected[i]! ^ v[4 + i]!;
    return diff === 0;
  }

  #mac(time: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(this.#context).update(time).digest().subarray(0, MAC_BYTES);
  }
}
