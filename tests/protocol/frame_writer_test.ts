import assert from "node:assert/strict";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { decodeResponse, decodeValueBody } from "../../lib/protocol/messages.ts";
import { int } from "../../lib/record/value.ts";
import { writeValue } from "../../lib/record/value_codec.ts";
import { VERSION_BYTES, writeVersion } from "../../lib/record/version.ts";

/** The responses in `writer`'s bytes, decoded. */
function responses(writer: FrameWriter) {
  const reader = new FrameReader();
  reader.space().set(writer.bytes());
  reader.filled(writer.length);
  const decoded = [];
  for (let frame = reader.next(); frame; frame = reader.next()) {
    decoded.push(decodeResponse({ ...frame, body: frame.body.slice() }));
  }
  return decoded;
}

Deno.test("okIfFound appends OK with the version and what encode wrote, or nothing at all when encode finds nothing, and says which", () => {
  const writer = new FrameWriter();
  const version = { ms: 1_733_040_000_000, counter: 3, broker: 9 };
  assert.equal(
    writer.okIfFound(1, version, (out) => {
      writeValue(out, int(22));
      return true;
    }),
    true,
  );
  const before = writer.bytes().slice();
  assert.equal(
    writer.okIfFound(2, version, (out) => {
      out.u8(0x04); // a half-written value, then "not found after all"
      return false;
    }),
    false,
  );
  assert.deepEqual(writer.bytes(), before, "nothing of the frame is left");
  writer.notFound(2, version, { reason: "no-field", segment: 1, closest: "age" });
  writer.ok(3);
  const [found, missing, ok] = responses(writer);
  assert.equal(found.type, "ok");
  assert.deepEqual(found.type === "ok" && decodeValueBody(found.body), { version, value: int(22) });
  assert.deepEqual(missing, {
    type: "not_found",
    requestId: 2,
    version,
    miss: { reason: "no-field", segment: 1, closest: "age" },
  });
  assert.deepEqual([ok.type, ok.requestId, writer.frameCount], ["ok", 3, 3]);
});

Deno.test("okOrNotFoundRead answers OK with what read wrote, NOT_FOUND with a tombstone's version or bare, and leaves nothing when read throws", () => {
  const writer = new FrameWriter();
  const version = { ms: 1_733_040_000_000, counter: 3, broker: 9 };
  const versionBytes = new Uint8Array(VERSION_BYTES);
  writeVersion(versionBytes, 0, version);
  writer.okOrNotFoundRead(1, (out) => {
    out.raw(versionBytes);
    writeValue(out, int(22));
    return true;
  });
  writer.okOrNotFoundRead(2, (out) => {
    out.raw(versionBytes); // a tombstone: its version, no value
    return false;
  });
  writer.okOrNotFoundRead(3, () => false); // never written
  const before = writer.bytes().slice();
  assert.throws(() =>
    writer.okOrNotFoundRead(4, (out) => {
      out.raw(versionBytes);
      throw new Error("the store broke");
    }), /the store broke/);
  assert.deepEqual(writer.bytes(), before);
  writer.ok(5);
  const [found, tombstone, never, ok] = responses(writer);
  assert.equal(found.type, "ok");
  assert.deepEqual(found.type === "ok" && decodeValueBody(found.body), { version, value: int(22) });
  assert.deepEqual(tombstone, { type: "not_found", requestId: 2, version });
  assert.deepEqual(never, { type: "not_found", requestId: 3, version: undefined });
  assert.deepEqual([ok.type, ok.requestId, writer.frameCount], ["ok", 5, 4]);
});
