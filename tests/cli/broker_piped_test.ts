/**
 * kv broker's piped commands end to end, against real servers, with input that arrives
 * in chunks of many windows' lines (the broker takes them a window at a time) and keys
 * that are read and then written within one window: each answer is the one running the
 * commands one at a time gives.
 */
import assert from "node:assert/strict";
import { PIPELINE_WINDOW } from "../../lib/broker/pipeline.ts";
import { BrokerProcess, KvCluster } from "../helpers/kv_processes.ts";
import { withoutVersion } from "../helpers/versions.ts";

/** Keys the script spreads its commands over: few, so that they meet within a window. */
const KEYS = 5;

Deno.test("piped GETs, PUTs and DELETEs of a few keys, many windows' lines in one chunk: every answer is what one command at a time gives", async () => {
  await using cluster = await KvCluster.start(3);
  await using broker = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  // Each key is read, then written, then read again, over and over, the commands of the
  // keys interleaved: a write must wait for the reads of its key before it (they answer
  // the old value) and a read for the write before it (it answers the new one).
  const lines: string[] = [];
  const expected: unknown[] = [];
  const model = new Map<string, number>();
  const lineCount = 6 * PIPELINE_WINDOW;
  for (let i = 0; lines.length < lineCount; i++) {
    const key = `k${i % KEYS}`;
    const held = model.get(key);
    lines.push(`GET ${key}`);
    expected.push(
      held === undefined
        ? { op: "GET", key, found: false }
        : { op: "GET", key, found: true, value: { n: held } },
    );
    if (i % 7 === 3) {
      lines.push(`DELETE ${key}`);
      expected.push({ op: "DELETE", key, deleted: held !== undefined });
      model.delete(key);
    } else {
      lines.push(`PUT ${key}: { "n": ${i} }`);
      expected.push({ op: "PUT", key, stored: true });
      model.set(key, i);
    }
  }
  // One write: the broker reads it in chunks far larger than a window's lines.
  await broker.sendBytes(new TextEncoder().encode(lines.join("\n") + "\n"));
  const { code, stdout, stderr } = await broker.finish();
  assert.equal(code, 0, stderr);
  const answers = stdout.trimEnd().split("\n").map((line) => withoutVersion(JSON.parse(line)));
  assert.equal(answers.length, expected.length);
  answers.forEach((answer, n) => assert.deepEqual(answer, expected[n], `line ${n + 1}`));
});
