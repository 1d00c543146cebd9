/**
 * How `deno task test` runs the test files: in {@link PART_COUNT} parts, each one test module
 * (`tests/suite/part_N.ts`) that imports its share of every `*_test.ts` under tests/, so that
 * `deno test --parallel` starts one isolate a part instead of one a file.
 *
 * Why: Deno 2.9.6's test runner costs 22 600 page faults and, on this machine today, about
 * 0.1 CPU-s for each test module it runs before the module's first test (0.5–0.7 when stop 14
 * measured it: it loads its bench module, which allocates an array of 10 million elements, in
 * every test isolate; README, Tests), and each isolate loads lib/ and the helpers again: 27 files
 * of tests/record, base and trie took 15–16 CPU-s as 27 isolates, 10–11 as one. 120 files would
 * pay it 120 times; the parts pay it {@link PART_COUNT} times. The files stay as they are, one per
 * lib/ module, and each still runs alone (`deno test -A tests/cli/repair_test.ts`), and
 * `deno test -A` without files still runs them one by one. Within a part, tests run one after
 * another in the order the files are imported, as they already did within a file; files were
 * already required to be independent (ephemeral ports, their own temporary directories, no change
 * to the environment, the working directory or signal handlers), and each test's op and resource
 * sanitizers still check that test alone. A failure still names the test's own file and line.
 *
 * The files are dealt to the parts heaviest first, each to the part with the least work so far
 * (longest processing time first), by the seconds its tests take one after another,
 * {@link SECONDS_IN_SUITE} (the Jepsen files' grown by a longer fault phase, {@link JEPSEN_FILES});
 * a file not listed counts {@link DEFAULT_SECONDS}. The figures only balance the parts: a stale
 * one makes one part end later, never skips a test.
 *
 * @example
 * ```ts
 * // tests/suite/part_1.ts
 * import { importPart } from "./parts.ts";
 * await importPart(1);
 * ```
 * @module
 */
import { DEFAULT_FAULT_PHASE_MS, faultPhaseMs } from "../helpers/jepsen.ts";

/**
 * How many parts `deno task test` runs at once (`DENO_JOBS=5` in deno.json): on 2 cores a part's
 * tests wait on their `kv` processes, timeouts that are their subject and fsyncs much of the
 * time; with three at once the cores were idle 29 % of the run (108.6 s of wall for 155 CPU-s on
 * a quiet machine), and more parts at once fill those waits. Modelled on the measured tests
 * (tests/measure/suite_schedule.ts), five at once end 8 s sooner than three, and with `.ci/run`'s
 * Jepsen phase 7 s sooner; six no sooner than five (README, Tests).
 */
export const PARTS_AT_ONCE = 5;

/**
 * The V8 flags `deno task test` gives its test isolates (`--v8-flags=` in deno.json). Deno 2.9.6
 * loads its bench module into every test isolate, and that module holds an array of 10 million
 * empty slots (80 MB) that every full garbage collection visits: twenty full collections took
 * 1.2–2.7 s in a test isolate and 0.10–0.26 s under `deno run`. V8's memory reducer runs full
 * collections while a process is idle, which a test waiting on its `kv` processes is most of the
 * time. Without it, seven in-process files took 15.8 CPU-s, not 17.6 (README, Tests); the heap
 * still grows only as V8's usual limits allow. The `kv` processes the tests start run without it.
 */
export const TEST_V8_FLAGS = "--no-memory-reducer";

/**
 * How many parts: two rounds of {@link PARTS_AT_ONCE}. The model finds 9 to 25 parts alike at five
 * at once, also with each file's time off its weight by up to 40 %; each part costs its isolate and
 * its loading of lib/ and the helpers again, about 0.2 CPU-s.
 */
export const PART_COUNT = 10;

/** A file's weight when {@link SECONDS_IN_SUITE} does not list it: most take 0.1–0.5 s. */
export const DEFAULT_SECONDS = 0.2;

/**
 * Seconds of wall of the files whose tests took 1 s or more, one test after another
 * (`deno run -A tests/measure/test_files.ts --tests --each`, main at cc0e50c in stop 27: 1209
 * tests in 664 s at a load of 0.3 rising to 7.6 from other work; each line as it prints them),
 * each Jepsen run under its own file; `tests/http/console_test.ts` as measured after its tests
 * became steps of one (29.5 s alone, a load of 4). Wall, not CPU: a file waiting on a timeout
 * that is its subject holds its part as long as one computing. At a load, every file's is
 * longer than on a quiet machine, and only their proportions balance the parts.
 */
export const SECONDS_IN_SUITE: Readonly<Record<string, number>> = {
  "tests/http/connection_guard_test.ts": 35.4,
  "tests/http/console_test.ts": 29.5,
  "tests/cli/repair_test.ts": 26.0,
  "tests/cli/new_servers_test.ts": 25.7,
  "tests/cli/broker_terminal_test.ts": 25.0,
  "tests/cli/demo_test.ts": 22.8,
  "tests/cli/oneshot_test.ts": 21.8,
  "tests/server/unrepaired_start_test.ts": 21.7,
  "tests/cli/cluster_k_test.ts": 19.4,
  "tests/cli/bench_test.ts": 18.5,
  "tests/cli/security_test.ts": 18.2,
  "tests/cli/list_change_test.ts": 14.7,
  "tests/broker/fault_test.ts": 14.5,
  "tests/http/api_test.ts": 14.5,
  "tests/cli/demo_terminal_test.ts": 13.6,
  "tests/cli/broker_test.ts": 12.5,
  "tests/protocol/client_test.ts": 12.2,
  "tests/cli/not_kv_server_test.ts": 12.0,
  "tests/http/answer_budget_test.ts": 11.8,
  "tests/trie/mod_test.ts": 10.1,
  "tests/cli/bench_terminal_test.ts": 9.8,
  "tests/client/kv_test.ts": 9.3,
  "tests/broker/jepsen_wipe_test.ts": 9.2,
  "tests/server/server_tls_test.ts": 8.9,
  "tests/cli/server_test.ts": 8.4,
  "tests/client/kv_reads_test.ts": 7.6,
  "tests/server/store_test.ts": 7.6,
  "tests/broker/jepsen_test.ts": 7.2,
  // S34's, at the default phase: 9.0 and 9.6 s beside jepsen_test.ts's 8.0 on a loaded machine.
  "tests/broker/jepsen_server_clocks_test.ts": 8.6,
  "tests/broker/jepsen_change_test.ts": 8.1,
  "tests/cli/delete_warning_test.ts": 6.8,
  "tests/broker/jepsen_netns_test.ts": 6.6,
  "tests/http/security_test.ts": 6.0,
  "tests/cli/stale_dir_test.ts": 13.5,
  "tests/server/server_read_path_test.ts": 5.9,
  "tests/server/partition_digests_test.ts": 5.7,
  "tests/server/server_test.ts": 5.6,
  "tests/cli/no_server_test.ts": 5.4,
  "tests/cli/server_crash_reads_test.ts": 5.4,
  "tests/cli/disk_fault_test.ts": 5.3,
  "tests/server/run_record_test.ts": 6.5,
  "tests/broker/availability_test.ts": 5.2,
  "tests/cli/run_test.ts": 4.9,
  "tests/cli/errors_test.ts": 4.7,
  "tests/trie/answer_cache_test.ts": 4.7,
  "tests/server/auth_test.ts": 4.2,
  "tests/broker/quorum_test.ts": 3.9,
  "tests/cli/broker_stall_test.ts": 3.9,
  "tests/server/store_settled_test.ts": 3.8,
  "tests/cli/gen_test.ts": 3.6,
  "tests/broker/broker_server_test.ts": 3.5,
  "tests/server/snapshot_test.ts": 3.2,
  "tests/broker/repair_test.ts": 3.0,
  "tests/protocol/tls_server_test.ts": 2.7,
  "tests/cli/server_memory_test.ts": 2.6,
  "tests/server/store_versions_test.ts": 2.6,
  "tests/broker/server_pool_test.ts": 2.5,
  "tests/server/storage_log_test.ts": 2.4,
  "tests/gen/generator_test.ts": 2.3,
  "tests/broker/background_repair_test.ts": 2.2,
  "tests/cli/server_lookup_test.ts": 2.2,
  "tests/broker/indexer_test.ts": 2.1,
  "tests/broker/race_test.ts": 2.0,
  "tests/cli/broker_piped_test.ts": 2.0,
  "tests/client/kv_exit_test.ts": 2.0,
  "tests/cli/bounded_files_test.ts": 1.9,
  "tests/record/encoded_json_test.ts": 1.9,
  "tests/base/utf8_test.ts": 1.8,
  "tests/cli/server_lock_test.ts": 1.8,
  "tests/http/socket_dir_test.ts": 1.7,
  "tests/protocol/client_exit_test.ts": 1.7,
  "tests/broker/broker_test.ts": 1.6,
  "tests/cli/disk_fault_reads_test.ts": 1.6,
  "tests/cli/index_refusals_test.ts": 1.5,
  "tests/cli/server_twice_test.ts": 1.5,
  "tests/protocol/client_stall_test.ts": 1.5,
  "tests/trie/encode_test.ts": 1.5,
  "tests/trie/frozen_test.ts": 1.5,
  "tests/broker/far_version_test.ts": 1.4,
  "tests/protocol/credentials_test.ts": 1.4,
  "tests/server/node_state_test.ts": 1.4,
  "tests/bench/runner_test.ts": 1.3,
  "tests/broker/commands_test.ts": 1.3,
  "tests/http/openapi_test.ts": 1.3,
  "tests/protocol/messages_test.ts": 1.3,
  "tests/server/replication_requests_test.ts": 1.3,
  "tests/broker/pipeline_test.ts": 1.2,
  "tests/client/kv_unanswered_test.ts": 1.2,
  "tests/http/guard_accept_test.ts": 1.2,
  "tests/trie/block_test.ts": 1.2,
  "tests/base/stdout_test.ts": 1.1,
  "tests/cli/rogue_server_test.ts": 1.1,
  "tests/client/values_test.ts": 1.1,
  "tests/gen/parallel_test.ts": 1.1,
  "tests/protocol/frame_reader_test.ts": 1.1,
  "tests/record/parse_ascii_test.ts": 1.1,
  "tests/client/app_callbacks_test.ts": 1.0,
  "tests/docs_test.ts": 1.0,
};

/**
 * The files of Jepsen runs ({@link SECONDS_IN_SUITE} measured them at the default fault phase),
 * each a fault phase of `KV_JEPSEN_PHASE_MS` long: with `.ci/run`'s 15 s a file takes 10 s more
 * than listed, and weighing it so keeps its part from ending last.
 */
export const JEPSEN_FILES: readonly string[] = [
  "tests/broker/jepsen_test.ts",
  "tests/broker/jepsen_wipe_test.ts",
  "tests/broker/jepsen_netns_test.ts",
  "tests/broker/jepsen_change_test.ts",
  "tests/broker/jepsen_server_clocks_test.ts",
];

/**
 * {@link SECONDS_IN_SUITE} for a fault phase of `phaseMs`: each of {@link JEPSEN_FILES} weighs
 * the phase's difference from the default more or less.
 *
 * @example
 * ```ts
 * secondsInSuite(15_000)["tests/broker/jepsen_test.ts"]; // 10 more than SECONDS_IN_SUITE's
 * ```
 */
export function secondsInSuite(phaseMs: number = faultPhaseMs()): Record<string, number> {
  const seconds = { ...SECONDS_IN_SUITE };
  const longer = (phaseMs - DEFAULT_FAULT_PHASE_MS) / 1000;
  for (const file of JEPSEN_FILES) {
    seconds[file] = Math.max(0, (seconds[file] ?? DEFAULT_SECONDS) + longer);
  }
  return seconds;
}

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
  for (const file of partsOf(testFiles(), PART_COUNT, secondsInSuite())[part - 1]) {
    await import(new URL(file, REPO).href);
  }
}
