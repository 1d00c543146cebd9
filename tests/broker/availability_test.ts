/**
 * Availability through servers restarted, re-marked and full, with real `kv` processes: a
 * rolling restart done by the book acknowledges every write without a warning;
 * `kv repair -k`'s closing of every connection is not logged as servers going down, nor
 * answered with advice to undo it; a server at its `--max-connections` is shown running
 * at its limit, not down, and says so in its own log.
 */
import assert from "node:assert/strict";
import { BrokerProcess, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("a rolling restart by the book (one server at a time, the next once the running client uses it again) acknowledges every write without a warning", async () => {
  await using cluster = await KvCluster.start(4, { durable: true });
  const kv = await cluster.connect({ replicas: 2 });
  const warnings: string[] = [];
  const failures: string[] = [];
  let writes = 0;
  let stop = false;
  // Each restart starts an epoch; a writer notes the epoch of the last write it finished
  // starting in. Writers write one after another, so a write finished from the current
  // epoch means none of theirs from before it is still under way.
  let epoch = 0;
  const finishedFrom = [0, 0, 0, 0];
  const writers = finishedFrom.map(async (_, writer) => {
    for (let i = 0; !stop; i++) {
      const started = epoch;
      try {
        const answer = await kv.put(`rolling${writer}-${i % 20}`, i);
        writes++;
        if (answer.warning !== undefined) warnings.push(answer.warning);
      } catch (error) {
        failures.push(String(error));
      }
      finishedFrom[writer] = started;
    }
  });
  try {
    for (const server of cluster.servers) {
      await server.stop("SIGTERM");
      await server.restart();
      // By the book: the next server only once the running client uses this one again —
      // it reports every server up, and no write begun before that is still under way (on
      // a loaded machine one write retrying past a server's stop could otherwise still be
      // looking for replicas when the next server stops, and rightly warn).
      await waitFor(async () => (await kv.servers()).every((report) => report.up), {
        what: `the client to use ${server.id} again`,
      });
      epoch++;
      await waitFor(() => finishedFrom.every((finished) => finished >= epoch), {
        what: `every writer to finish a write begun after ${server.id} was back`,
      });
    }
  } finally {
    stop = true;
    await Promise.all(writers);
    await kv.close();
  }
  assert(writes > 0, "the writers wrote");
  assert.deepEqual({ warnings, failures }, { warnings: [], failures: [] });
});

Deno.test("kv repair -k closing every connection to re-mark the servers is not logged as servers going down, and a broker given -k is told to start without -k, never to run kv repair -k", async () => {
  await using cluster = await KvCluster.start(3);
  const put = await runKv(withBrokerTimeout(["put", "a: 1", "-s", cluster.serverFile, "-k", "2"]));
  assert.equal(put.code, 0, put.stderr);
  await using given = BrokerProcess.start(["-s", cluster.serverFile, "-k", "2", "--json"]);
  await using follows = BrokerProcess.start(["-s", cluster.serverFile, "--json"]);
  for (const broker of [given, follows]) assert.equal((await broker.ask("GET a")).found, true);
  const repair = await runKv(withBrokerTimeout(["repair", "-s", cluster.serverFile, "-k", "3"]));
  assert.equal(repair.code, 0, repair.stderr);
  await given.stderrMatching(/start it again without -k/);
  await follows.stderrMatching(/now writes and reads with k=3/);
  // Each reads once more, on connections opened after the repair's marks closed its own.
  for (const broker of [given, follows]) assert.equal((await broker.ask("GET a")).found, true);
  const [ofGiven, ofFollows] = [await given.finish(), await follows.finish()];
  for (const stderr of [ofGiven.stderr, ofFollows.stderr]) {
    assert.doesNotMatch(stderr, /is down|is back up/);
  }
  assert.doesNotMatch(ofGiven.stderr, /run kv repair -k/);
});

Deno.test("a server at its --max-connections is shown BUSY, not DOWN; a one-shot command says it is running at its limit, not to start it; the server logs that it turned clients away", async () => {
  await using cluster = await KvCluster.start(1, {
    server: () => ({ args: ["--max-connections", "1"] }),
  });
  const [server] = cluster.servers;
  const put = await runKv(withBrokerTimeout(["put", "a: 1", "-s", cluster.serverFile]));
  assert.equal(put.code, 0, put.stderr);
  // A broker holds the one connection.
  await using holder = BrokerProcess.start(["-s", cluster.serverFile, "--json"]);
  assert.equal((await holder.ask("GET a")).found, true);
  const get = await runKv(withBrokerTimeout(["get", "a", "-s", cluster.serverFile]));
  assert.equal(get.code, 3, get.stderr);
  assert.match(get.stderr, /running, but turned this client away \(BUSY: too many connections/);
  assert.match(get.stderr, /retry once there is room\n$/);
  assert.doesNotMatch(get.stderr, /start it/);
  const servers = await runKv(withBrokerTimeout(["servers", "-s", cluster.serverFile]));
  assert.match(servers.stdout, new RegExp(`^${server.id} +BUSY +running, but turned`));
  await waitFor(
    () => server.stderrLines.some((line) => /refused .* \(BUSY\): all 1 connections/.test(line)),
    { what: "the server to log the refusal" },
  );
});
