/**
 * `kv server` processes on addresses of their own, each in a Linux network namespace
 * joined to the test's (root) namespace by a veth link, so that a test can make real
 * network partitions: {@link NetnsCluster.partition} takes the root side of a server's
 * link down, {@link NetnsCluster.heal} brings it up again. The brokers and `kv repair`
 * stay in the root namespace and reach the servers through the links.
 *
 * Needs root and `ip netns` (iproute2). Whether they work is tried once, when this
 * module loads (a namespace added and deleted); {@link NETNS_UNAVAILABLE} says why not,
 * for the name of the ignored test.
 *
 * Addresses: a run claims one /24 of 10.213.0.0/16 (a private range, unused here) that
 * no route of the machine touches yet, by adding an `unreachable` route for it — the
 * kernel refuses a second such route, so two runs at once never share one. Server i
 * gets a /30 of it: 10.213.R.(4i+1) on the root side, 10.213.R.(4i+2) in its namespace.
 * The `unreachable` route also keeps a partition honest: with a link down, its /30
 * route is gone, and without the /24 packets for the server would take the default
 * route off the machine (where a proxy may even answer them).
 *
 * The servers listen on non-loopback addresses, so they run with `--auth-file` (made by
 * `kv secret`), and {@link NetnsCluster.authFile} is given to every client.
 *
 * @example
 * ```ts ignore
 * await using cluster = await NetnsCluster.start(4, { durable: true });
 * await cluster.partition(1); // server 1 is cut off from the brokers
 * await cluster.heal(1);
 * ```
 * @module
 */
import assert from "node:assert/strict";
import type { KvInvocation } from "../../lib/cli/server_process.ts";
import { KvCluster } from "./kv_processes.ts";
import { newAuthFile } from "./run_kv.ts";
import { TEST_KV } from "./server_process.ts";
import { outputWithin, waitFor, withDeadline } from "./wait.ts";

/** The first two octets of every address a test gives: 10.213.0.0/16 is private. */
const PREFIX = "10.213";

/** How many /24 of {@link PREFIX} a run tries before giving up (others may be in use). */
const MAX_CLAIM_ATTEMPTS = 16;

/** Most servers of one run: 64 /30s fill its /24. */
export const MAX_NETNS_SERVERS = 64;

/** Runs `ip …`, throwing with its stderr when it fails; every run has the tests' deadline. */
async function ip(...args: string[]): Promise<void> {
  const child = new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).spawn();
  const { success, stderr } = await outputWithin(child, { what: `ip ${args.join(" ")}` });
  if (!success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(stderr).trim()}`);
  }
}

/** Runs `ip …` and returns its stdout. */
async function ipOutput(...args: string[]): Promise<string> {
  const child = new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).spawn();
  const { success, stdout, stderr } = await outputWithin(child, { what: `ip ${args.join(" ")}` });
  const decoder = new TextDecoder();
  if (!success) throw new Error(`ip ${args.join(" ")}: ${decoder.decode(stderr).trim()}`);
  return decoder.decode(stdout);
}

/** Why namespaces cannot be made here, or undefined when they can: tried once, at load. */
function probe(): string | undefined {
  // deno test --parallel loads this module in several files of one process at once, so
  // the pid alone could name two probes the same and fail the second.
  const name = `kvnet-probe-${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const run = (args: string[]) =>
    new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).outputSync();
  try {
    const added = run(["netns", "add", name]);
    if (!added.success) {
      const why = new TextDecoder().decode(added.stderr).trim().split("\n")[0];
      return `needs root and ip netns: ip netns add failed: ${why}`;
    }
    run(["netns", "del", name]);
    return undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return "needs root and ip netns: ip is not installed";
    }
    throw error;
  }
}

/**
 * Why network namespaces cannot be used here (a phrase for a test name), or undefined
 * when they can.
 */
export const NETNS_UNAVAILABLE: string | undefined = probe();

/** Everything made in the root namespace for one run, undone by {@link Links.remove}. */
class Links {
  readonly #subnet: number;
  readonly #namespaces: string[] = [];

  private constructor(subnet: number) {
    this.#subnet = subnet;
  }

  /**
   * Claims a free /24 and makes `count` namespaces linked to the root one; when any
   * step fails, whatever was made is removed again.
   */
  static async create(count: number): Promise<Links> {
    assert.ok(count > 0 && count <= MAX_NETNS_SERVERS, `1 to ${MAX_NETNS_SERVERS} servers`);
    const links = new Links(await claimSubnet());
    try {
      for (let index = 0; index < count; index++) await links.#add(index);
    } catch (error) {
      await links.remove().catch(() => {
        // The error that stopped the set-up is the one to report.
      });
      throw error;
    }
    return links;
  }

  /** The address server `index` listens on, inside its namespace. */
  address(index: number): string {
    return `${PREFIX}.${this.#subnet}.${4 * index + 2}`;
  }

  /** How to run `kv` inside server `index`'s namespace. */
  invocation(index: number): KvInvocation {
    return {
      command: "ip",
      // `ip netns exec` execs the command in place, so signals reach `kv server` itself.
      args: ["netns", "exec", this.#namespaces[index], TEST_KV.command, ...TEST_KV.args],
    };
  }

  /** Takes the root side of server `index`'s link down (`up` false) or up. */
  async setLink(index: number, up: boolean): Promise<void> {
    await ip("link", "set", this.#rootSide(index), up ? "up" : "down");
  }

  /**
   * Deletes every link and namespace and the /24's route, trying each even when one
   * fails; throws the first failure afterwards.
   */
  async remove(): Promise<void> {
    const steps = this.#namespaces.flatMap((namespace, index) => [
      // Deleting the root side deletes the pair at once; a namespace's own end would go
      // only when the kernel gets round to destroying the namespace.
      () => ip("link", "del", this.#rootSide(index)),
      () => ip("netns", "del", namespace),
    ]);
    steps.push(() => ip("route", "del", "unreachable", `${PREFIX}.${this.#subnet}.0/24`));
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((error) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  }

  /** The root side of server `index`'s veth pair (at most 15 characters). */
  #rootSide(index: number): string {
    return `kvnet${this.#subnet}-${index}`;
  }

  async #add(index: number): Promise<void> {
    const namespace = `kvnet-${this.#subnet}-${Deno.pid}-${index}`;
    await ip("netns", "add", namespace);
    this.#namespaces.push(namespace);
    const root = this.#rootSide(index);
    await ip("link", "add", root, "type", "veth", "peer", "name", "veth0", "netns", namespace);
    await ip("addr", "add", `${PREFIX}.${this.#subnet}.${4 * index + 1}/30`, "dev", root);
    await ip("link", "set", root, "up");
    await ip("-n", namespace, "addr", "add", `${this.address(index)}/30`, "dev", "veth0");
    await ip("-n", namespace, "link", "set", "veth0", "up");
    await ip("-n", namespace, "link", "set", "lo", "up");
  }
}

/**
 * Picks a /24 of {@link PREFIX} that no route lies in or covers (the default route
 * aside) and claims it with an `unreachable` route, which the kernel adds once only;
 * returns its third octet.
 */
async function claimSubnet(): Promise<number> {
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const subnet = crypto.getRandomValues(new Uint8Array(1))[0];
    const range = `${PREFIX}.${subnet}.0/24`;
    const inside = await ipOutput("-4", "route", "show", "table", "all", "root", range);
    const around = await ipOutput("-4", "route", "show", "table", "all", "match", range);
    const covering = around.split("\n").filter((line) =>
      line !== "" && !line.startsWith("default")
    );
    if (inside.trim() !== "" || covering.length > 0) continue;
    try {
      await ip("route", "add", "unreachable", range);
      return subnet;
    } catch {
      // Another run claimed it between the look and the add: try another.
    }
  }
  throw new Error(`no free /24 in ${PREFIX}.0.0/16 after ${MAX_CLAIM_ATTEMPTS} tries`);
}

/** What {@link NetnsCluster.start} needs. */
export interface NetnsClusterOptions {
  /** Each server keeps its data in a temporary directory; default false (memory only). */
  durable?: boolean;
}

/**
 * `kv server` processes, each in a network namespace of its own linked to the root one,
 * listed in a server file by their namespace addresses; disposing of it kills them and
 * removes the namespaces, the links, the route and the files, even after a failure.
 */
export class NetnsCluster {
  readonly #cluster: KvCluster;
  readonly #links: Links;
  readonly #authDir: string;
  readonly #partitioned = new Set<number>();

  private constructor(cluster: KvCluster, links: Links, authDir: string) {
    this.#cluster = cluster;
    this.#links = links;
    this.#authDir = authDir;
  }

  /** Starts `count` servers in namespaces of their own; when any step fails, nothing is left. */
  static async start(count: number, options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
    assert.ok(NETNS_UNAVAILABLE === undefined, NETNS_UNAVAILABLE);
    const authDir = await Deno.makeTempDir({ prefix: "kv-netns-" });
    let links: Links | undefined;
    try {
      const authFile = await newAuthFile(authDir, "kv.auth");
      links = await Links.create(count);
      const made = links;
      const cluster = await KvCluster.start(count, {
        durable: options.durable,
        server: (index) => ({
          kv: made.invocation(index),
          hostname: made.address(index),
          args: ["--auth-file", authFile],
        }),
      });
      return new NetnsCluster(cluster, links, authDir);
    } catch (error) {
      await links?.remove().catch(() => {
        // The error that stopped the start is the one to report.
      });
      await Deno.remove(authDir, { recursive: true });
      throw error;
    }
  }

  /** The servers, in the order of the server file. */
  get servers(): KvCluster["servers"] {
    return this.#cluster.servers;
  }

  /** The server file: one `address port` line a server. */
  get serverFile(): string {
    return this.#cluster.serverFile;
  }

  /** The auth file the servers require: give it to every broker and client. */
  get authFile(): string {
    return `${this.#authDir}/kv.auth`;
  }

  /**
   * Cuts server `index` off: the root side of its link goes down, and a new connection
   * to the server is refused by the root namespace's routing (checked).
   */
  async partition(index: number): Promise<void> {
    assert.ok(!this.#partitioned.has(index), `server ${index} is partitioned already`);
    await this.#links.setLink(index, false);
    this.#partitioned.add(index);
    const server = this.servers[index];
    const connected = await withDeadline(
      Deno.connect(server.address).then((conn) => (conn.close(), true), () => false),
      { what: `a connection to partitioned server ${server.id} to fail` },
    );
    assert.ok(!connected, `server ${server.id} is still reachable with its link down`);
  }

  /**
   * Joins server `index` again: the root side of its link comes up, and a connection to
   * the server succeeds again (waited for, when the server runs).
   */
  async heal(index: number): Promise<void> {
    assert.ok(this.#partitioned.has(index), `server ${index} is not partitioned`);
    await this.#links.setLink(index, true);
    this.#partitioned.delete(index);
    const server = this.servers[index];
    if (!server.running) return;
    await waitFor(
      () => Deno.connect(server.address).then((conn) => (conn.close(), true), () => false),
      { what: `server ${server.id} to be reachable again once its link is up` },
    );
  }

  /** Kills the servers, then removes the links, namespaces, route and files. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#cluster[Symbol.asyncDispose]();
    } finally {
      try {
        await this.#links.remove();
      } finally {
        await Deno.remove(this.#authDir, { recursive: true });
      }
    }
  }
}
