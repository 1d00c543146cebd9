import { ServerClient } from "../../lib/protocol/client.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { feedFrames } from "../helpers/frames.ts";
import { decodeRequest } from "../../lib/protocol/messages.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { PutManyItems } from "../../lib/protocol/put_many.ts";
import { KvServer } from "../../lib/server/server.ts";
import { Store } from "../../lib/server/store.ts";
import { int, object, str, type Value } from "../../lib/record/value.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { at, nextVersion } from "../helpers/versions.ts";

const BATCH = 1000;
const record: Value = object([
  ["name", str("Mary Smith")],
  ["age", int(22)],
  ["address", object([["street", str("Main")], ["number", int(12)]])],
]);
const encodedRecord = encodeValue(record);
const keys = Array.from({ length: BATCH }, (_, index) => `person${index}`);

const frames = new FrameWriter();
for (let index = 0; index < BATCH; index++) frames.put(index + 1, keys[index], record, at());
const stream = frames.bytes().slice();

Deno.bench("encode 1000 PUT frames (values pre-encoded)", { group: "encode" }, () => {
  const writer = new FrameWriter();
  for (let index = 0; index < BATCH; index++) {
    writer.putEncoded(index + 1, keys[index], encodedRecord, at());
  }
});

Deno.bench("encode 1000 PUT frames (values encoded in place)", { group: "encode" }, () => {
  const writer = new FrameWriter();
  for (let index = 0; index < BATCH; index++) writer.put(index + 1, keys[index], record, at());
});

/** Decodes every request in `stream`, cut into reads of at most `readBytes` as a socket would. */
function decodeInReads(readBytes: number): void {
  const reader = new FrameReader();
  for (let at = 0; at < stream.length; at += readBytes) {
    for (const frame of feedFrames(reader, stream.subarray(at, at + readBytes))) {
      decodeRequest(frame);
    }
  }
}

Deno.bench("decode 1000 PUT frames from one read", { group: "decode" }, () => {
  decodeInReads(stream.length);
});

Deno.bench("decode 1000 PUT frames from 1460-byte reads", { group: "decode" }, () => {
  decodeInReads(1460);
});

const server = new KvServer({ store: await Store.open(), port: 0 });
const { hostname, port } = server.listen();
const client = await ServerClient.connect({ hostname, port });

Deno.bench("round trip: 1000 pipelined PUTs to a memory-only server", async () => {
  await Promise.all(keys.map((key) => client.putEncoded(key, encodedRecord, at())));
});

const items = new PutManyItems();
for (const key of keys) items.add(key, encodedRecord, nextVersion());

Deno.bench("round trip: the same 1000 PUTs as one PUT_MANY", async () => {
  await client.putMany(items);
});

Deno.bench("round trip: 1000 pipelined GETs (the answers' value bytes, not decoded)", async () => {
  // A broker's read path on one connection: the records stored by the PUT rounds above.
  await Promise.all(keys.map((key) => client.getEncoded(key)));
});

Deno.bench("round trip: 1 PING", async () => {
  await client.ping();
});

globalThis.addEventListener("unload", () => {
  client.close();
  server.close();
});
