/**
 * The fault test's checker (./history_checker.ts) against models: it accepts every
 * history a linearizable register produces (failed writes applied or not), and in a
 * sequential history flags exactly the reads that differ from the register.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkHistory, checkReplicas, type HistoryEntry } from "./history_checker.ts";

const KEYS = ["a", "b"];

/** An operation before it is timed and answered. */
interface PlannedOp {
  op: "get" | "put" | "delete";
  key: string;
  start: number;
  duration: number;
  /** Where in its interval it takes effect, as a fraction of its duration. */
  at: number;
  failed: boolean;
  /** A failed write took effect anyway (on some replica, spread later). */
  appliedAnyway: boolean;
}

const plannedOpArbitrary = fc.record({
  op: fc.constantFrom<"get" | "put" | "delete">("get", "put", "delete", "get"),
  key: fc.constantFrom(...KEYS),
  start: fc.integer({ min: 0, max: 1000 }),
  duration: fc.integer({ min: 2, max: 200 }),
  at: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
  failed: fc.boolean(),
  appliedAnyway: fc.boolean(),
});

/**
 * Runs `planned` against a register per key, each operation taking effect at its point
 * in its interval, and returns the history a correct system would record.
 */
function linearizableHistory(planned: readonly PlannedOp[]): HistoryEntry[] {
  const order = planned.map((op, index) => ({ op, index, point: op.start + op.at * op.duration }))
    .sort((a, b) => a.point - b.point);
  const register = new Map<string, number | undefined>();
  const history: HistoryEntry[] = new Array(planned.length);
  for (const { op, index } of order) {
    const base = {
      client: index % 3,
      op: op.op,
      key: op.key,
      start: op.start,
      end: op.start + op.duration,
    };
    if (op.op === "get") {
      const value = register.get(op.key);
      history[index] = value === undefined
        ? { ...base, outcome: "ok", found: false }
        : { ...base, outcome: "ok", found: true, value };
      continue;
    }
    const applied = !op.failed || op.appliedAnyway;
    // A DELETE answers whether it found a record there.
    const found = register.get(op.key) !== undefined;
    if (applied) register.set(op.key, op.op === "put" ? index : undefined);
    history[index] = {
      ...base,
      ...(op.op === "put" ? { value: index } : { found }),
      outcome: op.failed ? "failed" : "ok",
    };
  }
  return history;
}

Deno.test("checker: every history of a linearizable register passes, failed writes applied or not", () => {
  fc.assert(
    fc.property(fc.array(plannedOpArbitrary, { maxLength: 40 }), (planned) => {
      const violations = checkHistory(linearizableHistory(planned));
      assert.deepEqual(violations, []);
    }),
    { numRuns: 1000 },
  );
});

/** A read's answer: the register's, or another one. */
type Answer = { found: false; warning: boolean } | {
  found: true;
  value: number;
  warning?: boolean;
};

Deno.test("checker: in a sequential history of acknowledged calls it flags exactly the reads and DELETEs that differ from the register", () => {
  const stepArbitrary = fc.record({
    op: fc.constantFrom<"get" | "put" | "delete">("get", "put", "delete"),
    key: fc.constantFrom(...KEYS),
    lie: fc.option(
      fc.oneof(
        fc.record({ found: fc.constant(false as const), warning: fc.boolean() }),
        fc.record({
          found: fc.constant(true as const),
          value: fc.integer({ min: -1, max: 40 }),
          warning: fc.boolean(),
        }),
      ),
      { freq: 3 },
    ),
  });
  fc.assert(
    fc.property(fc.array(stepArbitrary, { maxLength: 40 }), (steps) => {
      const register = new Map<string, number>();
      const history: HistoryEntry[] = [];
      const wrong = new Set<number>();
      steps.forEach((step, index) => {
        const base = {
          client: 0,
          op: step.op,
          key: step.key,
          start: 2 * index,
          end: 2 * index + 1,
        };
        if (step.op === "put") {
          register.set(step.key, index);
          history.push({ ...base, value: index, outcome: "ok" });
          return;
        }
        if (step.op === "delete") {
          // A DELETE answers whether it found a record (DELETED) or not (NOT FOUND); a
          // lie says the other, without a warning: wrong either way.
          const truth = register.delete(step.key);
          if (step.lie !== null) wrong.add(index);
          history.push({ ...base, outcome: "ok", found: step.lie === null ? truth : !truth });
          return;
        }
        const truth = register.get(step.key);
        const answer: Answer = step.lie ??
          (truth === undefined ? { found: false, warning: false } : { found: true, value: truth });
        // A value found with a warning may be stale, but some earlier PUT of the key made it.
        const madeEarlier = (value: number) =>
          value >= 0 && value < index && steps[value].op === "put" && steps[value].key === step.key;
        const right = answer.found
          ? answer.value === truth || (answer.warning === true && madeEarlier(answer.value))
          : truth === undefined || answer.warning;
        if (!right) wrong.add(index);
        history.push({ ...base, outcome: "ok", ...answer });
      });
      const flagged = new Set(checkHistory(history).map((violation) => violation.read.start / 2));
      assert.deepEqual([...flagged].sort(), [...wrong].sort());
    }),
    { numRuns: 1000 },
  );
});

Deno.test("checker: the reasons name a stale value, a value no write made, and a bare NOT FOUND; a warned stale value passes", () => {
  const put = (value: number, start: number, end: number): HistoryEntry => ({
    client: 0,
    op: "put",
    key: "k",
    value,
    start,
    end,
    outcome: "ok",
  });
  const get = (start: number, answer: Partial<HistoryEntry>): HistoryEntry => ({
    client: 1,
    op: "get",
    key: "k",
    start,
    end: start + 1,
    outcome: "ok",
    ...answer,
  });
  const [stale] = checkHistory([put(1, 0, 1), put(2, 2, 3), get(4, { found: true, value: 1 })]);
  assert.match(stale.reason, /a stale value: PUT k=1 .* was overwritten by PUT k=2/);
  // The broker may answer a stale value when it says a newer one may exist; never one no
  // write made.
  const warned = { found: true, value: 1, warning: true };
  assert.deepEqual(checkHistory([put(1, 0, 1), put(2, 2, 3), get(4, warned)]), []);
  const [inventedWarned] = checkHistory([put(1, 0, 1), get(4, { ...warned, value: 9 })]);
  assert.match(inventedWarned.reason, /a value no write made \(9\)/);
  const [invented] = checkHistory([put(1, 0, 1), get(4, { found: true, value: 9 })]);
  assert.match(invented.reason, /a value no write made \(9\)/);
  const [bare] = checkHistory([put(1, 0, 1), get(4, { found: false })]);
  assert.match(bare.reason, /NOT FOUND without a warning, though PUT k=1/);
  assert.deepEqual(checkHistory([put(1, 0, 1), get(4, { found: false, warning: true })]), []);
  // A read overlapping the newer write may still see the older value.
  assert.deepEqual(
    checkHistory([put(1, 0, 1), put(2, 2, 6), get(4, { found: true, value: 1 })]),
    [],
  );
  // A failed write overwrites nothing, but may be what a read sees.
  const failed = { ...put(2, 2, 3), outcome: "failed" as const };
  assert.deepEqual(checkHistory([put(1, 0, 1), failed, get(4, { found: true, value: 1 })]), []);
  assert.deepEqual(checkHistory([put(1, 0, 1), failed, get(4, { found: true, value: 2 })]), []);
  // A DELETE that answered NOT FOUND without a warning is held to a bare NOT FOUND's rule,
  // itself left out; one that found the record, or overlapped a DELETE, passes.
  const del = (start: number, found: boolean): HistoryEntry => ({
    client: 2,
    op: "delete",
    key: "k",
    start,
    end: start + 1,
    outcome: "ok",
    found,
  });
  const [missed] = checkHistory([put(1, 0, 1), del(4, false)]);
  assert.match(
    missed.reason,
    /^DELETE answered NOT FOUND without a warning, though PUT k=1 .* before the DELETE began/,
  );
  assert.deepEqual(checkHistory([put(1, 0, 1), del(4, true)]), []);
  assert.deepEqual(checkHistory([put(1, 0, 1), del(2, true), del(4, false)]), []);
  assert.deepEqual(checkHistory([del(4, false)]), []);
  // One that answered DELETED is held to a found value's rule, for any value (S34 F4: the
  // second DELETE answered DELETED while a replica that missed the first held the record).
  const [again] = checkHistory([put(1, 0, 1), del(2, true), del(4, true)]);
  assert.match(
    again.reason,
    /^DELETE answered DELETED, though every PUT of the key was overwritten before it began \(by DELETE k by client 2 \[2, 3\]/,
  );
  const [never] = checkHistory([del(4, true)]);
  assert.equal(
    never.reason,
    "DELETE answered DELETED, though no PUT of the key began before it ended",
  );
  // A PUT overlapping it, or failed (applied anyway, maybe), explains it.
  assert.deepEqual(checkHistory([put(1, 0, 1), del(2, true), put(2, 3, 5), del(4, true)]), []);
  assert.deepEqual(checkHistory([{ ...put(2, 0, 1), outcome: "failed" }, del(4, true)]), []);
});

Deno.test("replica check: home replicas must hold one entry, and no other server a copy", () => {
  const record = { version: "0193813bcc05000000000007", tombstone: false };
  const tombstone = { version: "0193813bcc06000000000007", tombstone: true };
  const homes = (key: string) => key === "a" ? [0, 1] : [1, 2];
  assert.deepEqual(
    checkReplicas([new Map([["a", record]]), new Map([["a", record]]), new Map()], homes),
    [],
  );
  assert.deepEqual(
    checkReplicas([new Map([["a", record]]), new Map([["a", tombstone]]), new Map()], homes),
    [
      "key a: its replicas differ (server 0: record 0193813bcc05000000000007, " +
      "server 1: tombstone 0193813bcc06000000000007)",
    ],
  );
  assert.deepEqual(
    checkReplicas(
      [new Map([["b", record]]), new Map([["b", record]]), new Map([["b", record]])],
      homes,
    ),
    ["key b: server 0 holds a copy though it is not a home of the key"],
  );
  assert.deepEqual(
    checkReplicas([new Map(), new Map([["b", record]]), new Map()], homes),
    ["key b: its replicas differ (server 1: record 0193813bcc05000000000007, server 2: nothing)"],
  );
});
