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
 * {@link FrozenView.beforeChange}, which copies the key's state at the freeze into a
 * second, private RecordTrie — its encoded value and version, or its tombstone — or,
 * when the key did not exist, notes it in a set of keys to skip (a radix trie). The walk
 * merges the live keys with the copies in key order: a copied key is read from its copy
 * (even if it has since left the live trie altogether), a key of the skip set is passed
 * over, any other key is read live.
 *
 * **Invariant**: for every key k ahead of the cursor, its state at the freeze is its
 * copy when it has one, "absent" when it is in the skip set, else its live state (it has
 * not changed since). Hence the view reads each key of the freeze exactly once, in key
 * order, with its state at the freeze, and no key written since: when the walk ends,
 * the entries read are exactly the keys at the freeze. {@link FrozenView.read} asserts it.
 *
 * Costs: a slice starts with two cursor seeks (O(key length)); a copy is made only for
 * the first write of a key ahead of the cursor, in the trie's own compact form, so memory
 * grows at most by the records written during the walk; it is freed when the view closes.
 * Entries are handed over as the trie's own {@link EntryCursor}: a snapshot writes each
 * key, version and encoded value straight from the trie's arrays.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "./mod.ts";
 * import { int } from "../record/value.ts";
 * const trie = new RecordTrie();
 * trie.put("a", int(1));
 * const view = trie.freeze();
 * trie.put("a", int(2)); // the view still reads int(1)
 * view.read((entry) => console.log(entry.keyLength, entry.tombstone), () => true);
 * view.close();
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import { ByteWriter } from "../base/bytes.ts";
import { readUtf8 } from "../base/utf8.ts";
import { MAX_KEY_BYTES } from "../limits.ts";
import { ByteRadixTrie } from "./radix.ts";
import type { EntryCursor, RecordTrie } from "./mod.ts";

/**
 * Receives one entry of a frozen view, as an entry cursor positioned on it: valid only
 * during the call.
 */
export type FrozenVisitor = (entry: EntryCursor) => void;

/**
 * The keys of a trie as they were when {@link RecordTrie.freeze} made it; see the module
 * docs. One view at a time per trie; {@link close} it when done or abandoned.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "./mod.ts";
 * import { int } from "../record/value.ts";
 * const trie = new RecordTrie();
 * trie.put("person1", int(22));
 * const view = trie.freeze();
 * while (!view.done) {
 *   const sliceEnd = performance.now() + 10;
 *   view.read((entry) => console.log(entry.partition), () => performance.now() < sliceEnd);
 *   await new Promise((resolve) => setTimeout(resolve, 0)); // other work runs between slices
 * }
 * view.close();
 * ```
 */
export class FrozenView {
  readonly #live: RecordTrie;
  /** The state at the freeze of the keys changed ahead of the cursor that then existed. */
  readonly #copies: RecordTrie;
  /** The keys changed ahead of the cursor that did not exist at the freeze. */
  readonly #absent = new ByteRadixTrie({ initialNodeCapacity: 16 });
  readonly #onClose: () => void;
  /** Keys (records and tombstones) at the freeze. */
  readonly #entryCount: number;
  /** The last key read, `#last[0, #lastLength)`; nothing read yet while #started is false. */
  readonly #last = new Uint8Array(MAX_KEY_BYTES);
  #lastLength = 0;
  #started = false;
  readonly #scratch = new ByteWriter(4096);
  #readCount = 0;
  #done = false;
  #closed = false;

  /**
   * Made by {@link RecordTrie.freeze}, not directly.
   *
   * @param live the trie frozen.
   * @param copies an empty trie to keep copies in.
   * @param onClose called once by {@link close}: the trie stops reporting changes.
   */
  constructor(live: RecordTrie, copies: RecordTrie, onClose: () => void) {
    invariant(copies.recordCount + copies.tombstoneCount === 0, "the copies start empty");
    this.#live = live;
    this.#copies = copies;
    this.#onClose = onClose;
    this.#entryCount = live.recordCount + live.tombstoneCount;
  }

  /** Keys (records and tombstones) the trie held at the freeze: what the view reads in all. */
  get entryCount(): number {
    return this.#entryCount;
  }

  /** Entries read so far. */
  get readCount(): number {
    return this.#readCount;
  }

  /** Keys changed ahead of the cursor so far, copied or noted absent (for tests and statistics). */
  get copyCount(): number {
    return this.#copies.recordCount + this.#copies.tombstoneCount + this.#absent.terminalCount;
  }

  /** True once every key of the freeze was read. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Reads the next entries in key order, calling `visit` for each, while `more()` says
   * so (asked before each key). Sets {@link done} when the walk ends, asserting the
   * module's invariant.
   *
   * @example
   * ```ts
   * import { RecordTrie } from "./mod.ts";
   * const view = new RecordTrie().freeze();
   * const end = performance.now() + 10;
   * view.read((entry) => console.log(entry.keyLength), () => performance.now() < end);
   * view.close();
   * ```
   */
  read(visit: FrozenVisitor, more: () => boolean): void {
    invariant(!this.#closed && !this.#done, "read of a closed or finished frozen view");
    const after = this.#started ? this.#last.subarray(0, this.#lastLength) : undefined;
    const live = this.#live.entryCursor(after);
    const copies = this.#copies.entryCursor(after);
    const skipAbsent = this.#absent.terminalCount > 0;
    let hasLive = live.next();
    let hasCopy = copies.next();
    while (more()) {
      if (!hasLive && !hasCopy) {
        this.#finish();
        return;
      }
      const order = !hasCopy
        ? 1
        : !hasLive
        ? -1
        : compareBytes(copies.key, copies.keyLength, live.key, live.keyLength);
      if (order <= 0) {
        // A copy: the key's state at the freeze, whatever the live trie holds now.
        this.#visit(copies, visit);
        hasCopy = copies.next();
        if (order === 0) hasLive = live.next();
      } else {
        if (skipAbsent && this.#absent.find(live.key, live.keyLength) >= 0) this.#remember(live);
        else this.#visit(live, visit);
        hasLive = live.next();
      }
    }
  }

  /**
   * Called by the trie before it changes the key `key[0, length)`. Copies the key's state
   * at the freeze if it is ahead of the cursor and not copied yet. (The trie's lookups
   * below rewrite its scratch buffer, which holds this very key, with the same bytes.)
   *
   * @example
   * ```ts ignore
   * // In RecordTrie, before any change of the key now in its scratch buffer:
   * this.#frozen?.beforeChange(this.#scratch, length);
   * ```
   */
  beforeChange(key: Uint8Array, length: number): void {
    if (this.#done || !this.#isAhead(key, length)) return;
    if (this.#absent.find(key, length) >= 0) return;
    const text = readUtf8(key, 0, length);
    if (this.#copies.versionOf(text) !== undefined) return;
    const live = this.#live;
    const version = live.versionOf(text);
    if (version === undefined) {
      this.#absent.setValue(this.#absent.insert(key, length), 0);
    } else if (live.has(text)) {
      this.#scratch.reset();
      live.getInto(text, this.#scratch);
      this.#copies.putEncoded(text, this.#scratch.bytes(), { version });
    } else {
      this.#copies.tombstone(text, { version });
    }
  }

  /**
   * Ends the view, read or not: the trie stops copying for it. Later calls do nothing.
   *
   * @example
   * ```ts
   * import { RecordTrie } from "./mod.ts";
   * const view = new RecordTrie().freeze();
   * view.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
  }

  #isAhead(key: Uint8Array, length: number): boolean {
    return !this.#started || compareBytes(key, length, this.#last, this.#lastLength) > 0;
  }

  #visit(entry: EntryCursor, visit: FrozenVisitor): void {
    this.#readCount++;
    invariant(this.#readCount <= this.#entryCount, "a frozen view read more keys than it froze");
    visit(entry);
    this.#remember(entry);
  }

  #remember(entry: EntryCursor): void {
    this.#last.set(entry.key.subarray(0, entry.keyLength));
    this.#lastLength = entry.keyLength;
    this.#started = true;
  }

  #finish(): void {
    this.#done = true;
    invariant(
      this.#readCount === this.#entryCount,
      "a frozen view read a number of entries other than the keys at the freeze",
    );
  }
}

/** Orders `a[0, aLength)` and `b[0, bLength)` by bytes: negative, zero or positive. */
function compareBytes(a: Uint8Array, aLength: number, b: Uint8Array, bLength: number): number {
  const common = Math.min(aLength, bLength);
  for (let i = 0; i < common; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return aLength - bLength;
}
