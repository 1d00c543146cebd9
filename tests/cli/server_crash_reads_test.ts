// A kv server answers a batch that only read without awaiting a commit when nothing is on
// its way to the log (lib/server/server.ts, Store.settled). These tests hold the promise
// that makes that safe, end to end with real processes and sockets: a GET never shows
// another connection's write that a crash (kill -9) right after the answer then loses.
import assert from "node:assert/strict";
import { ServerClient } from "../../lib/protocol/client.ts";
import { int } from "../../lib/record/value.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess } from "../helpers/server_process.ts";
import type { ServerProcess } from "../../lib/cli/server_process.ts";
import { at } from "../helpers/versions.ts";
import { withDeadline } from "../helpers/wait.ts";
import { withTempDir } from "../helpers/fixtures.ts";

/** Keys the writer counts up, one PUT after another, pipelined. */
const KEYS = ["c0", "c1", "c2", "c3"];

/** Writes acknowledged before the reader's first answer that can stop the run. */
const CRASH_AFTER_WRITES = 200;

/** Crashes per test: each a chance for a GET to run ahead of the log. */
const CRASH_ROUNDS = 5;

/** Requests each connection keeps in flight: a batch per read on the server. */
const IN_FLIGHT = 16;

/**
 * Counts `keys` up on `writer` until `stop()` (each PUT's value is its count, in the order
 * sent, so the server applies them in that order); rejections after the crash end it.
 */
async function countUp(
  writer: ServerClient,
  keys: readonly string[],
  stop: () => boolean,
): Promise<number> {
  let count = 0;
  while (!stop()) {
    const batch = [];
    for (let index = 0; index < IN_FLIGHT; index++) {
      count++;
      batch.push(writer.put(keys[count % keys.length], int(count), at()));
    }
    const settled = await Promise.allSettled(batch);
    if (settled.some((result) => result.status === "rejected")) break;
  }
  return count;
}

/**
 * One crash: counts keys of `round` up on one connection, reads them on another, kills the
 * server with SIGKILL as the first GET showing CRASH_AFTER_WRITES arrives, restarts it,
 * and checks that each key holds at least what any GET showed.
 */
async function crashRound(server: ServerProcess, round: number): Promise<void> {
  const keys = KEYS.map((key) => `${key}-${round}`);
  const writer = await connectClient(server.address);
  const reader = await connectClient(server.address);
  /** The highest count each key's GETs showed before the crash. */
  const seen = new Map<string, number>();
  let crashed = false;
  const writing = countUp(writer, keys, () => crashed);
  // Reads in flight all the time; the first answer past the threshold kills the server in
  // its own callback, before any other answer is looked at.
  while (!crashed) {
    const reads = keys.flatMap((key) =>
      Array.from({ length: IN_FLIGHT / keys.length }, () =>
        reader.get(key).then((answer) => {
          if (crashed || answer.value === undefined) return;
          assert.ok(answer.value.kind === "int", JSON.stringify(answer.value));
          const count = answer.value.value;
          seen.set(key, Math.max(seen.get(key) ?? 0, count));
          if (count >= CRASH_AFTER_WRITES) {
            crashed = true;
            server.signal("SIGKILL");
          }
        }))
    );
    await withDeadline(Promise.allSettled(reads), { what: "a round of GETs" });
  }
  await withDeadline(writing, { what: "the writer to stop" });
  await writer.close().catch(() => {/* the server is gone */});
  await reader.close().catch(() => {/* the server is gone */});
  await server.restart();
  const after = await connectClient(server.address);
  for (const [key, count] of seen) {
    const answer = await after.get(key);
    assert.ok(answer.value?.kind === "int", `${key} is gone after the crash`);
    assert.ok(
      answer.value.value >= count,
      `${key}: a GET showed ${count} before kill -9, the restart holds ${answer.value.value}`,
    );
  }
  assert.ok(seen.size > 0, "no GET saw a write");
  await after.close();
}

for (const fsync of ["always", "interval", "never"] as const) {
  Deno.test(`--fsync ${fsync}: no GET shows another connection's PUT that kill -9 right after the answer loses`, async () => {
    await withTempDir(async (dataDir) => {
      await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", fsync]);
      for (let round = 0; round < CRASH_ROUNDS; round++) await crashRound(server, round);
    });
  });
}
