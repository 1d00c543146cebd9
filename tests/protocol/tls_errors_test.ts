import assert from "node:assert/strict";
import { outputWithin } from "../helpers/wait.ts";
import { TlsDescriptorError, TlsUnsupportedError } from "../../lib/protocol/tls_errors.ts";

Deno.test("a Deno whose node:net lacks the TCP handle kv's TLS runs over gets a TlsUnsupportedError from the TLS context, saying which Deno to run, before any connection", async () => {
  // In a process of its own: the check's finding is kept for the process's life.
  const module = new URL("../../lib/protocol/tls_server.ts", import.meta.url).href;
  const script = `
    import process from "node:process";
    process.binding = () => ({});
    const { TlsServerContext } = await import(${JSON.stringify(module)});
    try {
      new TlsServerContext("cert", "key");
      console.log("made");
    } catch (error) {
      console.log(error.name + ": " + error.message);
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { code, stdout, stderr } = await outputWithin(child, { what: "the probe to exit" });
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  assert.equal(
    decoder.decode(stdout),
    `TlsUnsupportedError: ${new TlsUnsupportedError().message}\n`,
  );
  assert.match(new TlsUnsupportedError().message, /run kv with Deno 2\.9\.6/);
});

Deno.test("TlsDescriptorError names the native error code and what it most likely means", () => {
  const error = new TlsDescriptorError(24);
  assert.equal(error.name, "TlsDescriptorError");
  assert.match(error.message, /error 24; out of file descriptors\?/);
});
