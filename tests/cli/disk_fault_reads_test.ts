// Reads around a failing disk, with a real kv server on a full tmpfs: a batch that mixes
// GETs with writes the server refuses (READ_ONLY, LIMIT) answers each GET as if the
// refused writes had not been sent, and GETs pipelined on other connections while a
// commit fails are all answered, none refused.
import assert from "node:assert/strict";
import { MAX_KEY_BYTES } from "../../lib/limits.ts";
import { ServerError } from "../../lib/protocol/client.ts";
import { ErrorCode, type Frame } from "../../lib/protocol/mod.ts";
import { decodeResponse, decodeValueBody } from "../../lib/protocol/messages.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { str, valueEquals } from "../../lib/record/value.ts";
import { connectClient } from "../helpers/client.ts";
import { RawConnection } from "../helpers/in_process_server.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { at } from "../helpers/versions.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { withDeadline } from "../helpers/wait.ts";

const valueOf = (n: number) => str(`${n}:`.padEnd(16 * 1024, "v"));

function answerOf(frame: Frame | undefined) {
  assert.ok(frame, "the connection ended");
  return decodeResponse(frame);
}

tmpfsTest({
  name:
    "disk full: GETs pipelined on other connections while commits fail are all answered, and a batch mixing GETs with refused writes reads as if they were not sent",
  short: "disk full, reads around refused writes",
  megabytes: 4,
}, async (mount) => {
  await using server = await startServerProcess([
    "--data-dir",
    `${mount}/data`,
    "--fsync",
    "always",
  ]);
  const writer = await connectClient(server.address);
  const reader = await connectClient(server.address);
  // The reader asks for acknowledged keys, many in flight, all the time the disk fills.
  const acknowledged: number[] = [];
  let full = false;
  const reading = (async () => {
    let rounds = 0;
    while (!full || rounds < 3) {
      const keys = acknowledged.slice(-32);
      const answers = await Promise.all(keys.map((n) => reader.get(`k${n}`)));
      answers.forEach((answer, index) => {
        assert.ok(answer.value !== undefined, `k${keys[index]} was acknowledged`);
        assert.ok(valueEquals(answer.value, valueOf(keys[index])), `k${keys[index]}`);
      });
      if (full) rounds++;
      if (keys.length === 0) await reader.ping();
    }
  })();
  for (let n = 0; !full; n++) {
    assert.ok(n < 1000, "the 4 MiB disk never filled");
    try {
      await writer.put(`k${n}`, valueOf(n), at());
      acknowledged.push(n);
    } catch (error) {
      if (!(error instanceof ServerError) || error.code !== ErrorCode.READ_ONLY) throw error;
      full = true;
    }
  }
  await withDeadline(reading, { what: "the reader's GETs" });

  // One batch: GET, a PUT refused READ_ONLY, a GET of its key, a PUT refused LIMIT, a GET.
  const raw = await RawConnection.open(server.address);
  const frames = new FrameWriter();
  frames.get(1, "k0");
  frames.put(2, "refused", valueOf(-1), at());
  frames.get(3, "refused");
  frames.put(4, "k".repeat(MAX_KEY_BYTES + 1), valueOf(-2), at());
  frames.get(5, "k0");
  await raw.write(frames.bytes());
  const first = answerOf(await raw.readFrame());
  assert.ok(first.type === "ok" && first.requestId === 1, JSON.stringify(first));
  assert.ok(valueEquals(decodeValueBody(first.body).value, valueOf(0)));
  const readOnly = answerOf(await raw.readFrame());
  assert.ok(readOnly.type === "error" && readOnly.requestId === 2, JSON.stringify(readOnly));
  assert.equal(readOnly.code, ErrorCode.READ_ONLY);
  assert.deepEqual(answerOf(await raw.readFrame()), {
    type: "not_found",
    requestId: 3,
    version: undefined,
  });
  const limit = answerOf(await raw.readFrame());
  assert.ok(limit.type === "error" && limit.requestId === 4, JSON.stringify(limit));
  assert.equal(limit.code, ErrorCode.LIMIT);
  const last = answerOf(await raw.readFrame());
  assert.ok(last.type === "ok" && last.requestId === 5, JSON.stringify(last));
  raw.close();
  await writer.close();
  await reader.close();
  assert.equal((await stopWithin(server)).code, 0);
});
