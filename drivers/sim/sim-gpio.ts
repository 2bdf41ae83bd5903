/**
 * A simulated GPIO input wired to a simulated TMP102's ALERT output, as the real ALERT pin is
 * wired to a Pi GPIO with a pull-up. The simulated chip is lazy (it evaluates conversions when
 * touched), while the real chip converts on its own: `start()` wakes the chip at every
 * conversion end on the system clock, so an over-temperature raises the line without anyone
 * reading the bus. Tests on a ManualClock call `poll()` after advancing time instead.
 */
import type { EdgeListener, GpioInput, GpioLevel } from '../gpio.ts';
import type { SimulatedTmp102 } from './tmp102.ts';

export class SimulatedGpioInput implements GpioInput {
  readonly kind = 'simulated' as const;
  readonly description: string;
  readonly #chip: SimulatedTmp102;
  readonly #listeners = new Set<EdgeListener>();
  readonly #unsubscribe: () => void;
  #timer: NodeJS.Timeout | undefined;

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

  /** Poll every `everyMs` on real time (use the conversion period; unref'd, so it never holds the process open). */
  start(everyMs: number): void {
    this.stop();
    this.#timer = setInterval(() => this.poll(), Math.max(1, everyMs));
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.stop();
    this.#listeners.clear();
    this.#unsubscribe();
  }
}
