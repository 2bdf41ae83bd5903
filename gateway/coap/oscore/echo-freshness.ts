/**
 * The Echo values a server hands out to prove a request fresh after a restart (RFC 8613
 * Appendix B.1.2, RFC 9175 section 2.4): per security context, a few recent 8-byte values,
 * each valid for a short while on the gateway's monotonic clock. The memory is bounded whatever
 * clients send: issuing a value past the bound forgets the oldest one.
 */
import { timingSafeEqual } from 'node:crypto';

/** RFC 9175 section 2.3: a short validity keeps a delayed (held-back) request from passing as fresh. */
export const ECHO_VALID_MS = 30_000;
/** A client repeating requests in parallel may hold a few challenges at once; more is waste. */
export const ECHO_VALUES_PER_CONTEXT = 4;
/** RFC 9175 section 2.2.1 allows 1 to 40 bytes; 8 random bytes cannot be guessed within 30 s. */
export const ECHO_LENGTH = 8;

interface Issued {
  value: Uint8Array;
  expiresMs: number;
}

export class EchoFreshness {
  readonly #issued: Issued[] = [];
  readonly #now: () => number;
  readonly #randomBytes: (n: number) => Uint8Array;

  constructor(now: () => number, randomBytes: (n: number) => Uint8Array) {
    this.#now = now;
    this.#randomBytes = randomBytes;
  }

  /** A new value to send in a 4.01 challenge. */
  issue(): Uint8Array {
    this.#prune();
    if (this.#issued.length >= ECHO_VALUES_PER_CONTEXT) this.#issued.shift();
    const value = Uint8Array.from(this.#randomBytes(ECHO_LENGTH));
    this.#issued.push({ value, expiresMs: this.#now() + ECHO_VALID_MS });
    return value;
  }

  /** Whether `value` is one of ours and still valid. */
  isFresh(value: Uint8Array): boolean {
    this.#prune();
    return this.#issued.some((i) => i.value.length === value.length && timingSafeEqual(i.value, value));
  }

  /** Once the replay window is known again, no Echo is needed for this context (B.1.2). */
  clear(): void {
    this.#issued.length = 0;
  }

  get size(): number {
    return this.#issued.length;
  }

  #prune(): void {
    const now = this.#now();
    while (this.#issued.length > 0 && this.#issued[0]!.expiresMs <= now) this.#issued.shift();
  }
}
