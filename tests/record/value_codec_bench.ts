/**
 * What reading a record's value costs, per value, on 1000 values of the
 * `kv gen -d 3 -l 8 -m 6` shape: decoding the binary value, the library's plain
 * objects on top, and its JSON text both ways (through a decoded value, or
 * straight from the bytes as the broker's `--json` answers and the HTTP API do).
 *
 * ```sh
 * deno bench tests/record/value_codec_bench.ts
 * ```
 */
import { fromValue } from "../../lib/client/values.ts";
import { encodedJsonText } from "../../lib/record/encoded_json.ts";
import { toJsonText } from "../../lib/record/value.ts";
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

Deno.bench("decodeValue + fromValue (the library's get)", { group: "read" }, () => {
  fromValue(decodeValue(nextValue()), "number");
});

Deno.bench("toJsonText(decodeValue)", { group: "json" }, () => {
  toJsonText(decodeValue(nextValue()));
});

Deno.bench("encodedJsonText (from the bytes)", { group: "json", baseline: true }, () => {
  encodedJsonText(nextValue());
});
