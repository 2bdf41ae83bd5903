import { monotonicMs, type Clock } from '../clock.ts';
import { ChipFaults, type ChipFault, type FaultScript } from './chip-faults.ts';
import { FaultControlledDevice } from './fault-controlled-device.ts';
import { GENERAL_CALL_RESET, type SimI2CDevice } from './sim-i2c-bus.ts';
import type { LineLevel, LineListener } from './open-drain-line.ts';
import { constantProfile, type TemperatureProfile } from './temperature-profile.ts';
import { Tmp102Chip } from './tmp102-chip.ts';
import { TMP102_CONVERSION_TIME_MS } from './tmp102-registers.ts';

/** Faults the simulated chip can be told to show. 'stuck' still answers, with a frozen temperature. */
export type Tmp102Fault = ChipFault;
/** Electrical level of the open-drain ALERT line with its pull-up: 1 released/high, 0 pulled low. */
export type AlertLevel = LineLevel;
export type AlertListener = LineListener;

export interface Tmp102Stats {
  /** Transactions addressed to the chip (alert responses and general calls are counted apart). */
  transactions: number;
  reads: number;
  writes: number;
  /** Transactions refused because of an injected fault. */
  refused: number;
  generalCalls: number;
  alertResponses: number;
  conversions: number;
}

export interface SimulatedTmp102Options {
  clock: Clock;
  /** What the die measures (default: constant 21.5 °C). */
  profile?: TemperatureProfile;
  /** Conversion time: 26 ms typical, at most 35 ms (SBOS397 Electrical Characteristics). */
  conversionTimeMs?: number;
}

/**
 * A timed script the chip follows (drivers/sim/scenario-runner.ts implements it): the die
 * temperature and the faults as functions of the chip's clock (monotonic ms), plus the instants
 * where faults change or the chip is reset. The chip asks it during its lazy catch-up, so a
 * scripted change takes effect at its exact time however late the chip is next touched: each
 * transition is applied after replaying the conversions that ended at or before it.
 *
 * Convention for one instant `t`: a conversion that ends exactly at `t` still sees the state
 * before a transition at `t`; every bus transaction at `t` sees the state after it.
 */
export interface Tmp102Script extends FaultScript {
  /** The die temperature at `atMs` (a conversion's end), or undefined to use the chip's own profile. */
  celsiusAt(atMs: number): number | undefined;
}

export interface Tmp102Registers {
  pointer: number;
  temperature: number;
  configuration: number;
  tLow: number;
  tHigh: number;
}

/**
 * A simulated TMP102 for a SimulatedI2CBus: the register-level chip (tmp102-chip.ts) plus what a
 * bench would add around it: a temperature source, a clock, injected faults and counters.
 *
 * Time is lazy: every access first replays each conversion that ended since the last one,
 * sampling the profile at that conversion's end, so the fault queue and ALERT see every result
 * as on the real chip, however rarely the driver polls. A Tmp102Script (a scenario, live
 * control) can drive the temperature, faults and resets; its changes join the same replay
 * (chip-faults.ts keeps faults, script, resets and counters; the controls: fault-controlled-device.ts).
 *
 * resetChip() is a reset behind the module's back, as a general call reset from another master
 * would be (SBOS397 "General Call"): power-up register values, a fresh conversion from now.
 */
export class SimulatedTmp102 extends FaultControlledDevice<Tmp102Script> implements SimI2CDevice {
  #clock: Clock;
  #chip: Tmp102Chip;
  #faults: ChipFaults<Tmp102Script>;
  #profile: TemperatureProfile;
  #profileOriginMs: number;
  #stats = { generalCalls: 0, alertResponses: 0 };

  constructor(options: SimulatedTmp102Options) {
    const conversionTimeMs = options.conversionTimeMs ?? TMP102_CONVERSION_TIME_MS.typical;
    if (!(conversionTimeMs > 0 && conversionTimeMs <= TMP102_CONVERSION_TIME_MS.max)) {
      throw new RangeError(`conversionTimeMs must be in (0, ${TMP102_CONVERSION_TIME_MS.max}], got ${conversionTimeMs}`);
    }
    super();
    this.#clock = options.clock;
    this.#profile = options.profile ?? constantProfile(21.5);
    const chip = new Tmp102Chip(conversionTimeMs, (endMs) => this.#sample(endMs));
    this.#chip = chip;
    // Deliver ALERT changes last, once state is consistent.
    this.#faults = new ChipFaults({ clock: this.#clock, label: 'TMP102', chip, afterAccess: () => chip.alert.flush() });
    const now = monotonicMs(this.#clock);
    this.#profileOriginMs = now;
    this.#chip.powerUp(now);
  }

  /** Monotonic ms at which the next conversion ends, or undefined (shut down, unplugged). */
  get nextConversionEndMs(): number | undefined {
    return this.#chip.nextConversionEndMs;
  }

  get conversionTimeMs(): number {
    return this.#chip.conversionTimeMs;
  }
  protected override get faults(): ChipFaults<Tmp102Script> {
    return this.#faults;
  }
  get profile(): TemperatureProfile {
    return this.#profile;
  }
  get stats(): Tmp102Stats {
    return this.#access(() => {
      const { transactions, reads, writes, refused } = this.#faults.transactionStats;
      return { transactions, reads, writes, refused, ...this.#stats, conversions: this.#chip.conversions };
    });
  }

  /** The ALERT line as a GPIO would read it, after catching up with time. */
  get alertPinLevel(): AlertLevel {
    return this.#access(() => this.#chip.alert.level);
  }

  /** Follow the ALERT line: each change with the simulated time it happened. Returns an unsubscribe function. */
  onAlertChange(listener: AlertListener): () => void {
    return this.#chip.alert.onChange(listener);
  }

  /** Replace the temperature source; its time origin is now. Conversions that ended earlier used the old one. */
  setProfile(profile: TemperatureProfile): void {
    this.#access((now) => {
      this.#profile = profile;
      this.#profileOriginMs = now;
    });
  }

  setTemperature(celsius: number): void {
    this.setProfile(constantProfile(celsius));
  }

  /** The temperature the die feels now: what a conversion ending now would measure (unless stuck). */
  get dieCelsius(): number {
    return this.#access((now) => this.#celsiusAt(now));
  }

  /** Register words as the chip holds them now, without a bus transaction (no interrupt clear, not counted). */
  peek(): Tmp102Registers {
    return this.#access(() => ({
      pointer: this.#chip.pointer,
      temperature: this.#chip.registerWord(0),
      configuration: this.#chip.registerWord(1),
      tLow: this.#chip.registerWord(2),
      tHigh: this.#chip.registerWord(3),
    }));
  }

  // ---- SimI2CDevice ----

  onWrite(bytes: Uint8Array): void {
    this.#faults.transaction(true, false, (now) => this.#chip.write(bytes, now));
  }

  onRead(length: number): Uint8Array {
    return this.#faults.transaction(false, true, (now) => this.#chip.read(length, now));
  }

  onWriteRead(bytes: Uint8Array, length: number): Uint8Array {
    return this.#faults.transaction(true, true, (now) => {
      this.#chip.write(bytes, now);
      return this.#chip.read(length, now);
    });
  }

  /** SBOS397 "General Call": the chip ACKs address 0x00; a second byte 0x06 resets it to power-up values. */
  onGeneralCall(bytes: Uint8Array): boolean {
    return this.#access((now) => {
      if (!this.#faults.answers()) return false;
      this.#stats.generalCalls++;
      if (bytes[0] === GENERAL_CALL_RESET) this.#chip.powerUp(now);
      return true;
    });
  }

  smbusAlertPending(): boolean {
    return this.#access(() => this.#faults.answers() && this.#chip.alertAsserted);
  }

  onSmbusAlertResponse(address: number): number {
    return this.#access((now) => {
      this.#stats.alertResponses++;
      return this.#chip.alertResponse(address, now);
    });
  }

  // ---- internals ----

  #sample(endMs: number): number | undefined {
    if (this.#faults.fault === 'stuck') return undefined;
    return this.#celsiusAt(endMs);
  }

  #celsiusAt(atMs: number): number {
    const scripted = this.#faults.script?.celsiusAt(atMs);
    if (scripted !== undefined) {
      if (!Number.isFinite(scripted)) throw new RangeError(`temperature script returned ${scripted}`);
      return scripted;
    }
    const celsius = this.#profile.celsiusAt(atMs - this.#profileOriginMs);
    if (!Number.isFinite(celsius)) throw new RangeError(`temperature profile "${this.#profile.description}" returned ${celsius}`);
    return celsius;
  }

  #access<T>(body: (nowMs: number) => T): T {
    return this.#faults.access(body);
  }
}
