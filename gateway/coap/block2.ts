/**
 * Block-wise transfer of responses (RFC 7959 Block2) and the entity tags that keep it
 * consistent (RFC 7252 section 5.10.6).
 *
 * - Every block carries the Content-Format, Max-Age and ETag of the whole representation, so a
 *   client can check each block belongs to the same one; block 0 also carries Size2, the total
 *   length (RFC 7959 section 4).
 * - A representation served in more than one block is *held* for the client: a later block
 *   request from the same endpoint with the same method, path, query, Accept and body is cut
 *   from the held copy, whichever token and Message ID it carries (aiocoap uses a fresh token
 *   for each block, as RFC 7959 section 2.4 allows). So `/gw/stats`, which changes with every
 *   request, reads block-wise as one snapshot. A held copy lives HOLD_MS after its last block
 *   request (kept past the last block: a client may ask for a lost block again, with a new
 *   token); at most HOLD_PER_ADDRESS per client address and HOLD_TOTAL in all are kept, oldest
 *   forgotten first. A block after the copy is forgotten is cut from a fresh
 *   representation with its own ETag, and the client sees the change (section 2.4).
 * - Choices where the RFC leaves one (docs/coap-api.md): a block number past the end is 4.02
 *   Bad Option; a server-chosen block size is never larger than asked.
 */
import { createHash } from 'node:crypto';
import type { Block2Request } from './inbound-request.ts';
import type { Reply } from './reply.ts';

/** The largest payload sent unsplit, and the largest block (SZX 6): RFC 7252 section 4.6's 1,024 bytes. */
export const MAX_PAYLOAD = 1024;
export const MAX_SZX = 6;

export const HOLD_MS = 30_000;
export const HOLD_PER_ADDRESS = 8;
export const HOLD_TOTAL = 1024;

export function blockSize(szx: number): number {
  return 16 << szx;
}

/** The Block2 option value: NUM, M and SZX (RFC 7959 section 2.2), in the fewest bytes. */
export function block2Value(num: number, more: boolean, szx: number): number {
  return (num << 4) | (more ? 0x08 : 0) | szx;
}

/** A 4-byte entity tag of a representation: its format and bytes, hashed. */
export function entityTag(reply: Reply): Uint8Array {
  const h = createHash('sha1');
  h.update(String(reply.contentFormat));
  h.update(reply.payload);
  return new Uint8Array(h.digest().subarray(0, 4));
}

/** A representation being served in blocks. */
export interface HeldRepresentation {
  reply: Reply;
  etag: Uint8Array;
}

interface HeldEntry extends HeldRepresentation {
  key: string;
  address: string;
  expiresAt: number;
}

export class HeldRepresentations {
  readonly #now: () => number;
  /** key -> entry, least recently used first. */
  readonly #entries = new Map<string, HeldEntry>();
  readonly #perAddress = new Map<string, number>();

  constructor(now: () => number) {
    this.#now = now;
  }

  get(key: string): HeldRepresentation | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    const now = this.#now();
    if (e.expiresAt <= now) {
      this.#remove(e);
      return undefined;
    }
    this.#entries.delete(key);
    e.expiresAt = now + HOLD_MS;
    this.#entries.set(key, e);
    return e;
  }

  hold(key: string, address: string, rep: HeldRepresentation): void {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(old);
    if ((this.#perAddress.get(address) ?? 0) >= HOLD_PER_ADDRESS) {
      for (const e of this.#entries.values()) {
        if (e.address === address) {
          this.#remove(e);
          break;
        }
      }
    }
    while (this.#entries.size >= HOLD_TOTAL) this.#remove(this.#entries.values().next().value!);
    this.#entries.set(key, { ...rep, key, address, expiresAt: this.#now() + HOLD_MS });
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
  }

  clear(): void {
    this.#entries.clear();
    this.#perAddress.clear();
  }

  #remove(e: HeldEntry): void {
    this.#entries.delete(e.key);
    const n = (this.#perAddress.get(e.address) ?? 1) - 1;
    if (n <= 0) this.#perAddress.delete(e.address);
    else this.#perAddress.set(e.address, n);
  }
}

/** Where a block starts when the server answers with a smaller size than asked (RFC 7959 section 2.4). */
export function blockAt(request: Block2Request | undefined, szx: number): { num: number; offset: number } {
  if (request === undefined) return { num: 0, offset: 0 };
  const offset = request.num * blockSize(request.szx);
  return { num: Math.floor(offset / blockSize(szx)), offset: Math.floor(offset / blockSize(szx)) * blockSize(szx) };
}
