/**
 * The WASI preview1 subset with hostile arguments, called directly as a guest would: nothing a
 * guest passes may make the host allocate what it asks for, throw, or log without bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { GuestMemory } from '../gateway/host/guest-memory.ts';
import { MAX_LOG_LINES_PER_CALL } from '../gateway/host/log-budget.ts';
import { WasiPreview1 } from '../gateway/host/wasi-preview1.ts';

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;

function setup(pages = 1) {
  const memory = new WebAssembly.Memory({ initial: pages });
  const logger = new MemoryLogger();
  const wasi = new WasiPreview1({ clock: new ManualClock(), logger, sleepBudgetMs: 1000 });
  wasi.bindMemory(new GuestMemory(memory));
  wasi.beginCall();
  const fns = wasi.imports() as unknown as Record<string, (...a: number[]) => number>;
  return { memory, logger, wasi, fns };
}

describe('WASI preview1 against hostile arguments', () => {
  it('random_get checks the buffer before allocating anything', () => {
    const { fns } = setup();
    const t0 = performance.now();
    assert.equal(fns['random_get']!(0, 0x7fffffff), ERRNO_FAULT);
    assert.equal(fns['random_get']!(0xfffffff0, 64), ERRNO_FAULT);
    assert.ok(performance.now() - t0 < 50, 'no 2 GiB allocation behind the refusal');
    assert.equal(fns['random_get']!(16, 32), ERRNO_SUCCESS);
  });

  it('fd_fdstat_get refuses negative and large descriptors', () => {
    const { fns } = setup();
    assert.equal(fns['fd_fdstat_get']!(-1, 0), ERRNO_BADF);
    assert.equal(fns['fd_fdstat_get']!(3, 0), ERRNO_BADF);
    assert.equal(fns['fd_fdstat_get']!(1, 0), ERRNO_SUCCESS);
  });

  it('fd_write of 60,000 newlines logs at most the per-call budget, and reports every byte written', () => {
    const { memory, logger, fns } = setup(2);
    const bytes = new Uint8Array(memory.buffer);
    bytes.fill(0x0a, 1024, 1024 + 60_000);
    const iov = new DataView(memory.buffer, 0, 8);
    iov.setUint32(0, 1024, true);
    iov.setUint32(4, 60_000, true);
    assert.equal(fns['fd_write']!(1, 0, 1, 16), ERRNO_SUCCESS);
    assert.equal(new DataView(memory.buffer).getUint32(16, true), 60_000);
    assert.ok(logger.entries.length <= MAX_LOG_LINES_PER_CALL + 1, `${logger.entries.length} entries`);
  });

  it('fd_write with an iovec past the end of memory is a fault, not an exception', () => {
    const { memory, fns } = setup();
    const iov = new DataView(memory.buffer, 0, 8);
    iov.setUint32(0, 0xffff0000, true);
    iov.setUint32(4, 0x20000, true);
    assert.equal(fns['fd_write']!(2, 0, 1, 16), ERRNO_FAULT);
    assert.equal(fns['fd_write']!(2, 0xfffffff8, 1, 16), ERRNO_FAULT);
  });
});
