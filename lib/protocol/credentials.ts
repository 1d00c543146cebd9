/**
 * What a client needs to reach servers that require authentication or speak TLS, from
 * the two paths a user gives (`--auth-file`, `--tls-ca`): read once, checked, and then
 * passed to every connection.
 *
 * @example
 * ```ts
 * import { resolveCredentials } from "./credentials.ts";
 * const credentials = await resolveCredentials({ authFile: "kv.auth", tlsCa: "ca.pem" });
 * ```
 * @module
 */
import { describeFsError } from "../base/fs_error.ts";
import { FileTooLargeError, readFileBounded } from "../base/read_bounded.ts";
import { AuthFileError, AuthKeys } from "./auth.ts";

/** Largest PEM file (CA, certificate or key) read, in bytes. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** The paths a user gives for authentication and TLS; each absent means "not used". */
export interface SecurityOptions {
  /** Auth file whose first secret answers the servers' challenge; default none. */
  authFile?: string;
  /** PEM file of the CA that signed the servers' certificates: connect with TLS; default plain TCP. */
  tlsCa?: string;
}

/** {@link SecurityOptions} read and checked, ready for every connection. */
export interface Credentials {
  /** Proves the client knows a secret in HELLO; absent: no authentication. */
  readonly auth?: AuthKeys;
  /** CA certificates (PEM) to verify servers by; absent: plain TCP. */
  readonly tlsCaCerts?: readonly string[];
}

/**
 * A credential file that cannot be used: one line saying what, where and what to do.
 *
 * @example
 * ```ts
 * try {
 *   await readPemFile("deno.json", "CERTIFICATE");
 * } catch (error) {
 *   (error as CredentialsError).message;
 *   // "deno.json: no CERTIFICATE in it; give a PEM file (-----BEGIN CERTIFICATE-----)"
 * }
 * ```
 */
export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialsError";
  }
}

/**
 * Reads the files `options` names; every problem is a {@link CredentialsError}.
 *
 * @example
 * ```ts
 * const credentials = await resolveCredentials({}); // {}: plain TCP, no authentication
 * ```
 */
export async function resolveCredentials(options: SecurityOptions): Promise<Credentials> {
  const credentials: { auth?: AuthKeys; tlsCaCerts?: string[] } = {};
  if (options.authFile !== undefined) {
    try {
      credentials.auth = await AuthKeys.read(options.authFile);
    } catch (error) {
      if (error instanceof AuthFileError) throw new CredentialsError(error.message);
      throw error;
    }
  }
  if (options.tlsCa !== undefined) {
    credentials.tlsCaCerts = [await readPemFile(options.tlsCa, "CERTIFICATE")];
  }
  return credentials;
}

/**
 * The text of a PEM file holding at least one `kind` block (`CERTIFICATE`, `PRIVATE KEY`),
 * read with a bound; a {@link CredentialsError} otherwise.
 *
 * @example
 * ```ts
 * const cert = await readPemFile("server.pem", "CERTIFICATE");
 * ```
 */
export async function readPemFile(path: string, kind: string): Promise<string> {
  let text: string;
  try {
    const bytes = await readFileBounded(path, MAX_PEM_FILE_BYTES);
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new CredentialsError(
        `${path}: larger than ${MAX_PEM_FILE_BYTES} bytes; not a PEM file`,
      );
    }
    if (error instanceof TypeError) {
      throw new CredentialsError(`${path}: not a PEM file (not text)`);
    }
    const what = `${kind.toLowerCase()} file`;
    throw new CredentialsError(`${path}: cannot read the ${what}: ${describeFsError(error)}`);
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(text)) {
    throw new CredentialsError(
      `${path}: no ${kind} in it; give a PEM file (-----BEGIN ${kind}-----)`,
    );
  }
  return text;
}

/**
 * A TLS connection that failed in a way reconnecting cannot mend. `"ca"`: the server's
 * certificate was signed by no CA the client was given (its `--tls-ca`, `tlsCa`, is not
 * the servers' CA, or the certificate is not the cluster's). `"certificate"`: the
 * certificate is refused for itself — expired, not yet valid, or not for the name the
 * client used. `"not-tls"`: the server answered the handshake with bytes that are no TLS
 * (a server run without a certificate). `"tls-needed"`: the other way round, a client
 * without TLS got a TLS alert in answer to its HELLO ({@link TLS_ALERT_ANSWER}).
 *
 * @example
 * ```ts
 * const refusal: TlsRefusal = { kind: "certificate", reason: "invalid peer certificate: Expired" };
 * ```
 */
export interface TlsRefusal {
  readonly kind: "ca" | "certificate" | "not-tls" | "tls-needed";
  /** TLS's own words (rustls's, as Deno reports them). */
  readonly reason: string;
}

/**
 * What a plain-TCP client's connection error says when the server answered its HELLO with
 * a TLS alert record (lib/protocol/client.ts): the server speaks TLS.
 */
export const TLS_ALERT_ANSWER = "it answered a plain HELLO with a TLS alert";

/** TLS's words for each {@link TlsRefusal}, first match wins; the match is the reason. */
const TLS_REFUSALS: readonly (readonly [RegExp, TlsRefusal["kind"]])[] = [
  [/invalid peer certificate: UnknownIssuer/, "ca"],
  [/invalid peer certificate: [^\n]*/, "certificate"],
  [/received corrupt message[^\n]*/, "not-tls"],
  [new RegExp(TLS_ALERT_ANSWER), "tls-needed"],
];

/**
 * How TLS refused the connection `error` (a connection failure) or its cause stands for,
 * when reconnecting cannot mend it (see {@link TlsRefusal}); undefined for any other failure.
 *
 * @example
 * ```ts
 * tlsRefusal(new Error("x", { cause: new Error("invalid peer certificate: UnknownIssuer") }));
 * // { kind: "ca", reason: "invalid peer certificate: UnknownIssuer" }
 * tlsRefusal(new Error("Connection refused")); // undefined
 * ```
 */
export function tlsRefusal(error: unknown): TlsRefusal | undefined {
  for (const cause of [error, error instanceof Error ? error.cause : undefined]) {
    if (!(cause instanceof Error)) continue;
    for (const [words, kind] of TLS_REFUSALS) {
      const match = words.exec(cause.message);
      if (match !== null) return { kind, reason: match[0] };
    }
  }
  return undefined;
}
