import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { int, object, type Value } from "../../lib/record/value.ts";
import { BlockBuilder } from "../../lib/trie/block.ts";
import { EncodedWriter } from "../../lib/trie/encoded_writer.ts";
import { FieldNames } from "../../lib/trie/names.ts";
import { ValueWriter } from "../../lib/trie/value_writer.ts";
import { valueArbitrary } from "../helpers/value_arbitrary.ts";

/** The block `value` makes through the writer fed by Values. */
function blockFromValue(value: Value, names: FieldNames): Uint8Array {
  const builder = new BlockBuilder(names);
  const writer = new ValueWriter(builder);
  const size = writer.measure(value);
  const bytes = new Uint8Array(size);
  writer.write(builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes), value);
  builder.finish();
  return bytes;
}

/** The block the wire bytes `source` make through the writer fed by them. */
function blockFromEncoded(source: Uint8Array, names: FieldNames): Uint8Array {
  const builder = new BlockBuilder(names);
  const writer = new EncodedWriter(builder);
  const size = writer.measure(source, 0, source.length);
  const bytes = new Uint8Array(size);
  const root = builder.begin(bytes, new DataView(bytes.buffer), 0, size, writer.nodes);
  writer.write(root, source, 0, source.length);
  builder.finish();
  return bytes;
}

// The writers intern names in different orders (all of an object's names first, or each
// as it is met), so they share one FieldNames: the second finds the first's ids.
Deno.test("both writers lay out the same block, byte for byte, for any value", () => {
  fc.assert(
    fc.property(valueArbitrary(), (value) => {
      const names = new FieldNames();
      const block = blockFromValue(value, names);
      assert.deepEqual(blockFromEncoded(encodeValue(value), names), block);
    }),
    { numRuns: 300 },
  );
});

Deno.test("a wide object's field index is the same from both writers", () => {
  // Past LINEAR_SCAN_MAX_FIELDS (16) an object gets a field index in the data.
  const wide = object(Array.from({ length: 40 }, (_, i) => [`f${39 - i}`, int(i)]));
  const names = new FieldNames();
  const block = blockFromValue(wide, names);
  assert.deepEqual(blockFromEncoded(encodeValue(wide), names), block);
  // Header, 41 nodes, and an index of 8 + 40 × 4 bytes.
  assert.equal(block.length, 8 + 41 * 8 + 8 + 40 * 4);
});
