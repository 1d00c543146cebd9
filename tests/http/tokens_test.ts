import assert from "node:assert/strict";
import { BearerTokens, MAX_TOKENS_FILE_BYTES, TokensFileError } from "../../lib/http/tokens.ts";
import { withTempDir } from "../helpers/fixtures.ts";

Deno.test("a tokens file over MAX_TOKENS_FILE_BYTES is refused in one line, read no further", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/tokens.txt`;
    const line = `${"a".repeat(63)}\n`;
    await Deno.writeTextFile(path, line.repeat(Math.ceil((MAX_TOKENS_FILE_BYTES + 1) / 64)));
    await assert.rejects(
      () => BearerTokens.read(path),
      (error: unknown) =>
        error instanceof TokensFileError &&
        error.message ===
          `${path}: tokens file larger than ${MAX_TOKENS_FILE_BYTES} bytes; a tokens file ` +
            "holds tokens only, one a line",
    );
  });
});

Deno.test("a tokens file that is a directory is one line naming the file", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => BearerTokens.read(dir),
      (error: unknown) =>
        error instanceof TokensFileError &&
        error.message.startsWith(`${dir}: cannot read the tokens file: `),
    );
  });
});
