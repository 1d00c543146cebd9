// kv http's bound on the answers it holds (lib/http/answer_budget.ts), end to end over real
// sockets: a 15 MiB record of control characters was 90 MB of JSON held per GET until its
// client took it, with 1024 GETs answered at once.
import assert from "node:assert/strict";
import { HttpProcess } from "../helpers/http_process.ts";
import { waitFor } from "../helpers/wait.ts";
import { AnswerBudget, COUNTED_ANSWER_CHARS } from "../../lib/http/answer_budget.ts";

/** Characters U+0001 in the large record: each is six bytes of JSON (`\u0001`). */
const CONTROL_CHARACTERS = 4 * 1024 * 1024;
/** Its GET's answer, some 24 MB: more than loopback's socket buffers take from a stalled client. */
const LARGE_ANSWER_BYTES = 6 * CONTROL_CHARACTERS;
/** The budget under test: the large answer alone fits, a second with it does not. */
const BUDGET_BYTES = LARGE_ANSWER_BYTES + 1024 * 1024;

/** Reads `conn` until the head of an answer has arrived; its status line. */
async function answerHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let received = "";
  const decoder = new TextDecoder();
  while (!received.includes("\r\n\r\n")) {
    const count = await conn.read(buffer);
    assert.ok(count !== null, `the connection closed after ${JSON.stringify(received)}`);
    received += decoder.decode(buffer.subarray(0, count), { stream: true });
  }
  return received.slice(0, received.indexOf("\r\n"));
}

/**
 * Checks that a client that stops reading a large answer holds the budget: another large
 * answer is a 503 with Retry-After and the process stays up; a small one is served; once the
 * client goes away the large answer is served whole.
 */
async function largeAnswersWithinBudget(guardFlags: string[]): Promise<void> {
  await using served = await HttpProcess.onCluster(1, [
    "--max-body-bytes",
    String(2 * LARGE_ANSWER_BYTES),
    "--max-answer-bytes",
    String(BUDGET_BYTES),
    ...guardFlags,
  ]);
  const { http } = served;
  const value = JSON.stringify("\u0001".repeat(CONTROL_CHARACTERS));
  const put = await fetch(`${http.url}v1/records/large`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: value,
  });
  const stored = await put.text();
  assert.equal(put.status, 200, stored);
  // A HEAD is sent no body: its answer must leave the count, or the GET below were refused.
  const head = await fetch(`${http.url}v1/records/large`, { method: "HEAD" });
  assert.equal(head.status, 200);
  // A client that asks for the large answer and stops reading after its head.
  const { hostname, port } = new URL(http.url);
  const stalled = await Deno.connect({ hostname, port: Number(port) });
  try {
    const request = "GET /v1/records/large HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    await stalled.write(new TextEncoder().encode(request));
    assert.equal(await answerHead(stalled), "HTTP/1.1 200 OK");
    const refused = await fetch(`${http.url}v1/records/large`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("Retry-After"), "1");
    assert.match(
      (await refused.json()).error,
      /^busy: this answer of \d+ bytes and the \d+ bytes of answers in flight would be over \d+ \(--max-answer-bytes\); retry once they are delivered$/,
    );
    const small = await fetch(`${http.url}v1/servers`);
    assert.equal(small.status, 200);
    await small.body?.cancel();
    // Counted as a refusal for the requests in flight is: busy, not the cluster unavailable.
    const metrics = await (await fetch(`${http.url}metrics`)).text();
    assert.match(metrics, /^kv_http_requests_total\{operation="get",outcome="busy"\} 1$/m);
  } finally {
    stalled.close();
  }
  // Gone, the stalled client's answer leaves the count: the next is served whole.
  let whole: string | undefined;
  await waitFor(async () => {
    const answer = await fetch(`${http.url}v1/records/large`);
    if (answer.status !== 200) {
      await answer.body?.cancel();
      return false;
    }
    whole = await answer.text();
    return true;
  }, { what: "the large answer to be served once the stalled client went away" });
  assert.equal(
    whole!.length,
    LARGE_ANSWER_BYTES + `{"key":"large","value":"","version":""}`.length + 24,
  );
  assert.equal(await http.stop(), 0, "kv http was still running, and stopped on SIGTERM");
}

Deno.test("kv http answers 503 with Retry-After to a large answer that would take the answers held past --max-answer-bytes, serves small ones meanwhile, and the large one once the client holding the budget goes away; behind its connection guard (the default), which passes a large answer on without reading it whole", async () => {
  await largeAnswersWithinBudget([]);
});

Deno.test("kv http without the connection guard bounds the answers it holds too", async () => {
  await largeAnswersWithinBudget(["--header-timeout-ms", "0"]);
});

Deno.test("AnswerBudget counts a large answer until its body is taken whole or cancelled, and never refuses one alone", async () => {
  const large = "x".repeat(COUNTED_ANSWER_CHARS + 1);
  const answers = new AnswerBudget(COUNTED_ANSWER_CHARS + 10);
  assert.equal(answers.response("small", { headers: {} }).headers.get("Content-Length"), null);
  assert.equal(answers.held, 0);
  const first = answers.response(large, { headers: {} });
  assert.equal(first.headers.get("Content-Length"), String(large.length));
  assert.equal(answers.held, large.length);
  assert.throws(() => answers.response(large, { headers: {} }), /^Error: busy: this answer/);
  assert.equal(await first.text(), large);
  assert.equal(answers.held, 0);
  // Larger than the whole budget, alone: served, so that any record can be read.
  const huge = answers.response(large.repeat(2), { headers: {} });
  assert.equal(answers.held, 2 * large.length);
  await huge.body!.cancel();
  assert.equal(answers.held, 0);
});
