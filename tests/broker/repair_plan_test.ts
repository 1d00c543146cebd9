import assert from "node:assert/strict";
import fc from "fast-check";
import { type KeyCopy, type KeyPlan, outOfPlace, planKey } from "../../lib/broker/repair_plan.ts";
import { compareVersions, type Version } from "../../lib/record/version.ts";

/** What one server holds for the key in the model: nothing, a record or a tombstone. */
type Held = { readonly version: Version; readonly tombstone: boolean } | undefined;

const versionArbitrary: fc.Arbitrary<Version> = fc.record({
  ms: fc.integer({ min: 0, max: 5 }),
  counter: fc.integer({ min: 0, max: 2 }),
  broker: fc.integer({ min: 0, max: 2 }),
});

/** A version names one write, so whether it is a delete follows from the version. */
const heldArbitrary: fc.Arbitrary<Held> = fc.option(
  versionArbitrary.map((version) => ({ version, tombstone: version.broker === 0 })),
  { nil: undefined },
);

/** A cluster for one key: what each server holds, its home, and who answers. */
const scenarioArbitrary = fc.integer({ min: 1, max: 6 }).chain((serverCount) =>
  fc.record({
    held: fc.array(heldArbitrary, { minLength: serverCount, maxLength: serverCount }),
    order: fc.shuffledSubarray([...Array(serverCount).keys()], {
      minLength: serverCount,
      maxLength: serverCount,
    }),
    k: fc.integer({ min: 1, max: serverCount }),
    answered: fc.array(fc.boolean(), { minLength: serverCount, maxLength: serverCount }),
    cutoff: fc.option(versionArbitrary, { nil: undefined }),
    /** Writes that fail, as `step:server`. */
    failing: fc.uniqueArray(
      fc.tuple(fc.constantFrom("copy", "remove", "purge"), fc.nat(serverCount - 1)),
      { maxLength: 4 },
    ).map((pairs) => new Set(pairs.map(([step, server]) => `${step}:${server}`))),
  })
);

type Scenario = typeof scenarioArbitrary extends fc.Arbitrary<infer T> ? T : never;

/** The copies the answering servers' listings show. */
function copiesOf(held: readonly Held[], answered: readonly boolean[]): KeyCopy[] {
  return held.flatMap((entry, server) =>
    entry === undefined || !answered[server] ? [] : [{ server, ...entry }]
  );
}

/** A repair write in the model: applied only when newer than what the server holds. */
function copyInto(held: Held[], server: number, newest: KeyCopy): void {
  const current = held[server];
  if (current !== undefined && compareVersions(current.version, newest.version) >= 0) return;
  held[server] = { version: newest.version, tombstone: newest.tombstone };
}

/** A DELETE purge in the model: removes what the server holds unless it is newer. */
function purgeFrom(held: Held[], server: number, version: Version): void {
  const current = held[server];
  if (current !== undefined && compareVersions(current.version, version) <= 0) {
    held[server] = undefined;
  }
}

/** Carries `plan` out on `held` as the engine does: each step only when the last fully succeeded. */
function carryOut(plan: KeyPlan, held: Held[], failing: ReadonlySet<string>): void {
  const steps: [string, readonly number[], (server: number) => void][] = [
    ["copy", plan.copyTo, (server) => copyInto(held, server, plan.newest)],
    ["remove", plan.removeFrom, (server) => purgeFrom(held, server, plan.newest.version)],
    ["purge", plan.purgeFrom, (server) => purgeFrom(held, server, plan.newest.version)],
  ];
  for (const [step, servers, apply] of steps) {
    let allDone = true;
    for (const server of servers) {
      if (failing.has(`${step}:${server}`)) allDone = false;
      else apply(server);
    }
    if (!allDone) return;
  }
}

function plan(scenario: Scenario): KeyPlan | undefined {
  const copies = copiesOf(scenario.held, scenario.answered);
  if (copies.length === 0) return undefined;
  return planKey({
    copies,
    home: scenario.order.slice(0, scenario.k),
    answered: (server) => scenario.answered[server],
    everyServerAnswered: scenario.answered.every(Boolean),
    purgeTombstonesBefore: scenario.cutoff,
  });
}

function sameAs(held: Held, newest: KeyCopy): boolean {
  return held !== undefined && compareVersions(held.version, newest.version) === 0 &&
    held.tombstone === newest.tombstone;
}

Deno.test("plan: with every server answering and every write done, the key is in order", () => {
  fc.assert(fc.property(scenarioArbitrary, (generated) => {
    const scenario = { ...generated, answered: generated.answered.map(() => true) };
    const keyPlan = plan(scenario);
    if (keyPlan === undefined) return;
    const held = [...scenario.held];
    carryOut(keyPlan, held, new Set());
    const home = scenario.order.slice(0, scenario.k);
    const purged = keyPlan.purgeFrom.length > 0;
    held.forEach((entry, server) => {
      if (home.includes(server) && !purged) {
        assert(sameAs(entry, keyPlan.newest), `home server ${server} holds the newest`);
      } else {
        assert.equal(entry, undefined, `server ${server} holds nothing`);
      }
    });
    assert.equal(
      purged,
      keyPlan.newest.tombstone && scenario.cutoff !== undefined &&
        compareVersions(keyPlan.newest.version, scenario.cutoff) < 0,
    );
    // Carried out once, the plan for the result is empty.
    const again = plan({ ...scenario, held });
    assert(again === undefined || !outOfPlace(again), "a second plan has nothing to do");
  }));
});

Deno.test("plan: whatever answers and whatever fails, the newest is never lost nor an older record brought back", () => {
  fc.assert(fc.property(scenarioArbitrary, (scenario) => {
    const keyPlan = plan(scenario);
    if (keyPlan === undefined) return;
    const newest = keyPlan.newest;
    const before = [...scenario.held];
    const held = [...scenario.held];
    carryOut(keyPlan, held, scenario.failing);
    const keepsNewest = held.some((entry) =>
      entry !== undefined && compareVersions(entry.version, newest.version) >= 0
    );
    if (!keepsNewest) {
      // Only a tombstone is ever purged everywhere, and then nothing older survives it.
      assert(newest.tombstone, "a record's newest version was lost");
      for (const entry of held) assert.equal(entry, undefined, "a copy outlived its tombstone");
    }
    // A copy is removed off the home only once every home server holds the newest.
    const home = scenario.order.slice(0, scenario.k);
    const removedOffHome = before.some((entry, server) =>
      entry !== undefined && held[server] === undefined && !home.includes(server)
    );
    if (!removedOffHome) return;
    for (const server of home) {
      const entry = held[server];
      const holdsNewest = entry !== undefined &&
        compareVersions(entry.version, newest.version) >= 0;
      const tombstonePurged = entry === undefined && keyPlan.purgeFrom.includes(server);
      assert(holdsNewest || tombstonePurged, `home server ${server} lacks the newest`);
    }
  }));
});

Deno.test("plan: a server that did not answer is never written and blocks removals and purges", () => {
  fc.assert(fc.property(scenarioArbitrary, (scenario) => {
    const keyPlan = plan(scenario);
    if (keyPlan === undefined) return;
    for (const server of keyPlan.copyTo) assert(scenario.answered[server]);
    const home = scenario.order.slice(0, scenario.k);
    const homeAnswered = home.every((server) => scenario.answered[server]);
    assert.equal(keyPlan.complete, homeAnswered);
    if (!homeAnswered) assert.deepEqual(keyPlan.removeFrom, []);
    if (!scenario.answered.every(Boolean)) assert.deepEqual(keyPlan.purgeFrom, []);
  }));
});

Deno.test("plan: keys in order are left alone, and a young tombstone is kept", () => {
  const version = { ms: 10, counter: 0, broker: 1 };
  const inOrder = planKey({
    copies: [{ server: 0, version, tombstone: true }, { server: 1, version, tombstone: true }],
    home: [0, 1],
    answered: () => true,
    everyServerAnswered: true,
    purgeTombstonesBefore: { ms: 10, counter: 0, broker: 1 },
  });
  assert.deepEqual([inOrder.copyTo, inOrder.removeFrom, inOrder.purgeFrom], [[], [], []]);
  assert.equal(outOfPlace(inOrder), false);
  const old = planKey({
    copies: [{ server: 0, version, tombstone: true }, { server: 1, version, tombstone: true }],
    home: [0, 1],
    answered: () => true,
    everyServerAnswered: true,
    purgeTombstonesBefore: { ms: 11, counter: 0, broker: 0 },
  });
  assert.deepEqual(old.purgeFrom, [0, 1]);
  assert.equal(outOfPlace(old), false);
});
