import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeUtf8Text,
  FileTooLargeError,
  NotRegularFileError,
  NotUtf8Error,
  readFileBounded,
  readTextFileBounded,
} from "../../lib/base/read_bounded.ts";
import { fifo, sparseFile, withTempDir } from "../helpers/fixtures.ts";
import { outputWithin, withDeadline } from "../helpers/wait.ts";

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

Deno.test("readFileBounded stops one byte past the bound on a file of 1 TiB", async () => {
  await withTempDir(async (dir) => {
    const path = await sparseFile(`${dir}/huge`, 2 ** 40);
    const error = await readFileBounded(path, 4096).catch((error) => error);
    assert.ok(error instanceof FileTooLargeError);
    assert.equal(error.message, `${path} is larger than 4096 bytes`);
  });
});

Deno.test("readFileBounded refuses a FIFO, a device and a socket before opening them: a FIFO no one writes would block the open for ever", async () => {
  await withTempDir(async (dir) => {
    const refusal = (path: string) =>
      withDeadline(readFileBounded(path, 4096).catch((error) => error), {
        what: `readFileBounded(${path}) to end`,
      });
    const fromFifo = await refusal(await fifo(`${dir}/fifo`));
    assert.ok(fromFifo instanceof NotRegularFileError);
    assert.equal(fromFifo.message, "it is a FIFO (named pipe), not a regular file");
    assert.equal(
      (await refusal("/dev/zero")).message,
      "it is a character device, not a regular file",
    );
    using _listener = Deno.listen({ transport: "unix", path: `${dir}/socket` });
    assert.equal((await refusal(`${dir}/socket`)).message, "it is a socket, not a regular file");
  });
});

Deno.test("readTextFileBounded refuses bytes that are not UTF-8, naming the line and column", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/bad`, new Uint8Array([0x61, 0xff]));
    await assert.rejects(readTextFileBounded(`${dir}/bad`, 10), NotUtf8Error);
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

Deno.test("readFileBounded reads a pipe named /dev/stdin, a link to a link to it, as `kv … -s /dev/stdin` and a here-string give it", async () => {
  // /dev/stdin links to /proc/self/fd/0, which links to pipe:[…]: the pipe is two links away.
  const script = "const { readFileBounded } = await import(Deno.args[0]);" +
    "const bytes = await readFileBounded('/dev/stdin', 4096);" +
    "console.log(new TextDecoder().decode(bytes).trim());";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script, new URL("../../lib/base/read_bounded.ts", import.meta.url).href],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("127.0.0.1:8000\n"));
  await writer.close();
  const { code, stdout, stderr } = await outputWithin(child, { what: "a read of /dev/stdin" });
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  assert.equal(decoder.decode(stdout), "127.0.0.1:8000\n");
});

Deno.test("decodeUtf8Text names the line and code point column where bytes stop being UTF-8", () => {
  const cases: [number[], string][] = [
    [[0x61, 0x0a, 0x62, 0xff], "2:2: not UTF-8 text (byte 0xff)"],
    // UTF-16 as Windows' Notepad saves it ("Unicode"): its byte order mark is no UTF-8.
    [[0xff, 0xfe, 0x31, 0x00], "1:1: not UTF-8 text (byte 0xff)"],
    // A UTF-8 byte order mark starts no column; 'é' is one column of two bytes.
    [[0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0xff], "1:2: not UTF-8 text (byte 0xff)"],
    // A character cut short is named where it starts, not at the byte that ended it.
    [[0x61, 0x0d, 0x0a, 0x62, 0xe0, 0x41], "2:2: not UTF-8 text (byte 0xe0)"],
    [[0x0a, 0x0a, 0xed, 0xa0, 0x80], "3:1: not UTF-8 text (byte 0xed)"],
    [[0x61, 0xc3], "1:2: not UTF-8 text (byte 0xc3)"],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => decodeUtf8Text(Uint8Array.from(bytes)), { name: "NotUtf8Error", message });
  }
  assert.equal(decodeUtf8Text(new TextEncoder().encode("\ufeffhé\n")), "hé\n");
});
