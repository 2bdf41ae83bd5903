/**
 * Sender Sequence Numbers that are never reused, across restarts, kill -9 and power loss
 * (RFC 8613 section 7.5.1, Appendix B.1.1). A sequence number is the Partial IV, and with the
 * Sender ID it makes the AEAD nonce (section 5.2): two messages protected with one key and one
 * number reuse a nonce, which for AES-CCM gives away the XOR of the plaintexts and lets the
 * integrity protection be forged. So a number must never be handed out twice, even when the
 * process dies between using a number and writing anything down.
 *
 * The file of a context holds one bound B: every number ever handed out is < B. Appendix B.1.1
 * stores the last number used and jumps ahead by K + F after a boot; storing the bound instead
 * is the same scheme with the jump written before the numbers are used, so no safety factor has
 * to guess how far a process got past its last write.
 *
 *   open:  read B (no file: 0) ──▶ persist B + reserve ──▶ hand out B, B+1, ...
 *   next:  n < durable bound always; at (bound - reserve/2) persist n + reserve in the
 *          background; if n reaches the bound first, persist synchronously before returning n
 *   close: persist the exact next number (a clean stop burns nothing)
 *
 * A write is: temp file in the same directory, fsync, rename over the file, fsync the
 * directory (writeBoundSync / writeBoundAsync say why each step is there).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { GatewayError } from '../../errors.ts';
import { MAX_SEQUENCE_NUMBER } from './replay-window.ts';

/** Every number handed out is < the bound, so the highest bound is 2^40 (section 7.2.1). */
const BOUND_LIMIT = MAX_SEQUENCE_NUMBER + 1;

/**
 * 16,384 numbers. The gateway sends a few protected messages a second (responses and Observe
 * notifications, each with its own Partial IV, section 4.1.3.5); at 5 a second the background
 * write comes every 8,192 numbers, about every 27 minutes (some 50 small writes a day, nothing
 * for an SD card), and even a burst of 1,000 a second leaves the background write 8 s before
 * the hot path would have to wait for it. A crash burns at most one reserve: 2^40 / 2^14 = 2^26,
 * some 67 million crashes before the numbers run out (a clean close burns nothing), while 10
 * years at 10 messages a second use 3.2e9 of the 1.1e12 numbers. A smaller reserve only adds
 * writes; a much larger one only makes the Partial IVs longer sooner (3 bytes from 2^16).
 */
export const DEFAULT_SEQUENCE_RESERVE = 16_384;

/** One line, strictly parsed: anything else is a corrupt file, never a silent 0. */
const BOUND_FORMAT = /^oscore-sender-sequence-bound (0|[1-9][0-9]{0,12})\n$/;

/** Files a PersistedSequence of this process holds: a second one would hand out the same numbers. */
const openFiles = new Set<string>();

export class PersistedSequence {
  readonly #file: string;
  readonly #reserve: number;
  /** The next number to hand out. */
  #next: number;
  /** The bound known to be durable on disk: every number handed out is below it. */
  #durable: number;
  /** The background write in flight, if any (at most one at a time). */
  #ahead: Promise<void> | undefined;
  /** A background write failed: leave it to the synchronous write, which reports the error. */
  #aheadFailed = false;
  #closed = false;

  private constructor(file: string, reserve: number, bound: number) {
    this.#file = file;
    this.#reserve = reserve;
    this.#next = bound;
    this.#durable = bound;
  }

  /** Opens (or creates) the store of one context; throws GatewayError GW_ERR_OSCORE_SEQUENCE_STORE. */
  static async open(file: string, options: { reserve?: number } = {}): Promise<PersistedSequence> {
    const path = resolve(file);
    const reserve = options.reserve ?? DEFAULT_SEQUENCE_RESERVE;
    if (!Number.isInteger(reserve) || reserve < 1 || reserve > BOUND_LIMIT) {
      throw storeError(path, `reserve must be an integer from 1 to 2^40, got ${reserve}`);
    }
    // Taken before the first await, so two opens racing in this process cannot both pass.
    if (openFiles.has(path)) throw storeError(path, 'already open in this process (one PersistedSequence per file, or both would hand out the same numbers)');
    openFiles.add(path);
    try {
      await ensureDirectory(path);
      const bound = await readBound(path);
      // A synchronous write a crash interrupted leaves its temp file; it never held a bound in use.
      await rm(tempPath(path, 'now'), { force: true });
      const sequence = new PersistedSequence(path, reserve, bound);
      // Before the first number is handed out: a crash right after open must already find a
      // bound above it (this is what the whole file is for).
      await sequence.#raiseBound(Math.min(bound + reserve, BOUND_LIMIT));
      return sequence;
    } catch (err) {
      openFiles.delete(path);
      throw err;
    }
  }

  /**
   * The next sender sequence number; never returned twice, even across kill -9 or power loss.
   * Throws GatewayError GW_ERR_OSCORE_SEQUENCE_EXHAUSTED past 2^40 - 1 (section 7.2.1: the
   * context must not protect more messages, new keys are needed), and
   * GW_ERR_OSCORE_SEQUENCE_STORE when the bound cannot be persisted (no number is handed out
   * that a durable bound does not cover) or the store is closed.
   */
  next(): number {
    if (this.#closed) throw storeError(this.#file, 'the store is closed');
    if (this.#next > MAX_SEQUENCE_NUMBER) throw exhausted(this.#file);
    if (this.#next >= this.#durable) this.#persistNow();
    const seq = this.#next++;
    this.#maybePersistAhead();
    return seq;
  }

  /**
   * Waits for a background write, then persists the exact next number, so a clean stop burns
   * no numbers (lowering the bound is safe: nothing more is handed out). Releases the file.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#ahead;
      await writeBoundAsync(this.#file, this.#next);
      this.#durable = this.#next;
    } finally {
      openFiles.delete(this.#file);
    }
  }

  /** The synchronous write of the hot path, when the background one did not arrive in time. */
  #persistNow(): void {
    const bound = Math.min(this.#next + this.#reserve, BOUND_LIMIT);
    writeBoundSync(this.#file, bound);
    this.#durable = bound;
    this.#aheadFailed = false;
  }

  /** Section 7.5.1: write the next bound while numbers below the current one remain. */
  #maybePersistAhead(): void {
    if (this.#ahead || this.#aheadFailed || this.#durable >= BOUND_LIMIT) return;
    if (this.#durable - this.#next > Math.floor(this.#reserve / 2)) return;
    const bound = Math.min(this.#next + this.#reserve, BOUND_LIMIT);
    this.#ahead = this.#raiseBound(bound)
      .catch(() => {
        this.#aheadFailed = true;
      })
      .finally(() => {
        this.#ahead = undefined;
      });
  }

  /**
   * Writes the temp file in the background, then installs it only if no higher bound was
   * installed meanwhile. The rename is synchronous, on the main thread, on purpose: renames
   * then happen in the order decided here, so a slow background write can never land after a
   * synchronous one and put a lower bound back.
   */
  async #raiseBound(bound: number): Promise<void> {
    const temp = tempPath(this.#file, 'ahead');
    await writeTempAsync(this.#file, temp, bound);
    if (bound <= this.#durable || this.#closed) {
      await rm(temp, { force: true });
      return;
    }
    try {
      renameSync(temp, this.#file);
    } catch (err) {
      throw storeError(this.#file, 'cannot rename the new bound into place', err);
    }
    await syncDirectoryAsync(this.#file);
    this.#durable = Math.max(this.#durable, bound);
  }
}

/** Sequence numbers held in memory only: for tests and the benchmark, never for a real context. */
export class MemorySequence {
  #next: number;

  constructor(start = 0) {
    if (!Number.isInteger(start) || start < 0 || start > BOUND_LIMIT) {
      throw new GatewayError('GW_ERR_OSCORE_SEQUENCE_STORE', { detail: `start must be an integer from 0 to 2^40, got ${start}` });
    }
    this.#next = start;
  }

  next(): number {
    if (this.#next > MAX_SEQUENCE_NUMBER) throw exhausted('memory');
    return this.#next++;
  }
}

/** The bound in the file; 0 when there is no file (a new context). */
async function readBound(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw storeError(file, 'cannot read the file', err);
  }
  return parseBound(file, text);
}

function parseBound(file: string, text: string): number {
  const match = BOUND_FORMAT.exec(text);
  const bound = match ? Number(match[1]) : NaN;
  if (!(bound <= BOUND_LIMIT)) {
    // Never start again at 0: numbers below the lost bound may have been used with these keys.
    throw storeError(file, `the file is corrupt (expected "oscore-sender-sequence-bound <0..2^40>"); restore it or give the context new keys`);
  }
  return bound;
}

function formatBound(bound: number): string {
  return `oscore-sender-sequence-bound ${bound}\n`;
}

/** One temp file per writer (background or synchronous), so the two never write into each other. */
function tempPath(file: string, writer: 'ahead' | 'now'): string {
  return join(dirname(file), `.${basename(file)}.${writer}.tmp`);
}

/**
 * The durable write, synchronous (the hot path when it runs out). Each step is what a power
 * cut needs:
 * - a temp file in the same directory: the file is never seen half-written, and rename is
 *   only atomic within one file system;
 * - fsync the temp file: otherwise the rename can reach the disk before the data, and after a
 *   power cut the file exists but is empty (ext4 delayed allocation, for one);
 * - rename over the file: atomic, so the file holds the old bound or the new one, never none;
 * - fsync the directory: the rename is a change of the directory, lost on a power cut until the
 *   directory itself is synced, which would bring back the old, lower bound.
 */
function writeBoundSync(file: string, bound: number): void {
  const temp = tempPath(file, 'now');
  try {
    rmSync(temp, { force: true });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, formatBound(bound));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    syncDirectorySync(dirname(file));
  } catch (err) {
    throw storeError(file, 'cannot persist the sequence number bound', err);
  }
}

/** The same write in the background (used at open and close; steps as in writeBoundSync). */
async function writeBoundAsync(file: string, bound: number): Promise<void> {
  const temp = tempPath(file, 'ahead');
  await writeTempAsync(file, temp, bound);
  try {
    renameSync(temp, file);
  } catch (err) {
    throw storeError(file, 'cannot rename the new bound into place', err);
  }
  await syncDirectoryAsync(file);
}

/** Temp file written and fsynced (see writeBoundSync); 'wx' after removing a crash's leftover, so its mode is 0600. */
async function writeTempAsync(file: string, temp: string, bound: number): Promise<void> {
  try {
    await rm(temp, { force: true });
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(formatBound(bound));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw storeError(file, 'cannot persist the sequence number bound', err);
  }
}

function syncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function syncDirectoryAsync(file: string): Promise<void> {
  try {
    const handle = await open(dirname(file), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw storeError(file, 'cannot sync the directory', err);
  }
}

/**
 * Creates the directory (0700: the bounds are no secret, but they sit beside a context's keys)
 * and syncs the parent of every directory it created: a directory entry is lost on a power cut
 * like a rename is, and a lost directory would read as "no file", a new context starting at 0.
 */
async function ensureDirectory(file: string): Promise<void> {
  const dir = dirname(file);
  try {
    const first = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    for (let created = dir; ; created = dirname(created)) {
      syncDirectorySync(dirname(created));
      if (created === first) break;
    }
  } catch (err) {
    throw storeError(file, 'cannot create its directory', err);
  }
}

function storeError(file: string, problem: string, cause?: unknown): GatewayError {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  return new GatewayError('GW_ERR_OSCORE_SEQUENCE_STORE', { detail: `${file}: ${problem}${reason}` }, { cause });
}

function exhausted(file: string): GatewayError {
  return new GatewayError('GW_ERR_OSCORE_SEQUENCE_EXHAUSTED', { detail: `${file}: every number up to 2^40 - 1 was used (section 7.2.1)` });
}
