/**
 * A scenario's fault rules for one sensor, as pure functions of scenario time and the seed.
 *
 *   window  `fault` from `atMs` for `forMs`: active on [atMs, atMs + forMs)
 *   random  the span [fromMs, untilMs) cut into slots of `everyMs`; slot k carries `fault` on
 *           [start_k, start_k + forMs) (default: the whole slot, clipped at untilMs) when its
 *           draw, slotDraw(seed, sensor, rule index, k), is below `probability`
 *   reset   a general call reset behind the module's back at `atMs` (an event, not a state)
 *
 * When rules overlap, the most severe fault wins, in FAULT_SEVERITY order: unplugged (no chip
 * at all) > timeout > bus-error > nack > stuck (the chip still answers). The rule's index (its
 * place in the file) is part of its slots' hash: reordering rules redraws their slots.
 */
import { slotDraw } from './scenario-hash.ts';

/** The faults a scenario can give a simulated TMP102 (SimulatedTmp102's Tmp102Fault). */
export type ScenarioFault = 'nack' | 'bus-error' | 'timeout' | 'stuck' | 'unplugged';

/** Most severe first: the order in which overlapping faults win. */
export const FAULT_SEVERITY: readonly ScenarioFault[] = ['unplugged', 'timeout', 'bus-error', 'nack', 'stuck'];

export type FaultRule =
  | { kind: 'window'; fault: ScenarioFault; atMs: number; forMs: number }
  | { kind: 'random'; fault: ScenarioFault; fromMs: number; untilMs: number; everyMs: number; probability: number; forMs?: number }
  | { kind: 'reset'; atMs: number };

/**
 * The most slots one random rule may have. Finding the next change scans slots one by one; with
 * a small probability a scan may cross most of them. 10 million (a day in slots of 10 ms) keeps
 * the worst scan around a second; the runner scans in bounded steps anyway.
 */
export const MAX_RANDOM_SLOTS = 10_000_000;

export class FaultSchedule {
  readonly #rules: readonly FaultRule[];
  readonly #seed: number;
  readonly #sensor: string;

  constructor(rules: readonly FaultRule[], seed: number, sensor: string) {
    rules.forEach(checkRule);
    this.#rules = rules.map((r) => ({ ...r }));
    this.#seed = seed;
    this.#sensor = sensor;
  }

  get rules(): readonly FaultRule[] {
    return this.#rules;
  }

  /** The fault in effect at `tMs`, the most severe of the active rules; undefined when none is. */
  faultAt(tMs: number): ScenarioFault | undefined {
    let worst: number | undefined;
    this.#rules.forEach((rule, i) => {
      if (rule.kind === 'reset' || !this.#activeAt(rule, i, tMs)) return;
      const rank = FAULT_SEVERITY.indexOf(rule.fault);
      if (worst === undefined || rank < worst) worst = rank;
    });
    return worst === undefined ? undefined : FAULT_SEVERITY[worst];
  }

  /** Resets scheduled at or before `tMs`. */
  resetsUntil(tMs: number): number {
    return this.#rules.filter((r) => r.kind === 'reset' && r.atMs <= tMs).length;
  }

  /** Whether a reset is scheduled exactly at `tMs`. */
  resetAt(tMs: number): boolean {
    return this.#rules.some((r) => r.kind === 'reset' && r.atMs === tMs);
  }

  /** Whether slot `slot` of rule `ruleIndex` (a random rule) carries its fault. */
  slotActive(ruleIndex: number, slot: number): boolean {
    const rule = this.#rules[ruleIndex];
    if (rule?.kind !== 'random') throw new RangeError(`rule ${ruleIndex} is not a random rule`);
    return slotDraw(this.#seed, this.#sensor, ruleIndex, slot) < rule.probability;
  }

  /**
   * The first instant in (afterMs, untilMs] at which the fault in effect changes or a reset
   * happens, or undefined. A change hidden by a more severe overlapping fault is no change.
   */
  nextChangeAfter(afterMs: number, untilMs: number): number | undefined {
    let t = afterMs;
    let state = this.faultAt(afterMs);
    for (;;) {
      const c = this.#nextCandidate(t, untilMs);
      if (c === undefined) return undefined;
      const next = this.faultAt(c);
      if (next !== state || this.resetAt(c)) return c;
      state = next;
      t = c;
    }
  }

  #activeAt(rule: FaultRule, index: number, tMs: number): boolean {
    if (rule.kind === 'window') return rule.atMs <= tMs && tMs < rule.atMs + rule.forMs;
    if (rule.kind !== 'random' || tMs < rule.fromMs || tMs >= rule.untilMs) return false;
    const slot = Math.floor((tMs - rule.fromMs) / rule.everyMs);
    const start = rule.fromMs + slot * rule.everyMs;
    return tMs < start + (rule.forMs ?? rule.everyMs) && this.slotActive(index, slot);
  }

  // The earliest instant in (afterMs, untilMs] where some rule starts, ends or resets.
  #nextCandidate(afterMs: number, untilMs: number): number | undefined {
    let best: number | undefined;
    const offer = (c: number): void => {
      if (c > afterMs && c <= untilMs && (best === undefined || c < best)) best = c;
    };
    this.#rules.forEach((rule, i) => {
      if (rule.kind === 'reset') return offer(rule.atMs);
      if (rule.kind === 'window') {
        offer(rule.atMs);
        return offer(rule.atMs + rule.forMs);
      }
      const limit = Math.min(untilMs, best ?? Infinity);
      const length = rule.forMs ?? rule.everyMs;
      for (let k = Math.max(0, Math.floor((afterMs - rule.fromMs) / rule.everyMs)); ; k++) {
        const start = rule.fromMs + k * rule.everyMs;
        if (start >= rule.untilMs || start > limit) return;
        if (!this.slotActive(i, k)) continue;
        const end = Math.min(start + length, rule.untilMs);
        if (start > afterMs) return offer(start);
        if (end > afterMs) return offer(end);
      }
    });
    return best;
  }
}

function checkRule(rule: FaultRule, i: number): void {
  const time = (v: number, what: string): void => {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`fault rule ${i}: ${what} must be a finite number >= 0, got ${v}`);
  };
  const positive = (v: number, what: string): void => {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`fault rule ${i}: ${what} must be > 0, got ${v}`);
  };
  if (rule.kind !== 'reset' && !FAULT_SEVERITY.includes(rule.fault)) throw new RangeError(`fault rule ${i}: unknown fault ${JSON.stringify(rule.fault)}`);
  switch (rule.kind) {
    case 'reset':
      return time(rule.atMs, 'atMs');
    case 'window':
      time(rule.atMs, 'atMs');
      return positive(rule.forMs, 'forMs');
    case 'random':
      time(rule.fromMs, 'fromMs');
      positive(rule.everyMs, 'everyMs');
      if (!(rule.untilMs > rule.fromMs) || !Number.isFinite(rule.untilMs)) throw new RangeError(`fault rule ${i}: untilMs must be after fromMs`);
      if (!(rule.probability >= 0 && rule.probability <= 1)) throw new RangeError(`fault rule ${i}: probability must be 0..1, got ${rule.probability}`);
      if (rule.forMs !== undefined) {
        positive(rule.forMs, 'forMs');
        if (rule.forMs > rule.everyMs) throw new RangeError(`fault rule ${i}: forMs must be at most everyMs`);
      }
      if ((rule.untilMs - rule.fromMs) / rule.everyMs > MAX_RANDOM_SLOTS) throw new RangeError(`fault rule ${i}: more than ${MAX_RANDOM_SLOTS} slots`);
      return;
    default:
      throw new RangeError(`fault rule ${i}: unknown kind ${JSON.stringify((rule as { kind: unknown }).kind)}`);
  }
}
