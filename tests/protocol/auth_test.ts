import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AuthFileError,
  AuthKeys,
  MAC_BYTES,
  MAX_SECRETS,
  newChallenge,
  newSecretLine,
  parseAuthFile,
} from "../../lib/protocol/auth.ts";
import { sparseFile, withTempDir } from "../helpers/fixtures.ts";

const HEX_SECRET = "ab".repeat(32);
const BASE64_SECRET = btoa(String.fromCharCode(...new Uint8Array(32).fill(200)));

Deno.test("parseAuthFile reads hex and base64 secrets, skipping blank lines and comments", () => {
  const secrets = parseAuthFile(
    `# kv secrets\n\n  ${HEX_SECRET}  \r\n${BASE64_SECRET}\n`,
    "kv.auth",
  );
  assert.deepEqual(secrets, [new Uint8Array(32).fill(0xab), new Uint8Array(32).fill(200)]);
});

Deno.test("parseAuthFile takes a comment after a secret: neither hex nor base64 holds a '#'", () => {
  const secrets = parseAuthFile(
    `${HEX_SECRET}  # added 2026-12-01\n${BASE64_SECRET}# the old one\n`,
    "kv.auth",
  );
  assert.deepEqual(secrets, [new Uint8Array(32).fill(0xab), new Uint8Array(32).fill(200)]);
});

Deno.test("parseAuthFile names file, line and column of a bad secret, and says what to do", () => {
  const cases: [string, RegExp][] = [
    [
      `# x\n  not a secret!\n`,
      /^kv\.auth:2:3: not a secret \(hex or base64\); write one with 'kv secret'$/,
    ],
    [
      `${"ab".repeat(16)}\n`,
      /^kv\.auth:1:1: a secret of 16 bytes; it must have 32 to 64 random bytes/,
    ],
    [
      "# only a comment\n",
      /^kv\.auth: no secret in the file; write one with 'kv secret -o FILE'$/,
    ],
    [
      `${HEX_SECRET}\n`.repeat(MAX_SECRETS + 1),
      /^kv\.auth:17:1: more than 16 secrets; remove old ones$/,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseAuthFile(text, "kv.auth"), (error: Error) => {
      assert.ok(error instanceof AuthFileError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("parseAuthFile never throws anything but AuthFileError, whatever the text", () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => {
    try {
      for (const secret of parseAuthFile(text, "f")) assert.ok(secret.length >= 32);
    } catch (error) {
      assert.ok(error instanceof AuthFileError, String(error));
    }
  }));
});

Deno.test("kv secret's line parses back to a 32-byte secret", () => {
  const line = newSecretLine();
  assert.match(line, /^[0-9a-f]{64}$/);
  assert.equal(parseAuthFile(line, "f")[0].length, 32);
  assert.notEqual(newSecretLine(), line);
});

Deno.test("an answer verifies under its secret and the challenge it answers, nothing else", async () => {
  const keys = await AuthKeys.fromSecrets([new Uint8Array(32).fill(1)]);
  const others = await AuthKeys.fromSecrets([new Uint8Array(32).fill(2)]);
  const challenge = newChallenge();
  const answer = await keys.answer(challenge);
  assert.equal(answer.length, MAC_BYTES);
  assert.equal(await keys.verify(challenge, answer), true);
  assert.equal(await others.verify(challenge, answer), false);
  assert.equal(await keys.verify(newChallenge(), answer), false);
  assert.equal(await keys.verify(challenge, answer.subarray(0, 31)), false);
});

Deno.test("fuzz: no random answer verifies, and one flipped bit breaks a right one", async () => {
  const keys = await AuthKeys.fromSecrets([new Uint8Array(32).fill(3)]);
  const challenge = newChallenge();
  const answer = await keys.answer(challenge);
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 64 }),
      fc.integer({ min: 0, max: MAC_BYTES * 8 - 1 }),
      async (random, bit) => {
        assert.equal(await keys.verify(challenge, random), false);
        const flipped = answer.slice();
        flipped[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(await keys.verify(challenge, flipped), false);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("AuthKeys.read names where a file stops being UTF-8, and not the byte, which may be a secret's", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.auth`;
    // A raw binary secret (head -c 32 /dev/urandom) written in place of its hex.
    const bytes = new TextEncoder().encode(`# mine\n${HEX_SECRET.slice(0, 10)}_\n`);
    bytes[bytes.indexOf(0x5f)] = 0xc7;
    await Deno.writeFile(path, bytes, { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    await assert.rejects(AuthKeys.read(path), (error: unknown) => {
      assert.ok(error instanceof AuthFileError);
      assert.equal(
        error.message,
        `${path}:2:11: not UTF-8 text; write a new one with 'kv secret'`,
      );
      return true;
    });
  });
});

Deno.test("AuthKeys.read refuses a file readable by group or others, one of 1 TiB, /dev/zero and a missing file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.auth`;
    await Deno.writeTextFile(path, HEX_SECRET + "\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    assert.equal((await AuthKeys.read(path)).secretCount, 1);
    await Deno.chmod(path, 0o644);
    await assert.rejects(
      AuthKeys.read(path),
      new RegExp(
        `^AuthFileError: ${path}: readable by group or others \\(mode 644\\); give a file readable by its owner only \\('chmod 600 ${path}' if it is yours\\)$`,
      ),
    );
    const huge = await sparseFile(`${dir}/huge`, 2 ** 40);
    await assert.rejects(
      AuthKeys.read(huge),
      new RegExp(
        `^AuthFileError: ${huge}: larger than 65536 bytes; an auth file holds secrets only$`,
      ),
    );
    await assert.rejects(
      AuthKeys.read("/dev/zero"),
      /^AuthFileError: \/dev\/zero: cannot read the auth file: it is a character device, not a regular file$/,
    );
    await assert.rejects(
      AuthKeys.read(`${dir}/missing`),
      /cannot read the auth file: No such file or directory/,
    );
  });
});
