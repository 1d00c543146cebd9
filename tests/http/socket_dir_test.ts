// kv http's sockets' directories (lib/http/socket_dir.ts): one a kv http killed by SIGKILL
// left is removed by the next kv http to start; a live one's, or one that proves nothing, never.
import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { withDeadline } from "../helpers/wait.ts";
import {
  removeStaleSocketDirs,
  SOCKET_DIR_LOCK,
  SOCKET_DIR_PREFIX,
  SocketDir,
} from "../../lib/http/socket_dir.ts";

/** The names of the sockets' directories in `dir`, sorted. */
async function socketDirs(dir: string): Promise<string[]> {
  const entries = await Array.fromAsync(Deno.readDir(dir));
  return entries.map((entry) => entry.name).filter((name) => name.startsWith(SOCKET_DIR_PREFIX))
    .sort();
}

/** `after`'s names that `before` lacks: the directory a kv http started in between made. */
function madeBetween(before: readonly string[], after: readonly string[]): string {
  const made = after.filter((name) => !before.includes(name));
  assert.equal(made.length, 1, `one directory made: ${made}`);
  return made[0];
}

Deno.test("a kv http killed by SIGKILL leaves its sockets' directory, and the next kv http to start removes it, leaving a live kv http's and one without a lock file", async () => {
  await using cluster = await KvCluster.start(1);
  await withTempDir(async (tmp) => {
    // The guard, and so the directory, is off by default on loopback.
    const guarded = ["-s", cluster.serverFile, "--header-timeout-ms", "10000"];
    const start = () => HttpProcess.start(guarded, { TMPDIR: tmp });
    // Being made, or left by a kv http from before the lock: nothing proves its owner dead.
    const unproven = `${SOCKET_DIR_PREFIX}unproven`;
    await Deno.mkdir(`${tmp}/${unproven}`, { mode: 0o700 });
    await using live = await start();
    const withLive = await socketDirs(tmp);
    const killed = await start();
    const killedDir = madeBetween(withLive, await socketDirs(tmp));
    Deno.kill(killed.pid, "SIGKILL");
    await killed.stop();
    const left = await socketDirs(tmp);
    assert.ok(left.includes(killedDir), "SIGKILL ran no code of kv http's: its directory stays");

    await using next = await start();
    const now = await socketDirs(tmp);
    assert.ok(!now.includes(killedDir), "the next kv http removed the killed one's directory");
    assert.deepEqual(now, [...withLive, madeBetween(left, now)].sort());
    assert.ok(withLive.includes(unproven));
    // The live kv http still serves, through an inner server in its directory.
    const healthz = await withDeadline(fetch(`${live.url}healthz`), { what: "/healthz" });
    assert.equal(healthz.status, 200, await healthz.text());
    assert.equal(await live.stop(), 0);
    assert.equal(await next.stop(), 0);
    assert.deepEqual(await socketDirs(tmp), [unproven], "stopped, each removed its own");
  });
});

Deno.test("removeStaleSocketDirs removes only a directory whose lock is free: not a held one, one without a lock file, a symbolic link, another name or the one excepted", async () => {
  await withTempDir(async (parent) => {
    const dir = async (name: string, lock: boolean) => {
      const path = `${parent}/${name}`;
      await Deno.mkdir(path, { mode: 0o700 });
      if (lock) await Deno.writeTextFile(`${path}/${SOCKET_DIR_LOCK}`, "");
      return path;
    };
    const own = await dir(`${SOCKET_DIR_PREFIX}own`, true);
    const held = await dir(`${SOCKET_DIR_PREFIX}held`, true);
    const dead = await dir(`${SOCKET_DIR_PREFIX}dead`, true);
    const unlocked = await dir(`${SOCKET_DIR_PREFIX}new`, false);
    const other = await dir("other", true);
    const target = await dir("target", true);
    const link = `${parent}/${SOCKET_DIR_PREFIX}link`;
    await Deno.symlink(target, link);
    // Another open file's flock, in this process too, is one the sweep cannot take.
    using holder = await Deno.open(`${held}/${SOCKET_DIR_LOCK}`, { read: true });
    holder.lockSync(true);
    assert.deepEqual(removeStaleSocketDirs(parent, own), [dead]);
    for (const kept of [own, held, unlocked, other, link, `${target}/${SOCKET_DIR_LOCK}`]) {
      await Deno.lstat(kept);
    }
  });
});

Deno.test("a SocketDir is 0700 with its lock held until removed, and removing it twice does nothing", async () => {
  const socketDir = SocketDir.make();
  try {
    assert.equal((await Deno.stat(socketDir.path)).mode! & 0o777, 0o700);
    using lock = await Deno.open(`${socketDir.path}/${SOCKET_DIR_LOCK}`, { read: true });
    assert.equal(lock.tryLockSync(true), false, "held by its owner");
  } finally {
    socketDir.remove();
    socketDir.remove();
  }
  await assert.rejects(Deno.stat(socketDir.path), Deno.errors.NotFound);
});
