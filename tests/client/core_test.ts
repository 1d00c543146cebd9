import assert from "node:assert/strict";
import { type ReplicaCopy, replicasAgree } from "../../lib/client/core.ts";

const found = (server: string, version: string): ReplicaCopy => ({
  server,
  state: "found",
  value: { kind: "string", value: "v" },
  version,
});
const missing = (server: string): ReplicaCopy => ({ server, state: "missing" });
const unreachable = (server: string): ReplicaCopy => ({
  server,
  state: "unreachable",
  error: "down",
});

Deno.test("replicasAgree: the replicas that answered agree on one version, or on nothing", () => {
  assert.equal(replicasAgree([found("a", "01"), found("b", "01")]), true);
  assert.equal(replicasAgree([missing("a"), missing("b")]), true);
  assert.equal(replicasAgree([found("a", "01"), unreachable("b")]), true);
  assert.equal(replicasAgree([found("a", "01"), found("b", "02")]), false);
  assert.equal(replicasAgree([found("a", "01"), missing("b")]), false);
  assert.equal(
    replicasAgree([{ server: "a", state: "deleted", version: "01" }, missing("b")]),
    false,
  );
});

Deno.test("replicasAgree: no replica answering is no agreement", () => {
  assert.equal(replicasAgree([unreachable("a"), unreachable("b")]), false);
  assert.equal(replicasAgree([]), false);
});
