/**
 * SenML CBOR labels (RFC 8428 section 6, table 4): SenML-CBOR uses these integers where
 * SenML-JSON uses names, so that a record costs fewer bytes on a constrained link. The client
 * shows SenML-CBOR with the names, so that it reads like SenML-JSON.
 */
export const SENML_LABELS: ReadonlyMap<number, string> = new Map([
  [-1, 'bver'],
  [-2, 'bn'],
  [-3, 'bt'],
  [-4, 'bu'],
  [-5, 'bv'],
  [-6, 'bs'],
  [0, 'n'],
  [1, 'u'],
  [2, 'v'],
  [3, 'vs'],
  [4, 'vb'],
  [5, 's'],
  [6, 't'],
  [7, 'ut'],
  [8, 'vd'],
]);

/** A record key as SenML-JSON writes it; unknown integer labels keep their number. */
export function senmlLabel(key: unknown): string {
  if (typeof key === 'number') return SENML_LABELS.get(key) ?? String(key);
  return String(key);
}
