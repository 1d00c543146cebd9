// The REPL as a person uses it: `kv broker` in a real pseudo-terminal (tmux), typing keys
// and reading the screen.
import assert from "node:assert/strict";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { waitFor } from "../helpers/wait.ts";
import { withStateHome } from "../helpers/fixtures.ts";
import { kvArgs, Terminal, type TerminalOptions, terminalTest } from "../helpers/tmux.ts";
import { LEAVE_HINT } from "../../lib/broker/repl.ts";
import { DEFAULT_MAX_ENTRY_LINES } from "../../lib/base/line_editor.ts";

/** A prompt with nothing typed after it (the screen's lines lose their trailing spaces). */
const EMPTY_PROMPT = /^kv>$/m;

/**
 * Starts `kv broker -s <the cluster's file> <extra>` (with the tests' --timeout-ms unless
 * `extra` sets one) in a terminal and waits for its first prompt; the terminal is closed
 * if the prompt never comes.
 */
async function startBroker(
  cluster: KvCluster,
  options: TerminalOptions,
  extra: string[] = [],
): Promise<Terminal> {
  const args = withBrokerTimeout(["broker", "-s", cluster.serverFile, ...extra]);
  const term = await Terminal.start(kvArgs(...args), options);
  try {
    await term.waitFor(EMPTY_PROMPT);
  } catch (error) {
    await term[Symbol.asyncDispose]();
    throw error;
  }
  return term;
}

terminalTest(
  "Ctrl-C cancels a command waiting on a hung server and returns to the prompt",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env }, ["--timeout-ms", "600000"]);
      await term.type("PUT a: 1");
      await term.press("Enter");
      await term.waitFor(/STORED: a/);
      cluster.servers[0].signal("SIGSTOP");
      await term.type("GET a");
      await term.press("Enter");
      await term.press("C-c");
      await term.waitFor(/^ERROR: cancelled \(Ctrl-C\)\nkv>$/m);
      await term.type("DELETE a");
      await term.press("Enter");
      await term.press("C-c");
      await term.waitFor(/^ERROR: cancelled \(Ctrl-C\); the DELETE may still reach some replicas/m);
      cluster.servers[0].signal("SIGCONT");
      await term.waitFor(EMPTY_PROMPT);
      // Text typed and then Ctrl-C: the line is dropped, the REPL stays.
      await term.type("GET something");
      await term.press("C-c");
      await term.waitFor(/^kv> GET something\^C\nkv>$/m);
      // At an empty prompt the first Ctrl-C says how to leave, the second in a row leaves.
      await term.press("C-c");
      await term.waitFor(new RegExp(`^${RegExp.escape(LEAVE_HINT)}\nkv>$`, "m"));
      await term.press("C-c");
      assert.equal(await term.exitCode(), 0);
      const screen = await term.screen();
      assert.doesNotMatch(screen, /internal error|ERR_USE_AFTER_CLOSE|at /);
    });
  },
);

terminalTest(
  "Ctrl-C pressed twice to cancel a command cancels it and stays; only a second in a row at the empty prompt leaves",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env }, ["--timeout-ms", "600000"]);
      cluster.servers[0].signal("SIGSTOP");
      await term.type("GET a");
      await term.press("Enter");
      await term.press("C-c");
      await term.waitFor(/^ERROR: cancelled \(Ctrl-C\)\nkv>$/m);
      // The impatient second press, as the answer (here the cancel) comes: the REPL stays.
      await term.press("C-c");
      await term.waitFor(new RegExp(`^${RegExp.escape(LEAVE_HINT)}\nkv>$`, "m"));
      cluster.servers[0].signal("SIGCONT");
      // A line run between two presses starts the count again.
      await term.type("HELP GET");
      await term.press("Enter");
      await term.waitFor(/example: GET person1\nkv>$/m);
      await term.press("C-c");
      await term.waitFor(new RegExp(`^${RegExp.escape(LEAVE_HINT)}\nkv>$`, "m"));
      assert.equal((await term.screen()).split(LEAVE_HINT).length, 3, "two hints, still running");
      await term.press("C-c");
      assert.equal(await term.exitCode(), 0);
    });
  },
);

terminalTest("Ctrl-D leaves at an empty prompt, and after the command running ends", async () => {
  await withStateHome(async (env) => {
    await using cluster = await KvCluster.start(1);
    await using term = await startBroker(cluster, { env }, ["--timeout-ms", "600000"]);
    cluster.servers[0].signal("SIGSTOP");
    await term.type("GET a");
    await term.press("Enter");
    await term.press("C-d");
    cluster.servers[0].signal("SIGCONT");
    assert.equal(await term.exitCode(), 0);
    const screen = await term.screen();
    assert.match(screen, /^kv> GET a\nNOT FOUND: a\nkv>\n\[exit 0\]$/m);
  });
});

terminalTest(
  "a pasted line of 200 000 characters is answered (editing is linear in its length)",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      await term.paste(`GET ${"k".repeat(200_000)}\r`);
      await term.waitFor(
        /^ERROR: key is 200000 bytes, over the limit of 1024 at column 1/m,
      );
      // The line scrolled sideways: the screen shows its end on one line, not 1700 lines.
      const screen = await term.screen();
      assert(screen.length < 20_000, `the screen holds ${screen.length} characters`);
      await term.press("C-d");
      assert.equal(await term.exitCode(), 0);
    });
  },
);

terminalTest("a log line prints above the prompt, and the line being typed stays", async () => {
  await withStateHome(async (env) => {
    await using cluster = await KvCluster.start(2);
    const late = cluster.servers[1];
    await late.kill();
    // -k: a new cluster's k is not fixed by default while one of its servers is down.
    await using term = await startBroker(cluster, { env }, ["-k", "1"]);
    await term.type("GET half-typed");
    // The broker retries the server in the background and says so when it is back.
    await late.restart();
    const match = await term.waitFor(/^kv broker: server (\S+) is back up\nkv> GET half-typed$/m);
    assert.equal(match[1], late.id);
    await term.press("Enter");
    await term.waitFor(/^NOT FOUND: half-typed/m);
    await term.press("C-d");
    assert.equal(await term.exitCode(), 0);
  });
});

terminalTest(
  "with stdout piped the answers carry no escape codes, and the prompt and Ctrl-C's hint go to the terminal",
  async () => {
    await withStateHome(async (env, dir) => {
      await using cluster = await KvCluster.start(1);
      const out = `${dir}/answers.txt`;
      await using term = await startBroker(cluster, {
        env: { ...env, NO_COLOR: "" },
        pipeTo: `| cat > '${out}'`,
      });
      await term.type("PUT a: 1");
      await term.press("Enter");
      await term.waitFor(/^kv> PUT a: 1\nkv>$/m);
      await term.type("GET a");
      await term.press("Enter");
      // Answered (the prompt is back), so the Ctrl-C is at an empty prompt, not a cancel.
      await term.waitFor(/^kv> GET a\nkv>$/m);
      // How to leave is the terminal's, as the prompt is: not an answer.
      await term.press("C-c");
      await term.waitFor(new RegExp(`^${RegExp.escape(LEAVE_HINT)}\nkv>$`, "m"));
      await term.type("EXIT");
      await term.press("Enter");
      assert.equal(await term.exitCode(), 0);
      assert.equal(await Deno.readTextFile(out), "STORED: a\na : 1\n");
    });
  },
);

terminalTest(
  "on a dumb terminal (TERM=dumb: Emacs' shell) commands are read as lines, with no prompt, editing or escape codes",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      const args = withBrokerTimeout(["broker", "-s", cluster.serverFile]);
      await using term = await Terminal.start(kvArgs(...args), {
        env: { ...env, NO_COLOR: "", TERM: "dumb" },
      });
      await term.type("PUT a: 1");
      await term.press("Enter");
      await term.waitFor(/^STORED: a$/m);
      assert.equal(await term.isRaw(), false, "the terminal stays cooked");
      await term.press("C-d");
      assert.equal(await term.exitCode(), 0);
      const screen = await term.screen();
      assert.doesNotMatch(screen, /kv>/, "no prompt is drawn: the line editor never ran");
    });
  },
);

terminalTest(
  "Tab completes words, keys, field names and HELP topics; hints show arguments",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(2);
      await using term = await startBroker(cluster, { env }, ["-k", "2"]);
      await term.type("PUT person1: { name: Mary; address: { street: Main; city: Oslo } }");
      await term.press("Enter");
      await term.waitFor(/STORED: person1/);
      await term.typeShown("qu", /^kv> qu/m);
      await term.press("Tab");
      await term.waitFor(/^kv> query key\.field\.field$/m);
      await term.typeShown("pers", /^kv> query pers/m);
      await term.press("Tab");
      await term.waitFor(/^kv> query person1$/m);
      await term.typeShown(".add", /^kv> query person1\.add/m);
      await term.press("Tab");
      await term.waitFor(/^kv> query person1\.address$/m);
      await term.typeShown(".", /^kv> query person1\.address\./m);
      await term.press("Tab");
      await term.waitFor(/^street {2}city\nkv> query person1\.address\.$/m);
      await term.typeShown("c", /^kv> query person1\.address\.c/m);
      await term.press("Tab");
      await term.waitFor(/^kv> query person1\.address\.city/m);
      await term.press("Enter");
      await term.waitFor(/^person1\.address\.city : "Oslo"$/m);
      await term.typeShown("KEYS p", /^kv> KEYS p/m);
      await term.press("Tab");
      await term.waitFor(/^kv> KEYS person1 \[limit\] \[after\]$/m);
      await term.press("C-u");
      await term.typeShown("HELP ke", /^kv> HELP ke/m);
      await term.press("Tab");
      await term.waitFor(/^kv> HELP keys/mi);
      await term.press("Enter");
      await term.waitFor(/^ {2}example: KEYS person 10$/m);
      await term.press("C-d");
      assert.equal(await term.exitCode(), 0);
    });
  },
);

terminalTest(
  "history survives a restart, Ctrl-R searches it, and KV_HISTORY=off keeps none",
  async () => {
    await withStateHome(async (env, dir) => {
      await using cluster = await KvCluster.start(1);
      {
        await using term = await startBroker(cluster, {
          env,
        });
        for (const line of ["PUT alpha: 1", "PUT beta: 2", "GET alpha"]) {
          await term.type(line);
          await term.press("Enter");
        }
        await term.waitFor(/^alpha : 1$/m);
        await term.press("C-d");
        assert.equal(await term.exitCode(), 0);
      }
      const file = `${dir}/kv/history`;
      assert.equal(await Deno.readTextFile(file), "PUT alpha: 1\nPUT beta: 2\nGET alpha\n");
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      {
        await using term = await startBroker(cluster, {
          env,
        });
        await term.press("Up");
        await term.waitFor(/^kv> GET alpha$/m);
        await term.press("C-u", "C-r");
        await term.type("bet");
        await term.waitFor(/^\(reverse-i-search\)'bet': PUT beta: 2$/m);
        await term.type("x");
        await term.waitFor(/^\(failing reverse-i-search\)'betx': PUT beta: 2$/m);
        await term.press("BSpace", "Enter");
        await term.waitFor(/^STORED: beta$/m);
        await term.press("C-d");
        assert.equal(await term.exitCode(), 0);
      }
      await Deno.remove(file);
      {
        await using term = await startBroker(cluster, {
          env: { ...env, KV_HISTORY: "off" },
        });
        await term.type("PUT secret: 1");
        await term.press("Enter");
        await term.waitFor(/STORED: secret/);
        await term.press("Up");
        await term.waitFor(/^kv> PUT secret: 1$/m);
        await term.press("C-u", "C-d");
        assert.equal(await term.exitCode(), 0);
      }
      await assert.rejects(() => Deno.stat(file), Deno.errors.NotFound);
    });
  },
);

terminalTest("pasted lines run one at a time, each answer right after its line", async () => {
  await withStateHome(async (env) => {
    await using cluster = await KvCluster.start(1);
    await using term = await startBroker(cluster, { env });
    await term.paste("PUT a: 1\rGET a\rget b\rclearservers\r");
    await term.waitFor(
      /^kv> PUT a: 1\nSTORED: a\nkv> GET a\na : 1\nkv> get b\nNOT FOUND: b\nkv> clearservers\nERROR: unknown command 'clearservers'.*\nkv>$/m,
    );
    await term.press("C-d");
    assert.equal(await term.exitCode(), 0);
  });
});

terminalTest(
  "a PUT whose record is left open reads on under '...' until it closes, typed or pasted pretty-printed, and is recalled as one line",
  async () => {
    await withStateHome(async (env, dir) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      for (const line of ["PUT person1: {", `"name": "Mary",`, `"age": 22`]) {
        await term.type(line);
        await term.press("Enter");
        await term.waitFor(/^\.\.\.$/m);
      }
      await term.type("}");
      await term.press("Enter");
      await term.waitFor(
        /^kv> PUT person1: \{\n\.\.\. "name": "Mary",\n\.\.\. "age": 22\n\.\.\. \}\nSTORED: person1\nkv>$/m,
      );
      // `jq .`'s output pasted after `PUT person2: `, and a command after it in the paste.
      await term.typeShown("PUT person2: ", /^kv> PUT person2:$/m);
      await term.paste(
        `{\r  "name": "Ann",\r  "address": {\r    "city": "Oslo"\r  }\r}\rGET person2\r`,
      );
      await term.waitFor(
        /^\.\.\. \}\nSTORED: person2\nkv> GET person2\nperson2 : \{ "name" : "Ann" ; "address" : \{ "city" : "Oslo" \} \}\nkv>$/m,
      );
      const joined = `PUT person2: { "name": "Ann", "address": { "city": "Oslo" } }`;
      await term.press("Up", "Up");
      await term.waitFor(new RegExp(`^kv> ${RegExp.escape(joined)}$`, "m"));
      await term.press("C-u", "C-d");
      assert.equal(await term.exitCode(), 0);
      assert.equal(
        await Deno.readTextFile(`${dir}/kv/history`),
        `PUT person1: { "name": "Mary", "age": 22 }\n${joined}\nGET person2\n`,
      );
    });
  },
);

terminalTest(
  "Ctrl-C on a line that goes on with a PUT drops the whole command, Ctrl-D on an empty one gives it up and says so, a mistake inside is told at the line it was typed on, and a string left open is answered at once",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      await term.type("PUT a: {");
      await term.press("Enter");
      await term.typeShown(`"x": 1`, /^\.\.\. "x": 1$/m);
      await term.press("C-c");
      await term.waitFor(/^\.\.\. "x": 1\^C\nkv>$/m);
      // At an empty line that goes on too; neither is the first Ctrl-C of leaving.
      await term.type("PUT a: {");
      await term.press("Enter");
      await term.waitFor(/^\.\.\.$/m);
      await term.press("C-c");
      await term.waitFor(/^\.\.\. \^C\nkv>$/m);
      await term.type("GET a");
      await term.press("Enter");
      await term.waitFor(/^NOT FOUND: a\nkv>$/m);
      await term.type("PUT b: {");
      await term.press("Enter");
      await term.waitFor(/^\.\.\.$/m);
      await term.press("C-d");
      await term.waitFor(
        /^ERROR: not run: Ctrl-D ended it with its record still open \(a '\{' not closed\); Up recalls it\nkv>$/m,
      );
      // Recalled as it was typed, it goes on again and can be finished.
      await term.press("Up");
      await term.waitFor(/^kv> PUT b: \{$/m);
      await term.press("Enter");
      await term.waitFor(/^\.\.\.$/m);
      await term.type("}");
      await term.press("Enter");
      await term.waitFor(/^STORED: b\nkv>$/m);
      // A mistake inside a record typed over lines is answered when it closes, at the line
      // and column it was typed at, not at a column of the lines joined.
      for (const line of ["PUT d: {", `  "name": "Mary",`, `  "age" 22`]) {
        await term.type(line);
        await term.press("Enter");
        await term.waitFor(/^\.\.\.$/m);
      }
      await term.type("}");
      await term.press("Enter");
      await term.waitFor(/^ERROR: line 3: column 9: expected ':' after the key, found '2'\nkv>$/m);
      // No string spans lines: one left open is a mistake now, not a line to wait for.
      await term.type(`PUT c: { "x": "open`);
      await term.press("Enter");
      await term.waitFor(/^ERROR: column 15: unterminated string: expected a closing '"'/m);
      await term.press("C-d");
      assert.equal(await term.exitCode(), 0);
      const screen = await term.screen();
      assert.doesNotMatch(screen, new RegExp(RegExp.escape(LEAVE_HINT)));
    });
  },
);

terminalTest(
  "a record pasted over more lines than a command takes is refused once, when it closes, and the command after it runs",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      // 1 + DEFAULT_MAX_ENTRY_LINES lines, the last closing the record.
      const fields = Array.from(
        { length: DEFAULT_MAX_ENTRY_LINES - 1 },
        (_, i) => `  "f${i}": ${i}`,
      );
      await term.paste(`PUT big: {\r${fields.join(",\r")}\r}\rGET big\r`);
      await term.waitFor(
        /^\.\.\. \}\nERROR: the command goes on past 1000 lines, the most one takes; nothing was run .*\nkv> GET big\nNOT FOUND: big\nkv>$/m,
      );
      // The lines after the thousandth were not run one by one.
      assert.doesNotMatch(await term.screen(), /unknown command/);
      await term.press("C-d");
      assert.equal(await term.exitCode(), 0);
    });
  },
);

terminalTest(
  "kv broker -i - on a terminal says it reads records until Ctrl-D, then indexes what was typed",
  async () => {
    await using cluster = await KvCluster.start(1);
    const args = withBrokerTimeout(["broker", "-s", cluster.serverFile, "-i", "-"]);
    await using term = await Terminal.start(kvArgs(...args));
    await term.waitFor(
      /^kv broker: reading records from the terminal, one per line; Ctrl-D ends them$/m,
    );
    await term.type("a : 1");
    await term.press("Enter", "C-d");
    await term.waitFor(/^kv broker: indexed 1 record \(0 failed\), skipped 0 lines/m);
    assert.equal(await term.exitCode(), 0);
    const get = await runKv(withBrokerTimeout(["get", "-s", cluster.serverFile, "a"]));
    assert.equal(get.stdout, "a : 1\n");
  },
);

terminalTest(
  "a line pasted in a terminal over the 1 MiB line limit is refused as piped input is, never run cut short",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      // Past what the line editor keeps (1 MiB characters): what is past it is dropped.
      await term.paste(`PUT a: "${"x".repeat(1024 * 1024)}"\r`);
      await term.waitFor(
        /^ERROR: the line is over 1048576 bytes; the limit is 1048576 bytes; nothing was run \(a record this large is stored through the library, mod\.ts\)\nkv>$/m,
      );
      // Within what the editor keeps, past the limit in UTF-8 bytes (é is two).
      await term.paste(`PUT b: "${"é".repeat(600_000)}"\r`);
      await term.waitFor(/^ERROR: the line is 1200009 bytes; the limit is 1048576 bytes; /m);
      await term.paste("GET a\rGET b\r");
      await term.waitFor(/^NOT FOUND: a\nkv> GET b\nNOT FOUND: b$/m);
    });
  },
);

terminalTest(
  "a line over the 1 MiB line limit inside a record pasted over several lines skips the record's other lines, said once, and the command after it runs",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      const bio = "x".repeat(1024 * 1024);
      await term.paste(`PUT big: {\r  "a": 1,\r  "bio": "${bio}",\r  "z": 1\r}\rGET big\r`);
      await term.waitFor(
        /^ERROR: line 3 of this command over several lines is over 1048576 bytes, the limit of one line; nothing was run; the 2 lines after it were skipped as the rest of its record, to the line that closes it \(a record this large is stored through the library, mod\.ts\)\nkv> GET big\nNOT FOUND: big\nkv>$/m,
      );
      // Its last lines were not run one by one as commands, each refused.
      assert.equal((await term.screen()).match(/^ERROR: /gm)?.length, 1);
    });
  },
);

terminalTest(
  "a line typed in a terminal that is not UTF-8 is refused, never stored with U+FFFD for what was typed",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      // "PUT a: café" from a Latin-1 terminal: é is the one byte 0xe9.
      await term.typeBytes(new TextEncoder().encode("PUT a: caf"));
      await term.typeBytes(new Uint8Array([0xe9]));
      await term.press("Enter");
      await term.waitFor(
        /^ERROR: byte 0xe9 at column 11 is not UTF-8 \(drawn as �\); nothing was run: set the terminal's character encoding to UTF-8\nkv>$/m,
      );
      // In a record typed over lines, at the line and column where it was typed.
      await term.type("PUT b: {");
      await term.press("Enter");
      await term.waitFor(/^\.\.\.$/m);
      await term.typeBytes(new TextEncoder().encode("  x: caf"));
      await term.typeBytes(new Uint8Array([0xe9]));
      await term.press("Enter");
      await term.waitFor(/^\.\.\.$/m);
      await term.type("}");
      await term.press("Enter");
      await term.waitFor(/^ERROR: line 2: byte 0xe9 at column 9 is not UTF-8 \(drawn as �\)/m);
      await term.type("GET a");
      await term.press("Enter");
      await term.waitFor(/^NOT FOUND: a$/m);
    });
  },
);

terminalTest(
  "SIGTERM ends the REPL quietly: the line typed stays, the terminal leaves raw mode, exit 143",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      assert.equal(await term.isRaw(), true, "the REPL reads keys in raw mode");
      // A command's name typed: the dim hint of its arguments follows it.
      await term.typeShown("GET", /^kv> GET key$/m);
      await term.signal("SIGTERM");
      assert.equal(await term.exitCode(), 143);
      // Killed by the signal, the shell would print `Terminated` after the prompt.
      assert.match(await term.screen(), /^kv> GET\n\[exit 143\]$/m);
      assert.equal(await term.isRaw(), false, "the terminal is restored");
    });
  },
);

terminalTest(
  "SIGTERM while a command waits on a hung server ends the REPL at once, with exit 143",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env }, ["--timeout-ms", "600000"]);
      cluster.servers[0].signal("SIGSTOP");
      await term.typeShown("GET a", /^kv> GET a$/m);
      await term.press("Enter");
      // Enter has ended the line (the cursor is back at the left): the GET is running.
      await waitFor(async () => await term.cursorColumn() === 0, { what: "the GET to start" });
      await term.signal("SIGTERM");
      assert.equal(await term.exitCode(), 143);
      cluster.servers[0].signal("SIGCONT");
      assert.match(await term.screen(), /^kv> GET a\n\[exit 143\]$/m);
      assert.equal(await term.isRaw(), false, "the terminal is restored");
    });
  },
);

terminalTest(
  "a SIGINT sent by kill (Ctrl-C is a key in raw mode) ends the REPL as SIGTERM does, with exit 130",
  async () => {
    await withStateHome(async (env) => {
      await using cluster = await KvCluster.start(1);
      await using term = await startBroker(cluster, { env });
      await term.typeShown("GET a", /^kv> GET a$/m);
      await term.signal("SIGINT");
      assert.equal(await term.exitCode(), 130);
      assert.match(await term.screen(), /^kv> GET a\n\[exit 130\]$/m);
      assert.equal(await term.isRaw(), false, "the terminal is restored");
    });
  },
);
