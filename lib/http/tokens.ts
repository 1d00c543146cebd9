/**
 * Bearer tokens for `kv http --tokens-file`: the file lists the tokens
 * accepted, one a line (blank lines and `#` comments ignored), each of visible ASCII (what
 * a header can carry), and must not be readable by group or others, as an auth file; a
 * request must carry `Authorization: Bearer <token>` with one of them. Tokens are compared
 * by their SHA-256 digests in constant time, so a wrong guess learns nothing
 * from how long the refusal took.
 *
 * @example
 * ```ts
 * import { BearerTokens } from "./tokens.ts";
 * const request = new Request("http://localhost/v1/records/person1", {
 *   headers: { Authorization: "Bearer 0123456789abcdef" },
 * });
 * const tokens = await BearerTokens.read("tokens.txt");
 * await tokens.check(request.headers.get("Authorization")); // "allowed", or why not
 * ```
 * @module
 */
import { describeFsError, exposedSecretFile } from "../base/fs_error.ts";
import { FileTooLargeError, NotUtf8Error, readTextFileBounded } from "../base/read_bounded.ts";
import { oneLine } from "../record/key.ts";

/** Shortest token accepted: 16 characters leave no room for guessing. */
export const MIN_TOKEN_LENGTH = 16;
/** Most tokens one file may list. */
export const MAX_TOKENS = 1024;
/** Largest tokens file read, in bytes. */
export const MAX_TOKENS_FILE_BYTES = 1024 * 1024;

/**
 * A tokens file that cannot be used; the message says what, where and what to do.
 * `kv http` reports it in one line and exits 2.
 *
 * @example
 * ```ts
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "# tokens\nsecret\n");
 * try {
 *   await BearerTokens.read(path);
 * } catch (error) {
 *   (error as TokensFileError).message; // "/tmp/…:2: a token is at least 16 characters without
 *   // spaces (e.g. the output of 'openssl rand -hex 32')"
 * }
 * ```
 */
export class TokensFileError extends Error {
  /**
   * Makes the error.
   *
   * @param message one line: what, where (`file:line`), what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "TokensFileError";
  }
}

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Whether two digests are equal, looking at every byte whatever the first difference. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/**
 * What {@link BearerTokens.check} found in an `Authorization` header: a listed token
 * (`allowed`), no header or no token in it (`missing`), credentials of a scheme other than
 * Bearer (`other-scheme`), or a bearer token that is not listed (`invalid`).
 */
export type TokenCheck = "allowed" | "missing" | "other-scheme" | "invalid";

/**
 * The tokens of one file, as digests.
 *
 * @example
 * ```ts
 * const tokens = await BearerTokens.read("tokens.txt");
 * ```
 */
export class BearerTokens {
  readonly #digests: readonly Uint8Array[];

  private constructor(digests: Uint8Array[]) {
    this.#digests = digests;
  }

  /**
   * Reads and checks a tokens file; every problem is a {@link TokensFileError}.
   *
   * @example
   * ```ts
   * const tokens = await BearerTokens.read("tokens.txt");
   * ```
   */
  static async read(path: string): Promise<BearerTokens> {
    let text: string;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
      // Read with a bound, not sized by stat: a file that grows between the two would be
      // read whole. A FIFO or a device is refused before it is opened (readTextFileBounded).
      text = await readTextFileBounded(path, MAX_TOKENS_FILE_BYTES);
    } catch (error) {
      if (error instanceof FileTooLargeError) {
        throw new TokensFileError(
          `${path}: tokens file larger than ${MAX_TOKENS_FILE_BYTES} bytes; a tokens file ` +
            "holds tokens only, one a line",
        );
      }
      if (error instanceof NotUtf8Error) {
        // Where, not the byte: it may be a token's.
        throw new TokensFileError(
          `${path}:${error.line}:${error.column}: not UTF-8 text; save the tokens file as UTF-8`,
        );
      }
      const reason = describeFsError(error);
      throw new TokensFileError(`${path}: cannot read the tokens file: ${reason}`);
    }
    // Tokens are as secret as the auth file's secrets: refused alike when others may read them.
    const exposed = exposedSecretFile(path, info);
    if (exposed !== undefined) throw new TokensFileError(`${path}: ${exposed}`);
    const tokens: string[] = [];
    text.split(/\r?\n/).forEach((line, index) => {
      const token = line.trim();
      if (token === "" || token.startsWith("#")) return;
      const where = (at: number) => `${path}:${index + 1}:${line.indexOf(token) + at + 1}`;
      if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        throw new TokensFileError(
          `${where(0)}: a token is at least ${MIN_TOKEN_LENGTH} characters without ` +
            `spaces (e.g. the output of 'openssl rand -hex 32')`,
        );
      }
      // An Authorization header carries visible ASCII only: any other token never matches.
      const foreign = token.search(/[^\x21-\x7e]/);
      if (foreign >= 0) {
        throw new TokensFileError(
          `${where(foreign)}: '${
            oneLine(String.fromCodePoint(token.codePointAt(foreign)!))
          }' in a ` +
            `token, which no HTTP header can carry; a token is visible ASCII only (e.g. the ` +
            `output of 'openssl rand -hex 32')`,
        );
      }
      tokens.push(token);
    });
    if (tokens.length === 0) throw new TokensFileError(`${path}: lists no tokens`);
    if (tokens.length > MAX_TOKENS) {
      throw new TokensFileError(`${path}: lists more than ${MAX_TOKENS} tokens`);
    }
    return new BearerTokens(await Promise.all(tokens.map(digest)));
  }

  /**
   * Whether an `Authorization` header value carries one of the tokens, and if not, why: a
   * client told "missing" when it sent a token that is no longer listed looks for the
   * fault in the wrong place. The answer says nothing of the listed tokens: "invalid" is any
   * bearer token not listed, found by comparing its digest with every one in constant time.
   *
   * @example
   * ```ts
   * const tokens = await BearerTokens.read("tokens.txt");
   * await tokens.check("Bearer 0123456789abcdef"); // "allowed" when the file lists it
   * await tokens.check(null); // "missing"
   * await tokens.check("Basic dXNlcjpwYXNz"); // "other-scheme"
   * ```
   */
  async check(authorization: string | null): Promise<TokenCheck> {
    const header = (authorization ?? "").trim();
    if (header === "" || /^Bearer$/i.test(header)) return "missing";
    if (!/^Bearer[ \t]/i.test(header)) return "other-scheme";
    const offered = await digest(header.slice("Bearer".length).trim());
    let allowed = false;
    for (const known of this.#digests) allowed = sameDigest(known, offered) || allowed;
    return allowed ? "allowed" : "invalid";
  }
}
