/**
 * GPIO input on a Raspberry Pi through sysfs (the `onoff` package). The sysfs number of a
 * header GPIO is not the header number: since kernel 6.6 the pinctrl chip's base is dynamic
 * (seen: 512 on a Pi 4, 571 on a Pi 5, 399 on a Pi 5 with 6.1), so `new Gpio(17)` fails with
 * EINVAL. The number is found from /sys/class/gpio/gpiochipN/label and base: the chip whose
 * label is the SoC's pinctrl, plus the header GPIO number.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monotonicMs, SystemClock, type Clock } from './clock.ts';
import type { EdgeListener, GpioInput, GpioLevel } from './gpio.ts';

/** Labels of the pinctrl chips that carry the 40-pin header's GPIOs, newest first. */
export const PINCTRL_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2712', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface GpioChip {
  name: string;
  label: string;
  base: number;
  ngpio: number;
}

export class GpioResolveError extends Error {
  override readonly name = 'GpioResolveError';
}

export function listGpioChips(sysfsRoot = '/sys/class/gpio'): GpioChip[] {
  let entries: string[];
  try {
    entries = readdirSync(sysfsRoot).filter((e) => e.startsWith('gpiochip'));
  } catch (err) {
    throw new GpioResolveError(`cannot read ${sysfsRoot} (${(err as NodeJS.ErrnoException).code}): is this a Raspberry Pi with sysfs GPIO?`);
  }
  return entries.map((name) => {
    const read = (f: string) => readFileSync(join(sysfsRoot, name, f), 'utf8').trim();
    return { name, label: read('label'), base: Number(read('base')), ngpio: Number(read('ngpio')) };
  });
}

/** The sysfs number for header GPIO `headerGpio` (BCM numbering, e.g. 17 for pin 11). */
export function resolveSysfsGpio(headerGpio: number, sysfsRoot = '/sys/class/gpio'): { sysfs: number; chip: GpioChip } {
  if (!Number.isInteger(headerGpio) || headerGpio < 0 || headerGpio > 53) throw new GpioResolveError(`header GPIO must be 0..53, got ${headerGpio}`);
  const chips = listGpioChips(sysfsRoot);
  for (const label of PINCTRL_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (!chip) continue;
    if (headerGpio >= chip.ngpio) throw new GpioResolveError(`GPIO${headerGpio} is beyond ${chip.label} (${chip.ngpio} lines)`);
    return { sysfs: chip.base + headerGpio, chip };
  }
  throw new GpioResolveError(`no Raspberry Pi pinctrl GPIO chip among ${chips.map((c) => `${c.name} "${c.label}"`).join(', ') || 'none'}`);
}

/** The part of onoff's Gpio used here (a seam for tests without /sys/class/gpio). */
export interface OnoffGpio {
  readSync(): GpioLevel;
  watch(cb: (err: Error | null | undefined, value: GpioLevel) => void): void;
  unwatchAll(): void;
  unexport(): void;
}
export type OnoffGpioFactory = (sysfs: number) => OnoffGpio;

export class LinuxGpioInput implements GpioInput {
  readonly kind = 'linux' as const;
  readonly description: string;
  readonly #gpio: OnoffGpio;
  readonly #clock: Clock;
  readonly #listeners = new Set<EdgeListener>();

  private constructor(gpio: OnoffGpio, description: string, clock: Clock) {
    this.#gpio = gpio;
    this.description = description;
    this.#clock = clock;
    gpio.watch((err, value) => {
      if (err) return; // onoff reports epoll errors here; the next edge retries
      const at = monotonicMs(this.#clock);
      for (const l of this.#listeners) l(value, at);
    });
  }

  static async open(headerGpio: number, options: { sysfsRoot?: string; factory?: OnoffGpioFactory; clock?: Clock } = {}): Promise<LinuxGpioInput> {
    const { sysfs, chip } = resolveSysfsGpio(headerGpio, options.sysfsRoot);
    const factory = options.factory ?? (await defaultFactory());
    // Both edges: the TMP102 ALERT is active-low or active-high by its POL bit.
    const gpio = factory(sysfs);
    return new LinuxGpioInput(gpio, `GPIO${headerGpio} (sysfs ${sysfs}, ${chip.label} base ${chip.base})`, options.clock ?? new SystemClock());
  }

  read(): GpioLevel {
    return this.#gpio.readSync();
  }

  watch(listener: EdgeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#listeners.clear();
    this.#gpio.unwatchAll();
    this.#gpio.unexport();
  }
}

async function defaultFactory(): Promise<OnoffGpioFactory> {
  const { Gpio } = (await import('onoff')).default as typeof import('onoff');
  return (sysfs) => new Gpio(sysfs, 'in', 'both') as unknown as OnoffGpio;
}
