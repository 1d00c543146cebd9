import assert from "node:assert/strict";
import { ServerError } from "../../lib/protocol/client.ts";
import { ErrorCode } from "../../lib/protocol/mod.ts";
import { str } from "../../lib/record/value.ts";
import { connectClient } from "../helpers/client.ts";
import { startServerProcess, stopWithin } from "../helpers/server_process.ts";
import { at } from "../helpers/versions.ts";

/** Mounts a tmpfs of `megabytes` at a new directory; undefined where mounting is not allowed. */
function mountSmallTmpfs(megabytes: number): string | undefined {
  const dir = Deno.makeTempDirSync({ prefix: "kv_tmpfs_" });
  const mounted = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${megabytes}m`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).outputSync().success;
  if (mounted) return dir;
  Deno.removeSync(dir);
  return undefined;
}

function unmount(dir: string): void {
  new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).outputSync();
  Deno.removeSync(dir, { recursive: true });
}

const probe = (() => {
  try {
    return mountSmallTmpfs(1);
  } catch {
    return undefined;
  }
})();
const CAN_MOUNT = probe !== undefined;
if (probe !== undefined) unmount(probe);

Deno.test({
  name: CAN_MOUNT
    ? "disk full: writes are refused with READ_ONLY, reads go on, acknowledged records survive, SIGTERM exits cleanly"
    : "disk full (ignored: this machine does not allow mounting a small tmpfs)",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const mount = mountSmallTmpfs(4)!;
    try {
      const dataDir = `${mount}/data`;
      const acknowledged: string[] = [];
      {
        await using server = await startServerProcess(["--data-dir", dataDir, "--fsync", "always"]);
        const client = await connectClient(server.address);
        const value = str("v".repeat(16 * 1024));
        let refusal: ServerError | undefined;
        for (let index = 0; index < 1000 && refusal === undefined; index++) {
          try {
            await client.put(`k${index}`, value, at());
            acknowledged.push(`k${index}`);
          } catch (error) {
            if (!(error instanceof ServerError)) throw error;
            refusal = error;
          }
        }
        assert.ok(refusal !== undefined, "the 4 MiB disk filled up");
        assert.equal(refusal.code, ErrorCode.READ_ONLY, refusal.message);
        assert.match(refusal.message, /No space left on device/);
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
      await using again = await startServerProcess(["--data-dir", dataDir]);
      const client = await connectClient(again.address);
      for (const key of acknowledged) {
        assert.notEqual((await client.get(key)).value, undefined, key);
      }
      await client.close();
      assert.equal((await stopWithin(again)).code, 0);
    } finally {
      unmount(mount);
    }
  },
});

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
