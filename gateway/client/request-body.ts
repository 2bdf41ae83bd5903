/**
 * `--payload '<json>'`: the body a person types as JSON, sent as CBOR (Content-Format 60), the
 * format the gateway takes its FETCH/POST parameters in.
 */
import { Encoder } from 'cbor-x';
import { UsageError } from '../cli/args.ts';

// variableMapSize: shortest map heads (RFC 8949 section 4.2.1, preferred serialization); cbor-x
// otherwise writes a one-entry map with a 3-byte head. useRecords: false keeps cbor-x's record
// extension (tag 105) out of what goes to other implementations.
const encoder = new Encoder({ useRecords: false, variableMapSize: true } as ConstructorParameters<typeof Encoder>[0]);

export const CBOR_CONTENT_FORMAT = 60;

export function encodeJsonPayload(text: string): Buffer {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--payload must be JSON (it is sent as CBOR): ${(err as Error).message}`);
  }
  return Buffer.from(encoder.encode(value));
}
