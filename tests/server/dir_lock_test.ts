import assert from "node:assert/strict";
import { DirLock, LOCK_FILE_NAME, PID_FIELD_BYTES } from "../../lib/server/dir_lock.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { withDeadline } from "../helpers/wait.ts";

const holderScript = new URL("../fixtures/hold_dir_lock.ts", import.meta.url).pathname;

/**
 * Starts a process holding the lock on `dir`; resolves once it reports its first line.
 * Leaving the scope of `await using` ends it as `finish` does.
 */
async function spawnHolder(dir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", holderScript, dir],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const killIt = () => child.kill("SIGKILL");
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const read = lines.read();
    const { value, done } = await withDeadline(read, {
      what: "the lock holder's first line",
      onTimeout: killIt,
    });
    if (done) break;
    text += value;
  }
  let finished: Promise<Deno.CommandStatus> | undefined;
  /** Closes the child's stdin (it then releases the lock and exits) and awaits its exit. */
  const finish = () =>
    finished ??= withDeadline(
      (async () => {
        await lines.cancel();
        await child.stdin.close().catch(() => {/* already gone after a kill */});
        return await child.status;
      })(),
      { what: "the lock holder to exit", onTimeout: killIt },
    );
  return {
    child,
    firstLine: text.trim(),
    finish,
    [Symbol.asyncDispose]: async () => {
      await finish().catch(() => {/* the test has failed already; only the clean-up matters */});
    },
  };
}

Deno.test("dir lock: a second acquire in the same process fails until the first is released", async () => {
  await withTempDir(async (dir) => {
    const first = await DirLock.tryAcquire(dir);
    assert.ok(first);
    assert.equal(first.dir, dir);
    assert.equal(await DirLock.tryAcquire(dir), undefined);
    assert.equal(await DirLock.holderPid(dir), Deno.pid);
    first.release();
    first.release();
    const second = await DirLock.tryAcquire(dir);
    assert.ok(second);
    second.release();
  });
});

Deno.test("dir lock: another process cannot take a held lock, and gets it once the holder exits", async () => {
  await withTempDir(async (dir) => {
    const lock = await DirLock.tryAcquire(dir);
    assert.ok(lock);
    await using contender = await spawnHolder(dir);
    assert.equal(contender.firstLine, "busy");
    assert.equal((await contender.finish()).code, 0);
    lock.release();
    await using holder = await spawnHolder(dir);
    assert.equal(holder.firstLine, "locked");
    assert.equal((await holder.finish()).code, 0);
    const again = await DirLock.tryAcquire(dir);
    assert.ok(again, "released when the holder closed it");
    again.release();
  });
});

Deno.test("dir lock: kill -9 of the holding process releases the lock with no cleanup", async () => {
  await withTempDir(async (dir) => {
    await using holder = await spawnHolder(dir);
    assert.equal(holder.firstLine, "locked");
    assert.equal(await DirLock.tryAcquire(dir), undefined);
    assert.equal(await DirLock.holderPid(dir), holder.child.pid);
    holder.child.kill("SIGKILL");
    assert.equal((await holder.finish()).signal, "SIGKILL");
    await Deno.stat(`${dir}/${LOCK_FILE_NAME}`);
    const lock = await DirLock.tryAcquire(dir);
    assert.ok(lock, "the dead holder's lock is gone although its LOCK file remains");
    lock.release();
  });
});

Deno.test("dir lock: a lock file found written by another program says so again to the next acquire until a run record is written, so a holder that dies first does not erase the sign", async () => {
  await withTempDir(async (dir) => {
    const fresh = await DirLock.tryAcquire(dir);
    assert.equal(fresh?.writtenByOther, false, "a new lock file");
    fresh?.release();
    // kv's pid field, its time long before the file's change time: a copy put over it.
    const path = `${dir}/${LOCK_FILE_NAME}`;
    await Deno.writeTextFile(path, `${"4242 1000".padEnd(PID_FIELD_BYTES - 1)}\n`);
    const first = await DirLock.tryAcquire(dir);
    assert.equal(first?.writtenByOther, true);
    first?.release(); // as a start killed before it recorded its run
    const second = await DirLock.tryAcquire(dir);
    assert.equal(second?.writtenByOther, true, "the sign is still there");
    assert.equal(await DirLock.holderPid(dir), Deno.pid, "the pid is the holder's");
    await second?.writeRecord("a record");
    second?.release();
    const third = await DirLock.tryAcquire(dir);
    assert.equal(third?.writtenByOther, false, "kv wrote it last");
    third?.release();
  });
});
