/**
 * The record trie: a kv server's only index. One structure indexes every key — record
 * keys in a path-compressed radix trie, and under each record's terminal node the
 * record's value as a sub-trie of field nodes labelled by interned field-name ids, in
 * insertion order, nested objects as deeper nodes. Field names are interned by a second
 * radix trie (a name's id is its terminal node), so no Map, object or array keyed by
 * keys or names exists anywhere.
 *
 * Every key also holds the {@link Version} of its newest write (12 bytes a key node, in
 * `versions.ts`), and a deleted key may stay as a *tombstone*: a key with a version and no
 * record, invisible to `get`, `query`, `keys`, `entries` and `recordCount`, so that an older
 * write arriving late cannot bring the record back (see {@link RecordTrie.tombstone}).
 *
 * Everything lives in typed arrays, not JS objects, because memory is the design
 * constraint: a radix node costs 19 bytes of columns (see `radix.ts`) and a field
 * node 8 bytes in its record's block (see `arena.ts`), small strings and ints
 * inline. A record of the `kv gen -d 3 -l 8 -m 6` shape (≈ 24 fields) takes about
 * 300 bytes, a little less than its JSON text.
 *
 * @example
 * ```ts
 * import { RecordTrie } from "./mod.ts";
 * import { int, object, str } from "../record/value.ts";
 * const trie = new RecordTrie();
 * trie.put("person1", object([["name", str("Mary")], ["age", int(22)]]));
 * trie.query(["person1", "age"]); // { kind: "int", value: 22 }
 * trie.keys({ prefix: "person", limit: 10 }); // ["person1"]
 * ```
 * @module
 */
import { invariant } from "../base/invariant.ts";
import { MAX_KEY_BYTES, MAX_KEYS_LIMIT } from "../limits.ts";
import type { ByteWriter } from "../base/bytes.ts";
import { checkEncodedKey, checkRange, type KeysOptions } from "../record/key.ts";
import { ByteRadixTrie, NO_VALUE, RadixCursor } from "./radix.ts";
import { RecordArena } from "./arena.ts";
import { checkStoredName, checkWellFormed, FieldNames } from "./names.ts";
import { checkPath, type PathMiss } from "../record/query_path.ts";
import { closestWithinOneEdit } from "../base/edit_distance.ts";
import { readUtf8, writeUtf8 } from "../base/utf8.ts";
import type { Value } from "../record/value.ts";
import { BASE_VERSION, type Version, VERSION_BYTES } from "../record/version.ts";
import { partitionOfBytes } from "../record/partition.ts";
import { VersionColumn } from "./versions.ts";
import { FrozenView } from "./frozen.ts";
import {
  DIGEST_KIND_RECORD,
  DIGEST_KIND_TOMBSTONE,
  PartitionDigestTable,
} from "./partition_digests.ts";

export { DEFAULT_INITIAL_NODE_CAPACITY } from "./radix.ts";
export type { FrozenView, FrozenVisitor } from "./frozen.ts";

/** Key nodes a frozen view's trie of copies starts with: most snapshots see few writes. */
const FROZEN_COPIES_INITIAL_NODES = 16;

/** The key trie's value for a tombstone: arena offsets stay below it (MAX_ARENA_BYTES). */
const TOMBSTONE = NO_VALUE - 1;

/** Options for {@link RecordTrie.put} and the other writes. */
export interface PutOptions {
  /** Replace the value when the key holds a record (a tombstone is replaced). Default true. */
  overwrite?: boolean;
  /** The write's version, kept with the key. Default {@link BASE_VERSION}. */
  version?: Version;
  /**
   * Apply the write only when its version is newer than the version the key holds
   * (record or tombstone): last write wins. Default false: apply whatever the versions.
   */
  ifNewer?: boolean;
}

/** Options for {@link RecordTrie.tombstone}. */
export interface TombstoneOptions {
  /** The delete's version. */
  version: Version;
  /** Apply only when newer than what the key holds; see {@link PutOptions.ifNewer}. Default false. */
  ifNewer?: boolean;
}

/** One key of {@link RecordTrie.versionedEntries}: a record, or a tombstone (no value). */
export interface VersionedEntry {
  /** The record key. */
  readonly key: string;
  /** The record's value; undefined for a tombstone. */
  readonly value: Value | undefined;
  /** The version of the key's newest write. */
  readonly version: Version;
}

/** Options for the {@link RecordTrie} constructor. */
export interface RecordTrieOptions {
  /** Record-key nodes to allocate up front; the columns grow by doubling. Default 1024. */
  initialNodeCapacity?: number;
  /**
   * The most bytes of GET answers kept encoded (`answer_cache.ts`), made at the first
   * GET; 0 keeps none. Default ANSWER_CACHE_BYTES (1 MiB).
   */
  answerCacheBytes?: number;
}

/**
 * Records (record key → {@link Value}) indexed by one compact trie.
 *
 * @example
 * ```ts
 * import { str } from "../record/value.ts";
 * const trie = new RecordTrie();
 * trie.put("person3", str("x"));
 * trie.put("person30", str("y"));
 * trie.delete("person3"); // true; "person30" stays
 * [...trie.entries()]; // [["person30", { kind: "string", value: "y" }]]
 * ```
 */
export class RecordTrie {
  #keys: ByteRadixTrie;
  #names = new FieldNames();
  #arena: RecordArena;
  #versions = new VersionColumn();
  /** Each partition's entry count and digest, kept on every change (partition_digests.ts). */
  #digests = new PartitionDigestTable();
  #tombstoneCount = 0;
  #scratch = new Uint8Array(MAX_KEY_BYTES);
  /** The block of the record the last #walk reached. */
  #walkedBlock = 0;
  /** The frozen view being read, told of every change before it is made. */
  #frozen: FrozenView | undefined;

  /**
   * An empty trie.
   *
   * @param options see {@link RecordTrieOptions}.
   */
  constructor(options: RecordTrieOptions = {}) {
    this.#keys = new ByteRadixTrie({ initialNodeCapacity: options.initialNodeCapacity });
    this.#arena = new RecordArena(
      this.#names,
      (owner, offset) => this.#keys.setValue(owner, offset),
      options.answerCacheBytes,
    );
  }

  /**
   * Stores `value` under `key`. Returns false, changing nothing, when the key exists and
   * `overwrite` is false. Throws a TypeError or RangeError, changing nothing, on an
   * invalid key or value (see lib/limits.ts).
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("k", int(1)); // true
   * trie.put("k", int(2), { overwrite: false }); // false; still int(1)
   * ```
   */
  put(key: string, value: Value, options: PutOptions = {}): boolean {
    const length = this.#encodeKey(key);
    const existing = this.#keys.find(this.#scratch, length);
    this.#frozen?.beforeChange(this.#scratch, length);
    if (existing >= 0 && this.#refuses(existing, options, undefined, 0)) {
      // Encode and drop the value so that invalid input throws whether or not the key exists.
      this.#arena.abandon(this.#arena.write(value));
      return false;
    }
    const offset = this.#arena.write(value);
    if (existing >= 0) this.#digest(existing, length, -1);
    const node = this.#own(existing, length, offset);
    this.#versions.set(node, options.version ?? BASE_VERSION);
    this.#digest(node, length, 1);
    return true;
  }

  /**
   * Like {@link RecordTrie.put} for a value in its wire encoding (lib/record/value_codec.ts),
   * without making a Value: `encoded` must hold exactly one value. Throws a DecodeError
   * (malformed or invalid encoding), TypeError or RangeError (invalid key, record too
   * large), changing nothing.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * const trie = new RecordTrie();
   * trie.putEncoded("k", encodeValue(int(1))); // true
   * ```
   */
  putEncoded(key: string, encoded: Uint8Array, options: PutOptions = {}): boolean {
    const length = this.#encodeKey(key);
    return this.#putEncodedScratchKey(length, encoded, 0, encoded.length, options, undefined, 0);
  }

  /**
   * Like {@link RecordTrie.putEncoded} for a record whose key, in UTF-8, is
   * `source[keyStart, keyEnd)` and whose encoded value is `source[valueStart, valueEnd)`:
   * the items of a PUT_MANY are stored straight from the frame, with no string or view
   * made per record. The write's version is the 12 bytes at `source[versionAt]`
   * (lib/record/version.ts), or `options.version` when `versionAt` is −1. An invalid
   * key (empty, dotted, over MAX_KEY_BYTES, not UTF-8) is a DecodeError
   * (LimitExceededError for the length), like an invalid value.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * import { encodeValue } from "../record/value_codec.ts";
   * const trie = new RecordTrie();
   * const key = new TextEncoder().encode("k");
   * const bytes = new Uint8Array([...key, ...new Uint8Array(12), ...encodeValue(int(1))]);
   * trie.putEncodedAt(bytes, 0, 1, 1, 13, bytes.length); // true, at the base version
   * ```
   */
  putEncodedAt(
    source: Uint8Array,
    keyStart: number,
    keyEnd: number,
    versionAt: number,
    valueStart: number,
    valueEnd: number,
    options: PutOptions = {},
  ): boolean {
    checkRange(source, valueStart, valueEnd, "value");
    if (versionAt !== -1) checkRange(source, versionAt, versionAt + VERSION_BYTES, "version");
    checkEncodedKey(source, keyStart, keyEnd);
    const length = keyEnd - keyStart;
    const scratch = this.#scratch;
    for (let i = 0; i < length; i++) scratch[i] = source[keyStart + i];
    return this.#putEncodedScratchKey(
      length,
      source,
      valueStart,
      valueEnd,
      options,
      versionAt === -1 ? undefined : source,
      versionAt,
    );
  }

  /**
   * Stores the encoded value `source[start, end)` under the key in the scratch buffer,
   * with the version at `versionSource[versionAt]`, or `options.version` when there is
   * no version source.
   */
  #putEncodedScratchKey(
    length: number,
    source: Uint8Array,
    start: number,
    end: number,
    options: PutOptions,
    versionSource: Uint8Array | undefined,
    versionAt: number,
  ): boolean {
    const existing = this.#keys.find(this.#scratch, length);
    this.#frozen?.beforeChange(this.#scratch, length);
    const offset = this.#arena.writeEncoded(source, start, end);
    if (existing >= 0 && this.#refuses(existing, options, versionSource, versionAt)) {
      // Written and dropped, so that invalid input throws whether or not the key exists.
      this.#arena.abandon(offset);
      return false;
    }
    if (existing >= 0) this.#digest(existing, length, -1);
    const node = this.#own(existing, length, offset);
    if (versionSource === undefined) this.#versions.set(node, options.version ?? BASE_VERSION);
    else this.#versions.setBytes(node, versionSource, versionAt);
    this.#digest(node, length, 1);
    return true;
  }

  /**
   * XORs the entry at `node`, whose key is the scratch buffer's first `length` bytes,
   * into its partition's digest (`delta` 1) or out of it (−1), as it now stands.
   */
  #digest(node: number, length: number, delta: 1 | -1): void {
    const versions = this.#versions;
    this.#digests.toggle(
      this.#scratch,
      length,
      versions.word(node, 0),
      versions.word(node, 1),
      versions.word(node, 2),
      this.#keys.value(node) === TOMBSTONE ? DIGEST_KIND_TOMBSTONE : DIGEST_KIND_RECORD,
      delta,
    );
  }

  /**
   * Whether a write to the key at node `node` must be refused: it holds a record and
   * `overwrite` is false, or `ifNewer` is set and the key's version is newer or equal.
   */
  #refuses(
    node: number,
    options: PutOptions,
    versionSource: Uint8Array | undefined,
    versionAt: number,
  ): boolean {
    if (options.overwrite === false && this.#keys.value(node) !== TOMBSTONE) return true;
    if (options.ifNewer !== true) return false;
    const held = versionSource === undefined
      ? this.#versions.compare(node, options.version ?? BASE_VERSION)
      : this.#versions.compareBytes(node, versionSource, versionAt);
    return held >= 0;
  }

  /**
   * Points the key in the scratch buffer (`existing` when it is there) at the new block
   * and returns its node.
   */
  #own(existing: number, length: number, offset: number): number {
    const node = existing >= 0 ? existing : this.#insertKey(length, offset);
    this.#arena.setOwner(offset, node);
    if (existing >= 0) {
      const old = this.#keys.value(node);
      this.#keys.setValue(node, offset);
      if (old === TOMBSTONE) this.#tombstoneCount--;
      else this.#arena.release(old);
    } else {
      this.#keys.setValue(node, offset);
    }
    return node;
  }

  /**
   * Deletes `key` by leaving a tombstone with `options.version`: the record (if any)
   * is gone from every read, and with `ifNewer` no write older than the delete can
   * store it again. Returns false, changing nothing, when `ifNewer` is set and the key
   * holds a newer or equal version. A key never seen gets a tombstone too: the write
   * it deletes may still be on its way.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.tombstone("person1", { version: { ms: 2, counter: 0, broker: 1 }, ifNewer: true }); // true
   * trie.get("person1"); // undefined
   * trie.put("person1", int(1), { version: { ms: 1, counter: 0, broker: 1 }, ifNewer: true }); // false
   * ```
   */
  tombstone(key: string, options: TombstoneOptions): boolean {
    const length = this.#encodeKey(key);
    const existing = this.#keys.find(this.#scratch, length);
    this.#frozen?.beforeChange(this.#scratch, length);
    if (existing >= 0) {
      if (options.ifNewer === true && this.#versions.compare(existing, options.version) >= 0) {
        return false;
      }
      this.#digest(existing, length, -1);
      const old = this.#keys.value(existing);
      if (old !== TOMBSTONE) {
        this.#keys.setValue(existing, TOMBSTONE);
        this.#arena.release(old);
        this.#tombstoneCount++;
      }
      this.#versions.set(existing, options.version);
      this.#digest(existing, length, 1);
      return true;
    }
    const node = this.#keys.insert(this.#scratch, length);
    this.#keys.setValue(node, TOMBSTONE);
    this.#tombstoneCount++;
    this.#versions.set(node, options.version);
    this.#digest(node, length, 1);
    return true;
  }

  /**
   * Whether `key` holds a record (not a tombstone), without reading it.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * trie.has("person1"); // true
   * ```
   */
  has(key: string): boolean {
    const node = this.#keys.find(this.#scratch, this.#encodeKey(key));
    return node >= 0 && this.#keys.value(node) !== TOMBSTONE;
  }

  /**
   * The version of `key`'s newest write — its record's or its tombstone's — or
   * undefined when the trie holds neither.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22), { version: { ms: 1733040000000, counter: 0, broker: 7 } });
   * trie.versionOf("person1"); // { ms: 1733040000000, counter: 0, broker: 7 }
   * ```
   */
  versionOf(key: string): Version | undefined {
    const node = this.#keys.find(this.#scratch, this.#encodeKey(key));
    return node < 0 ? undefined : this.#versions.get(node);
  }

  /**
   * The value stored under `key`, or undefined.
   *
   * @example
   * ```ts
   * const trie = new RecordTrie();
   * trie.get("missing"); // undefined
   * ```
   */
  get(key: string): Value | undefined {
    const node = this.#keys.find(this.#scratch, this.#encodeKey(key));
    if (node < 0) return undefined;
    const offset = this.#keys.value(node);
    return offset === TOMBSTONE ? undefined : this.#arena.read(offset);
  }

  /**
   * Appends the value stored under `key` to `writer` in the wire encoding
   * (`lib/record/value_codec.ts`), straight from the arena, and returns true; false,
   * writing nothing, when there is none. What a server's GET answers.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { decodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * const writer = new ByteWriter();
   * if (trie.getInto("person1", writer)) decodeValue(writer.bytes());
   * ```
   */
  getInto(key: string, writer: ByteWriter): boolean {
    const node = this.#keys.find(this.#scratch, this.#encodeKey(key));
    if (node < 0) return false;
    const offset = this.#keys.value(node);
    if (offset === TOMBSTONE) return false;
    this.#arena.encodeNode(offset, this.#arena.rootNode(offset), writer);
    return true;
  }

  /**
   * What a server's GET answers, read with the key given as its UTF-8 bytes
   * `source[keyStart, keyEnd)` (no string is made): when the trie holds the key, appends
   * its version's 12 bytes to `writer`, then, when the key holds a record rather than a
   * tombstone, the record's value in the wire encoding (from the arena, or as kept since
   * the last GET of that record: `answer_cache.ts`), and
   * returns whether it wrote a value. Throws a DecodeError (LimitExceededError for the
   * length), writing nothing, when the bytes are no valid key (see `checkEncodedKey`).
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * const key = new TextEncoder().encode("person1");
   * const writer = new ByteWriter();
   * trie.getEncodedAt(key, 0, key.length, writer); // true: the version, then the value
   * trie.getEncodedAt(key, 0, 6, writer); // false, nothing more written: "person" is not held
   * ```
   */
  getEncodedAt(source: Uint8Array, keyStart: number, keyEnd: number, writer: ByteWriter): boolean {
    checkEncodedKey(source, keyStart, keyEnd);
    const node = this.#keys.find(source, keyEnd - keyStart, keyStart);
    if (node < 0) return false;
    this.#versions.writeInto(node, writer);
    const offset = this.#keys.value(node);
    if (offset === TOMBSTONE) return false;
    this.#arena.encodeRecord(offset, writer);
    return true;
  }

  /**
   * The value at `path`: `path[0]` is the record key, each further element a field name
   * of the object reached so far. Undefined when the record or a field is missing or the
   * path runs into a scalar.
   *
   * @example
   * ```ts
   * import { int, object, str } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", object([["age", int(22)], ["address", object([["street", str("Main")]])]]));
   * trie.query(["person1", "address", "street"]); // { kind: "string", value: "Main" }
   * trie.query(["person1", "age", "x"]); // undefined: age is an int
   * ```
   */
  query(path: readonly string[]): Value | undefined {
    const node = this.#walk(path);
    return node < 0 ? undefined : this.#arena.readNode(this.#walkedBlock, node);
  }

  /**
   * Like {@link RecordTrie.query}, appending the value to `writer` in the wire encoding
   * straight from the arena; false, writing nothing, when there is none.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * const writer = new ByteWriter();
   * trie.queryInto(["person1", "age"], writer); // true: 02 16 appended
   * ```
   */
  queryInto(path: readonly string[], writer: ByteWriter): boolean {
    const node = this.#walk(path);
    if (node < 0) return false;
    this.#arena.encodeNode(this.#walkedBlock, node, writer);
    return true;
  }

  /**
   * Why `path`, which holds no value ({@link RecordTrie.query} is undefined), holds none
   * in a record the key holds: the first segment it cannot take, and whether the object
   * there lacks that field (with its field nearest the name, one edit or case apart) or
   * the path ran into a scalar. Undefined when the key holds no record (a tombstone, or
   * nothing). Throws when the path holds a value. Costs at most what reading the object
   * where the path stopped costs: it is for a QUERY that missed, not for reads.
   *
   * @example
   * ```ts
   * import { int, object, str } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", object([["age", int(22)], ["address", object([["street", str("Main")]])]]));
   * trie.queryMiss(["person1", "address", "stret"]); // { reason: "no-field", segment: 2, closest: "street" }
   * trie.queryMiss(["person1", "age", "x"]); // { reason: "not-object", segment: 2, value: int(22) }
   * trie.queryMiss(["person2", "age"]); // undefined: no record
   * ```
   */
  queryMiss(path: readonly string[]): PathMiss | undefined {
    const offset = this.#recordAt(path);
    if (offset < 0) return undefined;
    const arena = this.#arena;
    let at = arena.rootNode(offset);
    for (let segment = 1; segment < path.length; segment++) {
      if (!arena.isObjectNode(at)) {
        return { reason: "not-object", segment, value: arena.readNode(offset, at) };
      }
      const nameId = this.#names.find(path[segment]);
      const child = nameId < 0 ? -1 : arena.childNode(offset, at, nameId);
      if (child < 0) {
        const closest = nearestName(path[segment], arena.fieldNames(offset, at));
        return closest === undefined
          ? { reason: "no-field", segment }
          : { reason: "no-field", segment, closest };
      }
      at = child;
    }
    throw new Error(`query path '${path.join(".")}' holds a value: nothing is missing`);
  }

  /** The block of the record `path[0]` holds, after checking `path`; −1 when it holds none. */
  #recordAt(path: readonly string[]): number {
    if (!Array.isArray(path)) throw new TypeError("path is not a key list");
    checkPath(path);
    for (const name of path) checkWellFormed(name, "path segment");
    const node = this.#keys.find(this.#scratch, writeUtf8(path[0], this.#scratch, 0));
    if (node < 0) return -1;
    const offset = this.#keys.value(node);
    return offset === TOMBSTONE ? -1 : offset;
  }

  /** The arena node at `path`, its block left in #walkedBlock; −1 when there is none. */
  #walk(path: readonly string[]): number {
    const offset = this.#recordAt(path);
    if (offset < 0) return -1;
    let at = this.#arena.rootNode(offset);
    for (let i = 1; i < path.length; i++) {
      const nameId = this.#names.find(path[i]);
      if (nameId < 0) return -1;
      at = this.#arena.childNode(offset, at, nameId);
      if (at < 0) return -1;
    }
    this.#walkedBlock = offset;
    return at;
  }

  /**
   * Removes exactly `key` and its version, whether it holds a record or a tombstone:
   * keys it prefixes (or that prefix it) stay. Returns true when a record was removed.
   * Nothing is left to stop an older write from storing the key again: deletes that
   * must win are {@link tombstone}s; this is for purging old tombstones and replaying
   * logs written before tombstones existed.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * for (const key of ["person3", "person30", "person3x"]) trie.put(key, int(3));
   * trie.delete("person3"); // "person30" and "person3x" are untouched
   * ```
   */
  delete(key: string): boolean {
    const length = this.#encodeKey(key);
    const node = this.#keys.find(this.#scratch, length);
    if (node < 0) return false;
    this.#frozen?.beforeChange(this.#scratch, length);
    this.#digest(node, length, -1);
    const offset = this.#keys.remove(this.#scratch, length);
    invariant(offset !== NO_VALUE, "a key found is removed");
    if (offset === TOMBSTONE) {
      this.#tombstoneCount--;
      return false;
    }
    this.#arena.release(offset);
    return true;
  }

  /**
   * Removes every tombstone whose version's `ms` is below `beforeMs` and returns how
   * many. O(keys): the store runs it rarely (a tombstone grace is hours).
   *
   * @example
   * ```ts
   * const trie = new RecordTrie();
   * trie.purgeTombstones(Date.now() - 24 * 3600 * 1000); // tombstones older than a day
   * ```
   */
  purgeTombstones(beforeMs: number): number {
    if (this.#tombstoneCount === 0) return 0;
    const expired: string[] = [];
    const cursor = new RadixCursor(this.#keys, new Uint8Array(0));
    while (cursor.next()) {
      const node = cursor.node;
      if (this.#keys.value(node) === TOMBSTONE && this.#versions.ms(node) < beforeMs) {
        expired.push(readUtf8(cursor.key, 0, cursor.keyLength));
      }
    }
    for (const key of expired) this.delete(key);
    return expired.length;
  }

  /** Number of records stored (tombstones not counted). */
  get recordCount(): number {
    return this.#keys.terminalCount - this.#tombstoneCount;
  }

  /** Number of tombstones held. */
  get tombstoneCount(): number {
    return this.#tombstoneCount;
  }

  /**
   * Record keys starting with `prefix` and strictly after `after`, ascending in
   * {@link compareKeys} order, at most `limit` of them. Costs O(prefix + after + answer).
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * for (let i = 1; i <= 12; i++) trie.put(`person${i}`, int(i));
   * trie.keys({ prefix: "person", limit: 2 }); // ["person1", "person10"]
   * trie.keys({ prefix: "person", limit: 2, after: "person10" }); // ["person11", "person12"]
   * ```
   */
  keys(options: KeysOptions): string[] {
    const { prefix = "", limit, after } = options;
    if (typeof prefix !== "string" || !prefix.isWellFormed()) {
      throw new TypeError("prefix is not a well-formed string");
    }
    if (after !== undefined && (typeof after !== "string" || !after.isWellFormed())) {
      throw new TypeError("after is not a well-formed string");
    }
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_KEYS_LIMIT) {
      throw new RangeError(`limit must be an integer 0..${MAX_KEYS_LIMIT}: ${limit}`);
    }
    const result: string[] = [];
    if (limit === 0) return result;
    const cursor = new RadixCursor(
      this.#keys,
      encoder.encode(prefix),
      after === undefined ? undefined : encoder.encode(after),
    );
    while (result.length < limit && cursor.next()) {
      if (this.#keys.value(cursor.node) === TOMBSTONE) continue;
      result.push(readUtf8(cursor.key, 0, cursor.keyLength));
    }
    return result;
  }

  /**
   * Every record in key order, lazily. The trie must not change during the iteration
   * (the iterator throws if it did).
   *
   * @example
   * ```ts
   * const trie = new RecordTrie();
   * for (const [key, value] of trie.entries()) console.log(key, value);
   * ```
   */
  *entries(): IterableIterator<[string, Value]> {
    const cursor = new RadixCursor(this.#keys, new Uint8Array(0));
    while (cursor.next()) {
      const offset = this.#keys.value(cursor.node);
      if (offset === TOMBSTONE) continue;
      const key = readUtf8(cursor.key, 0, cursor.keyLength);
      yield [key, this.#arena.read(offset)];
    }
  }

  /**
   * Every key in key order with its version, tombstones included: what a snapshot
   * keeps. The trie must not change during the iteration (the iterator throws if it did).
   *
   * @example
   * ```ts
   * const trie = new RecordTrie();
   * for (const { key, value, version } of trie.versionedEntries()) console.log(key, value, version);
   * ```
   */
  *versionedEntries(): IterableIterator<VersionedEntry> {
    const cursor = new RadixCursor(this.#keys, new Uint8Array(0));
    while (cursor.next()) {
      const offset = this.#keys.value(cursor.node);
      yield {
        key: readUtf8(cursor.key, 0, cursor.keyLength),
        value: offset === TOMBSTONE ? undefined : this.#arena.read(offset),
        version: this.#versions.get(cursor.node),
      };
    }
  }

  /**
   * A view of every key (records and tombstones) as it is now, readable in key order a
   * slice at a time while the trie goes on changing (copy on write; see frozen.ts): what
   * a snapshot is written from. One view at a time; close it when done.
   *
   * @example
   * ```ts
   * import type { EntryCursor } from "./mod.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("k", int(1));
   * const save = (entry: EntryCursor) => console.log(entry.partition, entry.tombstone);
   * const view = trie.freeze();
   * trie.put("k", int(2)); // the view still sees what "k" held before
   * while (!view.done) view.read((entry) => save(entry), () => true);
   * view.close();
   * ```
   */
  freeze(): FrozenView {
    invariant(this.#frozen === undefined, "a trie has one frozen view at a time");
    const copies = new RecordTrie({ initialNodeCapacity: FROZEN_COPIES_INITIAL_NODES });
    const view = new FrozenView(this, copies, () => this.#frozen = undefined);
    this.#frozen = view;
    return view;
  }

  /**
   * A cursor over every key (records and tombstones) in ascending byte order, strictly
   * after `after` when given: what LIST_PARTITIONS reads. The trie must not change while
   * it is used.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * const trie = new RecordTrie();
   * const writer = new ByteWriter();
   * const cursor = trie.entryCursor();
   * while (cursor.next()) if (!cursor.tombstone) cursor.writeValue(writer);
   * ```
   */
  entryCursor(after?: Uint8Array): EntryCursor {
    const cursor = new RadixCursor(this.#keys, new Uint8Array(0), after);
    return new EntryCursor(cursor, this.#keys, this.#versions, this.#arena);
  }

  /**
   * Each partition's entry count (records and tombstones) and digest, kept up to date on
   * every change; see partition_digests.ts. Read it, never change it.
   *
   * @example
   * ```ts
   * import { partitionOf } from "../record/partition.ts";
   * const trie = new RecordTrie();
   * trie.partitionDigests.count(partitionOf("person1")); // 1 after a put of person1
   * ```
   */
  get partitionDigests(): PartitionDigestTable {
    return this.#digests;
  }

  /** Bytes held by the trie's typed arrays and arenas (capacity, garbage included). */
  get memoryBytes(): number {
    return this.#keys.memoryBytes + this.#names.memoryBytes + this.#arena.memoryBytes +
      this.#versions.memoryBytes + this.#scratch.byteLength + this.#digests.memoryBytes;
  }

  /**
   * A breakdown of memory use, for STATS and benchmarks.
   *
   * @example
   * ```ts
   * const trie = new RecordTrie();
   * trie.memoryStats(); // { keyNodes: 1, distinctFieldNames: 2, arenaUsedBytes: 48, ... }
   * ```
   */
  memoryStats(): {
    keyNodes: number;
    distinctFieldNames: number;
    arenaUsedBytes: number;
    arenaGarbageBytes: number;
    memoryBytes: number;
  } {
    return {
      keyNodes: this.#keys.nodeCount,
      distinctFieldNames: this.#names.count,
      arenaUsedBytes: this.#arena.usedBytes,
      arenaGarbageBytes: this.#arena.garbageBytes,
      memoryBytes: this.memoryBytes,
    };
  }

  /**
   * Checks every internal invariant, O(size); throws an AssertionError if one is broken. For tests.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * trie.checkInvariants(); // returns: keys, versions, arena and names agree
   * ```
   */
  checkInvariants(): void {
    this.#keys.checkInvariants();
    this.#names.checkInvariants();
    this.#arena.checkInvariants(this.recordCount);
    // The digests kept on every change equal those of a full scan.
    const scanned = new PartitionDigestTable();
    const cursor = new RadixCursor(this.#keys, new Uint8Array(0));
    while (cursor.next()) {
      const node = cursor.node;
      scanned.toggle(
        cursor.key,
        cursor.keyLength,
        this.#versions.word(node, 0),
        this.#versions.word(node, 1),
        this.#versions.word(node, 2),
        this.#keys.value(node) === TOMBSTONE ? DIGEST_KIND_TOMBSTONE : DIGEST_KIND_RECORD,
      );
    }
    invariant(scanned.equals(this.#digests), "partition digests equal a full scan's");
  }

  /** Validates `key` and writes its UTF-8 bytes to the scratch buffer; returns their length. */
  #encodeKey(key: string): number {
    checkStoredName(key, "record key");
    return writeUtf8(key, this.#scratch, 0);
  }

  /** Inserts the scratch key; if that fails (trie full) the new block becomes garbage. */
  #insertKey(length: number, offset: number): number {
    try {
      return this.#keys.insert(this.#scratch, length);
    } catch (error) {
      this.#arena.abandon(offset);
      throw error;
    }
  }
}

const encoder = new TextEncoder();

/**
 * Walks a trie's entries in key order (see {@link RecordTrie.entryCursor}), exposing each
 * one's key bytes, partition, kind, version and value without making objects per entry.
 *
 * @example
 * ```ts
 * const trie = new RecordTrie();
 * const cursor = trie.entryCursor();
 * while (cursor.next()) console.log(cursor.partition, cursor.tombstone);
 * ```
 */
export class EntryCursor {
  readonly #cursor: RadixCursor;
  readonly #keys: ByteRadixTrie;
  readonly #versions: VersionColumn;
  readonly #arena: RecordArena;

  /** Made by {@link RecordTrie.entryCursor}. */
  constructor(
    cursor: RadixCursor,
    keys: ByteRadixTrie,
    versions: VersionColumn,
    arena: RecordArena,
  ) {
    this.#cursor = cursor;
    this.#keys = keys;
    this.#versions = versions;
    this.#arena = arena;
  }

  /**
   * Moves to the next entry; false at the end.
   *
   * @example
   * ```ts
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("a", int(1));
   * const cursor = trie.entryCursor();
   * cursor.next(); // true: at "a"
   * cursor.next(); // false: no more entries
   * ```
   */
  next(): boolean {
    return this.#cursor.next();
  }

  /** The entry's key bytes are `key[0, keyLength)`; the buffer is reused by `next`. */
  get key(): Uint8Array {
    return this.#cursor.key;
  }

  /** Length of the entry's key in bytes. */
  get keyLength(): number {
    return this.#cursor.keyLength;
  }

  /** The entry's partition (lib/record/partition.ts). */
  get partition(): number {
    return partitionOfBytes(this.#cursor.key, 0, this.#cursor.keyLength);
  }

  /** The entry is a tombstone, not a record. */
  get tombstone(): boolean {
    return this.#keys.value(this.#cursor.node) === TOMBSTONE;
  }

  /**
   * Appends the 12 bytes of the entry's version (lib/record/version.ts), straight from
   * the trie's version column.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { readVersion } from "../record/version.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22), { version: { ms: 1000, counter: 2, broker: 7 } });
   * const cursor = trie.entryCursor();
   * cursor.next();
   * const writer = new ByteWriter();
   * cursor.writeVersion(writer);
   * readVersion(writer.bytes(), 0); // { ms: 1000, counter: 2, broker: 7 }
   * ```
   */
  writeVersion(writer: ByteWriter): void {
    this.#versions.writeInto(this.#cursor.node, writer);
  }

  /**
   * Appends the record's value in the wire encoding; the entry must be a record.
   *
   * @example
   * ```ts
   * import { ByteWriter } from "../base/bytes.ts";
   * import { decodeValue } from "../record/value_codec.ts";
   * import { int } from "../record/value.ts";
   * const trie = new RecordTrie();
   * trie.put("person1", int(22));
   * const cursor = trie.entryCursor();
   * const writer = new ByteWriter();
   * if (cursor.next() && !cursor.tombstone) cursor.writeValue(writer);
   * decodeValue(writer.bytes()); // { kind: "int", value: 22 }
   * ```
   */
  writeValue(writer: ByteWriter): void {
    const offset = this.#keys.value(this.#cursor.node);
    invariant(offset !== TOMBSTONE, "only a record has a value");
    this.#arena.encodeNode(offset, this.#arena.rootNode(offset), writer);
  }
}

/**
 * Names this short or shorter are one edit from every other as short: a suggestion for
 * one (`x` for `y`) would be noise, so it gets one only for a name differing in case.
 */
const MAX_NAME_WITHOUT_TYPOS = 1;

/** The field of `names` a query most likely meant by `typed`, if one is that near. */
function nearestName(typed: string, names: readonly string[]): string | undefined {
  const closest = closestWithinOneEdit(typed, names);
  if (closest === undefined || typed.length > MAX_NAME_WITHOUT_TYPOS) return closest;
  return closest.toLowerCase() === typed.toLowerCase() ? closest : undefined;
}
