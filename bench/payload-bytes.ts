/**
 * Payload bytes of a /temp response per content format, against the smallest valid encoding
 * of the same content, computed independently: for CBOR, Python's cbor2 re-encodes the
 * decoded payload in canonical form (RFC 8949 section 4.2: shortest heads, floats in the
 * shortest width that keeps the value); for JSON, Python re-serialises it without whitespace.
 * text/plain has no smaller form of the same text.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { generate, parse } from 'coap-packet';
import { ContentFormat } from '../gateway/coap/content-formats.ts';
import { READING_FORMATS } from '../gateway/coap/reading-formats.ts';

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

async function get(port: number, resource: string, accept: number): Promise<Buffer> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const messageId = Math.floor(Math.random() * 0x10000);
  const request = generate({
    confirmable: true,
    messageId,
    token: Buffer.from([1, 2, 3, 4]),
    code: '0.01',
    options: [
      { name: 'Uri-Path', value: Buffer.from(resource) },
      { name: 'Accept', value: accept === 0 ? Buffer.alloc(0) : Buffer.from([accept]) },
    ],
  });
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to GET /${resource} Accept ${accept}`)), 3000);
      socket.on('message', (m) => {
        const p = parse(m);
        if (p.messageId !== messageId) return;
        clearTimeout(timer);
        if (p.code !== '2.05') reject(new Error(`GET /${resource} Accept ${accept}: ${p.code}`));
        else resolve(p.payload);
      });
      socket.send(request, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}
