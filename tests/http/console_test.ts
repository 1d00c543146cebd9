/**
 * The web console in a real browser: Debian's chromium, headless, against a
 * real `kv http` over real servers.
 */
import assert from "node:assert/strict";
import { chromiumTests } from "../helpers/browser.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster, withBrokerTimeout } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";
import { RawConnection } from "../helpers/in_process_server.ts";
import { otherListAdvice, REPAIRED_UNDER_OTHER_LIST } from "../../lib/broker/commands.ts";
import { LIST_CHANGE_UNDER_WAY } from "../../lib/protocol/mod.ts";
import { connectClient } from "../helpers/client.ts";
import { withDeadline } from "../helpers/wait.ts";

/**
 * Adds a test of the console as a step of one test whose steps share one chromium, each in
 * a browser context of its own (tests/helpers/browser.ts).
 */
const chromiumTest = chromiumTests(
  "the web console in headless chromium (one browser; each step a browser context, servers and kv http of its own)",
);

/** Longest wait for anything on the page, in ms (a deadline, not a timing check). */
const PAGE_DEADLINE_MS = 30_000;

/**
 * Page-side code: whether the Servers table ends within its card, and whether it needs its
 * scroll bar (it should not at the tests' 1400 px).
 */
const SERVERS_LAYOUT = `(() => {
  const card = document.querySelector("#cluster").getBoundingClientRect();
  const table = document.querySelector("#cluster table").getBoundingClientRect();
  const scroll = document.querySelector("#cluster .table-scroll");
  return {
    tableFitsCard: table.left >= card.left && table.right <= card.right,
    scrolls: scroll.scrollWidth > scroll.clientWidth,
  };
})()`;

chromiumTest(
  "the web console lists servers, finds a key, shows a record, runs commands, sees a server die",
  async (chromium) => {
    await using cluster = await KvCluster.start(3);
    let written: string;
    {
      await using kv = await cluster.connect({ replicas: 2 });
      const put = await kv.put("person1", { name: "Mary", address: { street: "Main" } });
      written = put.version;
      await kv.put("person2", { name: "John" });
      await kv.put("other", 1);
    }
    await using http = await HttpProcess.start(["-s", cluster.serverFile, "-k", "2"]);
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    // The page's Content-Security-Policy must refuse nothing the console does.
    const refused: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
    });
    const served = await page.goto(http.url);
    assert.match(served?.headers()["content-security-policy"] ?? "", /frame-ancestors 'none'/);
    // Page-side code is given as text: it runs in the browser, not in Deno's type world.
    const until = (expression: string) => page.waitForFunction(expression);

    await until(`document.querySelectorAll('#servers tr[data-state="up"]').length === 3`);
    // No --tokens-file: the token form stays out of sight.
    assert.equal(
      await page.evaluate(`getComputedStyle(document.querySelector("#token-form")).display`),
      "none",
    );
    const servers = await page.evaluate(
      `[...document.querySelectorAll("#servers tr[data-server]")].map((row) => row.dataset.server)`,
    );
    assert.deepEqual(servers, cluster.servers.map((server) => server.id));
    const ks = await page.evaluate(
      `[...document.querySelectorAll("#servers td[data-k]")].map((cell) => cell.textContent)`,
    );
    assert.deepEqual(ks, ["2", "2", "2"], "each server's row shows the k it records");

    await page.type("#prefix", "person");
    await page.click("#key-search button");
    await until(
      `[...document.querySelectorAll("#keys li")].map((li) => li.textContent).join() === "person1,person2"`,
    );

    await page.click('#keys li[data-key="person1"]');
    await until(`document.querySelector("#record-tree .tree") !== null`);
    const tree = String(await page.evaluate(`document.querySelector("#record-tree").textContent`));
    assert.match(tree, /name : "Mary"/);
    assert.match(tree, /street : "Main"/);
    const head = await page.evaluate(`document.querySelector("#record-head").textContent`);
    assert.equal(head, `person1 — version ${written}`);
    await until(`document.querySelector("#replicas-verdict")?.textContent === "replicas agree"`);

    await page.select("#op", "PUT");
    await page.type("#target", "person3");
    await page.type("#body", `{"height": 2.0}`);
    await page.click("#command button");
    await until(`document.querySelector("#answer").textContent.startsWith("200")`);
    await page.select("#op", "QUERY");
    await page.evaluate(`document.querySelector("#target").value = ""`);
    await page.type("#target", "person3.height");
    await page.click("#command button");
    await until(`document.querySelector("#record-tree .float")?.textContent === "2.0"`);

    const victim = cluster.servers[1].id;
    await cluster.servers[1].kill();
    await until(
      `document.querySelector('#servers tr[data-server="${victim}"]')?.dataset.state === "down"`,
    );
    await until(`document.querySelector("#health").textContent.includes("2 of 3 up")`);
    // The reason it is down is readable: on its own row across the table, which fits its
    // card at the tests' 1400 px (it spilled under the Keys card, the reason a letter a line).
    const detail = `document.querySelector('#servers tr[data-detail-for="${victim}"] td')`;
    await until(`${detail}?.textContent.length > 0`);
    assert.deepEqual(await page.evaluate(SERVERS_LAYOUT), { tableFitsCard: true, scrolls: false });
    const widths = await page.evaluate(
      `[${detail}.getBoundingClientRect().width, document.querySelector("#cluster table").getBoundingClientRect().width]`,
    ) as number[];
    assert.ok(widths[0] >= 0.9 * widths[1], `the reason's cell is ${widths[0]} px of ${widths[1]}`);

    // Writes while it is down: each key has the victim among its 2 home servers with
    // probability 2/3, so of 20 keys some leave hints for it (all miss: 1 in 3^20).
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${http.url}v1/records/hinted${i}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: String(i),
      });
      assert.equal(response.status, 200, await response.text());
    }
    const hintsCell =
      `document.querySelector('#servers tr[data-server="${victim}"] td[data-hints]')`;
    await until(`Number(${hintsCell}?.dataset.hints) > 0`);
    await cluster.servers[1].restart();
    await until(
      `document.querySelector('#servers tr[data-server="${victim}"]')?.dataset.state === "up"`,
    );
    // Back, it receives the hinted copies and the console's count drops to none.
    await until(`${hintsCell}?.dataset.hints === "0"`);
    assert.deepEqual(refused, [], "the Content-Security-Policy refused nothing");
  },
);

chromiumTest(
  "the web console takes keys as typed, shows keys it would hide quoted, and shows floats as sent",
  async (chromium) => {
    await using cluster = await KvCluster.start(1);
    await using kv = await cluster.connect();
    await using http = await HttpProcess.start(["-s", cluster.serverFile]);
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    await page.goto(http.url);
    const until = (expression: string) => page.waitForFunction(expression);
    const note = `document.querySelector("#keys-note").textContent`;
    // An empty prefix is no prefix: the note said "no keys start with ''".
    await until(`${note} === "no keys stored"`);

    await kv.put("victim", "also keep me");
    await kv.put("victim ", "keep me");
    await kv.put("a\nb", 1);
    // A zero-width space and a right-to-left override: drawn as they are, each passed for
    // another key ("victim", "vicmit").
    await kv.put("victim\u200b", 2);
    await kv.put("vic\u202etim", 3);
    // A combining grapheme joiner, no format character: drawn as nothing too.
    await kv.put("victim\u034f", 4);
    const floats = await fetch(`${http.url}v1/records/floats`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: `{"a": 1e21, "b": -0.0, "c": 2.0}`,
    });
    assert.equal(floats.status, 200, await floats.text());

    // The note counts in words that agree with the count, and quotes a prefix as keys are.
    const search = async (prefix: string, expected: string) => {
      await page.evaluate(`document.querySelector("#prefix").value = ${JSON.stringify(prefix)}`);
      await page.click("#key-search button");
      await until(`${note} === ${JSON.stringify(expected)}`);
    };
    await search("floats", "1 key");
    await search("zzz", "no keys start with 'zzz'");
    await search("zzz ", `no keys start with "zzz "`);
    await search("", "7 keys");
    await until(`document.querySelectorAll("#keys li").length === 7`);
    const listed = await page.evaluate(
      `[...document.querySelectorAll("#keys li")].map((li) => li.textContent)`,
    );
    assert.deepEqual(listed, [
      `"a\\nb"`,
      "floats",
      "victim",
      `"victim "`,
      `"victim\\u034f"`,
      `"victim\\u200b"`,
      `"vic\\u202etim"`,
    ]);

    await page.select("#op", "DELETE");
    await page.type("#target", "victim ");
    await page.click("#command button");
    await until(`document.querySelector("#answer").textContent.startsWith("200")`);
    assert.equal((await kv.get("victim ")).value, null, "the key typed is deleted");
    assert.deepEqual((await kv.get("victim")).value, "also keep me", "and no other");

    await page.select("#op", "GET");
    await page.evaluate(`document.querySelector("#target").value = ""`);
    await page.type("#target", "floats");
    await page.click("#command button");
    await until(`document.querySelectorAll("#record-tree .float").length === 3`);
    const shown = await page.evaluate(
      `[...document.querySelectorAll("#record-tree .float")].map((span) => span.textContent)`,
    );
    assert.deepEqual(shown, ["1e+21", "-0.0", "2.0"]);
    // The raw answer is shown after the replicas are read, a round trip after the tree.
    await until(`document.querySelector("#answer").textContent.includes('"key": "floats"')`);
    const raw = String(await page.evaluate(`document.querySelector("#answer").textContent`));
    assert.match(raw, /"a": 1e\+21,\s+"b": -0\.0,\s+"c": 2\.0/);
  },
);

chromiumTest(
  "the web console shows why each server is not trusted (not yet repaired, repaired under another list, being re-marked) and what kv servers advises under the servers, the exact repair command, until the repair is done",
  async (chromium) => {
    await using old = await KvCluster.start(1);
    await using added = await KvCluster.start(1);
    {
      await using kv = await old.connect();
      await kv.put("person1", 1);
    }
    await KvCluster.withJoinedServerFile([old, added], async (both) => {
      await using http = await HttpProcess.start(["-s", both]);
      await using browser = await chromium.context();
      const page = await browser.page();
      page.setDefaultTimeout(PAGE_DEADLINE_MS);
      await page.goto(http.url);
      const advice = `document.querySelector("#servers-advice")`;
      // Both need a repair over the joined list: the old one was marked under its own.
      await page.waitForFunction(`!${advice}.hidden`);
      assert.equal(
        await page.evaluate(`${advice}.textContent`),
        `run kv repair -s ${both} to repair ${added.servers[0].id}; ${old.servers[0].id} was ` +
          `${REPAIRED_UNDER_OTHER_LIST}: ${otherListAdvice(`kv repair -s ${both}`)}`,
      );
      // Each row tells why it is not trusted, as kv servers does: each has its own remedy.
      const rowStates = `[...document.querySelectorAll("#servers tr[data-server]")]` +
        `.map((row) => row.dataset.state + ": " + row.children[1].textContent).join("; ")`;
      const states = (old: string, added: string) =>
        `${rowStates} === ${JSON.stringify(`${old}; ${added}`)}`;
      await page.waitForFunction(
        states(
          "other-list: repaired under another server list or k",
          "unrepaired: not yet repaired",
        ),
      );
      // The longest state wraps within its cell rather than widening the table past the card.
      assert.deepEqual(await page.evaluate(SERVERS_LAYOUT), {
        tableFitsCard: true,
        scrolls: false,
      });
      // As a kv repair over the joined list does first (stopped there, it stays so); the mark
      // of a change under way is applied whatever the mark expected.
      const client = await connectClient(old.servers[0].address);
      await client.markRepaired(
        LIST_CHANGE_UNDER_WAY,
        new Uint8Array(LIST_CHANGE_UNDER_WAY.length),
      );
      await client.close();
      await page.waitForFunction(
        `${rowStates}.startsWith("remarking: being re-marked by a kv repair; ")`,
      );
      const repair = await runKv(withBrokerTimeout(["repair", "-s", both]));
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      await page.waitForFunction(`${advice}.hidden && ${advice}.textContent === ""`);
    });
  },
);

chromiumTest(
  "the web console shows a server at its --max-connections busy, as kv servers does, not down",
  async (chromium) => {
    // The third server takes one connection, which a client that said HELLO holds.
    await using cluster = await KvCluster.start(3, {
      server: (index) => ({ args: index === 2 ? ["--max-connections", "1"] : [] }),
    });
    const full = cluster.servers[2];
    const holder = await RawConnection.open({ hostname: "127.0.0.1", port: full.port });
    try {
      await using http = await HttpProcess.start(["-s", cluster.serverFile, "-k", "2"]);
      await using browser = await chromium.context();
      const page = await browser.page();
      page.setDefaultTimeout(PAGE_DEADLINE_MS);
      await page.goto(http.url);
      const row = `document.querySelector('#servers tr[data-server="${full.id}"]')`;
      await page.waitForFunction(`${row}?.dataset.state === "busy"`);
      assert.equal(await page.evaluate(`${row}.children[1].textContent`), "busy");
      const detail = `document.querySelector('#servers tr[data-detail-for="${full.id}"]')`;
      assert.match(
        String(await page.evaluate(`${detail}.textContent`)),
        /BUSY: too many connections/,
      );
    } finally {
      holder.close();
    }
  },
);

chromiumTest(
  "the web console asks for a token when kv http has --tokens-file, says when the one given is refused, and works once given a listed one",
  async (chromium) => {
    const token = "0123456789abcdef0123456789abcdef";
    await using cluster = await KvCluster.start(1);
    const tokens = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(tokens, `${token}\n`);
      await using http = await HttpProcess.start([
        "-s",
        cluster.serverFile,
        "--tokens-file",
        tokens,
      ]);
      await using browser = await chromium.context();
      const page = await browser.page();
      page.setDefaultTimeout(PAGE_DEADLINE_MS);
      await page.goto(http.url);
      const until = (expression: string) => page.waitForFunction(expression);
      const form = `document.querySelector("#token-form")`;
      const input = `document.querySelector("#token")`;
      await until(`!${form}.hidden`);
      assert.equal(await page.evaluate(`${input}.placeholder`), "this server needs a token");
      // The badge says why the servers are not shown, not how reading them failed.
      await until(`document.querySelector("#health").textContent.includes("needs 'Authorization")`);

      await page.type("#token", `${token}x`);
      await page.click("#token-form button");
      await until(`!${form}.hidden && ${input}.placeholder.includes("not one of")`);
      assert.equal(await page.evaluate(`${input}.value`), "", "the refused token is cleared");
      assert.equal(await page.evaluate(`sessionStorage.getItem("kv-token")`), null);

      await page.type("#token", token);
      await page.click("#token-form button");
      await until(`document.querySelectorAll('#servers tr[data-state="up"]').length === 1`);
      await until(`document.querySelector("#keys-note").textContent === "no keys stored"`);
      assert.equal(await page.evaluate(`${form}.hidden`), true);
    } finally {
      await Deno.remove(tokens);
    }
  },
);

/** Page-side code: whether the page is no wider than its window (nothing ran past a card). */
const FITS_WINDOW = `document.documentElement.scrollWidth <= window.innerWidth`;

chromiumTest(
  "the web console keeps a long key and a long value within the window, its commands in sight",
  async (chromium) => {
    const longKey = "L".repeat(300);
    await using cluster = await KvCluster.start(2);
    {
      await using kv = await cluster.connect({ replicas: 1 });
      await kv.put(longKey, { a: 1 });
      // One word of 5000 characters and 400 short ones: too wide, and too tall.
      await kv.put("long", { word: "x".repeat(5000), words: "lorem ipsum ".repeat(400) });
    }
    await using http = await HttpProcess.start(["-s", cluster.serverFile, "-k", "1"]);
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    await page.goto(http.url);
    const until = (expression: string) => page.waitForFunction(expression);
    await until(`document.querySelectorAll("#keys li").length === 2`);
    assert.equal(await page.evaluate(FITS_WINDOW), true, "the key list fits the window");
    await page.click(`#keys li[data-key="${longKey}"]`);
    await until(`document.querySelector("#record-head").textContent.startsWith("${longKey} — ")`);
    assert.equal(await page.evaluate(FITS_WINDOW), true, "the long key's record fits the window");
    await page.click(`#keys li[data-key="long"]`);
    await until(`document.querySelector("#record-head").textContent.startsWith("long — ")`);
    assert.equal(await page.evaluate(FITS_WINDOW), true, "the long value fits the window");
    const commands = await page.evaluate(
      `document.querySelector("#command").getBoundingClientRect().bottom <= window.innerHeight`,
    );
    assert.equal(commands, true, "the commands are in sight under the long record");
  },
);

chromiumTest(
  "the web console shows the record clicked last when the one clicked before answers after it",
  async (chromium) => {
    await using cluster = await KvCluster.start(2);
    {
      await using kv = await cluster.connect({ replicas: 1 });
      await kv.put("slow", { which: "slow" });
      await kv.put("fast", { which: "fast" });
    }
    await using http = await HttpProcess.start(["-s", cluster.serverFile, "-k", "1"]);
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    // Each answer's body, once read, is recorded a task later: by then the code awaiting it
    // has run (its continuation is a microtask), so the test can wait for it to be done.
    await page.evaluateOnNewDocument(`{
      const text = Response.prototype.text;
      window.bodiesRead = [];
      Response.prototype.text = async function () {
        const body = await text.call(this);
        const url = this.url;
        setTimeout(() => window.bodiesRead.push(url), 0);
        return body;
      };
    }`);
    // The read of "slow" is held (a slow cluster) until "fast", clicked after it, is shown.
    const slowUrl = `${http.url}v1/records/slow`;
    const held = Promise.withResolvers<() => Promise<void>>();
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      if (request.url() === slowUrl) held.resolve(() => request.continue());
      else request.continue();
    });
    await page.goto(http.url);
    const until = (expression: string) => page.waitForFunction(expression);
    await until(`document.querySelectorAll("#keys li").length === 2`);
    await page.click(`#keys li[data-key="slow"]`);
    const release = await withDeadline(held.promise, { what: "the console to read slow" });
    await page.click(`#keys li[data-key="fast"]`);
    await until(`document.querySelector("#replicas-verdict")?.textContent === "replicas agree"`);
    await release();
    await until(`window.bodiesRead.includes(${JSON.stringify(slowUrl)})`);
    const head = String(await page.evaluate(`document.querySelector("#record-head").textContent`));
    assert.match(head, /^fast — version /);
    assert.match(
      String(await page.evaluate(`document.querySelector("#record-tree").textContent`)),
      /which : "fast"/,
    );
    assert.equal(await page.evaluate(`document.querySelectorAll("#replicas-verdict").length`), 1);
  },
);

chromiumTest(
  "the web console edits a record: Edit puts its key and value (floats as sent) in the PUT form, and the record shown follows a PUT and a DELETE of it; a QUERY that finds nothing says which",
  async (chromium) => {
    await using cluster = await KvCluster.start(1);
    await using http = await HttpProcess.start(["-s", cluster.serverFile]);
    const stored = await fetch(`${http.url}v1/records/person`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: `{"name":"Mary","height":2.0}`,
    });
    const { version } = await stored.json();
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    await page.goto(http.url);
    const until = (expression: string) => page.waitForFunction(expression);
    await until(`document.querySelectorAll("#keys li").length === 1`);
    // A QUERY that finds nothing says which, in the REPL's words.
    const queries = [
      ["person.nmae", "NOT FOUND: person has no field nmae (did you mean name?)"],
      ["person.height.x", "NOT FOUND: person.height is 2.0, not an object"],
      ["nobody.x", "NOT FOUND: no record nobody"],
    ];
    const head = `document.querySelector("#record-head").textContent`;
    await page.select("#op", "QUERY");
    for (const [target, shown] of queries) {
      await page.evaluate(`document.querySelector("#target").value = ${JSON.stringify(target)}`);
      await page.click("#command button");
      await until(`${head} === ${JSON.stringify(shown)}`);
    }
    await page.click(`#keys li[data-key="person"]`);
    await until(`document.querySelector("#edit-record") !== null`);
    await page.click("#edit-record");
    const form = await page.evaluate(
      `[...["op", "target", "body"].map((id) => document.getElementById(id).value)]`,
    ) as string[];
    assert.deepEqual(form.slice(0, 2), ["PUT", "person"]);
    assert.equal(form[2].replace(/\s/g, ""), `{"name":"Mary","height":2.0}`);

    await page.evaluate(
      `document.querySelector("#body").value = document.querySelector("#body").value.replace("Mary", "Ann")`,
    );
    await page.click("#command button");
    await until(`${head}.startsWith("person — version ") && !${head}.endsWith("${version}")`);
    const tree = String(await page.evaluate(`document.querySelector("#record-tree").textContent`));
    assert.match(tree, /name : "Ann"/);
    assert.match(tree, /height : 2\.0/);

    await page.select("#op", "DELETE");
    await page.click("#command button");
    await until(`${head} === "NOT FOUND: person"`);
  },
);

/**
 * Page-side code, run on another origin's page: what becomes of a read and two writes to the
 * `kv http` at `base` (a GET, a PUT as JSON, which needs a preflight, and a `no-cors` POST,
 * which does not).
 */
const CROSS_ORIGIN_CALLS = `async (base) => {
  const outcome = async (call) => {
    try {
      const response = await call();
      return response.type === "opaque" ? "opaque" : String(response.status);
    } catch (error) {
      return error.name;
    }
  };
  return [
    await outcome(() => fetch(base + "v1/records/person")),
    await outcome(() => fetch(base + "v1/records/put", {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: "1",
    })),
    await outcome(() => fetch(base + "v1/records/post", {
      method: "POST", mode: "no-cors", body: "post: 1",
    })),
  ];
}`;

chromiumTest(
  "a page of another origin can neither read a record through kv http nor write one: no CORS headers, its preflight refused",
  async (chromium) => {
    await using served = await HttpProcess.onCluster(1);
    const { http } = served;
    const stored = await fetch(`${http.url}v1/records/person`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: "1",
    });
    assert.equal(stored.status, 200, await stored.text());
    await using other = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<!doctype html><title>another origin</title>", {
          headers: { "Content-Type": "text/html" },
        }),
    );
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    await page.goto(`http://127.0.0.1:${other.addr.port}/`);
    const outcomes = await page.evaluate(`(${CROSS_ORIGIN_CALLS})(${JSON.stringify(http.url)})`);
    // The read and the PUT fail as CORS makes them fail; the POST, sent, is opaque to the page.
    assert.deepEqual(outcomes, ["TypeError", "TypeError", "opaque"]);
    for (const key of ["put", "post"]) {
      const read = await fetch(`${http.url}v1/records/${key}`);
      assert.equal(read.status, 404, `${key}: ${await read.text()}`);
    }
  },
);

chromiumTest(
  "the web console says kv http is unreachable once it stops: in the health badge, under a key search and as a command's answer",
  async (chromium) => {
    await using cluster = await KvCluster.start(1);
    await using http = await HttpProcess.start(["-s", cluster.serverFile]);
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    await page.goto(http.url);
    const until = (expression: string) => page.waitForFunction(expression);
    await until(`document.querySelector("#keys-note").textContent === "no keys stored"`);
    assert.equal(await http.stop(), 0);
    const unreachable = (selector: string) =>
      until(`document.querySelector("${selector}").textContent.includes("kv http unreachable: ")`);
    await unreachable("#health");
    await page.click("#key-search button");
    await unreachable("#keys-note");
    await page.type("#target", "person1");
    await page.click("#command button");
    await unreachable("#answer");
    assert.match(
      String(await page.evaluate(`document.querySelector("#answer").textContent`)),
      /^0 /,
    );
    await unreachable("#record-head");
  },
);

chromiumTest(
  "the web console pages through many keys with First, Next and Previous, 50 at a time",
  async (chromium) => {
    await using cluster = await KvCluster.start(1);
    {
      await using kv = await cluster.connect();
      for (let i = 0; i < 120; i++) await kv.put(`key${String(i).padStart(3, "0")}`, i);
    }
    await using http = await HttpProcess.start(["-s", cluster.serverFile]);
    await using browser = await chromium.context();
    const page = await browser.page();
    page.setDefaultTimeout(PAGE_DEADLINE_MS);
    await page.goto(http.url);
    const until = (expression: string) => page.waitForFunction(expression);
    const shows = (first: string, count: number) =>
      until(
        `document.querySelector("#keys li")?.dataset.key === "${first}" && ` +
          `document.querySelectorAll("#keys li").length === ${count}`,
      );
    const disabled = (id: string) => page.evaluate(`document.getElementById("${id}").disabled`);
    await shows("key000", 50);
    assert.equal(await disabled("previous-page"), true);
    await page.click("#next-page");
    await shows("key050", 50);
    await page.click("#next-page");
    await shows("key100", 20);
    assert.equal(await disabled("next-page"), true);
    await page.click("#previous-page");
    await shows("key050", 50);
    await page.click("#previous-page");
    await shows("key000", 50);
    assert.equal(await disabled("previous-page"), true);
    await page.click("#next-page");
    await shows("key050", 50);
    await page.click("#first-page");
    await shows("key000", 50);
    assert.equal(await disabled("previous-page"), true);
  },
);
