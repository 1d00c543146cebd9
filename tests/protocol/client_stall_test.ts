/**
 * What STALL_RECHECK_TURNS (lib/protocol/client.ts) rests on: a Deno process kept busy, one
 * `setImmediate` after another, that was stopped while an answer reached its socket reads
 * that answer within STALL_RECHECK_TURNS turns of resuming. Its timers meanwhile run before
 * the read, so a timeout judged on the first turn would blame a server that answered.
 */
import assert from "node:assert/strict";
import { STALL_RECHECK_TURNS } from "../../lib/protocol/client.ts";
import { listenLoopback } from "../helpers/fixtures.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";

/**
 * The child: connects to the port given, sends a byte, says "sent", then spins (2 ms a
 * turn) until the answer is read, and prints how many turns it had run since the last gap
 * of over GAP_MS between turns: its stop.
 */
const CHILD = `
const GAP_MS = 300;
const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(Deno.args[0]) });
let answered = false;
conn.read(new Uint8Array(1)).then(() => answered = true);
await conn.write(new Uint8Array([1]));
console.log("sent");
let turns = 0;
let last = performance.now();
const spin = () => {
  const now = performance.now();
  turns = now - last > GAP_MS ? 1 : turns + 1;
  last = now;
  if (answered) {
    console.log(turns);
    conn.close();
    return;
  }
  while (performance.now() < now + 2) { /* busy, as a loaded broker */ }
  setImmediate(spin);
};
setImmediate(spin);
`;

Deno.test("a busy Deno process stopped while an answer came reads it within STALL_RECHECK_TURNS turns of resuming", async () => {
  // How long the child stays stopped: the stimulus, well over the child's GAP_MS.
  const STOPPED_MS = 1_000;
  let peer: Deno.TcpConn | undefined;
  const listener = listenLoopback((conn) => {
    peer = conn;
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", CHILD, String(listener.port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let out = "";
  const reading = (async () => {
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) out += text;
  })();
  try {
    await waitFor(() => out.includes("sent\n") && peer !== undefined, {
      what: "the child to send its byte",
    });
    child.kill("SIGSTOP");
    await peer!.write(new Uint8Array([2]));
    await new Promise((resolve) => setTimeout(resolve, STOPPED_MS));
    child.kill("SIGCONT");
    await withDeadline(child.status, { what: "the child to read the answer and exit" });
    await reading;
    const turns = Number(/^sent\n(\d+)\n$/.exec(out)?.[1]);
    assert(turns <= STALL_RECHECK_TURNS, `read ${JSON.stringify(out)} turns after resuming`);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited, as it should.
    }
    await reading.catch(() => {});
    await listener.stop();
  }
});
