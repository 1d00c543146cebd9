// kv bench as a person watches it: in a real pseudo-terminal (tmux), reading its progress line.
import assert from "node:assert/strict";
import { BROKER_TIMEOUT_MS, KvCluster } from "../helpers/kv_processes.ts";
import { kvArgs, Terminal, terminalTest } from "../helpers/tmux.ts";

/** `kv bench` over `cluster`'s servers, 10 records, 100 operations a second, and `extra`. */
function benchArgs(cluster: KvCluster, ...extra: string[]): string[] {
  const common = ["-n", "10", "--rate", "100", "--timeout-ms", `${BROKER_TIMEOUT_MS}`];
  return kvArgs("bench", "-s", cluster.serverFile, ...common, ...extra);
}

terminalTest(
  "kv bench --warmup on a terminal says it is warming up, then shows the measured run's progress",
  async () => {
    await using cluster = await KvCluster.start(1);
    // Open loop at 100 operations a second: each phase stays on the screen about 2 s.
    const bench = benchArgs(cluster, "--warmup", "200", "--ops", "200");
    await using term = await Terminal.start(bench);
    await term.waitFor(/^kv bench: warming up \[[# ]+\] +\d+% \d+\/200$/m);
    await term.waitFor(/^kv bench \[[# ]+\] +\d+% \d+\/200$/m);
    assert.equal(await term.exitCode(), 0);
    const screen = await term.screen();
    assert.match(screen, /^200 warm-up operations first, not counted$/m);
    assert.doesNotMatch(screen, /warming up/, "the warm-up's line is erased once it ends");
  },
);

terminalTest("kv bench --duration on a terminal counts whole seconds of the run", async () => {
  await using cluster = await KvCluster.start(1);
  const bench = benchArgs(cluster, "--duration", "3");
  await using term = await Terminal.start(bench);
  // Seconds, not the milliseconds the runner counts (it drew `1234.567891/3000`).
  await term.waitFor(/^kv bench \(seconds\) \[[# ]+\] +\d+% [0-3]\/3$/m);
  assert.equal(await term.exitCode(), 0);
});

terminalTest(
  "kv bench stopped with Ctrl-C erases its progress line, reports what it measured, marked interrupted, and exits 130",
  async () => {
    await using cluster = await KvCluster.start(1);
    const bench = benchArgs(cluster, "--duration", "600");
    await using term = await Terminal.start(bench);
    // A second counted: some operations have been measured.
    await term.waitFor(/^kv bench \(seconds\) \[[# ]+\] +\d+% [1-9]\d*\/600$/m);
    await term.press("C-c");
    assert.equal(await term.exitCode(), 130);
    const screen = await term.screen();
    assert.match(
      screen,
      /^interrupted \(Ctrl-C\): the figures are of the operations run until then/m,
    );
    const run = screen.match(/^(\d+) operations in [\d.]+ s: \d+ ops\/s; 0 errors/m);
    assert(run !== null && Number(run[1]) > 0, screen);
    assert.match(screen, /^read +\d+ /m);
    assert.doesNotMatch(screen, /\[#* *\]/, "the progress line is erased");
  },
);
