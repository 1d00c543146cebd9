/**
 * How `deno task test` runs the test files: in {@link PART_COUNT} parts, each one test module
 * (`tests/suite/part_N.ts`) that imports its share of every `*_test.ts` under tests/, so that
 * `deno test --parallel` starts one isolate a part instead of one a file.
 *
 * Why: Deno 2.9.6's test runner costs 0.5–0.7 CPU-s and 22 600 page faults for each test module
 * it runs, before the module's first test (it loads its bench module, which allocates an array of
 * 10 million elements, in every test isolate; README, Tests). 117 files paid it 117 times; the
 * parts pay it {@link PART_COUNT} times. The files stay as they are, one per lib/ module, and each
 * still runs alone (`deno test -A tests/cli/repair_test.ts`), and `deno test -A` without files
 * still runs them one by one. Within a part, tests run one after another in the order the files
 * are imported, as they already did within a file; files were already required to be
 * independent (ephemeral ports, their own temporary directories, no change to the environment,
 * the working directory or signal handlers), and each test's op and resource sanitizers still
 * check that test alone. A failure still names the test's own file and line.
 *
 * The files are dealt to the parts heaviest first, each to the part with the least work so far
 * (longest processing time first), by the seconds its tests took in a whole run,
 * {@link SECONDS_IN_SUITE}; a file not listed counts {@link DEFAULT_SECONDS}. The figures only
 * balance the parts: a stale one makes one part end later, never skips a test.
 *
 * @example
 * ```ts
 * // tests/suite/part_1.ts
 * import { importPart } from "./parts.ts";
 * await importPart(1);
 * ```
 * @module
 */

/**
 * How many parts `deno task test` runs at once (`DENO_JOBS=3` in deno.json): on 2 cores a part's
 * tests wait on their `kv` processes, timeouts and fsyncs much of the time, and with two parts at
 * once the cores were busy 1.2–1.7 of 2; a third part fills the waits (README, Tests).
 */
export const PARTS_AT_ONCE = 3;

/** How many parts: three rounds of {@link PARTS_AT_ONCE}, so that the last ones end together. */
export const PART_COUNT = 9;

/** A file's weight when {@link SECONDS_IN_SUITE} does not list it: most take less than 1 s. */
export const DEFAULT_SECONDS = 1;

/**
 * Seconds of wall of the files whose tests took 3 s or more in a whole `deno task test` (the
 * durations its report gives each test, summed by file; stop 17, 819 tests, the machine at a
 * load of 19 falling to 10 — the end-to-end files' figures are about twice a quiet run's, the
 * proportions alike). Within the run, not alone: that is the time a file adds to its part.
 */
export const SECONDS_IN_SUITE: Readonly<Record<string, number>> = {
  "tests/cli/bench_test.ts": 126,
  "tests/broker/fault_test.ts": 79,
  "tests/cli/errors_test.ts": 74,
  "tests/cli/broker_terminal_test.ts": 72,
  "tests/cli/security_test.ts": 68,
  "tests/cli/broker_test.ts": 56,
  "tests/cli/repair_test.ts": 54,
  "tests/broker/quorum_test.ts": 52,
  "tests/cli/cluster_k_test.ts": 44,
  "tests/client/kv_test.ts": 40,
  "tests/cli/oneshot_test.ts": 40,
  "tests/server/snapshot_test.ts": 37,
  "tests/server/store_test.ts": 36,
  "tests/http/console_test.ts": 31,
  "tests/trie/mod_test.ts": 30,
  "tests/cli/run_test.ts": 28,
  "tests/broker/commands_test.ts": 27,
  "tests/cli/demo_test.ts": 27,
  "tests/cli/gen_test.ts": 26,
  "tests/broker/jepsen_test.ts": 24,
  "tests/client/kv_reads_test.ts": 23,
  "tests/cli/server_crash_reads_test.ts": 23,
  "tests/server/server_read_path_test.ts": 22,
  "tests/server/store_settled_test.ts": 20,
  "tests/cli/disk_fault_test.ts": 20,
  "tests/cli/bench_terminal_test.ts": 19,
  "tests/server/partition_digests_test.ts": 18,
  "tests/gen/parallel_test.ts": 18,
  "tests/broker/jepsen_netns_test.ts": 17,
  "tests/protocol/client_test.ts": 17,
  "tests/http/api_test.ts": 16,
  "tests/http/security_test.ts": 15,
  "tests/record/encoded_json_test.ts": 14,
  "tests/cli/server_memory_test.ts": 13,
  "tests/cli/server_test.ts": 13,
  "tests/server/server_test.ts": 11,
  "tests/cli/demo_terminal_test.ts": 11,
  "tests/protocol/frame_reader_test.ts": 10,
  "tests/server/store_versions_test.ts": 10,
  "tests/cli/disk_fault_reads_test.ts": 10,
  "tests/broker/far_version_test.ts": 10,
  "tests/gen/generator_test.ts": 9,
  "tests/broker/background_repair_test.ts": 9,
  "tests/cli/broker_piped_test.ts": 9,
  "tests/cli/server_twice_test.ts": 9,
  "tests/server/storage_log_test.ts": 9,
  "tests/cli/bounded_files_test.ts": 8,
  "tests/broker/race_test.ts": 8,
  "tests/broker/pipeline_test.ts": 7,
  "tests/http/connection_guard_test.ts": 6,
  "tests/base/line_reader_test.ts": 5,
  "tests/protocol/messages_test.ts": 5,
  "tests/helpers/netns_test.ts": 5,
  "tests/protocol/client_slab_test.ts": 5,
  "tests/broker/broker_test.ts": 4,
  "tests/server/auth_test.ts": 4,
  "tests/server/dir_lock_test.ts": 3,
  "tests/broker/broker_server_test.ts": 3,
};

const REPO = new URL("../../", import.meta.url);
const TESTS = new URL("../", import.meta.url);

/** Every `*_test.ts` under `dir`, as paths relative to the repository, sorted. */
export function testFiles(dir: URL = TESTS): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isDirectory) found.push(...testFiles(new URL(`${entry.name}/`, dir)));
    else if (entry.name.endsWith("_test.ts")) {
      found.push(new URL(entry.name, dir).pathname.slice(REPO.pathname.length));
    }
  }
  return found.sort();
}

/**
 * Deals `files` to `count` parts, heaviest first, each to the part with the least seconds so
 * far (ties: the lower part); every file lands in exactly one part.
 *
 * @example
 * ```ts
 * partsOf(["tests/a_test.ts", "tests/b_test.ts"], 2); // [["tests/a_test.ts"], ["tests/b_test.ts"]]
 * ```
 */
export function partsOf(
  files: readonly string[],
  count: number = PART_COUNT,
  seconds: Readonly<Record<string, number>> = SECONDS_IN_SUITE,
): string[][] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`part count ${count}`);
  const weight = (file: string) => seconds[file] ?? DEFAULT_SECONDS;
  const heaviestFirst = [...files].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));
  const parts = Array.from({ length: count }, () => ({ seconds: 0, files: [] as string[] }));
  for (const file of heaviestFirst) {
    let lightest = parts[0];
    for (const part of parts) if (part.seconds < lightest.seconds) lightest = part;
    lightest.files.push(file);
    lightest.seconds += weight(file);
  }
  return parts.map((part) => part.files);
}

/**
 * Imports part `part` (1 to {@link PART_COUNT}) of every test file, one file after another, so
 * that their `Deno.test` calls register in this isolate in a fixed order.
 *
 * @example
 * ```ts
 * await importPart(3);
 * ```
 */
export async function importPart(part: number): Promise<void> {
  if (!Number.isInteger(part) || part < 1 || part > PART_COUNT) {
    throw new RangeError(`part ${part} is not 1 to ${PART_COUNT}`);
  }
  for (const file of partsOf(testFiles())[part - 1]) {
    await import(new URL(file, REPO).href);
  }
}
