/**
 * OSCORE sender sequence numbers that are never reused (gateway/coap/oscore/sequence-store.ts,
 * RFC 8613 section 7.5.1, Appendix B.1.1): the file holds a bound above every number handed
 * out, persisted before the numbers are used. A crash is simulated in-process by opening a
 * copy of the file (what a killed process leaves), and for real by a child process killed with
 * SIGKILL at random moments while it hands out numbers as fast as it can.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAX_SEQUENCE_NUMBER } from '../gateway/coap/oscore/replay-window.ts';
import { DEFAULT_SEQUENCE_RESERVE, MemorySequence, PersistedSequence } from '../gateway/coap/oscore/sequence-store.ts';
import { prng } from './helpers/prng.ts';

const root = mkdtempSync(join(tmpdir(), 'oscore-seq-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

/** A path nobody used yet, in a directory that does not exist yet. */
function freshFile(): string {
  files++;
  return join(root, `ctx-${files}`, 'sender.seq');
}

/** The bound the file holds, read as a restarted process would. */
function boundIn(file: string): number {
  const match = /^oscore-sender-sequence-bound (\d+)\n$/.exec(readFileSync(file, 'utf8'));
  assert.ok(match, `bound file ${file}`);
  return Number(match[1]);
}

function writeBound(file: string, bound: number | string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, typeof bound === 'number' ? `oscore-sender-sequence-bound ${bound}\n` : bound);
}

/** What a process killed right now leaves: the file as it is, opened under another name. */
function crashCopy(file: string): string {
  const copy = freshFile();
  mkdirSync(join(copy, '..'), { recursive: true });
  copyFileSync(file, copy);
  return copy;
}

function take(sequence: { next(): number }, count: number): number[] {
  return Array.from({ length: count }, () => sequence.next());
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => (err as { code?: string }).code === code;
}

describe('PersistedSequence: a new context', () => {
  it('starts at 0, and the bound is on disk before the first number is handed out', async () => {
    const file = freshFile();
    const sequence = await PersistedSequence.open(file, { reserve: 100 });
    assert.equal(boundIn(file), 100, 'persisted by open, before next()');
    assert.deepEqual(take(sequence, 3), [0, 1, 2]);
    await sequence.close();
  });

  it('creates the directory 0700 and the file 0600', async () => {
    const file = freshFile();
    const sequence = await PersistedSequence.open(file);
    assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(boundIn(file), DEFAULT_SEQUENCE_RESERVE);
    await sequence.close();
  });
});

describe('PersistedSequence: restarts', () => {
  it('after a crash, resumes above every number handed out', async () => {
    const file = freshFile();
    const sequence = await PersistedSequence.open(file, { reserve: 10 });
    const handedOut = take(sequence, 37);
    const restarted = await PersistedSequence.open(crashCopy(file), { reserve: 10 });
    const first = restarted.next();
    assert.ok(first > Math.max(...handedOut), `${first} after ${Math.max(...handedOut)}`);
    await restarted.close();
    await sequence.close();
  });

  it('after a clean close, resumes at exactly the next number (a clean stop burns nothing)', async () => {
    const file = freshFile();
    const sequence = await PersistedSequence.open(file, { reserve: 1000 });
    take(sequence, 5);
    await sequence.close();
    assert.equal(boundIn(file), 5);
    const reopened = await PersistedSequence.open(file, { reserve: 1000 });
    assert.equal(reopened.next(), 5);
    await reopened.close();
  });

  it('never hands out a number the file does not cover, even when the event loop never turns', async () => {
    const file = freshFile();
    const sequence = await PersistedSequence.open(file, { reserve: 4 });
    // A synchronous loop: no background write can land, so every bound comes from the
    // synchronous path, and a crash at any point leaves a bound above what was handed out.
    for (let i = 0; i < 200; i++) {
      const seq = sequence.next();
      assert.ok(boundIn(file) > seq, `bound ${boundIn(file)} after handing out ${seq}`);
    }
    await sequence.close();
  });

  it('persists the next bound in the background at half the reserve', async () => {
    const file = freshFile();
    const sequence = await PersistedSequence.open(file, { reserve: 100 });
    take(sequence, 49);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(boundIn(file), 100, 'nothing written before half the reserve is used');
    take(sequence, 1);
    await until(() => boundIn(file) === 150, 'the background write');
    await sequence.close();
  });
});

describe('PersistedSequence: refusals', () => {
  const corrupt: Array<[string, string]> = [
    ['empty', ''],
    ['garbage', 'hello\n'],
    ['a bare number', '12345\n'],
    ['a negative bound', 'oscore-sender-sequence-bound -5\n'],
    ['a fraction', 'oscore-sender-sequence-bound 1.5\n'],
    ['a leading zero', 'oscore-sender-sequence-bound 012\n'],
    ['no newline (a torn write)', 'oscore-sender-sequence-bound 12'],
    ['trailing bytes', 'oscore-sender-sequence-bound 12\nx'],
    ['above 2^40', `oscore-sender-sequence-bound ${2 ** 40 + 1}\n`],
  ];
  for (const [what, text] of corrupt) {
    it(`a corrupt file (${what}) is refused, naming the file, and left as it was`, async () => {
      const file = freshFile();
      writeBound(file, text);
      await assert.rejects(PersistedSequence.open(file), (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'GW_ERR_OSCORE_SEQUENCE_STORE');
        assert.ok(err.message.includes(file), err.message);
        return true;
      });
      assert.equal(readFileSync(file, 'utf8'), text, 'never overwritten with a fresh start');
    });
  }

  it('an unreadable file (a directory in its place) is refused', async () => {
    const file = freshFile();
    mkdirSync(file, { recursive: true });
    await assert.rejects(PersistedSequence.open(file), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
  });

  it('a second PersistedSequence on one file in this process is refused until the first closes', async () => {
    const file = freshFile();
    const first = await PersistedSequence.open(file);
    await assert.rejects(PersistedSequence.open(file), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
    await assert.rejects(PersistedSequence.open(join(file, '..', '.', 'sender.seq')), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
    first.next();
    await first.close();
    assert.throws(() => first.next(), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
    const second = await PersistedSequence.open(file);
    assert.equal(second.next(), 1);
    await second.close();
  });

  it('two opens racing on one file: exactly one wins', async () => {
    const file = freshFile();
    const results = await Promise.allSettled([PersistedSequence.open(file), PersistedSequence.open(file)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    for (const r of results) if (r.status === 'fulfilled') await r.value.close();
  });

  it('a failed open releases the file (it can be opened once repaired)', async () => {
    const file = freshFile();
    writeBound(file, 'garbage');
    await assert.rejects(PersistedSequence.open(file), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
    writeBound(file, 7);
    const sequence = await PersistedSequence.open(file);
    assert.equal(sequence.next(), 7);
    await sequence.close();
  });

  it('refuses a reserve that is not a positive integer', async () => {
    for (const reserve of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(PersistedSequence.open(freshFile(), { reserve }), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
    }
  });
});

describe('Sequence numbers run out at 2^40 - 1 (section 7.2.1)', () => {
  it('PersistedSequence hands out 2^40 - 1 last, then refuses, also after a restart', async () => {
    const file = freshFile();
    writeBound(file, MAX_SEQUENCE_NUMBER - 1);
    const sequence = await PersistedSequence.open(file, { reserve: 1000 });
    assert.equal(boundIn(file), 2 ** 40, 'the bound never goes past 2^40');
    assert.deepEqual(take(sequence, 2), [MAX_SEQUENCE_NUMBER - 1, MAX_SEQUENCE_NUMBER]);
    assert.throws(() => sequence.next(), isCode('GW_ERR_OSCORE_SEQUENCE_EXHAUSTED'));
    assert.throws(() => sequence.next(), isCode('GW_ERR_OSCORE_SEQUENCE_EXHAUSTED'));
    await sequence.close();
    const reopened = await PersistedSequence.open(file);
    assert.throws(() => reopened.next(), isCode('GW_ERR_OSCORE_SEQUENCE_EXHAUSTED'));
    await reopened.close();
  });

  it('MemorySequence counts from its start and runs out at the same place', () => {
    assert.deepEqual(take(new MemorySequence(), 3), [0, 1, 2]);
    const sequence = new MemorySequence(MAX_SEQUENCE_NUMBER);
    assert.equal(sequence.next(), MAX_SEQUENCE_NUMBER);
    assert.throws(() => sequence.next(), isCode('GW_ERR_OSCORE_SEQUENCE_EXHAUSTED'));
    assert.throws(() => new MemorySequence(-1), isCode('GW_ERR_OSCORE_SEQUENCE_STORE'));
  });
});

describe('PersistedSequence: killed with SIGKILL at random moments', () => {
  const child = fileURLToPath(new URL('./helpers/sequence-writer-child.ts', import.meta.url));

  /**
   * Runs the child on `file` until it printed a first number, lets it go on for `runMs`, kills
   * it with SIGKILL and returns every complete line it printed.
   */
  async function runAndKill(file: string, reserve: number, runMs: number): Promise<number[]> {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, file, String(reserve)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const exited = new Promise<NodeJS.Signals | null>((r) => proc.on('exit', (_code, signal) => r(signal)));
    const started = new Promise<void>((r) => proc.stdout.on('data', (d) => ((out += d), r())));
    await Promise.race([started, exited]);
    if (out === '') assert.fail(`the child printed nothing: ${err}`);
    await new Promise((r) => setTimeout(r, runMs));
    proc.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', `the child died by itself: ${err}`);
    // A kill can cut the last line short (in practice a small pipe write is atomic).
    return out.split('\n').slice(0, -1).map(Number);
  }

  for (const reserve of [8, 64]) {
    it(`no number printed in one run is printed again in a later run (reserve ${reserve}, 10 kills)`, { timeout: 120_000 }, async () => {
      const seed = Date.now() >>> 0;
      const random = prng(seed);
      const file = freshFile();
      const printed = new Set<number>();
      let highest = -1;
      for (let round = 0; round < 10; round++) {
        const numbers = await runAndKill(file, reserve, Math.floor(random() * 40));
        for (const seq of numbers) {
          assert.ok(!printed.has(seq), `seed ${seed}, round ${round}: ${seq} was handed out again`);
          printed.add(seq);
        }
        assert.ok(numbers[0]! > highest, `seed ${seed}, round ${round} started at ${numbers[0]}, below ${highest}`);
        highest = numbers.at(-1)!;
      }
    });
  }
});
