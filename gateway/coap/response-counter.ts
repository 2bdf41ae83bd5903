/**
 * Counts what the server sends, by response code, for GET /gw/stats:
 * - `requests`: one per request answered: by a resource, refused on its options (4.02, 4.15,
 *   4.00, 5.05) or by the Observe layer (registration responses and refusals). A duplicate CON
 *   answered with the reply already sent is the same exchange and not counted again. RSTs and
 *   empty ACKs are not responses and are not counted.
 * - `notifications`: one per notification built (RFC 7641), not per retransmission.
 */
export type CountKind = 'requests' | 'notifications';

export class ResponseCounter {
  readonly #counts: Record<CountKind, Map<string, number>> = { requests: new Map(), notifications: new Map() };

  count(kind: CountKind, code: string): void {
    const m = this.#counts[kind];
    m.set(code, (m.get(code) ?? 0) + 1);
  }

  /** Codes in ascending order, e.g. {"2.05": 10, "4.04": 1}. */
  snapshot(kind: CountKind): Record<string, number> {
    return Object.fromEntries([...this.#counts[kind]].sort(([a], [b]) => a.localeCompare(b)));
  }
}
