// A data dir out of the cluster longer than the tombstone grace is refused at start
// (lib/server/run_record.ts, judgeDowntime), end to end with real `kv server` processes:
// the time away is played by libfaketime (tests/helpers/faketime.ts), which starts a server
// with its clock moved on, as after days switched off; a short --tombstone-grace plays it
// with clocks that agree. Each refusal is one line and exit 2; the override starts it.
import assert from "node:assert/strict";
import {
  denoRunArgs,
  type KvInvocation,
  SERVER_PERMISSIONS,
  ServerProcess,
} from "../../lib/cli/server_process.ts";
import { LOCK_FILE_NAME, PID_FIELD_BYTES } from "../../lib/server/dir_lock.ts";
import { decodeRunRecord } from "../../lib/server/run_record.ts";
import { str } from "../../lib/record/value.ts";
import { withClient } from "../helpers/client.ts";
import { FAKETIME_LIBRARY, faketimeEnv, hasFaketime } from "../helpers/faketime.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { MAIN_PATH, runKv } from "../helpers/run_kv.ts";
import { serverContents } from "../helpers/server_contents.ts";
import { freeze, startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { at } from "../helpers/versions.ts";
import { DEFAULT_DEADLINE_MS, waitFor, withDeadline } from "../helpers/wait.ts";

/** This checkout's kv run with its clock moved by `offset` (libfaketime's `FAKETIME`). */
function kvAt(offset: string): KvInvocation {
  const env = [`LD_PRELOAD=${FAKETIME_LIBRARY}`, `FAKETIME=${offset}`];
  return { command: "env", args: [...env, Deno.execPath(), ...denoRunArgs(MAIN_PATH)] };
}

/** How {@link kvClockedBy} runs kv: which clocks the test moves, what kv may read. */
interface ClockedOptions {
  /** The monotonic clock (`performance.now()`) stays real, as when NTP steps the wall clock. */
  wallOnly?: boolean;
  /**
   * kv runs without `--allow-sys=osUptime`, so it measures its time away by the monotonic
   * clock, as libfaketime moves it (libfaketime does not move the uptime: Linux's sysinfo).
   */
  noUptime?: boolean;
}

/**
 * This checkout's kv run with its clocks moved by the offset `file` holds, read again at
 * every reading (libfaketime's timestamp file, uncached), so that a test moves the clocks of
 * a running server: its wall clock, its monotonic clock unless `wallOnly`; never its uptime.
 */
function kvClockedBy(file: string, { wallOnly, noUptime }: ClockedOptions = {}): KvInvocation {
  const env = [
    `LD_PRELOAD=${FAKETIME_LIBRARY}`,
    `FAKETIME_TIMESTAMP_FILE=${file}`,
    "FAKETIME_NO_CACHE=1",
    ...(wallOnly ? ["FAKETIME_DONT_FAKE_MONOTONIC=1"] : []),
  ];
  const permissions = SERVER_PERMISSIONS.filter((flag) => !noUptime || !/^--allow-sys/.test(flag));
  return {
    command: "env",
    args: [...env, Deno.execPath(), ...denoRunArgs(MAIN_PATH, permissions)],
  };
}

/** Starts `kv server` on `dataDir` with `args`, its clock moved by `offset`. */
function serverAt(offset: string, dataDir: string, args: string[] = []): Promise<ServerProcess> {
  return ServerProcess.start({
    kv: kvAt(offset),
    dataDir,
    args,
    startTimeoutMs: DEFAULT_DEADLINE_MS,
  });
}

/** Stops `server` with SIGTERM and checks it stopped cleanly; resolves to its stderr. */
async function stopCleanly(server: ServerProcess): Promise<string> {
  const { code, stderr } = await stopWithin(server);
  assert.equal(code, 0, stderr);
  return stderr;
}

/** The refusal of a dir last alive `ago` (a RegExp source) ago under the default grace. */
function refusal(dataDir: string, ago: string, grace = "24 hours, less 60 seconds"): RegExp {
  return new RegExp(
    `^kv server: data dir ${RegExp.escape(dataDir)} was last alive ${ago} ago, longer than its ` +
      `tombstone grace allows \\(--tombstone-grace ${grace}\\): the other replicas may have ` +
      "purged the tombstones of deletes it missed, .* move the dir aside or empty it and start " +
      "again .* start with --keep-stale-data\\n$",
  );
}

/** The last-alive stamp of the run record in `dataDir`'s LOCK; undefined while torn. */
async function aliveIn(dataDir: string): Promise<number | undefined> {
  const text = await Deno.readTextFile(`${dataDir}/${LOCK_FILE_NAME}`);
  // Read while the server may be writing it in place: a torn record is read again.
  const record = decodeRunRecord(text.slice(PID_FIELD_BYTES).trimEnd());
  return record === "unreadable" ? undefined : record.alive;
}

/** The tests that move a server's clock: ignored where libfaketime is not installed. */
const needsFaketime = { ignore: !hasFaketime() };

Deno.test({
  ...needsFaketime,
  name:
    "kv server on a data dir stopped 23 h ago starts; 25 h ago it is refused, one line and exit 2, again at the next try; --keep-stale-data starts it with a warning and its record; back on the real clock its stamp is ahead: a warning",
  fn: async () => {
    await withTempDir(async (dataDir) => {
      await using first = await startServerProcess(["--data-dir", dataDir]);
      await withClient(first.address, (client) => client.put("a", str("1"), at()));
      await stopCleanly(first);
      await using soon = await serverAt("+23h", dataDir);
      assert.ok(
        !soon.stderrLines.some((line) => line.includes("last alive")),
        soon.stderrLines.join("\n"),
      );
      await stopCleanly(soon);
      // Stamped 23 h on at its clean stop: 2 days on is 25 h after it.
      for (const attempt of ["first", "second"]) {
        const refused = await runKv(["server", "-p", "0", "--data-dir", dataDir], {
          env: faketimeEnv("+2d"),
        });
        assert.equal(refused.code, 2, `${attempt}: ${refused.stderr}`);
        assert.match(refused.stderr, refusal(dataDir, "25 hours"), attempt);
      }
      await using kept = await serverAt("+2d", dataDir, ["--keep-stale-data"]);
      const keptLog = kept.stderrLines.join("\n");
      assert.match(
        keptLog,
        /kv server warn: recovery: data dir .* was last alive 25 hours ago, .*: started with its data, as --keep-stale-data asks; records deleted meanwhile whose tombstones the other replicas purged come back/,
      );
      assert.match(keptLog, /listening on .*, 1 record,/);
      await stopCleanly(kept);
      await using back = await startServerProcess(["--data-dir", dataDir]);
      assert.match(
        back.stderrLines.join("\n"),
        /kv server warn: recovery: data dir .*'s last-alive stamp \(in LOCK\) is (47 hours|2 days) ahead of this server's clock/,
      );
      await stopCleanly(back);
    });
  },
});

Deno.test({
  ...needsFaketime,
  name:
    "kv server stamps its data dir alive while it runs (a quarter of a 2 s grace), and a dir recording k = 1, 2 days on, starts with its data and a warning rather than a refusal",
  fn: async () => {
    await withTempDir(async (dataDir) => {
      const grace = ["--tombstone-grace", "2s"];
      await using server = await startServerProcess(["--data-dir", dataDir, ...grace]);
      await withClient(server.address, async (client) => {
        assert.equal(await client.setK(1), 1);
        await client.put("only", str("1"), at());
      });
      const started = await aliveIn(dataDir);
      assert.ok(started !== undefined);
      await waitFor(async () => (await aliveIn(dataDir) ?? started) > started, {
        what: "the running server to stamp its LOCK again",
      });
      await stopCleanly(server);
      await using later = await serverAt("+2d", dataDir, grace);
      const log = later.stderrLines.join("\n");
      assert.match(
        log,
        /kv server warn: recovery: data dir .* was last alive 2 days ago, .*: started with its data, as the cluster's k recorded in it is 1 \(no other replica holds its keys\)/,
      );
      assert.match(log, /listening on .*, 1 record,/);
      await stopCleanly(later);
    });
  },
});

Deno.test({
  ...needsFaketime,
  name:
    "kv server on a data dir put back by cp -a without its LOCK, 2 days after its files were written, is refused: one line naming the files' age, exit 2, again at the next try; --keep-stale-data starts it with a warning",
  fn: async () => {
    await withTempDir(async (root) => {
      await using first = await startServerProcess(["--data-dir", `${root}/data`]);
      await withClient(first.address, (client) => client.put("a", str("1"), at()));
      await stopCleanly(first);
      const dataDir = `${root}/restored`;
      const copy = await new Deno.Command("cp", { args: ["-a", `${root}/data`, dataDir] }).output();
      assert.equal(copy.code, 0);
      await Deno.remove(`${dataDir}/${LOCK_FILE_NAME}`);
      for (const attempt of ["first", "second"]) {
        const refused = await runKv(["server", "-p", "0", "--data-dir", dataDir], {
          env: faketimeEnv("+2d"),
        });
        assert.equal(refused.code, 2, `${attempt}: ${refused.stderr}`);
        assert.match(
          refused.stderr,
          new RegExp(
            `^kv server: data dir ${RegExp.escape(dataDir)} holds no readable run record in ` +
              "LOCK \\(.*\\), and its logs and snapshots were last written 2 days ago, longer " +
              "than its tombstone grace allows .* start with --keep-stale-data; files this old " +
              "are also those of a server that ran until just now, .*\\n$",
          ),
          attempt,
        );
      }
      await using kept = await serverAt("+2d", dataDir, ["--keep-stale-data"]);
      const keptLog = kept.stderrLines.join("\n");
      assert.match(
        keptLog,
        /kv server warn: recovery: data dir .* holds no readable run record in LOCK .*: started with its data, as --keep-stale-data asks/,
      );
      assert.match(keptLog, /listening on .*, 1 record,/);
      await stopCleanly(kept);
    });
  },
});

Deno.test("the resurrection the grace warns of is refused: three durable servers (k = 2, 2 s grace), a record put, one home stopped, the record deleted and its tombstones purged; the stopped home's restart is refused, and wiped it starts and the record stays deleted after kv repair", async () => {
  await using cluster = await KvCluster.start(3, {
    durable: true,
    server: () => ({ args: ["--tombstone-grace", "2s"] }),
  });
  const s = ["-s", cluster.serverFile];
  const kv = (args: string[]) => runKv(withBrokerTimeout(args));
  const key = cluster.keyOnFirstTwo();
  const put = await kv(["put", ...s, "-k", "2", `${key}: 1`]);
  assert.equal(put.code, 0, put.stderr);
  const [home, otherHome, third] = cluster.servers;
  await stopCleanly(home);
  const deleted = await kv(["delete", ...s, key]);
  assert.equal(deleted.code, 0, deleted.stderr);
  // The tombstones on the other home and on the server that stood in for the stopped one.
  await waitFor(async () => {
    const held = await Promise.all([otherHome, third].map((each) => serverContents(each.address)));
    return held.every((contents) => !contents.has(key));
  }, { what: `the tombstones of ${key} to be purged` });
  const dataDir = home.dataDir!;
  const restart = [
    "server",
    "-a",
    home.address.hostname,
    "-p",
    `${home.port}`,
    "--data-dir",
    dataDir,
    "--tombstone-grace",
    "2s",
  ];
  const refused = await runKv(restart);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    refusal(dataDir, "\\d+ (ms|seconds|minutes)", "2 seconds, less 500 ms"),
  );
  assert.equal((await serverContents(otherHome.address)).has(key), false);
  await Deno.remove(dataDir, { recursive: true });
  await home.restart();
  const repair = await kv(["repair", ...s]);
  assert.equal(repair.code, 0, repair.stderr);
  const get = await kv(["get", ...s, key]);
  assert.equal(get.code, 1, get.stderr);
  assert.equal(get.stderr, `NOT FOUND: ${key}\n`);
  for (const server of cluster.servers) {
    assert.equal((await serverContents(server.address)).get(key), undefined, server.id);
  }
});

Deno.test({
  ...needsFaketime,
  name:
    "kv server that may not read the uptime, stopped by SIGSTOP and resumed with its clocks 2 minutes on (frozen past its 2 s grace and the minute a running server allows), stops at once: one line, exit 2, its LOCK stamped last before the freeze, so the next start is refused",
  fn: async () => {
    await withTempDir(async (parent) => {
      const grace = ["--tombstone-grace", "2s"];
      await using clocked = await startClocked(parent, { noUptime: true });
      const { server, dataDir } = clocked;
      await withClient(server.address, (client) => client.put("a", str("1"), at()));
      const before = await resumeTwoMinutesOn(clocked);
      const { code, stderr } = await withDeadline(server.exited, {
        what: "the resumed server to stop by itself",
      });
      assert.equal(code, 2, stderr);
      assert.match(
        stderr,
        new RegExp(
          `\\nkv server: data dir ${RegExp.escape(dataDir)} was out of the cluster for 2 minutes ` +
            "while this server ran \\(its process stopped or frozen, its machine suspended, or " +
            "its disk refusing writes\\), longer than its tombstone grace allows \\(--tombstone-grace 2 seconds, " +
            "less 500 ms\\): .* stopped without stamping the dir alive, so its next start is " +
            "refused too: move the dir aside or empty it .* --keep-stale-data$",
        ),
      );
      assert.equal(await aliveIn(dataDir), before, "no stamp after the freeze, not at the stop");
      const refused = await runKv(["server", "-p", "0", "--data-dir", dataDir, ...grace], {
        env: faketimeEnv("+2m"),
      });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, refusal(dataDir, "2 minutes", "2 seconds, less 500 ms"));
    });
  },
});

Deno.test({
  ...needsFaketime,
  name:
    "kv server is not stopped by a freeze shorter than a minute (SIGSTOP past its 2 s grace, as an event loop held by load could look) nor by its wall clock stepping 2 minutes on alone (NTP): it serves on, stamps on, and stops cleanly",
  fn: async () => {
    await withTempDir(async (parent) => {
      await using clocked = await startClocked(parent, { wallOnly: true });
      const { server, dataDir, clock } = clocked;
      await withClient(server.address, (client) => client.put("a", str("1"), at()));
      await freeze(server);
      const stoppedAt = performance.now();
      await waitFor(() => performance.now() - stoppedAt > 3_000, {
        what: "3 s, past the grace, to pass with the server stopped",
      });
      const before = await aliveIn(dataDir);
      assert.ok(before !== undefined);
      await Deno.writeTextFile(clock, "+2m");
      server.signal("SIGCONT");
      await stampedTwoMinutesOn(dataDir, before);
      assert.ok((await serverContents(server.address)).has("a"), "it serves on");
      await stopCleanly(server);
    });
  },
});

Deno.test({
  ...needsFaketime,
  name:
    "kv server measures its time away by the uptime where it may read it (the kernel's, which counts a suspend and which libfaketime does not move): SIGSTOPped and resumed with its wall and monotonic clocks 2 minutes on but its uptime seconds on, it serves on, stamps on, and stops cleanly",
  fn: async () => {
    await withTempDir(async (parent) => {
      await using clocked = await startClocked(parent);
      const { server, dataDir } = clocked;
      await withClient(server.address, (client) => client.put("a", str("1"), at()));
      // What stops a server that may not read the uptime (a test above).
      const before = await resumeTwoMinutesOn(clocked);
      await stampedTwoMinutesOn(dataDir, before);
      assert.ok(
        !server.stderrLines.some((line) => line.includes("out of the cluster")),
        server.stderrLines.join("\n"),
      );
      assert.ok((await serverContents(server.address)).has("a"), "it serves on");
      await stopCleanly(server);
    });
  },
});

Deno.test({
  ...needsFaketime,
  name:
    "kv server on a dir recording k = 1 that may not read the uptime, SIGSTOPped and resumed with its clocks 2 minutes on, warns that it serves on with its data (no other replica holds its keys) and does, stamping on",
  fn: async () => {
    await withTempDir(async (parent) => {
      await using clocked = await startClocked(parent, { noUptime: true });
      const { server, dataDir } = clocked;
      await withClient(server.address, async (client) => {
        assert.equal(await client.setK(1), 1);
        await client.put("only", str("1"), at());
      });
      const before = await resumeTwoMinutesOn(clocked);
      await waitFor(
        () =>
          server.stderrLines.some((line) =>
            /^kv server warn: data dir .* was out of the cluster for 2 minutes while this server ran .*: serving on with its data, as the cluster's k recorded in it is 1 \(no other replica holds its keys\)/
              .test(line)
          ),
        { what: "the resumed server to warn that it serves on" },
      );
      await stampedTwoMinutesOn(dataDir, before);
      assert.ok((await serverContents(server.address)).has("only"), "it serves on");
      await stopCleanly(server);
    });
  },
});

/**
 * Freezes `clocked`'s server, moves its faked clocks 2 minutes on (the time a freeze would
 * take) and resumes it; returns the LOCK's alive stamp it left before the freeze, which it
 * cannot have changed while stopped.
 */
async function resumeTwoMinutesOn(clocked: ClockedServer): Promise<number> {
  await freeze(clocked.server);
  const before = await aliveIn(clocked.dataDir);
  assert.ok(before !== undefined);
  await Deno.writeTextFile(clocked.clock, "+2m");
  clocked.server.signal("SIGCONT");
  return before;
}

/** Waits until the server of `dataDir` stamps its LOCK at its clock moved 2 minutes past `before`. */
async function stampedTwoMinutesOn(dataDir: string, before: number): Promise<void> {
  await waitFor(async () => (await aliveIn(dataDir) ?? before) > before + 120_000, {
    what: "the resumed server to stamp its LOCK at its moved clock",
  });
}

/** A server of its own clock, from {@link startClocked}; disposing of it stops the server. */
interface ClockedServer extends AsyncDisposable {
  readonly server: ServerProcess;
  /** Its data dir. */
  readonly dataDir: string;
  /** The file its libfaketime reads its clock's offset from, `+0` at start. */
  readonly clock: string;
}

/**
 * A durable `kv server` with a 2 s grace under `parent`, on a clock the test moves by
 * writing the offset file (see {@link kvClockedBy} for `options`).
 */
async function startClocked(parent: string, options: ClockedOptions = {}): Promise<ClockedServer> {
  const [dataDir, clock] = [`${parent}/data`, `${parent}/clock`];
  await Deno.writeTextFile(clock, "+0");
  const server = await ServerProcess.start({
    kv: kvClockedBy(clock, options),
    dataDir,
    args: ["--tombstone-grace", "2s"],
    startTimeoutMs: DEFAULT_DEADLINE_MS,
  });
  return { server, dataDir, clock, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
}
