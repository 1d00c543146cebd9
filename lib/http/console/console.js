// kv's web console: plain JavaScript, no build step, talking only to the kv http
// server that served it (the JSON API under /v1 and /healthz).

/** How often the server table refreshes, in ms. */
const REFRESH_MS = 2000;
/** Keys per page in the key browser. */
const PAGE_SIZE = 50;

const $ = (id) => document.getElementById(id);

/**
 * A float keeps its kind and its text as the API wrote it ('.' or an exponent): `2.0`,
 * `-0.0` and `1e+21` are shown so, where the number alone would print `2`, `0` and `1e+21.0`.
 */
class Float {
  constructor(value, source) {
    this.value = value;
    this.source = source;
  }
}

/** Parses JSON; with `floats`, numbers written with '.' or an exponent become Floats. */
function parseJson(text, floats) {
  if (!floats) return JSON.parse(text);
  return JSON.parse(
    text,
    (_name, value, context) =>
      typeof value === "number" && /[.eE]/.test(context?.source ?? "")
        ? new Float(value, context.source)
        : value,
  );
}

/** Where the bearer token typed into the console is kept for this tab. */
const TOKEN_KEY = "kv-token";

/** The status {@link api} answers when no answer came: kv http stopped, or the network. */
const UNREACHABLE = 0;

/**
 * `method path` (with `body` of `type`) answered: its status and JSON; kv http not reached is
 * status {@link UNREACHABLE} with an error saying so, as every caller shows an error (a fetch
 * that threw ended the caller: Run and Search did nothing at all while kv http was down).
 */
async function api(method, path, body, type = "application/json") {
  const init = { method, headers: {} };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = body;
    init.headers["Content-Type"] = type;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    return { status: UNREACHABLE, data: { error: `kv http unreachable: ${error.message}` } };
  }
  // A server started with --tokens-file: ask for a token (and keep asking while it is wrong).
  $("token-form").hidden = response.status !== 401 && $("token-form").hidden;
  if (response.status === 401) forgetRefusedToken(response);
  const text = await response.text();
  let data;
  try {
    // Only records hold values whose kind matters; latencies and counts are plain numbers.
    data = parseJson(text, path.startsWith("/v1/records/"));
  } catch {
    data = { error: text };
  }
  return { status: response.status, data };
}

/**
 * A token the server refused as not one of its own (RFC 6750's `invalid_token`) is
 * forgotten, and the form says so: asked again as if none had been given, a user would
 * not know whether the token or its typing was at fault. Forgotten, later requests carry
 * none, so what the user types next is left alone.
 */
function forgetRefusedToken(response) {
  const challenge = response.headers.get("WWW-Authenticate") ?? "";
  if (!/error="invalid_token"/.test(challenge) || !sessionStorage.getItem(TOKEN_KEY)) return;
  sessionStorage.removeItem(TOKEN_KEY);
  $("token").value = "";
  $("token").placeholder = "that token is not one of this server's; give another";
}

/**
 * A key holding a character a page would not draw as itself — a control (`\p{Cc}`), a format
 * character (`\p{Cf}`: the zero-width space U+200B shows as nothing, a bidi override such as
 * U+202E reverses what follows), a line or paragraph separator, another default ignorable
 * (`\p{DI}`: a combining grapheme joiner U+034F shows as nothing), a space other than U+0020
 * (a no-break space U+00A0 is drawn as one) — or a space at either end.
 * The characters are those `kv keys` quotes a key for (HIDDEN_CHARACTERS, lib/record/key.ts).
 */
const HIDDEN_IN_TEXT =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{DI}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]|^\s|\s$/u;

/** What JSON.stringify leaves as it is of those characters: it escapes only controls. */
const LEFT_UNESCAPED = /[\p{Cf}\p{Zl}\p{Zp}\p{DI}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu;

/**
 * A key as the page shows it: as it is, or quoted with JSON's escapes (every character of
 * {@link HIDDEN_IN_TEXT} as `\uXXXX`) when the page would hide part of it, so the key "a\nb"
 * is not drawn like "a b", nor "victim " or "victim" with a zero-width space like "victim".
 */
function shownKey(key) {
  if (!HIDDEN_IN_TEXT.test(key)) return key;
  return JSON.stringify(key).replace(LEFT_UNESCAPED, unicodeEscape);
}

/** A character as `\uXXXX`, or as its surrogate pair's two when past U+FFFF. */
function unicodeEscape(character) {
  let escaped = "";
  for (let i = 0; i < character.length; i++) {
    escaped += `\\u${character.charCodeAt(i).toString(16).padStart(4, "0")}`;
  }
  return escaped;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

// ---- Servers -------------------------------------------------------------

/**
 * A server's state as the table shows it: up, up but not trusted (not yet repaired,
 * repaired under another server list or k, or being re-marked by a kv repair: each needs
 * its own remedy, which the advice under the table names), down, refused (running, but not
 * with kv http's credentials: those need fixing, not the server), or busy (running, at its
 * --max-connections: it needs room, not restarting), or up refusing writes (its data dir
 * cannot be written: a full disk), as `kv servers` says.
 */
const STATE_TEXT = {
  up: "up",
  "read-only": "up, refusing writes (read-only)",
  unrepaired: "not yet repaired",
  "other-list": "repaired under another server list or k",
  remarking: "being re-marked by a kv repair",
  down: "down",
  refused: "refused",
  busy: "busy",
};
const STATE_CLASS = {
  up: "state-up",
  "read-only": "warning",
  unrepaired: "warning",
  "other-list": "warning",
  remarking: "warning",
  down: "state-down",
  refused: "state-down",
  busy: "warning",
};

/** The state of `server`, a row of `GET /v1/servers`: a key of {@link STATE_TEXT}. */
function serverState(server) {
  if (server.refused) return "refused";
  if (server.busy) return "busy";
  if (!server.up) return "down";
  // Refused writes first: every write whose replicas include it fails or goes elsewhere.
  if (server.readOnly) return "read-only";
  if (server.repaired) return "up";
  if (server.beingRemarked) return "remarking";
  return server.repairedUnderOtherList ? "other-list" : "unrepaired";
}

/**
 * The k a server records (0: none yet), marked as a warning where it is not the cluster's
 * k, as in a k conflict, which refuses every client until `kv repair -k N` settles it (the
 * advice under the table names the exact commands).
 */
function recordedK(server, clusterK) {
  if (!server.up) return element("td", {}, "—");
  const text = server.k === 0 ? "no k" : String(server.k);
  const conflict = server.k !== 0 && server.k !== clusterK;
  return element("td", { "data-k": String(server.k), class: conflict ? "warning" : "" }, text);
}

/**
 * Why a server is not up (down, refused, busy), on a row of its own under the server's,
 * across every column: in a column of its own the reason, a sentence, was squeezed to a
 * letter a line, or past the card's edge.
 */
function serverDetail(server) {
  const columns = String($("servers-head").children.length);
  return element(
    "tr",
    { class: "server-detail", "data-detail-for": server.server },
    element("td", { class: "muted", colspan: columns }, server.error),
  );
}

async function refreshServers() {
  try {
    const [{ status, data: servers }, { status: healthStatus, data: health }] = await Promise.all(
      [api("GET", "/v1/servers"), api("GET", "/healthz")],
    );
    // Unreachable, or refused (no token yet, busy): its reason, where reading the servers of
    // an error body said "kv http unreachable: Cannot read properties of undefined".
    if (status === UNREACHABLE) throw new Error(servers.error);
    if (status !== 200) throw new Error(`kv http refused /v1/servers: ${servers.error}`);
    const rows = servers.servers.flatMap((server) => {
      const state = serverState(server);
      const row = element(
        "tr",
        { "data-server": server.server, "data-state": state },
        element("td", {}, server.server),
        element("td", { class: STATE_CLASS[state] }, STATE_TEXT[state]),
        element("td", {}, server.up ? String(server.records) : "—"),
        element("td", {}, server.up ? `${server.latencyMs.toFixed(2)} ms` : "—"),
        recordedK(server, health.replicas),
        element("td", { "data-hints": String(server.hints) }, String(server.hints)),
      );
      if (server.up) return [row];
      row.classList.add("has-detail");
      return [row, serverDetail(server)];
    });
    $("servers").replaceChildren(...rows);
    // What kv servers advises (a repair to run, the servers' k problem), as it says it.
    const advice = $("servers-advice");
    advice.textContent = servers.advice ?? "";
    advice.hidden = servers.advice === undefined;
    const badge = $("health");
    // /healthz's unrepaired counts every server up but not trusted, whatever the reason.
    const unrepaired = health.unrepaired > 0 ? ` (${health.unrepaired} not trusted)` : "";
    badge.textContent = healthStatus === 200
      ? `healthy: ${health.up} of ${health.servers} up${unrepaired}, k=${health.replicas}`
      : `degraded: ${health.up} of ${health.servers} up${unrepaired}, k=${health.replicas}`;
    badge.className = `badge ${healthStatus === 200 ? "ok" : "bad"}`;
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $("health").textContent = error.message;
    $("health").className = "badge bad";
  }
}

// ---- Key browser -----------------------------------------------------------

let pageAfter = "";
let nextAfter = "";
/**
 * The `after` of each page before the one shown, the first's "" at the bottom: Previous goes
 * back through them (with First and Next only, page 5 of 6 was four pages from page 4).
 */
let pagesBefore = [];
/** Numbers key list requests, so an answer that arrives after a newer request's is dropped. */
let keysRequest = 0;

/** Shows the page of keys after `after`, with `before` the pages before it (none: the first). */
async function loadKeys(after, before = []) {
  // Keys and prefixes are taken character for character, as every kv client takes them:
  // trimmed, "victim " would act on the record "victim".
  const prefix = $("prefix").value;
  const query = new URLSearchParams({ prefix, limit: String(PAGE_SIZE) });
  if (after) query.set("after", after);
  const request = ++keysRequest;
  const { status, data } = await api("GET", `/v1/keys?${query}`);
  if (request !== keysRequest) return;
  if (status !== 200) {
    $("keys-note").textContent = data.error;
    $("keys-note").className = "error";
    return;
  }
  pageAfter = after;
  pagesBefore = before;
  $("previous-page").disabled = before.length === 0;
  const items = data.keys.map((key) => {
    const item = element("li", { "data-key": key }, shownKey(key));
    item.addEventListener("click", () => showRecord(key));
    return item;
  });
  $("keys").replaceChildren(...items);
  nextAfter = data.more ? data.keys.at(-1) : "";
  $("next-page").disabled = !data.more;
  $("keys-note").className = data.warning ? "warning" : "muted";
  $("keys-note").textContent = data.warning ?? keysNote(data.keys.length, prefix, after);
}

/** What a page of `count` keys under `prefix` (after the key `after`) says of itself. */
function keysNote(count, prefix, after) {
  if (count === 1) return "1 key";
  if (count > 1) return `${count} keys`;
  if (after) return "no more keys";
  if (prefix === "") return "no keys stored";
  // Quoted as a key is shown: a prefix with a hidden character in JSON's escapes.
  const shown = HIDDEN_IN_TEXT.test(prefix) ? shownKey(prefix) : `'${prefix}'`;
  return `no keys start with ${shown}`;
}

// ---- Record viewer ---------------------------------------------------------

function tree(value) {
  if (value instanceof Float) {
    return element("span", { class: "float", title: "float" }, value.source);
  }
  if (typeof value === "number") {
    return element("span", { class: "int", title: "int" }, String(value));
  }
  if (typeof value === "string") {
    return element("span", { class: "string", title: "string" }, JSON.stringify(value));
  }
  const list = element("ul");
  for (const [name, field] of Object.entries(value)) {
    list.append(element("li", {}, element("span", { class: "name" }, name), " : ", tree(field)));
  }
  return list;
}

/** `value` as JSON text, its floats as the API sent them (`2.0`, not `2`). */
function jsonText(value, indent) {
  return JSON.stringify(
    value,
    (_name, field) => field instanceof Float ? JSON.rawJSON(field.source) : field,
    indent,
  );
}

/** A leaf a QUERY ran into is shown cut to this many characters, as the REPL cuts it. */
const MAX_SHOWN_LEAF_CHARACTERS = 40;

/**
 * What a 404 entry misses, in the REPL's words: its key, or for a QUERY, `no record person9`,
 * `person1.address has no field stret (did you mean street?)` or `person1.age is 22, not an
 * object`.
 */
function missingText(entry) {
  const missing = entry.missing;
  if (!missing) return shownKey(entry.key ?? "");
  if (missing.reason === "no-record") return `no record ${shownKey(entry.key)}`;
  const names = missing.path.map(shownKey);
  if (missing.reason === "not-object") {
    const shown = jsonText(missing.value);
    const cut = shown.length <= MAX_SHOWN_LEAF_CHARACTERS
      ? shown
      : `${shown.slice(0, MAX_SHOWN_LEAF_CHARACTERS - 1)}…`;
    return `${names.join(".")} is ${cut}, not an object`;
  }
  const hint = missing.closest === undefined ? "" : ` (did you mean ${shownKey(missing.closest)}?)`;
  return `${names.slice(0, -1).join(".")} has no field ${names.at(-1)}${hint}`;
}

/** The key of the whole record shown, if one is (not a QUERY's value): writes to it reload it. */
let shownRecordKey;

function showEntry(entry, status) {
  const head = $("record-head");
  shownRecordKey = status === 200 && !entry.path ? entry.key : undefined;
  if (status === 200) {
    const where = entry.path ? entry.path.map(shownKey).join(".") : shownKey(entry.key);
    head.textContent = `${where} — version ${entry.version}`;
    head.className = "";
    $("record-tree").replaceChildren(element("div", { class: "tree" }, tree(entry.value)));
    if (!entry.path) $("record-tree").prepend(editButton(entry));
  } else {
    // A 503 read (too few of the key's servers answered to say it is absent) has no
    // error, only its warning, shown below.
    const error = entry.error ?? `cannot tell whether ${entry.key} exists`;
    head.textContent = status === 404 ? `NOT FOUND: ${missingText(entry)}` : `ERROR: ${error}`;
    head.className = status === 404 ? "warning" : "error";
    $("record-tree").replaceChildren();
  }
  if (entry.warning) {
    $("record-tree").append(element("p", { class: "warning" }, `WARNING: ${entry.warning}`));
  }
}

/**
 * Numbers record reads (a key clicked, a GET or QUERY run), so that an answer arriving after
 * a newer read's is dropped: on a slow cluster the record clicked first showed up under the
 * key clicked last, and its replicas' list was added to the other record's.
 */
let recordRequest = 0;

/**
 * A button that puts the record in the PUT form, its value as JSON with floats as sent, to
 * edit and run: there was no way to change a record but typing its whole value again.
 */
function editButton(entry) {
  const button = element("button", { type: "button", id: "edit-record" }, "Edit");
  button.addEventListener("click", () => {
    $("op").value = "PUT";
    $("target").value = entry.key;
    $("body").value = jsonText(entry.value, 2);
    $("body").rows = Math.min(20, $("body").value.split("\n").length);
    $("body").focus();
  });
  return button;
}

async function showRecord(key) {
  for (const item of $("keys").children) {
    item.classList.toggle("selected", item.dataset.key === key);
  }
  const request = ++recordRequest;
  const { status, data } = await api("GET", `/v1/records/${encodeURIComponent(key)}`);
  if (request !== recordRequest) return;
  showEntry(data, status);
  await showReplicas(key, request);
}

/** Each replica's copy, read on its own: whether they agree (unless a newer read began). */
async function showReplicas(key, request) {
  const { status, data } = await api("GET", `/v1/records/${encodeURIComponent(key)}?replicas=true`);
  if (status !== 200 || request !== recordRequest) return;
  const states = data.replicas.map((copy) =>
    element(
      "li",
      { "data-replica": copy.server, "data-state": copy.state },
      copy.version === undefined
        ? `${copy.server}: ${copy.state}`
        : `${copy.server}: ${copy.state} at version ${copy.version}`,
    )
  );
  const answered = data.replicas.filter((copy) => copy.state !== "unreachable").length;
  const total = data.replicas.length;
  const text = answered === 0
    ? "no replica answered"
    : !data.agree
    ? "replicas DISAGREE"
    : answered < total
    ? `the replicas that answered agree (${answered} of ${total})`
    : "replicas agree";
  const verdict = element(
    "p",
    { id: "replicas-verdict", class: data.agree && answered === total ? "state-up" : "warning" },
    text,
  );
  $("record-tree").append(verdict, element("ul", { class: "replicas muted" }, ...states));
}

// ---- Commands --------------------------------------------------------------

function recordPath(target) {
  return target.split(".").map(encodeURIComponent).join("/");
}

async function runCommand(event) {
  event.preventDefault();
  const op = $("op").value;
  const target = $("target").value;
  let result;
  if (op === "GET" || op === "QUERY") {
    const request = ++recordRequest;
    result = await api(
      "GET",
      `/v1/records/${op === "GET" ? encodeURIComponent(target) : recordPath(target)}`,
    );
    if (request === recordRequest) showEntry(result.data, result.status);
    if (op === "GET" && result.status === 200) await showReplicas(target, request);
  } else if (op === "PUT") {
    result = await api("PUT", `/v1/records/${encodeURIComponent(target)}`, $("body").value);
  } else {
    result = await api("DELETE", `/v1/records/${encodeURIComponent(target)}`);
  }
  $("answer").textContent = `${result.status} ${jsonText(result.data, 2)}`;
  if (op !== "PUT" && op !== "DELETE") return;
  loadKeys(pageAfter, pagesBefore);
  // The record shown, written or deleted: shown as it now is, not as it was.
  if (target === shownRecordKey) await showRecord(target);
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token-form").hidden = true;
  refreshServers();
  loadKeys("");
});
$("key-search").addEventListener("submit", (event) => {
  event.preventDefault();
  loadKeys("");
});
$("first-page").addEventListener("click", () => loadKeys(""));
$("previous-page").addEventListener(
  "click",
  () => loadKeys(pagesBefore.at(-1), pagesBefore.slice(0, -1)),
);
$("next-page").addEventListener("click", () => loadKeys(nextAfter, [...pagesBefore, pageAfter]));
$("command").addEventListener("submit", runCommand);

refreshServers();
setInterval(refreshServers, REFRESH_MS);
loadKeys("");
