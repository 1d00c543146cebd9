/**
 * Small tmpfs mounts for the disk-full tests: a disk that fills at a known size. Mounting
 * needs root (or CAP_SYS_ADMIN); {@link CAN_MOUNT} says whether this machine allows it, so
 * that the tests can be ignored, with the reason in their names, where it does not.
 *
 * @example
 * ```ts
 * import { CAN_MOUNT, mountSmallTmpfs, unmount } from "./tmpfs.ts";
 * if (CAN_MOUNT) {
 *   const dir = mountSmallTmpfs(4)!;
 *   unmount(dir);
 * }
 * ```
 * @module
 */

/**
 * Mounts a tmpfs of `megabytes` at `at` (made here, and removed again when the mount fails),
 * default a new temporary directory, and returns it; undefined where mounting is not allowed.
 * A mount point cannot be removed, even by root: a directory holding one cannot be either.
 *
 * @example
 * ```ts
 * const dir = mountSmallTmpfs(4);
 * ```
 */
export function mountSmallTmpfs(megabytes: number, at?: string): string | undefined {
  if (at !== undefined) Deno.mkdirSync(at);
  const dir = at ?? Deno.makeTempDirSync({ prefix: "kv_tmpfs_" });
  const mounted = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${megabytes}m`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).outputSync().success;
  if (mounted) return dir;
  Deno.removeSync(dir);
  return undefined;
}

/**
 * Unmounts what {@link mountSmallTmpfs} mounted and removes the directory.
 *
 * @example
 * ```ts
 * unmount(dir);
 * ```
 */
export function unmount(dir: string): void {
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
if (probe !== undefined) unmount(probe);

/** Whether this machine lets the tests mount a small tmpfs. */
export const CAN_MOUNT: boolean = probe !== undefined;

/** Names and size for {@link tmpfsTest}. */
export interface TmpfsTestOptions {
  /** The test's name where it runs. */
  name: string;
  /** A short name, to which the reason is added where the test is ignored. */
  short: string;
  /** The size of the tmpfs, in MiB. */
  megabytes: number;
}

/**
 * Registers a test that runs `body` on a fresh tmpfs of `options.megabytes`, unmounted
 * afterwards whatever happens; ignored, with the reason in its name, where this machine
 * cannot mount one.
 *
 * @example
 * ```ts ignore
 * tmpfsTest({ name: "disk full: writes are refused", short: "disk full", megabytes: 4 }, async (mount) => {
 *   await Deno.writeFile(`${mount}/ballast`, new Uint8Array(4 * 1024 * 1024));
 * });
 * ```
 */
export function tmpfsTest(
  options: TmpfsTestOptions,
  body: (mount: string) => Promise<void>,
): void {
  Deno.test({
    name: CAN_MOUNT
      ? options.name
      : `${options.short} (ignored: this machine does not allow mounting a small tmpfs)`,
    ignore: !CAN_MOUNT,
    fn: async () => {
      const mount = mountSmallTmpfs(options.megabytes)!;
      try {
        await body(mount);
      } finally {
        unmount(mount);
      }
    },
  });
}
