/**
 * Interrupt points: a module's binary is rewritten at load so that its code calls back into the
 * host every N loop iterations, and the host can end a runaway call by throwing from that
 * callback, without terminating the thread (several modules share one worker). A JS exception
 * thrown by an imported function unwinds every wasm frame between it and the JS caller of the
 * export (WebAssembly JS API, "create a host function": an abrupt completion is rethrown).
 *
 * Where the guest counts: structured control flow only branches backwards to a `loop` (Core
 * spec 2.0, 4.4.8 "br": a branch to a loop label continues at the loop's start), so a call that
 * runs forever enters some loop header forever, or calls forever. Ordinary calls grow the stack
 * and end in a stack-overflow RangeError; tail calls (return_call, return_call_indirect: the tail
 * call proposal) do not, so `(func $f return_call $f)` spins without a loop. Hence the points:
 * each loop header, and each tail call.
 *
 * What is added, append only, so no existing function, type, table, global or memory index moves
 * and the name section, element and data segments stay valid byte for byte:
 *   type    $void   [] -> []                             (end of the type section)
 *   global  $fuel   (mut i32) = 0x7fffffff, exported as __gw_fuel   (end of the global section)
 *   table   $tick   funcref 1..1, exported as __gw_tick  (end of the table section)
 * and, in every function body, right after each `loop`'s block type and right before each tail call:
 *   global.get $fuel  i32.const 1  i32.sub  global.set $fuel
 *   global.get $fuel  i32.const 0  i32.le_s
 *   if  i32.const 0  call_indirect (type $void) (table $tick)  end
 * `le_s` rather than `eqz`: a counter left at or below zero (the tick threw before the refill,
 * or the host zeroed it) ticks again at the next point instead of after 2^32 more.
 * Before armInterruptPoints the fuel is 2^31-1 and the slot is empty: a start function runs,
 * and a module nobody armed traps (call_indirect on a null element, 4.4.8) instead of spinning.
 */
import { SECTION_RANK, SectionId, WasmReader, encodeU32, hasWasmPreamble, u32Size, writeU32 } from './wasm-binary.ts';
import { type CodeScan, scanCode } from './wasm-code-scan.ts';

export const FUEL_EXPORT = '__gw_fuel';
export const TICK_EXPORT = '__gw_tick';

/** `loopHeaders` counts the loops instrumented; tail calls (Go's compiler emits none) get points too. */
export type InterruptPoints = { ok: true; bytes: Uint8Array; loopHeaders: number } | { ok: false; reason: string };

interface Section {
  id: number;
  /** Where its id byte is. */
  start: number;
  contentStart: number;
  end: number;
}

const FUNCREF = 0x70;
const I32 = 0x7f;
/** The fuel before arming, 2^31-1, as a signed LEB128 (5.2.2): see the comment at the top. */
const FUEL_START = [0xff, 0xff, 0xff, 0xff, 0x07];

/** Rewrites the binary; never throws for a valid module it cannot handle (ok:false, reason names what, e.g. "opcode 0xfd 0x0c (SIMD) at byte 1234 of the module (function 57)"). */
export function addInterruptPoints(bytes: Uint8Array): InterruptPoints {
  try {
    return instrument(bytes);
  } catch (err) {
    // Only a truncated or malformed binary gets here (WasmReader past the end, an over-long LEB128).
    return { ok: false, reason: `malformed module: ${(err as Error).message}` };
  }
}

function instrument(bytes: Uint8Array): InterruptPoints {
  if (!hasWasmPreamble(bytes)) return { ok: false, reason: 'not a WebAssembly core module, version 1' };
  const sections: Section[] = [];
  const byId = new Map<number, Section>();
  const r = new WasmReader(bytes);
  r.pos = 8;
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const section = { id, start, contentStart: r.pos, end: r.pos + size };
    if (section.end > bytes.length) return { ok: false, reason: `section ${id} runs past the end of the module` };
    if (id > SectionId.tag) return { ok: false, reason: `unknown section id ${id}` };
    if (id !== SectionId.custom) {
      if (byId.has(id)) return { ok: false, reason: `section ${id} appears twice` };
      byId.set(id, section);
    }
    sections.push(section);
    r.pos = section.end;
  }

  const types = countTypes(bytes, byId.get(SectionId.type));
  if (typeof types === 'string') return { ok: false, reason: types };
  const imported = countImports(bytes, byId.get(SectionId.import));
  if (typeof imported === 'string') return { ok: false, reason: imported };
  const exportClash = findExportClash(bytes, byId.get(SectionId.export));
  if (exportClash) return { ok: false, reason: exportClash };
  // The start function runs inside instantiation (Core spec 4.5.4 step 16), before the host can
  // arm the tick: nothing would stop a loop in it. (Go and TinyGo reactors have none: their
  // start-up is the `_initialize` export.)
  if (byId.has(SectionId.start)) return { ok: false, reason: 'it has a start function, which runs before interrupt points can be armed' };

  const code = byId.get(SectionId.code);
  let scan: CodeScan | undefined;
  if (code) {
    const result = scanCode(bytes, code.contentStart, code.end, imported.functions);
    if (!result.ok) return result;
    scan = result.scan;
  }

  // Indices of what is appended (spec 2.5.1: imports come first in each index space).
  const voidType = types;
  const fuel = imported.globals + vectorCount(bytes, byId.get(SectionId.global));
  const tickTable = imported.tables + vectorCount(bytes, byId.get(SectionId.table));
  const replaced = new Map<number, Uint8Array | CodeRewrite>([
    [SectionId.type, appendEntries(bytes, SectionId.type, byId.get(SectionId.type), 1, [0x60, 0x00, 0x00])],
    [SectionId.table, appendEntries(bytes, SectionId.table, byId.get(SectionId.table), 1, [FUNCREF, 0x01, 0x01, 0x01])],
    // globaltype (i32, var), then the constant expression `i32.const FUEL_START end` (5.5.9).
    [SectionId.global, appendEntries(bytes, SectionId.global, byId.get(SectionId.global), 1, [I32, 0x01, 0x41, ...FUEL_START, 0x0b])],
    [SectionId.export, appendEntries(bytes, SectionId.export, byId.get(SectionId.export), 2, [
      ...exportEntry(FUEL_EXPORT, 0x03, fuel),
      ...exportEntry(TICK_EXPORT, 0x01, tickTable),
    ])],
  ]);
  if (code && scan) replaced.set(SectionId.code, new CodeRewrite(bytes, scan, interruptSnippet(fuel, voidType, tickTable)));

  // Sections this module lacks are created where the order of 5.5.16 puts them.
  const pieces: Array<Uint8Array | CodeRewrite> = [bytes.subarray(0, 8)];
  const missing = [...replaced.keys()].filter((id) => !byId.has(id)).sort((a, b) => SECTION_RANK[a]! - SECTION_RANK[b]!);
  for (const s of sections) {
    if (s.id !== SectionId.custom) {
      while (missing.length > 0 && SECTION_RANK[missing[0]!]! < SECTION_RANK[s.id]!) pieces.push(replaced.get(missing.shift()!)!);
    }
    pieces.push(replaced.get(s.id) ?? bytes.subarray(s.start, s.end));
  }
  for (const id of missing) pieces.push(replaced.get(id)!);

  const out = new Uint8Array(pieces.reduce((n, p) => n + (p instanceof Uint8Array ? p.length : p.size), 0));
  let at = 0;
  for (const p of pieces) {
    if (p instanceof Uint8Array) {
      out.set(p, at);
      at += p.length;
    } else {
      at = p.writeTo(out, at);
    }
  }
  return { ok: true, bytes: out, loopHeaders: scan?.loops ?? 0 };
}

/** The instructions put at each interrupt point (see the comment at the top). Stack-neutral, so
 * they fit anywhere an instruction may stand, also before a tail call's arguments are consumed. */
function interruptSnippet(fuel: number, voidType: number, tickTable: number): Uint8Array {
  const g = encodeU32(fuel);
  return Uint8Array.from([
    0x23, ...g, //                     global.get $fuel
    0x41, 0x01, //                     i32.const 1
    0x6b, //                           i32.sub
    0x24, ...g, //                     global.set $fuel
    0x23, ...g, //                     global.get $fuel
    0x41, 0x00, //                     i32.const 0
    0x4c, //                           i32.le_s
    0x04, 0x40, //                     if (empty block type)
    0x41, 0x00, //                       i32.const 0  (slot 0 of $tick)
    0x11, ...encodeU32(voidType), ...encodeU32(tickTable), // call_indirect (type $void) (table $tick)
    0x0b, //                           end
  ]);
}

/**
 * The code section with the snippet inserted at each interrupt point. Every body's size prefix
 * and the section's size are recomputed (5.5.13); a body without points keeps its bytes, its
 * size prefix re-encoded in the shortest form.
 */
class CodeRewrite {
  readonly size: number;
  readonly #contentSize: number;

  constructor(readonly bytes: Uint8Array, readonly scan: CodeScan, readonly snippet: Uint8Array) {
    const { bodyStart, bodyEnd, pointsPerBody } = scan;
    let content = u32Size(bodyStart.length);
    for (let i = 0; i < bodyStart.length; i++) {
      const size = bodyEnd[i]! - bodyStart[i]! + pointsPerBody[i]! * snippet.length;
      content += u32Size(size) + size;
    }
    this.#contentSize = content;
    this.size = 1 + u32Size(content) + content;
  }

  writeTo(out: Uint8Array, at: number): number {
    const { bytes, snippet } = this;
    const { bodyStart, bodyEnd, pointsPerBody, pointAt } = this.scan;
    out[at++] = SectionId.code;
    at = writeU32(out, at, this.#contentSize);
    at = writeU32(out, at, bodyStart.length);
    let point = 0;
    for (let i = 0; i < bodyStart.length; i++) {
      const end = bodyEnd[i]!;
      const points = pointsPerBody[i]!;
      let from = bodyStart[i]!;
      at = writeU32(out, at, end - from + points * snippet.length);
      for (let j = 0; j < points; j++) {
        const to = pointAt[point++]!;
        out.set(bytes.subarray(from, to), at);
        at += to - from;
        out.set(snippet, at);
        at += snippet.length;
        from = to;
      }
      out.set(bytes.subarray(from, end), at);
      at += end - from;
    }
    return at;
  }
}

/** A section whose vector has `added` more entries at its end (a new section when there was none). */
function appendEntries(bytes: Uint8Array, id: number, section: Section | undefined, added: number, entry: number[]): Uint8Array {
  let count = 0;
  let rest: Uint8Array = new Uint8Array(0);
  if (section) {
    const r = new WasmReader(bytes);
    r.pos = section.contentStart;
    count = r.u32();
    rest = bytes.subarray(r.pos, section.end);
  }
  const countBytes = encodeU32(count + added);
  const head = [id, ...encodeU32(countBytes.length + rest.length + entry.length), ...countBytes];
  const out = new Uint8Array(head.length + rest.length + entry.length);
  out.set(head, 0);
  out.set(rest, head.length);
  out.set(entry, head.length + rest.length);
  return out;
}

function exportEntry(name: string, kind: number, index: number): number[] {
  const utf8 = new TextEncoder().encode(name);
  return [...encodeU32(utf8.length), ...utf8, kind, ...encodeU32(index)];
}

function vectorCount(bytes: Uint8Array, section: Section | undefined): number {
  if (!section) return 0;
  const r = new WasmReader(bytes);
  r.pos = section.contentStart;
  return r.u32();
}

/**
 * Number of types, or why they cannot be counted: the new type's index is that number only when
 * every entry is a plain function type (5.5.4); GC's recursion groups hold several types each.
 */
function countTypes(bytes: Uint8Array, section: Section | undefined): number | string {
  if (!section) return 0;
  const r = new WasmReader(bytes);
  r.pos = section.contentStart;
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const form = r.byte();
    if (form !== 0x60) return `type ${i} has form 0x${form.toString(16)} (GC types), not a function type`;
    for (let vec = 0; vec < 2; vec++) {
      for (let n = r.u32(); n > 0; n--) {
        const t = r.byte();
        if (t === 0x63 || t === 0x64) return `type ${i} uses a GC reference type`;
      }
    }
  }
  return count;
}

/** Imported functions, tables and globals: they come first in their index spaces (2.5.1). */
function countImports(bytes: Uint8Array, section: Section | undefined): { functions: number; tables: number; globals: number } | string {
  const counts = { functions: 0, tables: 0, globals: 0 };
  if (!section) return counts;
  const r = new WasmReader(bytes);
  r.pos = section.contentStart;
  for (let n = r.u32(); n > 0; n--) {
    r.name(); // module
    r.name(); // field
    const kind = r.byte();
    if (kind === 0x00) {
      counts.functions++;
      r.u32();
    } else if (kind === 0x01) {
      counts.tables++;
      const reftype = r.byte();
      if (reftype !== FUNCREF && reftype !== 0x6f) return `imported table of type 0x${reftype.toString(16)} (GC reference types)`;
      r.limits();
    } else if (kind === 0x02) {
      r.limits();
    } else if (kind === 0x03) {
      counts.globals++;
      const valtype = r.byte();
      if (valtype === 0x63 || valtype === 0x64) return 'imported global of a GC reference type';
      r.byte();
    } else if (kind === 0x04) {
      r.byte(); // tag attribute (exception handling)
      r.u32();
    } else {
      return `import of unknown kind 0x${kind.toString(16)}`;
    }
  }
  return counts;
}

/** Why the module cannot take the two exports: it has one of those names already. */
function findExportClash(bytes: Uint8Array, section: Section | undefined): string | undefined {
  if (!section) return undefined;
  const r = new WasmReader(bytes);
  r.pos = section.contentStart;
  for (let n = r.u32(); n > 0; n--) {
    const name = r.name();
    r.byte();
    r.u32();
    if (name === FUEL_EXPORT || name === TICK_EXPORT) return `the module already exports "${name}" (instrumented twice?)`;
  }
  return undefined;
}

// ---- arming an instance ------------------------------------------------------------------------

/**
 * (module (import "h" "tick" (func)) (export "tick" (func 0))): re-exports a JS function as a
 * WebAssembly function. A funcref table accepts only those (JS API 2.0, ToWebAssemblyValue:
 * funcref must be null or an Exported Function), and Node 20 has no WebAssembly.Function.
 */
const TICK_HELPER = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, //             type section, 4 bytes: 1 type, func [] -> []
  0x02, 0x0a, 0x01, //                               import section, 10 bytes: 1 import
  0x01, 0x68, 0x04, 0x74, 0x69, 0x63, 0x6b, //         "h" "tick"
  0x00, 0x00, //                                       func of type 0
  0x07, 0x08, 0x01, //                               export section, 8 bytes: 1 export
  0x04, 0x74, 0x69, 0x63, 0x6b, 0x00, 0x00, //         "tick", func 0
]);
let tickHelper: WebAssembly.Module | undefined;

/** Whether a compiled module came from addInterruptPoints' bytes (then its instances must be armed). */
export function hasInterruptPoints(module: WebAssembly.Module): boolean {
  const exports = WebAssembly.Module.exports(module);
  return exports.some((e) => e.name === FUEL_EXPORT && e.kind === 'global') && exports.some((e) => e.name === TICK_EXPORT && e.kind === 'table');
}

/**
 * Wires an instance made from addInterruptPoints' bytes: from now on the guest calls `tick()`
 * synchronously once every `everyLoops` loop-header entries (counting all loops of the instance
 * together, and tail calls as entries too). If tick throws, the exception propagates out of whatever export call is running.
 * Fuel is refilled to everyLoops after each tick returns. Also returns a function to refill the
 * counter (so the host can start each export call with a full slice).
 */
export function armInterruptPoints(instance: WebAssembly.Instance, tick: () => void, everyLoops: number): { refill(): void } {
  // The counter is a signed i32 compared with `le_s 0`: 1 .. 2^31-1.
  if (!Number.isInteger(everyLoops) || everyLoops < 1 || everyLoops > 0x7fffffff) {
    throw new RangeError(`everyLoops must be an integer from 1 to 2^31-1, got ${everyLoops}`);
  }
  const fuel = instance.exports[FUEL_EXPORT];
  const table = instance.exports[TICK_EXPORT];
  if (!(fuel instanceof WebAssembly.Global) || !(table instanceof WebAssembly.Table)) {
    throw new TypeError(`the instance exports no ${FUEL_EXPORT} global and ${TICK_EXPORT} table: make its module from addInterruptPoints' bytes`);
  }
  const refill = (): void => {
    fuel.value = everyLoops;
  };
  tickHelper ??= new WebAssembly.Module(TICK_HELPER);
  const helper = new WebAssembly.Instance(tickHelper, {
    h: {
      tick: () => {
        tick();
        refill();
      },
    },
  });
  table.set(0, helper.exports['tick']);
  refill();
  return { refill };
}
