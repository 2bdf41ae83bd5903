/**
 * Reading a file an operator named (a module, the configuration, a temperature trace) without
 * trusting what is at the path. A plain readFile of /dev/zero reads until memory runs out; of
 * a FIFO, it blocks in open(2) until a writer comes, which may be never, holding one of libuv's
 * four threadpool threads all that time; of a 300 MB file, it allocates 300 MB before anyone
 * looks at it. Here:
 *
 *   stat(path)        refuse early: not a regular file, or over the ceiling (nothing opened)
 *   open(O_NONBLOCK)  a FIFO opens at once instead of waiting for a writer (open(2), fifo(7))
 *   fstat(fd)         the check that counts: it describes what was opened, so a path swapped
 *                     between the stat and the open is caught (no time-of-check race)
 *   read              at most ceiling + 1 bytes: a file that grew past the ceiling after fstat
 *                     (or a procfs-like file that reports size 0) is caught by that extra byte
 *
 * Symlinks are followed: operators link `current.wasm -> tmp102-1.4.wasm`. What the link points
 * to must itself be a regular file within the ceiling; a link to /dev/zero is refused like
 * /dev/zero. The early stat is a courtesy (a device is never even opened: opening a tty or a
 * serial adapter has side effects); fstat alone decides.
 *
 * Lives in drivers/, the lowest layer, because drivers/sim reads traces and drivers may not
 * import the gateway. So it knows no catalogue code: it throws a BoundedFileError whose
 * `problem` each caller turns into its own code (GW_ERR_MODULE_NOT_FOUND, GW_ERR_CONFIG_INVALID,
 * GW_ERR_SIM_TRACE_FILE...).
 */
import { type Stats, closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';

export type BoundedFileProblem =
  /** The path does not exist or cannot be opened or read (the errno says why). */
  | 'unreadable'
  /** A FIFO, a device, a directory, a socket: anything but a regular file. */
  | 'not-regular'
  /** Larger than the caller's ceiling. */
  | 'too-large';

export class BoundedFileError extends Error {
  override readonly name = 'BoundedFileError';
  readonly problem: BoundedFileProblem;
  readonly path: string;
  /** What is wrong, without the path: "is a FIFO (named pipe), not a regular file". */
  readonly reason: string;
  /** The errno name (ENOENT, EACCES, ELOOP...) of an 'unreadable' file. */
  readonly errno: string | undefined;

  constructor(path: string, problem: BoundedFileProblem, reason: string, options: { errno?: string; cause?: unknown } = {}) {
    super(`${path} ${reason}`, { cause: options.cause });
    this.path = path;
    this.problem = problem;
    this.reason = reason;
    this.errno = options.errno;
  }
}

export interface BoundedReadOptions {
  /** The largest file accepted, in bytes. */
  maxBytes: number;
  /**
   * Looks at the first `bytes` bytes (fewer when the file is shorter) before the rest is read
   * or even allocated; throwing refuses the file, and the error reaches the caller unchanged.
   */
  head?: { bytes: number; check: (head: Uint8Array) => void };
}

/** Reads a regular file of at most `maxBytes`; anything else is a BoundedFileError. */
export async function readBoundedFile(path: string, options: BoundedReadOptions): Promise<Buffer> {
  refuseUnlessFits(path, await attempt(path, () => stat(path)), options.maxBytes);
  const handle = await attempt(path, () => open(path, OPEN_FLAGS));
  try {
    const opened = await attempt(path, () => handle.stat());
    refuseUnlessFits(path, opened, options.maxBytes);
    const plan = readPlan(path, opened.size, options);
    let step = plan.next();
    while (!step.done) {
      const { buffer, offset, length } = step.value;
      step = plan.next((await attempt(path, () => handle.read(buffer, offset, length, offset))).bytesRead);
    }
    return step.value;
  } finally {
    await handle.close();
  }
}

/** {@link readBoundedFile} for callers that cannot await (the simulated bus is opened synchronously). */
export function readBoundedFileSync(path: string, options: BoundedReadOptions): Buffer {
  refuseUnlessFits(path, attemptSync(path, () => statSync(path)), options.maxBytes);
  const fd = attemptSync(path, () => openSync(path, OPEN_FLAGS));
  try {
    const opened = attemptSync(path, () => fstatSync(fd));
    refuseUnlessFits(path, opened, options.maxBytes);
    const plan = readPlan(path, opened.size, options);
    let step = plan.next();
    while (!step.done) {
      const { buffer, offset, length } = step.value;
      step = plan.next(attemptSync(path, () => readSync(fd, buffer, offset, length, offset)));
    }
    return step.value;
  } finally {
    closeSync(fd);
  }
}

/**
 * O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer (fifo(7)); on a regular
 * file Linux ignores it for reads. O_NOCTTY: a terminal opened by mistake must not become the
 * gateway's controlling terminal. (Node adds O_CLOEXEC itself.)
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

function refuseUnlessFits(path: string, st: Stats, maxBytes: number): void {
  if (!st.isFile()) throw new BoundedFileError(path, 'not-regular', `is ${throughLink(path)}${kindOf(st)}, not a regular file`);
  if (st.size > maxBytes) throw new BoundedFileError(path, 'too-large', `is ${formatBytes(st.size)}, over the ${formatBytes(maxBytes)} this file may have`);
}

/** For the message only (an error path, one syscall): say that a link led there, lest `ls` of the path look fine. */
function throughLink(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? 'a symlink to ' : '';
  } catch {
    return '';
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

function formatBytes(n: number): string {
  return n >= 2 ** 20 ? `${+(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${+(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}

interface Read {
  buffer: Buffer;
  offset: number;
  length: number;
}

/**
 * What to read, written once for both readers: it yields each read (at file position = buffer
 * offset) and receives the bytes read, 0 at end of file. The buffer starts at what fstat
 * announced (or at the head alone, so a file refused by its first bytes costs no more than
 * them) and grows only for a file longer than announced, never past ceiling + 1.
 */
function* readPlan(path: string, announced: number, options: BoundedReadOptions): Generator<Read, Buffer, number> {
  const limit = options.maxBytes + 1;
  const expected = Math.min(announced, options.maxBytes) + 1;
  let buffer = Buffer.allocUnsafe(Math.min(expected, options.head?.bytes ?? expected));
  let length = 0;
  let eof = false;
  function* fill(upTo: number): Generator<Read, void, number> {
    while (length < upTo && !eof) {
      if (length === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(upTo, Math.max(expected, 2 * buffer.length, 4096)));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const n = yield { buffer, offset: length, length: Math.min(buffer.length, upTo) - length };
      if (n === 0) eof = true;
      else length += n;
    }
  }
  if (options.head) {
    yield* fill(options.head.bytes);
    options.head.check(buffer.subarray(0, length));
  }
  yield* fill(limit);
  if (length > options.maxBytes) {
    throw new BoundedFileError(path, 'too-large', `grew past the ${formatBytes(options.maxBytes)} this file may have while it was read (fstat said ${formatBytes(announced)})`);
  }
  return buffer.subarray(0, length);
}

async function attempt<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw unreadable(path, err);
  }
}

function attemptSync<T>(path: string, op: () => T): T {
  try {
    return op();
  } catch (err) {
    throw unreadable(path, err);
  }
}

function unreadable(path: string, err: unknown): BoundedFileError {
  const errno = (err as NodeJS.ErrnoException).code;
  return new BoundedFileError(path, 'unreadable', `cannot be read (${errno ?? String(err)})`, { errno, cause: err });
}
