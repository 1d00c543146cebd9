// runBench stopped by its signal, against an in-process server: a measured run reports what it
// measured, marked interrupted; a bench stopped earlier measured nothing and says where it was.
import assert from "node:assert/strict";
import { BenchInterruptedError, runBench } from "../../lib/bench/runner.ts";
import { startServer } from "../helpers/in_process_server.ts";
import { TEST_CLIENT_TIMEOUT_MS } from "../helpers/client.ts";

/** More operations than a test runs: only the signal ends these runs. */
const ENDLESS = 1_000_000_000;

async function withServer(fn: (servers: { hostname: string; port: number }[]) => Promise<void>) {
  const { address, stop } = await startServer();
  try {
    await fn([address]);
  } finally {
    await stop();
  }
}

Deno.test("runBench stopped by its signal mid-run reports the operations it ran, interrupted", async () => {
  await withServer(async (servers) => {
    const stop = new AbortController();
    const report = await runBench({
      servers,
      records: 20,
      operations: ENDLESS,
      pipeline: 4,
      timeoutMs: TEST_CLIENT_TIMEOUT_MS,
      progress: { update: (done) => done >= 100 && stop.abort(), finish() {} },
      signal: stop.signal,
    });
    assert.equal(report.interrupted, true);
    assert(report.operations >= 100 && report.operations < ENDLESS, `${report.operations}`);
    const counted = Object.values(report.byOperation).reduce((sum, f) => sum + f.count, 0);
    assert.equal(counted, report.operations);
    assert.equal(report.errors, 0);
  });
});

Deno.test("runBench in open loop stopped by its signal sends none of the operations it took and was waiting to send", async () => {
  await withServer(async (servers) => {
    const stop = new AbortController();
    // At one operation a second, each of the 16 workers takes one at once and waits until
    // it is due, up to 15 s: stopped after the first, the others are never sent.
    const report = await runBench({
      servers,
      records: 20,
      operations: ENDLESS,
      rate: 1,
      pipeline: 16,
      timeoutMs: TEST_CLIENT_TIMEOUT_MS,
      progress: { update: () => stop.abort(), finish() {} },
      signal: stop.signal,
    });
    assert.equal(report.interrupted, true);
    // The first, and any that fell due before it ended (a second each): never all 16.
    assert(report.operations >= 1 && report.operations < 16, `${report.operations}`);
  });
});

Deno.test("runBench whose signal comes after its last operation was taken is not interrupted", async () => {
  await withServer(async (servers) => {
    const stop = new AbortController();
    const report = await runBench({
      servers,
      records: 20,
      operations: 50,
      timeoutMs: TEST_CLIENT_TIMEOUT_MS,
      // Called as each operation ends: the 50th has been taken, nothing is left to stop.
      progress: { update: (done) => done === 50 && stop.abort(), finish() {} },
      signal: stop.signal,
    });
    assert.equal(report.interrupted, false);
    assert.equal(report.operations, 50);
  });
});

Deno.test("runBench stopped during the warm-up rejects: nothing was measured", async () => {
  await withServer(async (servers) => {
    const stop = new AbortController();
    let measured = 0;
    const run = runBench({
      servers,
      records: 20,
      warmup: ENDLESS,
      timeoutMs: TEST_CLIENT_TIMEOUT_MS,
      warmupProgress: { update: (done) => done >= 100 && stop.abort(), finish() {} },
      progress: { update: () => measured++, finish() {} },
      signal: stop.signal,
    });
    const error = await run.then(() => undefined, (error) => error);
    assert(error instanceof BenchInterruptedError, String(error));
    assert.equal(error.phase, "warming up");
    assert.equal(error.message, "interrupted while warming up; nothing was measured");
    assert.equal(measured, 0, "the measured run never started");
  });
});

Deno.test("runBench whose signal has already stopped it rejects before loading", async () => {
  await withServer(async (servers) => {
    const error = await runBench({
      servers,
      records: 20,
      timeoutMs: TEST_CLIENT_TIMEOUT_MS,
      signal: AbortSignal.abort(),
    }).then(() => undefined, (error) => error);
    assert(error instanceof BenchInterruptedError, String(error));
    assert.equal(error.phase, "connecting");
  });
});

Deno.test("runBench draws the load's progress by records made, up to all of them, and ends it", async () => {
  await withServer(async (servers) => {
    const counts: number[] = [];
    let finished = 0;
    for (const size of [undefined, 16]) {
      counts.length = 0;
      await runBench({
        servers,
        records: 300,
        size,
        operations: 10,
        timeoutMs: TEST_CLIENT_TIMEOUT_MS,
        loadProgress: { update: (done) => counts.push(done), finish: () => finished++ },
      });
      assert(counts.length > 0, `size ${size}`);
      assert.equal(counts.at(-1), 300, `size ${size}`);
      assert(counts.every((done, i) => i === 0 || done >= counts[i - 1]), `size ${size}`);
    }
    assert.equal(finished, 2);
  });
});

Deno.test("runBench that fixes the default k on servers recording none says so through report, and given replicas says nothing", async () => {
  for (const replicas of [undefined, 1]) {
    await withServer(async (servers) => {
      const lines: string[] = [];
      await runBench({
        servers,
        replicas,
        records: 5,
        operations: 5,
        timeoutMs: TEST_CLIENT_TIMEOUT_MS,
        report: (line) => lines.push(line),
      });
      if (replicas === undefined) {
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(
          lines[0],
          /^no server records a k, so k=1 \(the default\) is now the cluster's/,
        );
      } else assert.deepEqual(lines, [], "-k is the caller's statement");
    });
  }
});
