import assert from "node:assert/strict";
import { closestWord, editDistance } from "../../lib/base/edit_distance.ts";

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
