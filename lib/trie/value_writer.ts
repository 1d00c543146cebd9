/**
 * The record arena's writer fed by decoded {@link Value}s (`RecordTrie.put`): it checks a
 * value as the API's caller may have built it wrongly, measures its block, then writes
 * it through a {@link BlockBuilder}. Its twin for wire bytes is `encoded_writer.ts`.
 *
 * @example
 * ```ts
 * import { ValueWriter } from "./value_writer.ts";
 * import { BlockBuilder } from "./block.ts";
 * import { FieldNames } from "./names.ts";
 * import { int, object } from "../record/value.ts";
 * const builder = new BlockBuilder(new FieldNames());
 * const writer = new ValueWriter(builder);
 * const value = object([["age", int(3)]]);
 * const size = writer.measure(value); // 24: the header and two nodes
 * const bytes = new Uint8Array(size);
 * writer.write(builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes), value);
 * builder.finish();
 * ```
 * @module
 */
import { utf8Length } from "../base/utf8.ts";
import { MAX_NESTING_DEPTH } from "../limits.ts";
import type { Field, Value } from "../record/value.ts";
import {
  type BlockBuilder,
  blockBytes,
  indexBytes,
  intDataBytes,
  NODE_BYTES,
  stringDataBytes,
} from "./block.ts";
import { checkStoredName } from "./names.ts";

/**
 * Measures and writes the block of a {@link Value}. Invalid input is the caller's
 * mistake: a TypeError (not a Value) or a RangeError (an unsafe int, a non-finite
 * float, a repeated field name, nesting deeper than MAX_NESTING_DEPTH), or a
 * DecodeError for a field name the key rule refuses.
 *
 * @example
 * ```ts
 * import { BlockBuilder } from "./block.ts";
 * import { FieldNames } from "./names.ts";
 * import { int, object } from "../record/value.ts";
 * const builder = new BlockBuilder(new FieldNames());
 * const writer = new ValueWriter(builder);
 * const value = object([["age", int(3)]]);
 * const size = writer.measure(value);
 * const bytes = new Uint8Array(size);
 * writer.write(builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes), value);
 * builder.finish();
 * ```
 */
export class ValueWriter {
  #builder: BlockBuilder;
  #nodes = 0;
  #dataBytes = 0;
  /** `#stamps[id] === #stamp` marks a name already seen in the object being written. */
  #stamps = new Uint32Array(64);
  #stamp = 0;

  /**
   * A writer filling the blocks `builder` lays out.
   *
   * @param builder lays out the blocks this writer fills.
   */
  constructor(builder: BlockBuilder) {
    this.#builder = builder;
  }

  /** Bytes of the writer's bookkeeping. */
  get memoryBytes(): number {
    return this.#stamps.byteLength;
  }

  /** Field nodes of the value measured last, its own node included. */
  get nodes(): number {
    return this.#nodes;
  }

  /**
   * Validates `value` (kinds, field names, nesting, sizes) without changing anything and
   * returns the size of its block; see the class doc for what it throws.
   *
   * @example
   * ```ts
   * import { BlockBuilder } from "./block.ts";
   * import { FieldNames } from "./names.ts";
   * import { int } from "../record/value.ts";
   * new ValueWriter(new BlockBuilder(new FieldNames())).measure(int(3)); // 16: header, one node
   * ```
   */
  measure(value: Value): number {
    this.#nodes = 1;
    this.#dataBytes = 0;
    this.#measureValue(value, 1);
    return blockBytes(this.#nodes, this.#dataBytes);
  }

  /**
   * Fills the `root` node of a block begun as {@link ValueWriter.measure} sized it.
   *
   * @example
   * ```ts
   * import { BlockBuilder } from "./block.ts";
   * import { FieldNames } from "./names.ts";
   * import { int, object } from "../record/value.ts";
   * const builder = new BlockBuilder(new FieldNames());
   * const writer = new ValueWriter(builder);
   * const value = object([["age", int(22)]]);
   * const size = writer.measure(value);
   * const bytes = new Uint8Array(size);
   * writer.write(builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes), value);
   * builder.finish();
   * ```
   */
  write(root: number, value: Value): void {
    this.#writeValue(root, value);
  }

  #measureValue(value: Value, depth: number): void {
    if (value === null || typeof value !== "object") throw new TypeError("not a Value");
    switch (value.kind) {
      case "string": {
        if (typeof value.value !== "string") throw new TypeError("string value is not a string");
        if (!value.value.isWellFormed()) throw new TypeError("string value has a lone surrogate");
        this.#dataBytes += stringDataBytes(utf8Length(value.value));
        blockBytes(this.#nodes, this.#dataBytes);
        return;
      }
      case "int":
        if (!Number.isSafeInteger(value.value)) throw new RangeError("int is not a safe integer");
        this.#dataBytes += intDataBytes(value.value);
        return;
      case "float":
        if (typeof value.value !== "number" || !Number.isFinite(value.value)) {
          throw new RangeError("float is not a finite number");
        }
        this.#dataBytes += 8;
        return;
      case "object":
        return this.#measureObject(value.fields, depth);
      default:
        throw new TypeError(`unknown value kind: ${(value as { kind: unknown }).kind}`);
    }
  }

  #measureObject(fields: readonly Field[], depth: number): void {
    if (depth > MAX_NESTING_DEPTH) {
      throw new RangeError(`value nested deeper than ${MAX_NESTING_DEPTH} levels`);
    }
    if (!Array.isArray(fields)) throw new TypeError("object fields are not an array");
    this.#nodes += fields.length;
    this.#dataBytes += indexBytes(fields.length);
    blockBytes(this.#nodes, this.#dataBytes);
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      if (!Array.isArray(field) || field.length !== 2) throw new TypeError("malformed field");
      checkStoredName(field[0], "field name");
      this.#measureValue(field[1], depth + 1);
    }
  }

  /** Fills node `node` (its name and last flag already set) with `value`. */
  #writeValue(node: number, value: Value): void {
    const builder = this.#builder;
    switch (value.kind) {
      case "string":
        return builder.string(node, value.value, utf8Length(value.value));
      case "int":
        return builder.int(node, value.value);
      case "float":
        return builder.float(node, value.value);
      case "object": {
        const fields = value.fields;
        const first = builder.object(node, fields.length);
        if (first === 0) return;
        this.#nameFields(first, fields);
        for (let i = 0; i < fields.length; i++) {
          this.#writeValue(first + i * NODE_BYTES, fields[i][1]);
        }
        return builder.endObject(node, first, fields.length);
      }
    }
  }

  /** Interns the names of one object's fields into their nodes, refusing duplicates. */
  #nameFields(first: number, fields: readonly Field[]): void {
    this.#stamp++;
    if (this.#stamp === 0xffff_ffff) {
      this.#stamps.fill(0);
      this.#stamp = 1;
    }
    for (let i = 0; i < fields.length; i++) {
      const id = this.#builder.acquire(fields[i][0]);
      if (id >= this.#stamps.length) {
        const stamps = new Uint32Array(Math.max(id + 1, this.#stamps.length * 2));
        stamps.set(this.#stamps);
        this.#stamps = stamps;
      }
      if (this.#stamps[id] === this.#stamp) {
        throw new RangeError(`duplicate field name: ${JSON.stringify(fields[i][0])}`);
      }
      this.#stamps[id] = this.#stamp;
      this.#builder.name(first + i * NODE_BYTES, id, i === fields.length - 1);
    }
  }
}
