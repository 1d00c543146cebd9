/**
 * Test certificates made on the spot with openssl: a CA, a server certificate it signed
 * for `localhost` and 127.0.0.1, an expired one, and a second CA that signed the same
 * certificate again (a server of another cluster). Tests that need them are ignored, with the reason, where openssl is absent
 * (`.ci/run` installs it from Debian's packages).
 *
 * @example
 * ```ts
 * import { HAS_OPENSSL, makeTestCerts } from "./tls_certs.ts";
 * if (HAS_OPENSSL) {
 *   const certs = await makeTestCerts(dir);
 *   console.log(certs.caPem);
 * }
 * ```
 * @module
 */
import { outputWithin } from "./wait.ts";
import { withTempDir } from "./fixtures.ts";

/** Whether `openssl` can be run here. */
export const HAS_OPENSSL: boolean = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Paths of the files {@link makeTestCerts} writes. */
export interface TestCerts {
  /** The CA that signed the server's certificates (PEM). */
  caPem: string;
  /** Another CA, which signed neither (PEM). */
  otherCaPem: string;
  /** The server's certificate as the other CA signed it: for a server of another cluster. */
  otherServerPem: string;
  /** A server certificate for localhost and 127.0.0.1, valid for two days. */
  serverPem: string;
  /** The same, expired since yesterday. */
  expiredPem: string;
  /** The same key signed with no subjectAltName (only its CN, localhost): it names no host. */
  namelessPem: string;
  /** The private key of both server certificates. */
  serverKey: string;
}

/**
 * Declares the test `name`, which runs `fn` with fresh test certificates in a temporary
 * directory, removed after it; ignored, saying why, where openssl is absent.
 *
 * @example
 * ```ts
 * tlsTest("a TLS server answers a client trusting its CA", async (certs, dir) => {
 *   await Deno.writeTextFile(`${dir}/servers`, "localhost 1\n");
 * });
 * ```
 */
export function tlsTest(name: string, fn: (certs: TestCerts, dir: string) => Promise<void>): void {
  Deno.test({
    name: HAS_OPENSSL ? name : `${name} (ignored: openssl is not installed; .ci/run installs it)`,
    ignore: !HAS_OPENSSL,
    fn: () => withTempDir(async (dir) => await fn(await makeTestCerts(dir), dir)),
  });
}

/**
 * The flags that serve `certs`' valid server certificate (`kv server`, `kv http`).
 *
 * @example
 * ```ts
 * await HttpProcess.onCluster(1, serverTlsFlags(await makeTestCerts(dir)));
 * ```
 */
export function serverTlsFlags(certs: TestCerts): string[] {
  return ["--tls-cert", certs.serverPem, "--tls-key", certs.serverKey];
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const child = new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const output = await outputWithin(child, { what: `openssl ${args[0]}` });
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/**
 * Writes a CA, a second CA and two server certificates (valid and expired) into `dir`.
 *
 * @example
 * ```ts
 * const { caPem, serverPem, serverKey } = await makeTestCerts(dir);
 * ```
 */
export async function makeTestCerts(dir: string): Promise<TestCerts> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const ca = (name: string) =>
    openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=kv test ${name}`,
    ]);
  await ca("ca");
  await ca("other-ca");
  await openssl(dir, [
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  const sign = (out: string, days: string, ca = "ca", extensions = ["-extfile", "ext.cnf"]) =>
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-out",
      out,
      "-days",
      days,
      ...extensions,
    ]);
  await sign("server.pem", "2");
  // A negative validity: not after is a day before not before, so it is expired now.
  await sign("expired.pem", "-1");
  await sign("other-server.pem", "2", "other-ca");
  await sign("nameless.pem", "2", "ca", []);
  // Private keys are their owner's only, as kv server and kv http require of --tls-key:
  // openssl 3 writes them so, an older one with the umask.
  for (const key of ["ca.key", "other-ca.key", "server.key"]) {
    await Deno.chmod(`${dir}/${key}`, 0o600);
  }
  return {
    caPem: `${dir}/ca.pem`,
    otherCaPem: `${dir}/other-ca.pem`,
    otherServerPem: `${dir}/other-server.pem`,
    serverPem: `${dir}/server.pem`,
    expiredPem: `${dir}/expired.pem`,
    namelessPem: `${dir}/nameless.pem`,
    serverKey: `${dir}/server.key`,
  };
}
