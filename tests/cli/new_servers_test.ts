// New servers checked on their own (kv servers) before they join a cluster that holds data
// are not taken for a new cluster of their own: once listed with the old servers, their
// NOT FOUND does not count until a repair, and reads still find every record. Servers a
// writing client used on their own are a cluster of their own, and join another the way
// every server list change is made: kv repair over the new list first. Real `kv server`
// processes.
import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";

const RECORDS = 16;

Deno.test("new servers a read-only command checked on their own are not trusted once they join a cluster holding data: every record is still found", async () => {
  await using old = await KvCluster.start(1);
  await using added = await KvCluster.start(1);
  const keys = Array.from({ length: RECORDS }, (_, i) => `person${i}`);
  const load = await runKv(
    withBrokerTimeout(["broker", "-s", old.serverFile, "-k", "1"]),
    { stdin: keys.map((key, i) => `PUT ${key}: ${i}\n`).join("") },
  );
  assert.equal(load.code, 0, load.stderr);

  const check = await runKv(withBrokerTimeout(["servers", "-s", added.serverFile]));
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /not yet repaired/, "a new server is unrepaired until a repair");

  const both = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(
      both,
      await Deno.readTextFile(old.serverFile) + await Deno.readTextFile(added.serverFile),
    );
    // With k = 1, about half the keys are placed on the added server alone: the read walks
    // on past it (unrepaired) to the old server.
    const read = await runKv(withBrokerTimeout(["broker", "-s", both, "--json"]), {
      stdin: keys.map((key) => `GET ${key}\n`).join(""),
    });
    // Exit 3: the answers of keys placed on the unrepaired added server carry a warning.
    assert.equal(read.code, 3, read.stderr);
    const answers = read.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(
      answers.map((answer) => answer.found ? answer.value : answer),
      keys.map((_, i) => i),
      "every record found, none a NOT FOUND from the added server",
    );
  } finally {
    await Deno.remove(both);
  }
});

Deno.test("new servers a writing client used on their own are a cluster of their own (k recorded, marked repaired); joined through kv repair over both lists, every record is found without a warning", async () => {
  await using old = await KvCluster.start(1);
  await using added = await KvCluster.start(1);
  const keys = Array.from({ length: RECORDS }, (_, i) => `person${i}`);
  const load = await runKv(
    withBrokerTimeout(["broker", "-s", old.serverFile, "-k", "1"]),
    { stdin: keys.map((key, i) => `PUT ${key}: ${i}\n`).join("") },
  );
  assert.equal(load.code, 0, load.stderr);

  // A writing client over the added server alone, with the cluster's k: it takes it for a new
  // cluster's, records k and marks it repaired — what kv servers then shows.
  const used = await runKv(withBrokerTimeout(["broker", "-s", added.serverFile, "-k", "1"]), {
    stdin: "",
  });
  assert.equal(used.code, 0, used.stderr);
  const check = await runKv(withBrokerTimeout(["servers", "-s", added.serverFile]));
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, / k=1\n$/);
  assert.doesNotMatch(check.stdout, /not yet repaired/);

  const both = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    await Deno.writeTextFile(
      both,
      await Deno.readTextFile(old.serverFile) + await Deno.readTextFile(added.serverFile),
    );
    const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    const read = await runKv(withBrokerTimeout(["broker", "-s", both, "--json"]), {
      stdin: keys.map((key) => `GET ${key}\n`).join(""),
    });
    assert.equal(read.code, 0, read.stderr);
    const answers = read.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(answers.map((answer) => answer.value), keys.map((_, i) => i));
  } finally {
    await Deno.remove(both);
  }
});
