import assert from "node:assert/strict";
import { resolveCredentials } from "../../lib/protocol/credentials.ts";
import { connectClient } from "./client.ts";
import { NETNS_UNAVAILABLE, NetnsCluster } from "./netns.ts";
import { outputWithin } from "./wait.ts";

/** The stdout of `ip args…`, which must succeed. */
async function ipShow(...args: string[]): Promise<string> {
  const child = new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).spawn();
  const { success, stdout } = await outputWithin(child, { what: `ip ${args.join(" ")}` });
  assert.ok(success, `ip ${args.join(" ")}`);
  return new TextDecoder().decode(stdout);
}

const NAME =
  "NetnsCluster: a server in its namespace answers with the auth file, is unreachable while partitioned and answers again once healed; disposing removes its namespace, link and route";

Deno.test({
  name: NETNS_UNAVAILABLE === undefined ? NAME : `${NAME} (ignored: ${NETNS_UNAVAILABLE})`,
  ignore: NETNS_UNAVAILABLE !== undefined,
  async fn() {
    let subnet: string;
    // Other test files run in this same process (deno test --parallel), so the pid alone
    // does not tell this cluster's namespace from theirs: its /24's octet does.
    let namespace: RegExp;
    {
      await using cluster = await NetnsCluster.start(1);
      const [server] = cluster.servers;
      const octets = server.address.hostname.split(".");
      subnet = `${octets.slice(0, 3).join(".")}.0/24`;
      namespace = new RegExp(`^kvnet-${octets[2]}-${Deno.pid}-0\\b`, "m");
      assert.match(server.address.hostname, /^10\.213\.\d+\.2$/);
      assert.match(await ipShow("netns", "list"), namespace);
      const credentials = await resolveCredentials({ authFile: cluster.authFile });
      const before = await connectClient(server.address, { credentials });
      await before.ping();
      await before.close();
      await cluster.partition(0);
      await assert.rejects(Deno.connect(server.address));
      await cluster.heal(0);
      const after = await connectClient(server.address, { credentials });
      await after.ping();
      await after.close();
    }
    assert.doesNotMatch(await ipShow("netns", "list"), namespace);
    assert.equal((await ipShow("-4", "route", "show", "table", "all", "root", subnet)).trim(), "");
    assert.equal((await ipShow("-4", "addr", "show", "to", subnet)).trim(), "");
  },
});
