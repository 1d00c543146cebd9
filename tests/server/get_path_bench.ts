/**
 * Where a server's GET goes, piece by piece, in process (issue 13): checking the
 * request frame (the key stays bytes), walking the key trie, writing the answer
 * from the arena, and all of it together as the server's request loop does it
 * (and, for comparison, the request decoding and the Value-building answer GETs
 * used to take). 1000 records of the `kv gen -d 3 -l 8 -m 6` shape, as in the
 * README's query-path measurements. The system calls (one read and one write
 * per batch of requests) are outside; see the README.
 *
 * ```sh
 * deno bench tests/server/get_path_bench.ts
 * ```
 * @module
 */
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { decodeRequest, GET_KEY_START, isWellFormedGetBody } from "../../lib/protocol/messages.ts";
import { Store } from "../../lib/server/store.ts";
import { BASE_VERSION } from "../../lib/record/version.ts";
import { generateText } from "../../lib/gen/generator.ts";
import { GEN_SHAPE } from "../../lib/bench/runner.ts";
import { SAMPLE_KEYS } from "../../lib/gen/keyfile.ts";
import { parseRecordLine } from "../../lib/record/parse.ts";
import type { Value } from "../../lib/record/value.ts";

const RECORDS = 1000;

const store = await Store.open();
const values: Value[] = [];
const text = generateText({ keys: SAMPLE_KEYS, recordCount: RECORDS, seed: 1, ...GEN_SHAPE });
for (const line of text.trimEnd().split("\n")) {
  const { key, value } = parseRecordLine(line);
  store.put(key, value);
  values.push(value);
}

/** One GET frame per record, each in its own buffer as a read would leave it. */
const frames = Array.from({ length: RECORDS }, (_, i) => {
  const writer = new FrameWriter();
  writer.get(i + 1, `person${i}`);
  return writer.bytes().slice();
});
const answers = new FrameWriter();
let counter = 0;

/** One reader for every frame, as the server keeps one per connection. */
const reader = new FrameReader();

function readFrame(bytes: Uint8Array) {
  reader.space().set(bytes);
  reader.filled(bytes.length);
  return reader.next()!;
}
const decodedFrames = frames.map((bytes) => {
  const frame = readFrame(bytes);
  return { ...frame, body: frame.body.slice() };
});

Deno.bench("check a GET frame (FrameReader, isWellFormedGetBody)", { group: "get" }, () => {
  isWellFormedGetBody(readFrame(frames[counter++ % RECORDS]).body);
});

Deno.bench("decode a GET frame to a request (decodeRequest; GETs did this before)", {
  group: "get",
}, () => {
  decodeRequest(readFrame(frames[counter++ % RECORDS]));
});

Deno.bench("walk the trie for a missing key", { group: "get" }, () => {
  store.get(`personX${counter++ % RECORDS}`);
});

Deno.bench("rebuild the record as a Value (Store.get; GETs did this before)", {
  group: "get",
}, () => {
  store.get(`person${counter++ % RECORDS}`);
});

Deno.bench("encode that Value for the answer (okValue; GETs did this before)", {
  group: "get",
}, () => {
  answers.reset();
  answers.okValue(1, BASE_VERSION, values[counter++ % RECORDS]);
});

Deno.bench("answer straight from the trie's bytes (okOrNotFoundRead, Store.getEncodedAt)", {
  group: "get",
}, () => {
  const { body } = decodedFrames[counter++ % RECORDS];
  answers.reset();
  answers.okOrNotFoundRead(1, (out) => store.getEncodedAt(body, GET_KEY_START, body.length, out));
});

Deno.bench("all of it, as the request loop does", { group: "get", baseline: true }, () => {
  // The frame is taken and judged where it lies in the read buffer: no object, no view.
  const bytes = frames[counter++ % RECORDS];
  reader.space().set(bytes);
  reader.filled(bytes.length);
  if (!reader.advance()) throw new Error("a whole frame was read");
  const { buffer, bodyStart, bodyEnd } = reader;
  if (!isWellFormedGetBody(buffer, bodyStart, bodyEnd)) throw new Error("not a well-formed GET");
  answers.reset();
  answers.okOrNotFoundRead(
    reader.frameRequestId,
    (out) => store.getEncodedAt(buffer, bodyStart + GET_KEY_START, bodyEnd, out),
  );
});
