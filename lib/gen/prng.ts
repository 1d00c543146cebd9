/**
 * A small, fast, seeded pseudo-random number generator for test data: sfc32
 * (Chris Doty-Humphrey's "small fast chaotic" generator), seeded through
 * splitmix32 so that nearby seeds (0, 1, 2, …) still give unrelated streams.
 * It is deterministic across platforms and Deno versions because it uses only
 * 32-bit integer arithmetic, which is what makes `kv gen --seed` reproducible.
 * Not for cryptography.
 *
 * @example
 * ```ts
 * import { Sfc32 } from "./prng.ts";
 * const random = new Sfc32(42);
 * const die = 1 + random.nextBelow(6); // 1..6
 * ```
 * @module
 */

/** Largest seed {@link Sfc32} accepts: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

/**
 * Largest bound {@link Sfc32.nextBelow} accepts. Keeping `bound` ≤ 2^21 keeps
 * `x * bound` (x < 2^32) below 2^53, so the product is exact in a double.
 */
export const MAX_BOUND = 2 ** 21;

const TWO_POW_32 = 2 ** 32;
const INVERSE_TWO_POW_32 = 1 / TWO_POW_32;

/** Outputs discarded after seeding so the three seeded words are well mixed. */
const WARM_UP_ROUNDS = 12;

/** Index of the latest output in Sfc32's state array, after the four state words. */
const OUTPUT = 4;

/**
 * One step of splitmix32: a Weyl sequence passed through MurmurHash3's
 * finaliser. Used only to expand a seed into sfc32's state.
 */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e37_79b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/**
 * Draws uniformly random unsigned 32-bit integers from a seed.
 *
 * @example
 * ```ts
 * const a = new Sfc32(42);
 * const b = new Sfc32(42);
 * a.nextUint32() === b.nextUint32(); // true: equal seeds, equal streams (2476999517)
 * a.nextBelow(6); // 3, and so is b.nextBelow(6)
 * ```
 */
export class Sfc32 {
  // The four state words and the latest output live in a typed array, not in
  // number fields or return values, so that numbers outside V8's small-integer
  // range are never boxed: on the hot path that boxing cost more than sfc32.
  #state = new Int32Array(5);

  /**
   * A generator whose state splitmix32 derives from `seed`.
   *
   * @param seed an integer 0..{@link MAX_SEED}; equal seeds give equal streams.
   */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`seed must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
    }
    let splitmixState = seed | 0;
    for (let word = 0; word < 3; word++) {
      let output: number;
      [splitmixState, output] = splitmix32(splitmixState);
      this.#state[word] = output;
    }
    this.#state[3] = 1;
    for (let round = 0; round < WARM_UP_ROUNDS; round++) this.nextUint32();
  }

  /**
   * Returns the next number, uniform in 0..2^32 − 1.
   *
   * @example
   * ```ts
   * new Sfc32(1).nextUint32(); // the same number on every run
   * ```
   */
  nextUint32(): number {
    this.#step();
    return this.#state[OUTPUT] >>> 0;
  }

  /**
   * Returns the next number as a fraction uniform in [0, 1), with 32 random bits.
   *
   * @example
   * ```ts
   * new Sfc32(1).nextFraction() < 1; // true
   * ```
   */
  nextFraction(): number {
    return this.nextUint32() * INVERSE_TWO_POW_32;
  }

  /** Advances the state and leaves the output in `#state[OUTPUT]`. */
  #step(): void {
    const state = this.#state;
    const a = state[0];
    const b = state[1];
    const c = state[2];
    const counter = state[3];
    const result = (((a + b) | 0) + counter) | 0;
    state[0] = b ^ (b >>> 9);
    state[1] = (c + (c << 3)) | 0;
    state[2] = (((c << 21) | (c >>> 11)) + result) | 0;
    state[3] = (counter + 1) | 0;
    state[OUTPUT] = result;
  }

  /**
   * Returns an integer uniform in 0..bound − 1, exactly (Lemire's
   * multiply-and-reject, which rarely needs a second draw).
   *
   * @param bound an integer 1..{@link MAX_BOUND}.
   * @example
   * ```ts
   * const digit = new Sfc32(7).nextBelow(10); // 0..9
   * ```
   */
  nextBelow(bound: number): number {
    const state = this.#state;
    this.#step();
    const x = state[OUTPUT] >>> 0;
    // The common case stays this small so that V8 inlines it into hot loops.
    if (
      !((bound | 0) === bound && bound >= 1 && bound <= MAX_BOUND) ||
      (Math.imul(x, bound) >>> 0) < bound
    ) {
      return this.#nextBelowSlowly(bound, x);
    }
    return (x * bound * INVERSE_TWO_POW_32) | 0;
  }

  /** {@link nextBelow} for a bad bound or a product that may need rejecting. */
  #nextBelowSlowly(bound: number, first: number): number {
    if (!(Number.isInteger(bound) && bound >= 1 && bound <= MAX_BOUND)) {
      throw new RangeError(`bound must be an integer from 1 to ${MAX_BOUND}, got ${bound}`);
    }
    // Reject the few low products that would make some results more likely.
    const threshold = (TWO_POW_32 - bound) % bound;
    let x = first;
    while ((Math.imul(x, bound) >>> 0) < threshold) {
      this.#step();
      x = this.#state[OUTPUT] >>> 0;
    }
    return (x * bound * INVERSE_TWO_POW_32) | 0;
  }
}

/**
 * Returns a seed from the operating system's secure random source, for runs
 * where the user gave none.
 *
 * @example
 * ```ts
 * const random = new Sfc32(randomSeed());
 * ```
 */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
