/**
 * Reads function signatures of imports and exports from a module's binary. The JS API
 * (WebAssembly.Module.imports/exports) gives names and kinds but no types, and a guest that
 * imports `gw.i2c_read_reg` with the wrong arity would silently receive zeros for missing
 * arguments. Only the type, import, function and export sections are read
 * (WebAssembly Core Specification 2.0, section 5.5 "Modules").
 */
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

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  u8(): number {
    if (this.pos >= this.bytes.length) throw new Error('unexpected end of module');
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('LEB128 too long');
    }
  }
  name(): string {
    const len = this.u32();
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  limits(): void {
    const flags = this.u8();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/** Returns undefined when the binary uses type forms this reader does not know (then skip checks). */
export function readSignatures(bytes: Uint8Array): ModuleSignatures | undefined {
  const r = new Reader(bytes);
  r.pos = 8; // magic + version, already validated by WebAssembly.Module
  const types: Signature[] = [];
  const funcTypes: number[] = []; // type index per function index (imports first)
  const imports = new Map<string, Signature>();
  const exports = new Map<string, Signature>();
  try {
    while (r.pos < bytes.length) {
      const id = r.u8();
      const size = r.u32();
      const end = r.pos + size;
      if (id === 1) {
        for (let n = r.u32(); n > 0; n--) {
          if (r.u8() !== 0x60) return undefined; // GC / rec types: not used by Go or TinyGo
          const params = Array.from({ length: r.u32() }, () => VALTYPES[r.u8()] ?? 'externref');
          const results = Array.from({ length: r.u32() }, () => VALTYPES[r.u8()] ?? 'externref');
          types.push({ params, results });
        }
      } else if (id === 2) {
        for (let n = r.u32(); n > 0; n--) {
          const mod = r.name();
          const field = r.name();
          const kind = r.u8();
          if (kind === 0x00) {
            const t = r.u32();
            funcTypes.push(t);
            const sig = types[t];
            if (sig) imports.set(`${mod}.${field}`, sig);
          } else if (kind === 0x01) {
            r.u8();
            r.limits();
          } else if (kind === 0x02) {
            r.limits();
          } else if (kind === 0x03) {
            r.u8();
            r.u8();
          } else if (kind === 0x04) {
            r.u8();
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
          const kind = r.u8();
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
