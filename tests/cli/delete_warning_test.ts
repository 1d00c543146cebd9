// A DELETE whose servers cannot vouch that there was no record says so, as a GET's doubtful
// NOT FOUND does: through the one-shot `kv delete`, `kv http` and the library, with real
// `kv server` processes killed with SIGKILL and one's data dir wiped.
import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { runKv } from "../helpers/run_kv.ts";

/** The end of the warning a delete that cannot vouch for the record's absence carries. */
const MAY_HAVE_EXISTED =
  /the record may have existed; it is deleted all the same, unless they hold a write of it with a later version than this deletion \(its writer's clock ahead of this broker's\), which wins over it once they answer$/;

Deno.test("a DELETE that cannot vouch the record was absent (both replicas killed, one wiped) warns: kv delete exits 3, kv http answers 503, the library's result carries it; the record is gone after repair", async () => {
  await using cluster = await KvCluster.start(3, { durable: true });
  const s = ["-s", cluster.serverFile];
  // A key whose two replicas are the first two servers, the third standing by.
  const key = cluster.keyOnFirstTwo();
  const put = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", `${key}: 1`]));
  assert.equal(put.code, 0, put.stderr);
  const [wiped, down] = cluster.servers;
  await wiped.kill();
  await down.kill();
  await Deno.remove(wiped.dataDir!, { recursive: true });
  await wiped.restart();
  const get = await runKv(withBrokerTimeout(["get", ...s, key]));
  assert.equal(get.code, 3, "the wiped server's NOT FOUND is unsure");

  const deleted = await runKv(withBrokerTimeout(["delete", ...s, key]));
  assert.equal(deleted.code, 3, deleted.stderr);
  const [answer, warning, ...rest] = deleted.stderr.trimEnd().split("\n");
  assert.deepEqual([deleted.stdout, answer, rest], ["", `NOT FOUND: ${key}`, []]);
  assert.match(
    warning,
    new RegExp(`^WARNING: no replica of '${key}' answered that can be trusted`),
  );
  assert.match(warning, MAY_HAVE_EXISTED);
  const json = JSON.parse(
    (await runKv(withBrokerTimeout(["delete", ...s, "--json", key]))).stdout,
  );
  assert.deepEqual([json.deleted, typeof json.version], [false, "string"]);
  assert.match(json.warning, MAY_HAVE_EXISTED);

  {
    await using http = await HttpProcess.start(s);
    const response = await fetch(`${http.url}v1/records/${key}`, { method: "DELETE" });
    const body = await response.json();
    assert.equal(response.status, 503, JSON.stringify(body));
    assert.deepEqual([body.key, body.deleted, typeof body.version], [key, false, "string"]);
    assert.match(body.warning, MAY_HAVE_EXISTED);
    assert.equal(response.headers.get("Warning"), `199 kv ${JSON.stringify(body.warning)}`);
  }

  const kv = await cluster.connect();
  try {
    const result = await kv.delete(key);
    assert.equal(result.deleted, false);
    assert.match(result.warning ?? "no warning", MAY_HAVE_EXISTED);
  } finally {
    kv.close();
  }

  // The deletes took: once the other replica is back and repaired, the record is gone.
  await down.restart();
  const repair = await runKv(withBrokerTimeout(["repair", ...s]));
  assert.equal(repair.code, 0, repair.stderr);
  const after = await runKv(withBrokerTimeout(["get", ...s, key]));
  assert.deepEqual([after.code, after.stderr], [1, `NOT FOUND: ${key}\n`]);
});

Deno.test("kv http DELETE of a key whose home servers are down (503): the warning says what happened, the deletion stored beyond them, what reads may find meanwhile and who moves it home, naming the servers down once", async () => {
  await using cluster = await KvCluster.start(5);
  const s = ["-s", cluster.serverFile];
  const key = cluster.keyOnFirstTwo();
  const put = await runKv(withBrokerTimeout(["put", ...s, "-k", "2", `${key}: 1`]));
  assert.equal(put.code, 0, put.stderr);
  await using http = await HttpProcess.start(s);
  const [one, other] = cluster.servers;
  await one.kill();
  await other.kill();
  const response = await fetch(`${http.url}v1/records/${key}`, { method: "DELETE" });
  const body = await response.json();
  assert.equal(response.status, 503, JSON.stringify(body));
  assert.equal(body.deleted, false);
  const down = `(${one.id}|${other.id}) is down \\([^)]*\\)`;
  assert.match(
    body.warning,
    new RegExp(
      `^no replica of '${key}' answered \\(${down}; ${down}\\); the record may have existed; ` +
        "it is deleted all the same, unless they hold a write of it with a later version " +
        "than this deletion \\(its writer's clock ahead of this broker's\\), which wins over " +
        "it once they answer; the deletion was stored on \\S+, beyond the first 3 " +
        "servers of the key's list, where reads look: once those answer again, reads may " +
        "still find the record deleted until the deletion is moved home; this broker moves " +
        "it there once they can store it \\(kv repair does, if it exits first\\)$",
    ),
  );
});
