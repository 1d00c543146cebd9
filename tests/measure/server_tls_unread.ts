/**
 * What a TLS client that stops reading can make a `kv server --tls-cert` hold: once its
 * handshake is done the client reads no more from TCP, asks for {@link ANSWER_MIB} MiB of
 * answers (the server's write to it then waits on the full TCP window, and it reads no
 * request meanwhile), and sends PINGs until a write stays pending {@link STALL_MS} ms or
 * {@link SEND_MIB} MiB went out. Prints what the client sent and the server's RSS. A server
 * whose TLS reads its connection only as its plain bytes are read stops the client at the
 * sockets' buffers, as a plain connection does; before b8c6bf0, `node:tls` read all of it.
 * A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/server_tls_unread.ts [main.ts]   # this checkout's by default
 * ```
 * @module
 */
import tls from "node:tls";
import { denoRunArgs, ServerProcess } from "../../lib/cli/server_process.ts";
import { FrameWriter } from "../../lib/protocol/frame_writer.ts";
import { str } from "../../lib/record/value.ts";
import { connTransport } from "../helpers/conn_transport.ts";
import { MAIN_PATH } from "../helpers/run_kv.ts";
import { makeTestCerts, serverTlsFlags } from "../helpers/tls_certs.ts";

const ANSWER_MIB = 64;
const SEND_MIB = 400;
const STALL_MS = 2000;
/** Longest the client sends for: within the server's 30 s idle timeout. */
const SEND_FOR_MS = 10_000;

/** A process's resident set size in MiB, from /proc. */
async function rssMib(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Math.round(Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024);
}

/** Writes `bytes`; false when the write is still pending after {@link STALL_MS}. */
function wrote(socket: tls.TLSSocket, bytes: Uint8Array): Promise<boolean> {
  return Promise.race([
    new Promise<boolean>((resolve) => socket.write(bytes, () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), STALL_MS)),
  ]);
}

const main = Deno.args[0] ?? MAIN_PATH;
const certDir = await Deno.makeTempDir({ prefix: "kv-measure-certs-" });
const certs = await makeTestCerts(certDir);
const server = await ServerProcess.start({
  kv: { command: Deno.execPath(), args: denoRunArgs(main) },
  args: serverTlsFlags(certs),
});
try {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  let reading = true;
  const socket = tls.connect({
    socket: connTransport(tcp, () => reading),
    ca: await Deno.readTextFile(certs.caPem),
    servername: "localhost",
  });
  await new Promise((resolve) => socket.once("secureConnect", resolve));
  const frames = new FrameWriter();
  frames.hello(1);
  const version = { ms: Date.now(), counter: 0, broker: 1 };
  frames.put(2, "big", str("v".repeat(1024 * 1024)), { version });
  const answered = new Promise((resolve) => socket.once("data", resolve));
  await wrote(socket, frames.bytes());
  await answered;
  reading = false;
  frames.reset();
  for (let id = 3; id < 3 + ANSWER_MIB; id++) frames.get(id, "big");
  await wrote(socket, frames.bytes());
  const pings = new FrameWriter();
  for (let id = 0; id < 65_536; id++) pings.ping(1000 + id);
  const chunk = pings.bytes();
  const before = await rssMib(server.pid!);
  const started = Date.now();
  let sent = 0;
  while (sent < SEND_MIB * 1024 * 1024 && Date.now() - started < SEND_FOR_MS) {
    if (!await wrote(socket, chunk)) break;
    sent += chunk.length;
  }
  console.log(
    `${main}: the client sent ${Math.round(sent / 1024 / 1024)} MiB unread; server RSS ` +
      `${before} MiB before, ${await rssMib(server.pid!)} MiB after`,
  );
  socket.destroy();
} finally {
  await server.stop();
  await Deno.remove(certDir, { recursive: true });
}
