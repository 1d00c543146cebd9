import assert from "node:assert/strict";
import { tlsTest } from "../helpers/tls_certs.ts";
import {
  CredentialsError,
  readCertAndKey,
  readPemFile,
  resolveCredentials,
} from "../../lib/protocol/credentials.ts";

/** The CredentialsError message reading `path` as `kind` gives; fails when it reads. */
async function refusal(path: string, kind: "CERTIFICATE" | "PRIVATE KEY"): Promise<string> {
  try {
    await readPemFile(path, kind);
  } catch (error) {
    assert.ok(error instanceof CredentialsError, String(error));
    return error.message;
  }
  assert.fail(`${path} was read as a ${kind}`);
}

tlsTest(
  "PEM files: a certificate, a chain and a key as openssl writes them are read",
  async (certs, dir) => {
    const chain = `${dir}/chain.pem`;
    await Deno.writeTextFile(
      chain,
      "server and CA\n" + await Deno.readTextFile(certs.serverPem) +
        await Deno.readTextFile(certs.caPem),
    );
    assert.match(await readPemFile(chain, "CERTIFICATE"), /BEGIN CERTIFICATE/);
    assert.match(await readPemFile(certs.serverKey, "PRIVATE KEY"), /PRIVATE KEY/);
    const credentials = await resolveCredentials({ tlsCa: certs.caPem });
    assert.equal(credentials.tlsCaCerts?.length, 1);
    const served = await readCertAndKey(chain, certs.serverKey);
    assert.equal(served.key, await Deno.readTextFile(certs.serverKey));
  },
);

tlsTest(
  "PEM files: a cut short, non-base64 or unparsable section is refused at load, naming the file and line",
  async (certs, dir) => {
    const pem = await Deno.readTextFile(certs.serverPem);
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    };
    const truncated = await write("truncated.pem", pem.slice(0, 500));
    assert.equal(
      await refusal(truncated, "CERTIFICATE"),
      `${truncated}:1: -----BEGIN CERTIFICATE----- has no -----END CERTIFICATE----- after it ` +
        "(the file is cut short?); give the whole PEM file",
    );
    // The chain's second certificate cut short: the first's END does not cover it.
    const secondCut = await write("second.pem", pem + pem.slice(0, 300));
    assert.match(await refusal(secondCut, "CERTIFICATE"), /second\.pem:\d+: -----BEGIN CERT/);
    const lines = pem.split("\n");
    const notBase64 = await write(
      "not-base64.pem",
      [lines[0], "abc!", ...lines.slice(1)].join("\n"),
    );
    assert.equal(
      await refusal(notBase64, "CERTIFICATE"),
      `${notBase64}:2: not base64; give the whole PEM file`,
    );
    const garbled = await write("garbled.pem", pem.replace(/\nM/, "\nN"));
    assert.match(
      await refusal(garbled, "CERTIFICATE"),
      /^\S+garbled\.pem:1: the CERTIFICATE does not parse \(.+\); give the whole PEM file, as it was made$/,
    );
    const strayEnd = await write("stray.pem", pem + "-----END CERTIFICATE-----\n");
    assert.match(
      await refusal(strayEnd, "CERTIFICATE"),
      /stray\.pem:\d+: -----END CERT.* without/,
    );
    const key = await Deno.readTextFile(certs.serverKey);
    const keyCut = await write("cut.key", key.slice(0, 100));
    assert.match(await refusal(keyCut, "PRIVATE KEY"), /cut\.key:1: -----BEGIN PRIVATE KEY/);
    const encrypted = await write(
      "encrypted.key",
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    assert.match(await refusal(encrypted, "PRIVATE KEY"), /encrypted; kv needs it unencrypted/);
    // DER, the other encoding openssl writes: the refusal says how to convert it.
    const der = await write("server.der", "");
    await Deno.writeFile(der, new Uint8Array([0x30, 0x82, 0x01, 0xff, 0xa0, 0x03]));
    assert.equal(
      await refusal(der, "CERTIFICATE"),
      `${der}: not a PEM file (not text); if it is DER, convert it: openssl x509 -inform der ` +
        `-in ${der} -out ${der}.pem`,
    );
    assert.equal(
      await refusal(der, "PRIVATE KEY"),
      `${der}: not a PEM file (not text); if it is DER, convert it: openssl pkey -inform der ` +
        `-in ${der} -out ${der}.pem`,
    );
    // As a client's --tls-ca: refused before any connection, not taken for a server down.
    await assert.rejects(resolveCredentials({ tlsCa: truncated }), CredentialsError);
  },
);

tlsTest(
  "a private key readable by group or others is refused, naming chmod 600, as an auth file is",
  async (certs) => {
    await readCertAndKey(certs.serverPem, certs.serverKey);
    for (const mode of [0o644, 0o604, 0o640]) {
      await Deno.chmod(certs.serverKey, mode);
      const expected =
        `${certs.serverKey}: the TLS private key is readable by group or others (mode ` +
        `${
          mode.toString(8)
        }); give a file readable by its owner only ('chmod 600 ${certs.serverKey}' if it is yours)`;
      // A function, not a third argument: node:assert takes a string there as the message
      // to fail with, so the error's own message went unchecked.
      await assert.rejects(readCertAndKey(certs.serverPem, certs.serverKey), (error) => {
        assert.ok(error instanceof CredentialsError);
        assert.equal(error.message, expected);
        return true;
      });
    }
  },
);

tlsTest(
  "PEM files: a key that is not the certificate's is refused, naming both files and the flags",
  async (certs, dir) => {
    const otherKey = `${dir}/ca.key`;
    await assert.rejects(readCertAndKey(certs.serverPem, otherKey), (error: Error) => {
      assert.ok(error instanceof CredentialsError);
      assert.equal(
        error.message,
        `${otherKey} is not the private key of the certificate in ${certs.serverPem}; give ` +
          "--tls-key the key that certificate was made for, or --tls-cert the certificate " +
          "of this key",
      );
      return true;
    });
  },
);
