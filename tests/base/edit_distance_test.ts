import assert from "node:assert/strict";
import fc from "fast-check";
import { closestWithinOneEdit, closestWord, editDistance } from "../../lib/base/edit_distance.ts";

Deno.test("editDistance counts an insertion, deletion, substitution or swap of neighbours as one edit", () => {
  assert.equal(editDistance("get", "get"), 0);
  assert.equal(editDistance("gett", "get"), 1);
  assert.equal(editDistance("gt", "get"), 1);
  assert.equal(editDistance("gwt", "get"), 1);
  assert.equal(editDistance("gte", "get"), 1);
  assert.equal(editDistance("--timout-ms", "--timeout-ms"), 1);
  assert.equal(editDistance("sever", "servers"), 2);
  // Lengths three apart are not counted: no typo is that far.
  assert.equal(editDistance("a", "abcd"), 3);
});

Deno.test("closestWord picks the nearest candidate within the edits allowed, case aside, the first of equals", () => {
  assert.equal(closestWord("gett", ["gen", "get", "query"]), "get");
  assert.equal(closestWord("ge", ["gen", "get"]), "gen", "both 1 away: the first listed");
  assert.equal(closestWord("GET", ["gen", "get"]), "get", "case is no edit");
  assert.equal(closestWord("sever", ["servers", "server"]), "server", "the nearer wins");
  assert.equal(closestWord("frobnicate", ["server", "servers"]), undefined);
  assert.equal(closestWord("-x", ["-h", "-V"], 0), undefined, "0 edits: case only");
  assert.equal(closestWord("-v", ["-h", "-V"], 0), "-V");
  assert.equal(closestWord("--dryrun", ["--dry-run", "--json"]), "--dry-run");
  assert.equal(closestWord("tmeout-m", ["timeout-ms"], 2), "timeout-ms");
  assert.equal(closestWord("tmeout-m", ["timeout-ms"], 1), undefined);
});

Deno.test("closestWithinOneEdit answers as closestWord with one edit, case aside, the first of equals", () => {
  const cases: [string, string[]][] = [
    ["stret", ["name", "street", "streets"]],
    ["street", ["streets", "Street"]],
    ["adress", ["age", "address"]],
    ["aeg", ["name", "age"]],
    ["agee", ["age"]],
    ["ag", ["age"]],
    ["xyz", ["age", "name"]],
    ["a", ["b", "c"]],
    ["abcd", ["abdc", "abcx"]],
    ["abcd", ["bacd"]],
    ["abcd", ["badc"]],
    ["", ["a"]],
    ["é", ["e", "É"]],
  ];
  for (const [typed, candidates] of cases) {
    assert.equal(
      closestWithinOneEdit(typed, candidates),
      closestWord(typed, candidates, 1),
      `${typed} among ${candidates}`,
    );
  }
});

Deno.test("property: closestWithinOneEdit agrees with closestWord(…, 1) on random short words", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom("a", "b", "A", "c"), maxLength: 5 }),
      fc.array(fc.string({ unit: fc.constantFrom("a", "b", "B", "c"), maxLength: 6 })),
      (typed, candidates) => {
        assert.equal(closestWithinOneEdit(typed, candidates), closestWord(typed, candidates, 1));
      },
    ),
  );
});
