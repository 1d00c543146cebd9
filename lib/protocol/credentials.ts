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
import { invariant } from "../base/invariant.ts";
import { describeFsError, exposedSecretFile } from "../base/fs_error.ts";
import { FileTooLargeError, readFileBounded } from "../base/read_bounded.ts";
import { AuthFileError, AuthKeys } from "./auth.ts";

/**
 * node:crypto's X.509 and key readers, imported at the first PEM file read: importing it at
 * start cost every `kv server` about 20 ms of CPU (a third of its start; README, Tests),
 * and most kv processes read no PEM file.
 */
function nodeCrypto(): Promise<typeof import("node:crypto")> {
  return import("node:crypto");
}

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
  /** An error saying what in the credential file is wrong, where, and what to do. */
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
 * The text of a PEM file holding at least one `kind` section (`CERTIFICATE`, `PRIVATE KEY`),
 * read with a bound and checked whole: every section ends, its body is base64, and each
 * certificate or key in it parses (node:crypto's X.509 and key readers). A
 * {@link CredentialsError} otherwise, naming the file and line: TLS itself would refuse it
 * only at the first connection, in words a client takes for a server that is down.
 *
 * @example
 * ```ts
 * const cert = await readPemFile("server.pem", "CERTIFICATE");
 * ```
 */
export async function readPemFile(path: string, kind: PemKind): Promise<string> {
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
      throw new CredentialsError(
        `${path}: not a PEM file (not text); if it is DER, convert it: openssl ` +
          `${DER_CONVERTER[kind]} -inform der -in ${path} -out ${path}.pem`,
      );
    }
    const what = `${kind.toLowerCase()} file`;
    throw new CredentialsError(`${path}: cannot read the ${what}: ${describeFsError(error)}`);
  }
  const sections = pemSections(path, text).filter((section) => section.label.endsWith(kind));
  if (sections.length === 0) {
    throw new CredentialsError(
      `${path}: no ${kind} in it; give a PEM file (-----BEGIN ${kind}-----)`,
    );
  }
  const crypto = await nodeCrypto();
  for (const section of sections) checkPemSection(crypto, path, kind, section);
  return text;
}

/** The kinds of PEM section {@link readPemFile} reads. */
export type PemKind = "CERTIFICATE" | "PRIVATE KEY";

/** The openssl command that writes a DER file of each kind as PEM. */
const DER_CONVERTER: Readonly<Record<PemKind, string>> = {
  CERTIFICATE: "x509",
  "PRIVATE KEY": "pkey",
};

/**
 * What a server (`kv server`, `kv http`) warns at start about the first certificate of
 * `cert` (PEM, as {@link readCertAndKey} returns it: the server's own, from `certPath`):
 * that it has expired, or that it names no host (no subjectAltName). The server
 * still serves it (a certificate may expire while it runs too), but no client accepts it:
 * said at start, it is not first met as every client's refusal. Empty while it is fine.
 *
 * @example
 * ```ts
 * const { cert } = await readCertAndKey("server.pem", "server.key");
 * for (const warning of await certificateWarnings("server.pem", cert)) console.warn(warning);
 * ```
 */
export async function certificateWarnings(
  certPath: string,
  cert: string,
): Promise<string[]> {
  const [leaf] = pemSections(certPath, cert).filter((section) => section.label === "CERTIFICATE");
  invariant(leaf !== undefined, "a certificate file read holds a certificate");
  const { X509Certificate } = await nodeCrypto();
  const certificate = new X509Certificate(leaf.der);
  const warnings: string[] = [];
  if (certificate.validToDate < new Date()) {
    warnings.push(
      `--tls-cert ${certPath}: its certificate expired on ` +
        `${certificate.validToDate.toISOString()}; clients refuse it: give a valid one`,
    );
  }
  // rustls (kv's clients) and browsers match a host against subjectAltName alone, never
  // the CN: one made without it (openssl x509 -req with no -extfile) fits no host.
  if (certificate.subjectAltName === undefined) {
    warnings.push(
      `--tls-cert ${certPath}: its certificate has no subjectAltName, so it names no host ` +
        `(clients ignore its CN, ${certificate.subject.replaceAll("\n", ", ")}); clients ` +
        "refuse it: sign one with subjectAltName=DNS:HOST or IP:ADDRESS, as README's " +
        "Security section shows",
    );
  }
  return warnings;
}

/**
 * The certificate chain and private key a TLS listener serves (`--tls-cert`, `--tls-key`),
 * read and checked by {@link readPemFile}, and checked to belong together: a key of
 * another certificate is a {@link CredentialsError} naming both files. A key file readable
 * by group or others is one too, as an auth file is: whoever reads it can pose as the
 * server.
 *
 * @example
 * ```ts
 * const { cert, key } = await readCertAndKey("server.pem", "server.key");
 * ```
 */
export async function readCertAndKey(
  certPath: string,
  keyPath: string,
): Promise<{ cert: string; key: string }> {
  const cert = await readPemFile(certPath, "CERTIFICATE");
  const key = await readPemFile(keyPath, "PRIVATE KEY");
  const info = await Deno.stat(keyPath).catch((error) => {
    throw new CredentialsError(
      `${keyPath}: cannot read the private key file: ${describeFsError(error)}`,
    );
  });
  const exposed = exposedSecretFile(keyPath, info);
  if (exposed !== undefined) {
    throw new CredentialsError(`${keyPath}: the TLS private key is ${exposed}`);
  }
  // The first certificate of a chain is the server's own: the key must be its key.
  const [leaf] = pemSections(certPath, cert).filter((section) => section.label === "CERTIFICATE");
  const [secret] = pemSections(keyPath, key).filter((section) =>
    section.label.endsWith("PRIVATE KEY")
  );
  const { createPrivateKey, X509Certificate } = await nodeCrypto();
  let matches: boolean;
  try {
    matches = new X509Certificate(leaf.der).checkPrivateKey(createPrivateKey(secret.pem));
  } catch {
    // A key type the check does not know: TLS itself will tell.
    return { cert, key };
  }
  if (!matches) {
    throw new CredentialsError(
      `${keyPath} is not the private key of the certificate in ${certPath}; give --tls-key ` +
        `the key that certificate was made for, or --tls-cert the certificate of this key`,
    );
  }
  return { cert, key };
}

/** One `-----BEGIN LABEL-----` … `-----END LABEL-----` section of a PEM file. */
interface PemSection {
  readonly label: string;
  /** Line of the BEGIN, from 1. */
  readonly line: number;
  /** The body decoded. */
  readonly der: Uint8Array;
  /** The section's own text, BEGIN to END. */
  readonly pem: string;
}

const PEM_BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const PEM_END = /^-----END ([A-Z0-9 ]+)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every section of a PEM file, in order; text outside sections (openssl's `-text`
 * output, comments) is allowed, as PEM readers allow it. A section without its END, a body
 * line that is no base64 (an encrypted key's headers included) or a stray END is a
 * {@link CredentialsError}.
 */
function pemSections(path: string, text: string): PemSection[] {
  const lines = text.split("\n").map((line) => line.trim());
  const sections: PemSection[] = [];
  for (let index = 0; index < lines.length; index++) {
    const stray = PEM_END.exec(lines[index]);
    if (stray !== null) {
      throw new CredentialsError(
        `${path}:${index + 1}: -----END ${stray[1]}----- without its BEGIN; give the whole ` +
          `PEM file`,
      );
    }
    const begin = PEM_BEGIN.exec(lines[index]);
    if (begin === null) continue;
    const label = begin[1];
    const end = lines.indexOf(`-----END ${label}-----`, index + 1);
    const next = lines.findIndex((line, at) => at > index && PEM_BEGIN.test(line));
    if (end < 0 || (next >= 0 && next < end)) {
      throw new CredentialsError(
        `${path}:${index + 1}: -----BEGIN ${label}----- has no -----END ${label}----- after ` +
          `it (the file is cut short?); give the whole PEM file`,
      );
    }
    const body = lines.slice(index + 1, end);
    const bad = body.findIndex((line) => !BASE64_LINE.test(line));
    if (bad >= 0) {
      const why = body[bad].includes(":")
        ? "an encrypted key's header: kv needs the key unencrypted (openssl pkey -in KEY)"
        : "not base64";
      throw new CredentialsError(`${path}:${index + 2 + bad}: ${why}; give the whole PEM file`);
    }
    const der = decodeBase64(body.join(""));
    if (der === undefined || der.length === 0) {
      throw new CredentialsError(
        `${path}:${index + 1}: the ${label} section is not valid base64; give the whole PEM file`,
      );
    }
    sections.push({ label, line: index + 1, der, pem: lines.slice(index, end + 1).join("\n") });
    index = end;
  }
  return sections;
}

/** Parses one section as what it says it is; a {@link CredentialsError} when it does not. */
function checkPemSection(
  crypto: typeof import("node:crypto"),
  path: string,
  kind: PemKind,
  section: PemSection,
): void {
  if (section.label === "ENCRYPTED PRIVATE KEY") {
    throw new CredentialsError(
      `${path}:${section.line}: the private key is encrypted; kv needs it unencrypted ` +
        `(openssl pkey -in KEY -out PLAIN.key)`,
    );
  }
  try {
    if (kind === "CERTIFICATE") new crypto.X509Certificate(section.der);
    else crypto.createPrivateKey(section.pem);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new CredentialsError(
      `${path}:${section.line}: the ${section.label} does not parse (${reason}); give the ` +
        `whole PEM file, as it was made`,
    );
  }
}

/** `text` decoded from base64, or undefined when it is not base64. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
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
  /** Which refusal it is (see {@link TlsRefusal}). */
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
