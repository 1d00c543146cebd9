import assert from "node:assert/strict";
import { connect, type KvServerStatus } from "../../mod.ts";
import { brokerOf } from "../../lib/client/kv.ts";
import { PutManyItems } from "../../lib/protocol/put_many.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { READ_ONLY_NOTE } from "../../lib/broker/commands.ts";
import { ServerError } from "../../lib/protocol/client.ts";
import { ErrorCode } from "../../lib/protocol/mod.ts";
import { str, type Value } from "../../lib/record/value.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { at } from "../helpers/versions.ts";
import { runKv } from "../helpers/run_kv.ts";
import { BROKER_TIMEOUT_MS, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { tmpfsTest } from "../helpers/tmpfs.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * Puts `k0`, `k1`, … with `value` until the server refuses one or `most` are stored; pushes
 * each acknowledged key onto `acknowledged` and resolves to the refusal, if any.
 */
async function putUntilRefused(
  client: Awaited<ReturnType<typeof connectClient>>,
  value: Value,
  most: number,
  acknowledged: string[],
): Promise<ServerError | undefined> {
  for (let index = 0; index < most; index++) {
    try {
      await client.put(`k${index}`, value, at());
      acknowledged.push(`k${index}`);
    } catch (error) {
      if (!(error instanceof ServerError)) throw error;
      return error;
    }
  }
  return undefined;
}

/**
 * Starts a server again on `dataDir`, runs `check` on a client of it, and stops it (exit 0);
 * resolves what it logged.
 */
async function afterRestart(
  dataDir: string,
  check: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<void>,
): Promise<string> {
  await using again = await startServerProcess(["--data-dir", dataDir]);
  const client = await connectClient(again.address);
  try {
    await check(client);
  } finally {
    await client.close();
  }
  assert.equal((await stopWithin(again)).code, 0);
  return again.stderrLines.join("\n");
}

/**
 * Writes a 1 MiB file on `mount` and returns its path: removing it later frees room for the
 * appends a full disk refused, and more.
 */
async function ballastOn(mount: string): Promise<string> {
  const ballast = `${mount}/ballast`;
  await Deno.writeFile(ballast, new Uint8Array(1024 * 1024));
  return ballast;
}

tmpfsTest({
  name:
    "disk full: writes are refused with READ_ONLY, reads go on, acknowledged records survive, SIGTERM exits cleanly",
  short: "disk full",
  megabytes: 4,
}, async (mount) => {
  const dataDir = `${mount}/data`;
  const acknowledged: string[] = [];
  {
    await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
    const client = await connectClient(server.address);
    const value = str("v".repeat(16 * 1024));
    const refusal = await putUntilRefused(client, value, 1000, acknowledged);
    assert.ok(refusal !== undefined, "the 4 MiB disk filled up");
    assert.equal(refusal.code, ErrorCode.READ_ONLY, refusal.message);
    // The server is up: the refusal says it is read-only and what to do, not to wait for it.
    assert.match(
      refusal.message,
      /cannot write its data dir \(No space left on device\): it refuses writes and serves reads until it can; free space on its disk/,
    );
    // The node state cannot be written either (the part of the failed write cut off freed
    // a little room: fill it): one line saying so, no stack in the log.
    fillToTheLastByte(`${mount}/ballast`);
    // READ_ONLY, as a write the log refused: the server is up, its disk needs room.
    await assert.rejects(
      client.markRepaired(new Uint8Array(16).fill(7), client.state.repairedUnder),
      /^ServerError: READ_ONLY: markRepaired failed on the server: cannot write its data dir \(No space left on device\); free space on its disk$/,
    );
    // Reads, PING and STATS go on; writes stay refused.
    assert.deepEqual((await client.get(acknowledged[0])).value, value);
    assert.equal(typeof await client.ping(), "number");
    assert.ok((await client.stats()).recordCount >= acknowledged.length);
    await assert.rejects(client.delete(acknowledged[0], at()), /READ_ONLY/);
    await client.close();
    const exit = await stopWithin(server);
    assert.equal(exit.code, 0);
    assert.doesNotMatch(server.stderrLines.join("\n"), /internal error|^\s+at /m);
  }
  // Every acknowledged record is there after a restart on the full disk.
  await afterRestart(dataDir, async (client) => {
    for (const key of acknowledged) {
      assert.notEqual((await client.get(key)).value, undefined, key);
    }
  });
});

tmpfsTest({
  name:
    "disk full, then freed: writes resume by themselves, each transition logged once, and a restart holds every acknowledged write",
  short: "disk full, then freed",
  megabytes: 4,
}, async (mount) => {
  const dataDir = `${mount}/data`;
  const ballast = await ballastOn(mount);
  const acknowledged = new Map<string, number>();
  const refusedAfterFailure: string[] = [];
  {
    await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
    const client = await connectClient(server.address);
    const value = (n: number) => str(`${n}:`.padEnd(16 * 1024, "v"));
    let index = 0;
    const put = async (): Promise<boolean> => {
      const key = `k${index}`;
      try {
        await client.put(key, value(index), at());
        acknowledged.set(key, index);
        return true;
      } catch (error) {
        if (!(error instanceof ServerError) || error.code !== ErrorCode.READ_ONLY) throw error;
        return false;
      } finally {
        index++;
      }
    };
    while (await put()) assert.ok(index < 1000, "the disk never filled");
    // Refused from now on, and never stored: the failure is known before they arrive.
    for (let more = 0; more < 3; more++) {
      refusedAfterFailure.push(`k${index}`);
      assert.equal(await put(), false);
    }
    assert.deepEqual((await client.get("k0")).value, value(0));
    await waitFor(
      () => server.stderrLines.some((line) => /cannot write the data dir/.test(line)),
      { what: "the failure in the server's log" },
    );

    await Deno.remove(ballast);
    await waitFor(put, { what: "a write accepted after the disk was freed" });
    for (let more = 0; more < 5; more++) assert.ok(await put(), "writes go on");
    await waitFor(
      () => server.stderrLines.some((line) => /can be written again; accepting writes/.test(line)),
      { what: "the recovery in the server's log" },
    );
    await client.close();
    assert.equal((await stopWithin(server)).code, 0);
    const log = server.stderrLines.join("\n");
    assert.equal(log.match(/cannot write the data dir/g)?.length, 1, log);
    assert.equal(log.match(/can be written again/g)?.length, 1, log);
    assert.doesNotMatch(log, /internal error|^\s+at /m);
  }
  await afterRestart(dataDir, async (client) => {
    for (const [key, n] of acknowledged) {
      assert.deepEqual((await client.get(key)).value, str(`${n}:`.padEnd(16 * 1024, "v")), key);
    }
    for (const key of refusedAfterFailure) {
      assert.equal((await client.get(key)).value, undefined, key);
    }
  });
});

tmpfsTest({
  name:
    "disk full: the server's STATS says it refuses writes, so servers(), kv servers (text and --json), and kv http's /v1/servers and /metrics (the STATS its broker asks each second) show it read-only (/healthz stays 200), and not once the disk is freed",
  short: "disk full, read-only shown",
  megabytes: 4,
}, async (mount) => {
  const ballast = await ballastOn(mount);
  await using server = await startServerProcess([
    "--data-dir",
    `${mount}/data`,
    "--fsync",
    "always",
  ]);
  // The server file lives off the full disk.
  await withTempDir(async (dir) => {
    const serverFile = `${dir}/servers.txt`;
    await Deno.writeTextFile(serverFile, `${server.address.hostname} ${server.address.port}\n`);
    await using kv = await connect({ servers: serverFile, timeoutMs: BROKER_TIMEOUT_MS });
    const readOnly = async () => (await kv.servers()).map((status) => status.readOnly);
    assert.deepEqual(await readOnly(), [false], "a server taking writes");
    const client = await connectClient(server.address);
    const refusal = await putUntilRefused(client, str("v".repeat(16 * 1024)), 1000, []);
    await client.close();
    assert.equal(refusal?.code, ErrorCode.READ_ONLY, "the 4 MiB disk filled up");

    const [status] = await kv.servers();
    assert.equal(status.up, true, "it serves reads: up");
    assert.equal(status.readOnly, true);
    const listed = await runKv(withBrokerTimeout(["servers", "-s", serverFile, "--json"]));
    assert.equal(listed.code, 0, listed.stderr);
    const [report] = JSON.parse(listed.stdout).servers;
    assert.deepEqual([report.up, report.readOnly], [true, true], listed.stdout);
    const text = await runKv(withBrokerTimeout(["servers", "-s", serverFile]));
    assert.equal(text.code, 0, text.stderr);
    assert.ok(text.stdout.includes(READ_ONLY_NOTE), text.stdout);
    await using http = await HttpProcess.start(["-s", serverFile]);
    // Nothing written through kv http, nor /v1/servers asked: its own STATS tells the gauge.
    await waitFor(async () => readOnlyGauge(await scrape(http)) === 1, {
      what: "/metrics to count the server read-only",
    });
    const viaHttp = await (await fetch(`${http.url}v1/servers`)).json();
    assert.deepEqual(viaHttp.servers.map((server: KvServerStatus) => server.readOnly), [true]);
    // Decided (README, Decisions): every read is still exact, so the probe stays healthy.
    const health = await fetch(`${http.url}healthz`);
    assert.equal(health.status, 200, await health.text());

    // Freed, the server resumes writes by itself, and says so in its next STATS.
    await Deno.remove(ballast);
    await waitFor(async () => readOnlyGauge(await scrape(http)) === 0, {
      what: "/metrics to count the server taking writes again",
    });
    await waitFor(async () => (await readOnly())[0] === false, {
      what: "servers() to show the server taking writes again",
    });
    const again = await runKv(withBrokerTimeout(["servers", "-s", serverFile]));
    assert.ok(!again.stdout.includes(READ_ONLY_NOTE), again.stdout);
    const freedViaHttp = await (await fetch(`${http.url}v1/servers`)).json();
    assert.deepEqual(freedViaHttp.servers.map((server: KvServerStatus) => server.readOnly), [
      false,
    ]);
  });
  assert.equal((await stopWithin(server)).code, 0);
});

tmpfsTest({
  name:
    "disk full: a client learns from its own writes' answers that the server refuses writes (PUT, DELETE, PUT_MANY answered READ_ONLY), and from a write stored that it takes them again, asking nothing; the library's pool as well",
  short: "disk full, read-only learned from writes",
  megabytes: 4,
}, async (mount) => {
  const ballast = await ballastOn(mount);
  await using server = await startServerProcess([
    "--data-dir",
    `${mount}/data`,
    "--fsync",
    "always",
  ]);
  const client = await connectClient(server.address);
  // Recorded while it can be: the library's broker then has no k to record on a full disk.
  await client.setK(1);
  assert.equal(client.refusesWrites, undefined, "nothing told yet");
  await client.put("first", str("1"), at());
  assert.equal(client.refusesWrites, false, "a PUT stored");
  const refusal = await putUntilRefused(client, str("v".repeat(16 * 1024)), 1000, []);
  assert.equal(refusal?.code, ErrorCode.READ_ONLY, "the 4 MiB disk filled up");
  assert.equal(client.refusesWrites, true, "a PUT answered READ_ONLY");
  await client.get("first");
  await client.ping();
  assert.equal(client.refusesWrites, true, "reads tell nothing");
  // A DELETE and a PUT_MANY tell it too, each on a connection of its own that knew nothing.
  const items = new PutManyItems();
  items.add("batch", encodeValue(str("1")), at().version);
  const writes = [
    (fresh: typeof client) => fresh.delete("first", at()),
    (fresh: typeof client) => fresh.putMany(items),
  ];
  for (const write of writes) {
    const fresh = await connectClient(server.address);
    try {
      await assert.rejects(write(fresh), /READ_ONLY/);
      assert.equal(fresh.refusesWrites, true);
    } finally {
      await fresh.close();
    }
  }

  // The server file lives off the full disk.
  await withTempDir(async (dir) => {
    const serverFile = `${dir}/servers.txt`;
    await Deno.writeTextFile(serverFile, `${server.address.hostname} ${server.address.port}\n`);
    // A library client asks no STATS on its own (only kv http watches): its write tells it.
    await using kv = await connect({ servers: serverFile, timeoutMs: BROKER_TIMEOUT_MS });
    const pool = brokerOf(kv).pool;
    assert.equal(pool.refusingWritesCount, 0, "nothing heard yet");
    await assert.rejects(kv.put("more", "x"));
    assert.equal(pool.refusesWrites(0), true, "its write answered READ_ONLY");
    assert.equal(pool.refusingWritesCount, 1);

    await Deno.remove(ballast);
    await waitFor(async () => {
      try {
        await client.put("again", str("1"), at());
        return true;
      } catch (error) {
        if (!(error instanceof ServerError) || error.code !== ErrorCode.READ_ONLY) throw error;
        return false;
      }
    }, { what: "a write accepted after the disk was freed" });
    assert.equal(client.refusesWrites, false, "a PUT stored again");
    assert.equal(pool.refusesWrites(0), true, "the pool's connection heard nothing since");
    await kv.put("more", "x");
    assert.equal(pool.refusesWrites(0), false, "its write stored");
  });
  await client.close();
  assert.equal((await stopWithin(server)).code, 0);
});

tmpfsTest({
  name:
    "disk full to the last byte: a trusted server restarts on it, trusted, and serves every acknowledged record",
  short: "disk full to the last byte",
  megabytes: 4,
}, async (mount) => {
  const dataDir = `${mount}/data`;
  {
    await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
    const client = await connectClient(server.address);
    await client.put("kept", str("stored"), at());
    await client.markRepaired(new Uint8Array(16).fill(7), client.state.repairedUnder);
    await client.close();
    assert.equal((await stopWithin(server)).code, 0);
  }
  fillToTheLastByte(`${mount}/ballast`);
  // A start that found nothing to recover writes nothing: it starts on a full disk.
  await afterRestart(dataDir, async (client) => {
    assert.equal(client.state.unrepaired, false);
    assert.deepEqual((await client.get("kept")).value, str("stored"));
  });
});

tmpfsTest({
  name:
    "disk full mid-write, then SIGTERM: the log keeps no torn tail, and the trusted server restarts on the still-full disk, trusted, without a warning",
  short: "disk full mid-write, then SIGTERM",
  megabytes: 2,
}, async (mount) => {
  const dataDir = `${mount}/data`;
  const acknowledged: string[] = [];
  {
    await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
    const client = await connectClient(server.address);
    await client.markRepaired(new Uint8Array(16).fill(7), client.state.repairedUnder);
    // 100 KB values: the write that meets the full disk is written in part.
    const value = str("v".repeat(100_000));
    const refusal = await putUntilRefused(client, value, 100, acknowledged);
    assert.equal(refusal?.code ?? ErrorCode.READ_ONLY, ErrorCode.READ_ONLY, refusal?.message);
    assert.ok(acknowledged.length > 0 && acknowledged.length < 100, "the 2 MiB disk filled up");
    await client.close();
    assert.equal((await stopWithin(server)).code, 0);
  }
  fillToTheLastByte(`${mount}/ballast`);
  const log = await afterRestart(dataDir, async (client) => {
    assert.equal(client.state.unrepaired, false);
    for (const key of acknowledged) {
      assert.notEqual((await client.get(key)).value, undefined, key);
    }
  });
  assert.doesNotMatch(log, /dropped|torn|warn/);
});

tmpfsTest({
  name:
    "disk full: kv put says the server is read-only and what to do, not to wait for servers to come back",
  short: "disk full: kv put's advice",
  megabytes: 1,
}, async (mount) => {
  await using server = await startServerProcess(["--data-dir", `${mount}/data`]);
  const client = await connectClient(server.address);
  await client.setK(1);
  await client.close();
  fillToTheLastByte(`${mount}/ballast`);
  const serverFile = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(serverFile, `${server.address.hostname} ${server.address.port}\n`);
    const run = await runKv(["put", `a : "${"v".repeat(8192)}"`, "-s", serverFile]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stderr,
      /READ_ONLY: the change was not saved: the server cannot write its data dir \(No space left on device\): it refuses writes and serves reads until it can; free space on its disk and it resumes by itself\); repeat it once the read-only servers can write their data dirs again\n$/,
    );
  } finally {
    await Deno.remove(serverFile);
  }
  assert.equal((await stopWithin(server)).code, 0);
});

tmpfsTest({
  name:
    "disk full: the first kv put of a new cluster says k=1 could not be recorded on its server and what to do, not that it is recorded",
  short: "disk full: kv put's k notice",
  megabytes: 1,
}, async (mount) => {
  await using server = await startServerProcess(["--data-dir", `${mount}/data`]);
  fillToTheLastByte(`${mount}/ballast`);
  const serverFile = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(serverFile, `${server.address.hostname} ${server.address.port}\n`);
    const run = await runKv(["put", "a : 1", "-s", serverFile]);
    const id = `${server.address.hostname}:${server.address.port}`;
    assert.equal(
      run.stderr,
      "kv put: no server records a k, so k=1 (the default) is now the cluster's, but " +
        `${id} could not record it (its log says why: a full disk, say); once that is ` +
        `fixed, record it with kv repair -s ${serverFile} -k 1\n`,
    );
  } finally {
    await Deno.remove(serverFile);
  }
  const client = await connectClient(server.address);
  assert.equal(client.state.k, 0, "the server records no k");
  await client.close();
  assert.match(
    server.stderrLines.join("\n"),
    /setK failed on the server: cannot write its data dir \(No space left on device\)/,
  );
  assert.equal((await stopWithin(server)).code, 0);
});

tmpfsTest({
  name: "disk full before a new data dir's first byte: kv server says so in one line, exit 2",
  short: "disk full before a new data dir",
  megabytes: 1,
}, async (mount) => {
  fillToTheLastByte(`${mount}/ballast`);
  const run = await runKv(["server", "-p", "0", "--data-dir", `${mount}/data`]);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(
    run.stderr,
    `kv server: cannot open --data-dir ${mount}/data: No space left on device; free space on ` +
      "its disk and start again (a start writes to the data dir only to repair it: a torn " +
      "log tail, a new or emptied dir, an older format)\n",
  );
});

tmpfsTest({
  name: "a data dir on a read-only file system: kv server says what to do in one line, exit 2",
  short: "a data dir on a read-only file system",
  megabytes: 1,
}, async (mount) => {
  const remounted = await new Deno.Command("mount", { args: ["-o", "remount,ro", mount] })
    .output();
  assert.ok(remounted.success, new TextDecoder().decode(remounted.stderr));
  const run = await runKv(["server", "-p", "0", "--data-dir", `${mount}/data`]);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(
    run.stderr,
    `kv server: cannot open --data-dir ${mount}/data: Read-only file system; remount its ` +
      "file system read-write, or give --data-dir a directory on a writable one\n",
  );
});

/** kv http's `/metrics`. */
async function scrape(http: HttpProcess): Promise<string> {
  return await (await fetch(`${http.url}metrics`)).text();
}

/** `/metrics`' count of servers refusing writes. */
function readOnlyGauge(metrics: string): number {
  const line = metrics.split("\n").find((line) =>
    line.startsWith(`kv_servers{state="read_only"} `)
  );
  assert.ok(line !== undefined, metrics);
  return Number(line.split(" ")[1]);
}

/** Writes `path` until the disk under it has no byte left (bounded by the disk's size). */
function fillToTheLastByte(path: string): void {
  using file = Deno.openSync(path, { write: true, create: true });
  for (const chunk of [64 * 1024, 4096, 1]) {
    const bytes = new Uint8Array(chunk);
    for (let written = 0; written < 64 * 1024 * 1024; written += chunk) {
      try {
        file.writeSync(bytes);
      } catch (error) {
        if (/No space left/.test(String(error))) break;
        throw error;
      }
    }
  }
}

/** Sets (`+i`) or clears (`-i`) the immutable flag on `paths`; false where chattr cannot. */
function chattr(flag: "+i" | "-i", paths: string[]): boolean {
  try {
    return new Deno.Command("chattr", { args: [flag, ...paths], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const CAN_CHATTR = (() => {
  const path = Deno.makeTempFileSync({ prefix: "kv_chattr_" });
  const can = chattr("+i", [path]) && chattr("-i", [path]);
  Deno.removeSync(path);
  return can;
})();

Deno.test({
  name: CAN_CHATTR
    ? "an immutable data dir: writes are refused with READ_ONLY, reads go on, SIGTERM exits cleanly"
    : "an immutable data dir (ignored: chattr +i is not allowed here)",
  ignore: !CAN_CHATTR,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "kv_immutable_" });
    const frozen = () => [
      dataDir,
      ...[...Deno.readDirSync(dataDir)].map((e) => `${dataDir}/${e.name}`),
    ];
    let paths: string[] = [];
    try {
      await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
      const client = await connectClient(server.address);
      await client.put("before", str("stored"), at());
      paths = frozen();
      assert.ok(chattr("+i", paths));
      await assert.rejects(client.put("after", str("refused"), at()), (error: Error) => {
        assert.ok(
          error instanceof ServerError && error.code === ErrorCode.READ_ONLY,
          String(error),
        );
        return true;
      });
      assert.deepEqual((await client.get("before")).value, str("stored"));
      await client.close();
      const exit = await stopWithin(server);
      assert.equal(exit.code, 0);
      assert.doesNotMatch(server.stderrLines.join("\n"), /internal error|^\s+at /m);
    } finally {
      chattr("-i", paths);
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

tmpfsTest({
  name:
    "disk full: kv repair -k 3 that one server cannot record stops before any data, puts k 2 back on the others, and says which server and what to rerun; clients go on",
  short: "disk full: kv repair -k's SET_K",
  megabytes: 1,
}, async (mount) => {
  await using full = await startServerProcess(["--data-dir", `${mount}/data`]);
  await using second = await startServerProcess();
  await using third = await startServerProcess();
  const servers = [full, second, third];
  const ids = servers.map((server) => `${server.address.hostname}:${server.address.port}`);
  const serverFile = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(serverFile, ids.map((id) => id.replace(":", " ") + "\n").join(""));
    const settled = await runKv(["repair", "-s", serverFile, "-k", "2"]);
    assert.equal(settled.code, 0, settled.stderr);
    assert.equal((await runKv(["put", "a : 1", "-s", serverFile])).code, 0);
    fillToTheLastByte(`${mount}/ballast`);
    const changed = await runKv(["repair", "-s", serverFile, "-k", "3"]);
    assert.equal(changed.code, 1);
    assert.equal(changed.stdout, "", "no data was read or copied: no report");
    assert.match(
      changed.stderr,
      new RegExp(
        `^kv repair: ${ids[0]}: could not record k 3: .*No space left on device.*; nothing ` +
          "was repaired; the servers that had recorded it were put back to k 2, so clients " +
          "go on under it. Fix that server \\(a full disk: free space\\), then run kv repair " +
          `-s ${serverFile} -k 3\n$`,
      ),
    );
    for (const server of servers) {
      const client = await connectClient(server.address);
      assert.equal(client.state.k, 2, `${server.address.port} records k 2`);
      await client.close();
    }
    const read = await runKv(["get", "a", "-s", serverFile]);
    assert.equal(read.code, 0, read.stderr);
  } finally {
    await Deno.remove(serverFile);
  }
});
