// A server's host name the resolver cannot look up now (EAI_AGAIN) is the cluster's
// unavailability, not the user's mistake: every command that reads a server file exits 3
// with a line saying to retry, and the library throws a KvUnavailableError. Real processes
// in a network namespace of their own (`unshare -n`), where no DNS server can be reached.
import assert from "node:assert/strict";
import { MAIN_PATH } from "../helpers/run_kv.ts";
import { withTempDir } from "../helpers/fixtures.ts";
import { outputWithin } from "../helpers/wait.ts";

/** Why `unshare -n` (a network namespace with no route out: needs root) cannot run, or undefined. */
function probe(): string | undefined {
  try {
    const { success } = new Deno.Command("unshare", { args: ["-n", "true"], stderr: "null" })
      .outputSync();
    return success ? undefined : "needs root for unshare -n";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "needs unshare (util-linux)";
    throw error;
  }
}

const UNAVAILABLE = probe();

/**
 * Runs `deno <args>` in a network namespace of its own, in directory `cwd` (default the
 * test's); its exit code and output.
 */
async function withoutDns(
  args: string[],
  cwd?: string,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command("unshare", {
    args: ["-n", Deno.execPath(), ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { code, stderr } = await outputWithin(child, { what: `deno ${args.join(" ")}` });
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** The line a host name that cannot be looked up now gets, after where it is listed. */
const LOOKUP_LINE = "cannot look up host kv1.example.com now (EAI_AGAIN: the DNS resolver did " +
  "not answer); retry once it does, or give an IP address";

/** `kv` as the deno tasks run it. */
const KV = ["run", "-A", MAIN_PATH];

function lookupTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: UNAVAILABLE === undefined ? name : `${name} (ignored: ${UNAVAILABLE})`,
    ignore: UNAVAILABLE !== undefined,
    fn,
  });
}

lookupTest(
  "every command reading a server file whose host cannot be looked up now exits 3 saying to retry, not 2 saying to fix the name",
  async () => {
    await withTempDir(async (dir) => {
      const file = `${dir}/servers.txt`;
      await Deno.writeTextFile(file, "kv1.example.com:8000\n");
      const commands = [
        ["get", "-s", file, "x"],
        ["repair", "-s", file],
        ["broker", "-s", file],
        ["http", "-s", file, "--listen", "127.0.0.1:0"],
        ["bench", "-s", file, "--ops", "1"],
        ["bench", "-s", file, "-k", "1", "--ops", "1"],
      ];
      for (const command of commands) {
        const { code, stderr } = await withoutDns([...KV, ...command]);
        assert.equal(code, 3, `kv ${command.join(" ")}: ${stderr}`);
        assert.equal(stderr, `kv ${command[0]}: ${file}:1:1: ${LOOKUP_LINE}\n`);
      }
      // The default server file: no word of how to give another, which would not help.
      await Deno.writeTextFile(`${dir}/serverFile.txt`, "kv1.example.com:8000\n");
      const { code, stderr } = await withoutDns([...KV, "get", "x"], dir);
      assert.equal(code, 3, stderr);
      assert.equal(stderr, `kv get: serverFile.txt:1:1: ${LOOKUP_LINE}\n`);
    });
  },
);

lookupTest(
  "the library's connect throws a KvUnavailableError for a host the resolver cannot look up now",
  async () => {
    const mod = new URL("../../mod.ts", import.meta.url).href;
    const program = `
    import { connect, KvUnavailableError } from "${mod}";
    try {
      await connect({ servers: [{ hostname: "kv1.example.com", port: 8000 }], replicas: 1 });
    } catch (error) {
      console.error(error instanceof KvUnavailableError, error.message);
    }`;
    const { code, stderr } = await withoutDns(["eval", program]);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, `true servers[0]: ${LOOKUP_LINE}\n`);
  },
);
