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
import type { Clock } from '../clock.ts';
import { ChipFaults, type ChipFault, type FaultScript } from './chip-faults.ts';
import type { FaultControls } from './fault-controlled-device.ts';
import { SimulatedSht3x, type Sht3xScript } from './sht3x.ts';
import { SimulatedTmp102 } from './tmp102.ts';

export type SimDeviceKind = 'tmp102' | 'sht3x' | 'registers' | 'replay' | 'none';
export const SIM_DEVICE_KINDS: readonly SimDeviceKind[] = ['tmp102', 'sht3x', 'registers', 'replay', 'none'];

/** What a scenario or a live command can set on a device. */
export type SimQuantity = 'temperature' | 'humidity';

/** The same five faults on every device ('stuck': the device answers with frozen data). */
export type SimDeviceFault = ChipFault;

/**
 * What every device follows: the TMP102's script (temperature, fault, resets at exact instants)
 * plus the humidity an SHT3x samples (sht3x.ts). Devices without those quantities ignore them.
 */
export type SimDeviceScript = Sht3xScript;

/** The part of a script a device without scripted quantities uses (chip-faults.ts). */
export type { FaultScript };

/**
 * The register map, the replay and the absent device: faults and resets only. (An interface
 * here, implemented there, so that this file imports none of them: no import cycle.)
 */
export interface FaultOnlyDevice extends FaultControls {
  readonly kind: 'registers' | 'replay' | 'none';
  /** One line for the start-up log. */
  readonly description: string;
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
 * script's resets are made, in order, as the device is next touched. The machinery is the
 * TMP102's and SHT3x's (chip-faults.ts) around a device with nothing to catch up and no power
 * switch of its own: it is powered unless unplugged.
 */
export class DeviceFaults extends ChipFaults {
  /** `onReset` restores the device's power-up state (also after an unplugged spell ends). */
  constructor(clock: Clock, label: string, onReset: () => void) {
    let unplugged = false;
    super({
      clock,
      label,
      chip: {
        get powered() {
          return !unplugged;
        },
        catchUp: () => {},
        powerUp: () => onReset(),
        powerOff: () => {},
        faultChanged: (fault) => {
          unplugged = fault === 'unplugged';
        },
      },
    });
  }

  /** The fault in effect now (the script's transitions up to now applied first). */
  override get fault(): SimDeviceFault | undefined {
    this.update();
    return super.fault;
  }

  /**
   * Before every transaction: throws the fault's bus error, as the TMP102 does. Returns true
   * when the device must answer with frozen data ('stuck').
   */
  admit(): boolean {
    const fault = this.fault;
    if (fault === undefined) return false;
    if (fault === 'stuck') return true;
    throw this.refusal();
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
