/**
 * Shared-secret authentication for HELLO: HMAC-SHA-256 challenge–response
 * (WebCrypto), so a client proves it knows a secret without the secret ever
 * crossing the wire.
 *
 * The exchange, on a server started with an auth file:
 *
 * 1. client → HELLO, auth scheme {@link AUTH_HMAC_SHA256}, empty auth data;
 * 2. server → HELLO's challenge: an OK carrying the version and a
 *    {@link HELLO_CHALLENGE_BYTES}-byte random challenge, nothing about the server (a
 *    stranger learns no id or state);
 * 3. client → HELLO, same scheme, auth data = HMAC-SHA-256(secret, {@link AUTH_CONTEXT} ‖ challenge);
 * 4. server → HELLO's welcome, the OK with its limits, id and state: the connection is
 *    authenticated. A wrong answer gets ERROR `AUTH_FAILED` and the connection closes.
 *
 * A server without an auth file answers step 1 with the welcome. The challenge is fresh
 * per connection, so an answer cannot be replayed on another one.
 *
 * An auth file holds one secret per line — at least {@link MIN_SECRET_BYTES} random bytes
 * as hex or base64 (`kv secret` writes one) — with blank lines and `#` comments allowed,
 * on their own lines or after a secret.
 * A server accepts any of its secrets (so a new one can be added before the old one is
 * removed); a client answers with the first. The file must not be readable by group or
 * others.
 *
 * @example
 * ```ts
 * import { AuthKeys, newChallenge } from "./auth.ts";
 * const keys = await AuthKeys.fromSecrets([crypto.getRandomValues(new Uint8Array(32))]);
 * const challenge = newChallenge();
 * const answer = await keys.answer(challenge);
 * console.log(await keys.verify(challenge, answer)); // true
 * ```
 * @module
 */
import { bytesToHex } from "../base/bytes.ts";
import { describeFsError, exposedSecretFile } from "../base/fs_error.ts";
import {
  decodeUtf8Text,
  FileTooLargeError,
  NotUtf8Error,
  readFileBounded,
} from "../base/read_bounded.ts";
import { HELLO_CHALLENGE_BYTES } from "./mod.ts";

/** HELLO auth scheme: HMAC-SHA-256 over a server challenge. */
export const AUTH_HMAC_SHA256 = 1;

/** Bytes of an HMAC-SHA-256 answer. */
export const MAC_BYTES = 32;

/** Fewest bytes a secret may have: 256 bits, HMAC-SHA-256's strength. */
export const MIN_SECRET_BYTES = 32;

/** Most bytes a secret may have: a secret longer than a SHA-256 block buys nothing. */
export const MAX_SECRET_BYTES = 64;

/** Most secrets one auth file may hold (several allow rotation; each costs one HMAC). */
export const MAX_SECRETS = 16;

/** Largest auth file read, in bytes: room for the secrets and comments. */
export const MAX_AUTH_FILE_BYTES = 64 * 1024;

/** Bytes `kv secret` draws for a new secret. */
export const NEW_SECRET_BYTES = 32;

/**
 * Prefixed to the challenge before it is signed, so an answer means "kv HELLO" and
 * nothing else the same secret might ever sign.
 */
export const AUTH_CONTEXT: Uint8Array = new TextEncoder().encode("kv hello hmac-sha256 v1\0");

/**
 * An auth file that cannot be used; its message is one line saying what, where and what to do.
 *
 * @example
 * ```ts
 * try {
 *   parseAuthFile("# kv secret\n  abcd\n", "kv.auth");
 * } catch (error) {
 *   (error as AuthFileError).message;
 *   // "kv.auth:2:3: a secret of 2 bytes; it must have 32 to 64 random bytes (write one with 'kv secret')"
 * }
 * ```
 */
export class AuthFileError extends Error {
  /**
   * An error saying what in the auth file is wrong, where, and what to do.
   *
   * @param message one line: what was wrong, where (`file:line:col`), what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "AuthFileError";
  }
}

/**
 * The secrets of an auth file, imported as WebCrypto HMAC keys.
 *
 * @example
 * ```ts
 * const keys = await AuthKeys.read("/etc/kv/auth");
 * const answer = await keys.answer(newChallenge());
 * ```
 */
export class AuthKeys {
  readonly #keys: readonly CryptoKey[];

  private constructor(keys: readonly CryptoKey[]) {
    this.#keys = keys;
  }

  /**
   * Imports `secrets` (the first is the one a client answers with).
   *
   * @example
   * ```ts
   * const keys = await AuthKeys.fromSecrets([crypto.getRandomValues(new Uint8Array(32))]);
   * ```
   */
  static async fromSecrets(secrets: readonly Uint8Array[]): Promise<AuthKeys> {
    if (secrets.length === 0 || secrets.length > MAX_SECRETS) {
      throw new RangeError(`between 1 and ${MAX_SECRETS} secrets are needed: ${secrets.length}`);
    }
    const keys = await Promise.all(secrets.map((secret) => {
      if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
        throw new RangeError(
          `a secret has ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes: ${secret.length}`,
        );
      }
      return crypto.subtle.importKey(
        "raw",
        secret.slice(),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"],
      );
    }));
    return new AuthKeys(keys);
  }

  /**
   * Reads the auth file at `path` (bounded, permissions checked) and imports its secrets;
   * every problem is an {@link AuthFileError}.
   *
   * @example
   * ```ts
   * const keys = await AuthKeys.read("kv.auth");
   * ```
   */
  static async read(path: string): Promise<AuthKeys> {
    return await AuthKeys.fromSecrets(parseAuthFile(await readAuthFileText(path), path));
  }

  /** How many secrets are accepted. */
  get secretCount(): number {
    return this.#keys.length;
  }

  /**
   * The client's answer to `challenge`: HMAC-SHA-256 with the first secret.
   *
   * @example
   * ```ts
   * const keys = await AuthKeys.fromSecrets([crypto.getRandomValues(new Uint8Array(32))]);
   * const challenge = newChallenge();
   * const answer = await keys.answer(challenge); // 32 bytes
   * ```
   */
  async answer(challenge: Uint8Array): Promise<Uint8Array> {
    const mac = await crypto.subtle.sign("HMAC", this.#keys[0], signedBytes(challenge));
    return new Uint8Array(mac);
  }

  /**
   * Whether `answer` is the HMAC of `challenge` under any of the secrets (compared in
   * constant time by WebCrypto).
   *
   * @example
   * ```ts
   * const keys = await AuthKeys.fromSecrets([crypto.getRandomValues(new Uint8Array(32))]);
   * const challenge = newChallenge();
   * const answer = await keys.answer(challenge);
   * await keys.verify(challenge, answer); // true
   * await keys.verify(newChallenge(), answer); // false: an answer to another challenge
   * ```
   */
  async verify(challenge: Uint8Array, answer: Uint8Array): Promise<boolean> {
    if (answer.length !== MAC_BYTES) return false;
    const data = signedBytes(challenge);
    for (const key of this.#keys) {
      if (await crypto.subtle.verify("HMAC", key, answer.slice(), data)) return true;
    }
    return false;
  }
}

/**
 * A fresh random challenge of {@link HELLO_CHALLENGE_BYTES} bytes.
 *
 * @example
 * ```ts
 * const challenge = newChallenge();
 * ```
 */
export function newChallenge(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(HELLO_CHALLENGE_BYTES));
}

/**
 * A new secret as one auth-file line: {@link NEW_SECRET_BYTES} random bytes in hex.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("kv.auth", newSecretLine() + "\n", { mode: 0o600 });
 * ```
 */
export function newSecretLine(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(NEW_SECRET_BYTES));
  return bytesToHex(bytes);
}

/**
 * The secrets of an auth file's text; a bad line is an {@link AuthFileError} naming
 * `path:line:col`.
 *
 * @example
 * ```ts
 * parseAuthFile("# rotated 2026-12-01\n" + "ab".repeat(32) + "  # the old one\n", "kv.auth").length; // 1
 * ```
 */
export function parseAuthFile(text: string, path: string): Uint8Array[] {
  const secrets: Uint8Array[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].replace(/\r$/, "");
    // Neither hex nor base64 holds a '#': one starts a comment, on its own line or after a
    // secret ("…  # rotated 2026-12-01").
    const trimmed = line.replace(/#.*$/, "").trim();
    if (trimmed === "") continue;
    const where = `${path}:${index + 1}:${line.indexOf(trimmed) + 1}`;
    const secret = decodeSecret(trimmed);
    if (secret === undefined) {
      throw new AuthFileError(
        `${where}: not a secret (hex or base64); write one with 'kv secret'`,
      );
    }
    if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
      throw new AuthFileError(
        `${where}: a secret of ${secret.length} bytes; it must have ${MIN_SECRET_BYTES} to ` +
          `${MAX_SECRET_BYTES} random bytes (write one with 'kv secret')`,
      );
    }
    if (secrets.length === MAX_SECRETS) {
      throw new AuthFileError(`${where}: more than ${MAX_SECRETS} secrets; remove old ones`);
    }
    secrets.push(secret);
  }
  if (secrets.length === 0) {
    throw new AuthFileError(`${path}: no secret in the file; write one with 'kv secret -o FILE'`);
  }
  return secrets;
}

/** The bytes of a hex or base64 secret, or undefined when it is neither. */
function decodeSecret(text: string): Uint8Array | undefined {
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) {
    return Uint8Array.from(
      { length: text.length / 2 },
      (_, i) => parseInt(text.slice(i * 2, i * 2 + 2), 16),
    );
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  }
  return undefined;
}

async function readAuthFileText(path: string): Promise<string> {
  const cannotRead = (reason: string) => new AuthFileError(`${path}: ${reason}`);
  let info: Deno.FileInfo;
  let bytes: Uint8Array;
  try {
    info = await Deno.stat(path);
    bytes = await readFileBounded(path, MAX_AUTH_FILE_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw cannotRead(`larger than ${MAX_AUTH_FILE_BYTES} bytes; an auth file holds secrets only`);
    }
    throw cannotRead(`cannot read the auth file: ${describeFsError(error)}`);
  }
  const exposed = exposedSecretFile(path, info);
  if (exposed !== undefined) throw cannotRead(exposed);
  try {
    return decodeUtf8Text(bytes);
  } catch (error) {
    if (!(error instanceof NotUtf8Error)) throw error;
    // Where, not the byte: it may be a secret's.
    throw new AuthFileError(
      `${path}:${error.line}:${error.column}: not UTF-8 text; write a new one with 'kv secret'`,
    );
  }
}

function signedBytes(challenge: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(AUTH_CONTEXT.length + challenge.length);
  bytes.set(AUTH_CONTEXT);
  bytes.set(challenge, AUTH_CONTEXT.length);
  return bytes;
}
