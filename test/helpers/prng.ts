/**
 * xorshift32 (Marsaglia): a small, fast pseudo-random sequence that is the same for the same
 * seed on every machine, so a fuzz case or a property-test failure repeats. Not for secrets.
 */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
