/**
 * `kv gen` against the original createData.py, side by side in one run (the foundation
 * issue's bar): both write 100 000 records of the `-d 3 -l 8 -m 6` shape from the
 * original key file into fresh files, as whole processes, alternating, several times.
 * createData.py is not part of this repository; pass its path (it is the original
 * project's `src/createData.py`). A measurement script, not a test:
 *
 * ```sh
 * deno run -A tests/measure/gen_speed.ts path/to/createData.py [runs]   # default 5 runs
 * ```
 * @module
 */
import { TEST_KV } from "../helpers/server_process.ts";

const DEFAULT_RUNS = 5;
const FLAGS = ["-n", "100000", "-d", "3", "-l", "8", "-m", "6"];

const [createDataPath, runsText] = Deno.args;
if (createDataPath === undefined) {
  console.error("usage: deno run -A tests/measure/gen_speed.ts path/to/createData.py [runs]");
  Deno.exit(2);
}
const runs = Number(runsText ?? DEFAULT_RUNS);
const keyFile = new URL("../../keyFile.txt", import.meta.url).pathname;
const directory = await Deno.makeTempDir({ prefix: "kv-gen-speed-" });

/** Wall time of one run of `command args` in the temp directory, in ms; throws on failure. */
async function timeRun(command: string, args: string[]): Promise<number> {
  const start = performance.now();
  const output = await new Deno.Command(command, {
    args,
    cwd: directory,
    stdout: "null",
    stderr: "piped",
  }).output();
  const elapsed = performance.now() - start;
  if (!output.success) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return elapsed;
}

function summary(times: number[]): string {
  const mean = times.reduce((sum, time) => sum + time, 0) / times.length;
  return `mean ${(mean / 1000).toFixed(3)} s, min ${(Math.min(...times) / 1000).toFixed(3)} s`;
}

try {
  const python: number[] = [];
  const kv: number[] = [];
  for (let run = 0; run < runs; run++) {
    // Fresh outputs each time: replacing a big old file costs either tool its freeing.
    await Deno.remove(`${directory}/dataToIndex.txt`).catch(() => {});
    python.push(await timeRun("python3", [createDataPath, "-k", keyFile, ...FLAGS]));
    await Deno.remove(`${directory}/kv.txt`).catch(() => {});
    kv.push(
      await timeRun(TEST_KV.command, [
        ...TEST_KV.args,
        "gen",
        "-k",
        keyFile,
        ...FLAGS,
        "-o",
        "kv.txt",
      ]),
    );
  }
  const mean = (times: number[]) => times.reduce((sum, time) => sum + time, 0) / times.length;
  console.log(`createData.py: ${summary(python)}  (${runs} runs)`);
  console.log(`kv gen:        ${summary(kv)}`);
  console.log(`speed-up:      ${(mean(python) / mean(kv)).toFixed(1)}x (means)`);
} finally {
  await Deno.remove(directory, { recursive: true });
}
