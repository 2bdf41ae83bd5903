/**
 * The part of WASI preview1 that Go (GOOS=wasip1) and TinyGo runtimes call, written for the
 * gateway instead of using node:wasi: Node documents node:wasi as no sandbox for untrusted
 * code, its proc_exit escapes a reactor export as a private non-Error symbol, and it cannot use
 * a clock that tests control. Here: no file system, no arguments or environment, stdout/stderr
 * into the gateway log, clocks and sleeps from a Clock.
 *
 * Struct layouts and errno values are those of the preview1 witx
 * (WebAssembly/WASI, legacy/preview1/witx/typenames.witx).
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { Logger } from '../log.ts';
import { GuestMemory } from './guest-memory.ts';
import { LOG_BUDGET_USED_UP, LogBudget, takeModuleLine } from './log-budget.ts';

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;
const ERRNO_INVAL = 28;
const ERRNO_NOSYS = 52;
const ERRNO_NOTCAPABLE = 76;

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_PROCESS_CPUTIME = 2;
const CLOCK_THREAD_CPUTIME = 3;

const EVENTTYPE_CLOCK = 0;
const SUBCLOCKFLAG_ABSTIME = 1;
const SUBSCRIPTION_SIZE = 48;
const EVENT_SIZE = 32;

const FILETYPE_CHARACTER_DEVICE = 2;
const RIGHT_FD_READ = 1n << 1n;
const RIGHT_FD_WRITE = 1n << 6n;

/** Longest log line kept from a module; longer lines are cut. */
const MAX_LINE = 1024;
/**
 * What is kept of each of stdout and stderr per call to recognise a panic report: its first
 * 2 KiB (Go prints the banner first, then a goroutine trace that can be long) and its last 2 KiB
 * (TinyGo prints one banner line as the last thing before it traps, after whatever the module
 * printed before). At most 8 KiB per call, however much a module writes.
 */
const PANIC_TEXT = 2048;
const NEWLINE = 0x0a;

/**
 * The banners that open a panic report, per stream. Go (GOOS=wasip1) prints `panic: ...`, and
 * `fatal error: ...` for runtime failures, to fd 2 (runtime/print.go writes to stderr). TinyGo
 * prints `panic: ...` for panic(), and `panic: runtime error: ...` (or `panic: runtime error at
 * 0x...: ...`) for runtime checks, to fd 1: its wasip1 `putchar` writes to stdout (tinygo
 * src/runtime/panic.go `_panic`, `runtimePanicAt`; runtime_wasip1.go `putchar`). TinyGo has no
 * `fatal error:` on stdout, and Go never writes a banner there, so only `panic: ` counts on fd 1.
 * A banner counts at the start of a line only: `log: no panic: fine` is not a panic.
 */
const AT_LINE_START: Record<1 | 2, RegExp> = {
  1: /(?:^|\n)(panic: [^\n]*)/,
  2: /(?:^|\n)((?:panic: |fatal error: )[^\n]*)/,
};
/** For a tail that starts mid-line: a banner counts only after a newline. */
const AFTER_NEWLINE: Record<1 | 2, RegExp> = {
  1: /\n(panic: [^\n]*)/,
  2: /\n((?:panic: |fatal error: )[^\n]*)/,
};

/** What is kept of one stream during a call for the panic check (PANIC_TEXT). */
interface StreamCapture {
  /** The first PANIC_TEXT bytes written, decoded. */
  head: string;
  headBytes: number;
  /** About the last PANIC_TEXT bytes written, decoded. */
  tail: string;
  /** Whether `tail` starts at the start of a line (a newline, or the call's first byte, before it). */
  tailAtLineStart: boolean;
}

const emptyCapture = (): StreamCapture => ({ head: '', headBytes: 0, tail: '', tailAtLineStart: true });

/** Thrown by proc_exit to unwind the guest's stack; the host turns it into a coded error. */
export class ProcExit extends Error {
  override readonly name = 'ProcExit';
  constructor(readonly exitCode: number) {
    super(`proc_exit(${exitCode})`);
  }
}

/** Thrown when a guest asks to sleep past its call's deadline. */
export class SleepBudgetExceeded extends Error {
  override readonly name = 'SleepBudgetExceeded';
  constructor(readonly requestedMs: number, readonly budgetMs: number) {
    super(`sleep of ${requestedMs} ms exceeds the call's remaining budget of ${budgetMs} ms`);
  }
}

export interface WasiOptions {
  clock: Clock;
  logger: Logger;
  /** Total time one export call may spend sleeping in poll_oneoff. */
  sleepBudgetMs: number;
  /** Shared with the `gw.log` import: one budget per call for everything a module logs. */
  logBudget?: LogBudget;
  /**
   * The sensor's budget of host lines across calls (gateway/log-throttle.ts), which also holds its
   * budget of the module's own lines across calls (log-budget.ts); default: one of its own.
   */
  logThrottle?: LogThrottle;
}

/** The function names of preview1 (witx order). Names outside this list are refused at load. */
export const WASI_PREVIEW1_FUNCTIONS = [
  'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_res_get', 'clock_time_get',
  'fd_advise', 'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_get', 'fd_fdstat_set_flags',
  'fd_fdstat_set_rights', 'fd_filestat_get', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_pread',
  'fd_prestat_get', 'fd_prestat_dir_name', 'fd_pwrite', 'fd_read', 'fd_readdir', 'fd_renumber', 'fd_seek',
  'fd_sync', 'fd_tell', 'fd_write', 'path_create_directory', 'path_filestat_get', 'path_filestat_set_times',
  'path_link', 'path_open', 'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink',
  'path_unlink_file', 'poll_oneoff', 'proc_exit', 'proc_raise', 'sched_yield', 'random_get', 'sock_accept',
  'sock_recv', 'sock_send', 'sock_shutdown',
] as const;

export class WasiPreview1 {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #sleepBudgetNs: bigint;
  #memory: GuestMemory | undefined;
  #lineBuffers = new Map<number, string>();
  readonly #logBudget: LogBudget;
  readonly #logThrottle: LogThrottle;
  #sleptThisCallNs = 0n;
  #captures: Record<1 | 2, StreamCapture> = { 1: emptyCapture(), 2: emptyCapture() };

  constructor(options: WasiOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#sleepBudgetNs = BigInt(Math.round(options.sleepBudgetMs * 1e6));
    this.#logBudget = options.logBudget ?? new LogBudget();
    this.#logThrottle = options.logThrottle ?? new LogThrottle(() => monotonicMs(options.clock));
  }

  bindMemory(memory: GuestMemory): void {
    this.#memory = memory;
  }

  /** Resets per-call accounting; call before each export call. */
  beginCall(): void {
    this.#logBudget.reset();
    this.#sleptThisCallNs = 0n;
    this.#captures = { 1: emptyCapture(), 2: emptyCapture() };
  }

  /** Flushes partial lines; call after each export call (and after a fault, to keep the panic text). */
  endCall(): void {
    for (const fd of [1, 2]) {
      const rest = this.#lineBuffers.get(fd);
      if (rest) this.#emitLine(fd, rest);
      this.#lineBuffers.delete(fd);
    }
  }

  /** The first 2 KiB the guest wrote to stderr during the current call (panic reports). */
  get stderrThisCall(): string {
    return this.#captures[2].head;
  }

  /**
   * What is kept of stdout and stderr for the current call (first and last 2 KiB of each), for
   * a look for a runtime's words such as "out of memory".
   */
  get outputThisCall(): string {
    const c = this.#captures;
    return [c[2].head, c[2].tail, c[1].head, c[1].tail].join('\n');
  }

  /** Whether the guest printed a Go or TinyGo panic banner during the current call, on fd 1 or 2. */
  get sawPanic(): boolean {
    return this.panicReport !== undefined;
  }

  /**
   * The banner line of the current call's panic report (`panic: sensor exploded`), from stderr
   * (Go) or else stdout (TinyGo); undefined when the call printed none (AT_LINE_START).
   */
  get panicReport(): string | undefined {
    for (const fd of [2, 1] as const) {
      const c = this.#captures[fd];
      const line = AT_LINE_START[fd].exec(c.head)?.[1] ?? (c.tailAtLineStart ? AT_LINE_START : AFTER_NEWLINE)[fd].exec(c.tail)?.[1];
      if (line !== undefined) return line;
    }
    return undefined;
  }

  imports(): Record<string, (...args: never[]) => unknown> {
    const fns: Record<string, (...args: never[]) => unknown> = {};
    for (const name of WASI_PREVIEW1_FUNCTIONS) {
      // Everything touching files or sockets: there is no file system and no socket.
      fns[name] = name.startsWith('path_') || name.startsWith('sock_') ? () => ERRNO_NOTCAPABLE : () => ERRNO_BADF;
    }
    Object.assign(fns, {
      args_sizes_get: (countPtr: number, sizePtr: number) => this.#writeU32Pair(countPtr, sizePtr, 0, 0),
      environ_sizes_get: (countPtr: number, sizePtr: number) => this.#writeU32Pair(countPtr, sizePtr, 0, 0),
      args_get: () => ERRNO_SUCCESS,
      environ_get: () => ERRNO_SUCCESS,
      clock_res_get: (id: number, resPtr: number) => this.#clockRes(id, resPtr),
      clock_time_get: (id: number, _precision: bigint, timePtr: number) => this.#clockTime(id, timePtr),
      fd_write: (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) => this.#fdWrite(fd, iovs, iovsLen, nwrittenPtr),
      fd_read: (fd: number, _iovs: number, _iovsLen: number, nreadPtr: number) => this.#fdReadStdin(fd, nreadPtr),
      fd_fdstat_get: (fd: number, statPtr: number) => this.#fdstat(fd, statPtr),
      fd_prestat_get: () => ERRNO_BADF, // no preopened directories
      poll_oneoff: (inPtr: number, outPtr: number, count: number, neventsPtr: number) => this.#pollOneoff(inPtr, outPtr, count, neventsPtr),
      proc_exit: (code: number) => {
        throw new ProcExit(code >>> 0);
      },
      proc_raise: () => ERRNO_NOSYS,
      sched_yield: () => ERRNO_SUCCESS,
      random_get: (ptr: number, len: number) => this.#randomGet(ptr, len),
    });
    return fns;
  }

  #mem(): GuestMemory {
    if (!this.#memory) throw new Error('WASI used before the instance memory was bound');
    return this.#memory;
  }

  #writeU32Pair(ptrA: number, ptrB: number, a: number, b: number): number {
    const va = this.#mem().view(ptrA, 4);
    const vb = this.#mem().view(ptrB, 4);
    if (!va || !vb) return ERRNO_FAULT;
    va.setUint32(0, a, true);
    vb.setUint32(0, b, true);
    return ERRNO_SUCCESS;
  }

  #now(id: number): bigint | undefined {
    switch (id) {
      case CLOCK_REALTIME:
        return this.#clock.realtimeNs();
      case CLOCK_MONOTONIC:
      case CLOCK_PROCESS_CPUTIME:
      case CLOCK_THREAD_CPUTIME:
        return this.#clock.monotonicNs();
      default:
        return undefined;
    }
  }

  #clockRes(id: number, resPtr: number): number {
    if (this.#now(id) === undefined) return ERRNO_INVAL;
    const v = this.#mem().view(resPtr, 8);
    if (!v) return ERRNO_FAULT;
    v.setBigUint64(0, 1000n, true); // 1 µs
    return ERRNO_SUCCESS;
  }

  #clockTime(id: number, timePtr: number): number {
    const now = this.#now(id);
    if (now === undefined) return ERRNO_INVAL;
    const v = this.#mem().view(timePtr, 8);
    if (!v) return ERRNO_FAULT;
    v.setBigUint64(0, now, true);
    return ERRNO_SUCCESS;
  }

  #fdWrite(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
    if (fd !== 1 && fd !== 2) return ERRNO_BADF;
    const mem = this.#mem();
    const count = iovsLen >>> 0;
    const table = mem.view(iovs, count * 8);
    const out = mem.view(nwrittenPtr, 4);
    if (!table || !out) return ERRNO_FAULT;
    const iov = (i: number) => ({ ptr: table.getUint32(i * 8, true), len: table.getUint32(i * 8 + 4, true) });
    let written = 0;
    for (let i = 0; i < count; i++) {
      const { ptr, len } = iov(i);
      if (!mem.inBounds(ptr, len)) return ERRNO_FAULT;
      written += len;
    }
    out.setUint32(0, written >>> 0, true);

    // Only what the log budget and the panic check can use is copied out: a 1 GiB write, or
    // a million iovecs naming the same bytes, makes the host copy no more than a small one.
    const capture = this.#captures[fd];
    const logged: Uint8Array[] = [];
    const head: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const { ptr, len } = iov(i);
      const headKeep = Math.min(len, PANIC_TEXT - capture.headBytes);
      capture.headBytes += headKeep;
      // The start of stderr is logged even past the byte budget (within the budget of lines),
      // so Go's panic report with its trace reaches the operator. Stdout is logged within the
      // budget only, as before: TinyGo's report is one line, and the fault's log line carries
      // the banner whichever stream it came from (module-instance.ts).
      const keep = Math.max(this.#logBudget.takeBytes(len), fd === 2 ? headKeep : 0);
      const copy = Math.max(keep, headKeep);
      if (copy > 0) {
        const bytes = mem.read(ptr, copy)!;
        if (keep > 0) logged.push(bytes.subarray(0, keep));
        if (headKeep > 0) head.push(bytes.subarray(0, headKeep));
      }
      if (keep < len && this.#logBudget.firstDrop()) this.#dropWarning();
    }
    if (head.length > 0) capture.head += decode(head);
    this.#keepTail(capture, count, iov);
    this.#append(fd, decode(logged));
    return ERRNO_SUCCESS;
  }

  /**
   * Moves the stream's tail on by this write: its last PANIC_TEXT bytes, read from its last
   * iovecs backwards, plus one byte to tell whether the tail then starts a line.
   */
  #keepTail(capture: StreamCapture, count: number, iov: (i: number) => { ptr: number; len: number }): void {
    const parts: Uint8Array[] = [];
    let need = PANIC_TEXT + 1;
    for (let i = count - 1; i >= 0 && need > 0; i--) {
      const { ptr, len } = iov(i);
      const take = Math.min(len, need);
      if (take > 0) parts.unshift(this.#mem().read(ptr + len - take, take)!);
      need -= take;
    }
    const bytes = concat(parts);
    if (bytes.length > PANIC_TEXT) {
      capture.tailAtLineStart = bytes[0] === NEWLINE;
      capture.tail = decode([bytes.subarray(1)]);
      return;
    }
    const joined = capture.tail + decode([bytes]);
    if (joined.length > PANIC_TEXT) {
      capture.tailAtLineStart = joined[joined.length - PANIC_TEXT - 1] === '\n';
      capture.tail = joined.slice(-PANIC_TEXT);
    } else {
      capture.tail = joined;
    }
  }

  #append(fd: number, text: string): void {
    let buffered = (this.#lineBuffers.get(fd) ?? '') + text;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      this.#emitLine(fd, buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    if (buffered.length > MAX_LINE) {
      this.#emitLine(fd, buffered);
      buffered = '';
    }
    this.#lineBuffers.set(fd, buffered);
  }

  /** Once per call (LogBudget.firstDrop), and within the sensor's budget across calls. */
  #dropWarning(): void {
    logThrottled(this.#logThrottle, this.#logger, 'warn', LOG_BUDGET_USED_UP, {
      maxLines: this.#logBudget.maxLines,
      maxBytes: this.#logBudget.maxBytes,
    });
  }

  #emitLine(fd: number, line: string): void {
    if (!this.#logBudget.takeLine()) {
      if (this.#logBudget.firstDrop()) this.#dropWarning();
      return;
    }
    // Within this call's budget; then within the sensor's, across calls (log-budget.ts).
    if (!takeModuleLine(this.#logThrottle, this.#logger)) return;
    const cut = line.length > MAX_LINE ? line.slice(0, MAX_LINE) + '…' : line;
    if (fd === 2) this.#logger.warn(cut, { stream: 'stderr' });
    else this.#logger.info(cut, { stream: 'stdout' });
  }

  #fdReadStdin(fd: number, nreadPtr: number): number {
    if (fd !== 0) return ERRNO_BADF;
    const v = this.#mem().view(nreadPtr, 4);
    if (!v) return ERRNO_FAULT;
    v.setUint32(0, 0, true); // stdin is empty: end of file
    return ERRNO_SUCCESS;
  }

  #fdstat(fd: number, statPtr: number): number {
    if (fd >>> 0 > 2) return ERRNO_BADF;
    const v = this.#mem().view(statPtr, 24);
    if (!v) return ERRNO_FAULT;
    v.setUint8(0, FILETYPE_CHARACTER_DEVICE);
    v.setUint16(2, 0, true);
    v.setBigUint64(8, fd === 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE, true);
    v.setBigUint64(16, 0n, true);
    return ERRNO_SUCCESS;
  }

  #randomGet(ptr: number, len: number): number {
    // Check the guest's buffer before touching anything: never allocate what a guest asks for.
    const view = this.#mem().view(ptr, len);
    if (!view) return ERRNO_FAULT;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    for (let off = 0; off < bytes.length; off += 65536) {
      crypto.getRandomValues(bytes.subarray(off, Math.min(off + 65536, bytes.length)));
    }
    return ERRNO_SUCCESS;
  }


  /**
   * Clock subscriptions only (Go's scheduler and TinyGo's time.Sleep use them). The thread
   * sleeps until the earliest deadline; fd subscriptions answer at once with EBADF.
   */
  #pollOneoff(inPtr: number, outPtr: number, count: number, neventsPtr: number): number {
    const n = count >>> 0;
    if (n === 0) return ERRNO_INVAL;
    const mem = this.#mem();
    const subs = mem.view(inPtr, n * SUBSCRIPTION_SIZE);
    const events = mem.view(outPtr, n * EVENT_SIZE);
    const nevents = mem.view(neventsPtr, 4);
    if (!subs || !events || !nevents) return ERRNO_FAULT;

    type Sub = { userdata: bigint; tag: number; waitNs: bigint | undefined };
    const list: Sub[] = [];
    for (let i = 0; i < n; i++) {
      const base = i * SUBSCRIPTION_SIZE;
      const userdata = subs.getBigUint64(base, true);
      const tag = subs.getUint8(base + 8);
      let waitNs: bigint | undefined;
      if (tag === EVENTTYPE_CLOCK) {
        const id = subs.getUint32(base + 16, true);
        const timeout = subs.getBigUint64(base + 24, true);
        const flags = subs.getUint16(base + 40, true);
        const now = this.#now(id) ?? this.#clock.monotonicNs();
        waitNs = flags & SUBCLOCKFLAG_ABSTIME ? timeout - now : timeout;
        if (waitNs < 0n) waitNs = 0n;
      }
      list.push({ userdata, tag, waitNs });
    }

    const nonClock = list.filter((s) => s.tag !== EVENTTYPE_CLOCK);
    let fired: Sub[];
    if (nonClock.length > 0) {
      fired = nonClock;
    } else {
      const minWait = list.reduce((m, s) => (s.waitNs! < m ? s.waitNs! : m), list[0]!.waitNs!);
      const remaining = this.#sleepBudgetNs - this.#sleptThisCallNs;
      if (minWait > remaining) {
        throw new SleepBudgetExceeded(Number(minWait) / 1e6, Number(remaining) / 1e6);
      }
      this.#clock.sleep(minWait);
      this.#sleptThisCallNs += minWait;
      fired = list.filter((s) => s.waitNs! <= minWait);
    }

    fired.forEach((s, i) => {
      const base = i * EVENT_SIZE;
      events.setBigUint64(base, s.userdata, true);
      events.setUint16(base + 8, s.tag === EVENTTYPE_CLOCK ? ERRNO_SUCCESS : ERRNO_BADF, true);
      events.setUint8(base + 10, s.tag);
      events.setBigUint64(base + 16, 0n, true);
      events.setUint16(base + 24, 0, true);
    });
    nevents.setUint32(0, fired.length, true);
    return ERRNO_SUCCESS;
  }
}

function decode(parts: Uint8Array[]): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(concat(parts));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
