// A server file that reaches one server twice — the same address on two lines, or two
// addresses of one process, which only its HELLO id tells — is one line saying what to do,
// exit 2, for every command that reads a server file.
import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { connectClient } from "../helpers/client.ts";
import { CLIENT_COMMANDS, runKv } from "../helpers/run_kv.ts";
import { withTempDir } from "../helpers/fixtures.ts";

/**
 * A TCP relay on 127.0.0.1 to `port`: a second address of the same server process. Its
 * disposal closes the listener and every relayed connection and waits for their pipes.
 */
function relay(port: number): { readonly port: number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const pipes: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connect({ hostname: "127.0.0.1", port });
      connections.push(inbound, outbound);
      for (const [from, to] of [[inbound, outbound], [outbound, inbound]]) {
        // A side closing or reset ends its pipe: a relay only forwards what comes.
        pipes.push(from.readable.pipeTo(to.writable).catch(() => {}));
      }
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {
        // The listener closed under the loop: that is how it ends.
      });
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // A pipe closed it already when the other side went away.
        }
      }
      await Promise.allSettled(pipes);
    },
  };
}

Deno.test("a server file naming one server twice is one line saying to list it once, exit 2, for every client command (kv bench and kv http, through the library, said it in its words, naming no file, kv http after a warn line), and none of them fixes the cluster's k", async () => {
  await using cluster = await KvCluster.start(1);
  const { port } = cluster.servers[0];
  await using second = relay(port);
  await withTempDir(async (dir) => {
    const sameLine = `${dir}/same.txt`;
    await Deno.writeTextFile(sameLine, `127.0.0.1 ${port}\n127.0.0.1:${port}\n`);
    const twoAddresses = `${dir}/two.txt`;
    await Deno.writeTextFile(twoAddresses, `127.0.0.1 ${port}\n127.0.0.1 ${second.port}\n`);
    for (const [command, ...args] of CLIENT_COMMANDS) {
      const same = await runKv(withBrokerTimeout([command, "-s", sameLine, ...args]), {
        stdin: "",
      });
      assert.equal(same.code, 2, `${command}: ${same.stderr}`);
      assert.match(
        same.stderr,
        new RegExp(
          `^kv ${command}: \\S+same\\.txt:2:1: duplicate server 127\\.0\\.0\\.1:${port} ` +
            "\\(first listed on line 1\\); list each server once\\n$",
        ),
      );
      const two = await runKv(withBrokerTimeout([command, "-s", twoAddresses, ...args]), {
        stdin: "",
      });
      assert.equal(two.code, 2, `${command}: ${two.stderr}`);
      // Which address is named the twin depends on which connection answered HELLO first.
      const [a, b] = [`127\\.0\\.0\\.1:${second.port}`, `127\\.0\\.0\\.1:${port}`];
      assert.match(
        two.stderr,
        new RegExp(
          `^kv ${command}: \\S+two\\.txt lists one server twice ` +
            `\\((${a} is the same server as ${b}|${b} is the same server as ${a})\\); ` +
            "keep one line per server\\n$",
        ),
      );
    }
    // Refused, no command fixed the cluster's k: a file listing the server once may still
    // give it any.
    const client = await connectClient(cluster.servers[0].address);
    try {
      assert.equal(client.state.k, 0, "the refused commands recorded no k");
    } finally {
      await client.close();
    }
  });
});
