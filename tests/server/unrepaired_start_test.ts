// A data dir that may have lost writes its server acknowledged starts unrepaired by itself
// (lib/server/run_record.ts), end to end with real `kv server` processes: after a run that
// did not stop cleanly under --fsync interval in a boot of the machine that has ended
// (played by rewriting the boot the run recorded: a test cannot restart the machine), and
// on files put back from a copy. A process killed while the machine stays up loses nothing
// and starts trusted. Each time `kv servers` shows it, a read through it warns rather than
// answer an old value or a plain NOT FOUND, and `kv repair` makes it trusted again.
import assert from "node:assert/strict";
import { DirLock } from "../../lib/server/dir_lock.ts";
import { decodeRunRecord, encodeRunRecord } from "../../lib/server/run_record.ts";
import { ServerProcess } from "../../lib/cli/server_process.ts";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { stopWithin, TEST_KV } from "../helpers/server_process.ts";
import { DEFAULT_DEADLINE_MS, waitFor, withDeadline } from "../helpers/wait.ts";

/** The log a new data dir writes to. */
const FIRST_LOG = "log-0000000001.kvlog";

/** The start of the line a server logs when its data dir's last run makes it unrepaired. */
const STARTED_UNREPAIRED = "kv server warn: started unrepaired: ";

/**
 * Three durable servers (--fsync interval, the default), every one repaired, and a key whose
 * two homes (k = 2) are the first two, written twice: `<key>: 1` then `<key>: 2`. Resolves
 * to the cluster, the key and the size of the first server's log after the first write.
 */
async function clusterWithKey(): Promise<
  { cluster: KvCluster; key: string; sizeAfterFirst: number }
> {
  const cluster = await KvCluster.start(3, { durable: true });
  const s = ["-s", cluster.serverFile];
  const key = cluster.keyOnFirstTwo();
  // New data dirs start unrepaired: settle them, so that only what the test does counts.
  await kvOk(["put", ...s, "-k", "2", `${key}: 1`]);
  const sizeAfterFirst = (await Deno.stat(`${cluster.servers[0].dataDir}/${FIRST_LOG}`)).size;
  await kvOk(["put", ...s, `${key}: 2`]);
  await kvOk(["repair", ...s]);
  assert.deepEqual(await repairedStates(cluster), [true, true, true]);
  return { cluster, key, sizeAfterFirst };
}

/** Runs `kv args` (with the tests' broker timeout) and checks it exits 0. */
async function kvOk(args: string[]): Promise<string> {
  const run = await runKv(withBrokerTimeout(args));
  assert.equal(run.code, 0, `kv ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

/** Whether `kv servers` shows each server repaired (trusted). */
async function repairedStates(cluster: KvCluster): Promise<boolean[]> {
  const json = await kvOk(["servers", "-s", cluster.serverFile, "--json"]);
  return JSON.parse(json).servers.map((report: { repaired?: boolean }) => report.repaired);
}

/**
 * `kv get key` with the key's other home down: the answer of `server` alone. Checks it
 * is told as unsure — exit 3 and a warning — never an old value or NOT FOUND as exact.
 */
async function assertReadWarns(cluster: KvCluster, otherHome: ServerProcess, key: string) {
  await otherHome.kill();
  const get = await runKv(withBrokerTimeout(["get", "-s", cluster.serverFile, key]));
  assert.equal(get.code, 3, `stdout ${get.stdout}, stderr ${get.stderr}`);
  assert.match(get.stderr, /^WARNING: /m);
  await otherHome.restart();
}

/**
 * Repairs the cluster, then reads the key with its other home down: the server alone now
 * answers it exactly, with the value last written.
 */
async function assertRepairRestoresTrust(
  cluster: KvCluster,
  otherHome: ServerProcess,
  key: string,
): Promise<void> {
  await kvOk(["repair", "-s", cluster.serverFile]);
  assert.deepEqual(await repairedStates(cluster), [true, true, true]);
  await otherHome.kill();
  const get = await runKv(withBrokerTimeout(["get", "-s", cluster.serverFile, key]));
  assert.deepEqual([get.code, get.stdout.trim(), get.stderr], [0, `${key} : 2`, ""]);
  await otherHome.restart();
}

/**
 * Makes the run record in `dataDir` say its run was in a boot of the machine an hour
 * before this one, as after a restart of the machine (the record is otherwise the run's).
 */
async function playMachineRestart(dataDir: string): Promise<void> {
  const lock = await DirLock.tryAcquire(dataDir);
  assert.ok(lock, "the killed server's lock is free");
  try {
    const record = decodeRunRecord(lock.record ?? "");
    assert.ok(record !== "unreadable" && record.run === "open", lock.record);
    const boot = record.boot ?? "";
    const earlier = boot.startsWith("at:")
      ? `at:${Number(boot.slice(3)) - 3_600_000}`
      : "id:00000000-0000-0000-0000-000000000000";
    assert.notEqual(earlier, boot);
    await lock.writeRecord(encodeRunRecord({ ...record, boot: earlier }));
  } finally {
    lock.release();
  }
}

/**
 * The reasons a start gives for files that are not the ones the server left: the dir, the
 * lock file (written by the copy more than a few seconds after the server wrote it), a
 * data file.
 */
const COPY_FOUND = new RegExp(
  "^kv server warn: started unrepaired: (the data dir is not the directory the last run " +
    "used|its LOCK file was written by another program|\\S+ (changed|was replaced) since " +
    "the last run)",
);

/**
 * Waits until the clock is a second past the change time of `dataDir`'s log, as a restore
 * is, later than what it restores: the change time is read in whole seconds.
 */
async function aSecondAfterLastWrite(dataDir: string): Promise<void> {
  const changedAt = (await Deno.stat(`${dataDir}/${FIRST_LOG}`)).ctime!.getTime();
  await waitFor(() => Date.now() >= changedAt + 1000, { what: "the next second" });
}

/** Runs `command args` (cp, rm) and checks it exits 0. */
async function run(command: string, ...args: string[]): Promise<void> {
  const output = await withDeadline(new Deno.Command(command, { args }).output(), {
    what: `${command} ${args.join(" ")}`,
  });
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
}

/** The line the server logged on starting unrepaired by itself, or undefined. */
function unrepairedLine(server: ServerProcess): string | undefined {
  return server.stderrLines.find((line) => line.startsWith(STARTED_UNREPAIRED));
}

Deno.test("a server killed under --fsync interval whose machine then restarted starts unrepaired, saying why; a read through it alone warns, not an old value; kv repair trusts it again", async () => {
  const { cluster, key, sizeAfterFirst } = await clusterWithKey();
  await using _ = cluster;
  const [home, otherHome] = cluster.servers;
  await home.kill();
  // The power loss: the page cache with the second write is gone, the log cut at an entry.
  await Deno.truncate(`${home.dataDir}/${FIRST_LOG}`, sizeAfterFirst);
  await playMachineRestart(home.dataDir!);
  await home.restart();
  assert.match(
    unrepairedLine(home) ?? home.stderrLines.join("\n"),
    /^kv server warn: started unrepaired: the last run on it \(--fsync interval\) did not stop cleanly and the machine has restarted since: a power loss or kernel crash takes what it acknowledged but had not yet fsynced; brokers do not count this server's answers until kv repair/,
  );
  assert.deepEqual(await repairedStates(cluster), [false, true, true]);
  await assertReadWarns(cluster, otherHome, key);
  // Restarted again (cleanly this time) it stays unrepaired: the mark is on disk.
  await stopWithin(home);
  await home.restart();
  assert.equal(unrepairedLine(home), undefined);
  assert.deepEqual(await repairedStates(cluster), [false, true, true]);
  await assertRepairRestoresTrust(cluster, otherHome, key);
});

Deno.test("a server killed (kill -9) under --fsync interval while its machine stays up starts trusted, every acknowledged write kept", async () => {
  const { cluster, key } = await clusterWithKey();
  await using _ = cluster;
  const [home, otherHome] = cluster.servers;
  await home.kill();
  await home.restart();
  assert.equal(unrepairedLine(home), undefined, home.stderrLines.join("\n"));
  assert.deepEqual(await repairedStates(cluster), [true, true, true]);
  await otherHome.kill();
  const get = await runKv(withBrokerTimeout(["get", "-s", cluster.serverFile, key]));
  assert.deepEqual([get.code, get.stdout.trim(), get.stderr], [0, `${key} : 2`, ""]);
});

Deno.test("a data dir put back from a copy starts unrepaired: copied after a clean stop (into a new dir, or over the old files) or while running, then restored after a kill; kv repair trusts it again", async () => {
  const { cluster, key } = await clusterWithKey();
  await using _ = cluster;
  const [home, otherHome] = cluster.servers;
  const dir = home.dataDir!;
  const backup = `${cluster.dataRoot}/backup`;
  const s = ["-s", cluster.serverFile];
  /** Writes `key: value`, to make the copy older than the server. */
  const write = (value: number) => kvOk(["put", ...s, `${key}: ${value}`]);

  // A copy made after a clean stop, put back in place of the dir (rm -rf, cp -a).
  await stopWithin(home);
  await run("cp", "-a", dir, backup);
  await home.restart();
  await write(3);
  await stopWithin(home);
  await run("rm", "-rf", dir);
  await run("cp", "-a", backup, dir);
  await home.restart();
  assert.match(
    unrepairedLine(home) ?? home.stderrLines.join("\n"),
    /started unrepaired: the data dir is not the directory the last run used \(another inode or creation time: a copy, a restore, or a move to another file system\)/,
  );
  assert.deepEqual(await repairedStates(cluster), [false, true, true]);
  await assertReadWarns(cluster, otherHome, key);
  await write(2);
  await assertRepairRestoresTrust(cluster, otherHome, key);

  // A copy written over the files of the dir, which stays (cp -a into it).
  await stopWithin(home);
  await run("rm", "-rf", backup);
  await run("cp", "-a", dir, backup);
  await home.restart();
  await write(3);
  await stopWithin(home);
  await aSecondAfterLastWrite(dir);
  await run("cp", "-a", `${backup}/.`, dir);
  await home.restart();
  assert.match(unrepairedLine(home) ?? home.stderrLines.join("\n"), COPY_FOUND);
  assert.deepEqual(await repairedStates(cluster), [false, true, true]);
  await write(2);
  await assertRepairRestoresTrust(cluster, otherHome, key);

  // A copy made while the server ran, put back after it was killed: the dir stays, its
  // files are new.
  await run("rm", "-rf", backup);
  await run("cp", "-a", dir, backup);
  await write(3);
  await home.kill();
  for await (const entry of Deno.readDir(dir)) await Deno.remove(`${dir}/${entry.name}`);
  await run("cp", "-a", `${backup}/.`, dir);
  await home.restart();
  assert.match(unrepairedLine(home) ?? home.stderrLines.join("\n"), COPY_FOUND);
  assert.deepEqual(await repairedStates(cluster), [false, true, true]);
  await write(2);
  await assertRepairRestoresTrust(cluster, otherHome, key);
});

Deno.test("two servers started on each other's data dirs (swapped by mistake) start unrepaired, saying so: with k = 1 no read answers a plain NOT FOUND, and kv repair puts every key back home", async () => {
  await using cluster = await KvCluster.start(2, { durable: true });
  const s = ["-s", cluster.serverFile];
  const keys = Array.from({ length: 8 }, (_, i) => `swap${i}`);
  for (const key of keys) await kvOk(["put", ...s, "-k", "1", `${key}: 1`]);
  await kvOk(["repair", ...s]);
  const [first, second] = cluster.servers;
  for (const server of cluster.servers) assert.equal((await stopWithin(server)).code, 0);
  const swapped = (server: ServerProcess, dataDir: string | undefined) =>
    ServerProcess.start({
      kv: TEST_KV,
      port: server.port,
      dataDir,
      startTimeoutMs: DEFAULT_DEADLINE_MS,
    });
  await using onFirst = await swapped(first, second.dataDir);
  await using onSecond = await swapped(second, first.dataDir);
  for (const [server, was] of [[onFirst, second], [onSecond, first]] as const) {
    assert.ok(
      server.stderrLines.some((line) =>
        line.startsWith(
          `${STARTED_UNREPAIRED}the data dir was last served on port ${was.port}, not ` +
            `${server.port} (another server's data dir, swapped by mistake?`,
        )
      ),
      server.stderrLines.join("\n"),
    );
  }
  for (const key of keys) {
    const read = await runKv(withBrokerTimeout(["get", ...s, key]));
    assert.equal(read.code, 3, `${key}: ${read.stdout}${read.stderr}`);
  }
  await kvOk(["repair", ...s]);
  for (const key of keys) assert.equal(await kvOk(["get", ...s, key]), `${key} : 1\n`);
});

Deno.test("two servers on one port of two loopback addresses, started on each other's data dirs, start unrepaired, naming the address and port each dir was last served on", async () => {
  await using cluster = await KvCluster.start(1, { durable: true });
  const [first] = cluster.servers;
  const onPort = (hostname: string, dataDir: string | undefined) =>
    ServerProcess.start({
      kv: TEST_KV,
      hostname,
      port: first.port,
      dataDir,
      startTimeoutMs: DEFAULT_DEADLINE_MS,
    });
  const otherDir = `${cluster.dataRoot}/other`;
  await using second = await onPort("127.0.0.2", otherDir);
  for (const server of [first, second]) assert.equal((await stopWithin(server)).code, 0);
  await using onFirst = await onPort("127.0.0.1", otherDir);
  await using onSecond = await onPort("127.0.0.2", first.dataDir);
  for (const [server, was] of [[onFirst, "127.0.0.2"], [onSecond, "127.0.0.1"]] as const) {
    assert.ok(
      server.stderrLines.some((line) =>
        line.startsWith(
          `${STARTED_UNREPAIRED}the data dir was last served on ${was}:${first.port}, not ` +
            `${server.id} (another server's data dir, swapped by mistake?`,
        )
      ),
      server.stderrLines.join("\n"),
    );
  }
});

Deno.test("a server moved to another port on purpose and killed there restarts on that port without blaming the port: its run record keeps the port it serves from the start", async () => {
  await using cluster = await KvCluster.start(2, { durable: true });
  const [first, second] = cluster.servers;
  for (const server of cluster.servers) assert.equal((await stopWithin(server)).code, 0);
  const onSecondPort = () =>
    ServerProcess.start({
      kv: TEST_KV,
      port: second.port,
      dataDir: first.dataDir,
      startTimeoutMs: DEFAULT_DEADLINE_MS,
    });
  const moved = await onSecondPort();
  assert.ok(
    moved.stderrLines.some((line) => line.includes(`last served on port ${first.port}`)),
    moved.stderrLines.join("\n"),
  );
  // Killed before any compaction or clean stop wrote another record.
  await stopWithin(moved, "SIGKILL");
  await using restarted = await onSecondPort();
  assert.ok(
    !restarted.stderrLines.some((line) => line.includes("last served on port")),
    restarted.stderrLines.join("\n"),
  );
});
