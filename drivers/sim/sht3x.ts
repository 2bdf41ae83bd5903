import { monotonicMs, type Clock } from '../clock.ts';
import { constantHumidity, type HumidityProfile } from './humidity-profile.ts';
import { SimI2CFault, type SimI2CDevice } from './sim-i2c-bus.ts';
import { Sht3xChip, type Sht3xLimits, type Sht3xMode } from './sht3x-chip.ts';
import { SHT3X_GENERAL_CALL_RESET, type Sht3xRate, type Sht3xRepeatability, type Sht3xTiming } from './sht3x-commands.ts';
import { SHT3X_HEATER_RISE_C, type Sht3xEnvironment } from './sht3x-heater.ts';
import { constantProfile, type TemperatureProfile } from './temperature-profile.ts';
import type { Tmp102Script } from './tmp102.ts';

/** Faults the simulated chip can be told to show, as for the TMP102. 'stuck' still answers, with frozen results. */
export type Sht3xFault = 'nack' | 'bus-error' | 'timeout' | 'stuck' | 'unplugged';

export interface Sht3xStats {
  /** Transactions addressed to the chip (general calls are counted apart). */
  transactions: number;
  reads: number;
  writes: number;
  /** Transactions refused because of an injected fault. */
  refused: number;
  /** Transactions the chip itself refused (busy, no data yet, unknown command) or an over-long clock stretch failed. */
  nacked: number;
  generalCalls: number;
  measurements: number;
  /** Reads that were held by clock stretching, and the simulated time they waited in total. */
  clockStretches: number;
  clockStretchMs: number;
}

/**
 * A timed script the chip follows (scenarios, live control: drivers/sim/scenario-runner.ts), the
 * TMP102's (tmp102.ts, same conventions for one instant) plus the humidity: the air temperature
 * and humidity at each measurement's end, faults and resets at their exact times.
 */
export interface Sht3xScript extends Tmp102Script {
  /** The relative humidity at `atMs` (a measurement's end), or undefined to use the chip's own profile. */
  humidityAt(atMs: number): number | undefined;
}

export interface SimulatedSht3xOptions {
  clock: Clock;
  /** Air temperature at the sensor (default: constant 21.5 °C). */
  temperature?: TemperatureProfile;
  /** Relative humidity of that air (default: constant 45 %RH). */
  humidity?: HumidityProfile;
  /** Measurement, reset and power-up durations: 'max' (default, what a driver must wait) or 'typical' (Table 4). */
  timing?: Sht3xTiming;
  /** Die temperature rise with the heater on (default 3 °C: "a few degrees centigrade", section 4.10). */
  heaterRiseC?: number;
  /** 32-bit serial number the identification commands return (default 0x12345678: arbitrary). */
  serialNumber?: number;
  /**
   * How long the adapter lets a slave stretch SCL before giving up; a longer stretch fails the read
   * with GW_ERR_I2C_TIMEOUT after that time (default: no limit).
   */
  clockStretchLimitMs?: number;
}

/** What the chip holds now, read without a bus transaction. */
export interface Sht3xState {
  powered: boolean;
  mode: Sht3xMode;
  periodic: { rate: Sht3xRate; art: boolean; repeatability: Sht3xRepeatability } | undefined;
  /** The status register word as Read Status (0xF32D) would return it. */
  status: number;
  heaterOn: boolean;
  limits: Sht3xLimits;
  measuring: boolean;
  /** A read header now gets data. */
  outputReady: boolean;
  /** Periodic mode holds a result for Fetch Data. */
  periodicDataReady: boolean;
}

/**
 * A simulated Sensirion SHT3x-DIS (SHT30/31/35) for a SimulatedI2CBus: the command-level chip
 * (sht3x-chip.ts) plus what a bench adds around it: temperature and humidity sources, a clock,
 * injected faults, counters, and clock stretching on a bus that has no SCL.
 *
 * Clock stretching: the simulated bus is synchronous, so a transfer is a function call that
 * returns the bytes. A read header sent while a clock-stretching single shot runs is acknowledged
 * and the call blocks on the simulated clock (`clock.sleep`) until the measurement ends, then
 * returns the result: with a ManualClock, simulated time moves forward by the stretch and the test
 * never waits; with the system clock, the thread blocks as a real i2c-bus `*Sync` call would.
 * `clockStretchLimitMs` models an adapter that gives up first.
 *
 * Time is lazy, as for the TMP102: every access first completes each measurement that ended since
 * the last one, sampling the profiles at that measurement's end.
 */
export class SimulatedSht3x implements SimI2CDevice {
  #clock: Clock;
  #chip: Sht3xChip;
  #temperature: TemperatureProfile;
  #humidity: HumidityProfile;
  #temperatureOriginMs: number;
  #humidityOriginMs: number;
  #clockStretchLimitMs: number;
  /** The fault in effect: the injected one if any, else the script's. */
  #fault: Sht3xFault | undefined;
  #injectedFault: Sht3xFault | undefined;
  #script: Sht3xScript | undefined;
  #scriptFault: Sht3xFault | undefined;
  /** Monotonic ms up to which the script's transitions have been applied. */
  #scriptedUntilMs = 0;
  #resets = 0;
  #stats = { transactions: 0, reads: 0, writes: 0, refused: 0, nacked: 0, generalCalls: 0, clockStretches: 0, clockStretchMs: 0 };

  constructor(options: SimulatedSht3xOptions) {
    const heaterRiseC = options.heaterRiseC ?? SHT3X_HEATER_RISE_C;
    if (!(heaterRiseC >= 0 && heaterRiseC <= 20)) throw new RangeError(`heaterRiseC must be in [0, 20] °C, got ${heaterRiseC}`);
    const serialNumber = options.serialNumber ?? 0x12345678;
    if (!Number.isInteger(serialNumber) || serialNumber < 0 || serialNumber > 0xffffffff) {
      throw new RangeError(`serialNumber must be a 32-bit unsigned integer, got ${serialNumber}`);
    }
    const timing = options.timing ?? 'max';
    if (timing !== 'max' && timing !== 'typical') throw new RangeError(`timing must be 'max' or 'typical', got ${String(timing)}`);
    const limit = options.clockStretchLimitMs ?? Infinity;
    if (!(limit > 0)) throw new RangeError(`clockStretchLimitMs must be > 0, got ${limit}`);
    this.#clock = options.clock;
    this.#clockStretchLimitMs = limit;
    this.#temperature = options.temperature ?? constantProfile(21.5);
    this.#humidity = options.humidity ?? constantHumidity(45);
    this.#chip = new Sht3xChip({ timing, heaterRiseC, serialNumber, sample: (endMs) => this.#sample(endMs) });
    const now = monotonicMs(this.#clock);
    this.#temperatureOriginMs = now;
    this.#humidityOriginMs = now;
    this.#chip.hardReset(now);
  }

  get fault(): Sht3xFault | undefined {
    return this.#fault;
  }
  get temperatureProfile(): TemperatureProfile {
    return this.#temperature;
  }
  get humidityProfile(): HumidityProfile {
    return this.#humidity;
  }
  get stats(): Sht3xStats {
    return this.#access(() => ({ ...this.#stats, measurements: this.#chip.measurements }));
  }
  /** Monotonic ms at which the running or next scheduled measurement ends, or undefined. */
  get nextMeasurementEndMs(): number | undefined {
    return this.#access(() => this.#chip.nextMeasurementEndMs);
  }

  /** Catch up with the clock without touching the bus. */
  update(): void {
    this.#access(() => undefined);
  }

  /** Replace the temperature source; its time origin is now. Measurements that ended earlier used the old one. */
  setTemperatureProfile(profile: TemperatureProfile): void {
    this.#access((now) => {
      this.#temperature = profile;
      this.#temperatureOriginMs = now;
    });
  }
  setTemperature(celsius: number): void {
    this.setTemperatureProfile(constantProfile(celsius));
  }

  setHumidityProfile(profile: HumidityProfile): void {
    this.#access((now) => {
      this.#humidity = profile;
      this.#humidityOriginMs = now;
    });
  }
  setHumidity(percentRh: number): void {
    this.setHumidityProfile(constantHumidity(percentRh));
  }

  /** Show `fault` until clearFault(); it takes precedence over a script's fault. */
  inject(fault: Sht3xFault): void {
    this.#access((now) => {
      this.#injectedFault = fault;
      this.#refreshFault(now);
    });
  }

  /** Back to normal (or the script's fault). A chip that was unplugged comes back in its power-up state, as after a power cycle. */
  clearFault(): void {
    this.#access((now) => {
      this.#injectedFault = undefined;
      this.#refreshFault(now);
    });
  }

  /** Pulse nRESET (datasheet section 4.9): a hard reset, as at power-up. No effect on an unplugged chip. */
  resetChip(): void {
    this.#access((now) => this.#reset(now));
  }

  /** Resets made by resetChip() or a script (not the module's own general calls or soft resets). */
  get resets(): number {
    return this.#access(() => this.#resets);
  }

  /**
   * Follow `script` from now on (undefined: stop following one), as SimulatedTmp102.setScript:
   * its fault applies at once, its later transitions at their own times, each after the
   * measurements that ended at or before it.
   */
  setScript(script: Sht3xScript | undefined): void {
    this.#access((now) => {
      this.#script = script;
      this.#scriptedUntilMs = now;
      this.#scriptFault = script?.faultAt(now);
      this.#refreshFault(now);
    });
  }

  /** The script changed from now on (a live command); see SimulatedTmp102.scriptChanged. */
  scriptChanged(): void {
    this.#access((now) => {
      this.#scriptFault = this.#script?.faultAt(now);
      this.#refreshFault(now);
    });
  }

  /** The air temperature a measurement ending now would see (script, else profile; before the heater's rise). */
  get celsius(): number {
    return this.#access((now) => this.#environmentAt(now).celsius);
  }
  /** The relative humidity a measurement ending now would see (script, else profile). */
  get percentRh(): number {
    return this.#access((now) => this.#environmentAt(now).percentRh);
  }

  /** The chip's state now, without a bus transaction (nothing consumed, not counted). */
  peek(): Sht3xState {
    return this.#access(() => ({
      powered: this.#chip.powered,
      mode: this.#chip.mode,
      periodic: this.#chip.periodic,
      status: this.#chip.status,
      heaterOn: this.#chip.heaterOn,
      limits: this.#chip.limits,
      measuring: this.#chip.measuring,
      outputReady: this.#chip.outputReady,
      periodicDataReady: this.#chip.periodicDataReady,
    }));
  }

  // ---- SimI2CDevice ----

  onWrite(bytes: Uint8Array): void {
    this.#transaction(true, false, (now) => this.#chip.write(bytes, now));
  }

  onRead(length: number): Uint8Array {
    return this.#transaction(false, true, (now) => this.#read(length, now));
  }

  /** Command, repeated START, read: one transaction. With a stretching single shot the read waits for the result. */
  onWriteRead(bytes: Uint8Array, length: number): Uint8Array {
    return this.#transaction(true, true, (now) => {
      this.#chip.write(bytes, now);
      return this.#read(length, now);
    });
  }

  /** Section 4.9, Table 15: the chip acknowledges a general call; a second byte 0x06 resets it like nRESET. */
  onGeneralCall(bytes: Uint8Array): boolean {
    return this.#access((now) => {
      if (!this.#answers()) return false;
      this.#stats.generalCalls++;
      if (bytes[0] === SHT3X_GENERAL_CALL_RESET) this.#chip.hardReset(now);
      return true;
    });
  }

  // ---- internals ----

  #read(length: number, now: number): Uint8Array {
    const until = this.#chip.clockStretchUntil(now);
    if (until === undefined) return this.#chip.read(length, now);
    const waitMs = until - now;
    if (waitMs > this.#clockStretchLimitMs) {
      this.#sleep(this.#clockStretchLimitMs);
      this.#chip.catchUp(monotonicMs(this.#clock));
      throw new SimI2CFault('GW_ERR_I2C_TIMEOUT', `SCL held low for ${waitMs} ms, longer than the adapter's ${this.#clockStretchLimitMs} ms`);
    }
    this.#sleep(waitMs);
    this.#stats.clockStretches++;
    this.#stats.clockStretchMs += waitMs;
    // Never earlier than the measurement's end, whatever the float rounding of the clock.
    const after = Math.max(until, monotonicMs(this.#clock));
    this.#chip.catchUp(after);
    return this.#chip.read(length, after);
  }

  #sleep(ms: number): void {
    this.#clock.sleep(BigInt(Math.ceil(ms * 1e6)));
  }

  #sample(endMs: number): Sht3xEnvironment {
    return this.#environmentAt(endMs);
  }

  #environmentAt(endMs: number): Sht3xEnvironment {
    const celsius = this.#script?.celsiusAt(endMs) ?? this.#temperature.celsiusAt(endMs - this.#temperatureOriginMs);
    const percentRh = this.#script?.humidityAt(endMs) ?? this.#humidity.valueAt(endMs - this.#humidityOriginMs);
    if (!Number.isFinite(celsius)) throw new RangeError(`temperature profile "${this.#temperature.description}" returned ${celsius}`);
    if (!Number.isFinite(percentRh)) throw new RangeError(`humidity profile "${this.#humidity.description}" returned ${percentRh}`);
    return { celsius, percentRh };
  }

  #answers(): boolean {
    return this.#chip.powered && (this.#fault === undefined || this.#fault === 'stuck');
  }

  #access<T>(body: (nowMs: number) => T): T {
    const now = monotonicMs(this.#clock);
    this.#catchUp(now);
    return body(now);
  }

  // Replays time up to `now`: each script transition in order, after the measurements that
  // ended at or before it, so the result does not depend on when the chip is touched (as the TMP102).
  #catchUp(now: number): void {
    const script = this.#script;
    if (script) {
      for (;;) {
        const t = script.nextTransition(this.#scriptedUntilMs, now);
        if (t === undefined) break;
        if (!(t > this.#scriptedUntilMs && t <= now)) throw new RangeError(`script transition at ${t} ms is outside (${this.#scriptedUntilMs}, ${now}]`);
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
    this.#chip.hardReset(now);
  }

  #refreshFault(now: number): void {
    this.#setFault(this.#injectedFault ?? this.#scriptFault, now);
  }

  #transaction<T>(write: boolean, read: boolean, body: (nowMs: number) => T): T {
    return this.#access((now) => {
      this.#stats.transactions++;
      if (!this.#answers()) {
        this.#stats.refused++;
        const code = this.#fault === 'bus-error' ? 'GW_ERR_I2C_BUS' : this.#fault === 'timeout' ? 'GW_ERR_I2C_TIMEOUT' : 'GW_ERR_I2C_NACK';
        throw new SimI2CFault(code, `simulated SHT3x fault: ${this.#fault}`);
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

  #setFault(fault: Sht3xFault | undefined, now: number): void {
    const wasUnplugged = this.#fault === 'unplugged';
    this.#fault = fault;
    this.#chip.frozen = fault === 'stuck';
    if (fault === 'unplugged' && !wasUnplugged) this.#chip.powerOff();
    else if (fault !== 'unplugged' && wasUnplugged) this.#chip.hardReset(now);
  }
}
