/**
 * Copies of short byte runs made into shared slabs rather than an array buffer each, as
 * Node's `Buffer` pool does: in V8 every array buffer, however small, is a `calloc` and
 * a later `free` in the garbage collector's sweep, which for values of a few hundred
 * bytes costs far more than copying them. A slab is only ever appended to: a copy stays
 * as it was for as long as anything keeps a view of it, and keeps its slab alive.
 *
 * @example
 * ```ts
 * const slab = new ByteSlab(8192);
 * const source = new TextEncoder().encode("hello, world");
 * const at = slab.copy(source, 0, 5);
 * slab.bytes.subarray(at, at + 5); // "hello" as bytes, in a slab shared with later copies
 * ```
 * @module
 */

/**
 * An append-only slab of `slabBytes` bytes that copies are made into, and a new one once
 * a copy does not fit (or once the slab's buffer was transferred away, which detaches it).
 * Copies are at most `slabBytes` long.
 *
 * @example
 * ```ts
 * const slab = new ByteSlab(8192);
 * const at = slab.copy(new Uint8Array([1, 2, 3]), 1, 3);
 * slab.bytes.subarray(at, at + 2); // Uint8Array [2, 3]
 * ```
 */
export class ByteSlab {
  /** The current slab; replaced, never reused, when a copy does not fit. */
  bytes: Uint8Array = new Uint8Array(0);
  readonly #slabBytes: number;
  #used = 0;

  /** A slab source with no slab yet: the first copy starts one of `slabBytes` bytes. */
  constructor(slabBytes: number) {
    if (!Number.isSafeInteger(slabBytes) || slabBytes <= 0) {
      throw new RangeError(`a slab's size is a positive integer, not ${slabBytes}`);
    }
    this.#slabBytes = slabBytes;
  }

  /**
   * Copies `source[start, end)` (at most the slab's size) into the room left in
   * {@link ByteSlab.bytes}, after starting a new slab if it has too little, and returns
   * where the copy lies there.
   *
   * @example
   * ```ts
   * const slab = new ByteSlab(4);
   * slab.copy(new Uint8Array([1, 2, 3]), 0, 3); // 0
   * slab.copy(new Uint8Array([4, 5]), 0, 2); // 0 again, in a new slab: 2 bytes did not fit
   * ```
   */
  copy(source: Uint8Array, start: number, end: number): number {
    const size = end - start;
    if (size < 0 || size > this.#slabBytes) {
      throw new RangeError(`a copy of ${size} bytes does not fit a ${this.#slabBytes}-byte slab`);
    }
    // A transferred slab reads as empty: its copies are gone, and a new one takes its place.
    if (this.#used + size > this.bytes.length || this.bytes.length === 0) {
      this.bytes = new Uint8Array(this.#slabBytes);
      this.#used = 0;
    }
    const at = this.#used;
    // A whole array is copied as it is: a view of all of it would be garbage made per copy.
    const whole = start === 0 && end === source.length;
    this.bytes.set(whole ? source : source.subarray(start, end), at);
    this.#used = at + size;
    return at;
  }
}
