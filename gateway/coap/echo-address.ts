/**
 * Echo values that verify a client's address (RFC 9175 section 2.4, item 3): a response the
 * amplification budget cut short for an address not yet verified (response-writer.ts) carries
 * an Echo option; a client that repeats it in a later request (RFC 9175 section 2.3: a client
 * echoes a value it received in any response in its next request) has shown that it receives
 * what is sent to that address, and the address counts as verified from then on, as if it had
 * acknowledged a CON of ours (reliability.ts). Its next transfers get full-size blocks.
 *
 * Stateless, so a flood of spoofed sources costs no memory: the value is the time it was made
 * (4 bytes, seconds on the gateway's monotonic clock) and 8 bytes of HMAC-SHA-256 over that time
 * and the address, with a key drawn at start. A value is good for ECHO_VALID_S seconds and only
 * from the address it was sent to. A client that does not know Echo ignores it: the option is
 * elective (number 252, RFC 9175 section 2.2.1), so nothing changes for it.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** How long an Echo value verifies its address: a client follows its blocks within seconds. */
export const ECHO_VALID_S = 120;
const MAC_BYTES = 8;
export const ECHO_BYTES = 4 + MAC_BYTES;

export class EchoAddressCheck {
  readonly #key = randomBytes(32);
  readonly #nowS: () => number;

  /** `nowMs`: a monotonic clock, in milliseconds. */
  constructor(nowMs: () => number) {
    this.#nowS = () => Math.floor(nowMs() / 1000);
  }

  /** A fresh Echo value for this address. */
  issue(address: string): Uint8Array {
    const out = Buffer.allocUnsafe(ECHO_BYTES);
    out.writeUInt32BE(this.#nowS() >>> 0, 0);
    this.#mac(address, out.subarray(0, 4)).copy(out, 4);
    return out;
  }

  /** Whether `value` is an Echo this gateway sent to this address within ECHO_VALID_S. */
  verifies(address: string, value: Uint8Array): boolean {
    if (value.length !== ECHO_BYTES) return false;
    const v = Buffer.from(value.buffer, value.byteOffset, value.length);
    const age = this.#nowS() - v.readUInt32BE(0);
    // Whole seconds: a value made in second t is good through second t + 119 (never past ECHO_VALID_S).
    if (age < 0 || age >= ECHO_VALID_S) return false;
    const expected = this.#mac(address, v.subarray(0, 4));
    // Constant time: the comparison must not tell a forger how many bytes it got right.
    let diff = 0;
    for (let i = 0; i < MAC_BYTES; i++) diff |= expected[i]! ^ v[4 + i]!;
    return diff === 0;
  }

  #mac(address: string, time: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(address).update(time).digest().subarray(0, MAC_BYTES);
  }
}
