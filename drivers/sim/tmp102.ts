import { monotonicMs, type Clock } from '../clock.ts';
import { GENERAL_CALL_RESET, SimI2CFault, type SimI2CDevice } from './sim-i2c-bus.ts';
import type { LineLevel, LineListener } from './open-drain-line.ts';
import { constantProfile, type TemperatureProfile } from './temperature-profile.ts';
import { Tmp102Chip } from './tmp102-chip.ts';
import { TMP102_CONVERSION_TIME_MS } from './tmp102-registers.ts';

/** Faults the simulated chip can be told to show. 'stuck' still answers, with a frozen temperature. */
export type Tmp102Fault = 'nack' | 'bus-error' | 'timeout' | 'stuck' | 'unplugged';
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
export interface Tmp102Script {
  /** The die temperature at `atMs` (a conversion's end), or undefined to use the chip's own profile. */
  celsiusAt(atMs: number): number | undefined;
  /** The fault in effect from `atMs` on (the script's state just after any transition at `atMs`). */
  faultAt(atMs: number): Tmp102Fault | undefined;
  /** Whether the script resets the chip (general call reset behind the module's back) exactly at `atMs`. */
  resetAt(atMs: number): boolean;
  /** The earliest instant in (afterMs, untilMs] at which the fault may change or a reset happens, or undefined. */
  nextTransition(afterMs: number, untilMs: number): number | undefined;
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
 * control) can drive the temperature, faults and resets; its changes join the same replay.
 */
export class SimulatedTmp102 implements SimI2CDevice {
  #clock: Clock;
  #chip: Tmp102Chip;
  #profile: TemperatureProfile;
  #profileOriginMs: number;
  /** The fault in effect: the injected one if any, else the script's. */
  #fault: Tmp102Fault | undefined;
  #injectedFault: Tmp102Fault | undefined;
  #script: Tmp102Script | undefined;
  #scriptFault: Tmp102Fault | undefined;
  /** Monotonic ms up to which the script's transitions have been applied. */
  #scriptedUntilMs = 0;
  #resets = 0;
  #stats = { transactions: 0, reads: 0, writes: 0, refused: 0, generalCalls: 0, alertResponses: 0 };

  constructor(options: SimulatedTmp102Options) {
    const conversionTimeMs = options.conversionTimeMs ?? TMP102_CONVERSION_TIME_MS.typical;
    if (!(conversionTimeMs > 0 && conversionTimeMs <= TMP102_CONVERSION_TIME_MS.max)) {
      throw new RangeError(`conversionTimeMs must be in (0, ${TMP102_CONVERSION_TIME_MS.max}], got ${conversionTimeMs}`);
    }
    this.#clock = options.clock;
    this.#profile = options.profile ?? constantProfile(21.5);
    this.#chip = new Tmp102Chip(conversionTimeMs, (endMs) => this.#sample(endMs));
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
  /** The fault the chip shows now: an injected one, else its script's. */
  get fault(): Tmp102Fault | undefined {
    return this.#fault;
  }
  get profile(): TemperatureProfile {
    return this.#profile;
  }
  get stats(): Tmp102Stats {
    return this.#access(() => ({ ...this.#stats, conversions: this.#chip.conversions }));
  }

  /** The ALERT line as a GPIO would read it, after catching up with time. */
  get alertPinLevel(): AlertLevel {
    return this.#access(() => this.#chip.alert.level);
  }

  /** Follow the ALERT line: each change with the simulated time it happened. Returns an unsubscribe function. */
  onAlertChange(listener: AlertListener): () => void {
    return this.#chip.alert.onChange(listener);
  }

  /** Catch up with the clock without touching the bus (conversions, fault queue, ALERT). */
  update(): void {
    this.#access(() => undefined);
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

  /** Show `fault` until clearFault(); it takes precedence over a script's fault. */
  inject(fault: Tmp102Fault): void {
    this.#access((now) => {
      this.#injectedFault = fault;
      this.#refreshFault(now);
    });
  }

  /**
   * Back to normal (or to the script's fault, if one is installed). A chip that was unplugged
   * comes back in its power-up state, as after a power cycle.
   */
  clearFault(): void {
    this.#access((now) => {
      this.#injectedFault = undefined;
      this.#refreshFault(now);
    });
  }

  /**
   * Reset behind the module's back, as a general call reset from another master would
   * (SBOS397 "General Call"): power-up register values, a fresh conversion from now. An
   * unplugged chip has no power to reset: nothing happens.
   */
  resetChip(): void {
    this.#access((now) => this.#reset(now));
  }

  /** Resets made by resetChip() or a script (not the module's own general calls). */
  get resets(): number {
    return this.#access(() => this.#resets);
  }

  /**
   * Follow `script` from now on (undefined: stop following one). Its fault applies at once; its
   * later transitions apply at their own times (see Tmp102Script).
   */
  setScript(script: Tmp102Script | undefined): void {
    this.#access((now) => {
      this.#script = script;
      this.#scriptedUntilMs = now;
      this.#scriptFault = script?.faultAt(now);
      this.#refreshFault(now);
    });
  }

  /**
   * The script changed its mind from now on (a live command: a jump, a pause, an override).
   * Call it right after the change, having touched the chip (update()) right before it, so
   * that the time before the change was replayed with the script as it was. Only the fault is
   * re-read: a reset at this instant is the caller's to make (resetChip()).
   */
  scriptChanged(): void {
    this.#access((now) => {
      this.#scriptFault = this.#script?.faultAt(now);
      this.#refreshFault(now);
    });
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
    this.#transaction(true, false, (now) => this.#chip.write(bytes, now));
  }

  onRead(length: number): Uint8Array {
    return this.#transaction(false, true, (now) => this.#chip.read(length, now));
  }

  onWriteRead(bytes: Uint8Array, length: number): Uint8Array {
    return this.#transaction(true, true, (now) => {
      this.#chip.write(bytes, now);
      return this.#chip.read(length, now);
    });
  }

  /** SBOS397 "General Call": the chip ACKs address 0x00; a second byte 0x06 resets it to power-up values. */
  onGeneralCall(bytes: Uint8Array): boolean {
    return this.#access((now) => {
      if (!this.#answers()) return false;
      this.#stats.generalCalls++;
      if (bytes[0] === GENERAL_CALL_RESET) this.#chip.powerUp(now);
      return true;
    });
  }

  smbusAlertPending(): boolean {
    return this.#access(() => this.#answers() && this.#chip.alertAsserted);
  }

  onSmbusAlertResponse(address: number): number {
    return this.#access((now) => {
      this.#stats.alertResponses++;
      return this.#chip.alertResponse(address, now);
    });
  }

  // ---- internals ----

  #sample(endMs: number): number | undefined {
    if (this.#fault === 'stuck') return undefined;
    return this.#celsiusAt(endMs);
  }

  #celsiusAt(atMs: number): number {
    const scripted = this.#script?.celsiusAt(atMs);
    if (scripted !== undefined) {
      if (!Number.isFinite(scripted)) throw new RangeError(`temperature script returned ${scripted}`);
      return scripted;
    }
    const celsius = this.#profile.celsiusAt(atMs - this.#profileOriginMs);
    if (!Number.isFinite(celsius)) throw new RangeError(`temperature profile "${this.#profile.description}" returned ${celsius}`);
    return celsius;
  }

  // Replays time up to `now`: each script transition in order, after the conversions that ended
  // at or before it, so the result does not depend on when the chip is touched.
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

  #answers(): boolean {
    return this.#chip.powered && (this.#fault === undefined || this.#fault === 'stuck');
  }

  // Every entry point: catch up with time first; deliver ALERT changes last, once state is consistent.
  #access<T>(body: (nowMs: number) => T): T {
    const now = monotonicMs(this.#clock);
    try {
      this.#catchUp(now);
      return body(now);
    } finally {
      this.#chip.alert.flush();
    }
  }

  #transaction<T>(write: boolean, read: boolean, body: (nowMs: number) => T): T {
    return this.#access((now) => {
      this.#stats.transactions++;
      if (!this.#answers()) {
        this.#stats.refused++;
        const code = this.#fault === 'bus-error' ? 'GW_ERR_I2C_BUS' : this.#fault === 'timeout' ? 'GW_ERR_I2C_TIMEOUT' : 'GW_ERR_I2C_NACK';
        throw new SimI2CFault(code, `simulated TMP102 fault: ${this.#fault}`);
      }
      if (write) this.#stats.writes++;
      if (read) this.#stats.reads++;
      return body(now);
    });
  }

  #refreshFault(now: number): void {
    const fault = this.#injectedFault ?? this.#scriptFault;
    const wasUnplugged = this.#fault === 'unplugged';
    this.#fault = fault;
    if (fault === 'unplugged' && !wasUnplugged) this.#chip.powerOff(now);
    else if (fault !== 'unplugged' && wasUnplugged) this.#chip.powerUp(now);
  }
}
