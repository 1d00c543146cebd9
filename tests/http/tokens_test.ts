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
        error.message.startsWith(`${dir}: cannot read the tokens file: `) &&
        !error.message.includes("\n"),
    );
  });
});

Deno.test("a token with a character no HTTP header can carry is refused at load, at its line and column", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/tokens.txt`;
    await Deno.writeTextFile(path, "# tokens\n  0123456789abcdéf0123\n", { mode: 0o600 });
    await assert.rejects(
      () => BearerTokens.read(path),
      (error: unknown) => {
        assert.ok(error instanceof TokensFileError);
        assert.equal(
          error.message,
          `${path}:2:17: 'é' in a token, which no HTTP header can carry; a token is visible ` +
            "ASCII only (e.g. the output of 'openssl rand -hex 32')",
        );
        return true;
      },
    );
  });
});

Deno.test("a tokens file that is not UTF-8, or a token holding a control, is refused at its line and column in one line", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/tokens.txt`;
    const bytes = new TextEncoder().encode("# tokens\n0123456789abcdef_0123\n");
    bytes[bytes.indexOf(0x5f)] = 0xff;
    await Deno.writeFile(path, bytes, { mode: 0o600 });
    await assert.rejects(() => BearerTokens.read(path), (error: unknown) => {
      assert.ok(error instanceof TokensFileError);
      assert.equal(
        error.message,
        `${path}:2:17: not UTF-8 text; save the tokens file as UTF-8`,
      );
      return true;
    });
    await Deno.writeTextFile(path, "0123456789abcdef\x1b0123\n", { mode: 0o600 });
    await assert.rejects(() => BearerTokens.read(path), (error: unknown) => {
      assert.ok(error instanceof TokensFileError);
      assert.match(error.message, /^\S+:1:17: '\\u001b' in a token, which no HTTP header/);
      return true;
    });
  });
});

Deno.test("a tokens file readable by group or others is refused, as an auth file is", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/tokens.txt`;
    await Deno.writeTextFile(path, "0123456789abcdef0123\n");
    await Deno.chmod(path, 0o644);
    await assert.rejects(
      () => BearerTokens.read(path),
      (error: unknown) =>
        error instanceof TokensFileError &&
        error.message ===
          `${path}: readable by group or others (mode 644); give a file readable by its owner only ('chmod 600 ${path}' if it is yours)`,
    );
    await Deno.chmod(path, 0o600);
    assert.equal(
      await (await BearerTokens.read(path)).check("Bearer 0123456789abcdef0123"),
      "allowed",
    );
  });
});

Deno.test("a token check tells a listed token from none, another scheme, and a token not listed", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/tokens.txt`;
    await Deno.writeTextFile(path, "0123456789abcdef0123\nfedcba9876543210fedc\n", { mode: 0o600 });
    const tokens = await BearerTokens.read(path);
    const cases: [string | null, string][] = [
      ["Bearer 0123456789abcdef0123", "allowed"],
      ["bearer \tfedcba9876543210fedc ", "allowed"],
      [null, "missing"],
      ["", "missing"],
      ["Bearer", "missing"],
      ["Bearer  ", "missing"],
      ["Basic 0123456789abcdef0123", "other-scheme"],
      ["0123456789abcdef0123", "other-scheme"],
      ["Bearer0123456789abcdef0123", "other-scheme"],
      ["Bearer 0123456789abcdef012", "invalid"],
      ["Bearer 0123456789abcdef0123x", "invalid"],
      ["Bearer 0123456789abcdef0123 fedcba9876543210fedc", "invalid"],
    ];
    for (const [header, expected] of cases) {
      assert.equal(await tokens.check(header), expected, String(header));
    }
  });
});
