/**
 * The bench machinery a simulated chip whose state moves with time wraps around its datasheet
 * model (SimulatedTmp102 around tmp102-chip.ts, SimulatedSht3x around sht3x-chip.ts): lazy
 * catch-up with the clock, injected and scripted faults, scripted resets, and the transaction
 * counters. What is datasheet-specific (what a reset or power-up does, what 'stuck' freezes) stays
 * with the chip, behind {@link TimedChip}.
 *
 * Time is lazy: every access first replays time up to now, each script transition in order after
 * the measurements that ended at or before it, so the result does not depend on when the chip is
 * touched. Convention for one instant `t`: a measurement that ends exactly at `t` still sees the
 * state before a transition at `t`; every bus transaction at `t` sees the state after it.
 */
import { monotonicMs, type Clock } from '../clock.ts';
import type { I2CErrorCode } from '../i2c-error.ts';
import { SimI2CFault } from './sim-i2c-bus.ts';

/** Faults a simulated device can be told to show. 'stuck' still answers, with frozen data. */
export type ChipFault = 'nack' | 'bus-error' | 'timeout' | 'stuck' | 'unplugged';

/** The part of a timed script (drivers/sim/scenario-runner.ts) that faults and resets come from. */
export interface FaultScript {
  /** The fault in effect from `atMs` on (the script's state just after any transition at `atMs`). */
  faultAt(atMs: number): ChipFault | undefined;
  /** Whether the script resets the chip (behind the module's back) exactly at `atMs`. */
  resetAt(atMs: number): boolean;
  /** The earliest instant in (afterMs, untilMs] at which the fault may change or a reset happens, or undefined. */
  nextTransition(afterMs: number, untilMs: number): number | undefined;
}

/** What the chip's datasheet model gives the machinery; all times are monotonic ms. */
export interface TimedChip {
  /** False once powered off (unplugged); a reset then does nothing. */
  readonly powered: boolean;
  /** Complete each measurement that ended at or before `nowMs`. */
  catchUp(nowMs: number): void;
  /** The power-up state: a reset, or the end of an unplugged spell. */
  powerUp(nowMs: number): void;
  powerOff(nowMs: number): void;
  /** Told the fault in effect each time it is worked out, before any power change. */
  faultChanged?(fault: ChipFault | undefined): void;
}

/** Transactions addressed to the chip, as every simulated chip counts them. */
export interface TransactionStats {
  transactions: number;
  reads: number;
  writes: number;
  /** Refused because of an injected or scripted fault. */
  refused: number;
  /** Refused by the chip itself (its model threw a SimI2CFault). */
  nacked: number;
}

export interface ChipFaultsOptions {
  clock: Clock;
  /** Names the chip in a refusal's detail: "simulated TMP102 fault: nack". */
  label: string;
  chip: TimedChip;
  /** After every access, failed ones included, once the state is consistent (the TMP102 delivers ALERT changes there). */
  afterAccess?: () => void;
}

/** The bus error a fault shows as: a NACK unless the fault says otherwise (errors.md, GW_ERR_I2C_*). */
export function faultErrorCode(fault: ChipFault | undefined): I2CErrorCode {
  return fault === 'bus-error' ? 'GW_ERR_I2C_BUS' : fault === 'timeout' ? 'GW_ERR_I2C_TIMEOUT' : 'GW_ERR_I2C_NACK';
}

export class ChipFaults<S extends FaultScript = FaultScript> {
  readonly #clock: Clock;
  readonly #label: string;
  readonly #chip: TimedChip;
  readonly #afterAccess: (() => void) | undefined;
  /** The fault in effect: the injected one if any, else the script's. */
  #fault: ChipFault | undefined;
  #injected: ChipFault | undefined;
  #script: S | undefined;
  #scriptFault: ChipFault | undefined;
  /** Monotonic ms up to which the script's transitions have been applied. */
  #scriptedUntilMs = 0;
  #resets = 0;
  readonly #stats: TransactionStats = { transactions: 0, reads: 0, writes: 0, refused: 0, nacked: 0 };

  constructor(options: ChipFaultsOptions) {
    this.#clock = options.clock;
    this.#label = options.label;
    this.#chip = options.chip;
    this.#afterAccess = options.afterAccess;
  }

  /** The fault in effect as of the last access (reading it does not catch up). */
  get fault(): ChipFault | undefined {
    return this.#fault;
  }
  get script(): S | undefined {
    return this.#script;
  }
  /** Resets made by resetChip() or the script (not the module's own). */
  get resets(): number {
    return this.access(() => this.#resets);
  }
  /** The counters as they stand (call inside access() to catch up first). */
  get transactionStats(): TransactionStats {
    return { ...this.#stats };
  }

  update(): void {
    this.access(() => undefined);
  }

  /** Show `fault` until clearFault(); it takes precedence over a script's fault. */
  inject(fault: ChipFault): void {
    this.access((now) => {
      this.#injected = fault;
      this.#refreshFault(now);
    });
  }

  /** Back to the script's fault or none; the end of an unplugged spell is a power-up. */
  clearFault(): void {
    this.access((now) => {
      this.#injected = undefined;
      this.#refreshFault(now);
    });
  }

  /** A reset behind the module's back; an unplugged chip has no power to reset. */
  resetChip(): void {
    this.access((now) => this.#reset(now));
  }

  /** Follow `script` from now on (undefined: none). Its fault applies at once, its later transitions at their own times. */
  setScript(script: S | undefined): void {
    this.access((now) => {
      this.#script = script;
      this.#scriptedUntilMs = now;
      this.#scriptFault = script?.faultAt(now);
      this.#refreshFault(now);
    });
  }

  /**
   * The script changed its mind from now on (a live command: a jump, a pause, an override). Call
   * it right after the change, having touched the chip (update()) right before it, so that the
   * time before the change was replayed with the script as it was. Only the fault is re-read: a
   * reset at this instant is the caller's to make (resetChip()).
   */
  scriptChanged(): void {
    this.access((now) => {
      this.#scriptFault = this.#script?.faultAt(now);
      this.#refreshFault(now);
    });
  }

  /** Whether the chip acknowledges its address now ('stuck' still does). */
  answers(): boolean {
    return this.#chip.powered && (this.#fault === undefined || this.#fault === 'stuck');
  }

  /** What a transaction refused by the fault in effect gets: its bus error, the fault named in the detail. */
  refusal(): SimI2CFault {
    return new SimI2CFault(faultErrorCode(this.#fault), `simulated ${this.#label} fault: ${this.#fault}`);
  }

  /** Every entry point: catch up with time, then `body` at the same instant. */
  access<T>(body: (nowMs: number) => T): T {
    const now = monotonicMs(this.#clock);
    try {
      this.#catchUp(now);
      return body(now);
    } finally {
      this.#afterAccess?.();
    }
  }

  /** One bus transaction: counted, refused with the fault's bus error, else `body`'s answer. */
  transaction<T>(write: boolean, read: boolean, body: (nowMs: number) => T): T {
    return this.access((now) => {
      this.#stats.transactions++;
      if (!this.answers()) {
        this.#stats.refused++;
        throw this.refusal();
      }
      if (write) this.#stats.writes++;
      if (read) this.#stats.reads++;
      try {
        return body(now);
      } catch (err) {
        if (err instanceof SimI2CFault) this.#stats.nacked++;
        throw err;
      }
    });
  }

  #catchUp(now: number): void {
    const script = this.#script;
    if (script) {
      for (;;) {
        const t = script.nextTransition(this.#scriptedUntilMs, now);
        if (t === undefined) break;
        if (!(t > this.#scriptedUntilMs && t <= now)) {
          throw new RangeError(`script transition at ${t} ms is outside (${this.#scriptedUntilMs}, ${now}]`);
        }
        this.#chip.catchUp(t);
        this.#scriptedUntilMs = t;
        this.#scriptFault = script.faultAt(t);
        this.#refreshFault(t);
        if (script.resetAt(t)) this.#reset(t);
      }
      if (now > this.#scriptedUntilMs) this.#scriptedUntilMs = now;
    }
    this.#chip.catchUp(now);
  }

  #reset(now: number): void {
    if (!this.#chip.powered) return;
    this.#resets++;
    this.#chip.powerUp(now);
  }

  #refreshFault(now: number): void {
    const fault = this.#injected ?? this.#scriptFault;
    const wasUnplugged = this.#fault === 'unplugged';
    this.#fault = fault;
    this.#chip.faultChanged?.(fault);
    if (fault === 'unplugged' && !wasUnplugged) this.#chip.powerOff(now);
    else if (fault !== 'unplugged' && wasUnplugged) this.#chip.powerUp(now);
  }
}
