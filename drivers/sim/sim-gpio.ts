/**
 * A simulated GPIO input wired to a simulated TMP102's ALERT output, as the real ALERT pin is
 * wired to a Pi GPIO with a pull-up. The simulated chip is lazy (it evaluates conversions when
 * touched), while the real chip converts on its own: `start()` wakes the chip at every
 * conversion end on the gateway's clock, so an over-temperature raises the line as the
 * conversion that saw it ends, without anyone reading the bus. On a ManualClock the same polls
 * run as the test advances time.
 */
import type { Clock } from '../clock.ts';
import type { EdgeListener, GpioInput, GpioLevel } from '../gpio.ts';
import type { SimulatedTmp102 } from './tmp102.ts';

export class SimulatedGpioInput implements GpioInput {
  readonly kind = 'simulated' as const;
  readonly description: string;
  readonly #chip: SimulatedTmp102;
  readonly #listeners = new Set<EdgeListener>();
  readonly #unsubscribe: () => void;
  #cancel: (() => void) | undefined;

  constructor(chip: SimulatedTmp102, description = 'simulated GPIO wired to the simulated TMP102 ALERT pin') {
    this.#chip = chip;
    this.description = description;
    this.#unsubscribe = chip.onAlertChange((level, atMs) => {
      for (const l of this.#listeners) l(level, atMs);
    });
  }

  read(): GpioLevel {
    return this.#chip.alertPinLevel;
  }

  watch(listener: EdgeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Let the chip catch up with its clock (conversions, fault queue, ALERT). */
  poll(): void {
    this.#chip.update();
  }

  /**
   * Keep the line current on `clock`: poll just after each conversion ends (the only moments
   * ALERT can change, SBOS397 "Comparator Mode (TM)"), and at least every `idleMs` while the
   * chip is shut down, when a one-shot may start at any time.
   */
  start(clock: Clock, idleMs = 100): void {
    this.stop();
    const tick = () => {
      this.poll();
      const next = this.#chip.nextConversionEndMs;
      const now = Number(clock.monotonicNs()) / 1e6;
      const delay = next === undefined ? idleMs : Math.min(idleMs, Math.max(0, next - now) + 0.01);
      this.#cancel = clock.schedule(delay, tick);
    };
    this.#cancel = clock.schedule(0, tick);
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  close(): void {
    this.stop();
    this.#listeners.clear();
    this.#unsubscribe();
  }
}
