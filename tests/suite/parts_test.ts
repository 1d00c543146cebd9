import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_SECONDS,
  JEPSEN_FILES,
  PART_COUNT,
  PARTS_AT_ONCE,
  partsOf,
  SECONDS_IN_SUITE,
  secondsInSuite,
  TEST_V8_FLAGS,
  testFiles,
} from "./parts.ts";
import { DEFAULT_FAULT_PHASE_MS } from "../helpers/jepsen.ts";
import denoConfig from "../../deno.json" with { type: "json" };

Deno.test("partsOf deals every file to exactly one part, and no part gets more than its share plus one file", () => {
  const files = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,8}_test\.ts$/), { maxLength: 40 });
  const weights = fc.dictionary(fc.stringMatching(/^[a-z]{1,8}_test\.ts$/), fc.nat(100));
  fc.assert(
    fc.property(files, fc.integer({ min: 1, max: 10 }), weights, (names, count, seconds) => {
      const parts = partsOf(names, count, seconds);
      assert.equal(parts.length, count);
      assert.deepEqual(parts.flat().sort(), [...names].sort());
      const weight = (file: string) => seconds[file] ?? DEFAULT_SECONDS;
      const total = names.reduce((sum, file) => sum + weight(file), 0);
      const heaviest = Math.max(0, ...names.map(weight));
      for (const part of parts) {
        const load = part.reduce((sum, file) => sum + weight(file), 0);
        assert(load <= total / count + heaviest, `${load} > ${total / count} + ${heaviest}`);
      }
    }),
  );
});

Deno.test("deno task test runs every test file once: the part files it names are parts 1 to PART_COUNT, which cover tests/", () => {
  const task = denoConfig.tasks.test;
  assert.match(
    task,
    new RegExp(`^DENO_JOBS=${PARTS_AT_ONCE} deno test --parallel .* tests/suite/part_\\*\\.ts$`),
  );
  assert(task.includes(` --v8-flags=${TEST_V8_FLAGS} `), task);
  const partFiles = [...Deno.readDirSync(new URL("./", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) => /^part_.*\.ts$/.test(name))
    .sort();
  assert.deepEqual(
    partFiles,
    Array.from({ length: PART_COUNT }, (_, i) => `part_${i + 1}.ts`).sort(),
  );
  for (const [i, name] of partFiles.entries()) {
    const text = Deno.readTextFileSync(new URL(name, import.meta.url));
    const part = Number(name.match(/^part_(\d+)\.ts$/)![1]);
    assert.match(text, new RegExp(`^await importPart\\(${part}\\);$`, "m"), name);
    assert(i < PART_COUNT);
  }
  const files = testFiles();
  assert(files.includes("tests/suite/parts_test.ts") && files.includes("tests/layout_test.ts"));
  const parts = partsOf(files);
  assert.deepEqual(parts.flat().sort(), files);
  assert(parts.every((part) => part.length > 0), "no part is empty");
});

Deno.test("every file SECONDS_IN_SUITE weighs, and every Jepsen file, is a test file that exists", () => {
  const files = new Set(testFiles());
  for (const file of [...Object.keys(SECONDS_IN_SUITE), ...JEPSEN_FILES]) {
    assert(files.has(file), file);
  }
});

Deno.test("a Jepsen fault phase 10 s longer than the default weighs each Jepsen file 10 s more, and no other file", () => {
  assert.deepEqual(secondsInSuite(DEFAULT_FAULT_PHASE_MS), SECONDS_IN_SUITE);
  const longer = secondsInSuite(DEFAULT_FAULT_PHASE_MS + 10_000);
  for (const file of new Set([...Object.keys(longer), ...Object.keys(SECONDS_IN_SUITE)])) {
    const listed = SECONDS_IN_SUITE[file] ?? DEFAULT_SECONDS;
    assert.equal(longer[file] ?? DEFAULT_SECONDS, listed + (JEPSEN_FILES.includes(file) ? 10 : 0));
  }
});
