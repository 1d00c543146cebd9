// Commands that cannot start without a server, run with none reachable: each stops with one
// line naming every server and why, and exit 3 — the cluster could not answer, as the one-shot
// commands' ERROR — never exit 2 (a mistake: the same command succeeds once a server is back)
// nor the library's "give its k".
import assert from "node:assert/strict";
import { runKv } from "../helpers/run_kv.ts";
import { KvNoServerReachableError } from "../../lib/client/errors.ts";
import { connect } from "../../lib/client/kv.ts";
import { BrokerProcess, KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { closedPorts, withTempDir } from "../helpers/fixtures.ts";

/** Runs `kv <args>` and checks it printed nothing on stdout and one line on stderr, exit 3. */
async function unavailable(args: string[], expected: RegExp, stdin?: string): Promise<void> {
  const { code, stdout, stderr } = await runKv(args, { stdin });
  assert.equal(code, 3, `${args.join(" ")}: ${stderr}`);
  assert.equal(stdout, "");
  assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  assert.match(stderr.trimEnd(), expected);
  assert.doesNotMatch(stderr, /give its k|os error|stack| {4}at /);
}

/** `none of the 2 servers in FILE is reachable (a: why; b: why); start them …`, for `command`. */
function noneOfTwo(command: string, ports: number[], after = ""): RegExp {
  const [one, other] = ports;
  return new RegExp(
    `^kv ${command}: none of the 2 servers in \\S+ is reachable \\(127\\.0\\.0\\.1:${one}: ` +
      `cannot connect[^;]*; 127\\.0\\.0\\.1:${other}: cannot connect[^;]*\\); start them ` +
      `\\(or check --auth-file and --tls-ca\\) and retry${after}$`,
  );
}

Deno.test("kv broker that reaches no server stops with one line naming each, exit 3: piped, with -k, with -i", async () => {
  await withTempDir(async (dir) => {
    const ports = closedPorts(2);
    const servers = `${dir}/servers.txt`;
    await Deno.writeTextFile(servers, ports.map((port) => `127.0.0.1 ${port}\n`).join(""));
    await Deno.writeTextFile(`${dir}/data.txt`, "a: 1\n");
    const broker = ["broker", "-s", servers, "--timeout-ms", "2000"];
    await unavailable(broker, noneOfTwo("broker", ports), "GET a\n");
    await unavailable([...broker, "-k", "1"], noneOfTwo("broker", ports), "GET a\n");
    await unavailable([...broker, "-k", "1", "-i", `${dir}/data.txt`], noneOfTwo("broker", ports));
    await Deno.writeTextFile(`${dir}/one.txt`, `127.0.0.1 ${ports[0]}\n`);
    await unavailable(
      ["broker", "-s", `${dir}/one.txt`, "--timeout-ms", "2000"],
      /^kv broker: the one server in \S+ is not reachable \(127\.0\.0\.1:\d+: .*\); start it \(or check --auth-file and --tls-ca\) and retry$/,
      "GET a\n",
    );
  });
});

Deno.test("kv http and kv bench that reach no server say so, naming each, exit 3", async () => {
  await withTempDir(async (dir) => {
    const ports = closedPorts(2);
    const servers = `${dir}/servers.txt`;
    await Deno.writeTextFile(servers, ports.map((port) => `127.0.0.1 ${port}\n`).join(""));
    // Without -k it cannot tell the cluster's k; with it, it would serve (and reconnect).
    await unavailable(
      ["http", "-s", servers, "--listen", "127.0.0.1:0", "--timeout-ms", "2000"],
      noneOfTwo(
        "http",
        ports,
        ", or give -k \\(the cluster's k\\) to serve now, reconnecting in the background",
      ),
    );
    await unavailable(
      ["bench", "-s", servers, "--ops", "1", "--timeout-ms", "2000"],
      noneOfTwo("bench", ports),
    );
  });
});

Deno.test("servers that only ran out of --timeout-ms (listening, never answering) are advised to raise it, not to be started", async () => {
  await withTempDir(async (dir) => {
    // Listening, never accepting: the kernel takes the connection, no HELLO is answered.
    const listeners = [Deno.listen({ hostname: "127.0.0.1", port: 0 })];
    listeners.push(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
    try {
      const ports = listeners.map(({ addr }) => (addr as Deno.NetAddr).port);
      await Deno.writeTextFile(`${dir}/one.txt`, `127.0.0.1 ${ports[0]}\n`);
      await unavailable(
        ["get", "a", "-s", `${dir}/one.txt`, "--timeout-ms", "300"],
        /^ERROR: the one server in \S+ is not reachable \(127\.0\.0\.1:\d+: .*got no answer within 300 ms.*\); raise --timeout-ms if it is busy, or restart it if hung, and retry$/,
      );
      const servers = `${dir}/servers.txt`;
      await Deno.writeTextFile(servers, ports.map((port) => `127.0.0.1 ${port}\n`).join(""));
      await unavailable(
        ["broker", "-s", servers, "--timeout-ms", "300"],
        /^kv broker: none of the 2 servers in \S+ is reachable \(.*\); raise --timeout-ms if they are busy, or restart them if hung, and retry$/,
        "GET a\n",
      );
    } finally {
      for (const listener of listeners) listener.close();
    }
  });
});

Deno.test("commands started without -k whose one server is running but has no room (BUSY) say to retry once there is room, not to start it: kv put, kv broker, kv http, kv bench and the library's connect; beside a server not running, to start it or retry", async () => {
  await using cluster = await KvCluster.start(1, {
    server: () => ({ args: ["--max-connections", "1"] }),
  });
  const servers = cluster.serverFile;
  const put = await runKv(withBrokerTimeout(["put", "a: 1", "-s", servers]));
  assert.equal(put.code, 0, put.stderr);
  // A broker holds the one connection.
  await using holder = BrokerProcess.start(["-s", servers, "--json"]);
  assert.equal((await holder.ask("GET a")).found, true);
  const busy = (lead: string, orElse = "") =>
    new RegExp(
      `^${lead}the one server in \\S+ is not reachable \\(127\\.0\\.0\\.1:\\d+: running, but ` +
        `turned this client away \\(BUSY: .*\\); retry once there is room${orElse}$`,
    );
  await unavailable(withBrokerTimeout(["put", "a: 2", "-s", servers]), busy("ERROR: "));
  await unavailable(withBrokerTimeout(["broker", "-s", servers]), busy("kv broker: "), "GET a\n");
  await unavailable(
    withBrokerTimeout(["http", "-s", servers, "--listen", "127.0.0.1:0"]),
    busy(
      "kv http: ",
      ", or give -k \\(the cluster's k\\) to serve now, reconnecting in the background",
    ),
  );
  await unavailable(withBrokerTimeout(["bench", "-s", servers, "--ops", "1"]), busy("kv bench: "));
  // The library's connect, under kv http and kv bench, says so in its own words.
  await assert.rejects(cluster.connect(), (error) => {
    assert(error instanceof KvNoServerReachableError, String(error));
    assert.match(error.message, /; retry once there is room, or pass replicas /);
    assert.deepEqual(error.unreachable.map(({ busy }) => busy), [true]);
    return true;
  });
  // With a server that is not running beside it, either remedy will do: not "start them".
  const [closed] = closedPorts(1);
  const endpoints = [cluster.servers[0].address, { hostname: "127.0.0.1", port: closed }];
  await withTempDir(async (dir) => {
    const mixed = `${dir}/servers.txt`;
    await Deno.writeTextFile(mixed, endpoints.map((e) => `${e.hostname} ${e.port}\n`).join(""));
    await unavailable(
      withBrokerTimeout(["put", "a: 2", "-s", mixed]),
      /^ERROR: none of the 2 servers in \S+ is reachable \(.*BUSY.*refused.*\); start those not running \(or check --auth-file and --tls-ca\), or retry once those BUSY have room$/,
    );
  });
  await assert.rejects(connect({ servers: endpoints, timeoutMs: 3_000 }), (error) => {
    assert(error instanceof KvNoServerReachableError, String(error));
    assert.match(
      error.message,
      /; start those not running \(or check authFile and tlsCa\), or retry once those BUSY have room, or pass replicas /,
    );
    assert.deepEqual(error.unreachable.map(({ busy }) => busy === true), [true, false]);
    return true;
  });
});
