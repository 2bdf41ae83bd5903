import { monotonicMs, type Clock } from '../clock.ts';
import { ChipFaults, type ChipFault } from './chip-faults.ts';
import { FaultControlledDevice } from './fault-controlled-device.ts';
import { constantHumidity, type HumidityProfile } from './humidity-profile.ts';
import { SimI2CFault, type SimI2CDevice } from './sim-i2c-bus.ts';
import { Sht3xChip, type Sht3xLimits, type Sht3xMode } from './sht3x-chip.ts';
import { SHT3X_GENERAL_CALL_RESET, type Sht3xRate, type Sht3xRepeatability, type Sht3xTiming } from './sht3x-commands.ts';
import { SHT3X_HEATER_RISE_C, type Sht3xEnvironment } from './sht3x-heater.ts';
import { constantProfile, type TemperatureProfile } from './temperature-profile.ts';
import type { Tmp102Script } from './tmp102.ts';

/** Faults the simulated chip can be told to show, as for the TMP102. 'stuck' still answers, with frozen results. */
export type Sht3xFault = ChipFault;

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

/** A profile and the monotonic ms it was installed at: its time origin (profiles count from 0). */
interface Installed<P> {
  readonly profile: P;
  readonly originMs: number;
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
 * the last one, sampling the profiles at that measurement's end. Faults, script, resets and
 * counters: chip-faults.ts, as for the TMP102; 'stuck' freezes the chip's results, and a reset
 * (resetChip(), a script's) pulses nRESET (datasheet section 4.9): a hard reset, as at power-up.
 */
export class SimulatedSht3x extends FaultControlledDevice<Sht3xScript> implements SimI2CDevice {
  #clock: Clock;
  #chip: Sht3xChip;
  #faults: ChipFaults<Sht3xScript>;
  #temperature: Installed<TemperatureProfile>;
  #humidity: Installed<HumidityProfile>;
  #clockStretchLimitMs: number;
  #stats = { generalCalls: 0, clockStretches: 0, clockStretchMs: 0 };

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
    super();
    this.#clock = options.clock;
    this.#clockStretchLimitMs = limit;
    const chip = new Sht3xChip({ timing, heaterRiseC, serialNumber, sample: (endMs) => this.#sample(endMs) });
    this.#chip = chip;
    this.#faults = new ChipFaults({
      clock: this.#clock,
      label: 'SHT3x',
      chip: {
        get powered() {
          return chip.powered;
        },
        catchUp: (now) => chip.catchUp(now),
        powerUp: (now) => chip.hardReset(now),
        powerOff: () => chip.powerOff(),
        faultChanged: (fault) => {
          chip.frozen = fault === 'stuck';
        },
      },
    });
    const now = monotonicMs(this.#clock);
    this.#temperature = { profile: options.temperature ?? constantProfile(21.5), originMs: now };
    this.#humidity = { profile: options.humidity ?? constantHumidity(45), originMs: now };
    this.#chip.hardReset(now);
  }

  protected override get faults(): ChipFaults<Sht3xScript> {
    return this.#faults;
  }
  get temperatureProfile(): TemperatureProfile {
    return this.#temperature.profile;
  }
  get humidityProfile(): HumidityProfile {
    return this.#humidity.profile;
  }
  get stats(): Sht3xStats {
    return this.#access(() => ({ ...this.#faults.transactionStats, ...this.#stats, measurements: this.#chip.measurements }));
  }
  /** Monotonic ms at which the running or next scheduled measurement ends, or undefined. */
  get nextMeasurementEndMs(): number | undefined {
    return this.#access(() => this.#chip.nextMeasurementEndMs);
  }

  /** Replace the temperature source; its time origin is now. Measurements that ended earlier used the old one. */
  setTemperatureProfile(profile: TemperatureProfile): void {
    this.#access((now) => (this.#temperature = { profile, originMs: now }));
  }
  setTemperature(celsius: number): void {
    this.setTemperatureProfile(constantProfile(celsius));
  }

  setHumidityProfile(profile: HumidityProfile): void {
    this.#access((now) => (this.#humidity = { profile, originMs: now }));
  }
  setHumidity(percentRh: number): void {
    this.setHumidityProfile(constantHumidity(percentRh));
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
    this.#faults.transaction(true, false, (now) => this.#chip.write(bytes, now));
  }

  onRead(length: number): Uint8Array {
    return this.#faults.transaction(false, true, (now) => this.#read(length, now));
  }

  /** Command, repeated START, read: one transaction. With a stretching single shot the read waits for the result. */
  onWriteRead(bytes: Uint8Array, length: number): Uint8Array {
    return this.#faults.transaction(true, true, (now) => {
      this.#chip.write(bytes, now);
      return this.#read(length, now);
    });
  }

  /** Section 4.9, Table 15: the chip acknowledges a general call; a second byte 0x06 resets it like nRESET. */
  onGeneralCall(bytes: Uint8Array): boolean {
    return this.#access((now) => {
      if (!this.#faults.answers()) return false;
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
    const script = this.#faults.script;
    const { profile: temperature, originMs: temperatureOriginMs } = this.#temperature;
    const { profile: humidity, originMs: humidityOriginMs } = this.#humidity;
    const celsius = script?.celsiusAt(endMs) ?? temperature.celsiusAt(endMs - temperatureOriginMs);
    const percentRh = script?.humidityAt(endMs) ?? humidity.valueAt(endMs - humidityOriginMs);
    if (!Number.isFinite(celsius)) throw new RangeError(`temperature profile "${temperature.description}" returned ${celsius}`);
    if (!Number.isFinite(percentRh)) throw new RangeError(`humidity profile "${humidity.description}" returned ${percentRh}`);
    return { celsius, percentRh };
  }

  #access<T>(body: (nowMs: number) => T): T {
    return this.#faults.access(body);
  }
}
