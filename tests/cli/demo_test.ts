import assert from "node:assert/strict";
import { readLines } from "../../lib/base/line_reader.ts";
import { runKv } from "../helpers/run_kv.ts";
import { withBrokerTimeout } from "../helpers/kv_processes.ts";
import { isListening } from "../helpers/fixtures.ts";
import { kvArgs } from "../helpers/tmux.ts";
import { waitFor, withDeadline } from "../helpers/wait.ts";
import { DirLock } from "../../lib/server/dir_lock.ts";
import { CAN_MOUNT, mountSmallTmpfs, unmount } from "../helpers/tmpfs.ts";

/** A SERVERS line of a server that is up. */
const UP = / {2}up +\d+ records?/;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("kv demo starts its servers, survives a crash and a freeze, and cleans up on exit", async () => {
  const script = [
    "GET person1",
    "\\demo kill 1",
    "SERVERS",
    "GET person1",
    "GET person2",
    "\\demo start 1",
    "\\demo hang 2",
    "GET person1",
    "GET person2",
    "SERVERS",
    "\\demo start 2",
    "SERVERS",
    "\\demo kill 7",
    "\\demo kill",
    "\\demo frob",
    "\\demo hang 1 2",
    "\\demo kil 1",
    "EXIT",
  ].join("\n");
  const run = await runKv(withBrokerTimeout(["demo", "-n", "20", "--seed", "3"]), {
    stdin: script + "\n",
  });
  // `\demo kill 7` and the four lines after it are mistakes: piped, the demo exits as a
  // piped broker does.
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^kv demo warn: of 18 commands, 5 were mistakes /m);
  // Piped, the greeting goes to stderr: stdout holds the answers and nothing else.
  const banner =
    /^kv demo: 4 servers on 127\.0\.0\.1 ports (\d+), (\d+), (\d+), (\d+), 20 records with k=2; data in (\S+)$/m
      .exec(run.stderr);
  assert(banner, run.stderr);
  const ports = banner.slice(1, 5).map(Number);
  const directory = banner[5];
  assert.match(run.stderr, /^Try GET \S+, QUERY \S+,/m);
  const answers = run.stdout.trimEnd().split("\n");
  const expected: (string | RegExp)[] = [
    /^person1 : \{/,
    `server 1 (127.0.0.1:${ports[0]}) killed (SIGKILL)`,
    new RegExp(`^127\\.0\\.0\\.1:${ports[0]}  DOWN`),
    UP,
    UP,
    UP,
    "person1",
    /^person2 : \{/,
    /^server 1 .* started; the broker is connected to it again$/,
    /^server 2 .* frozen \(SIGSTOP\)/,
    "person1",
    "person2",
    UP,
    // The frozen server is found down once its request times out.
    new RegExp(`^127\\.0\\.0\\.1:${ports[1]}  DOWN`),
    UP,
    UP,
    /^server 2 .* resumed \(SIGCONT\); the broker is connected to it again$/,
    UP,
    UP,
    UP,
    UP,
    "ERROR: line 13: no server '7'; they are numbered 1 to 4 (\\demo lists them)",
    "ERROR: line 14: say which server, 1 to 4: \\demo kill 2",
    "ERROR: line 15: unknown demo command 'frob'; try \\demo",
    "ERROR: line 16: \\demo hang takes one server number: \\demo hang 2",
    "ERROR: line 17: unknown demo command 'kil'; did you mean \\demo kill? (\\demo lists all)",
  ];
  assert.equal(answers.length, expected.length, run.stdout);
  expected.forEach((pattern, index) => {
    // With one server down, every record still has a replica up: answers stay whole.
    if (pattern === "person1" || pattern === "person2") {
      assert.equal(answers[index], answers[pattern === "person1" ? 0 : 7], `answer ${index}`);
    } else if (typeof pattern === "string") assert.equal(answers[index], pattern);
    else assert.match(answers[index], pattern, `answer ${index}`);
  });
  assert.doesNotMatch(run.stdout, /WARNING/);
  assert.match(run.stderr, /kv demo: indexed 20 records \(0 failed\)/);
  assert.match(run.stderr, /kv demo: stopped 4 servers and removed /);
  for (const port of ports) assert.equal(await isListening(port), false, `port ${port} closed`);
  assert.equal(await exists(directory), false, `${directory} removed`);
});

Deno.test("kv demo with one server and one record says '1 server on 127.0.0.1 port N', '1 record'", async () => {
  const run = await runKv(withBrokerTimeout(["demo", "--servers", "1", "-n", "1"]), {
    stdin: "EXIT\n",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /^kv demo: 1 server on 127\.0\.0\.1 port \d+, 1 record with k=1; data in \S+\n/m,
  );
  assert.match(run.stderr, /indexing 1 record into 1 server on 127\.0\.0\.1 port \d+ \(/);
});

Deno.test("kv demo refuses bad flags with one line and exit 2", async () => {
  for (
    const [args, pattern] of [
      [["--servers", "0"], /--servers must be a whole number from 1 to 9/],
      [["--servers", "3", "-k", "4"], /-k must be a whole number from 1 to 3/],
      [["-n", "-1"], /-n/],
      [["--bogus"], /unknown option '--bogus'/],
      [["--timeout-ms", "0"], /--timeout-ms must be a whole number from 1 to 600000, got '0'/],
    ] as const
  ) {
    const { code, stderr } = await runKv(["demo", ...args]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, pattern);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  }
});

Deno.test("kv demo with a TMPDIR it cannot use says so in one line naming TMPDIR, exit 2", async () => {
  // With every permission `deno task demo` and the installed kv grant, TMPDIR among them.
  const [command, ...args] = kvArgs("demo", "-n", "1");
  const run = new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1", TMPDIR: "/nonexistent/kv-tmp" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = await withDeadline(run, { what: "kv demo to exit" });
  const [stdout, stderr] = [output.stdout, output.stderr].map((bytes) =>
    new TextDecoder().decode(bytes)
  );
  assert.deepEqual([output.code, stdout], [2, ""], stderr);
  assert.equal(
    stderr,
    "kv demo: cannot make its data directory in /nonexistent/kv-tmp: No such file or " +
      "directory; point TMPDIR at a directory it may write to\n",
  );
});

/** Runs `kv demo` with `seed`, asks what its hint line suggests, and returns the hint and answers. */
async function askWhatTheHintSays(seed: number): Promise<{ hint: string; answers: string[] }> {
  const demo = await startDemo(["--servers", "1", "-k", "1", "-n", "20", "--seed", `${seed}`]);
  // Disposing the child kills it if the test ends early.
  await using _child = demo.child;
  const match = /^Try GET (\S+), QUERY (\S+),/.exec(demo.hint);
  assert(match, demo.hint);
  const answers = [await demo.ask(`GET ${match[1]}`), await demo.ask(`QUERY ${match[2]}`)];
  assert.equal(await demo.exit(), 0);
  return { hint: demo.hint, answers };
}

/**
 * Reads a piped kv demo's `stderr` up to its greeting, the banner and the hint line (its
 * stdout holds answers only), then reads the rest so the demo never waits on a full pipe;
 * `drained` resolves to those lines once the demo closed it (it dies with the demo: its
 * servers' stderr is the demo's own pipe).
 */
async function greetingOf(
  stderr: ReadableStream<Uint8Array>,
): Promise<{ banner: string; hint: string; drained: Promise<string[]> }> {
  const lines = readLines(stderr)[Symbol.asyncIterator]();
  const next = async () => {
    const line = await withDeadline(lines.next(), { what: "kv demo to greet" });
    assert(!line.done, "kv demo ended early");
    return line.value.text ?? "";
  };
  let banner = await next();
  while (!banner.startsWith("kv demo: ") || !banner.includes("; data in ")) banner = await next();
  const hint = await next();
  assert.match(hint, /^Try /);
  const drained = (async () => {
    const rest: string[] = [];
    for (let line = await lines.next(); !line.done; line = await lines.next()) {
      rest.push(line.value.text ?? "");
    }
    return rest;
  })();
  return { banner, hint, drained };
}

Deno.test("the demo's hint names a record and a field that exist, whatever the seed", async () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { hint, answers } = await askWhatTheHintSays(seed);
    const [, key, path] = /^Try GET (\S+), QUERY (\S+),/.exec(hint)!;
    assert.match(answers[0], new RegExp(`^${key} : \\{ \\S`), `seed ${seed}: ${hint}`);
    assert(answers[1].startsWith(`${path} : `), `seed ${seed}: ${hint} → ${answers[1]}`);
  }
});

/** What a running `kv demo` printed before its prompt: its servers' ports and its directory. */
interface RunningDemo {
  readonly child: Deno.ChildProcess;
  /** Resolves to its stderr's lines after the hint once it closed (see greetingOf). */
  readonly drained: Promise<string[]>;
  readonly ports: number[];
  readonly directory: string;
  /** The line after the banner, suggesting what to try. */
  readonly hint: string;
  /** Sends one REPL line and resolves its answer's first line. */
  ask(line: string): Promise<string>;
  /** Sends EXIT, ends its input, and resolves its exit code once its stderr closed too. */
  exit(): Promise<number>;
}

/** Starts `kv demo` with commands piped in, and reads its banner. */
async function startDemo(args: string[]): Promise<RunningDemo> {
  const [command, ...rest] = kvArgs(...withBrokerTimeout(["demo", ...args]));
  const child = new Deno.Command(command, {
    args: rest,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = readLines(child.stdout)[Symbol.asyncIterator]();
  const next = async () => {
    const line = await withDeadline(lines.next(), { what: "kv demo to print" });
    assert(!line.done, "kv demo ended early");
    return line.value.text ?? "";
  };
  const { banner, hint, drained } = await greetingOf(child.stderr);
  const match = /ports? ([\d, ]+), .*; data in (\S+)$/.exec(banner);
  assert(match, banner);
  const writer = child.stdin.getWriter();
  return {
    child,
    drained,
    ports: match[1].split(", ").map(Number),
    directory: match[2],
    hint,
    ask: async (line) => {
      await writer.write(new TextEncoder().encode(`${line}\n`));
      return await next();
    },
    exit: async () => {
      await writer.write(new TextEncoder().encode("EXIT\n"));
      await writer.close();
      const status = await withDeadline(child.status, { what: "kv demo to exit" });
      await withDeadline(drained, { what: "kv demo's stderr to close" });
      return status.code;
    },
  };
}

/**
 * Kills what a failed test left of `directory`'s servers (each holds its data dir's lock
 * and wrote its pid in it) and removes the directory.
 */
async function cleanUpAfter(directory: string): Promise<void> {
  if (!await exists(directory)) return;
  for await (const entry of Deno.readDir(directory)) {
    const dir = `${directory}/${entry.name}`;
    if (!entry.isDirectory) continue;
    const lock = await DirLock.tryAcquire(dir);
    if (lock !== undefined) {
      lock.release();
      continue;
    }
    const pid = await DirLock.holderPid(dir);
    if (pid !== undefined) Deno.kill(pid, "SIGKILL");
  }
  await Deno.remove(directory, { recursive: true });
}

/** SIGKILLs `demo` and waits for its servers to close their ports and its directory to go. */
async function killAndAwaitCleanUp(demo: RunningDemo): Promise<void> {
  try {
    demo.child.kill("SIGKILL");
    await withDeadline(demo.child.status, { what: "kv demo to die" });
    await withDeadline(demo.drained, { what: "kv demo's stderr to close" });
    for (const port of demo.ports) {
      await waitFor(async () => !await isListening(port), {
        what: `the orphaned server on port ${port} to stop`,
        timeoutMs: 20_000,
      });
    }
    await waitFor(async () => !await exists(demo.directory), {
      what: `${demo.directory} to be removed`,
      timeoutMs: 20_000,
    });
  } finally {
    await cleanUpAfter(demo.directory);
  }
}

Deno.test("kv demo killed by SIGKILL leaves no server running and no directory behind", async () => {
  const demo = await startDemo(["-n", "20"]);
  assert.equal(demo.ports.length, 4);
  await killAndAwaitCleanUp(demo);
});

Deno.test("kv demo killed by SIGKILL with a server frozen leaves that server stopped too", async () => {
  const demo = await startDemo(["-n", "20", "--servers", "2", "-k", "1"]);
  assert.match(await demo.ask("\\demo hang 2"), /^server 2 .* frozen \(SIGSTOP\)/);
  await killAndAwaitCleanUp(demo);
});

Deno.test("kv demo --clean-up removes a directory holding what the demo makes, and nothing else", async () => {
  const parent = await Deno.makeTempDir();
  try {
    const demoDir = `${parent}/kv-demo-made`;
    await Deno.mkdir(`${demoDir}/server1`, { recursive: true });
    await Deno.writeTextFile(`${demoDir}/dataToIndex.txt`, "k = 1\n");
    const made = await runKv(["demo", "--clean-up", demoDir], { stdin: "" });
    assert.deepEqual([made.code, made.stderr], [0, ""]);
    assert.equal(await exists(demoDir), false);

    // A directory of the user's that happens to be named so: a file the demo never makes.
    const project = `${parent}/kv-demo-app`;
    await Deno.mkdir(`${project}/server1`, { recursive: true });
    await Deno.writeTextFile(`${project}/notes.txt`, "keep me\n");
    const mine = await runKv(["demo", "--clean-up", project], { stdin: "" });
    assert.equal(mine.code, 2);
    assert.equal(
      mine.stderr,
      `kv demo: --clean-up leaves ${project} as it is: it holds notes.txt, which kv demo ` +
        "never makes\n",
    );
    assert.equal(await Deno.readTextFile(`${project}/notes.txt`), "keep me\n");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${project}/server1`)), []);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("kv demo --clean-up neither follows nor removes a symbolic link named as its directory", async () => {
  const parent = await Deno.makeTempDir();
  try {
    const target = `${parent}/precious`;
    await Deno.mkdir(`${target}/server1`, { recursive: true });
    const link = `${parent}/kv-demo-link`;
    await Deno.symlink(target, link);
    const run = await runKv(["demo", "--clean-up", link], { stdin: "" });
    assert.equal(run.code, 2);
    assert.equal(
      run.stderr,
      `kv demo: --clean-up leaves ${link} as it is: it is a symbolic link, which kv demo ` +
        "never makes\n",
    );
    assert.equal((await Deno.lstat(link)).isSymlink, true);
    // Not even a lock file written into the link's target.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${target}/server1`)), []);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

/**
 * Runs `body` on a piped `kv demo` (one server) whose directory holds a mount point, which
 * no one, not even root, can remove; then unmounts it and removes what is left.
 */
async function withPinnedDemo(body: (demo: RunningDemo) => Promise<void>): Promise<void> {
  const demo = await startDemo(["--servers", "1", "-k", "1", "-n", "20"]);
  await using _child = demo.child;
  const pinned = mountSmallTmpfs(1, `${demo.directory}/pinned`);
  assert(pinned !== undefined, "mounted");
  try {
    await body(demo);
  } finally {
    // The demo's clean-up process may be removing the directory too, once it is free.
    const gone = (error: unknown) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    };
    try {
      unmount(pinned);
    } catch (error) {
      gone(error);
    }
    await cleanUpAfter(demo.directory).catch(gone);
  }
}

/**
 * The two ways a piped demo is ended here, each resolving its exit code: EXIT, and SIGTERM
 * (exit 143), which leads its last line with `how` (a pattern).
 */
const ENDINGS = [
  { how: "", signalled: false, end: (demo: RunningDemo) => demo.exit() },
  {
    how: "terminated \\(SIGTERM\\); ",
    signalled: true,
    end: async (demo: RunningDemo) => {
      demo.child.kill("SIGTERM");
      return (await withDeadline(demo.child.status, { what: "kv demo to exit" })).code;
    },
  },
];

Deno.test({
  name:
    "kv demo that cannot remove its directory, ended by EXIT or SIGTERM, stops its servers and says so in one error line, exit 1 or 143: no internal error, no line without a level" +
    (CAN_MOUNT ? "" : " (ignored: this machine cannot mount a tmpfs)"),
  ignore: !CAN_MOUNT,
  fn: async () => {
    for (const { how, signalled, end } of ENDINGS) {
      await withPinnedDemo(async (demo) => {
        assert.equal(await end(demo), signalled ? 143 : 1);
        const stderr = await withDeadline(demo.drained, { what: "kv demo's stderr to close" });
        assert.match(
          stderr.at(-1) ?? "",
          new RegExp(
            `^kv demo error: ${how}could not stop every server and remove ` +
              `${RegExp.escape(demo.directory)}: .*busy`,
            "i",
          ),
          stderr.join("\n"),
        );
        assert.equal(await isListening(demo.ports[0]), false, "its server stopped");
      });
    }
  },
});

Deno.test("kv demo whose directory someone else removed while it ran, ended by EXIT or SIGTERM, stops its servers and says the directory was removed already, exit 0 or 143: a directory gone is what the clean-up wanted", async () => {
  for (const { how, signalled, end } of ENDINGS) {
    const demo = await startDemo(["--servers", "1", "-k", "1", "-n", "20"]);
    await using _child = demo.child;
    // As a cleaner of /tmp would, under the running server and demo.
    await Deno.remove(demo.directory, { recursive: true });
    assert.equal(await end(demo), signalled ? 143 : 0);
    const stderr = await withDeadline(demo.drained, { what: "kv demo's stderr to close" });
    assert.match(
      stderr.at(-1) ?? "",
      new RegExp(
        `^kv demo: ${how}stopped 1 server; ${RegExp.escape(demo.directory)} was removed already$`,
      ),
      stderr.join("\n"),
    );
    assert.equal(await isListening(demo.ports[0]), false, "its server stopped");
  }
});
