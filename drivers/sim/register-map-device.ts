/**
 * `"device": "registers"`: a generic register-map chip, for a module author whose chip has no
 * model of its own here. Most I2C sensors (TMP102, LM75, MCP9808, BME280, INA219...) follow the
 * same pattern, which this implements:
 *
 *   write   [pointer, data...]   sets the register pointer; data bytes, if any, are written to
 *                                 the pointed register and the following ones (auto-increment,
 *                                 width/8 bytes each, in the configured byte order)
 *   read    n bytes              the pointed register and the following ones, n bytes in all;
 *                                 a register number the map does not define reads 0xFF bytes
 *                                 (a released bus); the pointer itself does not move
 *
 * Refusals: a pointer to a register the map does not define is NACKed; a write to a register
 * that is not `writable` is NACKed (`readOnlyWrite: "nack"`, the default; nothing is written)
 * or acknowledged and dropped (`"ignore"`). A trailing incomplete word is dropped. A NACKed data
 * byte is reported as GW_ERR_I2C_BUS, as for the TMP102's pointer byte (the address was
 * acknowledged; on a Pi every NACK reads as GW_ERR_I2C_NACK).
 *
 * Profiles: a register with a profile holds round(value(t) * scale + offset), taken each time
 * it is read, clamped to what `width` bits hold (-(2^(w-1)) .. 2^w - 1) and stored as two's
 * complement, so a TMP102-like temperature register is `scale: 256` (1/16 °C per count, left
 * aligned by 4 bits: SBOS397 "Temperature Register"). Time is the device's clock since it was
 * made. A register with a profile is read-only. Faults: drivers/sim/simulated-device.ts
 * (DeviceFaults); 'stuck' freezes the profiles; a reset restores the initial values and pointer 0.
 */
import { monotonicMs, type Clock } from '../clock.ts';
import { SimI2CFault, type SimI2CDevice } from './sim-i2c-bus.ts';
import { FaultControlledDevice } from './fault-controlled-device.ts';
import { DeviceFaults, type FaultOnlyDevice } from './simulated-device.ts';

export type RegisterWidth = 8 | 16;
export type RegisterByteOrder = 'msb-first' | 'lsb-first';

export interface RegisterProfile {
  register: number;
  /** The quantity at `tMs` since the device was made. */
  valueAt(tMs: number): number;
  /** register = round(value * scale + offset). */
  scale: number;
  offset: number;
  description: string;
}

export interface RegisterMapOptions {
  clock: Clock;
  width: RegisterWidth;
  /** Default 'msb-first' (wire order of most sensors: TMP102, LM75). */
  byteOrder?: RegisterByteOrder;
  /** Register number -> initial (power-up) value. Only these registers exist. */
  registers: ReadonlyMap<number, number>;
  /** Registers a write may change (default none). */
  writable?: readonly number[];
  /** What a write to another register does (default 'nack'). */
  readOnlyWrite?: 'nack' | 'ignore';
  profiles?: readonly RegisterProfile[];
}

export class RegisterMapDevice extends FaultControlledDevice implements SimI2CDevice, FaultOnlyDevice {
  readonly kind = 'registers' as const;
  readonly description: string;
  readonly #clock: Clock;
  readonly #width: RegisterWidth;
  readonly #bytes: number;
  readonly #byteOrder: RegisterByteOrder;
  readonly #initial: ReadonlyMap<number, number>;
  readonly #writable: ReadonlySet<number>;
  readonly #readOnlyWrite: 'nack' | 'ignore';
  readonly #profiles = new Map<number, RegisterProfile>();
  readonly #faults: DeviceFaults;
  readonly #originMs: number;
  #values = new Map<number, number>();
  #pointer = 0;

  constructor(options: RegisterMapOptions) {
    super();
    const { width } = options;
    if (width !== 8 && width !== 16) throw new RangeError(`width must be 8 or 16, got ${String(width)}`);
    if (options.registers.size === 0) throw new RangeError('a register map needs at least one register');
    const max = 2 ** width - 1;
    for (const [register, value] of options.registers) {
      assertRegister(register);
      if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`register 0x${hex(register)}: initial value must be 0..${max}, got ${value}`);
    }
    for (const register of options.writable ?? []) {
      if (!options.registers.has(register)) throw new RangeError(`writable register 0x${hex(register)} is not in the map`);
    }
    for (const p of options.profiles ?? []) {
      if (!options.registers.has(p.register)) throw new RangeError(`profile register 0x${hex(p.register)} is not in the map`);
      if (options.writable?.includes(p.register)) throw new RangeError(`register 0x${hex(p.register)} has a profile: it cannot be writable`);
      if (this.#profiles.has(p.register)) throw new RangeError(`register 0x${hex(p.register)} has two profiles`);
      if (!Number.isFinite(p.scale) || !Number.isFinite(p.offset)) throw new RangeError(`register 0x${hex(p.register)}: scale and offset must be finite`);
      this.#profiles.set(p.register, p);
    }
    this.#clock = options.clock;
    this.#width = width;
    this.#bytes = width / 8;
    this.#byteOrder = options.byteOrder ?? 'msb-first';
    this.#initial = new Map(options.registers);
    this.#writable = new Set(options.writable ?? []);
    this.#readOnlyWrite = options.readOnlyWrite ?? 'nack';
    this.#originMs = monotonicMs(this.#clock);
    this.#faults = new DeviceFaults(this.#clock, 'register map', () => this.#powerUp());
    this.#powerUp();
    const profiles = [...this.#profiles.values()].map((p) => `0x${hex(p.register)} = ${p.description} x ${p.scale}${p.offset ? ` + ${p.offset}` : ''}`);
    this.description = `register map (${options.registers.size} ${width}-bit registers, ${this.#byteOrder}${profiles.length ? `; ${profiles.join('; ')}` : ''})`;
  }

  /** A register's value now, without a bus transaction (a profile register is sampled now). */
  peek(register: number): number | undefined {
    this.#faults.update();
    if (!this.#values.has(register)) return undefined;
    return this.#sample(register, this.#faults.fault !== 'stuck');
  }

  get pointer(): number {
    return this.#pointer;
  }

  // Faults and scripts (FaultOnlyDevice): FaultControlledDevice hands them to DeviceFaults.
  protected override get faults(): DeviceFaults {
    return this.#faults;
  }

  // ---- SimI2CDevice ----

  onWrite(bytes: Uint8Array): void {
    this.#faults.admit();
    if (bytes.length === 0) return; // SMBus quick write: acknowledged, nothing to do
    const pointer = bytes[0]!;
    if (!this.#values.has(pointer)) throw new SimI2CFault('GW_ERR_I2C_BUS', `register 0x${hex(pointer)} does not exist (pointer byte NACKed)`);
    const words: Array<[number, number]> = [];
    for (let i = 1, register = pointer; i + this.#bytes <= bytes.length; i += this.#bytes, register = (register + 1) & 0xff) {
      words.push([register, this.#decode(bytes.subarray(i, i + this.#bytes))]);
    }
    for (const [register] of words) {
      if (!this.#writable.has(register) && this.#readOnlyWrite === 'nack') {
        throw new SimI2CFault('GW_ERR_I2C_BUS', `register 0x${hex(register)} is not writable (data byte NACKed)`);
      }
    }
    this.#pointer = pointer;
    for (const [register, value] of words) if (this.#writable.has(register)) this.#values.set(register, value);
  }

  onRead(length: number): Uint8Array {
    const stuck = this.#faults.admit();
    const out = new Uint8Array(length).fill(0xff);
    for (let i = 0, register = this.#pointer; i < length; i += this.#bytes, register = (register + 1) & 0xff) {
      if (!this.#values.has(register)) continue;
      const word = this.#encode(this.#sample(register, !stuck));
      out.set(word.subarray(0, Math.min(this.#bytes, length - i)), i);
    }
    return out;
  }

  onWriteRead(bytes: Uint8Array, length: number): Uint8Array {
    this.onWrite(bytes);
    return this.onRead(length);
  }

  // ---- internals ----

  #powerUp(): void {
    this.#values = new Map(this.#initial);
    this.#pointer = 0;
  }

  // A profile register takes its value as it is read (unless frozen: 'stuck').
  #sample(register: number, live: boolean): number {
    const profile = this.#profiles.get(register);
    if (profile && live) {
      const value = profile.valueAt(monotonicMs(this.#clock) - this.#originMs);
      if (!Number.isFinite(value)) throw new RangeError(`register 0x${hex(register)}: profile "${profile.description}" returned ${value}`);
      const count = Math.round(value * profile.scale + profile.offset);
      const lo = -(2 ** (this.#width - 1));
      const hi = 2 ** this.#width - 1;
      const clamped = Math.min(hi, Math.max(lo, count));
      this.#values.set(register, clamped < 0 ? clamped + 2 ** this.#width : clamped);
    }
    return this.#values.get(register)!;
  }

  #encode(value: number): Uint8Array {
    if (this.#bytes === 1) return Uint8Array.of(value);
    const msbFirst = Uint8Array.of(value >> 8, value & 0xff);
    return this.#byteOrder === 'msb-first' ? msbFirst : msbFirst.reverse();
  }

  #decode(bytes: Uint8Array): number {
    if (this.#bytes === 1) return bytes[0]!;
    return this.#byteOrder === 'msb-first' ? (bytes[0]! << 8) | bytes[1]! : (bytes[1]! << 8) | bytes[0]!;
  }
}

function assertRegister(register: number): void {
  if (!Number.isInteger(register) || register < 0 || register > 0xff) throw new RangeError(`register numbers are bytes 0..255, got ${register}`);
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
