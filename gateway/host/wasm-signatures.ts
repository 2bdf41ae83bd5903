/**
 * Reads function signatures of imports and exports from a module's binary. The JS API
 * (WebAssembly.Module.imports/exports) gives names and kinds but no types, and a guest that
 * imports `gw.i2c_read_reg` with the wrong arity would silently receive zeros for missing
 * arguments. Only the type, import, function and export sections are read
 * (WebAssembly Core Specification 2.0, section 5.5 "Modules").
 */
import { WasmReader } from './wasm-binary.ts';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface Signature {
  params: ValType[];
  results: ValType[];
}

export interface ModuleSignatures {
  imports: Map<string, Signature>; // key "module.name", functions only
  exports: Map<string, Signature>; // functions only
}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref',
};

/** Returns undefined when the binary uses type forms this reader does not know (then skip checks). */
export function readSignatures(bytes: Uint8Array): ModuleSignatures | undefined {
  const r = new WasmReader(bytes);
  r.pos = 8; // magic + version, already validated by WebAssembly.Module
  const types: Signature[] = [];
  const funcTypes: number[] = []; // type index per function index (imports first)
  const imports = new Map<string, Signature>();
  const exports = new Map<string, Signature>();
  try {
    while (r.pos < bytes.length) {
      const id = r.byte();
      const size = r.u32();
      const end = r.pos + size;
      if (id === 1) {
        for (let n = r.u32(); n > 0; n--) {
          if (r.byte() !== 0x60) return undefined; // GC / rec types: not used by Go or TinyGo
          const params = Array.from({ length: r.u32() }, () => VALTYPES[r.byte()] ?? 'externref');
          const results = Array.from({ length: r.u32() }, () => VALTYPES[r.byte()] ?? 'externref');
          types.push({ params, results });
        }
      } else if (id === 2) {
        for (let n = r.u32(); n > 0; n--) {
          const mod = r.name();
          const field = r.name();
          const kind = r.byte();
          if (kind === 0x00) {
            const t = r.u32();
            funcTypes.push(t);
            const sig = types[t];
            if (sig) imports.set(`${mod}.${field}`, sig);
          } else if (kind === 0x01) {
            r.byte();
            r.limits();
          } else if (kind === 0x02) {
            r.limits();
          } else if (kind === 0x03) {
            r.byte();
            r.byte();
          } else if (kind === 0x04) {
            r.byte();
            r.u32();
          } else {
            return undefined;
          }
        }
      } else if (id === 3) {
        for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
      } else if (id === 7) {
        for (let n = r.u32(); n > 0; n--) {
          const name = r.name();
          const kind = r.byte();
          const index = r.u32();
          if (kind === 0x00) {
            const sig = types[funcTypes[index] ?? -1];
            if (sig) exports.set(name, sig);
          }
        }
      }
      r.pos = end;
    }
  } catch {
    return undefined;
  }
  return { imports, exports };
}

export function formatSignature(sig: Signature): string {
  return `(${sig.params.join(', ')}) -> (${sig.results.join(', ')})`;
}

export function sameSignature(a: Signature, b: Signature): boolean {
  return formatSignature(a) === formatSignature(b);
}
