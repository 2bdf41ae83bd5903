/**
 * The fault and script controls every simulated device shows (the scenario runner and live
 * control drive them), handed on to the engine that keeps them: ChipFaults (chip-faults.ts) for a
 * chip whose state moves with time, DeviceFaults (simulated-device.ts) for one whose answers do
 * not. Written once here so that each device file holds only what its own chip does.
 */
import type { ChipFault, FaultScript } from './chip-faults.ts';

export interface FaultControls<S extends FaultScript = FaultScript> {
  /** The fault the device shows: an injected one, else its script's. */
  readonly fault: ChipFault | undefined;
  /** Resets made by resetChip() or a script (not the module's own general calls or soft resets). */
  readonly resets: number;
  /** Catch up with the clock without touching the bus. */
  update(): void;
  /** Follow `script` from now on (undefined: stop following one); its fault applies at once. */
  setScript(script: S | undefined): void;
  /** The script changed from now on (a live command); see ChipFaults.scriptChanged. */
  scriptChanged(): void;
  /** Show `fault` until clearFault(); it takes precedence over a script's fault. */
  inject(fault: ChipFault): void;
  /** Back to normal (or the script's fault); an unplugged device comes back in its power-up state. */
  clearFault(): void;
  /** Reset behind the module's back (what a reset is: the device's own file); nothing while unplugged. */
  resetChip(): void;
}

export abstract class FaultControlledDevice<S extends FaultScript = FaultScript> implements FaultControls<S> {
  /** The engine the controls are handed to. */
  protected abstract get faults(): FaultControls<S>;

  get fault(): ChipFault | undefined {
    return this.faults.fault;
  }
  get resets(): number {
    return this.faults.resets;
  }
  update(): void {
    this.faults.update();
  }
  setScript(script: S | undefined): void {
    this.faults.setScript(script);
  }
  scriptChanged(): void {
    this.faults.scriptChanged();
  }
  inject(fault: ChipFault): void {
    this.faults.inject(fault);
  }
  clearFault(): void {
    this.faults.clearFault();
  }
  resetChip(): void {
    this.faults.resetChip();
  }
}
