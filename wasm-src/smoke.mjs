#!/usr/bin/env node
// Smoke test of the built modules (build/wasm/go) without the gateway: a minimal
// WASI preview1 and `gw` host written to docs/module-abi.md, a register-level TMP102
// at bus 1 / 0x48 (the only granted device), and one scenario per module. It prints
// what each call returned and exits non-zero when an expectation fails.
// Not the gateway's host (gateway/host/ is); this checks the guest side only.
//
//   node wasm-src/smoke.mjs [build/wasm/go]
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode } from 'cbor-x';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DIR = resolve(process.argv[2] ?? join(ROOT, 'build', 'wasm', 'go'));
const GRANT = { bus: 1, address: 0x48 };
const EBADF = 8;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleepMs = (ms) => ms > 0 && Atomics.wait(sleepCell, 0, 0, ms);

class ProcExit extends Error {
  constructor(code) {
    super(`proc_exit(${code})`);
    this.code = code;
  }
}

// TMP102 registers (SBOS397): config with read-only R1R0/AL, SD and one-shot OS.
class Tmp102 {
  constructor() {
    this.config = 0x60a0;
    this.temp = 0;
    this.celsius = 21.5;
    this.busyUntil = 0;
    this.poweredAt = performance.now();
  }
  tick() {
    const now = performance.now();
    const em = this.config & 0x10;
    const reg = () => (em ? ((Math.round(this.celsius * 16) & 0x1fff) << 3) | 1 : (Math.round(this.celsius * 16) & 0xfff) << 4);
    if (this.busyUntil && now >= this.busyUntil) {
      this.busyUntil = 0;
      this.temp = reg();
      this.config |= 0x8000;
    } else if (!(this.config & 0x100) && now - this.poweredAt >= 26) {
      this.temp = reg();
    }
  }
  read(reg) {
    this.tick();
    if (reg === 0) return this.temp;
    if (reg === 1) return this.busyUntil ? this.config & ~0x8000 : this.config;
    return 0;
  }
  write(reg, v) {
    this.tick();
    if (reg !== 1) return;
    this.config = (this.config & ~0x1fd0) | (v & 0x1fd0);
    if (v & 0x8000 && v & 0x100 && !this.busyUntil) {
      this.config &= ~0x8000;
      this.busyUntil = performance.now() + 26;
    }
  }
}

function instantiate(file, log) {
  const mod = new WebAssembly.Module(readFileSync(file));
  const imports = WebAssembly.Module.imports(mod);
  let mem;
  const view = () => new DataView(mem.buffer);
  const inRange = (p, n) => p >>> 0 === p && n >>> 0 === n && p + n <= mem.buffer.byteLength; // no 32-bit wrap
  const bytes = (p, n) => new Uint8Array(mem.buffer, p, n);
  const call = { input: new Uint8Array(0), output: null };
  const chip = new Tmp102();
  const called = new Set();
  const lineBuf = {};
  const i2c = (bus, addr, p, n, f) => {
    if (bus !== GRANT.bus || addr !== GRANT.address) return -5;
    if (!inRange(p >>> 0, n >>> 0)) return -6;
    if (n > 32) return -6;
    return f(bytes(p >>> 0, n >>> 0));
  };
  const gw = {
    input_read: (p, n) => {
      [p, n] = [p >>> 0, n >>> 0];
      if (!inRange(p, n)) return -6;
      const k = Math.min(n, call.input.length);
      bytes(p, k).set(call.input.subarray(0, k));
      return k;
    },
    output_write: (p, n) => {
      [p, n] = [p >>> 0, n >>> 0];
      if (!inRange(p, n) || n > 4096) return -6;
      call.output = bytes(p, n).slice();
      return n;
    },
    log: (level, p, n) => {
      [p, n] = [p >>> 0, n >>> 0];
      if (!inRange(p, n)) return log.push(`log: bad range`);
      log.push(`log ${level}: ${new TextDecoder().decode(bytes(p, n))}`);
    },
    i2c_write: (bus, addr, p, n) => i2c(bus, addr, p, n, () => 0),
    i2c_read: (bus, addr, p, n) => i2c(bus, addr, p, n, () => 0),
    i2c_read_reg: (bus, addr, reg, p, n) =>
      i2c(bus, addr, p, n, (b) => {
        const v = chip.read(reg);
        if (b.length >= 1) b[0] = v >> 8;
        if (b.length >= 2) b[1] = v & 0xff;
        return 0;
      }),
    i2c_write_reg: (bus, addr, reg, p, n) =>
      i2c(bus, addr, p, n, (b) => {
        if (n === 2) chip.write(reg, (b[0] << 8) | b[1]);
        return 0;
      }),
  };
  const wasi = {
    args_sizes_get: (a, b) => (view().setUint32(a, 0, true), view().setUint32(b, 0, true), 0),
    environ_sizes_get: (a, b) => (view().setUint32(a, 0, true), view().setUint32(b, 0, true), 0),
    args_get: () => 0,
    environ_get: () => 0,
    clock_res_get: (id, p) => (view().setBigUint64(p, 1000n, true), 0),
    clock_time_get: (id, prec, p) => {
      const ns = id === 0 ? BigInt(Date.now()) * 1000000n : process.hrtime.bigint();
      view().setBigUint64(p, ns, true);
      return 0;
    },
    poll_oneoff: (inp, out, nsubs, neventsPtr) => {
      // clock subscriptions only: sleep for the shortest, report it
      const dv = view();
      let best = -1;
      let bestNs = 0n;
      for (let i = 0; i < nsubs; i++) {
        const s = inp + 48 * i;
        if (dv.getUint8(s + 8) !== 0) continue;
        let ns = dv.getBigUint64(s + 24, true);
        if (dv.getUint16(s + 40, true) & 1) ns -= process.hrtime.bigint(); // abstime (monotonic)
        if (best < 0 || ns < bestNs) [best, bestNs] = [i, ns];
      }
      if (best < 0) return 28; // EINVAL
      sleepMs(Number(bestNs > 0n ? bestNs : 0n) / 1e6);
      new Uint8Array(mem.buffer, out, 32).fill(0);
      dv.setBigUint64(out, dv.getBigUint64(inp + 48 * best, true), true);
      dv.setUint8(out + 10, 0);
      dv.setUint32(neventsPtr, 1, true);
      return 0;
    },
    fd_write: (fd, iovs, n, written) => {
      const dv = view();
      let total = 0;
      let text = '';
      for (let i = 0; i < n; i++) {
        const p = dv.getUint32(iovs + 8 * i, true);
        const l = dv.getUint32(iovs + 8 * i + 4, true);
        text += new TextDecoder().decode(bytes(p, l));
        total += l;
      }
      // Go's runtime prints a panic piece by piece: buffer until end of line.
      const buf = (lineBuf[fd] ?? '') + text;
      const lines = buf.split('\n');
      lineBuf[fd] = lines.pop();
      for (const l of lines) log.push(`fd${fd}: ${l}`);
      dv.setUint32(written, total, true);
      return 0;
    },
    random_get: (p, n) => (crypto.getRandomValues(bytes(p, n)), 0),
    sched_yield: () => 0,
    proc_exit: (code) => {
      throw new ProcExit(code);
    },
    fd_prestat_get: () => EBADF,
    fd_prestat_dir_name: () => EBADF,
    fd_fdstat_get: () => EBADF,
    fd_fdstat_set_flags: () => EBADF,
  };
  const table = {};
  for (const imp of imports) {
    const src = imp.module === 'gw' ? gw : imp.module === 'wasi_snapshot_preview1' ? wasi : null;
    // Other preview1 functions (files, sockets) answer NOTCAPABLE, as the ABI says.
    const f = src?.[imp.name] ?? (imp.module === 'wasi_snapshot_preview1' ? () => 76 : undefined);
    if (!f) throw new Error(`unknown import ${imp.module}.${imp.name}`);
    (table[imp.module] ??= {})[imp.name] = (...a) => (called.add(`${imp.module}.${imp.name}`), f(...a));
  }
  const inst = new WebAssembly.Instance(mod, table);
  mem = inst.exports.memory;
  const invoke = (name, input) => {
    call.input = input ? encode(input) : new Uint8Array(0);
    call.output = null;
    try {
      const status = inst.exports[name](call.input.length);
      return { status, output: call.output && decode(call.output) };
    } catch (e) {
      return { error: e instanceof ProcExit ? e.message : `${e.constructor.name}: ${e.message}`, output: call.output && decode(call.output) };
    }
  };
  inst.exports._initialize();
  return { mod, inst, invoke, chip, called, imports };
}

let failures = 0;
const show = (label, r) => console.log(`    ${label.padEnd(34)} ${JSON.stringify(r)}`);
function expect(label, r, pred) {
  show(label, r);
  if (!pred(r)) {
    failures++;
    console.log(`    ^ UNEXPECTED`);
  }
}
const initIn = (settings) => ({ bus: 1, address: 0x48, ...(settings && { settings }) });

function scenario(name, fn) {
  const file = name === 'tmp102' ? join(DIR, 'tmp102.wasm') : join(DIR, 'test', `${name}.wasm`);
  const log = [];
  let m;
  try {
    m = instantiate(file, log);
  } catch (e) {
    console.log(`${name}: cannot instantiate: ${e.message}`);
    failures++;
    return;
  }
  const exps = WebAssembly.Module.exports(m.mod).map((e) => e.name);
  const wasiImports = m.imports.filter((i) => i.module === 'wasi_snapshot_preview1').map((i) => i.name);
  const gwImports = m.imports.filter((i) => i.module === 'gw').map((i) => i.name);
  console.log(`${name}: exports ${exps.join(' ')}`);
  console.log(`    gw imports: ${gwImports.join(' ')}`);
  console.log(`    wasi imports: ${wasiImports.join(' ')}`);
  fn(m);
  for (const l of log.slice(0, 6)) console.log(`    | ${l}`);
  console.log(`    wasi called: ${[...m.called].filter((c) => c.startsWith('wasi')).map((c) => c.slice(23)).join(' ')}`);
}

scenario('tmp102', ({ invoke }) => {
  expect('gw_abi_version', invoke('gw_abi_version'), (r) => r.status === 1);
  expect('gw_read before init', invoke('gw_read'), (r) => r.status === -10);
  expect('gw_init rateHz 7', invoke('gw_init', initIn({ rateHz: 7 })), (r) => r.status === -8);
  expect('gw_init', invoke('gw_init', initIn()), (r) => r.status === 0 && r.output.periodMs === 250);
  expect('gw_read at once', invoke('gw_read'), (r) => r.status === -1 && r.output.retryAfterMs >= 1);
  sleepMs(40);
  expect('gw_read after 40 ms', invoke('gw_read'), (r) => r.status === 0 && r.output.value === 21.5 && r.output.bits === 12);
  expect('gw_read {"a":1}', invoke('gw_read', { a: 1 }), (r) => r.status === -9);
});
scenario('tmp102', ({ invoke, chip }) => {
  expect('gw_init oneshot 13 bit', invoke('gw_init', initIn({ mode: 'oneshot', resolution: 13, rateHz: 1 })), (r) => r.status === 0 && r.output.periodMs === 1000);
  sleepMs(40);
  chip.celsius = 150;
  const t0 = performance.now();
  const r = invoke('gw_read');
  expect(`gw_read one-shot (${(performance.now() - t0).toFixed(0)} ms)`, r, (r) => r.status === 0 && r.output.value === 150 && r.output.bits === 13);
});
scenario('tmp102', ({ invoke }) => {
  expect('gw_init address 0x49 (denied)', invoke('gw_init', { bus: 1, address: 0x49 }), (r) => r.status === -5);
});
scenario('trap', ({ invoke }) => {
  expect('gw_init', invoke('gw_init', initIn()), (r) => r.status === 0);
  expect('gw_read', invoke('gw_read'), (r) => /RuntimeError/.test(r.error));
});
// Go c-shared (and TinyGo): a panic prints "panic: ..." to fd 2, then traps with
// `unreachable`; it does not call proc_exit(2).
scenario('panic', ({ invoke }) => {
  expect('gw_read', invoke('gw_read'), (r) => r.error === 'RuntimeError: unreachable');
});
scenario('exit', ({ invoke }) => {
  expect('gw_read', invoke('gw_read'), (r) => r.error === 'proc_exit(3)');
});
scenario('wrongabi', ({ invoke }) => {
  expect('gw_abi_version', invoke('gw_abi_version'), (r) => r.status === 99);
});
scenario('missingexport', ({ inst }) => {
  expect('has gw_read', { gw_read: typeof inst.exports.gw_read }, (r) => r.gw_read === 'undefined');
});
try {
  instantiate(join(DIR, 'test', 'unknownimport.wasm'), []);
  failures++;
  console.log('unknownimport: instantiated?!');
} catch (e) {
  console.log(`unknownimport: refused: ${e.message}`);
}
scenario('greedy', ({ invoke }) => {
  expect('gw_init probe 0x49', invoke('gw_init', initIn({ probe: 0x49 })), (r) => r.status === 0);
  expect('gw_read', invoke('gw_read'), (r) => r.status === -5 && r.output.status === -5);
});
scenario('greedy', ({ invoke }) => {
  expect('gw_init probeBus 2', invoke('gw_init', initIn({ probeBus: 2 })), (r) => r.status === 0);
  expect('gw_read', invoke('gw_read'), (r) => r.status === -5);
});
scenario('greedy', ({ invoke }) => {
  expect('gw_init (granted)', invoke('gw_init', initIn()), (r) => r.status === 0);
  expect('gw_read', invoke('gw_read'), (r) => r.status === 0);
});
scenario('badptr', ({ invoke }) => {
  expect('gw_init', invoke('gw_init', initIn()), (r) => r.status === 0);
  expect('gw_read', invoke('gw_read'), (r) => r.status === 0 && r.output.statuses.every((s, i) => s === -6 || r.output.calls[i].startsWith('log')));
});

console.log(failures ? `${failures} unexpected result(s)` : 'all as expected');
process.exit(failures ? 1 : 0);
