/**
 * Echo option values (RFC 9175) the gateway can check without remembering them: the time a
 * value was made (4 bytes, whole seconds on the gateway's monotonic clock) and 8 bytes of
 * HMAC-SHA-256 over what it is bound to and that time, under a key drawn at start. Nothing is
 * kept per value, so a flood of requests costs no memory and no value is ever forgotten early;
 * a restart draws a new key, so no value survives one.
 *
 * Two uses, two bindings:
 * - a client's address (server.ts; RFC 9175 section 2.4, item 3): a response the amplification
 *   budget cut short carries one, and a request repeating it verifies the address;
 * - an OSCORE security context's name (oscore/oscore-server.ts; RFC 8613 appendix B.1.2): the
 *   protected 4.01 after a restart carries one, and the repeat that returns it proves freshness.
 */
import { createHmac, randomBytes as cryptoRandomBytes } from 'node:crypto';

const MAC_BYTES = 8;
/** RFC 9175 section 2.2.1 allows 1 to 40 bytes: 4 of time and 8 of MAC. */
export const ECHO_LENGTH = 4 + MAC_BYTES;
const KEY_BYTES = 32;

export class EchoValues {
  readonly #key: Uint8Array;
  readonly #validMs: number;
  readonly #nowS: () => number;

  /** `now`: monotonic milliseconds; `randomBytes`: the key's source (tests pin it). */
  constructor(validMs: number, now: () => number, randomBytes: (n: number) => Uint8Array = cryptoRandomBytes) {
    this.#validMs = validMs;
    this.#key = Uint8Array.from(randomBytes(KEY_BYTES));
    this.#nowS = () => Math.floor(now() / 1000);
  }

  /** A fresh value bound to `binding`. */
  issue(binding: string): Uint8Array {
    const out = Buffer.allocUnsafe(ECHO_LENGTH);
    out.writeUInt32BE(this.#nowS() >>> 0, 0);
    this.#mac(binding, out.subarray(0, 4)).copy(out, 4);
    return out;
  }

  /** Whether `value` was issued for `binding` less than the validity ago. */
  verifies(binding: string, value: Uint8Array): boolean {
    if (value.length !== ECHO_LENGTH) return false;
    const v = Buffer.from(value.buffer, value.byteOffset, value.length);
    const ageS = this.#nowS() - v.readUInt32BE(0);
    // Whole seconds: a value made in second t is good through t + validity - 1 s, never past it.
    if (ageS < 0 || ageS * 1000 >= this.#validMs) return false;
    const expected = this.#mac(binding, v.subarray(0, 4));
    // Constant time: a forger must not learn how many bytes it got right.
    let diff = 0;
    for (let i = 0; i < MAC_BYTES; i++) diff |= expected[i]! ^ v[4 + i]!;
    return diff === 0;
  }

  #mac(binding: string, time: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(binding).update(time).digest().subarray(0, MAC_BYTES);
  }
}
