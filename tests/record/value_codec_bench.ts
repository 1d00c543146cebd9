/**
 * What reading a record's value costs, per value, on 1000 values of the
 * `kv gen -d 3 -l 8 -m 6` shape: decoding the binary value, the library's plain
 * objects on top, and its JSON text both ways (through a decoded value, or
 * straight from the bytes as the broker's `--json` answers and the HTTP API do), and
 * that JSON both ways for a value of one 256 KiB string (2026-12-01, loaded 2-core machine:
 * 1.5 ms from the bytes while the writer reserved 6 bytes a string byte, 0.43 ms since;
 * 0.24 ms through a decoded value, whose JSON.stringify is native). Beside the library's
 * read, V8's own `JSON.parse` of the same values' JSON text: the floor for making a
 * value's objects in JavaScript (2026-12-03, two runs on a loaded machine: 6.2 and 7.2
 * µs against decodePlainValue's 5.9 and 4.8).
 *
 * ```sh
 * deno bench tests/record/value_codec_bench.ts
 * ```
 */
import { decodePlainValue, fromValue } from "../../lib/client/values.ts";
import { encodedJsonText } from "../../lib/record/encoded_json.ts";
import { object, str, toJsonText } from "../../lib/record/value.ts";
import { decodeValue, encodeValue } from "../../lib/record/value_codec.ts";
import { generateRecordValue, seededRandom } from "../trie/fixture.ts";

const VALUES = 1000;
const next = seededRandom(13);
const encoded = Array.from({ length: VALUES }, () => encodeValue(generateRecordValue(next)));
let turn = 0;
const nextValue = () => encoded[turn++ % VALUES];

Deno.bench("decodeValue", { group: "read", baseline: true }, () => {
  decodeValue(nextValue());
});

Deno.bench("decodeValue + fromValue (the library's get until stop 13)", { group: "read" }, () => {
  fromValue(decodeValue(nextValue()), "tagged");
});

Deno.bench("decodePlainValue (the library's get)", { group: "read" }, () => {
  decodePlainValue(nextValue(), "tagged");
});

/** The same values as JSON text, for V8's native parser. */
const jsonTexts = encoded.map(encodedJsonText);

Deno.bench("JSON.parse of the value's JSON text (V8's native parser)", { group: "read" }, () => {
  JSON.parse(jsonTexts[turn++ % VALUES]);
});

Deno.bench("toJsonText(decodeValue)", { group: "json" }, () => {
  toJsonText(decodeValue(nextValue()));
});

Deno.bench("encodedJsonText (from the bytes)", { group: "json", baseline: true }, () => {
  encodedJsonText(nextValue());
});

/** A record holding one long string (a document, an image as text): 256 KiB of it. */
const longString = encodeValue(object([["text", str("x".repeat(256 * 1024))]]));

Deno.bench("toJsonText(decodeValue), a 256 KiB string", { group: "json-long" }, () => {
  toJsonText(decodeValue(longString));
});

Deno.bench("encodedJsonText, a 256 KiB string", { group: "json-long", baseline: true }, () => {
  encodedJsonText(longString);
});
