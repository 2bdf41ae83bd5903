/**
 * The OSCORE replay window (gateway/coap/oscore/replay-window.ts, RFC 8613 section 7.4): a
 * sliding bitmap window of the numbers received, unknown after a start until an Echo exchange
 * starts it (Appendix B.1.2), for sequence numbers up to 2^40 - 1 (section 7.2.1). The edge
 * cases are pinned one by one; a seeded random run compares the window with a plain model (a
 * set of every number accepted) over many thousands of steps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SEQUENCE_NUMBER, ReplayWindow } from '../gateway/coap/oscore/replay-window.ts';
import { prng } from './helpers/prng.ts';

/** A window started at `start` that then accepted each of `accepted`. */
function windowAt(start: number, accepted: number[] = [], size?: number): ReplayWindow {
  const window = new ReplayWindow(size);
  window.initializeAt(start);
  for (const seq of accepted) window.accept(seq);
  return window;
}

/** What check says for every number from `from` to `to`. */
function verdicts(window: ReplayWindow, from: number, to: number): string[] {
  const out: string[] = [];
  for (let seq = from; seq <= to; seq++) out.push(`${seq}:${window.check(seq)}`);
  return out;
}

function assertReplayError(fn: () => void): void {
  assert.throws(fn, (err: { code?: string }) => err.code === 'GW_ERR_OSCORE_REPLAY');
}

describe('ReplayWindow: after a start (Appendix B.1.2)', () => {
  it('is uninitialized and says so for every valid number, so the caller asks for Echo', () => {
    const window = new ReplayWindow();
    assert.equal(window.initialized, false);
    assert.equal(window.size, 32);
    for (const seq of [0, 1, 31, 32, 1_000_000, MAX_SEQUENCE_NUMBER]) assert.equal(window.check(seq), 'uninitialized');
  });

  it('refuses accept before initializeAt: a request cannot open the window without Echo', () => {
    const window = new ReplayWindow();
    assertReplayError(() => window.accept(5));
    assert.equal(window.initialized, false);
  });

  it('initializeAt accepts its number; the next one is ok; anything below it is too-old', () => {
    const window = windowAt(1000);
    assert.equal(window.initialized, true);
    assert.equal(window.check(1000), 'replay');
    assert.equal(window.check(1001), 'ok');
    assert.equal(window.check(999), 'too-old', 'what came before the window was lost is unknown');
    assert.equal(window.check(969), 'too-old');
    window.accept(1001);
    assert.equal(window.check(1001), 'replay');
  });

  it('the first packet after initializeAt(0), and numbers out of order after it', () => {
    const window = windowAt(0);
    assert.equal(window.check(0), 'replay');
    assert.equal(window.check(1), 'ok');
    window.accept(3);
    assert.equal(window.check(1), 'ok', 'lost or reordered, not yet received');
    assert.equal(window.check(2), 'ok');
    window.accept(1);
    assert.deepEqual(verdicts(window, 0, 4), ['0:replay', '1:replay', '2:ok', '3:replay', '4:ok']);
  });

  it('initializeAt on a started window never moves it back (it is accept)', () => {
    const window = windowAt(100, [101, 102]);
    assertReplayError(() => window.initializeAt(50));
    assertReplayError(() => window.initializeAt(101));
    assert.equal(window.check(101), 'replay');
    window.initializeAt(110);
    assert.equal(window.check(110), 'replay');
    assert.equal(window.check(102), 'replay');
    assert.equal(window.check(103), 'ok');
  });
});

describe('ReplayWindow: the edges (section 7.4, RFC 6347 section 4.1.2.6)', () => {
  it('the left edge: right - size + 1 is in the window, right - size is too-old', () => {
    const window = windowAt(0, [100]);
    assert.equal(window.check(69), 'ok', '100 - 32 + 1 = 69 is the oldest number the window holds');
    assert.equal(window.check(68), 'too-old');
    window.accept(69);
    assert.equal(window.check(69), 'replay');
    window.accept(101);
    assert.equal(window.check(69), 'too-old', 'one step right pushes 69 out');
    assert.equal(window.check(70), 'ok');
  });

  it('replays anywhere inside the window, in any order', () => {
    const accepted = [200, 195, 199, 171, 180, 198];
    const window = windowAt(170, accepted.slice(1));
    window.accept(accepted[0]!);
    for (const seq of [170, ...accepted]) assert.equal(window.check(seq), 'replay', `${seq}`);
    for (const seq of [172, 179, 181, 194, 196, 197]) assert.equal(window.check(seq), 'ok', `${seq}`);
    assertReplayError(() => window.accept(195));
  });

  it('a jump of more than the window forgets everything before it, whatever the bitmap positions', () => {
    const window = windowAt(10, [11, 12, 20, 41]);
    window.accept(41 + 1000);
    assert.equal(window.check(41), 'too-old');
    assert.equal(window.check(1041 - 31), 'ok', 'left edge, same bitmap position as an old number');
    for (let seq = 1010; seq < 1041; seq++) assert.equal(window.check(seq), 'ok', `${seq} was never received`);
    assert.equal(window.check(1041), 'replay');
  });

  it('a jump of exactly the window size, and of one less', () => {
    const exact = windowAt(10);
    exact.accept(42);
    assert.equal(exact.check(10), 'too-old');
    assert.deepEqual(new Set(verdicts(exact, 11, 41).map((v) => v.split(':')[1])), new Set(['ok']));
    const oneLess = windowAt(10);
    oneLess.accept(41);
    assert.equal(oneLess.check(10), 'replay', '10 is still in the window [10, 41]');
    assert.deepEqual(new Set(verdicts(oneLess, 11, 40).map((v) => v.split(':')[1])), new Set(['ok']));
  });

  it('works up to 2^40 - 1, the largest Partial IV (section 7.2.1)', () => {
    const top = MAX_SEQUENCE_NUMBER;
    const window = windowAt(top - 40);
    window.accept(top);
    assert.equal(window.check(top), 'replay');
    assert.equal(window.check(top - 1), 'ok');
    assert.equal(window.check(top - 31), 'ok');
    assert.equal(window.check(top - 32), 'too-old');
    window.accept(top - 31);
    assert.equal(window.check(top - 31), 'replay');
    assert.equal(window.check(top + 1), 'too-old', '2^40 is no Partial IV');
    assert.equal(windowAt(top).check(top), 'replay');
  });
});

describe('ReplayWindow: numbers no Partial IV can carry', () => {
  const invalid = [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40, 2 ** 53, -0.5];

  it('are too-old, initialized or not, and accept refuses them', () => {
    const fresh = new ReplayWindow();
    const started = windowAt(5);
    for (const seq of invalid) {
      assert.equal(fresh.check(seq), 'too-old', `${seq}`);
      assert.equal(started.check(seq), 'too-old', `${seq}`);
      assertReplayError(() => started.accept(seq));
    }
    assert.deepEqual(verdicts(started, 5, 6), ['5:replay', '6:ok']);
  });

  it('initializeAt refuses them as a malformed option (a Partial IV is at most 5 bytes)', () => {
    for (const seq of invalid) {
      const window = new ReplayWindow();
      assert.throws(() => window.initializeAt(seq), (err: { code?: string }) => err.code === 'GW_ERR_OSCORE_BAD_OPTION');
      assert.equal(window.initialized, false);
    }
  });

  it('refuses a size outside 1..4096 (memory stays bounded)', () => {
    for (const size of [0, -1, 1.5, 4097, Number.NaN]) {
      assert.throws(() => new ReplayWindow(size), (err: { code?: string }) => err.code === 'GW_ERR_CONFIG_INVALID');
    }
  });
});

describe('ReplayWindow: check never changes the window', () => {
  it('checking numbers far right, far left and inside leaves every answer as it was', () => {
    const window = windowAt(500, [501, 505, 530]);
    const before = verdicts(window, 480, 600);
    for (const seq of [10_000, MAX_SEQUENCE_NUMBER, 499, 505, 531, 0]) window.check(seq);
    assert.deepEqual(verdicts(window, 480, 600), before);
    const fresh = new ReplayWindow();
    fresh.check(7);
    assert.equal(fresh.initialized, false);
  });
});

describe('ReplayWindow: against a model, seeded random steps', () => {
  /** The window as the RFC describes it: every number accepted, and the highest. */
  function modelVerdict(received: Set<number>, right: number, floor: number, size: number, seq: number): string {
    if (seq > right) return 'ok';
    if (seq < Math.max(floor, right - size + 1)) return 'too-old';
    return received.has(seq) ? 'replay' : 'ok';
  }

  for (const size of [1, 32, 33, 64, 100]) {
    it(`size ${size}: the same answer as the model at every step`, () => {
      const seed = 0x5eed + size;
      const random = prng(seed);
      const start = Math.floor(random() * 2 ** 39);
      const window = windowAt(start, [], size);
      const received = new Set([start]);
      let right = start;
      for (let step = 0; step < 20_000; step++) {
        // Mostly near the right edge, sometimes a jump, sometimes far left.
        const r = random();
        const offset = r < 0.8 ? Math.floor(random() * size * 2) - size : r < 0.95 ? Math.floor(random() * size * 3) : -Math.floor(random() * 1e6);
        const seq = right + offset;
        const expected = seq < 0 ? 'too-old' : modelVerdict(received, right, start, size, seq);
        assert.equal(window.check(seq), expected, `seed ${seed} step ${step} seq ${seq}`);
        if (expected === 'ok' && random() < 0.7) {
          window.accept(seq);
          received.add(seq);
          right = Math.max(right, seq);
        }
      }
    });
  }
});
