/**
 * A frozen view of a {@link RecordTrie}: every key as it was at one moment, read in key
 * order a slice at a time while the trie goes on changing. This is what lets a server
 * write a snapshot of millions of records without stopping: the store freezes the trie
 * at the instant it switches logs, and reads the view in short slices between which the
 * event loop serves requests, whose writes go to the trie and the new log.
 *
 * ## How: copy on write, per key, ahead of the cursor
 *
 * The view walks the live trie in key order, remembering the last key it passed (the
 * cursor). Keys at or behind the cursor are already read: changing them cannot matter.
 * Before the trie changes a key *ahead* of the cursor for the first time, it calls
 * {@link FrozenView.beforeChange}, which copies the key's state at the freeze — its
 * encoded value and version, a tombstone, or that it did not exist — into a side table.
 * When the walk reaches that key it reads the copy instead of the live key; a key
 * removed from the trie altogether is remembered in a sorted list and read from its copy
 * when the walk passes where it was.
 *
 * **Invariant**: for every key k ahead of the cursor, its state at the freeze is the
 * copy when there is one, else its live state (it has not changed since). Hence the view
 * reads each key of the freeze exactly once, in key order, with its state at the freeze,
 * and no key written since: when the walk ends, entries read = keys at the freeze, and
 * no copy is left unread. {@link FrozenView.read} asserts both.
 *
 * Costs: a slice starts with a cursor seek (O(key length)); a copy is made only for the
 * first write of a key ahead of the cursor, so memory grows at most by the records
 * written during the walk, and is freed as the walk passes them.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "./mod.ts";
 * import { int } from "../record/value.ts";
 * const trie = new RecordTrie();
 * trie.put("a", int(1));
 * const view = trie.freeze();
 * trie.put("a", int(2)); // the view still reads int(1)
 * view.read((key, version, value) => console.log(key, version, value), () => true);
 * view.close();
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { ByteWriter } from "../base/bytes.ts";
import { compareKeys, readUtf8, writeUtf8 } from "../base/utf8.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import type { Version } from "../record/version.ts";
import { type ByteRadixTrie, RadixCursor } from "./radix.ts";

/** What a {@link FrozenView} reads of its trie; {@link RecordTrie.freeze} provides it. */
export interface FrozenSource {
  /** The trie of record keys, walked in byte order. */
  readonly keys: ByteRadixTrie;
  /** Whether key node `node` holds a tombstone. */
  isTombstone(node: number): boolean;
  /** The version of key node `node`. */
  version(node: number): Version;
  /** Appends the wire encoding of the record at key node `node` to `writer`. */
  encodeValue(node: number, writer: ByteWriter): void;
}

/**
 * Receives one entry of a frozen view: the key's UTF-8 bytes, its version, and its
 * record's encoded value (undefined for a tombstone). Both arrays are views valid only
 * during the call.
 */
export type FrozenVisitor = (
  key: Uint8Array,
  version: Version,
  encodedValue: Uint8Array | undefined,
) => void;

/** A key's state at the freeze, copied before its first change. */
type Copy =
  | { readonly existed: false }
  | { readonly existed: true; readonly version: Version; readonly value: Uint8Array | undefined };

const ABSENT: Copy = { existed: false };
const NO_PREFIX = new Uint8Array(0);

/**
 * The keys of a trie as they were when {@link RecordTrie.freeze} made it; see the module
 * docs. One view at a time per trie; {@link close} it when done or abandoned.
 *
 * @example
 * ```ts
 * const view = trie.freeze();
 * while (!view.done) view.read(visit, () => performance.now() < sliceEnd);
 * view.close();
 * ```
 */
export class FrozenView {
  readonly #source: FrozenSource;
  readonly #onClose: () => void;
  /** Keys (records and tombstones) at the freeze. */
  readonly #entryCount: number;
  /** The last key read, `#last[0, #lastLength)`; nothing read yet while #started is false. */
  readonly #last = new Uint8Array(MAX_KEY_BYTES);
  #lastLength = 0;
  #started = false;
  /** Keys ahead of the cursor changed since the freeze, with their state at the freeze. */
  readonly #copies = new Map<string, Copy>();
  /** Keys ahead of the cursor removed from the trie since the freeze, in key order. */
  readonly #removed: string[] = [];
  readonly #keyBytes = new Uint8Array(MAX_KEY_BYTES);
  readonly #scratch = new ByteWriter(4096);
  #readCount = 0;
  #done = false;
  #closed = false;

  /**
   * Made by {@link RecordTrie.freeze}, not directly.
   *
   * @param source how to read the trie's live keys.
   * @param onClose called once by {@link close}: the trie stops reporting changes.
   */
  constructor(source: FrozenSource, onClose: () => void) {
    this.#source = source;
    this.#onClose = onClose;
    this.#entryCount = source.keys.terminalCount;
  }

  /** Keys (records and tombstones) the trie held at the freeze: what the view reads in all. */
  get entryCount(): number {
    return this.#entryCount;
  }

  /** Entries read so far. */
  get readCount(): number {
    return this.#readCount;
  }

  /** Copies held of keys changed ahead of the cursor (for tests and statistics). */
  get copyCount(): number {
    return this.#copies.size;
  }

  /** True once every key of the freeze was read. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Reads the next entries in key order, calling `visit` for each, while `more()` says
   * so (asked before each key of the live trie). Sets {@link done} when the walk ends,
   * asserting the module's invariant.
   *
   * @example
   * ```ts
   * const end = performance.now() + 10;
   * view.read((key, version, value) => writer.add(key, version, value), () => performance.now() < end);
   * ```
   */
  read(visit: FrozenVisitor, more: () => boolean): void {
    assert(!this.#closed && !this.#done, "read of a closed or finished frozen view");
    const keys = this.#source.keys;
    const cursor = new RadixCursor(
      keys,
      NO_PREFIX,
      this.#started ? this.#last.subarray(0, this.#lastLength) : undefined,
    );
    while (more()) {
      if (!cursor.next()) {
        this.#readRemoved(undefined, visit);
        this.#finish();
        return;
      }
      const node = cursor.node;
      const length = cursor.keyLength;
      const bytes = cursor.key.subarray(0, length);
      if (this.#copies.size === 0) {
        this.#readLive(node, bytes, visit);
      } else {
        const key = readUtf8(cursor.key, 0, length);
        this.#readRemoved(key, visit);
        const copy = this.#copies.get(key);
        if (copy === undefined) this.#readLive(node, bytes, visit);
        else this.#readCopy(key, copy, visit);
      }
      this.#last.set(bytes);
      this.#lastLength = length;
      this.#started = true;
    }
  }

  /**
   * Called by the trie before it changes the key `key[0, length)`, whose node is `node`
   * (−1 when the key is not in the trie), and with `removing` when the change takes the
   * key out of the trie. Copies the key's state at the freeze if it is ahead of the
   * cursor and has no copy yet.
   */
  beforeChange(key: Uint8Array, length: number, node: number, removing: boolean): void {
    if (this.#done || !this.#isAhead(key, length)) return;
    const text = readUtf8(key, 0, length);
    if (!this.#copies.has(text)) this.#copies.set(text, node < 0 ? ABSENT : this.#copyOf(node));
    if (removing) this.#noteRemoved(text);
  }

  /**
   * Ends the view, read or not: the trie stops copying for it. Later calls do nothing.
   *
   * @example
   * ```ts
   * view.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#copies.clear();
    this.#removed.length = 0;
    this.#onClose();
  }

  #isAhead(key: Uint8Array, length: number): boolean {
    if (!this.#started) return true;
    const last = this.#last;
    const common = Math.min(length, this.#lastLength);
    for (let i = 0; i < common; i++) {
      if (key[i] !== last[i]) return key[i] > last[i];
    }
    return length > this.#lastLength;
  }

  #copyOf(node: number): Copy {
    const source = this.#source;
    const version = source.version(node);
    if (source.isTombstone(node)) return { existed: true, version, value: undefined };
    this.#scratch.reset();
    source.encodeValue(node, this.#scratch);
    return { existed: true, version, value: this.#scratch.bytes().slice() };
  }

  /** Inserts `key` into the sorted list of removed keys, once. */
  #noteRemoved(key: string): void {
    const removed = this.#removed;
    let low = 0;
    let high = removed.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareKeys(removed[middle], key) < 0) low = middle + 1;
      else high = middle;
    }
    if (removed[low] !== key) removed.splice(low, 0, key);
  }

  /** Reads the removed keys before `before` (all of them when undefined) from their copies. */
  #readRemoved(before: string | undefined, visit: FrozenVisitor): void {
    const removed = this.#removed;
    let count = 0;
    while (
      count < removed.length && (before === undefined || compareKeys(removed[count], before) < 0)
    ) {
      const key = removed[count++];
      const copy = this.#copies.get(key);
      // No copy left: the key came back into the trie, and the walk read it there.
      if (copy !== undefined) this.#readCopy(key, copy, visit);
    }
    removed.splice(0, count);
  }

  #readLive(node: number, key: Uint8Array, visit: FrozenVisitor): void {
    const source = this.#source;
    this.#readCount++;
    if (source.isTombstone(node)) {
      visit(key, source.version(node), undefined);
      return;
    }
    this.#scratch.reset();
    source.encodeValue(node, this.#scratch);
    visit(key, source.version(node), this.#scratch.bytes());
  }

  #readCopy(key: string, copy: Copy, visit: FrozenVisitor): void {
    this.#copies.delete(key);
    if (!copy.existed) return;
    this.#readCount++;
    const length = writeUtf8(key, this.#keyBytes, 0);
    visit(this.#keyBytes.subarray(0, length), copy.version, copy.value);
  }

  #finish(): void {
    this.#done = true;
    assert.equal(this.#removed.length, 0, "a removed key of the freeze was not read");
    assert.equal(this.#copies.size, 0, "a key changed ahead of the walk was not read");
    assert.equal(
      this.#readCount,
      this.#entryCount,
      "a frozen view read a number of entries other than the keys at the freeze",
    );
  }
}
