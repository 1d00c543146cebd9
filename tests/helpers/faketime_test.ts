// The clock-skew tests (Jepsen's brokers 40 s apart, kv repair 2 days ahead) pass as well with
// clocks that agree: they must not pass because libfaketime moved nothing.
import assert from "node:assert/strict";
import { faketimeEnv, hasFaketime } from "./faketime.ts";
import { outputWithin } from "./wait.ts";

/** A day, in ms: far more than the child takes to start, far less than the offset asked. */
const DAY_MS = 24 * 60 * 60 * 1000;

Deno.test({
  name: hasFaketime()
    ? "faketimeEnv moves the clock of a deno process it runs (as the tests run kv) by its offset"
    : "faketimeEnv moves a deno process's clock (ignored: libfaketime is not installed)",
  ignore: !hasFaketime(),
  fn: async () => {
    const before = Date.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "console.log(Date.now())"],
      env: faketimeEnv("+2d"),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const { code, stdout, stderr } = await outputWithin(child, { what: "deno eval to exit" });
    const decoder = new TextDecoder();
    assert.equal(code, 0, decoder.decode(stderr));
    const ahead = Number(decoder.decode(stdout)) - before;
    assert.ok(ahead > DAY_MS && ahead < 3 * DAY_MS, `the child's clock was ${ahead} ms ahead`);
  },
});
