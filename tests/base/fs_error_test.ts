import assert from "node:assert/strict";
import { describeFsError, exposedSecretFile, isFsError } from "../../lib/base/fs_error.ts";
import { withTempDir } from "../helpers/fixtures.ts";

/** What Deno throws for an OS error it has no kind for: ENOSPC, EROFS, EIO. */
function osError(code: string, message: string): Error {
  return Object.assign(new Error(`${message} (os error 28)`), { code });
}

Deno.test("isFsError: Deno's error kinds and plain errors with an errno code, not bugs", () => {
  assert.equal(isFsError(new Deno.errors.NotFound("x")), true);
  assert.equal(isFsError(new Deno.errors.PermissionDenied("x")), true);
  assert.equal(isFsError(osError("ENOSPC", "No space left on device")), true);
  assert.equal(isFsError(osError("EROFS", "Read-only file system")), true);
  assert.equal(isFsError(new TypeError("x is not a function")), false);
  assert.equal(isFsError(Object.assign(new Error("x"), { code: 28 })), false);
  assert.equal(isFsError(undefined), false);
  assert.equal(isFsError("ENOSPC"), false);
});

Deno.test("describeFsError says a path Deno refuses whatever the flags is Deno's rule, not the file's mode", () => {
  // What Deno 2.9.6 throws for /dev/stdin under --allow-read (the tests run with -A, which opens it).
  const refused = new Deno.errors.NotCapable(
    'Requires all access to "/dev/stdin", run again with the --allow-all flag',
  );
  assert.equal(
    describeFsError(refused),
    "Deno does not let kv open a device, /proc or /sys",
  );
});

Deno.test("describeFsError gives an errno error's words without Deno's (os error N)", () => {
  assert.equal(
    describeFsError(osError("ENOSPC", "No space left on device")),
    "No space left on device",
  );
});

Deno.test("a secret file group or others can read is named with its mode, and chmod 600 advised only for a file of the user's own", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.auth`;
    await Deno.writeTextFile(path, "secret\n");
    await Deno.chmod(path, 0o640);
    // As /etc/shadow (640 root:shadow) is to a user: its mode may be right for its owner.
    assert.equal(
      exposedSecretFile(path, await Deno.stat(path)),
      "readable by group or others (mode 640); give a file readable by its owner only " +
        `('chmod 600 ${path}' if it is yours)`,
    );
    await Deno.chmod(path, 0o600);
    assert.equal(exposedSecretFile(path, await Deno.stat(path)), undefined);
  });
});

Deno.test("a secret file group or others can write but not read is refused as writable, not called readable", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.auth`;
    await Deno.writeTextFile(path, "secret\n");
    // Anyone may add a secret of their own to it, then pass as a client: refused, and said so
    // (the line said 'readable by group or others (mode 622)', which it is not).
    for (const mode of [0o622, 0o602, 0o620]) {
      await Deno.chmod(path, mode);
      assert.equal(
        exposedSecretFile(path, await Deno.stat(path)),
        `writable by group or others (mode ${mode.toString(8)}); give a file only its owner ` +
          `can read and write ('chmod 600 ${path}' if it is yours)`,
      );
    }
    await Deno.chmod(path, 0o666);
    assert.match(exposedSecretFile(path, await Deno.stat(path))!, /^readable by group or others/);
  });
});
