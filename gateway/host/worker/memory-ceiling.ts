/**
 * Bounds a module's linear memory in its binary. A module that defines its own memory (Go and
 * TinyGo modules do, and export it) can grow it to 4 GiB: a JS-side maximum binds only an
 * imported memory, and a worker's resourceLimits cover the JS heap, not wasm memory. So the
 * host rewrites the memory section to declare the ceiling as the memory's maximum: past it,
 * memory.grow returns -1 and the guest's runtime gives up (Go: "fatal error: out of memory",
 * then a trap) inside its own worker, instead of eating the machine.
 *
 * Binary format (WebAssembly spec 5.5.8 "Memory Section", 5.3.7 "Limits"): section id 5, its
 * byte size as LEB128 u32, a vector of memtypes; each memtype is a limits flag (0x00: min
 * only; 0x01: min and max; 0x02/0x03 the same for shared memories, threads proposal) then
 * min (and max) in 64 KiB pages as LEB128 u32. Changing max changes the section's size, so
 * its length is re-encoded; nothing else in the module refers to byte offsets.
 */
import { GatewayError } from '../../errors.ts';
import { WasmReader, encodeU32 } from '../wasm-binary.ts';

const PAGE_BYTES = 65536;
const MEMORY_SECTION = 5;

export interface MemoryCeilingResult {
  /** The module with its memory maximum set (the input itself when it had no memory section). */
  bytes: Uint8Array;
  /** Initial and maximum pages after the rewrite; undefined without a memory section. */
  minPages?: number;
  maxPages?: number;
}

/**
 * Sets every defined memory's maximum to at most `ceilingBytes` (rounded down to whole pages).
 * Refuses (GW_ERR_MODULE_MEMORY_LIMIT) a module whose initial memory is already over it, and
 * (GW_ERR_MODULE_INVALID) a memory kind it cannot bound (64-bit memories, custom page sizes).
 * Bytes that do not parse are returned unchanged: compiling them reports the real problem.
 */
export function withMemoryCeiling(bytes: Uint8Array, ceilingBytes: number, name: string): MemoryCeilingResult {
  const ceilingPages = Math.floor(ceilingBytes / PAGE_BYTES);
  if (ceilingPages < 1) throw new RangeError(`memory ceiling must be at least one 64 KiB page, got ${ceilingBytes} bytes`);
  const reader = new WasmReader(bytes);
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) return { bytes };
  reader.pos = 8;
  try {
    while (reader.pos < bytes.length) {
      const sectionStart = reader.pos;
      const id = reader.byte();
      const size = reader.u32();
      const contentStart = reader.pos;
      const contentEnd = contentStart + size;
      if (contentEnd > bytes.length) return { bytes };
      if (id !== MEMORY_SECTION) {
        reader.pos = contentEnd;
        continue;
      }
      const count = reader.u32();
      const out: number[] = [...encodeU32(count)];
      let minPages = 0;
      let maxPages = 0;
      for (let i = 0; i < count; i++) {
        const flags = reader.byte();
        if (flags > 0x03) {
          throw new GatewayError('GW_ERR_MODULE_INVALID', { sensor: name, detail: `memory ${i} has limits flags 0x${flags.toString(16)} (64-bit or custom page size): the host cannot bound it` });
        }
        const min = reader.u32();
        const declaredMax = flags & 0x01 ? reader.u32() : undefined;
        if (min > ceilingPages) {
          throw new GatewayError('GW_ERR_MODULE_MEMORY_LIMIT', {
            sensor: name,
            detail: `the module starts with ${mib(min)} MiB of memory, over its ceiling of ${mib(ceilingPages)} MiB`,
          });
        }
        const max = Math.min(declaredMax ?? ceilingPages, ceilingPages);
        out.push(flags | 0x01, ...encodeU32(min), ...encodeU32(max));
        minPages = min;
        maxPages = max;
      }
      if (reader.pos !== contentEnd) return { bytes };
      const content = Uint8Array.from(out);
      const header = Uint8Array.from([MEMORY_SECTION, ...encodeU32(content.length)]);
      const result = new Uint8Array(sectionStart + header.length + content.length + (bytes.length - contentEnd));
      result.set(bytes.subarray(0, sectionStart), 0);
      result.set(header, sectionStart);
      result.set(content, sectionStart + header.length);
      result.set(bytes.subarray(contentEnd), sectionStart + header.length + content.length);
      return { bytes: result, minPages, maxPages };
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    return { bytes }; // truncated or malformed: let the compiler say so
  }
  return { bytes };
}

/** Declared maximum of the module's first memory, in pages (undefined: none declared, or no memory). */
export function declaredMemoryMaxPages(bytes: Uint8Array): number | undefined {
  const reader = new WasmReader(bytes);
  reader.pos = 8;
  try {
    while (reader.pos < bytes.length) {
      const id = reader.byte();
      const size = reader.u32();
      if (id !== MEMORY_SECTION) {
        reader.pos += size;
        continue;
      }
      if (reader.u32() === 0) return undefined;
      const flags = reader.byte();
      reader.u32();
      return flags & 0x01 ? reader.u32() : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function mib(pages: number): string {
  return ((pages * PAGE_BYTES) / 2 ** 20).toFixed(1);
}
