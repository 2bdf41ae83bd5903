/**
 * Finds where a code section needs interrupt points (interrupt-points.ts) by decoding each function
 * body, instruction by instruction (WebAssembly Core Specification 2.0, section 5.4
 * "Instructions", 5.5.13 "Code Section"): just after each `loop`'s block type, and just before each
 * tail call. An opcode's immediates have no length prefix, so the only way to find where the next
 * instruction starts is to know every opcode the decoder may meet: an opcode it does not know
 * makes the scan refuse the module rather than guess.
 *
 * Decoded: MVP (5.4), sign extension (0xC0-0xC4), 0xFC 0-7 (saturating truncation) and 8-17
 * (bulk memory, table operations), reference types (ref.null/is_null/func, table.get/set, typed
 * select), tail calls (return_call, return_call_indirect), multi-value block types (s33 type
 * index). Refused, with a reason: SIMD (0xFD), threads (0xFE), GC (0xFB), exception handling,
 * typed function references, and memory indices other than 0 (multi-memory).
 *
 * This runs on the gateway's main thread over megabytes of Go code, so it is one loop over the
 * bytes with a 256-entry table of immediate kinds and no object per instruction. Skipping a
 * LEB128 needs no value: its last byte is the first one with bit 7 clear (5.2.2).
 */

export interface CodeScan {
  /** Per function body: where its locals start (after the size prefix), and its end. */
  bodyStart: Uint32Array;
  bodyEnd: Uint32Array;
  /** Per function body: how many interrupt points it needs. */
  pointsPerBody: Uint32Array;
  /**
   * Module offsets where an interrupt point goes, in byte order (the first `points` entries):
   * after a loop's block type (the loop body's first instruction), or at a tail call's opcode.
   */
  pointAt: Uint32Array;
  points: number;
  /** How many of the points are loop headers; the rest are tail calls. */
  loops: number;
}

export type CodeScanResult = { ok: true; scan: CodeScan } | { ok: false; reason: string };

/**
 * What follows an opcode. A const enum, so that the compiled switch has literal case labels (a
 * jump table even before V8 optimises the function). Refuse is 0, the table's default: unknown
 * opcodes are never skipped.
 */
const enum Imm {
  Refuse,
  None,
  Leb, // one u32 / s32 / s64 / heap type
  Leb2, // two of them (call_indirect: type, table)
  Block, // block type
  Loop, // block type; a point after it
  TailCall, // return_call funcidx; a point before it
  TailCallIndirect, // return_call_indirect typeidx tableidx; a point before it
  Memarg, // align, offset (5.4.7)
  BrTable, // vec(labelidx) labelidx
  Skip4, // f32.const
  Skip8, // f64.const
  SelectT, // vec(valtype)
  MemIdx, // memory.size / memory.grow: a 0x00 byte before multi-memory
  PrefixFC,
}

const KIND = new Uint8Array(256);
function kinds(kind: Imm, ...ops: number[]): void {
  for (const op of ops) KIND[op] = kind;
}
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
// 5.4.1 control, 5.4.2 reference, 5.4.3 parametric, 5.4.4 variable, 5.4.5 table, 5.4.6 memory, 5.4.7 numeric.
kinds(Imm.None, 0x00, 0x01, 0x05, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1, ...range(0x45, 0xc4));
kinds(Imm.Block, 0x02, 0x04);
kinds(Imm.Loop, 0x03);
kinds(Imm.Leb, 0x0c, 0x0d, 0x10, ...range(0x20, 0x26), 0x41, 0x42, 0xd0, 0xd2);
kinds(Imm.Leb2, 0x11);
kinds(Imm.TailCall, 0x12);
kinds(Imm.TailCallIndirect, 0x13);
kinds(Imm.BrTable, 0x0e);
kinds(Imm.SelectT, 0x1c);
kinds(Imm.Memarg, ...range(0x28, 0x3e));
kinds(Imm.MemIdx, 0x3f, 0x40);
kinds(Imm.Skip4, 0x43);
kinds(Imm.Skip8, 0x44);
kinds(Imm.PrefixFC, 0xfc);

/** Value types that are one byte (5.3.1-5.3.3): numbers, v128, funcref, externref. */
const VALTYPE = new Uint8Array(256);
for (const t of [0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]) VALTYPE[t] = 1;

/** Why an opcode the table marks Imm.Refuse is refused. */
function feature(op: number): string {
  if (op === 0xfd) return 'SIMD';
  if (op === 0xfe) return 'threads/atomics';
  if (op === 0xfb || op === 0xd5) return 'GC';
  if ((op >= 0x06 && op <= 0x0a) || op === 0x18 || op === 0x19 || op === 0x1f) return 'exception handling';
  if (op === 0x14 || op === 0x15 || (op >= 0xd3 && op <= 0xd6)) return 'typed function references';
  return 'unknown opcode';
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

function refusal(what: string, at: number, func: number): CodeScanResult {
  return { ok: false, reason: `${what} at byte ${at} of the module (function ${func})` };
}

/** What the decoder carries besides the bytes and the position: one object per scan, none per instruction. */
class ScanState {
  pointAt = new Uint32Array(1024);
  points = 0;
  loops = 0;
  /** Where the LEB128 that readU32 read last ends. */
  next = 0;
  /** Why scanInstructions refused, and the byte it refused at. */
  what = '';
  at = 0;

  point(pos: number): void {
    if (this.points === this.pointAt.length) {
      const grown = new Uint32Array(this.points * 2);
      grown.set(this.pointAt);
      this.pointAt = grown;
    }
    this.pointAt[this.points++] = pos;
  }

  refuse(what: string, at: number): number {
    this.what = what;
    this.at = at;
    return -1;
  }
}

/** A LEB128 u32 whose value is needed (most immediates are only skipped); its end goes to s.next. */
function readU32(bytes: Uint8Array, pos: number, s: ScanState): number {
  let result = 0;
  let shift = 0;
  let b: number;
  do {
    b = bytes[pos++] ?? 0;
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && shift < 35);
  s.next = pos;
  return result;
}

/**
 * Scans the code section whose content (after its size) is bytes[start, end). Function indices in
 * reasons count the module's imported functions first (`importedFunctions`), as the spec does.
 */
export function scanCode(bytes: Uint8Array, start: number, end: number, importedFunctions: number): CodeScanResult {
  const s = new ScanState();
  const count = readU32(bytes, start, s);
  let pos = s.next;
  const bodyStart = new Uint32Array(count);
  const bodyEnd = new Uint32Array(count);
  const pointsPerBody = new Uint32Array(count);

  for (let func = 0; func < count; func++) {
    const fn = importedFunctions + func; // function index, imports first (spec 2.5.1), for reasons
    const size = readU32(bytes, pos, s);
    const stop = s.next + size;
    if (stop > end) return refusal('function body past the end of the code section', pos, fn);
    pos = bodyStart[func] = s.next;
    bodyEnd[func] = stop;
    const pointsBefore = s.points;

    // Locals (5.5.13): vec((n: u32, valtype)).
    const groups = readU32(bytes, pos, s);
    pos = s.next;
    for (let g = 0; g < groups; g++) {
      readU32(bytes, pos, s);
      pos = s.next;
      if (!VALTYPE[bytes[pos]!]) return refusal(`local type ${hex(bytes[pos] ?? 0)}`, pos, fn);
      if (++pos > stop) return refusal('locals past the end of the body', bodyStart[func]!, fn);
    }

    pos = scanInstructions(bytes, pos, stop, s);
    if (pos < 0) return refusal(s.what, s.at, fn);
    // A body ends with `end` (5.4.9 "Expressions") exactly at its declared size.
    if (pos !== stop || bytes[stop - 1] !== 0x0b) return refusal('function body that does not end where its size says', bodyStart[func]!, fn);
    pointsPerBody[func] = s.points - pointsBefore;
  }
  if (pos !== end) return { ok: false, reason: `code section has ${end - pos} bytes after its last function body` };
  return { ok: true, scan: { bodyStart, bodyEnd, pointsPerBody, pointAt: s.pointAt, points: s.points, loops: s.loops } };
}

/**
 * Decodes the instructions in bytes[pos, stop) and records their interrupt points; returns where it
 * stopped (stop, for a well-formed body), or -1 with the reason in `s`. A function of its own,
 * and small, so that V8 optimises it early: it is where the time goes.
 */
function scanInstructions(bytes: Uint8Array, pos: number, stop: number, s: ScanState): number {
  // No `at` per instruction: a refusal works out where its opcode started from what it has read.
  while (pos < stop) {
    const op = bytes[pos++]!;
    switch (KIND[op]) {
      case Imm.None:
        break;
      case Imm.Leb:
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        break;
      case Imm.Leb2:
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        break;
      case Imm.Block:
      case Imm.Loop: {
        // 5.4.1 blocktype: 0x40 (empty), one valtype, or a type index as s33 (multi-value).
        const b = bytes[pos]!;
        if (b === 0x40 || VALTYPE[b]) {
          pos++;
        } else if ((b & 0xc0) === 0x40) {
          // A one-byte negative s33 that is no valtype we know: a GC reference type.
          return s.refuse(`block type ${hex(b)} (GC reference types)`, pos - 1);
        } else {
          while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        }
        if (op === 0x03) {
          s.point(pos);
          s.loops++;
        }
        break;
      }
      case Imm.TailCall:
        s.point(pos - 1);
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        break;
      case Imm.TailCallIndirect:
        s.point(pos - 1);
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        break;
      case Imm.Memarg: {
        // 5.4.7 memarg: align then offset. Bit 6 of align announces a memory index (multi-memory);
        // a LEB128's low 7 bits are in its first byte, so bit 6 of the value is bit 6 of that byte.
        const align = bytes[pos++]!;
        if (align & 0x40) return s.refuse(`opcode ${hex(op)} with a memory index (multi-memory)`, pos - 2);
        if (align & 0x80) while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        break;
      }
      case Imm.BrTable: {
        const labels = readU32(bytes, pos, s);
        pos = s.next;
        for (let i = 0; i <= labels && pos <= stop; i++) while (bytes[pos++]! & 0x80) { /* continuation byte */ }
        break;
      }
      case Imm.Skip4:
        pos += 4;
        break;
      case Imm.Skip8:
        pos += 8;
        break;
      case Imm.SelectT: {
        const types = readU32(bytes, pos, s);
        pos = s.next;
        for (let i = 0; i < types && pos <= stop; i++) {
          if (!VALTYPE[bytes[pos]!]) return s.refuse(`select type ${hex(bytes[pos] ?? 0)}`, pos);
          pos++;
        }
        break;
      }
      case Imm.MemIdx:
        if (bytes[pos++] !== 0x00) return s.refuse(`opcode ${hex(op)} on memory ${bytes[pos - 1]} (multi-memory)`, pos - 2);
        break;
      case Imm.PrefixFC: {
        const at = pos - 1;
        const sub = readU32(bytes, pos, s);
        pos = s.next;
        if (sub <= 7) break; // i32/i64.trunc_sat_f32/f64_s/u: no immediates
        switch (sub) {
          case 8: // memory.init dataidx memidx
            while (bytes[pos++]! & 0x80) { /* continuation byte */ }
            if (bytes[pos++] !== 0x00) return s.refuse('memory.init on a memory other than 0 (multi-memory)', at);
            break;
          case 10: // memory.copy memidx memidx
            if (bytes[pos++] !== 0x00 || bytes[pos++] !== 0x00) return s.refuse('memory.copy on a memory other than 0 (multi-memory)', at);
            break;
          case 11: // memory.fill memidx
            if (bytes[pos++] !== 0x00) return s.refuse('memory.fill on a memory other than 0 (multi-memory)', at);
            break;
          case 12: // table.init elemidx tableidx
          case 14: // table.copy tableidx tableidx
            while (bytes[pos++]! & 0x80) { /* continuation byte */ }
            while (bytes[pos++]! & 0x80) { /* continuation byte */ }
            break;
          case 9: // data.drop dataidx
          case 13: // elem.drop elemidx
          case 15: // table.grow tableidx
          case 16: // table.size tableidx
          case 17: // table.fill tableidx
            while (bytes[pos++]! & 0x80) { /* continuation byte */ }
            break;
          default:
            return s.refuse(`opcode 0xfc ${hex(sub)} (unknown)`, at);
        }
        break;
      }
      default:
        if (op === 0xfd || op === 0xfe || op === 0xfb) return s.refuse(`opcode ${hex(op)} ${hex(readU32(bytes, pos, s))} (${feature(op)})`, pos - 1);
        return s.refuse(`opcode ${hex(op)} (${feature(op)})`, pos - 1);
    }
  }
  return pos;
}
