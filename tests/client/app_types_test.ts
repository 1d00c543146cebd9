/**
 * What an application's own TypeScript types meet in the library's, as the README's
 * "Values" list says: a record shape declared with `type` is a `KvValue`, one declared with
 * `interface` is not (no implicit index signature); a read's value is narrowed or cast.
 * The compile-time half is checked by `deno task check` (`@ts-expect-error` fails it
 * once the line type-checks); the test runs the same values through real servers.
 */
import assert from "node:assert/strict";
import { Kv } from "../../mod.ts";
import { KvCluster } from "../helpers/kv_processes.ts";

/** A record's shape as an application declares it, with `type`: a KvValue. */
type PersonType = { name: string; age?: number; address?: { street: string } };

/** The same shape declared with `interface`: not a KvValue (no index signature). */
interface PersonInterface {
  name: string;
  age?: number;
}

/** Never called: the compile-time half. */
function _interfaceIsRefused(kv: Kv, person: PersonInterface): void {
  // @ts-expect-error: an interface has no index signature, so it is not a KvObject.
  void kv.put("person1", person);
  // Spreading it makes an object type without a name, which has one.
  void kv.put("person1", { ...person });
}

Deno.test("a record shape declared with type is put and read back, cast to the program's type", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  const mary: PersonType = { name: "Mary", address: { street: "Main" } };
  await kv.put("person1", mary);
  const { value } = await kv.get("person1");
  assert.ok(value !== null && typeof value === "object", "the record is an object");
  const read = value as unknown as PersonType;
  assert.deepEqual(read, mary);
});

Deno.test("the Kv class an application sees has no static way in but connect (Kv.open was one, with kv http's repairCommand)", () => {
  assert.deepEqual(Object.getOwnPropertyNames(Kv).sort(), ["length", "name", "prototype"]);
});
