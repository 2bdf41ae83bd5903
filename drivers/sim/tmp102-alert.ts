/**
 * The TMP102 thermostat: fault queue, comparator and interrupt state machines behind the ALERT
 * pin and the AL bit (SBOS397 "Thermostat Mode (TM)", "Fault Queue", "Alert (AL Bit)", and the
 * Output Transfer Function figure that draws both modes).
 *
 * Kept apart from the register model so each conversion result goes through one function and
 * the two modes can be read side by side. Temperatures are counts of 0.0625 °C.
 */

export type AlertCause = 'high' | 'low';

export class Tmp102Thermostat {
  // Comparator: active once T >= T_HIGH for N consecutive conversions, released once T < T_LOW
  // for N consecutive conversions. This state is also what the AL bit reports, whatever TM says
  // ("The status of the TM bit does not affect the status of the AL bit").
  #comparatorActive = false;
  #comparatorFaults = 0;

  // Interrupt: latches active at the armed threshold; any register read, a won SMBus alert
  // response or shutdown clears it, and it then re-arms for the opposite threshold.
  #interruptActive = false;
  #armedFor: AlertCause = 'high';
  #interruptFaults = 0;
  #cause: AlertCause = 'high';

  get comparatorActive(): boolean {
    return this.#comparatorActive;
  }
  get interruptActive(): boolean {
    return this.#interruptActive;
  }
  /** Which threshold the latched interrupt (or the comparator) fired on: the SMBus alert response LSB. */
  get cause(): AlertCause {
    return this.#cause;
  }

  /** Whether the ALERT output is asserted (before POL decides the electrical level). */
  pinActive(interruptMode: boolean): boolean {
    return interruptMode ? this.#interruptActive : this.#comparatorActive;
  }

  /** Feed one completed conversion. `faultsNeeded` comes from F1F0. */
  evaluate(count: number, tLow: number, tHigh: number, faultsNeeded: number, interruptMode: boolean): void {
    if (!this.#comparatorActive) {
      this.#comparatorFaults = count >= tHigh ? this.#comparatorFaults + 1 : 0;
      if (this.#comparatorFaults >= faultsNeeded) {
        this.#comparatorActive = true;
        this.#comparatorFaults = 0;
      }
    } else {
      this.#comparatorFaults = count < tLow ? this.#comparatorFaults + 1 : 0;
      if (this.#comparatorFaults >= faultsNeeded) {
        this.#comparatorActive = false;
        this.#comparatorFaults = 0;
      }
    }

    // While latched, the interrupt ignores conversions: only a clear moves it on.
    if (!interruptMode || this.#interruptActive) return;
    const fault = this.#armedFor === 'high' ? count >= tHigh : count < tLow;
    this.#interruptFaults = fault ? this.#interruptFaults + 1 : 0;
    if (this.#interruptFaults >= faultsNeeded) {
      this.#interruptActive = true;
      this.#cause = this.#armedFor;
      this.#interruptFaults = 0;
    }
  }

  /** Clear a latched interrupt and re-arm for the opposite threshold. Returns whether it was active. */
  clearInterrupt(): boolean {
    if (!this.#interruptActive) return false;
    this.#interruptActive = false;
    this.#armedFor = this.#cause === 'high' ? 'low' : 'high';
    this.#interruptFaults = 0;
    return true;
  }

  /**
   * A TM change starts the interrupt machine afresh, armed for T_HIGH. The datasheet does not
   * say what a mode switch does to a pending interrupt; this is the simulation's choice.
   */
  resetInterrupt(): void {
    this.#interruptActive = false;
    this.#armedFor = 'high';
    this.#interruptFaults = 0;
  }
}
