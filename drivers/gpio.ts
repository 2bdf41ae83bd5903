/**
 * A GPIO input line as the gateway sees it: the TMP102's open-drain ALERT output wired to a
 * spare Raspberry Pi GPIO with a pull-up. Levels are electrical (1 high, 0 low); which level
 * means "alert" depends on the TMP102's POL bit and is decided above this interface.
 *
 * Implementations: LinuxGpioInput (drivers/linux-gpio.ts, sysfs through onoff) and
 * SimulatedGpioInput (drivers/sim/sim-gpio.ts, driven by a simulated TMP102's ALERT line).
 */
export type GpioLevel = 0 | 1;

/** Called on every edge with the new level and the time of the edge (ms, the gateway clock's monotonic time). */
export type EdgeListener = (level: GpioLevel, atMs: number) => void;

export interface GpioInput {
  readonly kind: 'linux' | 'simulated';
  /** What the line is, for the start-up log ("GPIO17 (sysfs 529, pinctrl-bcm2711 base 512)"). */
  readonly description: string;
  read(): GpioLevel;
  /** Watches both edges. Returns a function that stops watching. */
  watch(listener: EdgeListener): () => void;
  close(): void;
}
