import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Answer,
  type Command,
  CommandError,
  DEFAULT_KEYS_LIMIT,
  errorAnswer,
  formatAnswer,
  formatAnswerJson,
  parseCommand,
  parseGetLine,
  putEndsInsideRecord,
  runCommand,
} from "../../lib/broker/commands.ts";
import { float, int, object, str } from "../../lib/record/value.ts";
import { formatName } from "../../lib/record/format.ts";
import { keyProblem, listedKey } from "../../lib/record/key.ts";
import { encodeValue } from "../../lib/record/value_codec.ts";
import { keyArbitrary, valueArbitrary } from "../helpers/value_arbitrary.ts";
import { anyText } from "../helpers/text_arbitrary.ts";
import { withFakeBroker } from "../helpers/fake_cluster.ts";
import { withoutVersion } from "../helpers/versions.ts";
import { HELP_COLUMNS } from "../../lib/base/wrap_words.ts";

/** A record version in its text form, as answers carry it. */
const V = "0193813bcc0000000000002a";

const PERSON = object([["name", str("Mary")], ["age", int(22)], ["height", float(1.75)]]);

function parseError(line: string): CommandError {
  try {
    parseCommand(line);
  } catch (error) {
    assert(error instanceof CommandError);
    return error;
  }
  assert.fail(`'${line}' parsed`);
}

Deno.test("parseCommand reads every command, case-insensitively", () => {
  const cases: [string, Command][] = [
    ["GET person1", { op: "GET", key: "person1" }],
    ["  get   person1  ", { op: "GET", key: "person1" }],
    [`Get "person 1"`, { op: "GET", key: "person 1" }],
    ["QUERY person9.level.age", { op: "QUERY", path: ["person9", "level", "age"] }],
    ["query person9", { op: "QUERY", path: ["person9"] }],
    ["DELETE person3", { op: "DELETE", key: "person3" }],
    ["KEYS", { op: "KEYS", prefix: "", limit: DEFAULT_KEYS_LIMIT, after: "" }],
    ["keys per", { op: "KEYS", prefix: "per", limit: DEFAULT_KEYS_LIMIT, after: "" }],
    ["KEYS per 5", { op: "KEYS", prefix: "per", limit: 5, after: "" }],
    ["KEYS per 5 person7", { op: "KEYS", prefix: "per", limit: 5, after: "person7" }],
    ["KEYS 5 person7", { op: "KEYS", prefix: "", limit: 5, after: "person7" }],
    [`KEYS '' 5 "a b"`, { op: "KEYS", prefix: "", limit: 5, after: "a b" }],
    ["servers", { op: "SERVERS" }],
    ["Help", { op: "HELP" }],
    ["EXIT", { op: "EXIT" }],
    ["quit", { op: "EXIT" }],
  ];
  for (const [line, command] of cases) assert.deepEqual(parseCommand(line), command, line);
});

Deno.test("parseCommand reads PUT in all three dialects", () => {
  const lines = [
    `PUT "person1" : { "name" : "Mary" ; "age" : 22 ; "height" : 1.75 }`,
    `put 'person1':{'name': 'Mary', 'age': 22, 'height': 1.75}`,
    `PUT person1: { name : Mary; age : 22; height : 1.75 }`,
  ];
  for (const line of lines) {
    assert.deepEqual(parseCommand(line), { op: "PUT", key: "person1", value: PERSON }, line);
  }
});

Deno.test("parseCommand skips blank lines and comments", () => {
  assert.equal(parseCommand(""), undefined);
  assert.equal(parseCommand("   \t"), undefined);
  assert.equal(parseCommand("# a comment"), undefined);
});

/** Space characters that `String.prototype.trim` and `/\s/` take for blanks, and the record grammar for plain characters of a key. */
const UNICODE_SPACES = [
  "\u00a0",
  "\u1680",
  "\u2000",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u3000",
  "\ufeff",
  "\v",
  "\f",
];

Deno.test("property: a command names the key typed, whatever space characters other than spaces and tabs it starts or ends with (a PUT, a GET, a DELETE, a QUERY of it)", () => {
  const spaced = fc.tuple(
    fc.constantFrom(...UNICODE_SPACES, ""),
    keyArbitrary(),
    fc.constantFrom(...UNICODE_SPACES, ""),
  ).map(([before, key, after]) => before + key + after);
  fc.assert(
    fc.property(spaced, (key) => {
      assert.deepEqual(parseCommand(`PUT ${formatName(key)}: 1`), {
        op: "PUT",
        key,
        value: int(1),
      });
      assert.deepEqual(parseCommand(` GET\t${formatName(key)} `), { op: "GET", key });
      assert.deepEqual(parseCommand(`delete ${formatName(key)}`), { op: "DELETE", key });
      assert.deepEqual(parseCommand(`QUERY ${formatName(key)}.age`), {
        op: "QUERY",
        path: [key, "age"],
      });
    }),
    { numRuns: 300 },
  );
  // A bare no-break space is no blank: `GET \u00a0x` asks for the key "\u00a0x", not "x".
  assert.deepEqual(parseCommand("GET \u00a0x"), { op: "GET", key: "\u00a0x" });
  assert.deepEqual(parseCommand("PUT \u00a0x: 1"), { op: "PUT", key: "\u00a0x", value: int(1) });
});

Deno.test("a dotted GET key is an error that suggests QUERY", () => {
  const error = parseError("GET person1.age");
  assert.equal(error.op, "GET");
  assert.equal(error.message, "a key cannot contain '.'; to read a field use QUERY person1.age");
});

Deno.test("parse errors say what is wrong", () => {
  assert.match(parseError("GET").message, /GET needs a key/);
  assert.match(parseError("DELETE").message, /DELETE needs a key/);
  assert.match(parseError("QUERY").message, /QUERY needs a path/);
  assert.equal(parseError("QUERY a..b").message, "empty segment at column 3 in 'a..b'");
  assert.equal(
    parseError("QUERY a:b").message,
    "expected '.' or the end, found ':' at column 2 in 'a:b'",
  );
  assert.match(parseError("KEYS p 0").message, /limit must be a whole number from 1 to 10000/);
  assert.match(parseError("KEYS p 10001").message, /from 1 to 10000/);
  assert.equal(
    parseError("KEYS a.b").message,
    "a key prefix 'a.b' contains '.' (it separates query paths)",
  );
  assert.equal(
    parseError(`GET "a".b`).message,
    "key 'a.b' contains '.' (it separates query paths)",
  );
  assert.match(parseError("EXIT now").message, /EXIT takes no arguments/);
  assert.equal(
    parseError("GET " + "k".repeat(1025)).message,
    `key is 1025 bytes, over the limit of 1024 at column 1 in '${"k".repeat(40)}…'`,
  );
  const put = parseError(`PUT "a" { }`);
  assert.equal(put.op, "PUT");
  assert.match(put.message, /^column 9: expected ':'/);
  // The column is the error's too, to be told from elsewhere (a PUT typed over several lines).
  assert.equal(put.column, 9);
  assert.equal(put.at(3).message, put.message.replace("column 9", "column 3"));
  assert.equal(put.at(3).column, 3);
  assert.equal(parseError("GET a.b").column, undefined);
  // Ending inside an object: a '}' left out, or the first line of a record pasted over several.
  assert.equal(
    parseError(`PUT x: {  `).message,
    "column 9: expected a key or '}', found end of line; close the object with '}' " +
      "(a record is one line: jq -c joins one written over several)",
  );
  assert.doesNotMatch(parseError(`PUT x: { a: "{" b }`).message, /close the object/);
});

Deno.test("unknown commands get a one-line hint", () => {
  const typo = parseError("GTE person1");
  assert.equal(typo.op, "GTE");
  // Named as typed, as the message quotes it: upper-cased it read as a command of kv's.
  assert.equal(parseError("person1").op, "person1");
  assert.match(typo.message, /unknown command 'GTE'; did you mean GET\?/);
  assert.match(parseError("person1").message, /to read a record type GET <key>/);
  assert.match(
    parseError("frobnicate x y").message,
    /^unknown command 'frobnicate' \(HELP lists all\)$/,
  );
  assert.doesNotMatch(parseError("frobnicate x").message, /\n/);
  // Other stores' words name kv's, not the nearest spelling (SET is one edit from GET).
  assert.equal(
    parseError("SET x 1").message,
    "unknown command 'SET'; kv's is PUT (HELP PUT shows an example)",
  );
  assert.equal(
    parseError("del x").message,
    "unknown command 'del'; kv's is DELETE (HELP DELETE shows an example)",
  );
});

Deno.test("an unknown command's or HELP topic's error line fits 80 columns, however long the word typed", () => {
  const long = "x".repeat(200);
  for (const line of ["GTE a", long, `${long} y`, `${long}.age`, `HELP ${long}`, "HELP BOGUS"]) {
    const printed = formatAnswer(errorAnswer(parseError(line)));
    assert.ok(printed.length <= HELP_COLUMNS, `${printed.length} columns: ${printed}`);
    assert.doesNotMatch(printed, /\n/);
  }
});

Deno.test("property: an error answer's human line holds no control character, whatever line it repeats", () => {
  // What was typed comes back in the error: an escape sequence in it must not reach the
  // terminal (ESC [2J clears it), nor a newline split the line.
  const control = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));
  const text = fc.array(fc.oneof(control, fc.constantFrom("\x7f", "a", ".", " ", '"')), {
    maxLength: 12,
  }).map((parts) => parts.join(""));
  const word = fc.constantFrom("GET ", "QUERY ", "DELETE ", "PUT ", "KEYS ", "HELP ", "EXIT ", "");
  fc.assert(fc.property(word, text, (command, rest) => {
    let error: CommandError;
    try {
      parseCommand(command + rest);
      return;
    } catch (thrown) {
      assert(thrown instanceof CommandError);
      error = thrown;
    }
    const line = formatAnswer(errorAnswer(error));
    const control = [...line].find((character) => character < " " || character === "\x7f");
    assert.equal(control, undefined, JSON.stringify(line));
    assert.match(line, /^ERROR: /);
  }));
  const shown = formatAnswer(errorAnswer(parseError("GET a\x1b[2Jb")));
  assert.match(shown, /\\u001b\[2J/);
});

Deno.test("formatAnswer prints human text in the data's dialect", () => {
  const found: Answer = { op: "GET", key: "person1", found: true, value: PERSON, version: V };
  assert.equal(
    formatAnswer(found),
    `person1 : { "name" : "Mary" ; "age" : 22 ; "height" : 1.75 }`,
  );
  assert.equal(
    formatAnswer(found, { dialect: "python" }),
    `person1 : {'name': 'Mary', 'age': 22, 'height': 1.75}`,
  );
  assert.equal(
    formatAnswer({ op: "QUERY", key: "person1.age", found: true, value: int(22), version: V }),
    "person1.age : 22",
  );
  assert.equal(formatAnswer({ op: "GET", key: "person9", found: false }), "NOT FOUND: person9");
  assert.equal(
    formatAnswer({ op: "GET", key: "person9", found: false, warning: "servers down" }),
    "NOT FOUND: person9\nWARNING: servers down",
  );
  assert.equal(
    formatAnswer({ op: "DELETE", key: "person3", deleted: true, version: V }),
    "DELETED: person3",
  );
  assert.equal(
    formatAnswer({ op: "DELETE", key: "person3", deleted: false, version: V }),
    "NOT FOUND: person3",
  );
  assert.equal(
    formatAnswer({ op: "PUT", key: "person1", stored: true, version: V }),
    "STORED: person1",
  );
  assert.equal(formatAnswer({ op: "DELETE", key: "p", error: "refused" }), "ERROR: refused");
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "p", limit: 2, keys: ["p1", "p2"], more: true, next: "p2" }),
    "p1\np2\n(first 2; more match — next page: KEYS p 2 p2)",
  );
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "", limit: 1, keys: ["a b"], more: true, next: "a b" }),
    `a b\n(first 1; more match — next page: KEYS "" 1 "a b")`,
  );
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "x", limit: 2, keys: [], more: false }),
    "NO KEYS start with 'x'",
  );
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "p", limit: 2, after: "zz", keys: [], more: false }),
    "NO KEYS start with 'p' after 'zz'",
  );
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "", limit: 2, keys: [], more: false }),
    "NO KEYS",
  );
  // A glob, as redis-cli's KEYS takes: kv's is a prefix.
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "person1*", limit: 2, keys: [], more: false }),
    "NO KEYS start with 'person1*' (a prefix, not a pattern: '*' is taken as it is)",
  );
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "*", limit: 2, keys: [], more: false }),
    "NO KEYS start with '*' (a prefix, not a pattern: give none to list every key)",
  );
  assert.equal(
    formatAnswer({ op: "KEYS", prefix: "", limit: 2, after: "zz", keys: [], more: false }),
    "NO KEYS after 'zz'",
  );
  assert.equal(formatAnswer({ op: "GET", key: "a\nb", found: false }), `NOT FOUND: "a\\nb"`);
  assert.equal(formatAnswer({ op: "EXIT" }), "");
});

Deno.test("formatAnswer colours only when asked", () => {
  const answer: Answer = { op: "GET", key: "person9", found: false };
  assert.equal(formatAnswer(answer, { color: true }), "\x1b[33mNOT FOUND: person9\x1b[0m");
  assert(!formatAnswer(answer).includes("\x1b"), "no escape codes unless asked");
});

Deno.test("formatAnswer prints one JSON line with typed values", () => {
  const nested = object([["name", str("2.05")], ["age", int(22)], ["h", float(2)], [
    "address",
    object([["street", str("Main")]]),
  ]]);
  assert.equal(
    formatAnswer({ op: "GET", key: "person1", found: true, value: nested, version: V }, {
      json: true,
    }),
    `{"op":"GET","key":"person1","found":true,"value":{"name":"2.05","age":22,"h":2.0,"address":{"street":"Main"}},"version":"${V}"}`,
  );
  // Field order holds even for names a JavaScript object would reorder.
  const ordered = object([["b", int(1)], ["10", float(2)], ["2", str("x")]]);
  assert.equal(
    formatAnswer({ op: "GET", key: "o", found: true, value: ordered, version: V }, { json: true }),
    `{"op":"GET","key":"o","found":true,"value":{"b":1,"10":2.0,"2":"x"},"version":"${V}"}`,
  );
  // Floats stay floats in the text; a field named __proto__ is a field like any other.
  const awkward = object([["__proto__", float(-0)], ["big", float(1e21)], ["half", float(0.5)]]);
  assert.equal(
    formatAnswer({ op: "GET", key: "p", found: true, value: awkward, version: V }, { json: true }),
    `{"op":"GET","key":"p","found":true,"value":{"__proto__":-0.0,"big":1e+21,"half":0.5},"version":"${V}"}`,
  );
  assert.equal(
    formatAnswer({
      op: "QUERY",
      key: "person1.address.street",
      found: true,
      value: str("Main"),
      version: V,
    }, {
      json: true,
    }),
    `{"op":"QUERY","key":"person1.address.street","found":true,"value":"Main","version":"${V}"}`,
  );
  assert.equal(
    formatAnswer({ op: "GET", key: "person9", found: false, warning: "w" }, { json: true }),
    `{"op":"GET","key":"person9","found":false,"warning":"w"}`,
  );
  assert.equal(
    formatAnswer(errorAnswer(new CommandError("FOO", "unknown command 'FOO'")), { json: true }),
    `{"op":"FOO","error":"unknown command 'FOO'"}`,
  );
});

Deno.test("a QUERY that finds nothing says which: no record, the field missing (with a did-you-mean), or the leaf in the way; in text and in JSON", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    const answer = async (line: string) => await runCommand(broker, parseCommand(line)!);
    const text = async (line: string) => formatAnswer(await answer(line));
    const json = async (line: string) =>
      withoutVersion(JSON.parse(formatAnswer(await answer(line), { json: true })));
    await answer(
      `PUT person1: { age : 22; address : { street : Main }; bio : "${"x".repeat(80)}" }`,
    );
    await answer("PUT gone: 1");
    await answer("DELETE gone");
    assert.equal(await text("QUERY person9.age"), "NOT FOUND: no record person9");
    assert.equal(await text("QUERY gone.age"), "NOT FOUND: no record gone");
    assert.equal(
      await text("QUERY person1.address.stret"),
      "NOT FOUND: person1.address has no field stret (did you mean street?)",
    );
    assert.equal(
      await text("QUERY person1.adress.street"),
      "NOT FOUND: person1 has no field adress (did you mean address?)",
    );
    assert.equal(await text("QUERY person1.height"), "NOT FOUND: person1 has no field height");
    assert.equal(
      await text("QUERY person1.age.years"),
      "NOT FOUND: person1.age is 22, not an object",
    );
    assert.equal(
      await text("QUERY person1.address.street.x.y"),
      `NOT FOUND: person1.address.street is "Main", not an object`,
    );
    assert.equal(
      await text("QUERY person1.bio.x"),
      `NOT FOUND: person1.bio is "${"x".repeat(38)}…, not an object`,
      "a long leaf is cut",
    );
    // A field name that needs quotes is written as a command reads it back.
    assert.equal(
      await text(`QUERY person1."a b"`),
      `NOT FOUND: person1 has no field "a b"`,
    );
    assert.deepEqual(await json("QUERY person9.age"), {
      op: "QUERY",
      key: "person9.age",
      found: false,
      missing: { reason: "no-record" },
    });
    assert.deepEqual(await json("QUERY person1.address.stret"), {
      op: "QUERY",
      key: "person1.address.stret",
      found: false,
      missing: { reason: "no-field", path: "person1.address.stret", closest: "street" },
    });
    const leaf = formatAnswer(await answer("QUERY person1.age.years"), { json: true });
    assert.equal(
      leaf,
      '{"op":"QUERY","key":"person1.age.years","found":false,' +
        '"missing":{"reason":"not-object","path":"person1.age","value":22}}',
      "the leaf keeps its kind, as a found value does, and the existing fields come first",
    );
    // A GET's NOT FOUND is as it was.
    assert.deepEqual(await json("GET person9"), { op: "GET", key: "person9", found: false });
    assert.equal(await text("GET person9"), "NOT FOUND: person9");
  });
});

Deno.test("runCommand answers every command kind against a broker", async () => {
  await withFakeBroker(3, 2, async ({ cluster, broker }) => {
    const run = async (line: string) =>
      JSON.parse(formatAnswer(await runCommand(broker, parseCommand(line)!), { json: true }));
    assert.deepEqual(
      withoutVersion(await run(`PUT person1: { name : Mary; age : 22; height : 1.75 }`)),
      {
        op: "PUT",
        key: "person1",
        stored: true,
      },
    );
    assert.deepEqual(withoutVersion(await run("GET person1")), {
      op: "GET",
      key: "person1",
      found: true,
      value: { name: "Mary", age: 22, height: 1.75 },
    });
    assert.deepEqual(withoutVersion(await run("QUERY person1.age")), {
      op: "QUERY",
      key: "person1.age",
      found: true,
      value: 22,
    });
    assert.deepEqual(withoutVersion(await run("QUERY person1.zip")), {
      op: "QUERY",
      key: "person1.zip",
      found: false,
      missing: { reason: "no-field", path: "person1.zip" },
    });
    assert.deepEqual(withoutVersion(await run("KEYS per")), {
      op: "KEYS",
      prefix: "per",
      limit: 100,
      keys: ["person1"],
      more: false,
    });
    assert.deepEqual(withoutVersion(await run("DELETE person1")), {
      op: "DELETE",
      key: "person1",
      deleted: true,
    });
    assert.deepEqual(withoutVersion(await run("GET person1")), {
      op: "GET",
      key: "person1",
      found: false,
    });
    const servers = await run("SERVERS");
    assert.equal(servers.servers.length, 3);
    assert.deepEqual(Object.keys(servers.servers[0]), [
      "server",
      "up",
      "records",
      "latencyMs",
      "repaired",
      "repairedUnderOtherList",
      "beingRemarked",
      "readOnly",
      "hints",
      "k",
    ]);
    const help = await run("HELP");
    assert.equal(help.op, "HELP");
    assert(help.commands.some((command: { usage: string }) => command.usage === "GET key"));
    assert.deepEqual(withoutVersion(await run("EXIT")), { op: "EXIT" });
    // Two of three servers down: fewer than k=2 can take the write.
    for (const index of broker.replicasOf("person2")) cluster.servers[index].state = "crashed";
    const refused = await run(`PUT person2: { age : 1 }`);
    assert.equal(refused.op, "PUT");
    assert.equal(refused.key, "person2");
    assert.match(refused.error, /cannot put 'person2'/);
  });
});

Deno.test("KEYS pages: following each answer's next lists every key once, in order", async () => {
  await withFakeBroker(3, 2, async ({ broker }) => {
    const run = async (line: string) =>
      JSON.parse(formatAnswer(await runCommand(broker, parseCommand(line)!), { json: true }));
    const keys = ["person1", "person2", "person3", "person4", "person5", "other"];
    for (const key of keys) assert.equal((await run(`PUT ${key}: { age : 1 }`)).stored, true);
    const listed: string[] = [];
    let page = await run("KEYS person 2");
    assert.deepEqual(page, {
      op: "KEYS",
      prefix: "person",
      limit: 2,
      keys: ["person1", "person2"],
      more: true,
      next: "person2",
    });
    for (let pages = 1; pages <= keys.length; pages++) {
      listed.push(...page.keys);
      if (page.next === undefined) break;
      page = await run(`KEYS person 2 ${page.next}`);
    }
    assert.deepEqual(listed, ["person1", "person2", "person3", "person4", "person5"]);
    assert.equal("next" in page, false);
    assert.equal(page.more, false);
  });
});

Deno.test("the human KEYS answer's next-page command reads back as that page", () => {
  const key = fc.string({ unit: "binary-ascii", maxLength: 12 }).filter((k) => !k.includes("."));
  fc.assert(fc.property(
    key,
    key.filter((k) => k !== ""),
    fc.integer({ min: 1, max: 10_000 }),
    (prefix, next, limit) => {
      const text = formatAnswer({ op: "KEYS", prefix, limit, keys: [next], more: true, next });
      const command = /next page: (KEYS .*)\)$/.exec(text)?.[1];
      assert(command !== undefined, text);
      assert.deepEqual(parseCommand(command), { op: "KEYS", prefix, limit, after: next });
    },
  ));
});

Deno.test("an encoded value prints as its decoded twin would, and a malformed one as an error", () => {
  const value = object([["name", str("Mary")], ["height", float(1.75)]]);
  const encoded = encodeValue(value);
  for (const options of [{ json: true }, { json: false }, { dialect: "python" as const }]) {
    assert.equal(
      formatAnswer({ op: "GET", key: "p", found: true, encoded, version: V }, options),
      formatAnswer({ op: "GET", key: "p", found: true, value, version: V }, options),
    );
  }
  const malformed = new Uint8Array([0x09]);
  assert.deepEqual(
    JSON.parse(
      formatAnswer({ op: "GET", key: "p", found: true, encoded: malformed, version: V }, {
        json: true,
      }),
    ),
    { op: "GET", key: "p", error: "a replica sent a malformed value: unknown value tag 0x09" },
  );
  assert.equal(
    formatAnswer({ op: "QUERY", key: "p.a", found: true, encoded: malformed, version: V }),
    "ERROR: a replica sent a malformed value: unknown value tag 0x09",
  );
});

Deno.test("property: a found answer's JSON bytes are its decoded twin's JSON line, whatever its key, value and warning", () => {
  // Lone surrogates, escapes and non-ASCII in the text around the value, which is copied
  // by hand while ASCII and through encodeInto from the first other character.
  const text = fc.oneof(anyText({ maxLength: 20 }), fc.string({ maxLength: 20 }));
  fc.assert(
    fc.property(
      fc.constantFrom("GET" as const, "QUERY" as const),
      text,
      valueArbitrary(),
      fc.option(text, { nil: undefined }),
      (op, key, value, warning) => {
        const warned = warning === undefined ? {} : { warning };
        // Fields in the order runCommand makes them, the value where `encoded` stands.
        const twin: Answer = { op, key, found: true, value, version: V, ...warned };
        const encoded: Answer = {
          op,
          key,
          found: true,
          encoded: encodeValue(value),
          version: V,
          ...warned,
        };
        const line = formatAnswer(twin, { json: true });
        assert.equal(formatAnswer(encoded, { json: true }), line);
        assert.deepEqual(formatAnswerJson(encoded), new TextEncoder().encode(line));
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("a key is read the same way in every command: quoted or bare, as in a record line", () => {
  assert.deepEqual(parseCommand(`GET "person 1"`), { op: "GET", key: "person 1" });
  assert.deepEqual(parseCommand(`DELETE 'person1'`), { op: "DELETE", key: "person1" });
  assert.deepEqual(parseCommand(`QUERY "person1".x`), { op: "QUERY", path: ["person1", "x"] });
  assert.deepEqual(parseCommand(`QUERY 'person 1'."a b".c`), {
    op: "QUERY",
    path: ["person 1", "a b", "c"],
  });
  assert.deepEqual(parseCommand(`GET "tab\\there"`), { op: "GET", key: "tab\there" });
  assert.deepEqual(parseCommand(`KEYS "person 1" 5`), {
    op: "KEYS",
    prefix: "person 1",
    limit: 5,
    after: "",
  });
  assert.deepEqual(parseCommand(`KEYS 'per'`), {
    op: "KEYS",
    prefix: "per",
    limit: 100,
    after: "",
  });
  assert.deepEqual(parseCommand(`KEYS "7 8" 2 '9 "x" 10'`), {
    op: "KEYS",
    prefix: "7 8",
    limit: 2,
    after: '9 "x" 10',
  });
  assert.deepEqual(parseCommand(`PUT "person 1": 1`), {
    op: "PUT",
    key: "person 1",
    value: int(1),
  });
  assert.equal(
    parseError(`QUERY "a.b".c`).message,
    "key 'a.b' contains '.' (it separates query paths) at column 1 in '\"a.b\".c'",
  );
  assert.equal(
    parseError(`GET "unterminated`).message,
    `unterminated string: expected a closing '"', found end of line at column 1 in '"unterminated'`,
  );
});

Deno.test("an unquoted '[' is an error that says lists are not values; quoted, it is text", () => {
  for (const line of ["PUT k3: [1]", "PUT k3: [1,2]", "PUT k3: { a: [1] }"]) {
    assert.match(
      parseError(line).message,
      /lists are not values in kv; use an object, or quote the text/,
      line,
    );
  }
  assert.deepEqual(parseCommand(`PUT k3: "[1]"`), { op: "PUT", key: "k3", value: str("[1]") });
  assert.deepEqual(parseCommand("PUT k3: a[1]"), { op: "PUT", key: "k3", value: str("a[1]") });
});

Deno.test("property: parseGetLine reads a line's key only where parseCommand reads exactly that GET", () => {
  const encoder = new TextEncoder();
  // Lines near the shape parseGetLine takes: GET in any case, spaces and tabs, keys of ASCII
  // with every delimiter, quotes, dots and control characters, keys around its 32 bytes.
  const ascii = fc.string({
    unit: fc.integer({ min: 0, max: 0x7f }).map((code) => String.fromCharCode(code)),
    maxLength: 40,
  });
  const word = fc.constantFrom("GET", "get", "Get", "gEt", "GETS", "GE", "QUERY", "#GET", "");
  const gap = fc.constantFrom(" ", "  ", "\t", "", " \t");
  const line = fc.oneof(
    fc.tuple(word, gap, ascii).map(([w, g, key]) => `${w}${g}${key}`),
    fc.tuple(word, gap, fc.string({ unit: "grapheme", maxLength: 12 })).map(([w, g, key]) =>
      `${w}${g}${key}`
    ),
    anyText({ maxLength: 40 }),
  );
  fc.assert(
    fc.property(line, (text) => {
      const key = parseGetLine(encoder.encode(text));
      if (key === undefined) return;
      assert.deepEqual(parseCommand(text), { op: "GET", key }, text);
    }),
    { numRuns: 20000 },
  );
  const read = (text: string) => parseGetLine(encoder.encode(text));
  assert.equal(read("GET person1"), "person1");
  assert.equal(read("get a-b_c/d\\e#f"), "a-b_c/d\\e#f");
  assert.equal(read(`GET ${"k".repeat(32)}`), "k".repeat(32));
  assert.equal(read("GET person1"), read("GET person1"));
  for (const other of ["GET", "GET ", "GET a.b", "GET 'a'", " GET a", "GET a ", "GET\ta", "GETa"]) {
    assert.equal(read(other), undefined, other);
  }
  assert.equal(read(`GET ${"k".repeat(33)}`), undefined);
});

Deno.test("property: a key as an answer shows it reads back as that key in GET and DELETE", () => {
  // Keys of the characters the grammar treats specially, beside any text.
  const awkward = fc.string({
    unit: fc.constantFrom(..."a1 :;,\"'{}[]\\=-_\t#"),
    minLength: 1,
    maxLength: 8,
  });
  fc.assert(fc.property(fc.oneof(keyArbitrary(), awkward), (key) => {
    const shown = formatAnswer({ op: "GET", key, found: false });
    assert(shown.startsWith("NOT FOUND: "), shown);
    const typed = shown.slice("NOT FOUND: ".length);
    assert.deepEqual(parseCommand(`GET ${typed}`), { op: "GET", key });
    assert.deepEqual(parseCommand(`DELETE ${typed}`), { op: "DELETE", key });
  }));
});

Deno.test('property: a key KEYS lists in its ."…" form reads back as that key wherever a command takes one', () => {
  // Keys holding a control character or U+FFFD, the ones KEYS lists as ."…", among any text.
  const listed = fc.tuple(
    anyText({ maxLength: 6 }),
    fc.constantFrom("\n", "\t", "\r", "\x00", "\x1b", "\x7f", "\x85", "\ufffd"),
    anyText({ maxLength: 6 }),
  ).map(([before, special, after]) => before + special + after)
    .filter((key) => keyProblem(key) === undefined && key.isWellFormed());
  fc.assert(
    fc.property(listed, (key) => {
      const typed = listedKey(key);
      assert(typed.startsWith('."'), typed);
      assert.deepEqual(parseCommand(`GET ${typed}`), { op: "GET", key });
      assert.deepEqual(parseCommand(`DELETE ${typed}`), { op: "DELETE", key });
      assert.deepEqual(parseCommand(`QUERY ${typed}`), { op: "QUERY", path: [key] });
      assert.deepEqual(parseCommand(`QUERY ${typed}."a b".c`), {
        op: "QUERY",
        path: [key, "a b", "c"],
      });
      assert.deepEqual(parseCommand(`KEYS ${typed} 7 ${typed}`), {
        op: "KEYS",
        prefix: key,
        limit: 7,
        after: key,
      });
    }),
    { numRuns: 2000 },
  );
});

Deno.test('a ."…" key that is no key\'s listing says why, and a dotted GET suggests only a QUERY that reads', () => {
  assert.equal(
    parseError(`QUERY ."a\\nb"x`).message,
    `expected '.' or the end after the key at column 8 in '."a\\nb"x'`,
  );
  assert.equal(
    parseError(`QUERY ."a\\nb".c..d`).message,
    `empty segment at column 11 in '."a\\nb".c..d'`,
  );
  assert.equal(
    parseError(`QUERY ."a.b".c`).message,
    "key 'a.b' contains '.' (it separates query paths)",
  );
  assert.match(parseError(`GET ."a`).message, /starts with \." but is no JSON string/);
  assert.match(parseError(`GET ."\\ud800"`).message, /half of a surrogate pair/);
  // QUERY .a would fail too: no advice to type it.
  assert.equal(parseError("GET .a").message, "a key cannot contain '.'");
  assert.equal(parseError("GET a..b").message, "a key cannot contain '.'");
  assert.equal(parseError("DELETE a.b").message, "a key cannot contain '.'");
});

Deno.test("formatAnswer quotes a key or QUERY path name only where a command needs it", () => {
  assert.equal(formatAnswer({ op: "GET", key: "q:1", value: int(1) } as Answer), '"q:1" : 1');
  assert.equal(formatAnswer({ op: "GET", key: "person1", value: int(1) } as Answer), "person1 : 1");
  assert.equal(
    formatAnswer({ op: "DELETE", key: "a b", deleted: true } as Answer),
    'DELETED: "a b"',
  );
  assert.equal(formatAnswer({ op: "PUT", key: "x;y" } as Answer), 'STORED: "x;y"');
});

Deno.test("putEndsInsideRecord: a PUT that reads well up to its end, where an object is still open", () => {
  assert.equal(putEndsInsideRecord("PUT person1: {"), true);
  assert.equal(putEndsInsideRecord(`put person1: { "name": "Mary",  `), true, "any case, blanks");
  assert.equal(putEndsInsideRecord("PUT p: { a: { b: 1 }"), true, "one of two still open");
  assert.equal(putEndsInsideRecord("PUT p: { a:"), true, "a value to come");
  assert.equal(putEndsInsideRecord(`PUT p: { a: "}"`), true, "a brace in a string closes none");
  assert.equal(putEndsInsideRecord(`PUT p: "{"`), false, "nor opens one");
  // A string left open does not go on: none spans lines, and joined it would hold a space.
  assert.equal(putEndsInsideRecord(`PUT p: { a: "Ma`), false);
  assert.equal(putEndsInsideRecord(`PUT p: { a: "x\\`), false);
  assert.equal(putEndsInsideRecord("PUT p: { ; a: 1"), false, "a mistake before the end");
  assert.equal(putEndsInsideRecord("PUT p: {} {"), false);
  assert.equal(putEndsInsideRecord("PUT p:"), false, "no object open");
  assert.equal(putEndsInsideRecord("PUT p: { a: 1 }"), false, "whole");
  assert.equal(putEndsInsideRecord("PUT"), false);
  assert.equal(putEndsInsideRecord("GET p: {"), false, "only a PUT carries a record");
  assert.equal(putEndsInsideRecord("# PUT p: {"), false);
});
