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
 *   token); at most `perAddress` per client address, `total` in all and `totalBytes` of them
 *   (heldBytes: the copy, its key, the entry) are kept, oldest forgotten first
 *   (DEFAULT_HOLD_LIMITS). A block after the copy is forgotten is cut from a fresh
 *   representation with its own ETag, and the client sees the change (section 2.4).
 * - Choices where the RFC leaves one (docs/coap-api.md): a block number past the end is 4.02
 *   Bad Option; a server-chosen block size is never larger than asked.
 */
import { createHash } from 'node:crypto';
import { type WireOption, Option } from './coap-wire.ts';
import { flat, stringBytes } from './flat-string.ts';
import type { Block2Request, InboundRequest } from './inbound-request.ts';
import type { Reply } from './reply.ts';

/** The largest payload sent unsplit, and the largest block (SZX 6): RFC 7252 section 4.6's 1,024 bytes. */
export const MAX_PAYLOAD = 1024;
export const MAX_SZX = 6;

export const HOLD_MS = 30_000;

export interface HoldLimits {
  /** Representations one client address may have held. */
  perAddress: number;
  /** Representations held in all. */
  total: number;
  /** Bytes in all, each held representation charged heldBytes(). */
  totalBytes: number;
}

/**
 * What a held representation costs besides its body and key: the entry, the Reply, the body's
 * and the ETag's typed arrays and ArrayBuffers (a body over 64 bytes lives outside the heap, in
 * an allocation of its own), its map entry. 610 to 1,090 bytes measured (test/byte-bounds.test.ts;
 * it varies with V8's allocation of the small typed arrays).
 */
export const HELD_BYTES = 704;

/** The bytes a held representation is charged: HELD_BYTES, its key (a string), its body. */
export function heldBytes(keyLength: number, bodyBytes: number): number {
  return HELD_BYTES + stringBytes(keyLength) + bodyBytes;
}

/**
 * 8 per address, 1,024 in all. A held /gw/stats or discovery document is a few hundred bytes
 * with a key of about 60 characters: about 1.1 KiB charged (heldBytes), 1.1 MiB for a full
 * table. But the key holds the request's query and body, and a datagram may be 64 KiB: 1,024
 * such keys were 64 MiB, bounded by the entry count alone. The 2 MiB budget holds a full table
 * of ordinary transfers and about 30 of those.
 */
export const DEFAULT_HOLD_LIMITS: HoldLimits = { perAddress: 8, total: 1024, totalBytes: 2 * 2 ** 20 };

export function blockSize(szx: number): number {
  return 16 << szx;
}

/** The Block2 option value: NUM, M and SZX (RFC 7959 section 2.2), in the fewest bytes. */
export function block2Value(num: number, more: boolean, szx: number): number {
  return (num << 4) | (more ? 0x08 : 0) | szx;
}

/**
 * The Block2 option among a message's options (RFC 7959 section 2.2): NUM, M and SZX, or
 * undefined when there is none or its value is longer than the 3 bytes the option may have.
 */
export function readBlock2(options: readonly WireOption[]): { num: number; more: boolean; szx: number } | undefined {
  const o = options.find((x) => x.number === Option.BLOCK2);
  if (o === undefined || o.value.length > 3) return undefined;
  let v = 0;
  for (const b of o.value) v = v * 256 + b;
  return { num: v >>> 4, more: (v & 8) !== 0, szx: v & 7 };
}

/** A 4-byte entity tag of a representation: its format and bytes, hashed. */
export function entityTag(reply: Reply): Uint8Array {
  const h = createHash('sha1');
  h.update(String(reply.contentFormat));
  h.update(reply.payload);
  return new Uint8Array(h.digest().subarray(0, 4));
}

/**
 * A block-wise transfer is one client asking the same thing (RFC 7959 section 2.4): endpoint,
 * method, path, query, Accept, body. Flat (flat-string.ts): an observation keeps it for its life.
 */
export function holdKey(peer: { address: string; port: number }, req: InboundRequest): string {
  const v = req.view;
  return flat(`${peer.address}|${peer.port}|${v.method}|${v.path}|${v.query.join('\u0000')}|${v.accept ?? ''}|${Buffer.from(v.body.buffer, v.body.byteOffset, v.body.byteLength).toString('hex')}`);
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
  bytes: number;
}

export class HeldRepresentations {
  readonly #now: () => number;
  readonly #limits: HoldLimits;
  /** key -> entry, least recently used first. */
  readonly #entries = new Map<string, HeldEntry>();
  readonly #perAddress = new Map<string, number>();
  #bytes = 0;

  constructor(now: () => number, limits: Partial<HoldLimits> = {}) {
    this.#now = now;
    this.#limits = { ...DEFAULT_HOLD_LIMITS, ...limits };
    for (const [name, v] of Object.entries(this.#limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`hold limit ${name} must be a positive integer, got ${v}`);
    }
  }

  /** Representations held now, and the bytes they are charged (heldBytes). */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
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

  /**
   * Holds a representation for the client's next blocks. One larger than the whole byte budget
   * is not held: each block is then cut from a fresh representation, with its own ETag.
   */
  hold(key: string, address: string, rep: HeldRepresentation): void {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(old);
    const bytes = heldBytes(key.length, rep.reply.payload.byteLength);
    if (bytes > this.#limits.totalBytes) return;
    if ((this.#perAddress.get(address) ?? 0) >= this.#limits.perAddress) {
      for (const e of this.#entries.values()) {
        if (e.address === address) {
          this.#remove(e);
          break;
        }
      }
    }
    while (this.#entries.size >= this.#limits.total || this.#bytes + bytes > this.#limits.totalBytes) this.#remove(this.#entries.values().next().value!);
    this.#entries.set(key, { reply: rep.reply, etag: rep.etag, key, address, expiresAt: this.#now() + HOLD_MS, bytes });
    this.#bytes += bytes;
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
  }

  clear(): void {
    this.#entries.clear();
    this.#perAddress.clear();
    this.#bytes = 0;
  }

  #remove(e: HeldEntry): void {
    this.#entries.delete(e.key);
    this.#bytes -= e.bytes;
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
