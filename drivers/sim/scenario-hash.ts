/**
 * The dice of a scenario's random fault rules: one 32-bit hash per (seed, sensor, rule, slot),
 * so whether a slot carries its fault is decided by those four values alone: not by the order
 * in which slots are asked about, not by how often the chip is polled, never by Math.random.
 * The same seed gives the same slots on every run and every machine (only 32-bit integer
 * arithmetic: Math.imul, xor and unsigned shifts, exact in JavaScript).
 *
 * Mixing: the 32-bit finalizer of MurmurHash3 (fmix32, Austin Appleby, public domain), which
 * makes every input bit affect every output bit, applied after absorbing each value with a
 * multiply by the golden-ratio constant (as splitmix does), so (rule 1, slot 0) and (rule 0,
 * slot 1) land far apart. The sensor name enters as its FNV-1a hash over UTF-8 bytes.
 */

const GOLDEN_32 = 0x9e3779b9;

/** MurmurHash3's fmix32: an avalanche of the 32 bits of `h`. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function absorb(h: number, value: number): number {
  return fmix32((Math.imul(h ^ value, GOLDEN_32) + GOLDEN_32) | 0);
}

/** The hash of one slot of one random rule: a uint32. */
export function slotHash(seed: number, sensor: string, ruleIndex: number, slot: number): number {
  let h = absorb(0, seed >>> 0);
  h = absorb(h, fnv1a32(sensor));
  h = absorb(h, ruleIndex >>> 0);
  return absorb(h, slot >>> 0);
}

/** The slot's draw in [0, 1): the slot carries its fault when this is below the rule's probability. */
export function slotDraw(seed: number, sensor: string, ruleIndex: number, slot: number): number {
  return slotHash(seed, sensor, ruleIndex, slot) / 2 ** 32;
}
