import assert from "node:assert/strict";
import { Broker } from "../../lib/broker/broker.ts";
import { readLineBatches } from "../../lib/base/line_reader.ts";
import {
  answerLine,
  argumentHint,
  completeLine,
  COMPLETION_ANSWERS_KEPT,
  COMPLETION_KEYS_LIMIT,
  COMPLETION_LATE_HINT,
  CompletionAnswers,
  RecordLines,
  runInteractive,
  runSession,
} from "../../lib/broker/repl.ts";
import { Logger } from "../../lib/base/logger.ts";
import type { KeysAnswer } from "../../lib/broker/broker.ts";
import { waitFor } from "../helpers/wait.ts";
import { int, object, str, type Value } from "../../lib/record/value.ts";
import { formatAnswer, parseCommand } from "../../lib/broker/commands.ts";
import { formatName, formatValue } from "../../lib/record/format.ts";
import { joinEntry } from "../../lib/base/line_editor.ts";
import fc from "fast-check";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { withFakeBroker } from "../helpers/fake_cluster.ts";
import { withoutVersion } from "../helpers/versions.ts";
import { recordedOutput } from "../helpers/recorded_output.ts";

function lines(text: string) {
  const bytes = new TextEncoder().encode(text);
  return readLineBatches(ReadableStream.from([bytes]), { maxLineBytes: 64 });
}

Deno.test("runSession answers each command in input order and stops at EXIT", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    const { output, lines: printed } = recordedOutput();
    const script = [
      "PUT person1: { age : 22 }",
      "",
      "# comment",
      "get person1",
      "QUERY person1.age",
      "GET person9",
      "DELETE person1",
      "GET person1",
      "bogus",
      "EXIT",
      "GET person1",
    ].join("\n");
    await runSession(broker, lines(script), { output });
    assert.deepEqual(printed, [
      "STORED: person1",
      `person1 : { "age" : 22 }`,
      "person1.age : 22",
      "NOT FOUND: person9",
      "DELETED: person1",
      "NOT FOUND: person1",
      "ERROR: line 9: unknown command 'bogus'; to read a record type GET <key>",
    ]);
  });
});

Deno.test("runSession names the input line of every error, blank lines and comments counted: a mistake's, an unreadable line's and the cluster's", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    const { output, lines: printed } = recordedOutput();
    const script = [
      "PUT p: { a: 1 }",
      "",
      "# comment",
      "FOO x",
      "PUT q: {",
      "x".repeat(100),
      "GET p",
      "GET a.b",
    ].join("\n");
    await runSession(broker, lines(script), { output });
    // (The over-long line's advice is for the CLI's 1 MiB limit, not these lines' 64 bytes.)
    assert.deepEqual(printed.map((line) => line.replace(/ nothing was run.*/, "")), [
      "STORED: p",
      "ERROR: line 4: unknown command 'FOO' (HELP lists all)",
      "ERROR: line 5: column 9: expected a key or '}', found end of line; close the object " +
      "with '}' (a record is one line: jq -c joins one written over several)",
      "ERROR: line 6: line is 100 bytes; the limit is 64 bytes;",
      `p : { "a" : 1 }`,
      "ERROR: line 8: a key cannot contain '.'; to read a field use QUERY a.b",
    ]);
    const json = recordedOutput();
    await runSession(broker, lines(script), { json: true, output: json.output });
    assert.deepEqual(
      json.lines.map((line) => JSON.parse(line)).map(({ op, line }) => [op, line]),
      [["PUT", undefined], ["FOO", 4], ["PUT", 5], ["INVALID", 6], ["GET", undefined], ["GET", 8]],
    );
  });
  // The cluster's ERROR too: a write no server could take.
  await withFakeBroker(3, 2, async ({ broker, cluster }) => {
    for (const server of cluster.servers) server.failWrites = "disk full";
    const { output, lines: printed } = recordedOutput();
    await runSession(broker, lines("# one\nPUT p: 1"), { output });
    assert.match(printed.join("\n"), /^ERROR: line 2: put of 'p' reached only 0 of 2 replicas /);
  });
});

Deno.test("runSession with json prints exactly one object per command, to end of input", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    const { output, lines: printed } = recordedOutput();
    const script = `PUT 'p':{'a': 1}\nGET p\nQUERY p.a\nKEYS\n${"x".repeat(100)}\nHELP\nEXIT`;
    await runSession(broker, lines(script), { json: true, output });
    const answers = printed.map((line) => JSON.parse(line));
    assert.deepEqual(answers.map((answer) => answer.op), [
      "PUT",
      "GET",
      "QUERY",
      "KEYS",
      "INVALID",
      "HELP",
      "EXIT",
    ]);
    assert.match(answers[1].version, /^[0-9a-f]{24}$/);
    assert.deepEqual(withoutVersion(answers[1]), {
      op: "GET",
      key: "p",
      found: true,
      value: { a: 1 },
    });
    assert.equal(answers[4].line, 5);
    assert.match(answers[4].error, /^line is 100 bytes; the limit is 64 bytes; nothing was run/);
  });
});

Deno.test("answerLine turns parse errors into error answers", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    assert.deepEqual(await answerLine(broker, "GET a.b"), {
      op: "GET",
      key: "a.b",
      error: "a key cannot contain '.'; to read a field use QUERY a.b",
    });
    assert.equal(await answerLine(broker, "   "), undefined);
  });
});

Deno.test("completeLine takes blanks as commands do, spaces and tabs only: a key starting with a no-break space or holding a line separator completes as itself, and the completed line reads it", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    const spaced = "\u00a0nb";
    const separated = "a\u2028b";
    await broker.put(spaced, int(9));
    await broker.put("nb1", int(1));
    await broker.put(separated, int(2));
    for (
      const [typed, key, value] of [["GET \u00a0n", spaced, 9], [
        "GET a\u2028",
        separated,
        2,
      ]] as const
    ) {
      const completion = await completeLine(broker, typed);
      assert.deepEqual(completion.candidates, [formatName(key)], typed);
      const line = typed.slice(0, completion.start) + completion.candidates[0];
      assert.equal(
        formatAnswer((await answerLine(broker, line))!),
        `${formatName(key)} : ${value}`,
      );
    }
  });
});

Deno.test("completeLine completes command words, keys, field names, HELP topics and meta commands", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    await broker.put(
      "person1",
      object([["age", int(1)], ["address", object([["city", str("Oslo")]])]]),
    );
    await broker.put("person2", int(2));
    await broker.put("other", int(3));
    assert.deepEqual(await completeLine(broker, "ge"), { start: 0, candidates: ["get "] });
    assert.deepEqual(await completeLine(broker, "  D"), { start: 2, candidates: ["DELETE "] });
    assert.deepEqual(await completeLine(broker, ""), {
      start: 0,
      candidates: ["GET ", "QUERY ", "DELETE ", "PUT ", "KEYS ", "SERVERS ", "HELP ", "EXIT "],
    });
    assert.deepEqual(await completeLine(broker, "GET per"), {
      start: 4,
      candidates: ["person1", "person2"],
    });
    assert.deepEqual(await completeLine(broker, "query o"), { start: 6, candidates: ["other"] });
    assert.deepEqual(await completeLine(broker, "KEYS p"), {
      start: 5,
      candidates: ["person1", "person2"],
    });
    assert.deepEqual(await completeLine(broker, "QUERY person1."), {
      start: 14,
      candidates: ["age", "address"],
    });
    assert.deepEqual(await completeLine(broker, "QUERY person1.address.c"), {
      start: 22,
      candidates: ["city"],
    });
    assert.deepEqual(await completeLine(broker, "QUERY person2."), { start: 14, candidates: [] });
    assert.deepEqual(await completeLine(broker, "GET person1."), { start: 12, candidates: [] });
    assert.deepEqual(await completeLine(broker, "help k"), { start: 5, candidates: ["KEYS"] });
    // Keys and fields that a bare word would not read back are completed quoted, and a
    // quoted start completes too: Tab never makes a command that fails.
    await broker.put("q:1", object([["a b", int(1)]]));
    await broker.put("q 2", int(2));
    assert.deepEqual(await completeLine(broker, "GET q"), {
      start: 4,
      candidates: [`"q 2"`, `"q:1"`],
    });
    assert.deepEqual(await completeLine(broker, `GET "q:`), { start: 4, candidates: [`"q:1"`] });
    assert.deepEqual(await completeLine(broker, `QUERY "q:1".`), {
      start: 12,
      candidates: [`"a b"`],
    });
    // As the answers write them: bare where the bare dialect is (café, as GET answers it);
    // quoted where KEYS would read a number.
    await broker.put("café", int(4));
    await broker.put("7up", int(5));
    assert.deepEqual(await completeLine(broker, "GET ca"), { start: 4, candidates: ["café"] });
    assert.equal(formatAnswer((await answerLine(broker, "GET café"))!), "café : 4");
    assert.deepEqual(await completeLine(broker, "GET 7"), { start: 4, candidates: [`"7up"`] });
    const line = `QUERY "q:1".${(await completeLine(broker, `QUERY "q:1".`)).candidates[0]}`;
    assert.equal(formatAnswer((await answerLine(broker, line))!), '"q:1"."a b" : 1');
    assert.deepEqual(
      await completeLine(broker, "\\demo k", { metaCompletions: ["\\demo kill ", "\\demo hang "] }),
      { start: 0, candidates: ["\\demo kill "] },
    );
  });
});

/**
 * A broker whose KEYS answers only when the test says (`answer`), and a Tab that never
 * waits: every answer not already in is late, whatever the machine's speed.
 */
function lateKeys() {
  const asked: { prefix: string; answer: (keys: string[]) => void }[] = [];
  const broker = {
    keys: (prefix: string) => {
      const { promise, resolve } = Promise.withResolvers<KeysAnswer>();
      asked.push({ prefix, answer: (keys) => resolve({ keys, more: false } as KeysAnswer) });
      return promise;
    },
  } as unknown as Broker;
  const answers = new CompletionAnswers({
    within: (work) => Promise.race([work, Promise.resolve(undefined)]),
  });
  return { broker, asked, answers };
}

Deno.test("completeLine offers the first COMPLETION_KEYS_LIMIT keys of a prefix more match, saying there are more", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    // The first keys share user_10, the last does not: a Tab must not narrow to user_10.
    const tens = Array.from({ length: COMPLETION_KEYS_LIMIT }, (_, i) => `user_${1000 + i}`);
    for (const key of [...tens, "user_2000"]) await broker.put(key, int(1));
    assert.deepEqual(await completeLine(broker, "GET user_"), {
      start: 4,
      candidates: tens,
      more: true,
    });
    // Exactly the limit: all of them, and no more.
    assert.deepEqual(await completeLine(broker, "GET user_10"), { start: 4, candidates: tens });
  });
});

Deno.test("a Tab whose KEYS answers late offers nothing and hints so; the next Tab offers that late answer", async () => {
  const { broker, asked, answers } = lateKeys();
  assert.deepEqual(await completeLine(broker, "GET per", { answers }), {
    start: 4,
    candidates: [],
  });
  assert.equal(answers.hint("GET per"), COMPLETION_LATE_HINT);
  assert.equal(answers.hint("GET pers"), undefined, "only on the line that Tab was on");
  // A Tab while the KEYS is on its way asks nothing more.
  await completeLine(broker, "GET per", { answers });
  assert.equal(asked.length, 1);
  asked[0].answer(["person1", "person2"]);
  await waitFor(() => answers.hint("GET per") === undefined, { what: "the late answer kept" });
  // The next Tab asks again (keys change), and its answer is late too: the kept one is offered.
  assert.deepEqual(await completeLine(broker, "GET per", { answers }), {
    start: 4,
    candidates: ["person1", "person2"],
  });
  assert.deepEqual(asked.map(({ prefix }) => prefix), ["per", "per"]);
  assert.equal(answers.hint("GET per"), undefined, "a Tab that offered keys hints nothing");
  // Its own answer, come, takes the old one's place.
  asked[1].answer(["person3"]);
  assert.deepEqual((await completeLine(broker, "GET per", { answers })).candidates, ["person3"]);
});

Deno.test("late completion answers are kept for the last COMPLETION_ANSWERS_KEPT prefixes only", async () => {
  const { broker, asked, answers } = lateKeys();
  const prefixes = Array.from({ length: COMPLETION_ANSWERS_KEPT + 1 }, (_, i) => `p${i}x`);
  for (const prefix of prefixes) await completeLine(broker, `GET ${prefix}`, { answers });
  for (const { prefix, answer } of asked) answer([`${prefix}1`]);
  const last = `GET ${prefixes.at(-1)}`;
  await waitFor(() => answers.hint(last) === undefined, { what: "the late answers kept" });
  assert.deepEqual((await completeLine(broker, last, { answers })).candidates, [
    `${prefixes.at(-1)}1`,
  ]);
  assert.deepEqual((await completeLine(broker, `GET ${prefixes[1]}`, { answers })).candidates, [
    `${prefixes[1]}1`,
  ]);
  // The first prefix's answer, the least recently asked of COMPLETION_ANSWERS_KEPT + 1, is gone.
  assert.deepEqual((await completeLine(broker, `GET ${prefixes[0]}`, { answers })).candidates, []);
});

Deno.test("argumentHint shows the arguments still to type", () => {
  assert.equal(argumentHint("get"), " key");
  assert.equal(argumentHint("GET "), "key");
  assert.equal(argumentHint("GET person1"), undefined);
  assert.equal(argumentHint("KEYS "), "[prefix] [limit] [after]");
  assert.equal(argumentHint("KEYS per"), " [limit] [after]");
  assert.equal(argumentHint("KEYS per 5"), " [after]");
  assert.equal(argumentHint("KEYS per 5 person7"), undefined);
  assert.equal(argumentHint("PUT "), "key: { field: value; … }");
  assert.equal(argumentHint("PUT a: 1"), undefined);
  assert.equal(argumentHint("SERVERS"), undefined);
  assert.equal(argumentHint("bogus "), undefined);
});

/** `value` printed as `jq .` prints JSON: an object one field a line, indented by two. */
function prettyPrinted(value: Value, indent = ""): string {
  if (value.kind !== "object" || value.fields.length === 0) return formatValue(value);
  const inner = `${indent}  `;
  const fields = value.fields.map(([name, field]) =>
    `${inner}${formatName(name)}: ${prettyPrinted(field, inner)}`
  );
  return `{\n${fields.join(",\n")}\n${indent}}`;
}

/**
 * Feeds `lines` to `recordLines` as the line editor does, a line that does not go on ending
 * its entry: whether each went on.
 */
function wentOn(recordLines: RecordLines, ...lines: string[]): boolean[] {
  const answers: boolean[] = [];
  let index = 0;
  for (const line of lines) {
    const goesOn = recordLines.continues(line, index);
    answers.push(goesOn);
    index = goesOn ? index + 1 : 0;
  }
  return answers;
}

Deno.test("property: a PUT of any record pretty-printed over lines goes on at each line but its last, and its lines joined read as the record", () => {
  const recordLines = new RecordLines();
  fc.assert(
    fc.property(keyArbitrary(), valueArbitrary(), (key, value) => {
      const lines = `PUT ${formatName(key)}: ${prettyPrinted(value)}`.split("\n");
      assert.deepEqual(
        wentOn(recordLines, ...lines),
        lines.map((_, index) => index < lines.length - 1),
      );
      assert.deepEqual(parseCommand(joinEntry(lines)), { op: "PUT", key, value });
    }),
    { numRuns: 500 },
  );
});

Deno.test("RecordLines: a first line goes on by the record grammar, the lines after it while objects are open outside quoted strings", () => {
  const lines = new RecordLines();
  // Braces in quoted strings, either quote, open and close nothing.
  assert.deepEqual(wentOn(lines, "PUT p: {", `"a": "}",`, `'b': '{'`, "}"), [
    true,
    true,
    true,
    false,
  ]);
  assert.deepEqual(wentOn(lines, "PUT p: { a: {", "b: 1 }", "}", "}"), [true, true, false, false]);
  // A mistake inside the record is no reason to stop: the PUT its lines make answers it.
  assert.deepEqual(wentOn(lines, "PUT p: {", "a 1 ;; }"), [true, false]);
  // A first line goes on only by the grammar: a brace count alone would have each go on.
  assert.deepEqual(wentOn(lines, `PUT p: { a: "x`, "}"), [false, false], "a string left open");
  assert.deepEqual(wentOn(lines, "PUT p: { ; {", "}"), [false, false], "a mistake before its end");
  assert.deepEqual(wentOn(lines, "GET {", "QUERY p.{"), [false, false], "not a PUT");
  // Nor does a later line that leaves a quoted string open, either quote: no string spans
  // lines, and joined on, its lines read as one string ("first line second line").
  assert.deepEqual(wentOn(lines, "PUT p: {", `"x": "first line`, `second line"`, "}"), [
    true,
    false,
    false,
    false,
  ]);
  assert.deepEqual(wentOn(lines, "PUT p: {", `'x': 'it\\'s`, "}"), [true, false, false]);
  // Each entry is followed afresh: what one left open is not the next one's.
  assert.deepEqual(wentOn(lines, "PUT p: { a: {"), [true]);
  assert.deepEqual(wentOn(lines, "PUT q: 1", "x"), [false, false]);
});

Deno.test("runInteractive logs a command cancelled with Ctrl-C that fails later at warn, through the program's logger: name, level and all", async () => {
  await withFakeBroker(1, 1, async ({ broker }) => {
    let fail!: (error: Error) => void;
    const running = new Promise<string>((_, reject) => fail = reject);
    // The line and Ctrl-C pressed right behind its Enter, then the end of input.
    const keys = [new TextEncoder().encode("\\slow\r\x03")];
    const answers: string[] = [];
    const logged: string[] = [];
    await runInteractive(broker, {
      metaCommand: () => running,
      input: {
        read(buffer) {
          const chunk = keys.shift();
          if (chunk === undefined) return Promise.resolve(null);
          buffer.set(chunk);
          return Promise.resolve(chunk.length);
        },
        setRaw() {},
      },
      terminal: { writeSync: (bytes) => bytes.length },
      write: (text) => answers.push(text),
      log: new Logger({ name: "kv demo", write: (line) => logged.push(line) }).print,
    });
    assert.deepEqual(answers, ["ERROR: cancelled (Ctrl-C)"]);
    fail(new Error("the server process did not start"));
    await waitFor(() => logged.length > 0, { what: "the cancelled command's failure logged" });
    assert.deepEqual(logged, [
      "kv demo warn: a cancelled command failed: Error: the server process did not start",
    ]);
  });
});
