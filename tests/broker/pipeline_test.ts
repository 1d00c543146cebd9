import assert from "node:assert/strict";
import fc from "fast-check";
import { setImmediate } from "node:timers";
import { Broker } from "../../lib/broker/broker.ts";
import { readLineBatches, readRawLineBatches } from "../../lib/base/line_reader.ts";
import {
  type Access,
  AccessScheduler,
  commandAccess,
  runPipelined,
  type Step,
} from "../../lib/broker/pipeline.ts";
import { answerLine, runSession } from "../../lib/broker/repl.ts";
import { formatAnswer } from "../../lib/broker/commands.ts";
import type { Connector, ServerConnection } from "../../lib/broker/server_pool.ts";
import { FakeCluster } from "../helpers/fake_cluster.ts";
import { recordedOutput } from "../helpers/recorded_output.ts";

/** A promise with its resolver exposed, so a test decides when a command finishes. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Lets every queued microtask and promise callback run: they all run before the next task,
 * and `setImmediate` queues one without `setTimeout(0)`'s wait of a millisecond or more,
 * which the properties' thousands of settles turned into seconds of idle wall.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Schedules `access` as a command that records its start and finishes when its gate opens. */
function scheduleGated(scheduler: AccessScheduler, access: Access, name: string, log: string[]) {
  const { promise, open } = gate();
  const done = scheduler.schedule(access, async () => {
    log.push(name);
    await promise;
  });
  return { open, done };
}

Deno.test("AccessScheduler: a read of a key waits for the earlier write of it, not for reads", async () => {
  const scheduler = new AccessScheduler();
  const started: string[] = [];
  const put = scheduleGated(scheduler, { kind: "write", key: "a" }, "put a", started);
  const getA = scheduleGated(scheduler, { kind: "read", key: "a" }, "get a", started);
  const getA2 = scheduleGated(scheduler, { kind: "read", key: "a" }, "get a again", started);
  const getB = scheduleGated(scheduler, { kind: "read", key: "b" }, "get b", started);
  await settle();
  assert.deepEqual(started, ["put a", "get b"]);
  put.open();
  await put.done;
  await settle();
  assert.deepEqual(started, ["put a", "get b", "get a", "get a again"]);
  for (const command of [getA, getA2, getB]) command.open();
  await Promise.all([getA.done, getA2.done, getB.done]);
  assert.equal(scheduler.pendingCount, 0);
});

Deno.test("AccessScheduler: a write waits for earlier reads and writes of its key", async () => {
  const scheduler = new AccessScheduler();
  const started: string[] = [];
  const get = scheduleGated(scheduler, { kind: "read", key: "a" }, "get", started);
  const del = scheduleGated(scheduler, { kind: "write", key: "a" }, "delete", started);
  const put = scheduleGated(scheduler, { kind: "write", key: "a" }, "put", started);
  await settle();
  assert.deepEqual(started, ["get"]);
  get.open();
  await settle();
  assert.deepEqual(started, ["get", "delete"]);
  del.open();
  await settle();
  assert.deepEqual(started, ["get", "delete", "put"]);
  put.open();
  await put.done;
});

Deno.test("AccessScheduler: KEYS waits for every earlier write, and later writes wait for KEYS", async () => {
  const scheduler = new AccessScheduler();
  const started: string[] = [];
  const put = scheduleGated(scheduler, { kind: "write", key: "a" }, "put a", started);
  const keys = scheduleGated(scheduler, { kind: "read-all" }, "keys", started);
  const get = scheduleGated(scheduler, { kind: "read", key: "b" }, "get b", started);
  const del = scheduleGated(scheduler, { kind: "write", key: "b" }, "delete b", started);
  await settle();
  assert.deepEqual(started, ["put a", "get b"]);
  put.open();
  get.open();
  await settle();
  assert.deepEqual(started, ["put a", "get b", "keys"]);
  keys.open();
  await settle();
  assert.deepEqual(started, ["put a", "get b", "keys", "delete b"]);
  del.open();
  await del.done;
});

Deno.test("AccessScheduler: a barrier waits for everything before it and holds everything after", async () => {
  const scheduler = new AccessScheduler();
  const started: string[] = [];
  const get = scheduleGated(scheduler, { kind: "read", key: "a" }, "get", started);
  const barrier = scheduleGated(scheduler, { kind: "barrier" }, "barrier", started);
  const help = scheduleGated(scheduler, { kind: "none" }, "help", started);
  await settle();
  assert.deepEqual(started, ["get"]);
  get.open();
  await settle();
  assert.deepEqual(started, ["get", "barrier"]);
  barrier.open();
  await settle();
  assert.deepEqual(started, ["get", "barrier", "help"]);
  help.open();
  await help.done;
});

Deno.test("AccessScheduler: a failed command still releases those waiting for it", async () => {
  const scheduler = new AccessScheduler();
  const failed = scheduler.schedule(
    { kind: "write", key: "a" },
    () => Promise.reject(new Error("x")),
  );
  const read = scheduler.schedule({ kind: "read", key: "a" }, () => Promise.resolve("read"));
  await assert.rejects(failed, /x/);
  assert.equal(await read, "read");
});

const accessArbitrary: fc.Arbitrary<Access> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom("a", "b", "c").map((key): Access => ({ kind: "read", key })),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom("a", "b", "c").map((key): Access => ({ kind: "write", key })),
  },
  { weight: 1, arbitrary: fc.constantFrom<Access>({ kind: "read-all" }, { kind: "barrier" }) },
  { weight: 1, arbitrary: fc.constant<Access>({ kind: "none" }) },
);

/** Whether a command of `later` access must wait for an earlier one of `earlier` access. */
function mustFollow(earlier: Access, later: Access): boolean {
  if (earlier.kind === "barrier" || later.kind === "barrier") return true;
  const keyOf = (access: Access) =>
    access.kind === "read" || access.kind === "write" ? access.key : undefined;
  if (earlier.kind === "write" && later.kind === "read-all") return true;
  if (earlier.kind === "read-all" && later.kind === "write") return true;
  if (earlier.kind !== "write" && later.kind !== "write") return false;
  return keyOf(earlier) !== undefined && keyOf(earlier) === keyOf(later);
}

/** One command of the properties below: when it started and finished, in steps, and its gate. */
interface Traced {
  started?: number;
  finished?: number;
  opened: boolean;
  open?: () => void;
}

/** The commands of one property run: each one's trace, and the step clock they share. */
class TracedCommands {
  readonly traces: Traced[];
  #step = 0;

  constructor(count: number) {
    this.traces = Array.from({ length: count }, () => ({ opened: false }));
  }

  /** Schedules command `i`: once started it waits until {@link finishOne} picks it. */
  schedule(scheduler: AccessScheduler, i: number, access: Access, fails: boolean): Promise<number> {
    const trace = this.traces[i];
    const run = () => {
      trace.started = this.#step++;
      return new Promise<void>((resolve, reject) => {
        trace.open = () => (fails ? reject(new Error("failed")) : resolve());
      });
    };
    const finish = () => (trace.finished = this.#step++);
    return scheduler.schedule(access, run).then(finish, finish);
  }

  /** Finishes one started, unfinished command, chosen by `picks`; false when none is running. */
  async finishOne(picks: Iterator<number>): Promise<boolean> {
    await settle();
    const running = this.traces.filter((trace) => trace.open !== undefined && !trace.opened);
    if (running.length === 0) return false;
    const chosen = running[picks.next().value % running.length];
    chosen.opened = true;
    chosen.open!();
    return true;
  }

  /**
   * Asserts that no command of the first `scheduled` waits needlessly: once every earlier
   * one it must follow has finished (and callbacks have run), it has started.
   */
  async assertNoNeedlessWait(accesses: readonly Access[], scheduled: number): Promise<void> {
    await settle();
    for (let j = 0; j < scheduled; j++) {
      if (this.traces[j].started !== undefined) continue;
      const blocker = accesses.findIndex((earlier, i) =>
        i < j && mustFollow(earlier, accesses[j]) && this.traces[i].finished === undefined
      );
      assert.ok(blocker !== -1, `#${j} ${JSON.stringify(accesses[j])} waits for nothing`);
    }
  }

  /** Asserts that every command started only after each earlier one it must follow finished. */
  assertOrderKept(accesses: readonly Access[]): void {
    accesses.forEach((later, j) => {
      for (let i = 0; i < j; i++) {
        if (!mustFollow(accesses[i], later)) continue;
        assert.ok(
          this.traces[i].finished! < this.traces[j].started!,
          `#${j} ${JSON.stringify(later)} started before #${i} ` +
            `${JSON.stringify(accesses[i])} finished`,
        );
      }
    });
  }
}

Deno.test("property: AccessScheduler starts a command only after every earlier one it must follow, and runs all", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(accessArbitrary, fc.boolean()), { maxLength: 30 }),
      fc.infiniteStream(fc.nat()),
      async (script, picks) => {
        const scheduler = new AccessScheduler();
        const commands = new TracedCommands(script.length);
        const results = script.map(([access, fails], i) =>
          commands.schedule(scheduler, i, access, fails)
        );
        // Finishes the started commands one at a time, in an order the picks choose.
        for (let finishing = 0; finishing < script.length; finishing++) {
          assert.ok(await commands.finishOne(picks), "an unfinished command has started");
        }
        await Promise.all(results);
        assert.equal(scheduler.pendingCount, 0);
        commands.assertOrderKept(script.map(([access]) => access));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("property: AccessScheduler keeps the ordering rules when commands are scheduled while earlier ones finish, and starts each as soon as they allow", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(accessArbitrary, fc.boolean(), fc.nat(3)), { maxLength: 30 }),
      fc.infiniteStream(fc.nat()),
      async (script, picks) => {
        const scheduler = new AccessScheduler();
        const commands = new TracedCommands(script.length);
        const results: Promise<number>[] = [];
        // Each command is scheduled after some earlier ones finished (its third element):
        // groups of reads drain and new reads come, as in a pipeline reading ahead.
        const accesses = script.map(([access]) => access);
        for (const [i, [access, fails, finishesBefore]] of script.entries()) {
          for (let n = 0; n < finishesBefore && await commands.finishOne(picks); n++) {
            await commands.assertNoNeedlessWait(accesses, i);
          }
          results.push(commands.schedule(scheduler, i, access, fails));
        }
        do await commands.assertNoNeedlessWait(accesses, script.length); while (
          await commands.finishOne(picks)
        );
        await Promise.all(results);
        assert.equal(scheduler.pendingCount, 0);
        commands.assertOrderKept(script.map(([access]) => access));
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("commandAccess: reads, writes, reads of every key, and commands that touch nothing", () => {
  assert.deepEqual(commandAccess({ op: "GET", key: "k" }), { kind: "read", key: "k" });
  assert.deepEqual(commandAccess({ op: "QUERY", path: ["k", "f"] }), { kind: "read", key: "k" });
  assert.deepEqual(commandAccess({ op: "DELETE", key: "k" }), { kind: "write", key: "k" });
  assert.deepEqual(commandAccess({ op: "KEYS", prefix: "", limit: 1, after: "" }), {
    kind: "read-all",
  });
  assert.deepEqual(commandAccess({ op: "SERVERS" }), { kind: "read-all" });
  assert.deepEqual(commandAccess({ op: "EXIT" }), { kind: "none" });
});

Deno.test("runPipelined emits in input order whatever order the commands finish in", async () => {
  const gates = Array.from({ length: 5 }, gate);
  const emitted: number[] = [];
  const running = runPipelined(
    [[0, 1, 2, 3, 4]],
    (i): Step<number> => ({ access: { kind: "none" }, run: () => gates[i].promise.then(() => i) }),
    (i) => (emitted.push(i), true),
  );
  for (const i of [4, 2, 3]) gates[i].open();
  await settle();
  assert.deepEqual(emitted, []);
  gates[0].open();
  await settle();
  assert.deepEqual(emitted, [0]);
  gates[1].open();
  await running;
  assert.deepEqual(emitted, [0, 1, 2, 3, 4]);
});

Deno.test("runPipelined reads at most `window` commands ahead of the first unemitted one", async () => {
  const gates = Array.from({ length: 10 }, gate);
  let planned = 0;
  const running = runPipelined(
    [[...gates.keys()]],
    (i): Step<number> => {
      planned++;
      return { access: { kind: "none" }, run: () => gates[i].promise.then(() => i) };
    },
    () => true,
    { window: 3 },
  );
  await settle();
  assert.equal(planned, 3);
  gates[1].open();
  gates[2].open();
  await settle();
  assert.equal(planned, 3, "the first command still holds the window");
  gates[0].open();
  await settle();
  assert.equal(planned, 6);
  for (const { open } of gates) open();
  await running;
  assert.equal(planned, 10);
});

Deno.test("runPipelined stops after a last step, and when emit says so", async () => {
  const planned: number[] = [];
  const step = (i: number): Step<number> => {
    planned.push(i);
    return { access: { kind: "none" }, run: () => Promise.resolve(i), last: i === 2 };
  };
  const emitted: number[] = [];
  await runPipelined([[0, 1], [2, 3], [4]], step, (i) => (emitted.push(i), true));
  assert.deepEqual([planned, emitted], [[0, 1, 2], [0, 1, 2]]);
  emitted.length = 0;
  await runPipelined(
    [[5, 6, 7]],
    (i) => ({ access: { kind: "none" }, run: () => Promise.resolve(i) }),
    (i) => {
      emitted.push(i);
      return i !== 6;
    },
  );
  assert.deepEqual(emitted, [5, 6]);
});

Deno.test("runPipelined rejects with a failing step's error once the steps before it are emitted", async () => {
  const emitted: number[] = [];
  await assert.rejects(
    runPipelined(
      [[0, 1, 2]],
      (i): Step<number> => ({
        access: { kind: "none" },
        run: () => (i === 1 ? Promise.reject(new Error("bug")) : Promise.resolve(i)),
      }),
      (i) => (emitted.push(i), true),
    ),
    /bug/,
  );
  assert.deepEqual(emitted, [0]);
});

Deno.test("runPipelined rejects with the source's error after emitting what came before", async () => {
  async function* source() {
    yield [0];
    throw new Error("read failed");
  }
  const emitted: number[] = [];
  await assert.rejects(
    runPipelined(
      source(),
      (i) => ({ access: { kind: "none" }, run: () => Promise.resolve(i) }),
      (i) => {
        emitted.push(i);
        return true;
      },
    ),
    /read failed/,
  );
  assert.deepEqual(emitted, [0]);
});

/**
 * A connector over `cluster` whose every request takes a different number of
 * turns of the microtask queue before and after reaching the fake server, as
 * drawn from `delays`: concurrent commands finish in a scrambled order.
 */
function scramblingConnector(cluster: FakeCluster, delays: () => number): Connector {
  const pause = async () => {
    for (let turns = delays(); turns > 0; turns--) await Promise.resolve();
  };
  return async (address, timeoutMs) => {
    const inner = await cluster.connect(address, timeoutMs);
    return new Proxy(inner, {
      get(target, name) {
        const member = Reflect.get(target, name);
        if (typeof member !== "function") return member;
        if (name === "close") return member.bind(target);
        return async (...args: unknown[]) => {
          await pause();
          const result = await member.apply(target, args);
          await pause();
          return result;
        };
      },
    }) as ServerConnection;
  };
}

const scriptLine = fc.oneof(
  // Plain GETs in any case are read from the line's bytes (parseGetLine); the others,
  // like every other command, are decoded and parsed.
  fc.tuple(fc.constantFrom("a", "b", "c"), fc.constantFrom("GET", "get", "gEt")).map((
    [key, word],
  ) => `${word} ${key}`),
  fc.constantFrom("a", "b", "c").map((key) => `GET '${key}'`),
  fc.constantFrom("a", "b", "c").map((key) => `QUERY ${key}.n`),
  fc.constantFrom("a", "b", "c").map((key) => `DELETE ${key}`),
  fc.tuple(fc.constantFrom("a", "b", "c"), fc.nat(99)).map(([key, n]) => `PUT ${key}: { n: ${n} }`),
  fc.constantFrom("KEYS", "HELP", "bogus"),
);

Deno.test("property: a pipelined script prints exactly what running it one command at a time prints, its lines read as text or as bytes (kv broker's piped input)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(scriptLine, { maxLength: 40 }),
      fc.integer({ min: 1, max: 16 }),
      fc.infiniteStream(fc.oneof(fc.nat(2), fc.integer({ min: 10, max: 60 }))),
      fc.integer({ min: 1, max: 200 }),
      fc.boolean(),
      async (script, window, delayStream, chunkBytes, asBytes) => {
        const sequentialCluster = new FakeCluster(3);
        const sequential = await Broker.open(sequentialCluster.addresses, {
          k: 2,
          connect: sequentialCluster.connect,
        });
        const expected: string[] = [];
        for (const [index, line] of script.entries()) {
          const answer = await answerLine(sequential, line);
          if (answer === undefined) continue;
          // A piped session's errors name their input line.
          const piped = "error" in answer ? { ...answer, line: index + 1 } : answer;
          expected.push(formatAnswer(piped, { json: true }));
        }
        sequential.close();

        const delays = delayStream[Symbol.iterator]();
        const cluster = new FakeCluster(3);
        const connect = scramblingConnector(cluster, () => delays.next().value);
        const pipelined = await Broker.open(cluster.addresses, { k: 2, connect });
        const { output, lines: printed } = recordedOutput();
        // Input in chunks of chunkBytes: batches of a few lines, lines split across chunks.
        const input = new TextEncoder().encode(script.join("\n"));
        const chunks = Array.from(
          { length: Math.ceil(input.length / chunkBytes) },
          (_, i) => input.subarray(i * chunkBytes, (i + 1) * chunkBytes),
        );
        const read = asBytes ? readRawLineBatches : readLineBatches;
        await runSession(pipelined, read(ReadableStream.from(chunks)), {
          json: true,
          window,
          output,
        });
        pipelined.close();
        // Versions come from each broker's own clock, stamped in whatever order writes ran.
        const unversioned = (lines: string[]) =>
          lines.map((line) => line.replace(/,"version":"[0-9a-f]{24}"/, ""));
        assert.deepEqual(unversioned(printed), unversioned(expected));
      },
    ),
    { numRuns: 200 },
  );
});
