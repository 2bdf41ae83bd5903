/**
 * The simulated devices a sensor can be given (`sensors[].simulation.device`), seen as one type:
 * what the scenario runner and live control drive, and what `Hardware.simulated` holds.
 *
 *   kind       class                 quantities a script drives   faults
 *   tmp102     SimulatedTmp102       temperature                  all, at exact times
 *   sht3x      SimulatedSht3x        temperature, humidity        all, at exact times
 *   registers  RegisterMapDevice     none (its profiles run)      all, at transaction time
 *   replay     ReplayDevice          none (the recording)         all, at transaction time
 *              (register-map-device.ts, replay-device.ts: a FaultOnlyDevice each)
 *   none       AbsentDevice          none                         accepted, change nothing
 *
 * A union rather than one interface: the TMP102 and SHT3x keep their own rich APIs (ALERT,
 * registers, status), and whoever needs one narrows with `instanceof` or `simulatedDeviceKind`.
 */
import { monotonicMs, type Clock } from '../clock.ts';
import type { I2CErrorCode } from '../i2c-error.ts';
import { SimI2CFault } from './sim-i2c-bus.ts';
import { SimulatedSht3x, type Sht3xScript } from './sht3x.ts';
import { SimulatedTmp102, type Tmp102Fault, type Tmp102Script } from './tmp102.ts';

export type SimDeviceKind = 'tmp102' | 'sht3x' | 'registers' | 'replay' | 'none';
export const SIM_DEVICE_KINDS: readonly SimDeviceKind[] = ['tmp102', 'sht3x', 'registers', 'replay', 'none'];

/** What a scenario or a live command can set on a device. */
export type SimQuantity = 'temperature' | 'humidity';

/** The same five faults on every device ('stuck': the device answers with frozen data). */
export type SimDeviceFault = Tmp102Fault;

/**
 * What every device follows: the TMP102's script (temperature, fault, resets at exact instants)
 * plus the humidity an SHT3x samples (sht3x.ts). Devices without those quantities ignore them.
 */
export type SimDeviceScript = Sht3xScript;

/** The part of a script a device without scripted quantities uses. */
export type FaultScript = Pick<Tmp102Script, 'faultAt' | 'resetAt' | 'nextTransition'>;

/**
 * The register map, the replay and the absent device: faults and resets only. (An interface
 * here, implemented there, so that this file imports none of them: no import cycle.)
 */
export interface FaultOnlyDevice {
  readonly kind: 'registers' | 'replay' | 'none';
  /** One line for the start-up log. */
  readonly description: string;
  readonly fault: SimDeviceFault | undefined;
  readonly resets: number;
  update(): void;
  setScript(script: FaultScript | undefined): void;
  scriptChanged(): void;
  inject(fault: SimDeviceFault): void;
  clearFault(): void;
  resetChip(): void;
}

export type SimulatedDevice = SimulatedTmp102 | SimulatedSht3x | FaultOnlyDevice;

export function simulatedDeviceKind(device: SimulatedDevice): SimDeviceKind {
  if (device instanceof SimulatedTmp102) return 'tmp102';
  if (device instanceof SimulatedSht3x) return 'sht3x';
  return device.kind;
}

/** The quantities a scenario timeline or `set` may drive on this device. */
export function scriptableQuantities(kind: SimDeviceKind): readonly SimQuantity[] {
  if (kind === 'tmp102') return ['temperature'];
  if (kind === 'sht3x') return ['temperature', 'humidity'];
  return [];
}

/**
 * Injected and scripted faults for a device whose answers do not depend on time passing (the
 * register map, the replay): the fault in effect is looked at when a transaction comes, and the
 * script's resets are made, in order, as the device is next touched.
 */
export class DeviceFaults {
  readonly #clock: Clock;
  readonly #onReset: () => void;
  readonly #label: string;
  #injected: SimDeviceFault | undefined;
  #script: FaultScript | undefined;
  #scriptFault: SimDeviceFault | undefined;
  #scriptedUntilMs = 0;
  #unplugged = false;
  #resets = 0;

  /** `onReset` restores the device's power-up state (also after an unplugged spell ends). */
  constructor(clock: Clock, label: string, onReset: () => void) {
    this.#clock = clock;
    this.#label = label;
    this.#onReset = onReset;
  }

  get fault(): SimDeviceFault | undefined {
    this.update();
    return this.#injected ?? this.#scriptFault;
  }
  get resets(): number {
    this.update();
    return this.#resets;
  }

  inject(fault: SimDeviceFault): void {
    this.update();
    this.#injected = fault;
    this.#refresh();
  }
  clearFault(): void {
    this.update();
    this.#injected = undefined;
    this.#refresh();
  }
  setScript(script: FaultScript | undefined): void {
    const now = monotonicMs(this.#clock);
    this.update();
    this.#script = script;
    this.#scriptedUntilMs = now;
    this.#scriptFault = script?.faultAt(now);
    this.#refresh();
  }
  scriptChanged(): void {
    this.update();
    this.#scriptFault = this.#script?.faultAt(monotonicMs(this.#clock));
    this.#refresh();
  }
  /** A reset behind the module's back; nothing while unplugged. */
  resetChip(): void {
    this.update();
    if (this.#unplugged) return;
    this.#resets++;
    this.#onReset();
  }

  /** Applies the script's transitions up to now (faults, resets), in order. */
  update(): void {
    const script = this.#script;
    if (!script) return;
    const now = monotonicMs(this.#clock);
    for (;;) {
      const t = script.nextTransition(this.#scriptedUntilMs, now);
      if (t === undefined || !(t > this.#scriptedUntilMs && t <= now)) break;
      this.#scriptedUntilMs = t;
      this.#scriptFault = script.faultAt(t);
      this.#refresh();
      if (script.resetAt(t) && !this.#unplugged) {
        this.#resets++;
        this.#onReset();
      }
    }
    if (now > this.#scriptedUntilMs) this.#scriptedUntilMs = now;
  }

  /**
   * Before every transaction: throws the fault's bus error, as the TMP102 does. Returns true
   * when the device must answer with frozen data ('stuck').
   */
  admit(): boolean {
    const fault = this.fault;
    if (fault === undefined) return false;
    if (fault === 'stuck') return true;
    const code: I2CErrorCode = fault === 'bus-error' ? 'GW_ERR_I2C_BUS' : fault === 'timeout' ? 'GW_ERR_I2C_TIMEOUT' : 'GW_ERR_I2C_NACK';
    throw new SimI2CFault(code, `simulated ${this.#label} fault: ${fault}`);
  }

  // An unplugged spell ends in a power-up, as on the TMP102 and SHT3x.
  #refresh(): void {
    const unplugged = (this.#injected ?? this.#scriptFault) === 'unplugged';
    if (this.#unplugged && !unplugged) this.#onReset();
    this.#unplugged = unplugged;
  }
}

/**
 * `"device": "none"`: nothing is attached at the sensor's address, so every transfer is NACKed
 * by the bus (GW_ERR_I2C_NACK), as a missing or unwired sensor is. It stands in
 * `Hardware.simulated` so the sensor is known to be simulated; faults and resets are accepted
 * and change nothing (nothing answers either way).
 */
export class AbsentDevice implements FaultOnlyDevice {
  readonly kind = 'none' as const;
  readonly description = 'nothing answers (every transfer is NACKed)';
  readonly resets = 0;
  readonly fault: SimDeviceFault | undefined = undefined;
  update(): void {}
  setScript(_script: FaultScript | undefined): void {}
  scriptChanged(): void {}
  inject(_fault: SimDeviceFault): void {}
  clearFault(): void {}
  resetChip(): void {}
}
