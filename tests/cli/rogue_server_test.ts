import assert from "node:assert/strict";
import { listenLoopback, withTempDir } from "../helpers/fixtures.ts";
import { feedFrames } from "../helpers/frames.ts";
import { runKv } from "../helpers/run_kv.ts";
import { FrameReader } from "../../lib/protocol/frame_reader.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import {
  ErrorCode,
  MessageType,
  NO_LIST,
  type NodeState,
  PROTOCOL_VERSION,
} from "../../lib/protocol/mod.ts";
import { serverAddress } from "../../lib/broker/server_list.ts";
import { listFingerprint } from "../../lib/broker/list_fingerprint.ts";
import { VERSION_BYTES, writeVersion } from "../../lib/record/version.ts";

// kv's clients against a server that breaks the protocol (a bug, a rogue or spoofed server on
// a path that is not trusted): one clear line, never a stack trace.

/** A value tag no value starts with. */
const BAD_VALUE_TAG = 0x00;

/**
 * A fake kv server recording k=1, repaired under the list of itself alone or (when not
 * `repaired`) unrepaired, so that every answer through it carries a warning: HELLO is
 * answered OK, a GET with OK and a value whose tag is {@link BAD_VALUE_TAG}, anything else
 * with ERROR BAD_REQUEST. Runs `body` with a server file naming it.
 */
async function withRogueServer(
  repaired: boolean,
  body: (serverFile: string) => Promise<void>,
): Promise<void> {
  let state: NodeState = { unrepaired: true, k: 1, repairedUnder: NO_LIST };
  const listener = listenLoopback(async (conn) => {
    const reader = new FrameReader({ maxFrameBytes: 1024 * 1024 });
    const buffer = new Uint8Array(4096);
    try {
      for (let count = await conn.read(buffer); count !== null; count = await conn.read(buffer)) {
        const frames = new FrameWriter();
        for (const frame of feedFrames(reader, buffer.subarray(0, count))) {
          answer(frames, frame.type, frame.requestId, state);
        }
        await conn.write(frames.bytes());
      }
    } catch {
      // The client hung up.
    }
  });
  if (repaired) {
    const { identity } = serverAddress("127.0.0.1", listener.port);
    state = { unrepaired: false, k: 1, repairedUnder: listFingerprint([identity], 1) };
  }
  try {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${listener.port}\n`);
      await body(`${dir}/servers`);
    });
  } finally {
    await listener.stop();
  }
}

function answer(frames: FrameWriter, type: number, requestId: number, state: NodeState): void {
  if (type === MessageType.HELLO) {
    frames.okHello(requestId, {
      version: PROTOCOL_VERSION,
      maxFrameBytes: 1024 * 1024,
      idleTimeoutMs: 30_000,
      serverId: "0123456789abcdef",
      state,
    });
  } else if (type === MessageType.GET) {
    const body = new Uint8Array(VERSION_BYTES + 1);
    writeVersion(body, 0, { ms: Date.now(), counter: 0, broker: 1 });
    body[VERSION_BYTES] = BAD_VALUE_TAG;
    frames.frame(MessageType.OK, requestId, body);
  } else {
    frames.error(requestId, ErrorCode.BAD_REQUEST, "this fake server answers GET only");
  }
}

Deno.test("kv get of a malformed value from a server whose answer carries a warning: one ERROR line, exit 3, no stack", async () => {
  await withRogueServer(false, async (serverFile) => {
    const run = await runKv(["get", "x", "-s", serverFile]);
    assert.deepEqual(run, {
      code: 3,
      stdout: "",
      stderr: "ERROR: a replica sent a malformed value: unknown value tag 0x00\n",
    });
  });
});

Deno.test("kv get of a malformed value exits 3 as its ERROR says, with --json and without, warning or none", async () => {
  for (const repaired of [true, false]) {
    await withRogueServer(repaired, async (serverFile) => {
      const json = await runKv(["get", "x", "-s", serverFile, "--json"]);
      assert.deepEqual(json, {
        code: 3,
        stdout: JSON.stringify({
          op: "GET",
          key: "x",
          error: "a replica sent a malformed value: unknown value tag 0x00",
        }) + "\n",
        stderr: "",
      });
      const human = await runKv(["get", "x", "-s", serverFile]);
      assert.equal(human.code, 3, human.stderr);
    });
  }
});
