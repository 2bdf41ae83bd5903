/**
 * A string built by concatenation (`${address}|${port}|${id}`) is, in V8, a tree of "cons
 * strings" (32 bytes per join, each part kept as its own string) until something reads its
 * characters. A key that lives long (a registration, a Message ID route, an exchange: thousands
 * of each, up to 247 s) is flattened when made: one sequential string of about 16 + length
 * bytes instead of a tree three or four times that (8,192 observers held about 7 MB of such
 * trees). Reading one character is what flattens it: V8 copies a cons string into one piece
 * before indexing it.
 */
export function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * The heap bytes of a flat one-byte string of this length (V8, 64-bit: a 16-byte header, the
 * characters, rounded up to 8), for byte budgets. A two-byte string is at most twice that; the
 * keys counted here are ASCII.
 */
export function stringBytes(length: number): number {
  return 16 + Math.ceil(length / 8) * 8;
}
