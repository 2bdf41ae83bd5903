import { ConversionTimer } from './conversion-timer.ts';
import { OpenDrainLine, type LineLevel } from './open-drain-line.ts';
import { SimI2CFault } from './sim-i2c-bus.ts';
import { Tmp102Thermostat } from './tmp102-alert.ts';
import {
  TMP102_CONFIG as CFG,
  TMP102_CONFIG_WRITABLE,
  TMP102_CONVERSION_PERIOD_MS,
  TMP102_FAULT_QUEUE,
  TMP102_POWER_ON,
  celsiusToCount,
  limitRegisterMask,
  limitRegisterToCount,
  temperatureCountToRegister,
} from './tmp102-registers.ts';

/** Stored configuration bits: R1R0 and the writable ones. OS and AL are computed on read. */
const CONFIG_STORED = CFG.R1R0 | TMP102_CONFIG_WRITABLE;

/**
 * The TMP102's silicon (TI SBOS397): pointer, four registers, the conversion timer, the
 * thermostat and the ALERT output. It has no clock of its own: every call says what time it is,
 * after `catchUp(now)` has replayed the conversions that ended before. Faults, statistics and
 * the temperature source live in SimulatedTmp102, which wraps this.
 *
 * Choices where the datasheet is silent (see also tmp102-registers.ts):
 * - A pointer byte with P7..P2 set is NACKed (GW_ERR_I2C_BUS: the address was acknowledged, a data
 *   byte was not) and the pointer keeps its old value.
 * - Writes to the read-only temperature register are acknowledged and ignored; data bytes beyond
 *   the second are acknowledged and ignored; reads beyond two bytes repeat MSB, LSB.
 * - OS reads 0 in continuous mode (the power-up value 0x60A0 has OS=0); in shutdown it reads 0
 *   while a conversion runs and 1 otherwise ("One-Shot/Conversion Ready (OS)").
 * - The temperature register keeps the format of the conversion that wrote it; D0 says which.
 *   Limit registers store 13 bits and are read and compared in the current EM format.
 */
export class Tmp102Chip {
  /** The ALERT pin, for a simulated GPIO to follow. */
  readonly alert = new OpenDrainLine();
  #sample: (endMs: number) => number | undefined;
  #timer: ConversionTimer;
  #thermostat = new Tmp102Thermostat();
  #powered = false;
  #pointer = 0;
  #config = 0;
  #tLow = 0;
  #tHigh = 0;
  #temperature = 0;
  #temperatureCount = 0;
  #conversions = 0;

  /** `sample(endMs)` gives the die temperature at a conversion's end, or undefined to keep the old result (a stuck chip). */
  constructor(conversionTimeMs: number, sample: (endMs: number) => number | undefined) {
    this.#timer = new ConversionTimer(conversionTimeMs);
    this.#sample = sample;
  }

  get powered(): boolean {
    return this.#powered;
  }
  get pointer(): number {
    return this.#pointer;
  }
  get conversions(): number {
    return this.#conversions;
  }
  /** When the next conversion ends (ALERT can only change then); undefined when none is due. */
  get nextConversionEndMs(): number | undefined {
    return this.#powered ? this.#timer.nextEndMs() : undefined;
  }

  get conversionTimeMs(): number {
    return this.#timer.conversionTimeMs;
  }

  catchUp(now: number): void {
    if (this.#powered) this.#timer.catchUp(now, this.#periodMs, (endMs) => this.#completeConversion(endMs));
  }

  // Power-up and general call reset: registers to their reset values, comparator mode, and the
  // first conversion starts at once; until it ends the temperature register reads 0 °C.
  powerUp(now: number): void {
    this.#powered = true;
    this.#pointer = 0;
    this.#config = TMP102_POWER_ON.configuration & CONFIG_STORED;
    this.#tLow = TMP102_POWER_ON.tLow;
    this.#tHigh = TMP102_POWER_ON.tHigh;
    this.#temperature = TMP102_POWER_ON.temperature;
    this.#temperatureCount = 0;
    this.#thermostat = new Tmp102Thermostat();
    this.#timer.restart(now, this.#periodMs);
    this.#updatePin(now);
  }

  /** Power lost: no conversions, and the open-drain output lets the pull-up win. */
  powerOff(now: number): void {
    this.#powered = false;
    this.#timer.stopNow();
    this.#updatePin(now);
  }

  /** START, address+W, bytes: pointer byte, then up to two data bytes, MSB first. */
  write(bytes: Uint8Array, now: number): void {
    if (bytes.length === 0) return; // SMBus quick write: address ACK only.
    const pointer = bytes[0]!;
    if ((pointer & 0xfc) !== 0) {
      throw new SimI2CFault('GW_ERR_I2C_BUS', `pointer byte 0x${pointer.toString(16)} NACKed: P7..P2 must be 0 (SBOS397 "Pointer Register")`);
    }
    // The pointer persists until the next write: a plain read reads this register again.
    this.#pointer = pointer;
    if (bytes.length === 1 || pointer === 0) return;
    // "All registers are updated byte by byte": a lone MSB keeps the old LSB.
    const old = this.registerWord(pointer);
    const word = (bytes[1]! << 8) | (bytes.length >= 3 ? bytes[2]! : old & 0xff);
    if (pointer === 1) this.#writeConfig(word, now);
    else if (pointer === 2) this.#tLow = word & 0xfff8;
    else this.#tHigh = word & 0xfff8;
  }

  /** START, address+R, `length` bytes of the register the pointer selects. */
  read(length: number, now: number): Uint8Array {
    const word = this.registerWord(this.#pointer);
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = i % 2 === 0 ? word >> 8 : word & 0xff;
    // Interrupt mode: "cleared by a read operation of any register" ("Thermostat Mode (TM)").
    if (length > 0 && this.#thermostat.clearInterrupt()) this.#updatePin(now);
    return out;
  }

  /** A register as the bus would read it now (OS and AL computed), without side effects. */
  registerWord(pointer: number): number {
    const extended = (this.#config & CFG.EM) !== 0;
    switch (pointer) {
      case 0:
        return this.#temperature;
      case 1: {
        const shutdown = (this.#config & CFG.SD) !== 0;
        const os = shutdown && !this.#timer.converting ? CFG.OS : 0;
        // AL: POL=0 reads 1 until the comparator fires, then 0; POL inverts it ("Alert (AL Bit)").
        const al = this.#thermostat.comparatorActive === this.#pol ? CFG.AL : 0;
        return this.#config | os | al;
      }
      case 2:
        return this.#tLow & limitRegisterMask(extended);
      default:
        return this.#tHigh & limitRegisterMask(extended);
    }
  }

  /** Whether the chip takes part in an SMBus alert response: its ALERT output is asserted. */
  get alertAsserted(): boolean {
    return this.#powered && this.#thermostat.pinActive(this.#interruptMode);
  }

  /**
   * SBOS397 "SMBus Alert Function": the winner sends its address in the upper seven bits; the LSB
   * gives the cause (POL=0: 0 for T >= T_HIGH, 1 for T < T_LOW; POL=1 inverts it). In interrupt
   * mode this clears the alert; in comparator mode only the temperature drives ALERT (guess).
   */
  alertResponse(address: number, now: number): number {
    const cause = this.#interruptMode ? this.#thermostat.cause : 'high';
    const flag = (cause === 'low') !== this.#pol ? 1 : 0;
    if (this.#interruptMode && this.#thermostat.clearInterrupt()) this.#updatePin(now);
    return ((address << 1) | flag) & 0xff;
  }

  get #interruptMode(): boolean {
    return (this.#config & CFG.TM) !== 0;
  }
  get #pol(): boolean {
    return (this.#config & CFG.POL) !== 0;
  }
  get #periodMs(): number {
    return TMP102_CONVERSION_PERIOD_MS[(this.#config & CFG.CR1CR0) >> 6]!;
  }

  #writeConfig(word: number, now: number): void {
    const old = this.#config;
    const next = CFG.R1R0 | (word & TMP102_CONFIG_WRITABLE);
    this.#config = next;
    const wasShutdown = (old & CFG.SD) !== 0;
    const shutdown = (next & CFG.SD) !== 0;
    if ((old ^ next) & CFG.TM) this.#thermostat.resetInterrupt();
    if (shutdown && !wasShutdown) {
      // "Shut down after the current conversion"; entering shutdown also clears an interrupt.
      this.#timer.stopAfterCurrent();
      this.#thermostat.clearInterrupt();
    } else if (!shutdown && wasShutdown) {
      this.#timer.startContinuous(now, this.#periodMs);
    } else if (!shutdown && (old ^ next) & CFG.CR1CR0) {
      this.#timer.changePeriod(now, this.#periodMs);
    }
    // One-shot: OS=1 while shut down starts a conversion; one already running serves as it.
    if (shutdown && (word & CFG.OS) !== 0) this.#timer.startOneShot(now);
    this.#updatePin(now);
  }

  #completeConversion(endMs: number): void {
    this.#conversions++;
    const extended = (this.#config & CFG.EM) !== 0;
    const celsius = this.#sample(endMs);
    if (celsius !== undefined) {
      this.#temperatureCount = celsiusToCount(celsius, extended);
      this.#temperature = temperatureCountToRegister(this.#temperatureCount, extended);
    }
    const faults = TMP102_FAULT_QUEUE[(this.#config & CFG.F1F0) >> 11]!;
    const tLow = limitRegisterToCount(this.#tLow, extended);
    const tHigh = limitRegisterToCount(this.#tHigh, extended);
    this.#thermostat.evaluate(this.#temperatureCount, tLow, tHigh, faults, this.#interruptMode);
    this.#updatePin(endMs);
  }

  // ALERT is open-drain: POL=0 pulls low when active; POL=1 pulls low when inactive ("Polarity (POL)").
  #updatePin(atMs: number): void {
    let level: LineLevel = 1;
    if (this.#powered) level = this.#thermostat.pinActive(this.#interruptMode) === this.#pol ? 1 : 0;
    this.alert.set(level, atMs);
  }
}
