/**
 * Payload bytes of a /temp response per content format, against the smallest valid encoding
 * of the same content, computed independently: for CBOR, Python's cbor2 re-encodes the
 * decoded payload in canonical form (RFC 8949 section 4.2: shortest heads, floats in the
 * shortest width that keeps the value); for JSON, Python re-serialises it without whitespace.
 * text/plain has no smaller form of the same text.
 */
import { execFileSync } from 'node:child_process';
import { ContentFormat } from '../gateway/coap/content-formats.ts';
import { READING_FORMATS } from '../gateway/coap/reading-formats.ts';
import { RawClient, pathOptions, requestDatagram, uint } from '../test/helpers/coap-datagram.ts';

export interface PayloadBytes {
  format: number;
  name: string;
  bytes: number;
  /** The smallest valid encoding of the same content, or null where none was computed. */
  smallest: number | null;
}

const NAMES: Record<number, string> = {
  [ContentFormat.CBOR]: 'application/cbor',
  [ContentFormat.SENML_CBOR]: 'application/senml+cbor',
  [ContentFormat.SENML_JSON]: 'application/senml+json',
  [ContentFormat.JSON]: 'application/json',
  [ContentFormat.TEXT]: 'text/plain',
};

const REFERENCE = `
import sys, json
try:
    import cbor2
except ImportError:
    cbor2 = None
out = []
for item in json.load(sys.stdin):
    data = bytes.fromhex(item["hex"])
    kind = item["kind"]
    if kind == "cbor":
        out.append(len(cbor2.dumps(cbor2.loads(data), canonical=True)) if cbor2 else None)
    elif kind == "json":
        out.append(len(json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()))
    else:
        out.append(None)
print(json.dumps(out))
`;

export async function measurePayloadBytes(port: number, resource = 'temp'): Promise<PayloadBytes[]> {
  const payloads: Array<{ format: number; payload: Buffer }> = [];
  for (const format of READING_FORMATS) payloads.push({ format, payload: await get(port, resource, format) });
  const kinds = payloads.map(({ format, payload }) => ({
    hex: payload.toString('hex'),
    kind: format === ContentFormat.CBOR || format === ContentFormat.SENML_CBOR ? 'cbor' : format === ContentFormat.TEXT ? 'text' : 'json',
  }));
  let smallest: Array<number | null>;
  try {
    smallest = JSON.parse(execFileSync('python3', ['-c', REFERENCE], { input: JSON.stringify(kinds) }).toString()) as Array<number | null>;
  } catch {
    smallest = kinds.map(() => null);
  }
  return payloads.map(({ format, payload }, i) => ({ format, name: NAMES[format]!, bytes: payload.length, smallest: smallest[i] ?? null }));
}

/** One CON GET with Accept, over a real socket, with the tests' raw client. */
async function get(port: number, resource: string, accept: number): Promise<Buffer> {
  const client = await RawClient.open('127.0.0.1', port);
  try {
    const res = await client.exchange(requestDatagram({ options: [...pathOptions(`/${resource}`), { name: 'Accept', value: uint(accept) }] }), 3000);
    if (res?.code !== '2.05') throw new Error(`GET /${resource} Accept ${accept}: ${res?.code ?? 'no answer'}`);
    return res.packet.payload;
  } finally {
    await client.close();
  }
}
