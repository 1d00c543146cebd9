/**
 * Interns field names into small integer ids with a {@link ByteRadixTrie}: a name's id is
 * the index of its terminal node, which never changes while the name is in use, and a
 * count per id (a typed array beside the trie) counts the fields that use it, so a name no
 * record uses any more is removed and its id reused. Turning an id back into a name reads an array indexed by id
 * (no map keyed by names exists anywhere).
 *
 * @example
 * ```ts
 * import { FieldNames } from "./names.ts";
 * const names = new FieldNames();
 * const id = names.acquire("street");
 * names.find("street") === id; // true
 * names.name(id); // "street"
 * names.release(id); // "street" is gone: find returns -1
 * ```
 * @module
 */
import {
  bytesToHex,
  ByteWriter,
  DecodeError,
  LimitExceededError,
  MAX_VARINT_BYTES,
  writeVarint,
} from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import { ByteRadixTrie, resized } from "./radix.ts";
import { readUtf8, writeUtf8 } from "../base/utf8.ts";
import { checkEncodedName, checkKey } from "../record/key.ts";

/** Most uses of one name that can be counted (the reference count is a Uint32). */
const MAX_NAME_REFERENCES = 0xffff_ffff;

/** The trie value of every name's terminal: the counts live in their own array. */
const NAME_IN_USE = 0;

/** Slots of the name cache (a power of two). */
const NAME_CACHE_SLOTS = 256;

/** Longest name, in bytes, the cache holds; longer ones are always looked up in the trie. */
const NAME_CACHE_MAX_BYTES = 32;

/** The cache slot of the name `source[start, start + length)`: its length and three bytes. */
function cacheSlot(source: Uint8Array, start: number, length: number): number {
  const first = source[start];
  const middle = source[start + (length >> 1)];
  const last = source[start + length - 1];
  return (Math.imul(first ^ (last << 8) ^ (middle << 16) ^ (length << 24), 0x9e3779b1) >>> 24) &
    (NAME_CACHE_SLOTS - 1);
}

/** Bytes the pool of names' wire forms starts with. */
const INITIAL_WIRE_BYTES = 1024;

/** Released names' bytes the wire pool may hold before it is compacted (when they are also half of it). */
const MIN_WIRE_GARBAGE_BYTES = 64 * 1024;

// A wire form's length is kept in a Uint16Array.
invariant(MAX_VARINT_BYTES + MAX_KEY_BYTES <= 0xffff, "a name's wire form fits a u16 length");

/**
 * Each name in use in its wire form (a field name as value_codec writes it: a varint
 * byte length, then the UTF-8), back to back in one byte pool, found by id: answering a
 * GET copies each field's name from here instead of encoding its string again, which
 * was a third of writing an answer. Released names' bytes stay as garbage until the
 * pool is compacted. Four bytes and two per id beside the bytes: no object per name.
 */
class NameWires {
  #bytes = new Uint8Array(INITIAL_WIRE_BYTES);
  #end = 0;
  #garbage = 0;
  #longest = 0;
  /** Per id, where its wire form starts in #bytes. */
  #starts = new Int32Array(64);
  /** Per id, its wire form's length; 0 for an id not in use (a wire form is ≥ 2 bytes). */
  #lengths = new Uint16Array(64);

  /** Bytes held. */
  get memoryBytes(): number {
    return this.#bytes.byteLength + this.#starts.byteLength + this.#lengths.byteLength;
  }

  /** Adds the wire form of name `id`, whose UTF-8 is `source[0, length)`. */
  add(id: number, source: Uint8Array, length: number): void {
    invariant(length > 0 && length <= MAX_KEY_BYTES, "names are validated first");
    this.#reserveId(id);
    invariant(this.#lengths[id] === 0, "an id is added once while in use");
    this.#reserveBytes(MAX_VARINT_BYTES + length);
    const start = this.#end;
    const at = writeVarint(this.#bytes, start, length);
    this.#bytes.set(source.subarray(0, length), at);
    this.#end = at + length;
    this.#starts[id] = start;
    this.#lengths[id] = this.#end - start;
    this.#longest = Math.max(this.#longest, this.#end - start);
  }

  /** Bytes of the longest wire form added so far (see FieldNames.longestWire). */
  get longest(): number {
    return this.#longest;
  }

  /** Forgets name `id`'s wire form; its bytes are garbage until a compaction. */
  remove(id: number): void {
    const length = this.#lengths[id];
    invariant(length > 0, "a removed name was added");
    this.#lengths[id] = 0;
    this.#garbage += length;
    if (this.#garbage >= MIN_WIRE_GARBAGE_BYTES && this.#garbage * 2 > this.#end) this.#compact();
  }

  /** Appends name `id`'s wire form to `writer`. */
  write(id: number, writer: ByteWriter): void {
    const out = writer.room(this.length(id));
    const at = writer.length;
    writer.advance(this.copy(id, out, at) - at);
  }

  /** Bytes of name `id`'s wire form. */
  length(id: number): number {
    const count = this.#lengths[id];
    invariant(count > 0, "name ids in records are in use");
    return count;
  }

  /** Copies name `id`'s wire form into `out` at `at`, which has room; the offset past it. */
  copy(id: number, out: Uint8Array, at: number): number {
    const count = this.#lengths[id];
    const from = this.#starts[id];
    const bytes = this.#bytes;
    for (let i = 0; i < count; i++) out[at + i] = bytes[from + i];
    return at + count;
  }

  /** The wire form of name `id`, for checks. */
  bytesOf(id: number): Uint8Array {
    return this.#bytes.subarray(this.#starts[id], this.#starts[id] + this.#lengths[id]);
  }

  #reserveId(id: number): void {
    if (id < this.#starts.length) return;
    const capacity = Math.max(id + 1, this.#starts.length * 2);
    this.#starts = new Int32Array(resized(this.#starts, capacity));
    this.#lengths = new Uint16Array(resized(this.#lengths, capacity));
  }

  #reserveBytes(extra: number): void {
    const needed = this.#end + extra;
    if (needed <= this.#bytes.length) return;
    this.#bytes = new Uint8Array(resized(this.#bytes, Math.max(needed, this.#bytes.length * 2)));
  }

  /** Moves every name in use to the front of a pool sized for them, dropping the garbage. */
  #compact(): void {
    const live = this.#end - this.#garbage;
    const bytes = new Uint8Array(Math.max(INITIAL_WIRE_BYTES, live * 2));
    let end = 0;
    for (let id = 0; id < this.#lengths.length; id++) {
      const length = this.#lengths[id];
      if (length === 0) continue;
      const start = this.#starts[id];
      bytes.set(this.#bytes.subarray(start, start + length), end);
      this.#starts[id] = end;
      end += length;
    }
    invariant(end === live, "a compaction keeps exactly the names in use");
    this.#bytes = bytes;
    this.#end = end;
    this.#garbage = 0;
  }
}

/**
 * Field-name interning with reference counts; names must be validated by the caller.
 *
 * @example
 * ```ts
 * const names = new FieldNames();
 * const id = names.acquire("street"); // 1
 * names.acquire("street"); // 1 again: a second field uses the name
 * names.count; // 1 distinct name
 * names.release(id);
 * names.find("street"); // 1: still used once
 * names.release(id);
 * names.find("street"); // -1: unused, removed, and its id free for reuse
 * ```
 */
export class FieldNames {
  #trie = new ByteRadixTrie({ initialNodeCapacity: 64 });
  /** The name of each id, so decoding a record costs no trie walk (indexed by id only). */
  #byId: (string | undefined)[] = [];
  /** Per id, the fields that use the name (0 for an id not in use). */
  #references = new Uint32Array(64);
  /** Each name in use as the wire writes it, for answers. */
  #wires = new NameWires();
  #scratch = new Uint8Array(MAX_KEY_BYTES * 3);
  /**
   * A direct-mapped cache of recently acquired names: per slot the name's id, byte
   * length (0: empty slot) and bytes. Storing a record acquires every field name, and
   * walking the trie's sibling lists for each was a third of that cost; a hit here is
   * a hash of three bytes and a comparison.
   */
  #cacheIds = new Int32Array(NAME_CACHE_SLOTS);
  #cacheLengths = new Uint8Array(NAME_CACHE_SLOTS);
  #cacheBytes = new Uint8Array(NAME_CACHE_SLOTS * NAME_CACHE_MAX_BYTES);

  /** Number of distinct names in use. */
  get count(): number {
    return this.#trie.terminalCount;
  }

  /** Bytes held by the name trie's columns and arena (the decoded-name array aside). */
  get memoryBytes(): number {
    return this.#trie.memoryBytes + this.#scratch.byteLength + this.#byId.length * 8 +
      this.#references.byteLength + this.#wires.memoryBytes +
      this.#cacheIds.byteLength + this.#cacheLengths.byteLength + this.#cacheBytes.byteLength;
  }

  /**
   * The id of `name`, or −1 when no field uses it.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.find("age"); // -1
   * const id = names.acquire("age");
   * names.find("age") === id; // true
   * ```
   */
  find(name: string): number {
    const length = this.#encode(name);
    if (length < 0) return -1;
    return this.#trie.find(this.#scratch, length);
  }

  /**
   * Counts one more use of `name` (interning it if new) and returns its id (≥ 1).
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.acquire("age") === names.acquire("age"); // true: one id, used twice
   * ```
   */
  acquire(name: string): number {
    const length = this.#encode(name);
    invariant(length > 0, "field names are validated before they are interned");
    return this.#acquireScratch(length, name);
  }

  /**
   * Like {@link FieldNames.acquire} for a name given as `length` bytes of `source` from
   * `start` (1 to MAX_KEY_BYTES, which the caller checks): no string is made unless the
   * name is new. Throws a DecodeError when the bytes are not valid UTF-8 or hold a `.`;
   * a name found in the cache was checked when it was first acquired.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * const bytes = new TextEncoder().encode("{street}");
   * const id = names.acquireUtf8(bytes, 1, 6);
   * names.name(id); // "street"
   * names.acquire("street") === id; // true: the same name, now used twice
   * ```
   */
  acquireUtf8(source: Uint8Array, start: number, length: number): number {
    invariant(length > 0 && length <= MAX_KEY_BYTES, "field names are validated first");
    const cached = length <= NAME_CACHE_MAX_BYTES;
    const slot = cached ? cacheSlot(source, start, length) : -1;
    if (cached && this.#cacheLengths[slot] === length) {
      const from = slot * NAME_CACHE_MAX_BYTES;
      const bytes = this.#cacheBytes;
      let same = true;
      for (let i = 0; i < length && same; i++) same = bytes[from + i] === source[start + i];
      if (same) return this.#reference(this.#cacheIds[slot]);
    }
    checkEncodedName(source, start, length);
    // Nearly every name is already in use: found in place, it costs no copy.
    let id = this.#trie.find(source, length, start);
    if (id >= 0) {
      this.#reference(id);
    } else {
      // By hand: names are short, and a subarray per name would be garbage per field.
      const scratch = this.#scratch;
      for (let i = 0; i < length; i++) scratch[i] = source[start + i];
      id = this.#intern(length, undefined);
    }
    if (cached) {
      this.#cacheIds[slot] = id;
      this.#cacheLengths[slot] = length;
      this.#cacheBytes.set(source.subarray(start, start + length), slot * NAME_CACHE_MAX_BYTES);
    }
    return id;
  }

  /** Interns the name in the scratch buffer; `name` is its text when the caller has it. */
  #acquireScratch(length: number, name: string | undefined): number {
    // Nearly every name is already in use: a lookup is cheaper than an insert.
    const found = this.#trie.find(this.#scratch, length);
    if (found >= 0) return this.#reference(found);
    return this.#intern(length, name);
  }

  /** Adds the name in the scratch buffer, known not to be in use, with one use. */
  #intern(length: number, name: string | undefined): number {
    const id = this.#trie.insert(this.#scratch, length);
    this.#trie.setValue(id, NAME_IN_USE);
    this.#byId[id] = name ?? readUtf8(this.#scratch, 0, length);
    this.#wires.add(id, this.#scratch, length);
    if (id >= this.#references.length) {
      const capacity = Math.max(id + 1, this.#references.length * 2);
      this.#references = new Uint32Array(resized(this.#references, capacity));
    }
    this.#references[id] = 1;
    return id;
  }

  /**
   * Counts one more use of the name `id`, which is in use, and returns `id`. The count
   * is a plain array slot: this runs for every field of every record stored.
   */
  #reference(id: number): number {
    const references = this.#references[id];
    if (references === MAX_NAME_REFERENCES) {
      throw new LimitExceededError("field name used too often");
    }
    this.#references[id] = references + 1;
    return id;
  }

  /**
   * Counts one use of name `id` less; the name is removed when nothing uses it.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.release(names.acquire("age"));
   * names.find("age"); // -1: nothing uses it now
   * ```
   */
  release(id: number): void {
    const references = this.#references[id];
    invariant(references > 0 && this.#byId[id] !== undefined, "released an unknown name id");
    this.#references[id] = references - 1;
    if (references > 1) return;
    const name = this.#byId[id]!;
    this.#byId[id] = undefined;
    this.#wires.remove(id);
    const length = this.#encode(name);
    // A cache entry names only a name in use.
    if (length <= NAME_CACHE_MAX_BYTES) {
      const slot = cacheSlot(this.#scratch, 0, length);
      if (this.#cacheIds[slot] === id) this.#cacheLengths[slot] = 0;
    }
    const removed = this.#trie.remove(this.#scratch, length);
    invariant(removed === NAME_IN_USE, "a released name was in the trie");
  }

  /**
   * The name with id `id` (which must be in use).
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.name(names.acquire("street")); // "street"
   * ```
   */
  name(id: number): string {
    const name = this.#byId[id];
    invariant(name !== undefined, "name ids in records are in use");
    return name;
  }

  /**
   * Appends name `id` (which must be in use) to `writer` as a field name is written in
   * the value encoding (value_codec.ts: a varint byte length, then the UTF-8), copied
   * from bytes kept for it rather than encoded from its string.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * const names = new FieldNames();
   * const writer = new ByteWriter();
   * names.writeName(names.acquire("street"), writer);
   * writer.bytes(); // Uint8Array [6, 115, 116, 114, 101, 101, 116]: length 6, then "street"
   * ```
   */
  writeName(id: number, writer: ByteWriter): void {
    this.#wires.write(id, writer);
  }

  /**
   * Bytes of the wire form of name `id` (in use), as {@link FieldNames.writeName} writes it.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.wireLength(names.acquire("street")); // 7: length 6, then "street"
   * ```
   */
  wireLength(id: number): number {
    return this.#wires.length(id);
  }

  /**
   * Copies the wire form of name `id` (in use) into `out` at `at`, which has
   * {@link FieldNames.wireLength} bytes of room; returns the offset just past it.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * const id = names.acquire("street");
   * const out = new Uint8Array(7);
   * names.copyWire(id, out, 0); // 7; out is [6, 115, 116, 114, 101, 101, 116]
   * ```
   */
  copyWire(id: number, out: Uint8Array, at: number): number {
    return this.#wires.copy(id, out, at);
  }

  /**
   * Bytes of the longest wire form any name has had: never less than any name in use
   * takes, so that an answer's room can be bounded without reading its names.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.acquire("street");
   * names.longestWire; // 7
   * ```
   */
  get longestWire(): number {
    return this.#wires.longest;
  }

  /**
   * Checks the name trie's invariants and that every id decodes to its own name. For tests.
   *
   * @example
   * ```ts
   * const names = new FieldNames();
   * names.acquire("street");
   * names.checkInvariants(); // returns: every id decodes to its own name
   * ```
   */
  checkInvariants(): void {
    this.#trie.checkInvariants();
    let inUse = 0;
    for (let id = 0; id < this.#byId.length; id++) {
      const name = this.#byId[id];
      if (name === undefined) continue;
      inUse++;
      invariant(this.#references[id] > 0, `name id ${id} in use has uses`);
      invariant(this.find(name) === id, `name id ${id} is found by its name`);
      const wire = new ByteWriter();
      wire.varintString(name);
      invariant(
        bytesToHex(this.#wires.bytesOf(id)) === bytesToHex(wire.bytes()),
        `name id ${id}'s wire form`,
      );
    }
    invariant(
      inUse === this.#trie.terminalCount,
      `names in use ${inUse}, in the trie ${this.#trie.terminalCount}`,
    );
    for (let slot = 0; slot < NAME_CACHE_SLOTS; slot++) {
      const length = this.#cacheLengths[slot];
      if (length === 0) continue;
      const from = slot * NAME_CACHE_MAX_BYTES;
      const bytes = this.#cacheBytes.subarray(from, from + length);
      invariant(cacheSlot(bytes, 0, length) === slot, "a cached name sits in its own slot");
      invariant(this.find(readUtf8(bytes, 0, length)) === this.#cacheIds[slot], "cached id");
    }
  }

  /** Encodes `name` into the scratch buffer; −1 when it is too long to be a name. */
  #encode(name: string): number {
    if (name.length > MAX_KEY_BYTES) return -1;
    const length = writeUtf8(name, this.#scratch, 0);
    return length > MAX_KEY_BYTES ? -1 : length;
  }
}

/**
 * Checks a record key or field name given as a string before it is stored: the one key
 * rule (`checkKey`), and well-formed UTF-16, since the trie stores UTF-8 and a lone
 * surrogate would come back as U+FFFD. Throws a DecodeError (LimitExceededError for
 * the length).
 *
 * @example
 * ```ts
 * checkStoredName("person1", "record key"); // fine
 * ```
 */
export function checkStoredName(name: string, what: string): void {
  checkKey(name, what);
  checkWellFormed(name, what);
}

/**
 * Throws a DecodeError when `name` has a lone surrogate, which UTF-8 cannot hold.
 *
 * @example
 * ```ts
 * checkWellFormed("\ud800", "field name"); // throws
 * ```
 */
export function checkWellFormed(name: string, what: string): void {
  if (!name.isWellFormed()) throw new DecodeError(`${what} has a lone surrogate, not valid UTF-8`);
}
