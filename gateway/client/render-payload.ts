/**
 * Turns a response payload into text for a terminal: JSON for the CBOR formats (CBOR, CBOR
 * sequences, SenML-CBOR and SensML-CBOR), the text itself for textual formats, and a hex dump
 * for anything that is not UTF-8.
 */
import { Decoder, Tag } from 'cbor-x';
import { senmlLabel } from './senml-labels.ts';

// Maps stay Maps: SenML-CBOR keys are integers, and cbor-x would otherwise stringify them.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);

const CBOR = 60;
const CBOR_SEQ = 63;
const SENML_CBOR = 112;
const SENSML_CBOR = 113;

export interface RenderedPayload {
  text: string;
  /** Set when the payload could not be shown as its Content-Format says (e.g. malformed CBOR). */
  problem?: string;
}

export function renderPayload(payload: Buffer, contentFormat: number | undefined): RenderedPayload {
  if (payload.length === 0) return { text: '' };
  try {
    switch (contentFormat) {
      case CBOR:
        return { text: JSON.stringify(toJson(decoder.decode(payload), false)) };
      case SENML_CBOR:
      case SENSML_CBOR:
        return { text: JSON.stringify(toJson(decoder.decode(payload), true)) };
      case CBOR_SEQ:
        // RFC 8742: concatenated data items; one JSON text per line.
        return { text: (decoder.decodeMultiple(payload) as unknown[]).map((v) => JSON.stringify(toJson(v, false))).join('\n') };
    }
  } catch (err) {
    return { text: hexDump(payload), problem: `payload is not valid CBOR (${(err as Error).message}); shown as hex` };
  }
  const text = utf8(payload);
  if (text === undefined) return { text: hexDump(payload), problem: 'payload is not UTF-8 text; shown as hex' };
  return { text };
}

/** CBOR to JSON following RFC 8949 section 6.1, except that dates stay readable. */
export function toJson(value: unknown, senml: boolean): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  // Byte strings become base64url (section 6.1), which is also how SenML-JSON writes vd (RFC 8428 section 4.3).
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url');
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Tag) return toJson(value.value, senml);
  if (Array.isArray(value)) return value.map((v) => toJson(v, senml));
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[senml ? senmlLabel(k) : typeof k === 'string' ? k : JSON.stringify(toJson(k, false))] = toJson(v, senml);
    return out;
  }
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v, senml)]));
  }
  return String(value);
}

function utf8(payload: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return undefined;
  }
}

function hexDump(payload: Buffer): string {
  return payload.toString('hex').replace(/(..)(?!$)/g, '$1 ');
}
