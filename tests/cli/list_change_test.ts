// Loads and brokers meeting a change of the cluster's server list or k (kv repair -s, kv repair
// -k) while they run: a load onto servers marked under another list says so, a load across a k
// change loses nothing and ends readable under the new k. Real `kv server` processes, small data.
import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { withTempDir } from "../helpers/fixtures.ts";

/** `count` record lines, `person<i>: <i>`, and their keys. */
function recordLines(count: number, prefix = "person"): { text: string; keys: string[] } {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  return { text: keys.map((key, i) => `${key}: ${i}\n`).join(""), keys };
}

/** GETs `keys` through one `kv broker --json` over `serverFile`; returns each answer. */
async function getAll(
  serverFile: string,
  keys: readonly string[],
): Promise<{ code: number; stderr: string; answers: Record<string, unknown>[] }> {
  const run = await runKv(withBrokerTimeout(["broker", "-s", serverFile, "--json"]), {
    stdin: keys.map((key) => `GET ${key}\n`).join(""),
  });
  const answers = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  return { code: run.code, stderr: run.stderr, answers };
}

Deno.test("kv broker -i onto servers kv repair -s re-marked under the cluster's new list stores every record and ends with one WARNING line counting them and saying to run kv repair -s with the cluster's list, as kv put warns", async () => {
  await using old = await KvCluster.start(2);
  await using added = await KvCluster.start(1);
  const put = await runKv(withBrokerTimeout(["put", "-s", old.serverFile, "-k", "1", "a: 1"]));
  assert.equal(put.code, 0, put.stderr);
  await KvCluster.withJoinedServerFile([old, added], async (both) => {
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    await withTempDir(async (dir) => {
      const { text, keys } = recordLines(12);
      await Deno.writeTextFile(`${dir}/data.txt`, text);
      // A broker still on the old list loads a file: every server is marked under the new one.
      const load = await runKv(
        withBrokerTimeout([
          "broker",
          "-s",
          old.serverFile,
          "-i",
          `${dir}/data.txt`,
          "--index-only",
        ]),
      );
      assert.equal(load.code, 0, load.stderr);
      const warnings = load.stderr.split("\n").filter((line) => line.includes("WARNING"));
      assert.equal(warnings.length, 1, load.stderr);
      const warned = new RegExp(
        `^kv broker: WARNING: 12 records of ${dir}/data.txt were stored on (.+), which were ` +
          `repaired under another server list or k than this broker's: clients on that list ` +
          `may not see them until kv repair -s FILE runs with the cluster's server list ` +
          `\\(give this broker that file\\)$`,
      ).exec(warnings[0]);
      assert.ok(warned, warnings[0]);
      // The records are on the old servers (k=1), each of them marked under the new list.
      const oldIds = old.servers.map((server) => server.id);
      for (const id of warned[1].split(", ")) assert.ok(oldIds.includes(id), warnings[0]);
      assert.match(
        load.stderr,
        /indexed 12 records \(0 failed\).*; 12 stored with a warning \(above\)/,
      );
      // What it says to do: a repair over the cluster's list places them where its clients read.
      const again = await runKv(withBrokerTimeout(["repair", "-s", both]));
      assert.equal(again.code, 0, again.stdout + again.stderr);
      const read = await getAll(both, keys);
      assert.equal(read.code, 0, read.stderr);
      assert.deepEqual(read.answers.map((answer) => answer.value), keys.map((_, i) => i));
    });
  });
});
