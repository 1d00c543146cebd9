/**
 * A radix (path-compressed) trie over byte strings whose nodes live in typed-array
 * columns instead of JS objects: the record trie uses one for record keys (a terminal's
 * value is the arena offset of the record) and one to intern field names (a terminal's
 * index is the name's id, its value the name's reference count).
 *
 * Node layout, one entry per column, 19 bytes per node: first child and next sibling
 * (Int32, −1 for none), label start (Uint32, into one label arena) and length (Uint16),
 * the label's first byte (Uint8, so sibling scans stay in one column) and the value
 * (Uint32, {@link NO_VALUE} when the node is not a terminal). Siblings are kept sorted
 * by first byte, so a pre-order walk visits keys in byte order.
 *
 * Node indices of terminals are stable for their whole life: a split gives the new
 * prefix node a fresh index and a merge keeps the child's index. Freed nodes go on a
 * free list; label bytes of freed nodes are counted as garbage and the label arena is
 * compacted once garbage is more than half of it.
 *
 * @example
 * ```ts
 * import { ByteRadixTrie } from "./radix.ts";
 * const trie = new ByteRadixTrie();
 * const key = new TextEncoder().encode("person1");
 * trie.setValue(trie.insert(key, key.length), 42);
 * trie.value(trie.find(key, key.length)); // 42
 * ```
 * @module
 */
import { LimitExceededError } from "../base/bytes.ts";
import { invariant } from "../base/invariant.ts";
import { MAX_KEY_BYTES } from "../limits.ts";

/** The value column's marker for "not a terminal". */
export const NO_VALUE = 0xffffffff;

/** Most nodes one trie may hold: node indices must fit the 27-bit name ids of the record arena. */
export const MAX_RADIX_NODES = 2 ** 27;

/** Node capacity a trie starts with when none is given. */
export const DEFAULT_INITIAL_NODE_CAPACITY = 1024;

/** Label-arena garbage below this many bytes is never worth a compaction pass. */
const MIN_LABEL_GARBAGE_TO_COMPACT = 16 * 1024;

/** Label length marking a node on the free list (real labels are at most MAX_KEY_BYTES). */
const FREE_NODE = 0xffff;

const ROOT = 0;
const NONE = -1;

/** Options for {@link ByteRadixTrie}. */
export interface ByteRadixTrieOptions {
  /** Nodes to allocate up front (columns grow by doubling). Default 1024. */
  initialNodeCapacity?: number;
}

/**
 * A byte-string radix trie in typed-array columns. Keys are at most MAX_KEY_BYTES bytes
 * and non-empty; the caller validates them.
 *
 * @example
 * ```ts
 * const trie = new ByteRadixTrie({ initialNodeCapacity: 16 });
 * const key = new Uint8Array([1, 2, 3]);
 * const node = trie.insert(key, 3);
 * trie.setValue(node, 7);
 * trie.remove(key, 3); // 7
 * ```
 */
export class ByteRadixTrie {
  #firstChild: Int32Array;
  #nextSibling: Int32Array;
  #labelStart: Uint32Array;
  #labelLength: Uint16Array;
  #firstByte: Uint8Array;
  #value: Uint32Array;
  /** Nodes ever handed out (the high-water mark); freed ones are on the free list. */
  #nodeEnd = 1;
  #freeHead = NONE;
  #freeCount = 0;
  #labels: Uint8Array;
  #labelEnd = 0;
  #labelGarbage = 0;
  #terminalCount = 0;
  /** Bumped by every mutation so cursors can refuse to walk a changed trie. */
  #version = 0;
  /** Scratch path of node indices for remove (a key of n bytes has at most n + 1 nodes). */
  #path = new Int32Array(MAX_KEY_BYTES + 2);

  /**
   * An empty trie.
   *
   * @param options see {@link ByteRadixTrieOptions}.
   */
  constructor(options: ByteRadixTrieOptions = {}) {
    const capacity = options.initialNodeCapacity ?? DEFAULT_INITIAL_NODE_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > MAX_RADIX_NODES) {
      throw new RangeError(`initialNodeCapacity must be 1..${MAX_RADIX_NODES}: ${capacity}`);
    }
    this.#firstChild = new Int32Array(capacity);
    this.#nextSibling = new Int32Array(capacity);
    this.#labelStart = new Uint32Array(capacity);
    this.#labelLength = new Uint16Array(capacity);
    this.#firstByte = new Uint8Array(capacity);
    this.#value = new Uint32Array(capacity);
    this.#labels = new Uint8Array(Math.max(64, capacity * 2));
    this.#firstChild[ROOT] = NONE;
    this.#nextSibling[ROOT] = NONE;
    this.#value[ROOT] = NO_VALUE;
  }

  /** Number of terminals (stored keys). */
  get terminalCount(): number {
    return this.#terminalCount;
  }

  /** Live nodes, the root included. */
  get nodeCount(): number {
    return this.#nodeEnd - this.#freeCount;
  }

  /** Changes whenever the trie changes; cursors compare it to detect concurrent mutation. */
  get version(): number {
    return this.#version;
  }

  /** Bytes held by the columns and the label arena (their capacity, not just the used part). */
  get memoryBytes(): number {
    return this.#firstChild.byteLength + this.#nextSibling.byteLength +
      this.#labelStart.byteLength + this.#labelLength.byteLength + this.#firstByte.byteLength +
      this.#value.byteLength + this.#labels.byteLength + this.#path.byteLength;
  }

  /** Label-arena bytes no live node refers to, awaiting compaction. */
  get garbageBytes(): number {
    return this.#labelGarbage;
  }

  /**
   * The value of node `node` ({@link NO_VALUE} for a non-terminal).
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * trie.setValue(trie.insert(key, key.length), 42);
   * trie.value(trie.find(key, key.length)); // 42
   * ```
   */
  value(node: number): number {
    return this.#value[node];
  }

  /**
   * Sets the value of a node returned by {@link insert}; it becomes a terminal.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * trie.setValue(trie.insert(key, key.length), 42); // "person1" is a key now, of value 42
   * ```
   */
  setValue(node: number, value: number): void {
    invariant(
      node > ROOT && node < this.#nodeEnd && this.#labelLength[node] !== FREE_NODE,
      "values go on live non-root nodes",
    );
    invariant(value >= 0 && value < NO_VALUE, "values are u32 below NO_VALUE");
    if (this.#value[node] === NO_VALUE) this.#terminalCount++;
    this.#value[node] = value;
    this.#version++;
  }

  /**
   * The terminal node for the key `key[start, start + length)` (start defaults to 0), or −1.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * trie.setValue(trie.insert(key, key.length), 42);
   * trie.find(key, key.length); // the terminal node of "person1"
   * trie.find(key, 6); // -1: "person" is no key, only a prefix
   * ```
   */
  find(key: Uint8Array, length: number, start = 0): number {
    const node = this.#descend(key, length, start);
    return node !== NONE && this.#value[node] !== NO_VALUE ? node : NONE;
  }

  /**
   * Returns the node for key `key[0, length)`, creating it (and splitting an edge) when
   * missing. A new node is not yet a terminal: the caller must {@link setValue} it
   * before any other change, or the trie holds a dangling node. Throws a RangeError,
   * before changing anything, when the trie is full.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * const node = trie.insert(key, key.length);
   * trie.setValue(node, 7); // at once: a node without a value dangles
   * ```
   */
  insert(key: Uint8Array, length: number): number {
    invariant(length > 0 && length <= MAX_KEY_BYTES, "keys are validated before insert");
    // At most two new nodes (a split and a leaf): reserve them so nothing fails midway.
    this.#reserveNodes(2);
    this.#reserveLabelBytes(length);
    this.#version++;
    let node = ROOT;
    let depth = 0;
    for (;;) {
      if (depth === length) return node;
      const byte = key[depth];
      let previous = NONE;
      let child = this.#firstChild[node];
      while (child !== NONE && this.#firstByte[child] < byte) {
        previous = child;
        child = this.#nextSibling[child];
      }
      if (child === NONE || this.#firstByte[child] !== byte) {
        const leaf = this.#newNode(key, depth, length - depth);
        this.#nextSibling[leaf] = child;
        this.#link(node, previous, leaf);
        return leaf;
      }
      const start = this.#labelStart[child];
      const labelLength = this.#labelLength[child];
      let common = 1;
      while (
        common < labelLength && depth + common < length &&
        this.#labels[start + common] === key[depth + common]
      ) common++;
      if (common === labelLength) {
        node = child;
        depth += common;
        continue;
      }
      // Split: a new node takes the shared prefix; the child keeps its index and the rest.
      const split = this.#allocateNode();
      this.#labelStart[split] = start;
      this.#labelLength[split] = common;
      this.#firstByte[split] = byte;
      this.#value[split] = NO_VALUE;
      this.#nextSibling[split] = this.#nextSibling[child];
      this.#link(node, previous, split);
      this.#labelStart[child] = start + common;
      this.#labelLength[child] = labelLength - common;
      this.#firstByte[child] = this.#labels[start + common];
      this.#nextSibling[child] = NONE;
      this.#firstChild[split] = child;
      if (depth + common === length) return split;
      const leaf = this.#newNode(key, depth + common, length - depth - common);
      if (this.#firstByte[leaf] < this.#firstByte[child]) {
        this.#nextSibling[leaf] = child;
        this.#firstChild[split] = leaf;
      } else {
        this.#nextSibling[child] = leaf;
        this.#nextSibling[leaf] = NONE;
      }
      return leaf;
    }
  }

  /**
   * Removes key `key[0, length)` exactly (keys it prefixes, or that prefix it, stay).
   * Returns its value, or {@link NO_VALUE} when it was not stored.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * trie.setValue(trie.insert(key, key.length), 42);
   * trie.remove(key, key.length); // 42
   * trie.remove(key, key.length) === NO_VALUE; // true: gone already
   * ```
   */
  remove(key: Uint8Array, length: number): number {
    const path = this.#path;
    let depth = 0;
    let pathLength = 0;
    let node = ROOT;
    path[pathLength++] = ROOT;
    while (depth < length) {
      node = this.#childByByte(node, key[depth]);
      if (node === NONE) return NO_VALUE;
      const start = this.#labelStart[node];
      const labelLength = this.#labelLength[node];
      if (depth + labelLength > length) return NO_VALUE;
      for (let i = 1; i < labelLength; i++) {
        if (this.#labels[start + i] !== key[depth + i]) return NO_VALUE;
      }
      depth += labelLength;
      path[pathLength++] = node;
    }
    const old = this.#value[node];
    if (node === ROOT || old === NO_VALUE) return NO_VALUE;
    this.#version++;
    this.#value[node] = NO_VALUE;
    this.#terminalCount--;
    const parent = path[pathLength - 2];
    const firstChild = this.#firstChild[node];
    if (firstChild === NONE) {
      this.#unlink(parent, node);
      this.#freeNode(node);
      // A non-terminal inner node must keep two children; with one left it merges down.
      const remaining = this.#firstChild[parent];
      if (
        parent !== ROOT && this.#value[parent] === NO_VALUE &&
        this.#nextSibling[remaining] === NONE
      ) this.#mergeIntoChild(path[pathLength - 3], parent);
    } else if (this.#nextSibling[firstChild] === NONE) {
      this.#mergeIntoChild(parent, node);
    }
    this.#maybeCompactLabels();
    return old;
  }

  /**
   * Copies the label of `node` into `target` at `offset`; returns the offset past it.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * for (const text of ["person1", "person2"]) {
   *   const key = new TextEncoder().encode(text);
   *   trie.setValue(trie.insert(key, key.length), 1);
   * }
   * const label = new Uint8Array(16);
   * const end = trie.copyLabel(trie.firstChild(0), label, 0); // the node both keys share
   * new TextDecoder().decode(label.subarray(0, end)); // "person"
   * ```
   */
  copyLabel(node: number, target: Uint8Array, offset: number): number {
    const start = this.#labelStart[node];
    const length = this.#labelLength[node];
    // Labels are mostly a few bytes: a loop beats creating a subarray view.
    for (let i = 0; i < length; i++) target[offset + i] = this.#labels[start + i];
    return offset + length;
  }

  /**
   * First child of `node`, or −1.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * trie.setValue(trie.insert(key, key.length), 1);
   * trie.firstChild(0); // the node of "person1", below the root (node 0)
   * trie.firstChild(trie.firstChild(0)); // -1: a leaf
   * ```
   */
  firstChild(node: number): number {
    return this.#firstChild[node];
  }

  /**
   * Next sibling of `node` (in byte order), or −1.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * for (const text of ["person2", "person1"]) {
   *   const key = new TextEncoder().encode(text);
   *   trie.setValue(trie.insert(key, key.length), Number(text.at(-1)));
   * }
   * const first = trie.firstChild(trie.firstChild(0)); // below "person": "1" comes first
   * trie.value(first); // 1
   * trie.value(trie.nextSibling(first)); // 2
   * trie.nextSibling(trie.nextSibling(first)); // -1
   * ```
   */
  nextSibling(node: number): number {
    return this.#nextSibling[node];
  }

  /**
   * The shallowest node whose key starts with `prefix[0, length)`, with the length of the
   * key above it (its parent's key), or −1 when no key has that prefix. The root stands
   * for the empty prefix.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * for (const text of ["person1", "person2"]) {
   *   const key = new TextEncoder().encode(text);
   *   trie.setValue(trie.insert(key, key.length), 1);
   * }
   * const encode = (text: string) => new TextEncoder().encode(text);
   * trie.findPrefix(encode("pers"), 4); // { node: <"person">, parentKeyLength: 0 }
   * trie.findPrefix(encode("person2"), 7); // { node: <"person2">, parentKeyLength: 6 }
   * trie.findPrefix(encode("x"), 1).node; // -1
   * ```
   */
  findPrefix(prefix: Uint8Array, length: number): { node: number; parentKeyLength: number } {
    let node = ROOT;
    let depth = 0;
    while (depth < length) {
      const child = this.#childByByte(node, prefix[depth]);
      if (child === NONE) return { node: NONE, parentKeyLength: 0 };
      const start = this.#labelStart[child];
      const labelLength = this.#labelLength[child];
      for (let i = 1; i < labelLength && depth + i < length; i++) {
        if (this.#labels[start + i] !== prefix[depth + i]) {
          return { node: NONE, parentKeyLength: 0 };
        }
      }
      if (depth + labelLength >= length) return { node: child, parentKeyLength: depth };
      node = child;
      depth += labelLength;
    }
    return { node, parentKeyLength: depth };
  }

  /**
   * Checks every structural invariant (O(nodes)); throws an AssertionError on the first
   * broken one. For tests.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("person1");
   * trie.setValue(trie.insert(key, key.length), 1);
   * trie.checkInvariants(); // returns: the structure holds
   * ```
   */
  checkInvariants(): void {
    let live = 0;
    let terminals = 0;
    const stack = [ROOT];
    while (stack.length > 0) {
      const node = stack.pop()!;
      live++;
      if (this.#value[node] !== NO_VALUE) terminals++;
      let childCount = 0;
      let lastByte = -1;
      for (let child = this.#firstChild[node]; child !== NONE; child = this.#nextSibling[child]) {
        invariant(this.#labelLength[child] !== FREE_NODE, "free node linked");
        invariant(this.#labelLength[child] > 0, "empty label");
        invariant(
          this.#firstByte[child] === this.#labels[this.#labelStart[child]],
          `node ${child}'s first byte is its label's`,
        );
        invariant(this.#firstByte[child] > lastByte, "siblings not sorted by first byte");
        lastByte = this.#firstByte[child];
        childCount++;
        stack.push(child);
      }
      if (node !== ROOT && this.#value[node] === NO_VALUE) {
        invariant(childCount >= 2, `inner node ${node} has ${childCount} children`);
      }
    }
    invariant(live === this.nodeCount, `live nodes ${live} vs ${this.nodeCount} by the free list`);
    invariant(
      terminals === this.#terminalCount,
      `terminals ${terminals}, counted ${this.#terminalCount}`,
    );
    invariant(this.#labelGarbage <= this.#labelEnd, "label garbage within the labels");
  }

  #childByByte(node: number, byte: number): number {
    let child = this.#firstChild[node];
    while (child !== NONE && this.#firstByte[child] < byte) child = this.#nextSibling[child];
    return child !== NONE && this.#firstByte[child] === byte ? child : NONE;
  }

  /** The node whose key is exactly `key[offset, offset + length)`, terminal or not, or −1. */
  #descend(key: Uint8Array, length: number, offset: number): number {
    let node = ROOT;
    let depth = 0;
    while (depth < length) {
      node = this.#childByByte(node, key[offset + depth]);
      if (node === NONE) return NONE;
      const start = this.#labelStart[node];
      const labelLength = this.#labelLength[node];
      if (depth + labelLength > length) return NONE;
      for (let i = 1; i < labelLength; i++) {
        if (this.#labels[start + i] !== key[offset + depth + i]) return NONE;
      }
      depth += labelLength;
    }
    return node;
  }

  /** Links `node` under `parent` right after `previous` (−1: as first child). */
  #link(parent: number, previous: number, node: number): void {
    if (previous === NONE) this.#firstChild[parent] = node;
    else this.#nextSibling[previous] = node;
  }

  #unlink(parent: number, node: number): void {
    let previous = NONE;
    let child = this.#firstChild[parent];
    while (child !== node) {
      invariant(child !== NONE, "a node is a child of its parent");
      previous = child;
      child = this.#nextSibling[child];
    }
    this.#link(parent, previous, this.#nextSibling[node]);
  }

  /** Replaces non-terminal `node` (one child) by that child, whose label grows in front. */
  #mergeIntoChild(parent: number, node: number): void {
    const child = this.#firstChild[node];
    invariant(
      child !== NONE && this.#nextSibling[child] === NONE && this.#value[node] === NO_VALUE,
      "only a non-terminal with one child merges",
    );
    const nodeStart = this.#labelStart[node];
    const nodeLength = this.#labelLength[node];
    const childStart = this.#labelStart[child];
    const childLength = this.#labelLength[child];
    if (nodeStart + nodeLength === childStart) {
      // The labels are adjacent in the arena (as a split leaves them): reuse the bytes.
      this.#labelStart[child] = nodeStart;
      this.#labelLength[node] = 0;
    } else {
      this.#reserveLabelBytes(nodeLength + childLength);
      const start = this.#labelEnd;
      this.#labels.copyWithin(start, nodeStart, nodeStart + nodeLength);
      this.#labels.copyWithin(start + nodeLength, childStart, childStart + childLength);
      this.#labelEnd += nodeLength + childLength;
      this.#labelGarbage += childLength;
      this.#labelStart[child] = start;
    }
    this.#labelLength[child] = nodeLength + childLength;
    this.#firstByte[child] = this.#firstByte[node];
    this.#nextSibling[child] = this.#nextSibling[node];
    let previous = NONE;
    for (let sibling = this.#firstChild[parent]; sibling !== node;) {
      previous = sibling;
      sibling = this.#nextSibling[sibling];
    }
    this.#link(parent, previous, child);
    this.#freeNode(node);
  }

  /** A new leaf labelled `key[from, from + length)`, not linked anywhere yet. */
  #newNode(key: Uint8Array, from: number, length: number): number {
    const node = this.#allocateNode();
    this.#reserveLabelBytes(length);
    const start = this.#labelEnd;
    // Labels are mostly a few bytes: a loop beats creating a subarray view.
    const labels = this.#labels;
    for (let i = 0; i < length; i++) labels[start + i] = key[from + i];
    this.#labelEnd += length;
    this.#labelStart[node] = start;
    this.#labelLength[node] = length;
    this.#firstByte[node] = key[from];
    this.#value[node] = NO_VALUE;
    this.#firstChild[node] = NONE;
    this.#nextSibling[node] = NONE;
    return node;
  }

  #allocateNode(): number {
    if (this.#freeHead !== NONE) {
      const node = this.#freeHead;
      this.#freeHead = this.#nextSibling[node];
      this.#freeCount--;
      this.#firstChild[node] = NONE;
      return node;
    }
    invariant(this.#nodeEnd < this.#value.length, "nodes are reserved before allocation");
    const node = this.#nodeEnd++;
    this.#firstChild[node] = NONE;
    return node;
  }

  #freeNode(node: number): void {
    this.#labelGarbage += this.#labelLength[node];
    this.#labelLength[node] = FREE_NODE;
    this.#value[node] = NO_VALUE;
    this.#firstChild[node] = NONE;
    this.#nextSibling[node] = this.#freeHead;
    this.#freeHead = node;
    this.#freeCount++;
  }

  #reserveNodes(count: number): void {
    if (this.#freeCount >= count || this.#nodeEnd + count <= this.#value.length) return;
    const needed = this.#nodeEnd + count;
    if (needed > MAX_RADIX_NODES) {
      throw new LimitExceededError(`trie is full: ${MAX_RADIX_NODES} nodes`);
    }
    const capacity = Math.min(MAX_RADIX_NODES, Math.max(needed, this.#value.length * 2));
    this.#firstChild = new Int32Array(resized(this.#firstChild, capacity));
    this.#nextSibling = new Int32Array(resized(this.#nextSibling, capacity));
    this.#labelStart = new Uint32Array(resized(this.#labelStart, capacity));
    this.#labelLength = new Uint16Array(resized(this.#labelLength, capacity));
    this.#firstByte = new Uint8Array(resized(this.#firstByte, capacity));
    this.#value = new Uint32Array(resized(this.#value, capacity));
  }

  #reserveLabelBytes(count: number): void {
    if (this.#labelEnd + count <= this.#labels.length) return;
    const needed = this.#labelEnd + count;
    if (needed >= NO_VALUE) throw new LimitExceededError("trie label arena is full");
    const capacity = Math.min(NO_VALUE - 1, Math.max(needed, this.#labels.length * 2));
    this.#labels = new Uint8Array(resized(this.#labels, capacity));
  }

  /** Copies live labels into a fresh arena once more than half of the arena is garbage. */
  #maybeCompactLabels(): void {
    if (this.#labelGarbage < MIN_LABEL_GARBAGE_TO_COMPACT) return;
    if (this.#labelGarbage * 2 <= this.#labelEnd) return;
    const liveBytes = this.#labelEnd - this.#labelGarbage;
    const labels = new Uint8Array(Math.max(64, liveBytes * 2));
    let end = 0;
    for (let node = 1; node < this.#nodeEnd; node++) {
      const length = this.#labelLength[node];
      if (length === FREE_NODE) continue;
      const start = this.#labelStart[node];
      labels.set(this.#labels.subarray(start, start + length), end);
      this.#labelStart[node] = end;
      end += length;
    }
    invariant(end <= liveBytes, "compaction keeps only live labels");
    this.#labels = labels;
    this.#labelEnd = end;
    this.#labelGarbage = 0;
  }
}

const CONSTRAINED = 1;
const NO_SIBLINGS = 2;
const LESS = 0;
const PREFIX = 1;
const EQUAL = 2;
const GREATER = 3;

/**
 * Walks the terminals of a {@link ByteRadixTrie} in byte order, optionally only those
 * whose key starts with a prefix and is strictly greater than a resume point. It seeks
 * to the resume point instead of scanning up to it, so a page of `n` keys costs
 * O(key bytes + n · key length · fan-out) however many keys come before it. The trie
 * must not change while a cursor walks it (`next` throws if it did).
 *
 * @example
 * ```ts
 * const trie = new ByteRadixTrie();
 * for (const [i, key] of ["person1", "person2", "place"].entries()) {
 *   const bytes = new TextEncoder().encode(key);
 *   trie.setValue(trie.insert(bytes, bytes.length), i);
 * }
 * const cursor = new RadixCursor(trie, new TextEncoder().encode("person"));
 * while (cursor.next()) console.log(cursor.node, cursor.key.subarray(0, cursor.keyLength));
 * ```
 */
export class RadixCursor {
  #trie: ByteRadixTrie;
  #version: number;
  #after: Uint8Array | undefined;
  #key = new Uint8Array(MAX_KEY_BYTES);
  #keyLength = 0;
  #node = NONE;
  #stackNodes: number[] = [];
  #stackBases: number[] = [];
  #stackFlags: number[] = [];

  /**
   * A cursor before the first key of `trie` starting with `prefix` (and after `after`).
   *
   * @param trie the trie to walk.
   * @param prefix only keys starting with these bytes (empty: all keys).
   * @param after only keys strictly greater than these bytes (omitted: no bound).
   */
  constructor(trie: ByteRadixTrie, prefix: Uint8Array, after?: Uint8Array) {
    this.#trie = trie;
    this.#version = trie.version;
    this.#after = after;
    if (prefix.length > MAX_KEY_BYTES) return;
    const { node, parentKeyLength } = trie.findPrefix(prefix, prefix.length);
    if (node === NONE) return;
    this.#key.set(prefix.subarray(0, parentKeyLength));
    // The walk starts below the prefix's parent key: compare that part with `after` once.
    const state = after === undefined ? GREATER : this.#compareToAfter(0, parentKeyLength);
    if (state === LESS) return;
    const constrained = state === PREFIX ? CONSTRAINED : 0;
    if (node === ROOT) {
      const first = trie.firstChild(ROOT);
      if (first !== NONE) this.#push(first, 0, constrained);
    } else {
      this.#push(node, parentKeyLength, constrained | NO_SIBLINGS);
    }
  }

  /** The current terminal's node index (valid after `next` returned true). */
  get node(): number {
    return this.#node;
  }

  /** The current key's bytes are `key[0, keyLength)`; the buffer is reused by `next`. */
  get key(): Uint8Array {
    return this.#key;
  }

  /** Length of the current key in bytes. */
  get keyLength(): number {
    return this.#keyLength;
  }

  /**
   * Moves to the next terminal in byte order; false when there is none.
   *
   * @example
   * ```ts
   * const trie = new ByteRadixTrie();
   * const key = new TextEncoder().encode("a");
   * trie.setValue(trie.insert(key, key.length), 1);
   * const cursor = new RadixCursor(trie, new Uint8Array(0));
   * cursor.next(); // true: at "a"
   * cursor.next(); // false
   * ```
   */
  next(): boolean {
    if (this.#trie.version !== this.#version) {
      throw new Error("the trie changed while a cursor was walking it");
    }
    const trie = this.#trie;
    while (this.#stackNodes.length > 0) {
      const node = this.#stackNodes.pop()!;
      const base = this.#stackBases.pop()!;
      const flags = this.#stackFlags.pop()!;
      const length = trie.copyLabel(node, this.#key, base);
      const state = (flags & CONSTRAINED) === 0 ? GREATER : this.#compareToAfter(base, length);
      const sibling = trie.nextSibling(node);
      if ((flags & NO_SIBLINGS) === 0 && sibling !== NONE) {
        // Siblings sort after this node: still bounded only while this node sorts before `after`.
        this.#push(sibling, base, state === LESS ? CONSTRAINED : 0);
      }
      if (state === LESS) continue;
      const child = trie.firstChild(node);
      if (child !== NONE) this.#push(child, length, state === PREFIX ? CONSTRAINED : 0);
      if (state === GREATER && trie.value(node) !== NO_VALUE) {
        this.#node = node;
        this.#keyLength = length;
        return true;
      }
    }
    this.#node = NONE;
    return false;
  }

  /** Compares key[0, length) with `after`, knowing key[0, base) equals after[0, base). */
  #compareToAfter(base: number, length: number): number {
    const after = this.#after!;
    for (let position = base; position < length; position++) {
      if (position >= after.length) return GREATER;
      const difference = this.#key[position] - after[position];
      if (difference < 0) return LESS;
      if (difference > 0) return GREATER;
    }
    return length === after.length ? EQUAL : PREFIX;
  }

  #push(node: number, base: number, flags: number): void {
    this.#stackNodes.push(node);
    this.#stackBases.push(base);
    this.#stackFlags.push(flags);
  }
}

/**
 * The buffer of `array` resized to `length` elements, contents kept, the rest zero. The
 * old buffer is detached and its memory freed at once, rather than at some later garbage
 * collection: after a doubling, the half-size copy would otherwise stay in the RSS.
 * `array` must view its whole buffer (as the trie's columns do), and is unusable after.
 *
 * @example
 * ```ts
 * const small = new Int32Array([1, 2, 3]);
 * const big = new Int32Array(resized(small, 6)); // Int32Array [1, 2, 3, 0, 0, 0]
 * small.length; // 0: its buffer was moved into big's
 * ```
 */
export function resized(
  array: Int32Array | Uint32Array | Uint16Array | Uint8Array,
  length: number,
): ArrayBuffer {
  return (array.buffer as ArrayBuffer).transfer(length * array.BYTES_PER_ELEMENT);
}
