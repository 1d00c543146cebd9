import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { MAIN_PATH, runKv } from "../helpers/run_kv.ts";
import { outputWithin } from "../helpers/wait.ts";
import { withoutVersion } from "../helpers/versions.ts";
import { assertRefusedInOneLine, refusalOf, subcommandNamed } from "../helpers/refusals.ts";
import { closedPorts, withTempDir } from "../helpers/fixtures.ts";

Deno.test("one-shot commands print the REPL's answers and exit 0, 1 or 3", async () => {
  await using cluster = await KvCluster.start(2);
  const s = withBrokerTimeout(["-s", cluster.serverFile, "-k", "2"]);
  const put = await runKv(["put", `person1: { "name" : "Mary" ; "height" : 2.0 }`, ...s]);
  assert.deepEqual([put.code, put.stdout], [0, "STORED: person1\n"], put.stderr);
  const get = await runKv(["get", "person1", ...s]);
  assert.deepEqual([get.code, get.stdout], [
    0,
    `person1 : { "name" : "Mary" ; "height" : 2.0 }\n`,
  ]);
  const query = await runKv(["query", "person1.height", "--json", ...s]);
  assert.deepEqual([query.code, withoutVersion(JSON.parse(query.stdout))], [
    0,
    { op: "QUERY", key: "person1.height", found: true, value: 2 },
  ]);
  assert.match(
    query.stdout,
    /^{"op":"QUERY","key":"person1.height","found":true,"value":2.0,"version":"[0-9a-f]{24}"}\n$/,
  );
  // A QUERY that finds nothing says which: a typo, a leaf in the way, or no record at all.
  const typo = await runKv(["query", "person1.hieght", ...s]);
  assert.deepEqual([typo.code, typo.stdout, typo.stderr], [
    1,
    "",
    "NOT FOUND: person1 has no field hieght (did you mean height?)\n",
  ]);
  const leaf = await runKv(["query", "person1.name.first", "--json", ...s]);
  assert.deepEqual([leaf.code, leaf.stdout], [
    1,
    '{"op":"QUERY","key":"person1.name.first","found":false,' +
    '"missing":{"reason":"not-object","path":"person1.name","value":"Mary"}}\n',
  ]);
  const none = await runKv(["query", "person9.age", ...s]);
  assert.deepEqual([none.code, none.stderr], [1, "NOT FOUND: no record person9\n"]);
  const rewritten = await runKv(["put", 'person1: { "name" : "Ann" }', "--json", ...s]);
  const newer = JSON.parse(rewritten.stdout).version;
  const older = JSON.parse(query.stdout).version;
  assert.ok(newer > older, `${newer} after ${older}`);
  const reread = await runKv(["get", "person1", "--json", ...s]);
  assert.equal(JSON.parse(reread.stdout).version, newer);
  const keys = await runKv(["keys", "per", "--limit", "5", ...s]);
  assert.deepEqual([keys.code, keys.stdout], [0, "person1\n"]);
  const servers = await runKv(["servers", "--json", ...s]);
  assert.equal(servers.code, 0);
  assert.deepEqual(JSON.parse(servers.stdout).servers.map((s: { up: boolean }) => s.up), [
    true,
    true,
  ]);
  // What is not the answer's data goes to stderr: stdout holds only what was asked for.
  const missing = await runKv(["get", "person9", ...s]);
  assert.deepEqual([missing.code, missing.stdout, missing.stderr], [1, "", "NOT FOUND: person9\n"]);
  const deleted = await runKv(["delete", "person1", ...s]);
  assert.deepEqual([deleted.code, deleted.stdout], [0, "DELETED: person1\n"]);
  const again = await runKv(["delete", "person1", ...s]);
  assert.deepEqual([again.code, again.stdout, again.stderr], [1, "", "NOT FOUND: person1\n"]);

  await cluster.servers[1].kill();
  const refused = await runKv(["put", "person2: 1", ...s]);
  assert.deepEqual([refused.code, refused.stdout], [3, ""]);
  assert.match(refused.stderr, /^ERROR: cannot put 'person2': .*nothing was changed\n$/);
});

Deno.test('a key NOT FOUND given in quotes, as the answers write it (STORED: "a b"), is told what to type without them', async () => {
  await using cluster = await KvCluster.start(1);
  const s = withBrokerTimeout(["-s", cluster.serverFile, "-k", "1"]);
  const put = await runKv(["put", `"a b": { "c d" : 1 }`, ...s]);
  assert.deepEqual([put.code, put.stdout], [0, 'STORED: "a b"\n'], put.stderr);
  const cases: [string[], string][] = [
    [["get", '"a b"'], "kv get 'a b'"],
    [["delete", "'a b'"], "kv delete 'a b'"],
    [["query", '"a b"."c d"'], "kv query 'a b.c d'"],
    // A control character: the form kv keys lists it in, which reads back.
    [["get", '"a\\tb"'], `kv get '."a\\tb"'`],
  ];
  for (const [args, command] of cases) {
    const run = await runKv([...args, ...s]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^NOT FOUND: .*\n${args[0] === "get" ? "kv get" : `kv ${args[0]}`}: quotes are part of ` +
          `the key here \\(an argument is taken as it is\\); without them: ${
            RegExp.escape(command)
          }\n$`,
      ),
    );
  }
  // A key that holds its quotes is found: a QUERY of a field it lacks gets no note on them.
  const quoted = await runKv(["put", String.raw`"\"q\"": { "y" : 1 }`, ...s]);
  assert.deepEqual([quoted.code, quoted.stdout], [0, String.raw`STORED: "\"q\""` + "\n"]);
  const lacking = await runKv(["query", '"q".x', ...s]);
  assert.deepEqual([lacking.code, lacking.stderr], [
    1,
    String.raw`NOT FOUND: "\"q\"" has no field x` + "\n",
  ]);
  // Without its quotes it is found; a quote that does not close a key gets no note.
  const got = await runKv(["get", "a b", ...s]);
  assert.deepEqual([got.code, got.stdout], [0, '"a b" : { "c d" : 1 }\n']);
  const open = await runKv(["get", '"a b', ...s]);
  assert.deepEqual([open.code, open.stderr], [1, 'NOT FOUND: "\\"a b"\n']);
});

Deno.test("with no server reachable every one-shot command answers ERROR naming each server, exit 3, and kv servers shows them down, exit 0", async () => {
  await withTempDir(async (dir) => {
    const [a, b] = closedPorts(2);
    await Deno.writeTextFile(`${dir}/dead.txt`, `127.0.0.1 ${a}\n127.0.0.1 ${b}\n`);
    const s = ["-s", `${dir}/dead.txt`];
    const unreachable = `none of the 2 servers in ${dir}/dead.txt is reachable ` +
      `\\(127\\.0\\.0\\.1:${a}: [^;]+; 127\\.0\\.0\\.1:${b}: [^)]+\\); start them`;
    // put and delete without -k stop where the cluster's k is read; with it, where they write.
    const runs = [
      ["put", "x:1"],
      ["put", "x:1", "-k", "2"],
      ["delete", "x"],
      ["get", "x"],
      ["query", "x.a"],
      ["keys"],
    ];
    const answers = await Promise.all(runs.map((args) => runKv([...args, ...s])));
    for (const [i, run] of answers.entries()) {
      assert.deepEqual([run.code, run.stdout], [3, ""], `kv ${runs[i].join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`^ERROR: ${unreachable}.*\\n$`));
    }
    const json = await runKv(["get", "x", "--json", ...s]);
    assert.equal(json.code, 3);
    assert.match(json.stdout, new RegExp(`^{"op":"GET","key":"x","error":"${unreachable}`));
    const servers = await runKv(["servers", "--json", ...s]);
    assert.equal(servers.code, 0, servers.stderr);
    assert.deepEqual(JSON.parse(servers.stdout).servers.map((s: { up: boolean }) => s.up), [
      false,
      false,
    ]);
  });
});

Deno.test("one-shot commands find the server file in $KV_SERVERS, then ./serverFile.txt; a file they cannot read says where its path came from, as kv http's and kv repair's", async () => {
  await using cluster = await KvCluster.start(1);
  const put = await runKv(withBrokerTimeout(["put", "a: 1"]), {
    env: { KV_SERVERS: cluster.serverFile },
  });
  assert.deepEqual([put.code, put.stdout], [0, "STORED: a\n"], put.stderr);
  await withTempDir(async (directory) => {
    await Deno.copyFile(cluster.serverFile, `${directory}/serverFile.txt`);
    const get = await runKv(withBrokerTimeout(["get", "a"]), { cwd: directory });
    assert.deepEqual([get.code, get.stdout], [0, "a : 1\n"], get.stderr);
    // Where the path came from, said alike by the one-shot commands, kv http and kv repair.
    const commands = [["get", "a"], ["http", "--listen", "127.0.0.1:0"], ["repair"]];
    for (const args of commands) {
      const none = await runKv(args, { cwd: "/" });
      assert.equal(none.code, 2, none.stderr);
      assert.match(
        none.stderr,
        new RegExp(
          `^kv ${args[0]}: serverFile\\.txt: cannot read .*` +
            "\\(give one with -s or \\$KV_SERVERS\\)\n$",
        ),
      );
    }
    // A path from $KV_SERVERS that cannot be read says where it came from.
    const env = { KV_SERVERS: "/nonexistent/servers.txt" };
    for (const args of commands) {
      const stale = await runKv(args, { cwd: directory, env });
      assert.equal(stale.code, 2, stale.stderr);
      assert.match(
        stale.stderr,
        new RegExp(
          `^kv ${args[0]}: /nonexistent/servers\\.txt: cannot read the server file: ` +
            "No such file or directory \\(named by \\$KV_SERVERS\\)\n$",
        ),
      );
    }
  });
});

Deno.test("one-shot mistakes are one line and exit 2, before connecting", async () => {
  const servers = "/nonexistent/servers.txt";
  const cases: [string[], RegExp][] = [
    [["get"], /^kv get: expected 1 argument, got 0: usage kv get KEY/],
    [["get", "a", "b"], /^kv get: expected 1 argument, got 2/],
    [["get", "a.b"], /^kv get: a key cannot contain '\.'; to read a field use kv query a\.b$/m],
    [["get", '."x'], /^kv get: '\."x' starts with \." but is no JSON string after the '\.'/],
    [["get", '."\\ud800"'], /^kv get: .* spells half of a surrogate pair, which no key holds$/m],
    [["get", '."a"b'], /^kv get: a key cannot contain '\.'/],
    // kv query .a would fail too: no advice to type it.
    [["get", ".a"], /^kv get: a key cannot contain '\.'$/m],
    [
      ["get", "a\ufffd"],
      /^kv get: U\+FFFD \(�\) at column 2 may stand for bytes that are not UTF-8/,
    ],
    [["keys", "a\ufffd"], /^kv keys: U\+FFFD \(�\) at column 2 may stand for bytes/],
    [["put", 'a: "\ufffd"'], /^kv put: column 5 of the record line: U\+FFFD \(�\) may stand for/],
    [["query", '."a".'], /^kv query: empty segment at column 3 in 'a\.'$/m],
    [["query", '."a.b".c'], /^kv query: key 'a\.b' contains '\.'/],
    [["query", '."a.b"'], /^kv query: key 'a\.b' contains '\.'/],
    [["query", '."a"b.c'], /^kv query: expected '\.' or the end after the key in '\."a"b\.c'$/m],
    [["query", "a\n..b"], /^kv query: empty segment at column 4 in 'a\\u000a\.\.b'$/m],
    [
      ["get", "a\n.b"],
      /^kv get: a key cannot contain '\.'; to read a field use kv query a\\u000a\.b$/m,
    ],
    [["query", " lead..b"], /^kv query: empty segment at column 7 in ' lead\.\.b'$/m],
    [["query", "a..b"], /^kv query: empty segment at column 3 in 'a\.\.b'/],
    [["put", "x: {"], /^kv put: column 5 of the record line: expected/],
    [
      ["put", "a: { x: 1; x: 2 }"],
      /^kv put: column 12 of the record line: duplicate key 'x' in one object; name each field once$/m,
    ],
    [["keys", "a", "--limit", "0"], /^kv keys: --limit must be a whole number from 1 to 10000/],
    [["get", "a", "--writes", "strict"], /^kv get: --writes is for kv put and kv delete only$/],
    [["servers", "--writes", "sloppy"], /^kv servers: --writes is for kv put and kv delete only$/],
    [["keys", "a.b"], /^kv keys: prefix 'a\.b' contains '\.'/],
    [["keys", "a\n.b"], /^kv keys: prefix 'a\\u000a\.b' contains '\.'/],
    [["keys", "x".repeat(1025)], /^kv keys: prefix is 1025 bytes, over the limit of 1024$/m],
    [["servers", "x"], /^kv servers: expected 0 arguments, got 1/],
    // A record written over several lines, or with its object left open.
    [["put", 'x: {\n  "a": 1\n}'], /U\+000A; a record is one line: join its lines \(jq -c/],
    [["put", 'x: { "a": 1'], /found end of line; close the object with '}' \(a record is one/],
    // The shell split one argument at its spaces: the words quoted as one is what to type.
    [
      ["put", "x:", "1"],
      /^kv put: expected 1 argument, got 2: quote the record line, kv put 'x: 1' \(/,
    ],
    [
      ["get", "it's", "a"],
      /^kv get: expected 1 argument, got 2: quote a key with spaces, kv get 'it'\\''s a' \(/,
    ],
    [
      ["keys", "a", "b"],
      /^kv keys: expected at most 1 argument, got 2: quote a prefix with spaces, kv keys 'a b' \(/,
    ],
    [
      ["put", "x:", "y".repeat(60)],
      /^kv put: expected 1 argument, got 2: quote the record line as one argument \(/,
    ],
    [["get", "--limit", "3", "a"], /^kv get: --limit is for kv keys only/],
    [["get", "a", "--bogus"], /^kv get: unknown option '--bogus'/],
    [["get", "a", "-s", servers], /^kv get: \/nonexistent\/servers\.txt: cannot read/],
    [["get", ""], /^kv get: needs a key, e.g\. kv get person1$/m],
    [["query", ""], /^kv query: needs a path, e.g\. kv query person1\.age$/m],
    [["delete", ""], /^kv delete: needs a key, e.g\. kv delete person1$/m],
  ];
  // In process: a real process for each case was 18 process starts for checks of text; the
  // real process below shows for one case that kv prints the refusal and exits 2.
  await assertRefusedInOneLine(cases);
  const [args] = cases[2];
  const run = await runKv(args);
  assert.deepEqual([run.code, run.stdout], [2, ""]);
  assert.equal(run.stderr, `${await refusalOf(args)}\n`);
});

/** The exit codes each one-shot command's README row gives it: 0 and 2 always, 1 and 3 unless "—". */
async function readmeExitCodes(): Promise<Map<string, number[]>> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("### One-shot commands"));
  const table = section.slice(section.indexOf("Exit codes"), section.indexOf("**2**"));
  const codes = new Map<string, number[]>();
  for (const row of table.split("\n").filter((line) => line.startsWith("| `"))) {
    const [names, , one, three] = row.split("|").slice(1, -1).map((cell) => cell.trim());
    const listed = [0, ...(one === "—" ? [] : [1]), 2, ...(three === "—" ? [] : [3])];
    for (const [, name] of names.matchAll(/`(\w+)`/g)) codes.set(name, listed);
  }
  return codes;
}

Deno.test("each one-shot command's --help lists exactly the exit codes of its README row", async () => {
  const readme = await readmeExitCodes();
  assert.deepEqual([...readme.keys()].sort(), ["delete", "get", "keys", "put", "query", "servers"]);
  assert.deepEqual(readme.get("put"), [0, 2, 3], "put never finds nothing");
  assert.deepEqual(readme.get("servers"), [0, 2], "servers shows a server down in its answer");
  for (const [name, codes] of readme) {
    // The text kv <name> --help prints (tests/cli/run_test.ts checks that it is).
    const help = (await subcommandNamed(name)).help;
    const listed = help.slice(help.indexOf("Exit codes:")).split("\n").slice(1)
      .map((line) => line.match(/^ {2}(\d) {2}/)).filter((match) => match !== null)
      .map((match) => Number(match[1]));
    assert.deepEqual(listed, codes, `kv ${name} --help: ${help}`);
  }
});

Deno.test("kv put of a record over every server's --max-frame-bytes is the user's mistake: one line, exit 2", async () => {
  const limit = 65_536;
  await using cluster = await KvCluster.start(2, {
    server: () => ({ args: ["--max-frame-bytes", String(limit)] }),
  });
  const s = withBrokerTimeout(["-s", cluster.serverFile, "-k", "2"]);
  const big = await runKv(["put", `big: "${"x".repeat(limit)}"`, ...s]);
  assert.equal(big.code, 2, big.stderr);
  assert.equal(big.stdout, "");
  assert.match(
    big.stderr,
    new RegExp(
      `^kv put: cannot put 'big': .*over the server's limit of ${limit}.*; make the record ` +
        "smaller or start the servers with a larger --max-frame-bytes; nothing was changed\\n$",
    ),
  );
  const get = await runKv(["get", "big", ...s]);
  assert.deepEqual([get.code, get.stderr], [1, "NOT FOUND: big\n"]);
  // The REPL's JSON answer says so too, so a script can tell it from a cluster failing.
  const piped = await runKv(["broker", ...s, "--json"], {
    stdin: `PUT big: "${"x".repeat(limit)}"\n`,
  });
  // And the piped session exits 2 for it, as for any mistake (README, kv broker).
  assert.equal(piped.code, 2, piped.stderr);
  assert.match(piped.stderr, /^kv broker warn: of 1 command, 1 was a mistake/);
  const answer = JSON.parse(piped.stdout);
  assert.deepEqual([answer.op, answer.key, answer.refused], ["PUT", "big", true]);
  assert.match(answer.error, /--max-frame-bytes; nothing was changed$/);
});

Deno.test("kv keys pages with --after, and its hint for the next page is a kv keys command that runs", async () => {
  await using cluster = await KvCluster.start(1);
  const s = withBrokerTimeout(["-s", cluster.serverFile]);
  // Stored in one piped session: five kv put processes would test nothing more here.
  const keys = ["p1", "p2", "p3", "p 4", "q1"];
  const put = await runKv(["broker", ...s], {
    stdin: keys.map((key) => `PUT "${key}": 1\n`).join(""),
  });
  assert.equal(put.code, 0, put.stderr);
  assert.equal(put.stdout.match(/^STORED/gm)?.length, keys.length, put.stdout);
  const first = await runKv(["keys", "p", "--limit", "2", ...s]);
  // The hint names the server file and timeout given, so that it runs as it is.
  const given = `-s ${cluster.serverFile} --timeout-ms ${s.at(-1)}`;
  // Only the keys on stdout, so a pipe takes none of the hint as a key.
  assert.deepEqual([first.code, first.stdout, first.stderr], [
    0,
    "p 4\np1\n",
    `(first 2; more match — next page: kv keys p ${given} --limit 2 --after=p1)\n`,
  ]);
  // The README's pipeline, through a real shell: each line kv keys prints is a key kv get
  // reads, and the hint, on stderr, reaches the terminal rather than kv get.
  const pipeline = new Deno.Command("sh", {
    args: ["-c", PIPELINE, "sh", ...s],
    env: { DENO: Deno.execPath(), MAIN: MAIN_PATH, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const piped = await outputWithin(pipeline, { what: "kv keys | kv get to exit" });
  const decoded = [piped.stdout, piped.stderr].map((bytes) => new TextDecoder().decode(bytes));
  assert.deepEqual([piped.code, ...decoded], [0, `"p 4" : 1\np1 : 1\n`, first.stderr]);
  const second = await runKv(["keys", "p", "--limit", "2", "--after=p1", ...s]);
  assert.deepEqual([second.code, second.stdout], [0, "p2\np3\n"]);
  const spaced = await runKv(["keys", "p", "--after", "p2", ...s]);
  assert.deepEqual([spaced.code, spaced.stdout], [0, "p3\n"]);
  // A key a shell would split is quoted so the hint pastes as it reads.
  const quoted = await runKv(["keys", "--limit", "1", ...s]);
  assert.deepEqual(
    [quoted.stdout, quoted.stderr],
    ["p 4\n", `(first 1; more match — next page: kv keys ${given} --limit 1 --after='p 4')\n`],
  );
  const refused = await runKv(["get", "p1", "--after", "p0", ...s]);
  assert.deepEqual([refused.code, refused.stderr], [2, "kv get: --after is for kv keys only\n"]);
  const dotted = await runKv(["keys", "p", "--after", "a.b", ...s]);
  assert.equal(dotted.code, 2);
  assert.match(dotted.stderr, /^kv keys: --after 'a\.b' contains '\.'/);
});

/**
 * README's `kv keys | while IFS= read -r k; do kv get -- "$k"; done` for keys starting with
 * p, two of them, with the script's arguments (the cluster's flags) given to each kv.
 */
const PIPELINE = `kv() { "$DENO" run -A "$MAIN" "$@"; }
kv keys p --limit 2 "$@" | while IFS= read -r k; do kv get "$@" -- "$k"; done`;

/** Keys a shell, `read` or a terminal treats specially, each stored as a record `{ n: i }`. */
const AWKWARD_KEYS = [
  "victim",
  "sp",
  "sp ",
  " lead",
  '"q"',
  "a:b",
  "-dash",
  "cr\r",
  String.raw`"cr\r"`,
  "tab\t",
  "nl\nx",
  "nul\0",
  "esc\x1b[2J",
  "c1\x85",
  "bad\ufffd",
  "'",
];

/** `kv broker`'s PUT of `key` as `{ n: index }`: the key in the record grammar's escapes. */
function putLine(key: string, index: number): string {
  const escaped = [...key].map((character) => {
    const code = character.codePointAt(0)!;
    if (character === '"' || character === "\\") return `\\${character}`;
    return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0xfffd
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : character;
  }).join("");
  return `PUT "${escaped}": { n: ${index} }\n`;
}

Deno.test("a one-shot KEY is the argument's characters: no input reaches another key, and every listed key reads back", async () => {
  await using cluster = await KvCluster.start(1);
  const s = withBrokerTimeout(["-s", cluster.serverFile]);
  const put = await runKv(["broker", ...s], { stdin: AWKWARD_KEYS.map(putLine).join("") });
  assert.equal(put.code, 0, put.stdout + put.stderr);
  const found = async (key: string) => (await runKv(["get", ...s, "--json", "--", key])).stdout;

  // The reviewer's cases: trimmed or unquoted, each reached another record.
  const tab = await runKv(["delete", ...s, "--", "victim\t"]);
  assert.deepEqual([tab.code, tab.stderr], [1, `NOT FOUND: "victim\\t"\n`]);
  assert.match(await found("victim"), /"found":true/);
  const spaced = await runKv(["get", ...s, "--", "sp "]);
  assert.deepEqual([spaced.code, spaced.stdout], [0, `"sp " : { "n" : 2 }\n`]);
  const deleted = await runKv(["delete", ...s, "--", "sp "]);
  assert.deepEqual([deleted.code, deleted.stdout], [0, `DELETED: "sp "\n`]);
  assert.match(await found("sp"), /"found":true/);
  const lead = await runKv(["query", ...s, "--", " lead.n"]);
  assert.deepEqual([lead.code, lead.stdout], [0, `" lead".n : 3\n`]);
  const quoted = await runKv(["get", ...s, "--", '"q"']);
  assert.deepEqual([quoted.code, quoted.stdout], [0, String.raw`"\"q\"" : { "n" : 4 }` + "\n"]);
  // Bytes that are not UTF-8 reach kv as U+FFFD: it cannot tell which key was meant.
  const replaced = await runKv(["delete", ...s, "--", "bad\ufffd"]);
  assert.equal(replaced.code, 2);
  assert.match(replaced.stderr, /^kv delete: .*U\+FFFD.*\n$/);
  assert.match(await found(String.raw`."bad\ufffd"`), /"found":true/);

  // Each line kv keys prints, given back as it is, reaches its own record and no other.
  const listed = await runKv(["keys", ...s]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.slice(0, -1).split("\n");
  const left = AWKWARD_KEYS.filter((key) => key !== "sp ");
  assert.equal(lines.length, left.length, listed.stdout);
  for (const line of lines) {
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\ufffd]/, "printed with no control character");
    const answer = JSON.parse(await found(line));
    assert.equal(answer.found, true, line);
    assert.equal(answer.value.n, AWKWARD_KEYS.indexOf(answer.key), line);
  }
  assert.deepEqual(
    lines.map((line) => JSON.parse(/^\."/.test(line) ? line.slice(1) : JSON.stringify(line)))
      .sort(),
    [...left].sort(),
  );

  // Page by page, each page's hint run as a shell reads it gives the next, -s and all.
  const paged: string[] = [];
  let page = await runKv(["keys", ...s, "--limit", "4"]);
  for (let pages = 1; pages <= lines.length; pages++) {
    const [hint] = page.stderr.match(/\(first 4; more match — next page: (.*)\)\n$/)?.slice(1) ??
      [];
    paged.push(...page.stdout.split("\n").slice(0, -1));
    if (hint === undefined) break;
    page = await runKv(await shellWords(hint.replace(/^kv /, "")));
    assert.equal(page.code, 0, `${hint}: ${page.stderr}`);
  }
  assert.deepEqual(paged, lines);
});

/** The words a POSIX shell reads `command` as (quotes removed), as the arguments it would pass. */
async function shellWords(command: string): Promise<string[]> {
  const shell = new Deno.Command("sh", {
    args: ["-c", `printf '%s\\0' ${command}`],
    stdout: "piped",
  });
  const { code, stdout } = await shell.output();
  assert.equal(code, 0, command);
  return new TextDecoder().decode(stdout).split("\0").slice(0, -1);
}

Deno.test("kv query given a key and a field apart says to join them with '.', not to quote them as one key (S35 F9)", async () => {
  // It said "quote a path with spaces, kv query 'person1 name'": the key "person1 name".
  const split = await runKv(["query", "person1", "name", "-s", "/nonexistent/servers.txt"]);
  assert.deepEqual([split.code, split.stdout], [2, ""]);
  assert.equal(
    split.stderr,
    "kv query: expected 1 argument, got 2: a path joins a key and its fields with '.', " +
      "kv query person1.name (see 'kv query --help')\n",
  );
  // A word holding '.' already is a path: the words were one key with spaces.
  const spaced = await runKv(["query", "my", "key.age", "-s", "/nonexistent/servers.txt"]);
  assert.match(
    spaced.stderr,
    /^kv query: expected 1 argument, got 2: quote a path with spaces, kv query 'my key\.age' \(/,
  );
});

Deno.test("an argument starting with '-' that is no flag of a one-shot command says to put it after '--': kv get -xyz (S35 F15)", async () => {
  const cases: [string[], string][] = [
    [
      ["get", "-xyz"],
      "kv get: unknown option '-x'; an argument that starts with '-' goes after '--': kv get -- -xyz (see 'kv get --help')",
    ],
    [
      ["put", "-neg: 1"],
      "kv put: unknown option '-n'; an argument that starts with '-' goes after '--': kv put -- '-neg: 1' (see 'kv put --help')",
    ],
    // A flag's shape, a short one or a long one, is taken for a flag, and a typo named.
    [["get", "x", "-l"], "kv get: unknown option '-l' (see 'kv get --help')"],
    [
      ["get", "x", "--jsn"],
      "kv get: unknown option '--jsn'; did you mean --json? (see 'kv get --help')",
    ],
  ];
  for (const [args, message] of cases) {
    const run = await runKv([...args, "-s", "/nonexistent/servers.txt"]);
    assert.deepEqual([run.code, run.stdout, run.stderr], [2, "", `${message}\n`], args.join(" "));
  }
});

Deno.test("a key starting with a short flag's letter, kv get -key, read as -k ey, says so and what to type (S35 F16)", async () => {
  const run = await runKv(["get", "-key", "-s", "/nonexistent/servers.txt"]);
  // It said "expected 1 argument, got 0: usage kv get KEY", the key given in plain sight.
  assert.deepEqual([run.code, run.stdout, run.stderr], [
    2,
    "",
    "kv get: expected 1 argument, got 0: '-key' reads as -k ey; an argument that starts with " +
    "'-' goes after '--': kv get -- -key (see 'kv get --help')\n",
  ]);
  const split = await runKv(["put", "-skey: 1"]);
  assert.match(split.stderr, /: '-skey: 1' reads as -s 'key: 1'; .*: kv put -- '-skey: 1' \(/);
});

Deno.test("kv get -s given its file attached, the key left out, is told the usage, not to move the file after '--' (S35 F16)", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/servers.txt`;
    await Deno.writeTextFile(file, "127.0.0.1 1\n");
    const run = await runKv(["get", `-s${file}`]);
    assert.equal(
      run.stderr,
      "kv get: expected 1 argument, got 0: usage kv get KEY (see 'kv get --help')\n",
    );
  });
});
