/**
 * The pieces of the WebAssembly binary format that every reader and rewriter of module bytes in
 * the host needs: LEB128 integers and a cursor over the bytes (WebAssembly Core Specification
 * 2.0, section 5.2.2 "Integers", 5.2.4 "Names"), and the section ids and their required order
 * (section 5.5.2 "Sections", 5.5.16 "Modules"). Used by wasm-signatures.ts,
 * worker/memory-ceiling.ts and interrupt-points.ts, so the three agree on what a u32 is.
 */

/** Section ids (spec 5.5.2). 12 is "data count" (bulk memory), 13 "tag" (exception handling). */
export const SectionId = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

/**
 * Where each non-custom section must stand (spec 5.5.16: type, import, function, table, memory,
 * global, export, start, element, data count, code, data; the exception-handling proposal puts
 * tag between memory and global). Index by section id; larger means later.
 */
export const SECTION_RANK: readonly number[] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6];

/** The 8-byte preamble of a core module, version 1 (spec 5.5.16). */
export function hasWasmPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d &&
    bytes[4] === 0x01 && bytes[5] === 0x00 && bytes[6] === 0x00 && bytes[7] === 0x00;
}

/** A cursor over module bytes. Every read past the end, or of an over-long u32, throws a RangeError. */
export class WasmReader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.bytes.length) throw new RangeError('unexpected end of module');
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128, at most 5 bytes (spec 5.2.2: ceil(32 / 7)). */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new RangeError('LEB128 u32 out of range');
        return result;
      }
    }
    throw new RangeError('LEB128 u32 too long');
  }

  /** A name: its byte length as u32, then UTF-8 (spec 5.2.4). */
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.bytes.length) throw new RangeError('unexpected end of module');
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  /** Skips limits: a flags byte, min, and max when flag bit 0 is set (spec 5.3.7). */
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/** Unsigned LEB128 (spec 5.2.2), shortest form. */
export function encodeU32(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** Bytes the shortest unsigned LEB128 of `value` takes. */
export function u32Size(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Writes the shortest unsigned LEB128 of `value` at `pos`; returns the position after it. */
export function writeU32(out: Uint8Array, pos: number, value: number): number {
  let v = value >>> 0;
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}
