import assert from "node:assert/strict";
import fc from "fast-check";
import {
  FileTooLargeError,
  readFileBounded,
  readTextFileBounded,
} from "../../lib/base/read_bounded.ts";
import { withTempDir } from "../helpers/fixtures.ts";

Deno.test("readFileBounded returns every byte of a file within the bound, at any size", async () => {
  await withTempDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        async (size, maxBytes) => {
          const bytes = new Uint8Array(size).map((_, index) => index * 31);
          const path = `${dir}/file`;
          await Deno.writeFile(path, bytes);
          if (size <= maxBytes) {
            assert.deepEqual(await readFileBounded(path, maxBytes), bytes);
          } else {
            await assert.rejects(readFileBounded(path, maxBytes), FileTooLargeError);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

Deno.test("readFileBounded stops one byte past the bound on /dev/zero", async () => {
  const error = await readFileBounded("/dev/zero", 4096).catch((error) => error);
  assert.ok(error instanceof FileTooLargeError);
  assert.equal(error.message, "/dev/zero is larger than 4096 bytes");
});

Deno.test("readTextFileBounded refuses bytes that are not UTF-8", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/bad`, new Uint8Array([0x61, 0xff]));
    await assert.rejects(readTextFileBounded(`${dir}/bad`, 10), TypeError);
    await Deno.writeTextFile(`${dir}/good`, "héllo");
    assert.equal(await readTextFileBounded(`${dir}/good`, 10), "héllo");
  });
});

Deno.test("readFileBounded throws Deno's error for a directory or a missing file", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(readFileBounded(dir, 10), Deno.errors.IsADirectory);
    await assert.rejects(readFileBounded(`${dir}/missing`, 10), Deno.errors.NotFound);
  });
});
