import { wordsWithCrc, sensirionCrc8 } from './crc8-sensirion.ts';
import { SimI2CFault } from './sim-i2c-bus.ts';
import {
  SHT3X_TIMING_MS,
  decodeSht3xCommand,
  periodicPeriodMs,
  type Sht3xCommand,
  type Sht3xLimitName,
  type Sht3xRate,
  type Sht3xRepeatability,
  type Sht3xTiming,
} from './sht3x-commands.ts';
import {
  SHT3X_DEFAULT_LIMITS,
  SHT3X_STATUS as ST,
  SHT3X_STATUS_AFTER_RESET,
  SHT3X_STATUS_CLEARABLE,
  sht3xCelsiusToRaw,
  sht3xDecodeLimit,
  sht3xPercentRhToRaw,
} from './sht3x-format.ts';
import { heatedEnvironment, type Sht3xEnvironment } from './sht3x-heater.ts';

export type Sht3xLimits = Record<Sht3xLimitName, number>;
export type Sht3xMode = 'single-shot' | 'periodic';

export interface Sht3xChipOptions {
  timing: Sht3xTiming;
  heaterRiseC: number;
  serialNumber: number;
  /** The environment at a measurement's end (before the heater's effect). */
  sample: (endMs: number) => Sht3xEnvironment;
}

interface RawResult {
  t: number;
  rh: number;
}

interface SingleShot {
  endMs: number;
  stretch: boolean;
}

interface Periodic {
  rate: Sht3xRate;
  art: boolean;
  repeatability: Sht3xRepeatability;
  nextStartMs: number;
  currentEndMs: number | undefined;
}

/** Commands a chip in periodic mode takes; the datasheet asks for Break before any other (section 4.5). */
const PERIODIC_MODE_COMMANDS = new Set<Sht3xCommand['kind']>([
  'fetch-data', 'break', 'soft-reset', 'heater', 'read-status', 'clear-status', 'read-limit', 'write-limit',
]);

/**
 * The SHT3x-DIS silicon (Sensirion datasheet version 6): command decoder, single shot and periodic
 * measurements, the output buffer a read header fetches, the status register, heater and alert
 * limits. It has no clock: every call says what time it is, after `catchUp(now)`. Faults,
 * statistics, profiles and clock stretching on the bus live in SimulatedSht3x.
 *
 * Refusals are thrown as SimI2CFault: a NACKed address or read header is GW_ERR_I2C_NACK; a NACKed
 * command byte (the address was acknowledged) is GW_ERR_I2C_BUS, as for the TMP102's pointer byte.
 * Choices where the datasheet is silent are marked "a guess" here and listed in the simulated SHT3x documentation ("Guesses").
 */
export class Sht3xChip {
  readonly #options: Sht3xChipOptions;
  #powered = false;
  /** No acknowledge before this time: power-up, reset, break (Table 4; section 4.8). */
  #readyAtMs = 0;
  #lastCommandAtMs = -Infinity;
  #status = 0;
  #limits: Sht3xLimits = { ...SHT3X_DEFAULT_LIMITS };
  #singleShot: SingleShot | undefined;
  #periodic: Periodic | undefined;
  /** Periodic mode's data memory: the latest result, cleared by Fetch Data (section 4.6). */
  #periodicResult: RawResult | undefined;
  /** What the next read header returns; undefined: the header is NACKed. */
  #output: Uint8Array | undefined;
  #alert = { t: false, rh: false };
  #frozen = false;
  #lastRaw: RawResult | undefined;
  #measurements = 0;

  constructor(options: Sht3xChipOptions) {
    this.#options = options;
  }

  get powered(): boolean {
    return this.#powered;
  }
  get mode(): Sht3xMode {
    return this.#periodic ? 'periodic' : 'single-shot';
  }
  get periodic(): { rate: Sht3xRate; art: boolean; repeatability: Sht3xRepeatability } | undefined {
    const p = this.#periodic;
    return p && { rate: p.rate, art: p.art, repeatability: p.repeatability };
  }
  get status(): number {
    return this.#status;
  }
  get heaterOn(): boolean {
    return (this.#status & ST.heaterOn) !== 0;
  }
  get limits(): Sht3xLimits {
    return { ...this.#limits };
  }
  get measurements(): number {
    return this.#measurements;
  }
  /** A measurement is running (single shot, or the current periodic one). */
  get measuring(): boolean {
    return this.#singleShot !== undefined || this.#periodic?.currentEndMs !== undefined;
  }
  /** A read header now would be acknowledged with data (single shot result, status, limit...). */
  get outputReady(): boolean {
    return this.#output !== undefined;
  }
  /** Periodic data memory holds a result Fetch Data would return. */
  get periodicDataReady(): boolean {
    return this.#periodicResult !== undefined;
  }
  /** When the next measurement ends, if one is running or scheduled. */
  get nextMeasurementEndMs(): number | undefined {
    if (!this.#powered) return undefined;
    if (this.#singleShot) return this.#singleShot.endMs;
    const p = this.#periodic;
    if (!p) return undefined;
    return p.currentEndMs ?? p.nextStartMs + this.#measurementMs(p.repeatability);
  }

  /** "Stuck" silicon: measurements still run and complete, but repeat the last result. */
  set frozen(frozen: boolean) {
    this.#frozen = frozen;
  }

  /** Power-up, nRESET or general call reset: idle in single shot mode after the power-up time (Table 4). */
  hardReset(now: number): void {
    this.#reset(now, this.#timing(SHT3X_TIMING_MS.powerUp));
  }

  powerOff(): void {
    this.#powered = false;
    this.#singleShot = undefined;
    this.#periodic = undefined;
    this.#periodicResult = undefined;
    this.#output = undefined;
  }

  /** Complete every measurement that ended at or before `now`, oldest first, and start the periodic ones due. */
  catchUp(now: number): void {
    if (!this.#powered) return;
    const single = this.#singleShot;
    if (single && single.endMs <= now) {
      this.#singleShot = undefined;
      const raw = this.#measure(single.endMs);
      this.#output = wordsWithCrc([raw.t, raw.rh]);
    }
    const p = this.#periodic;
    if (!p) return;
    for (;;) {
      if (p.currentEndMs !== undefined) {
        if (p.currentEndMs > now) return;
        const end = p.currentEndMs;
        p.currentEndMs = undefined;
        this.#periodicResult = this.#measure(end);
        this.#evaluateAlerts(this.#periodicResult);
      } else if (p.nextStartMs <= now) {
        p.currentEndMs = p.nextStartMs + this.#measurementMs(p.repeatability);
        p.nextStartMs += periodicPeriodMs(p.rate);
      } else {
        return;
      }
    }
  }

  /**
   * With a clock-stretching single shot running, a read header is acknowledged and SCL held low
   * until the result is ready (section 4.4): the time the stretch ends, or undefined.
   */
  clockStretchUntil(now: number): number | undefined {
    const single = this.#singleShot;
    if (!this.#powered || now < this.#readyAtMs || !single || !single.stretch || single.endMs <= now) return undefined;
    return single.endMs;
  }

  /** START, address+W, bytes, STOP: a 16-bit command, MSB first, then data words with their CRC. */
  write(bytes: Uint8Array, now: number): void {
    this.#acknowledgeAddress(now, 'write');
    if (bytes.length === 0) return; // SMBus quick write: address ACK only.
    if (bytes.length === 1) return; // Half a command: acknowledged, never executed (a guess).
    const code = (bytes[0]! << 8) | bytes[1]!;
    const command = decodeSht3xCommand(code);
    this.#lastCommandAtMs = now;
    if (!command || (this.#periodic && !PERIODIC_MODE_COMMANDS.has(command.kind))) {
      this.#status |= ST.commandFailed;
      const why = command ? 'not accepted in periodic mode: send Break (0x3093) first (section 4.5)' : 'unknown command';
      throw new SimI2CFault('GW_ERR_I2C_BUS', `command 0x${hex4(code)} NACKed: ${why}`);
    }
    // Read Status must report the previous command's outcome, so it alone leaves bit 1 alone.
    if (command.kind !== 'read-status') this.#status &= ~ST.commandFailed;
    this.#output = undefined;
    this.#execute(command, bytes, now);
  }

  /** START, address+R, `length` bytes, STOP: the output buffer, then released SDA (0xFF). */
  read(length: number, now: number): Uint8Array {
    this.#acknowledgeAddress(now, 'read');
    if (this.#singleShot && this.#singleShot.endMs > now) {
      throw new SimI2CFault('GW_ERR_I2C_NACK', 'read header NACKed: measurement still in progress (section 4.4, clock stretching disabled)');
    }
    const output = this.#output;
    if (!output) throw new SimI2CFault('GW_ERR_I2C_NACK', 'read header NACKed: no data to send (no measurement, or already read)');
    if (length === 0) return new Uint8Array(0);
    // The master may stop after any byte (section 4.4); unread bytes are lost with the buffer.
    const out = new Uint8Array(length).fill(0xff);
    out.set(output.subarray(0, length));
    this.#output = undefined;
    return out;
  }

  #execute(command: Sht3xCommand, bytes: Uint8Array, now: number): void {
    switch (command.kind) {
      case 'single-shot':
        this.#singleShot = { endMs: now + this.#measurementMs(command.repeatability), stretch: command.stretch };
        return;
      case 'periodic':
        this.#periodic = { rate: command.rate, art: command.art, repeatability: command.repeatability, nextStartMs: now, currentEndMs: undefined };
        this.#periodicResult = undefined;
        this.catchUp(now);
        return;
      case 'fetch-data':
        // "If no measurement data is present the I2C read header is responded with a NACK" (section 4.6).
        if (this.#periodicResult) this.#output = wordsWithCrc([this.#periodicResult.t, this.#periodicResult.rh]);
        this.#periodicResult = undefined;
        return;
      case 'break':
        if (!this.#periodic) return;
        this.#periodic = undefined;
        this.#periodicResult = undefined;
        this.#readyAtMs = now + this.#timing(SHT3X_TIMING_MS.break);
        return;
      case 'soft-reset':
        this.#reset(now, this.#timing(SHT3X_TIMING_MS.softReset));
        return;
      case 'heater':
        if (command.on) this.#status |= ST.heaterOn;
        else this.#status &= ~ST.heaterOn;
        return;
      case 'read-status':
        this.#output = wordsWithCrc([this.#status]);
        return;
      case 'clear-status':
        this.#status &= ~SHT3X_STATUS_CLEARABLE;
        return;
      case 'read-serial':
        this.#output = wordsWithCrc([this.#options.serialNumber >>> 16, this.#options.serialNumber & 0xffff]);
        return;
      case 'read-limit':
        this.#output = wordsWithCrc([this.#limits[command.limit]]);
        return;
      case 'write-limit':
        this.#writeLimit(command.limit, bytes);
        return;
    }
  }

  // "The sensor only accepts data if the checksum is correct" (section 4.12): a wrong or missing
  // CRC leaves the limit as it was and sets the write data checksum status bit.
  #writeLimit(limit: Sht3xLimitName, bytes: Uint8Array): void {
    const data = bytes.subarray(2, 5);
    if (data.length < 3 || sensirionCrc8(data.subarray(0, 2)) !== data[2]) {
      this.#status |= ST.writeChecksumFailed;
      return;
    }
    this.#status &= ~ST.writeChecksumFailed;
    this.#limits[limit] = (data[0]! << 8) | data[1]!;
  }

  // The chip does not acknowledge its address while it cannot listen: powered down, starting up,
  // resetting or leaving periodic mode (Table 4, section 4.8), during a single shot measurement
  // (a guess for writes; section 4.4 for reads, handled by the caller) and, for commands, within
  // 1 ms of the previous one (section 4).
  #acknowledgeAddress(now: number, transfer: 'read' | 'write'): void {
    if (!this.#powered) throw new SimI2CFault('GW_ERR_I2C_NACK', 'address NACKed: the chip is not powered');
    if (now < this.#readyAtMs) throw new SimI2CFault('GW_ERR_I2C_NACK', 'address NACKed: the chip is still starting up or resetting (Table 4)');
    if (transfer === 'read') return;
    if (this.#singleShot && this.#singleShot.endMs > now) {
      throw new SimI2CFault('GW_ERR_I2C_NACK', 'address NACKed: a single shot measurement is in progress');
    }
    if (now - this.#lastCommandAtMs < this.#timing(SHT3X_TIMING_MS.commandSpacing)) {
      throw new SimI2CFault('GW_ERR_I2C_NACK', 'address NACKed: less than 1 ms since the previous command (section 4)');
    }
  }

  #reset(now: number, durationMs: number): void {
    this.#powered = true;
    this.#readyAtMs = now + durationMs;
    this.#lastCommandAtMs = -Infinity;
    this.#status = SHT3X_STATUS_AFTER_RESET;
    this.#limits = { ...SHT3X_DEFAULT_LIMITS };
    this.#singleShot = undefined;
    this.#periodic = undefined;
    this.#periodicResult = undefined;
    this.#output = undefined;
    this.#alert = { t: false, rh: false };
  }

  #measure(endMs: number): RawResult {
    this.#measurements++;
    if (this.#frozen && this.#lastRaw) return this.#lastRaw;
    const environment = this.#options.sample(endMs);
    const sensed = heatedEnvironment(environment, this.heaterOn ? this.#options.heaterRiseC : 0);
    this.#lastRaw = { t: sht3xCelsiusToRaw(sensed.celsius), rh: sht3xPercentRhToRaw(sensed.percentRh) };
    return this.#lastRaw;
  }

  // Alert mode runs with periodic acquisition (Alert Mode note): a quantity's alert sets when it
  // goes above High Set or below Low Set and clears once back within [Low Clear, High Clear]; Low
  // Set above High Set disables it. The status flags latch until Clear Status (a guess).
  #evaluateAlerts(raw: RawResult): void {
    const highSet = sht3xDecodeLimit(this.#limits.highSet);
    const highClear = sht3xDecodeLimit(this.#limits.highClear);
    const lowClear = sht3xDecodeLimit(this.#limits.lowClear);
    const lowSet = sht3xDecodeLimit(this.#limits.lowSet);
    const track = (active: boolean, value: number, key: 'rawT' | 'rawRh'): boolean => {
      if (lowSet[key] > highSet[key]) return false;
      if (!active) return value > highSet[key] || value < lowSet[key];
      return !(value >= lowClear[key] && value <= highClear[key]);
    };
    this.#alert.t = track(this.#alert.t, raw.t, 'rawT');
    this.#alert.rh = track(this.#alert.rh, raw.rh, 'rawRh');
    if (this.#alert.t) this.#status |= ST.tTrackingAlert | ST.alertPending;
    if (this.#alert.rh) this.#status |= ST.rhTrackingAlert | ST.alertPending;
  }

  #measurementMs(repeatability: Sht3xRepeatability): number {
    return this.#timing(SHT3X_TIMING_MS.measurement[repeatability]);
  }

  #timing(spec: { typical: number; max: number }): number {
    return spec[this.#options.timing];
  }
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}
