import assert from "node:assert/strict";
import fc from "fast-check";
import { HybridClock, MAX_CLOCK_AHEAD_MS } from "../../lib/broker/clock.ts";
import {
  compareVersions,
  MAX_VERSION_BROKER,
  MAX_VERSION_COUNTER,
  MAX_VERSION_MS,
  type Version,
} from "../../lib/record/version.ts";

Deno.test("next() is strictly increasing whatever the wall clock does, observed versions included", () => {
  const step = fc.oneof(
    fc.record({ wall: fc.integer({ min: 0, max: 10_000 }) }),
    fc.record({
      observed: fc.record({
        ms: fc.integer({ min: 0, max: 10_000 }),
        counter: fc.integer({ min: 0, max: MAX_VERSION_COUNTER }),
        broker: fc.nat(),
      }),
    }),
  );
  fc.assert(fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
    let wall = 0;
    const clock = new HybridClock({ broker: 5, now: () => wall });
    let newest: Version | undefined;
    for (const item of steps) {
      if ("observed" in item) {
        clock.observe(item.observed);
        if (newest === undefined || compareVersions(item.observed, newest) > 0) {
          newest = item.observed;
        }
        continue;
      }
      wall = item.wall;
      const version = clock.next();
      assert.equal(version.broker, 5);
      assert.ok(version.ms >= wall, "never behind the wall clock");
      if (newest !== undefined) {
        assert.ok(
          version.ms > newest.ms || (version.ms === newest.ms && version.counter > newest.counter),
          "after every version made or observed, whichever broker made it",
        );
      }
      newest = version;
    }
  }));
});

Deno.test("a counter that would pass 0xFFFF moves to the next millisecond", () => {
  const clock = new HybridClock({ broker: 1, now: () => 1000 });
  clock.observe({ ms: 1000, counter: MAX_VERSION_COUNTER - 1, broker: 2 });
  assert.deepEqual(clock.next(), { ms: 1000, counter: MAX_VERSION_COUNTER, broker: 1 });
  assert.deepEqual(clock.next(), { ms: 1001, counter: 0, broker: 1 });
});

Deno.test("two brokers pinned to one millisecond make different versions, ordered by id", () => {
  const a = new HybridClock({ broker: 1, now: () => 42 });
  const b = new HybridClock({ broker: 2, now: () => 42 });
  const [x, y] = [a.next(), b.next()];
  assert.deepEqual([x.ms, x.counter], [y.ms, y.counter]);
  assert.ok(compareVersions(x, y) < 0);
});

Deno.test("a random broker id when none is given; a bad one is refused", () => {
  const ids = new Set(Array.from({ length: 8 }, () => new HybridClock().broker));
  assert.ok(ids.size > 1);
  assert.throws(() => new HybridClock({ broker: -1 }), RangeError);
  assert.throws(() => new HybridClock({ broker: 2 ** 32 }), RangeError);
});

/** Any valid version: the u48 of ms, the u16 counter, the u32 broker id, edges included. */
const anyVersion = fc.record({
  ms: fc.oneof(
    fc.integer({ min: 0, max: MAX_VERSION_MS }),
    fc.constantFrom(0, MAX_VERSION_MS, MAX_VERSION_MS - 1),
  ),
  counter: fc.oneof(
    fc.integer({ min: 0, max: MAX_VERSION_COUNTER }),
    fc.constant(MAX_VERSION_COUNTER),
  ),
  broker: fc.integer({ min: 0, max: MAX_VERSION_BROKER }),
});

/** A wall clock of today's order (ms since 1970), which moves on or back. */
const WALL = { min: 1_700_000_000_000, max: 1_700_000_000_000 + 10 * MAX_CLOCK_AHEAD_MS };

Deno.test("whatever versions it observes, the clock never throws, never goes back, and never runs more than MAX_CLOCK_AHEAD_MS ahead of the wall clock", () => {
  const step = fc.oneof(
    fc.record({ wall: fc.integer(WALL) }),
    fc.record({ observed: anyVersion }),
    fc.record({ observedNear: fc.integer({ min: -10, max: 2 * MAX_CLOCK_AHEAD_MS }) }),
    fc.record({ met: anyVersion }),
  );
  fc.assert(fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
    let wall = WALL.min;
    let highestWall = wall;
    const clock = new HybridClock({ broker: 5, now: () => wall });
    let last: Version | undefined;
    const check = (version: Version) => {
      if (last !== undefined) assert.ok(compareVersions(version, last) > 0, "monotonic");
      // One millisecond more for a counter run out at the bound (65 536 versions in one).
      assert.ok(version.ms <= highestWall + MAX_CLOCK_AHEAD_MS + 1, "within the bound");
      last = version;
    };
    for (const item of steps) {
      if ("wall" in item) {
        wall = item.wall;
        highestWall = Math.max(highestWall, wall);
      } else if ("observed" in item) {
        const adopted = clock.observe(item.observed);
        assert.equal(adopted, item.observed.ms <= wall + MAX_CLOCK_AHEAD_MS);
        check(clock.next());
      } else if ("observedNear" in item) {
        const near = { ms: wall + item.observedNear, counter: MAX_VERSION_COUNTER, broker: 1 };
        assert.equal(clock.observe(near), item.observedNear <= MAX_CLOCK_AHEAD_MS);
        check(clock.next());
      } else {
        // A write that met `met` is stamped after it; the clock itself stays in bounds.
        const after = clock.after(item.met);
        const newest = item.met.ms === MAX_VERSION_MS && item.met.counter === MAX_VERSION_COUNTER;
        if (newest) assert.equal(after, undefined);
        else {
          assert.ok(after !== undefined && compareVersions(after, item.met) > 0, "after it");
          assert.equal(after.broker, 5);
          if (item.met.ms <= wall + MAX_CLOCK_AHEAD_MS) check(after);
          else assert.ok(!clock.covers(after), "a far version is not the clock's");
        }
        check(clock.next());
      }
    }
  }));
});

Deno.test("two writes that met the same far version get different versions, both after it: after() never makes one version twice", () => {
  const wall = 1_700_000_000_000;
  const clock = new HybridClock({ broker: 1, now: () => wall });
  const far = { ms: 2 ** 42, counter: 3, broker: 2 };
  const first = clock.after(far);
  const second = clock.after(far);
  assert.deepEqual(first, { ms: 2 ** 42, counter: 4, broker: 1 });
  assert.deepEqual(second, { ms: 2 ** 42, counter: 5, broker: 1 });
  assert.deepEqual(clock.after({ ms: 2 ** 42, counter: 9, broker: 2 }), {
    ms: 2 ** 42,
    counter: 10,
    broker: 1,
  }, "a newer held version is followed directly");

  // Far versions from a few milliseconds, so that writes meet the same one often; none
  // so close to the end of the u48 that the versions made after them could run out.
  const farMs = fc.constantFrom(2 ** 42, 2 ** 42 + 1, MAX_VERSION_MS - 5);
  const met = fc.record({
    ms: farMs,
    counter: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(MAX_VERSION_COUNTER)),
    broker: fc.integer({ min: 0, max: 3 }),
  });
  const step = fc.oneof(fc.record({ met }), fc.record({ wall: fc.integer(WALL) }));
  fc.assert(fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
    let now = WALL.min;
    const clock = new HybridClock({ broker: 5, now: () => now });
    const made = new Set<string>();
    for (const item of steps) {
      if ("wall" in item) {
        now = item.wall;
        continue;
      }
      const version = clock.after(item.met);
      assert.ok(version !== undefined && compareVersions(version, item.met) > 0, "after it");
      const text = `${version.ms}.${version.counter}`;
      assert.ok(!made.has(text), `version ${text} made twice`);
      made.add(text);
    }
  }));
});

Deno.test("a version at the end of the u48, observed or met, leaves the clock at the wall clock and every later write possible", () => {
  const wall = 1_700_000_000_000;
  const clock = new HybridClock({ broker: 1, now: () => wall });
  const last = { ms: MAX_VERSION_MS, counter: MAX_VERSION_COUNTER, broker: MAX_VERSION_BROKER };
  assert.equal(clock.observe(last), false);
  assert.equal(clock.after(last), undefined, "nothing comes after the newest version");
  const nearly = { ms: MAX_VERSION_MS, counter: MAX_VERSION_COUNTER - 1, broker: 7 };
  assert.deepEqual(clock.after(nearly), {
    ms: MAX_VERSION_MS,
    counter: MAX_VERSION_COUNTER,
    broker: 1,
  });
  for (let write = 0; write < 3 * (MAX_VERSION_COUNTER + 1); write++) clock.next();
  assert.deepEqual(clock.next(), { ms: wall + 3, counter: 0, broker: 1 });
});
