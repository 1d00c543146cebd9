/**
 * The flags every client command shares for reaching secured servers — `--auth-file`
 * (or `KV_AUTH_FILE`) and `--tls-ca` — their help text, turning them into
 * {@link Credentials} with one-line errors, and the one line for credentials the
 * servers refuse.
 *
 * @example
 * ```ts
 * import { clientCredentials, SECURITY_FLAGS } from "./security_flags.ts";
 * import { parseFlags } from "./args.ts";
 * const { values } = parseFlags("broker", ["--auth-file", "kv.auth"], SECURITY_FLAGS);
 * const credentials = await clientCredentials("broker", values);
 * ```
 * @module
 */
import { type Credentials, CredentialsError, resolveCredentials } from "../protocol/credentials.ts";
import { CredentialsRefusedError, lineLead } from "../broker/server_pool.ts";
import { UserError } from "./user_error.ts";

/** Environment variable naming the auth file when `--auth-file` is not given. */
export const AUTH_FILE_ENV = "KV_AUTH_FILE";

/** The client's security flags, for `parseFlags`. */
export const SECURITY_FLAGS = {
  "auth-file": { type: "string" },
  "tls-ca": { type: "string" },
} as const;

/** Help lines for {@link SECURITY_FLAGS}, aligned with the other commands' flags. */
export const SECURITY_HELP =
  `      --auth-file FILE   prove to the servers that this client knows a secret of
                         FILE (its first line; 'kv secret -o FILE' writes one;
                         mode 600); default \$${AUTH_FILE_ENV}, else none
      --tls-ca FILE      connect with TLS, verifying the servers' certificates
                         (and host names) against the CA certificate in FILE
                         (PEM); default plain TCP`;

/**
 * The paths the flags (or `KV_AUTH_FILE`) name, unread, for commands that hand them to
 * the client library (`connect({ authFile, tlsCa })`); an empty `--auth-file` is a
 * UserError naming `kv <command>`.
 *
 * @example
 * ```ts
 * const { authFile, tlsCa } = securityPaths("bench", { "tls-ca": "ca.pem" });
 * ```
 */
export function securityPaths(
  command: string,
  values: { "auth-file"?: string; "tls-ca"?: string },
): { authFile: string | undefined; tlsCa: string | undefined } {
  const authFile = values["auth-file"] ?? authFileFromEnv();
  if (authFile === "") throw new UserError(`kv ${command}: --auth-file must not be empty`);
  return { authFile, tlsCa: values["tls-ca"] };
}

/**
 * Reads the files the flags (or `KV_AUTH_FILE`) name; a problem is a UserError naming
 * `kv <command>`.
 *
 * @example
 * ```ts
 * const credentials = await clientCredentials("get", { "auth-file": "kv.auth" });
 * ```
 */
export async function clientCredentials(
  command: string,
  values: { "auth-file"?: string; "tls-ca"?: string },
): Promise<Credentials> {
  try {
    return await resolveCredentials(securityPaths(command, values));
  } catch (error) {
    if (!(error instanceof CredentialsError)) throw error;
    throw new UserError(`kv ${command}: ${withAuthFileSource(error.message, values)}`);
  }
}

/**
 * `message`, a problem with a file the security flags name, followed by where the auth
 * file's path came from when the user did not type it: a stale `KV_AUTH_FILE` would
 * otherwise read as a file nobody asked for.
 *
 * @example
 * ```ts
 * // With KV_AUTH_FILE=old.auth and no --auth-file:
 * withAuthFileSource("old.auth: cannot read the auth file: No such file or directory", {});
 * // "old.auth: cannot read the auth file: No such file or directory (named by $KV_AUTH_FILE)"
 * ```
 */
export function withAuthFileSource(message: string, values: { "auth-file"?: string }): string {
  const fromEnv = values["auth-file"] === undefined ? authFileFromEnv() : undefined;
  const named = fromEnv !== undefined && message.startsWith(`${fromEnv}:`);
  return named ? `${message} (named by $${AUTH_FILE_ENV})` : message;
}

/**
 * `KV_AUTH_FILE`, when set and readable without asking for permission (for `kv http`,
 * which hands the path to the client library).
 *
 * @example
 * ```ts
 * import { parseFlags } from "./args.ts";
 * const { values } = parseFlags("broker", ["--auth-file", "kv.auth"], SECURITY_FLAGS);
 * const authFile = values["auth-file"] ?? authFileFromEnv();
 * ```
 */
export function authFileFromEnv(): string | undefined {
  const permission = Deno.permissions.querySync({ name: "env", variable: AUTH_FILE_ENV });
  if (permission.state !== "granted") return undefined;
  const value = Deno.env.get(AUTH_FILE_ENV);
  return value === "" ? undefined : value;
}

/**
 * The user's mistake `error` stands for when it is (or, from the client library, is
 * caused by) a CredentialsRefusedError: no server could be used and one refused the auth
 * file the flags (or `KV_AUTH_FILE`) name, or its lack, or had a certificate the CA of
 * `--tls-ca` did not sign, or one expired (or for another name), or spoke no TLS to
 * `--tls-ca`, or spoke TLS without it (kv's TLS server, or another), or was a kv server of
 * another protocol version (an older or newer kv), or was no kv server (an HTTP, SSH, Redis…
 * server's address in the server file). One line naming the server, the file (and where its
 * path came from) and the flag, certificate, kv to upgrade or server file line to fix;
 * undefined for any other error. Every client command maps the case through here, so all say
 * it alike.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./args.ts";
 * import { serverAddress } from "../broker/server_list.ts";
 * import { ServerPool } from "../broker/server_pool.ts";
 * const { values } = parseFlags("broker", ["--auth-file", "kv.auth"], SECURITY_FLAGS);
 * const credentials = await clientCredentials("repair", values);
 * const pool = new ServerPool([serverAddress("127.0.0.1", 8000)], { credentials });
 * await pool.start();
 * const mistake = credentialsRefusedError("repair", pool.credentialsRefused(), values);
 * // "kv repair: 127.0.0.1:8000 refused the secret in wrong.auth (AUTH_FAILED: …); give
 * // --auth-file a file holding one of the servers' secrets"
 * if (mistake !== undefined) throw mistake;
 * ```
 */
export function credentialsRefusedError(
  command: string,
  error: unknown,
  values: { "auth-file"?: string; "tls-ca"?: string },
): UserError | undefined {
  const refused = error instanceof CredentialsRefusedError
    ? error
    : error instanceof Error && error.cause instanceof CredentialsRefusedError
    ? error.cause
    : undefined;
  if (refused === undefined) return undefined;
  const { server, refusal } = refused;
  if (refusal.kind === "tls-needed") {
    // kv's own TLS server and any other TLS server answer a plain HELLO with the same alert.
    return new UserError(
      `kv ${command}: ${lineLead(refusal, refused.where)}${server} speaks TLS ` +
        `(${refusal.reason}); if it is a kv server with TLS (kv server --tls-cert), give ` +
        "--tls-ca the CA certificate that signed the servers' certificates; if not, list the " +
        "kv servers' own addresses in the server file",
    );
  }
  if (refusal.kind === "ca") {
    return new UserError(
      `kv ${command}: ${server} has a TLS certificate the CA in ${values["tls-ca"]} did not ` +
        `sign (${refusal.reason}); give --tls-ca the CA certificate that signed the servers' ` +
        "certificates",
    );
  }
  if (refusal.kind === "not-tls") {
    return new UserError(
      `kv ${command}: ${server} does not speak TLS (${refusal.reason}); the server is ` +
        "running: leave out --tls-ca to reach it over plain TCP, or give the server --tls-cert",
    );
  }
  // The server's certificate, the server file's line, or kv on one side (another protocol
  // version) is at fault, not a flag of this command; the message names the line.
  if (refusal.kind === "certificate" || refusal.kind === "not-kv" || refusal.kind === "version") {
    return new UserError(`kv ${command}: ${refused.message}`);
  }
  const authFile = values["auth-file"] ?? authFileFromEnv();
  if (authFile === undefined) {
    return new UserError(
      `kv ${command}: ${server} requires authentication and no auth file was given; ` +
        `give --auth-file FILE holding one of the servers' secrets (or set $${AUTH_FILE_ENV})`,
    );
  }
  const source = values["auth-file"] === undefined ? ` (named by $${AUTH_FILE_ENV})` : "";
  return new UserError(
    `kv ${command}: ${server} refused the secret in ${authFile}${source} ` +
      `(${refusal.reason}); give --auth-file a file holding one of the servers' secrets`,
  );
}
