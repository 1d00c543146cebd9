/**
 * Makes the README's screenshot of the web console (docs/console.png): four
 * servers with k=2, sample records from `kv gen`, one server killed, one
 * record open.
 *
 *     deno run -A tests/measure/console_screenshot.ts [docs/console.png]
 */
import { connect } from "../../mod.ts";
import { launchChromium } from "../helpers/browser.ts";
import { HttpProcess } from "../helpers/http_process.ts";
import { KvCluster } from "../helpers/kv_processes.ts";
import { runKv } from "../helpers/run_kv.ts";

const output = Deno.args[0] ?? "docs/console.png";
await using cluster = await KvCluster.start(4);
const generated = await runKv(["gen", "-k", "keyFile.txt", "-n", "200", "--seed", "7", "-o", "-"]);
const index = await runKv(["broker", "-s", cluster.serverFile, "-k", "2", "-i", "-"], {
  stdin: generated.stdout,
});
if (index.code !== 0) throw new Error(`indexing failed: ${index.stderr}`);
{
  await using kv = await connect({ servers: cluster.serverFile, replicas: 2 });
  await kv.put("person1", {
    name: "Mary",
    age: 22,
    height: 1.75,
    address: { street: "Main", number: 3 },
  });
}
await using http = await HttpProcess.start(["-s", cluster.serverFile, "-k", "2"]);
await cluster.servers[2].kill();
await using browser = await launchChromium();
const page = await browser.page(1400, 760);
await page.goto(http.url);
await page.waitForFunction(
  `document.querySelectorAll('#servers tr[data-state="down"]').length === 1`,
);
await page.type("#prefix", "person1");
await page.click("#key-search button");
await page.waitForFunction(`document.querySelector("#keys li")?.dataset.key === "person1"`);
await page.click('#keys li[data-key="person1"]');
await page.waitForFunction(`document.querySelector("#record-tree .tree") !== null`);
await page.screenshot({ path: output });
console.log(`wrote ${output}`);
