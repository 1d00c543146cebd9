/**
 * Whether kv http's connection guard (lib/http/connection_guard.ts) cuts a client that reads
 * a large answer steadily: the guard counts an answer's progress as the kernel takes its
 * bytes, which it does in bursts once the socket buffers are full. One guard in process with
 * the given header deadline answers one GET with an answer of the given size, read on
 * loopback a chunk of the given KiB every 10 ms (catching up after a late timer); prints
 * the bytes read, the time and how many connections the guard closed. A measurement
 * script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/guard_slow_reader.ts [deadline ms] [KiB per 10 ms] [answer MB]   # 10000 1 12
 * ```
 * @module
 */
import { ConnectionGuard } from "../../lib/http/connection_guard.ts";

/** Pause between the reader's chunks. */
const INTERVAL_MS = 10;

const deadlineMs = Number(Deno.args[0] ?? 10_000);
const chunkBytes = Number(Deno.args[1] ?? 1) * 1024;
const answerBytes = Number(Deno.args[2] ?? 12) * 1_000_000;

const answer = "x".repeat(answerBytes);
let closed = 0;
const server = await ConnectionGuard.serve(
  { hostname: "127.0.0.1", port: 0, headerTimeoutMs: deadlineMs, onClosed: () => closed++ },
  () => new Response(answer),
);
const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
const buffer = new Uint8Array(chunkBytes);
let received = 0;
const started = performance.now();
reading: while (received < answerBytes) {
  const due = chunkBytes * (1 + Math.floor((performance.now() - started) / INTERVAL_MS));
  while (received < due) {
    const count = await conn.read(buffer).catch(() => null);
    if (count === null) break reading;
    received += count;
  }
  await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
}
const seconds = (performance.now() - started) / 1000;
const rate = chunkBytes * 1000 / INTERVAL_MS / 1000;
console.log(
  `deadline ${deadlineMs} ms, reader ${rate.toFixed(0)} kB/s: read ${
    (received / 1e6).toFixed(2)
  } ` +
    `of ${answerBytes / 1e6} MB in ${seconds.toFixed(1)} s; the guard closed ${closed}`,
);
conn.close();
await server.shutdown();
