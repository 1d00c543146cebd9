import assert from "node:assert/strict";
import fc from "fast-check";
import { HybridClock } from "../../lib/broker/clock.ts";
import { compareVersions, MAX_VERSION_COUNTER, type Version } from "../../lib/record/version.ts";

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
