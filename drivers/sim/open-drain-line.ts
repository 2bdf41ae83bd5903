/** Electrical level of an open-drain line with its pull-up: 1 released (high), 0 pulled low. */
export type LineLevel = 0 | 1;
export type LineListener = (level: LineLevel, atMs: number) => void;

/**
 * An open-drain output as a GPIO input would see it (the TMP102 ALERT pin needs a pull-up:
 * SBOS397 "Pin Configuration and Functions"). Changes are queued while the device updates its
 * state and delivered by `flush()` once the state is consistent, so a listener may call back into
 * the device; a throwing listener cannot corrupt it (its error is rethrown asynchronously).
 */
export class OpenDrainLine {
  #level: LineLevel = 1;
  #listeners = new Set<LineListener>();
  #pending: Array<[LineLevel, number]> = [];

  get level(): LineLevel {
    return this.#level;
  }

  /** Record the line's level at simulated time `atMs`; no-op when unchanged. */
  set(level: LineLevel, atMs: number): void {
    if (level === this.#level) return;
    this.#level = level;
    this.#pending.push([level, atMs]);
  }

  onChange(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  flush(): void {
    while (this.#pending.length > 0) {
      const [level, atMs] = this.#pending.shift()!;
      for (const listener of this.#listeners) {
        try {
          listener(level, atMs);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    }
  }
}
