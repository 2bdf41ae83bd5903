/**
 * A first-in first-out queue of at most `capacity` items that drops its oldest item to take a
 * new one past that: what the uplink keeps while the broker is unreachable. A ring over a
 * fixed array, so pushing and shifting cost the same however full it is, and the memory it
 * can take is known when it is made.
 */
export class BoundedBuffer<T> {
  readonly capacity: number;
  readonly #ring: Array<T | undefined>;
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.#ring = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** Appends `item`; when full, the oldest item is dropped first and returned. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.#length === this.capacity) dropped = this.shift();
    this.#ring[(this.#head + this.#length) % this.capacity] = item;
    this.#length++;
    return dropped;
  }

  /**
   * Puts items back in front, in their order (the first given becomes the oldest): what was in
   * flight when the connection dropped goes out again first. Past the capacity the newest
   * items already buffered stay and the oldest of the returned ones are dropped, and returned.
   */
  unshiftAll(items: readonly T[]): T[] {
    const dropped: T[] = [];
    for (let i = items.length - 1; i >= 0; i--) {
      if (this.#length === this.capacity) {
        dropped.unshift(...items.slice(0, i + 1));
        break;
      }
      this.#head = (this.#head - 1 + this.capacity) % this.capacity;
      this.#ring[this.#head] = items[i];
      this.#length++;
    }
    return dropped;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#length--;
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#ring[this.#head];
  }
}
