import assert from "node:assert/strict";
import {
  DirLock,
  LOCK_FILE_NAME,
  LockFileError,
  PID_FIELD_BYTES,
} from "../../lib/server/dir_lock.ts";
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

Deno.test("dir lock: isHeld tells a held dir (its own lock, or LOCK's alone as a kv from before holds it) from a free or missing one, making no LOCK and leaving the lock free", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await DirLock.isHeld(`${dir}/missing`), false);
    assert.equal(await DirLock.isHeld(dir), false);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), [], "no LOCK made");
    const lock = await DirLock.tryAcquire(dir);
    assert.ok(lock);
    assert.equal(await DirLock.isHeld(dir), true);
    lock.release();
    assert.equal(await DirLock.isHeld(dir), false);
    using older = await Deno.open(`${dir}/${LOCK_FILE_NAME}`, { read: true, write: true });
    assert.ok(await older.tryLock(true));
    assert.equal(await DirLock.isHeld(dir), true);
    await older.unlock();
    assert.equal(await DirLock.isHeld(dir), false);
    const again = await DirLock.tryAcquire(dir);
    assert.ok(again, "isHeld let every lock go");
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

/** What is at `path` now, or undefined when nothing is. */
async function statIfAny(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

Deno.test("dir lock: LOCK deleted under its holder lets no other acquire in, and keepFile writes it anew with the holder's pid and latest run record", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/${LOCK_FILE_NAME}`;
    const warnings: string[] = [];
    const lock = await DirLock.tryAcquire(dir, { onWarning: (message) => warnings.push(message) });
    assert.ok(lock);
    await lock.writeRecord("first record");
    const before = await Deno.stat(path);
    await Deno.remove(path);
    assert.equal(await DirLock.tryAcquire(dir), undefined, "the dir itself is locked");
    assert.equal(await statIfAny(path), undefined, "a refused acquire makes no LOCK");
    assert.equal(await DirLock.holderPid(dir), undefined, "no LOCK to name the holder");
    // Written while LOCK is gone: the record goes to the deleted file, and to the new one.
    await lock.writeRecord("second record");
    lock.keepFile();
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      new RegExp(
        `^${path} was deleted or replaced while this server held the data dir; wrote ` +
          `it anew \\(pid ${Deno.pid}, the run record kept\\)\\. Leave LOCK in place`,
      ),
    );
    assert.notEqual((await Deno.stat(path)).ino, before.ino, "a new file");
    assert.equal(await DirLock.holderPid(dir), Deno.pid);
    lock.keepFile();
    assert.equal(warnings.length, 1, "LOCK is its file again: nothing more to tell");
    await using contender = await spawnHolder(dir);
    assert.equal(contender.firstLine, "busy", "another process cannot take it either");
    lock.release();
    const next = await DirLock.tryAcquire(dir);
    assert.equal(next?.record, "second record");
    assert.equal(next?.writtenByOther, false, "kv wrote the new LOCK");
    next?.release();
  });
});

Deno.test("dir lock: another process's lock on a dir outlives the deletion of LOCK, and ends with the process at kill -9", async () => {
  await withTempDir(async (dir) => {
    await using holder = await spawnHolder(dir);
    assert.equal(holder.firstLine, "locked");
    await Deno.remove(`${dir}/${LOCK_FILE_NAME}`);
    assert.equal(await DirLock.tryAcquire(dir), undefined);
    holder.child.kill("SIGKILL");
    assert.equal((await holder.finish()).signal, "SIGKILL");
    const lock = await DirLock.tryAcquire(dir);
    assert.ok(lock, "the dead holder left no lock");
    lock.release();
  });
});

Deno.test("dir lock: a LOCK put back by its holder keeps the sign that another program wrote the one it found", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/${LOCK_FILE_NAME}`;
    await Deno.writeTextFile(path, `${"4242 1000".padEnd(PID_FIELD_BYTES - 1)}\n`);
    const first = await DirLock.tryAcquire(dir, { onWarning: () => {} });
    assert.equal(first?.writtenByOther, true);
    await Deno.remove(path);
    first?.keepFile();
    first?.release(); // as a start killed before it recorded its run
    const second = await DirLock.tryAcquire(dir);
    assert.equal(second?.writtenByOther, true, "the sign is still there");
    second?.release();
  });
});

Deno.test("dir lock: a LOCK that is a directory is named, refused at acquire with the dir left unlocked, and told once by a holder, which writes LOCK anew once it is gone", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/${LOCK_FILE_NAME}`;
    await Deno.mkdir(path);
    await assert.rejects(
      () => DirLock.tryAcquire(dir),
      (error) => {
        assert(error instanceof LockFileError, String(error));
        assert.equal(
          error.message,
          `${path} should be kv's lock file but is a directory; remove it (kv makes the file ` +
            `itself) and start again`,
        );
        return true;
      },
    );
    assert.equal(await DirLock.holderPid(dir), undefined, "unreadable, not an error");
    await Deno.remove(path);
    const warnings: string[] = [];
    const lock = await DirLock.tryAcquire(dir, { onWarning: (message) => warnings.push(message) });
    assert.ok(lock, "the refused acquire left the dir unlocked");
    await Deno.remove(path);
    await Deno.mkdir(path);
    lock.keepFile();
    lock.keepFile();
    assert.deepEqual(warnings, [
      `${path} was deleted or replaced while this server held the data dir, and cannot be ` +
      `written anew: it is a directory; remove it, and this server writes it anew`,
    ]);
    await Deno.remove(path);
    lock.keepFile();
    assert.equal(warnings.length, 2);
    assert.match(warnings[1], /wrote it anew/);
    assert.equal(await DirLock.holderPid(dir), Deno.pid);
    lock.release();
  });
});

Deno.test("dir lock: a holder whose dir was moved away tells onDirLost once and writes no LOCK into the dir now at its name", async () => {
  await withTempDir(async (parent) => {
    const dir = `${parent}/data`;
    await Deno.mkdir(dir);
    const lost: string[] = [];
    const lock = await DirLock.tryAcquire(dir, {
      onWarning: assert.fail,
      onDirLost: (message) => lost.push(message),
    });
    assert.ok(lock);
    assert.ok(lock.namesHeldDir());
    await Deno.rename(dir, `${parent}/moved`);
    await Deno.mkdir(dir);
    assert.ok(!lock.namesHeldDir());
    lock.keepFile();
    lock.keepFile();
    assert.deepEqual(lost, [
      `data dir ${dir} was deleted, moved or replaced while this server held it`,
    ]);
    assert.equal(await statIfAny(`${dir}/${LOCK_FILE_NAME}`), undefined);
    const other = await DirLock.tryAcquire(dir);
    assert.ok(other, "the new dir is free");
    other.release();
    lock.release();
  });
});

Deno.test("dir lock: a holder whose dir's parent was moved away and a file put at its name tells onDirLost, not that LOCK was deleted", async () => {
  await withTempDir(async (root) => {
    const parent = `${root}/parent`;
    const dir = `${parent}/data`;
    await Deno.mkdir(dir, { recursive: true });
    const lost: string[] = [];
    const lock = await DirLock.tryAcquire(dir, {
      onWarning: assert.fail,
      onDirLost: (message) => lost.push(message),
    });
    assert.ok(lock);
    await Deno.rename(parent, `${root}/moved`);
    await Deno.writeTextFile(parent, "");
    assert.ok(!lock.namesHeldDir());
    lock.keepFile();
    assert.deepEqual(lost, [
      `data dir ${dir} was deleted, moved or replaced while this server held it`,
    ]);
    lock.release();
  });
});

Deno.test("dir lock: a LOCK that is a symbolic link is refused at acquire, and one put in place under a holder is told once and never written through: the file it names keeps its bytes", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/${LOCK_FILE_NAME}`;
    const target = `${dir}/log-0000000001.kvlog`;
    const bytes = new Uint8Array(4096).fill(7);
    await Deno.writeFile(target, bytes);
    await Deno.symlink("log-0000000001.kvlog", path);
    await assert.rejects(
      () => DirLock.tryAcquire(dir),
      (error) => {
        assert(error instanceof LockFileError, String(error));
        assert.equal(error.problem, "is a symbolic link");
        return true;
      },
    );
    await Deno.remove(path);
    await Deno.symlink("missing", path);
    await assert.rejects(() => DirLock.tryAcquire(dir), LockFileError);
    assert.equal(await statIfAny(`${dir}/missing`), undefined, "a dangling link's file not made");
    await Deno.remove(path);
    const warnings: string[] = [];
    const lock = await DirLock.tryAcquire(dir, { onWarning: (message) => warnings.push(message) });
    assert.ok(lock);
    await Deno.remove(path);
    await Deno.symlink("log-0000000001.kvlog", path);
    lock.keepFile();
    lock.keepFile();
    assert.deepEqual(warnings, [
      `${path} was deleted or replaced while this server held the data dir, and cannot be ` +
      `written anew: it is a symbolic link; remove it, and this server writes it anew`,
    ]);
    assert.deepEqual(await Deno.readFile(target), bytes, "the log it names is as it was");
    lock.release();
  });
});

Deno.test("dir lock: a run record written just after LOCK was deleted, before the holder's check, goes to the LOCK at its name, where the next acquire reads it", async () => {
  await withTempDir(async (dir) => {
    const warnings: string[] = [];
    const lock = await DirLock.tryAcquire(dir, { onWarning: (message) => warnings.push(message) });
    assert.ok(lock);
    await lock.writeRecord("open record");
    await Deno.remove(`${dir}/${LOCK_FILE_NAME}`);
    await lock.writeRecord("clean record");
    lock.release();
    assert.equal(warnings.length, 1, "told that LOCK was written anew");
    const next = await DirLock.tryAcquire(dir);
    assert.equal(next?.record, "clean record");
    assert.equal(next?.writtenByOther, false);
    next?.release();
  });
});
