// The data dir's lock, end to end with real `kv server` processes run under the tasks'
// permissions: a second server on one data dir is refused even after LOCK was deleted under
// the first, and a LOCK kv cannot use is named.
import assert from "node:assert/strict";
import { str } from "../../lib/record/value.ts";
import { connectClient } from "../helpers/client.ts";
import { runKv } from "../helpers/run_kv.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { at } from "../helpers/versions.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

Deno.test("kv server refuses a data dir whose LOCK was deleted under a running server, one line, exit 2; the running one writes LOCK anew and serves on, and after it stops the dir starts trusted", async () => {
  await withTempDir(async (dataDir) => {
    await using first = await startServerProcess(["--data-dir", dataDir]);
    const client = await connectClient(first.address);
    assert.deepEqual(await client.put("a", str("1"), at()), { kind: "stored" });
    await Deno.remove(`${dataDir}/LOCK`);
    const refusal = (pid: string) =>
      new RegExp(
        `^kv server: data dir ${
          RegExp.escape(dataDir)
        } is in use by another kv server${pid}; stop ` +
          "it or give this server its own --data-dir\\n$",
      );
    // At once: LOCK may still be missing (no pid to name) or already written anew.
    const early = await runKv(["server", "-p", "0", "--data-dir", dataDir]);
    assert.equal(early.code, 2, early.stderr);
    assert.match(early.stderr, refusal(`( \\(pid ${first.pid}\\))?`));
    await waitFor(
      () => first.stderrLines.some((line) => line.includes("LOCK was deleted or replaced")),
      { what: "the running server to write LOCK anew" },
    );
    assert.match(
      first.stderrLines.find((line) => line.includes("LOCK was deleted"))!,
      new RegExp(
        `^kv server warn: ${RegExp.escape(`${dataDir}/LOCK`)} was deleted or replaced while this ` +
          `server held the data dir; wrote it anew \\(pid ${first.pid}, the run record kept\\)`,
      ),
    );
    const late = await runKv(["server", "-p", "0", "--data-dir", dataDir]);
    assert.equal(late.code, 2, late.stderr);
    assert.match(late.stderr, refusal(` \\(pid ${first.pid}\\)`));
    assert.deepEqual(await client.put("a", str("2"), at()), { kind: "stored" });
    assert.deepEqual((await client.get("a")).value, str("2"));
    await client.close();
    assert.equal((await stopWithin(first)).code, 0);
    await using second = await startServerProcess(["--data-dir", dataDir]);
    assert.deepEqual(
      second.stderrLines.filter((line) => line.includes("unrepaired")),
      [],
      "the LOCK written anew kept the clean stop's record",
    );
    const again = await connectClient(second.address);
    assert.deepEqual((await again.get("a")).value, str("2"));
    await again.close();
    assert.equal((await stopWithin(second)).code, 0);
  });
});

Deno.test("kv server on a data dir whose LOCK is a directory names it in one line, exit 2", async () => {
  await withTempDir(async (dataDir) => {
    await Deno.mkdir(`${dataDir}/LOCK`);
    const { code, stderr } = await runKv(["server", "-p", "0", "--data-dir", dataDir]);
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      `kv server: ${dataDir}/LOCK should be kv's lock file but is a directory; remove it (kv ` +
        "makes the file itself) and start again\n",
    );
  });
});

Deno.test("kv server on a data dir another program locks, after its kv server stopped cleanly: one line that the holder is no kv server and how to find it, not the stopped server's pid, exit 2", async () => {
  await withTempDir(async (dataDir) => {
    const first = await startServerProcess(["--data-dir", dataDir]);
    const stoppedPid = first.pid;
    assert.equal((await stopWithin(first)).code, 0);
    // A backup script's `flock`: it locks LOCK and writes nothing in it.
    const locker = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const file = await Deno.open(${JSON.stringify(`${dataDir}/LOCK`)}, { read: true });
        await file.lock(true);
        console.log("locked");
        for await (const _ of Deno.stdin.readable) { /* held until stdin closes */ }`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = locker.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const { value } = await withDeadline(reader.read(), { what: "the locker to lock" });
      assert.equal(value?.trim(), "locked");
      reader.releaseLock();
      const refused = await runKv(["server", "-p", "0", "--data-dir", dataDir]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.equal(
        refused.stderr,
        `kv server: data dir ${dataDir} is locked by a process other than a kv server (the last ` +
          `kv server on it, pid ${stoppedPid}, stopped cleanly and let it go); stop that process ` +
          `(fuser -v ${dataDir} ${dataDir}/LOCK names it) or give this server its own --data-dir\n`,
      );
    } finally {
      await locker.stdin.close();
      await withDeadline(locker.status, { what: "the locker to exit" });
      await locker.stdout.cancel().catch(() => {/* read already */});
    }
  });
});
