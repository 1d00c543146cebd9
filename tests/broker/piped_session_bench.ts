/**
 * What the broker's piped path adds to each command, in process, around the
 * replicated read itself: printing a found `--json` GET answer into stdout's
 * buffer, and the pipeline's bookkeeping for reads (scheduling, ordering,
 * emitting in input order with PIPELINE_WINDOW in flight). Values are 1000
 * records of the `kv gen -d 3 -l 8 -m 6` shape.
 *
 * ```sh
 * deno bench -A tests/broker/piped_session_bench.ts
 * ```
 * @module
 */
import { type Answer, formatAnswerJson } from "../../lib/broker/commands.ts";
import { runPipelined, type Step } from "../../lib/broker/pipeline.ts";
import { LineBuffer } from "../../lib/base/stdout.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { formatVersion } from "../../lib/record/version.ts";
import { generateRecordValue, seededRandom } from "../trie/fixture.ts";
import { nextVersion } from "../helpers/versions.ts";

const RECORDS = 1000;
/** Commands a pipeline bench runs per iteration: enough for the window to fill and drain. */
const COMMANDS = 1000;

const next = seededRandom(13);
const answers: Answer[] = Array.from({ length: RECORDS }, (_, i) => ({
  op: "GET",
  key: `person${i}`,
  found: true,
  encoded: encodeValue(generateRecordValue(next)),
  version: formatVersion(nextVersion()),
}));
let turn = 0;

const output = new LineBuffer(() => {});

Deno.bench("print a found --json GET answer (formatAnswerJson + writeLineBytes)", () => {
  output.writeLineBytes(formatAnswerJson(answers[turn++ % RECORDS]));
});

Deno.bench("formatVersion", () => {
  formatVersion(nextVersion());
});

const keys = answers.map((answer) => (answer as { key: string }).key);
const batch = Array.from({ length: COMMANDS }, (_, i) => keys[(i * 7919) % RECORDS]);
const readStep = (key: string): Step<string> => ({
  access: { kind: "read", key },
  run: () => Promise.resolve(key),
});

Deno.bench(`runPipelined: ${COMMANDS} reads of ${RECORDS} keys, answered at once`, async () => {
  await runPipelined([batch], readStep, () => true);
});
