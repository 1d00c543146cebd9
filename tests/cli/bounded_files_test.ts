import assert from "node:assert/strict";
import { runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { withTempDir } from "../helpers/fixtures.ts";

// Every file kv reads whole is read with a bound on the bytes read, so an endless device
// is one clear line and exit 2, in bounded time and memory, never a runaway read.

Deno.test("kv gen -k /dev/zero is one line and exit 2", async () => {
  const run = await runKv(["gen", "-k", "/dev/zero", "-o", "-"]);
  assert.deepEqual(run, {
    code: 2,
    stdout: "",
    stderr: "kv gen: cannot read key file '/dev/zero': it holds more than 1048576 bytes, " +
      "the most a key file may hold\n",
  });
});

Deno.test("kv broker -s /dev/zero is one line and exit 2", async () => {
  const run = await runKv(["broker", "-s", "/dev/zero", "--index-only", "-i", "/dev/null"]);
  assert.deepEqual(run, {
    code: 2,
    stdout: "",
    stderr: "kv broker: /dev/zero: server file larger than 1048576 bytes; a server file " +
      "lists servers only, one a line\n",
  });
});

Deno.test("kv http --tokens-file /dev/zero is one line that says what a tokens file holds, exit 2", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/servers`, "127.0.0.1 1\n");
    const run = await runKv(["http", "-s", `${dir}/servers`, "--tokens-file", "/dev/zero"]);
    assert.deepEqual(run, {
      code: 2,
      stdout: "",
      stderr: "kv http: /dev/zero: tokens file larger than 1048576 bytes; a tokens file holds " +
        "tokens only, one a line\n",
    });
  });
});

Deno.test("kv broker -i /dev/zero stops with one line and exit 2: no line ends in sight", async () => {
  await withTempDir(async (dir) => {
    await using server = await startServerProcess();
    await Deno.writeTextFile(`${dir}/servers`, `127.0.0.1 ${server.port}\n`);
    // -k: a broker fixing the default k on a new server says so first (README, The cluster's k).
    const run = await runKv(
      ["broker", "-s", `${dir}/servers`, "-k", "1", "-i", "/dev/zero", "--index-only"],
    );
    assert.deepEqual(run, {
      code: 2,
      stdout: "",
      stderr: "kv broker: /dev/zero: line 1 has no end within 16777216 bytes; " +
        "this is not a file of text lines\n",
    });
    assert.equal((await stopWithin(server)).code, 0);
  });
});
