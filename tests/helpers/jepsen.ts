/**
 * The machinery of the Jepsen-style tests (issue 9; tests/broker/jepsen_test.ts,
 * jepsen_wipe_test.ts, jepsen_netns_test.ts and jepsen_change_test.ts, a file a run so that
 * the suite runs them in parallel):
 * three `kv broker` processes do GET, PUT and DELETE on a few dozen keys of four
 * `kv server` processes (k = 2) while a nemesis kills servers (SIGKILL), hangs them
 * (SIGSTOP, then SIGCONT), restarts them with or without their data, runs `kv repair`
 * across such a restart and, in a cluster that can, cuts their network link — never more
 * than k − 1 = 1 unavailable at once — or changes k (`kv repair -k`) or the server list
 * (`kv repair -s`) under the clients. With {@link RunOptions.skewedClocks} (and
 * libfaketime installed) the brokers' clocks disagree by {@link CLOCK_SKEWS}: last write
 * wins in real time whatever they say, so the same checks hold.
 * Every call is recorded with its start and end on one clock, and the history is checked
 * by ./history_checker.ts: every read returned a value some write made, never one older
 * than a write acknowledged before the read began, never NOT FOUND without a warning for
 * a record acknowledged and not deleted. Once the faults stop and `kv repair` has run,
 * all replicas of every key must be identical, and every key must read, without a
 * warning, what the same rules allow once every write has ended: the value of its last
 * acknowledged write, NOT FOUND if that was a DELETE — or, where writes overlapped or
 * failed, the effect of one of them that no write begun after it ended and acknowledged
 * overwrote. A lost acknowledged write or a deleted record back fails the run. A write
 * acknowledged with a warning counts as one whose outcome is unknown: the warning says
 * reads may miss it, or an earlier write may win over it.
 *
 * The seed is random per run and printed with any failure, so a failing schedule can be
 * replayed with `KV_JEPSEN_SEED=<seed>`. The fault phase lasts {@link faultPhaseMs}
 * (`KV_JEPSEN_PHASE_MS`, default {@link DEFAULT_FAULT_PHASE_MS}; `.ci/run` asks for
 * longer histories), and longer if the nemesis has not yet injected each of its faults
 * once: every run exercises them all. Deadlines on every wait keep a run bounded.
 *
 * @example
 * ```ts ignore
 * Deno.test("jepsen: kill and hang", async () => {
 *   await runJepsen({ start: onLoopback, faults: ["kill", "hang"], repair: true });
 * });
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { randomSeed, Sfc32 } from "../../lib/gen/prng.ts";
import { Placement } from "../../lib/broker/placement.ts";
import { PARTITION_BITMAP_BYTES } from "../../lib/protocol/mod.ts";
import { formatVersion } from "../../lib/record/version.ts";
import { resolveCredentials } from "../../lib/protocol/credentials.ts";
import { BrokerProcess, KvCluster, withBrokerTimeout } from "./kv_processes.ts";
import { connectClient } from "./client.ts";
import { KV_PERMISSIONS, MAIN_PATH, runKv } from "./run_kv.ts";
import { faketimeEnv, hasFaketime } from "./faketime.ts";
import { DEFAULT_DEADLINE_MS, waitFor, withDeadline } from "./wait.ts";
import {
  checkHistory,
  checkReplicas,
  type HeldEntry,
  type HistoryEntry,
} from "./history_checker.ts";
import type { ServerProcess } from "../../lib/cli/server_process.ts";

/**
 * The brokers' clock offsets (libfaketime's `FAKETIME`) in a run with skewed clocks: one
 * ahead, one right, one behind, each within the minute a server takes a write stamped
 * behind its clock (`MAX_WRITE_LAG_MS`) — a broker further behind has every write stamped
 * again at the server's clock, which hides the skew.
 */
export const CLOCK_SKEWS: readonly (string | undefined)[] = ["+40s", undefined, "-40s"];

/** Whether a run asked for skewed clocks gets them: libfaketime is installed. */
export const CLOCKS_CAN_SKEW = hasFaketime();

/** How the brokers' clocks stand in a run asked for skewed clocks, for a test's name. */
export const SKEWED_CLOCKS_NAME = CLOCKS_CAN_SKEW
  ? "brokers' clocks 40 s ahead, right and 40 s behind"
  : "brokers' clocks agreeing (libfaketime is not installed)";

/** How many servers a run attacks. */
export const SERVER_COUNT = 4;
/**
 * How many servers a run with list changes starts: the cluster's list holds them all, the
 * other list all but the last.
 */
export const LIST_CHANGE_SERVER_COUNT = SERVER_COUNT + 1;
const K = 2;
const BROKER_COUNT = 3;
const KEY_COUNT = 24;
/** The environment variable that sets the fault phase's length, in ms. */
export const PHASE_ENV = "KV_JEPSEN_PHASE_MS";
/**
 * How long the clients run while the nemesis injects faults, unless {@link PHASE_ENV}
 * says otherwise: long enough for a few faults of every kind, short enough for the
 * edit-test loop. `.ci/run` sets 15 000 for longer histories.
 */
export const DEFAULT_FAULT_PHASE_MS = 5_000;
/** Shortest and longest fault phase {@link PHASE_ENV} may ask for (ms). */
const MIN_FAULT_PHASE_MS = 1_000;
const MAX_FAULT_PHASE_MS = 600_000;
/** How long a fault lasts, and the quiet between two, at most (ms). */
const MAX_FAULT_MS = 1_500;
/**
 * How long after a `kv repair` starts the nemesis kills a server under it, at most (ms): a
 * repair of a few dozen keys takes a few hundred ms, so that some kills land while it reads
 * digests, some while it copies, some after it.
 */
const MAX_REPAIR_HEAD_START_MS = 300;
/** The largest k a k change ("k" fault) asks for: 1..3 over the four servers. */
const MAX_CHANGED_K = 3;
/** One change of k or list in this many is SIGKILLed part way; the next one settles it. */
const CHANGE_KILL_ONE_IN = 3;
/** Most faults of one run: far more than fit in a fault phase, a bound all the same. */
const MAX_FAULTS = 1_000;
/** Most entries asked per LIST_PARTITIONS page when reading what a server holds. */
const LIST_PAGE = 10_000;
/** Pause before asking again a final read that warned (ms): a reconnect takes longer. */
const FINAL_READ_RETRY_MS = 100;
/**
 * How long a broker may take to answer its first command (SERVERS), in ms: its start (Deno's
 * own, a HELLO to each server, the k agreement) is not what a run tests, and on a machine
 * loaded far past its cores it took 19–30 s (S27 findings F2) — past the per-call deadline
 * when the clients' first calls waited on it. The fault phase begins once every broker has
 * answered, so the per-call deadline bounds calls only.
 */
const BROKER_START_DEADLINE_MS = 3 * DEFAULT_DEADLINE_MS;

/**
 * The faults the nemesis may inject: kill -9 and restart with the data; SIGSTOP then
 * SIGCONT; kill, empty the data dir, restart — then kill another server at once; take
 * the server's network link down, then up (a {@link JepsenCluster} that can partition);
 * `kv repair` across a kill -9 and restart of a server, its data dir emptied or not;
 * `kv repair -k N`, N from 1 to {@link MAX_CHANGED_K} (`k`: the brokers then follow the
 * servers' k, given no `-k`); `kv repair -s` over the other of two lists, the cluster's
 * and one without its last server (`list`: the brokers on both). Either repair is
 * SIGKILLed part way one time in {@link CHANGE_KILL_ONE_IN}, and the run's last repair,
 * over the cluster's list with k = 2, finishes the work.
 */
export type Fault = "kill" | "hang" | "wipe" | "partition" | "repair" | "k" | "list";

/** The servers a run attacks: on loopback ({@link KvCluster}) or in namespaces (./netns.ts). */
export interface JepsenCluster extends AsyncDisposable {
  readonly servers: readonly ServerProcess[];
  readonly serverFile: string;
  /** The auth file the servers require, when they do. */
  readonly authFile?: string;
  /** Cuts server `index` off the network, when the cluster can. */
  partition?(index: number): Promise<void>;
  /** Joins a partitioned server `index` again. */
  heal?(index: number): Promise<void>;
}

const KEYS = Array.from({ length: KEY_COUNT }, (_, index) => `j${index}`);

/**
 * The fault phase's length in ms: {@link PHASE_ENV} when set (a whole number from
 * 1000 to 600000), else {@link DEFAULT_FAULT_PHASE_MS}.
 *
 * @example
 * ```ts
 * faultPhaseMs(); // 5000 unless KV_JEPSEN_PHASE_MS is set
 * ```
 */
export function faultPhaseMs(): number {
  const text = Deno.env.get(PHASE_ENV);
  if (text === undefined) return DEFAULT_FAULT_PHASE_MS;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < MIN_FAULT_PHASE_MS || ms > MAX_FAULT_PHASE_MS) {
    throw new Error(
      `${PHASE_ENV}=${text}: give the fault phase in whole ms, ${MIN_FAULT_PHASE_MS}..${MAX_FAULT_PHASE_MS}`,
    );
  }
  return ms;
}

/**
 * Waits `ms`: the schedule of the workload (how long a fault lasts), not a stand-in for a
 * condition — nothing is waited for.
 */
function holdFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * When the fault phase ends: its deadline passed, the nemesis is done, and the history holds
 * an acknowledged write and a read that found a record — on a loaded machine three clients
 * behind hung servers made as few as 9 calls in a 5 s phase, a run that tested nothing.
 */
interface Phase {
  readonly deadline: number;
  /** Past this the phase ends without a write or a found read; the run then fails for it. */
  readonly latest: number;
  nemesisDone: boolean;
  wrote: boolean;
  found: boolean;
}

function phaseGoesOn(phase: Phase): boolean {
  const now = performance.now();
  if (now < phase.deadline || !phase.nemesisDone) return true;
  return (!phase.wrote || !phase.found) && now < phase.latest;
}

/** One GET of `key` through `broker` by `client`, as the history records it. */
async function read(client: number, broker: BrokerProcess, key: string): Promise<HistoryEntry> {
  const start = performance.now();
  const answer = await broker.ask(`GET ${key}`);
  const end = performance.now();
  const found = answer.found === true;
  return {
    client,
    op: "get",
    key,
    start,
    end,
    outcome: "error" in answer ? "failed" : "ok",
    found,
    ...(found ? { value: answer.value as number } : {}),
    warning: answer.warning !== undefined,
  };
}

/**
 * Reads every key once through `broker` (client `client`) once the cluster is healed and
 * repaired. A read that warns or fails is asked again until one does not: with every
 * server up and marked, a warning only means the broker has not yet reconnected to a
 * server that was down, and the read is judged as the user would use it — without one.
 */
async function readEveryKey(client: number, broker: BrokerProcess): Promise<HistoryEntry[]> {
  const reads: HistoryEntry[] = [];
  for (const key of KEYS) {
    let last: HistoryEntry | undefined;
    await waitFor(async () => {
      last = await read(client, broker, key);
      return last.outcome === "ok" && last.warning === false;
    }, { what: `a GET ${key} answered without a warning`, intervalMs: FINAL_READ_RETRY_MS });
    assert.ok(last !== undefined);
    reads.push(last);
  }
  return reads;
}

/** One client: random calls through `broker` until `phase` ends, each recorded in `history`. */
async function runClient(
  client: number,
  broker: BrokerProcess,
  random: Sfc32,
  phase: Phase,
  values: { next: number },
  history: HistoryEntry[],
): Promise<void> {
  while (phaseGoesOn(phase)) {
    const key = KEYS[random.nextBelow(KEYS.length)];
    const dice = random.nextBelow(20);
    if (dice < 10) {
      const entry = await read(client, broker, key);
      if (entry.op === "get" && entry.found) phase.found = true;
      history.push(entry);
    } else if (dice < 17) {
      const value = values.next++;
      const start = performance.now();
      const answer = await broker.ask(`PUT ${key}: ${value}`);
      const outcome = answer.stored === true && answer.warning === undefined ? "ok" : "failed";
      if (outcome === "ok") phase.wrote = true;
      history.push({ client, op: "put", key, value, start, end: performance.now(), outcome });
    } else {
      const start = performance.now();
      const answer = await broker.ask(`DELETE ${key}`);
      const outcome = typeof answer.deleted === "boolean" && answer.warning === undefined
        ? "ok"
        : "failed";
      const found = answer.deleted === true;
      history.push({ client, op: "delete", key, start, end: performance.now(), outcome, found });
    }
  }
}

/** Empties a server's data dir, as a replaced disk would (the server must be stopped). */
async function wipe(server: ServerProcess): Promise<void> {
  const dir = server.dataDir;
  assert.ok(dir !== undefined, "the fault test's servers are durable");
  for await (const entry of Deno.readDir(dir)) {
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
  }
}

/**
 * Injects faults until `deadline`, one server at a time (k − 1 = 1 unavailable at most),
 * and leaves every server running and reachable; returns what it did, for the failure
 * message. The first faults are each of `faults` once, past `deadline` if need be, so
 * every run exercises them all; the later ones are drawn at random.
 */
async function nemesis(
  cluster: JepsenCluster,
  lists: ServerLists,
  faults: readonly Fault[],
  random: Sfc32,
  deadline: number,
): Promise<string[]> {
  const done: string[] = [];
  for (
    let round = 0;
    round < MAX_FAULTS && (round < faults.length || performance.now() < deadline);
    round++
  ) {
    await holdFor(random.nextBelow(MAX_FAULT_MS));
    const index = random.nextBelow(cluster.servers.length);
    const server = cluster.servers[index];
    const fault = faults[round < faults.length ? round : random.nextBelow(faults.length)];
    done.push(`${fault} server ${index}`);
    if (fault === "partition") {
      assert.ok(cluster.partition && cluster.heal, "only a cluster with links is partitioned");
      await cluster.partition(index);
      await holdFor(random.nextBelow(MAX_FAULT_MS));
      await cluster.heal(index);
      continue;
    }
    if (fault === "repair") {
      done.push(await repairAcrossRestart(cluster, lists.current, server, random));
      continue;
    }
    if (fault === "k") {
      done.push(
        await repairKilledOrNot(
          cluster,
          lists.current,
          1 + random.nextBelow(MAX_CHANGED_K),
          random,
        ),
      );
      continue;
    }
    if (fault === "list") {
      lists.current = lists.files[(lists.files.indexOf(lists.current) + 1) % lists.files.length];
      done.push(await repairKilledOrNot(cluster, lists.current, K, random));
      continue;
    }
    if (fault === "hang") {
      server.signal("SIGSTOP");
      await holdFor(random.nextBelow(MAX_FAULT_MS));
      server.signal("SIGCONT");
      continue;
    }
    await server.kill();
    if (fault === "wipe") await wipe(server);
    await holdFor(random.nextBelow(MAX_FAULT_MS));
    await server.restart();
    if (fault !== "wipe") continue;
    // The case: the other replica of the wiped server's keys goes down before they
    // were refilled, so for a while only the server that lost them can answer.
    const count = cluster.servers.length;
    const other = cluster.servers[(index + 1 + random.nextBelow(count - 1)) % count];
    done.push(`kill server ${cluster.servers.indexOf(other)} right after`);
    await other.kill();
    await holdFor(random.nextBelow(MAX_FAULT_MS));
    await other.restart();
  }
  return done;
}

/**
 * Runs `kv repair` while `server` is killed, its data dir emptied or not, and restarted
 * under it; returns what happened, for the failure message. The repair fails when the
 * kill lands before it ends (the server did not answer), and must then have broken
 * nothing: the run's checks tell.
 */
async function repairAcrossRestart(
  cluster: JepsenCluster,
  file: string,
  server: ServerProcess,
  random: Sfc32,
): Promise<string> {
  const repairing = runKv(withBrokerTimeout(["repair", ...clusterArgs(cluster, file)]));
  await holdFor(random.nextBelow(MAX_REPAIR_HEAD_START_MS));
  await server.kill();
  const wiped = random.nextBelow(2) === 0;
  if (wiped) await wipe(server);
  await holdFor(random.nextBelow(MAX_FAULT_MS));
  await server.restart();
  const { code } = await repairing;
  return `kv repair (exit ${code}) across a restart${wiped ? " with its data dir emptied" : ""}`;
}

/**
 * Runs `kv repair -s file -k k` under the clients — a change of k or of the server list
 * when either differs from the servers' — and SIGKILLs it part way in one run of
 * {@link CHANGE_KILL_ONE_IN}; returns what happened.
 */
async function repairKilledOrNot(
  cluster: JepsenCluster,
  file: string,
  k: number,
  random: Sfc32,
): Promise<string> {
  const args = withBrokerTimeout(["repair", ...clusterArgs(cluster, file, k)]);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...KV_PERMISSIONS, MAIN_PATH, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
  };
  const killed = random.nextBelow(CHANGE_KILL_ONE_IN) === 0;
  if (killed) {
    await holdFor(random.nextBelow(MAX_REPAIR_HEAD_START_MS));
    kill();
  }
  const { code } = await withDeadline(child.status, {
    what: `kv repair -k ${k} to exit`,
    onTimeout: kill,
  });
  const list = file === cluster.serverFile ? "every server" : "all but the last server";
  return `kv repair -k ${k} over ${list} (exit ${code}${killed ? ", SIGKILLed part way" : ""})`;
}

/**
 * The server file `file`, k (unless `null`) and `cluster`'s auth file, as kv commands take
 * them.
 */
function clusterArgs(
  cluster: JepsenCluster,
  file = cluster.serverFile,
  k: number | null = K,
): string[] {
  const auth = cluster.authFile === undefined ? [] : ["--auth-file", cluster.authFile];
  return ["-s", file, ...(k === null ? [] : ["-k", String(k)]), ...auth];
}

/**
 * The server files of a run: the cluster's, and, in a run that changes the server list,
 * one without its last server; `current` is the one repairs run over now. Disposing of
 * it removes the files it made.
 */
interface ServerLists extends AsyncDisposable {
  readonly files: readonly string[];
  current: string;
}

/**
 * `cluster`'s server lists ({@link ServerLists}): with `change`, a temporary file without
 * its last server beside its own, and that file the one repairs run over first.
 */
async function serverLists(cluster: JepsenCluster, change: boolean): Promise<ServerLists> {
  const own = cluster.serverFile;
  if (!change) return { files: [own], current: own, [Symbol.asyncDispose]: async () => {} };
  const lines = (await Deno.readTextFile(own)).trimEnd().split("\n");
  const fewer = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(fewer, lines.slice(0, -1).join("\n") + "\n");
  return { files: [fewer, own], current: fewer, [Symbol.asyncDispose]: () => Deno.remove(fewer) };
}

/** What server `server` holds: every key with its version and kind. */
async function heldBy(server: ServerProcess, authFile?: string): Promise<Map<string, HeldEntry>> {
  const credentials = await resolveCredentials({ authFile });
  const client = await connectClient(server.address, { credentials });
  const held = new Map<string, HeldEntry>();
  try {
    const everything = new Uint8Array(PARTITION_BITMAP_BYTES).fill(0xff);
    let after: string | undefined;
    for (let more = true; more;) {
      const page = await client.listPartitions(everything, { limit: LIST_PAGE, after });
      for (const entry of page.entries) {
        held.set(entry.key, { version: formatVersion(entry.version), tombstone: entry.tombstone });
      }
      more = page.more;
      after = page.entries.at(-1)?.key;
    }
  } finally {
    await client.close();
  }
  return held;
}

/** Options of one run ({@link runJepsen}). */
export interface RunOptions {
  /** Starts the servers the run attacks. */
  start: () => Promise<JepsenCluster>;
  /** The faults the nemesis injects. */
  faults: readonly Fault[];
  /** Run `kv repair` after the faults, then require identical replicas and read every key. */
  repair: boolean;
  /**
   * Run the brokers with clocks that disagree ({@link CLOCK_SKEWS}) where libfaketime is
   * installed ({@link CLOCKS_CAN_SKEW}); default false.
   */
  skewedClocks?: boolean;
}

/**
 * Runs the clients and the nemesis for a fault phase ({@link faultPhaseMs}), then checks
 * the history (and, after `kv repair`, the replicas and a final read of every key).
 *
 * @example
 * ```ts ignore
 * await runJepsen({ start: onLoopback, faults: ["kill", "hang", "wipe"], repair: true });
 * ```
 */
export async function runJepsen(options: RunOptions): Promise<void> {
  const seed = Number(Deno.env.get("KV_JEPSEN_SEED") ?? randomSeed());
  const context = `seed ${seed} (replay with KV_JEPSEN_SEED=${seed})`;
  await using cluster = await options.start();
  const skewed = options.skewedClocks === true && CLOCKS_CAN_SKEW;
  // Brokers given -k refuse writes once k changed: with k changes they follow the servers.
  const followK = options.faults.includes("k");
  const listChanges = options.faults.includes("list");
  await using lists = await serverLists(cluster, listChanges);
  if (followK || listChanges) {
    const fixed = await runKv(
      withBrokerTimeout(["repair", ...clusterArgs(cluster, lists.current)]),
    );
    assert.equal(fixed.code, 0, `kv repair -k ${K} of the new cluster: ${fixed.stderr}`);
  }
  // With list changes, brokers on either list: the cluster's, and one without its last server.
  const brokerFile = (client: number) => lists.files[client % lists.files.length];
  const brokers = Array.from({ length: BROKER_COUNT }, (_, client) => {
    const skew = skewed ? CLOCK_SKEWS[client] : undefined;
    return BrokerProcess.start(
      [...clusterArgs(cluster, brokerFile(client), followK ? null : K), "--json"],
      skew === undefined ? {} : faketimeEnv(skew),
    );
  });
  try {
    await Promise.all(brokers.map((broker) => broker.ask("SERVERS", BROKER_START_DEADLINE_MS)));
    const history: HistoryEntry[] = [];
    const values = { next: 1 };
    const deadline = performance.now() + faultPhaseMs();
    const phase: Phase = {
      deadline,
      latest: deadline + DEFAULT_DEADLINE_MS,
      nemesisDone: false,
      wrote: false,
      found: false,
    };
    const faulting = nemesis(cluster, lists, options.faults, new Sfc32(seed), phase.deadline)
      .finally(() => phase.nemesisDone = true);
    const [faultsDone] = await Promise.all([
      faulting,
      ...brokers.map((broker, client) =>
        runClient(client, broker, new Sfc32(seed + client + 1), phase, values, history)
      ),
    ]);
    const violations = checkHistory(history);
    assert.deepEqual(
      violations.map((violation) => violation.reason),
      [],
      `${context}; faults: ${faultsDone.join(", ")}; ${history.length} calls`,
    );
    // The run tested something: faults happened, writes were acknowledged, reads found them.
    assert.ok(faultsDone.length > 0, "the nemesis injected faults");
    assert.ok(history.some((entry) => entry.op === "put" && entry.outcome === "ok"), "writes");
    assert.ok(history.some((entry) => entry.op === "get" && entry.found), "some reads found");
    if (!options.repair) return;
    // The brokers' request timeout, not kv's default 1 s: a starved server that answers in
    // 1–3 s is live, and a repair that takes it for down fails the run for no violation.
    const repaired = await runKv(withBrokerTimeout(["repair", ...clusterArgs(cluster)]));
    assert.equal(repaired.code, 0, `${context}: kv repair: ${repaired.stderr}`);
    const held = await Promise.all(
      cluster.servers.map((server) => heldBy(server, cluster.authFile)),
    );
    const placement = new Placement(cluster.servers.map((server) => server.id));
    const problems = checkReplicas(held, (key) => placement.replicas(key, K));
    assert.deepEqual(problems, [], context);
    // Identical replicas could all hold a lost write's predecessor or a deleted record: each
    // key must read what the history allows once every write has ended — the last
    // acknowledged write's value (NOT FOUND after a delete), or, where writes overlapped or
    // failed, one of theirs that no write acknowledged after it began and ended overwrote.
    const reader = brokers.findIndex((_, client) => brokerFile(client) === cluster.serverFile);
    const finals = new Set(await readEveryKey(BROKER_COUNT, brokers[reader]));
    const wrong = checkHistory([...history, ...finals])
      .filter((violation) => finals.has(violation.read))
      .map(({ read, reason }) => `after kv repair, GET ${read.key}: ${reason}`);
    assert.deepEqual(wrong, [], context);
  } finally {
    await Promise.all(brokers.map((broker) => broker[Symbol.asyncDispose]()));
  }
}

/**
 * Four durable servers on loopback.
 *
 * @example
 * ```ts ignore
 * await using cluster = await onLoopback();
 * ```
 */
export function onLoopback(): Promise<JepsenCluster> {
  return KvCluster.start(SERVER_COUNT, { durable: true });
}
