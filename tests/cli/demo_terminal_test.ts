// `kv demo` in a real pseudo-terminal (tmux): Ctrl-C while it loads, and its meta commands.
import assert from "node:assert/strict";
import { kvArgs, Terminal, terminalTest } from "../helpers/tmux.ts";
import { withBrokerTimeout } from "../helpers/kv_processes.ts";
import { isListening, withStateHome } from "../helpers/fixtures.ts";

terminalTest(
  "Ctrl-C while the demo loads stops the load and the servers, with one line and exit 130",
  async () => {
    await withStateHome(async (env) => {
      await using term = await Terminal.start(
        kvArgs(...withBrokerTimeout(["demo", "-n", "1000000", "--servers", "2", "-k", "1"])),
        { env, columns: 200 },
      );
      const loading = await term.waitFor(
        /indexing 1000000 records into 2 servers on 127\.0\.0\.1 ports (\d+), (\d+) \(Ctrl-C stops\)/,
      );
      const ports = [Number(loading[1]), Number(loading[2])];
      await term.press("C-c");
      assert.equal(await term.exitCode(), 130);
      const screen = await term.screen();
      const stopped = [
        ...screen.matchAll(/^(?:\^C)?kv demo: interrupted; stopped 2 servers and removed (\S+)$/gm),
      ];
      assert.equal(stopped.length, 1, screen);
      assert.match(screen, /interrupted; stopped .*\n\[exit 130\]$/, "nothing printed after it");
      assert.doesNotMatch(screen, /^Try |^kv>/m, "no hints, no prompt");
      for (const port of ports) assert.equal(await isListening(port), false, `port ${port} closed`);
      await assert.rejects(() => Deno.stat(stopped[0][1]), Deno.errors.NotFound);
    });
  },
);

terminalTest(
  "the demo's REPL completes \\demo commands and prints server events above the prompt",
  async () => {
    await withStateHome(async (env) => {
      await using term = await Terminal.start(
        kvArgs(...withBrokerTimeout(["demo", "-n", "20", "--servers", "2"])),
        { env },
      );
      await term.waitFor(/^kv>$/m);
      await term.typeShown("\\de", /^kv> \\de/m);
      await term.press("Tab");
      await term.waitFor(/^kv> \\demo$/m);
      await term.typeShown("k", /^kv> \\demo k/m);
      await term.press("Tab");
      await term.waitFor(/^kv> \\demo kill/m);
      await term.type("1");
      await term.press("Enter");
      await term.waitFor(/^server 1 \(\S+\) killed \(SIGKILL\)$/m);
      await term.type("SERVERS");
      await term.press("Enter");
      await term.waitFor(/ DOWN /);
      await term.type("\\demo start 1");
      await term.press("Enter");
      await term.waitFor(/^server 1 \(\S+\) started; the broker is/m);
      await term.press("C-d");
      assert.equal(await term.exitCode(), 0);
      assert.match(await term.screen(), /^kv demo: stopped 2 servers and removed /m);
    });
  },
);

terminalTest(
  "SIGTERM at the demo's prompt ends the REPL as kv broker's (the line typed stays, raw mode left), then stops the servers with one line and exits 143",
  async () => {
    await withStateHome(async (env) => {
      await using term = await Terminal.start(
        kvArgs(...withBrokerTimeout(["demo", "-n", "20", "--servers", "2"])),
        { env, columns: 200 },
      );
      const started = await term.waitFor(
        /^kv demo: 2 servers on 127\.0\.0\.1 ports (\d+), (\d+),/m,
      );
      await term.waitFor(/^kv>$/m);
      assert.equal(await term.isRaw(), true, "the REPL reads keys in raw mode");
      // A command's name typed: the dim hint of its arguments follows it.
      await term.typeShown("GET", /^kv> GET key$/m);
      await term.signal("SIGTERM");
      assert.equal(await term.exitCode(), 143);
      // The line as typed, its hint erased, and the stop line on the next line.
      assert.match(
        await term.screen(),
        /^kv> GET\nkv demo: terminated \(SIGTERM\); stopped 2 servers and removed \S+\n\[exit 143\]$/m,
      );
      assert.equal(await term.isRaw(), false, "the terminal is restored");
      for (const port of [Number(started[1]), Number(started[2])]) {
        assert.equal(await isListening(port), false, `port ${port} closed`);
      }
    });
  },
);
