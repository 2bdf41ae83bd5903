/**
 * Bounds-checked access to a guest's linear memory. Every pointer a module hands the host is
 * untrusted: a module may pass any 32-bit value, so each access is checked before it happens
 * and a bad one is reported to the guest as an error status, never as a host exception.
 */
export class GuestMemory {
  readonly #memory: WebAssembly.Memory;

  constructor(memory: WebAssembly.Memory) {
    this.#memory = memory;
  }

  get byteLength(): number {
    return this.#memory.buffer.byteLength;
  }

  /** True when [ptr, ptr+len) lies inside memory. `ptr` and `len` are raw i32 values from the guest. */
  inBounds(ptr: number, len: number): boolean {
    const p = ptr >>> 0;
    const l = len >>> 0;
    return p + l <= this.#memory.buffer.byteLength;
  }

  /** A copy of guest bytes, or undefined when out of bounds. */
  read(ptr: number, len: number): Uint8Array | undefined {
    if (!this.inBounds(ptr, len)) return undefined;
    return new Uint8Array(this.#memory.buffer, ptr >>> 0, len >>> 0).slice();
  }

  /** Copies bytes into guest memory; false when out of bounds (nothing written). */
  write(ptr: number, bytes: Uint8Array): boolean {
    if (!this.inBounds(ptr, bytes.length)) return false;
    new Uint8Array(this.#memory.buffer, ptr >>> 0, bytes.length).set(bytes);
    return true;
  }

  /** A DataView over [ptr, ptr+len) for structured WASI writes, or undefined when out of bounds. */
  view(ptr: number, len: number): DataView | undefined {
    if (!this.inBounds(ptr, len)) return undefined;
    return new DataView(this.#memory.buffer, ptr >>> 0, len >>> 0);
  }
}
