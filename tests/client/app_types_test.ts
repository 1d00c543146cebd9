/**
 * What an application's own TypeScript types meet in the library's, as the README's
 * "Values" list says: `put` takes a record shape declared with `interface` as well as with
 * `type`, its fields that may be `undefined` too (left out when they hold it, as
 * `JSON.stringify` leaves them out), and refuses at compile time the parts kv cannot store
 * (`KvStorable`); `get<T>`,
 * `query<T>`, `list<T>` and `decode<T>` answer the type asked for, unchecked, and without a
 * type argument type as they did before they took one. The compile-time half is checked by
 * `deno task check` (`@ts-expect-error` fails it once its line type-checks; `sameType` fails
 * it when the types differ); the tests run the same values through real servers, and check
 * that what the compiler refuses the runtime refuses too.
 */
import assert from "node:assert/strict";
import {
  Float,
  Kv,
  type KvBytesEntry,
  type KvEntry,
  KvInputError,
  type KvListEntry,
  type KvObject,
  type KvQueryEntry,
  type KvStorable,
  type KvValue,
} from "../../mod.ts";
import { KvCluster } from "../helpers/kv_processes.ts";

/** A record's shape as an application declares it, with `interface`. */
interface Person {
  name: string;
  age?: number;
  readonly height?: Float;
  address?: Address;
}

/** A nested shape, an interface too. */
interface Address {
  street: string;
  number: number;
}

/**
 * A form's fields as an application fills them in: absent, optional holding `undefined`
 * (`{ ...form, nick: form.nick || undefined }`), or declared `T | undefined`.
 */
interface Profile {
  name: string;
  nick?: string;
  email: string | undefined;
  address?: { street: string; number?: number; zip: string | undefined };
}

/** The same shape declared with `type`, which was the only one `put` took. */
type PersonType = { name: string; age?: number; address?: { street: string } };

/** Shapes holding what kv does not store, each refused by the compiler and the runtime. */
interface WithBoolean {
  name: string;
  admin: boolean;
}
interface WithArray {
  tags: string[];
}
interface WithMethod {
  name: string;
  greet(): string;
}
interface WithNull {
  name: string | null;
}
interface WithMaybeBoolean {
  admin?: boolean;
}
interface WithNullOrUndefined {
  name: string | null | undefined;
}
interface WithDate {
  born: Date;
}
interface DeepBoolean {
  address: { street: string; verified: boolean };
}
/** A shape of data whose fields happen to be those of JavaScript's Error. */
interface ChatMessage {
  name: string;
  message: string;
}

/** One value of each refused shape: the compiler's and the runtime's cases are the same. */
const withBoolean: WithBoolean = { name: "Mary", admin: false };
const withArray: WithArray = { tags: ["a"] };
const withMethod: WithMethod = { name: "Mary", greet: () => "hi" };
const withNull: WithNull = { name: null };
const withMaybeBoolean: WithMaybeBoolean = { admin: true };
const withNullOrUndefined: WithNullOrUndefined = { name: null };
const withDate: WithDate = { born: new Date(0) };
const deepBoolean: DeepBoolean = { address: { street: "Main", verified: true } };

/** `true` exactly when `A` and `B` are the same type (not only assignable each way). */
type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true
  : false;

/** Compiles only when `A` and `B` are the same type. */
function sameType<A, B>(_proof: Same<A, B>): void {}

/** Never called: what put takes, refuses, and what reads answer, at compile time. */
async function _compileTime(
  kv: Kv,
  person: Person,
  profile: Profile,
  stored: KvValue,
  object: KvObject,
  maybe: Person | undefined,
) {
  await kv.put("person1", person);
  await kv.put("profile1", profile);
  await kv.put("profile1", { name: "Mary", email: undefined } satisfies Profile);
  await kv.put("person1", { name: "Mary", age: undefined });
  await kv.put("person1", { name: "Mary", age: person.age || undefined });
  await kv.put("person1", {} as Record<string, string | undefined>);
  await kv.put("person1", { name: "Mary", address: { street: "Main", number: 3 } });
  await kv.put("person1", { name: "Mary", height: new Float(2) } satisfies Person);
  await kv.put("person1", { name: "Mary" } as PersonType);
  await kv.put("person1", stored);
  await kv.put("person1", object);
  await kv.put("person1", "a string");
  await kv.put("person1", 22);
  await kv.put("person1", JSON.parse("{}"));

  // @ts-expect-error: a boolean field.
  await kv.put("person1", withBoolean);
  // @ts-expect-error: an array field.
  await kv.put("person1", withArray);
  // @ts-expect-error: a method (so Date, Map and other built-in objects too).
  await kv.put("person1", withMethod);
  // @ts-expect-error: a field that may be null.
  await kv.put("person1", withNull);
  // @ts-expect-error: a field that may be undefined, or else a boolean.
  await kv.put("person1", withMaybeBoolean);
  // @ts-expect-error: a field that may be undefined, or else null.
  await kv.put("person1", withNullOrUndefined);
  // @ts-expect-error: a Date field.
  await kv.put("person1", withDate);
  // @ts-expect-error: a boolean two levels down.
  await kv.put("person1", deepBoolean);
  // @ts-expect-error: a literal's boolean, as before.
  await kv.put("person1", { name: "Mary", admin: true });
  // @ts-expect-error: a literal's field that is null, beside one that is undefined.
  await kv.put("person1", { name: null, age: undefined });
  // @ts-expect-error: null.
  await kv.put("person1", null);
  // @ts-expect-error: undefined.
  await kv.put("person1", undefined);
  // @ts-expect-error: a value that may be undefined (a field may, the value may not).
  await kv.put("person1", maybe);
  // @ts-expect-error: a boolean.
  await kv.put("person1", true);
  // @ts-expect-error: an array.
  await kv.put("person1", ["Mary"]);
  // @ts-expect-error: a bigint.
  await kv.put("person1", 22n);
  // @ts-expect-error: a function.
  await kv.put("person1", () => "Mary");
  // @ts-expect-error: unknown.
  await kv.put("person1", JSON.parse("{}") as unknown);
  // @ts-expect-error: a map of unknowns.
  await kv.put("person1", {} as Record<string, unknown>);

  // JavaScript's own objects are refused whole, so the compiler's error names the field
  // ("Type 'Date' is not assignable to type 'never'"), not the first of its 44 methods.
  sameType<KvStorable<WithDate>, { born: never }>(true);
  // An interface of the program's own with Error's fields (a chat message's name and text)
  // is data like any other: no JavaScript object's type is taken for it.
  await kv.put("message1", {} as ChatMessage);
  sameType<KvStorable<ChatMessage>, { name: string; message: string }>(true);
  // @ts-expect-error: an Error itself is still refused, by its cause (unknown).
  await kv.put("error1", { failure: new Error("x") });
  sameType<KvStorable<{ seen: Map<string, number>; raw: Uint8Array }>, {
    seen: never;
    raw: never;
  }>(true);

  // Without a type argument every read types as before: a KvValue.
  const entry = await kv.get("person1");
  sameType<typeof entry, KvEntry<KvValue>>(true);
  sameType<typeof entry.value, KvValue | null>(true);
  const field = await kv.query("person1.age");
  sameType<typeof field, KvQueryEntry<KvValue>>(true);
  // A listed record exists: its value and version are never null, as Deno KV's list entries.
  for await (const listed of kv.list()) sameType<typeof listed, KvListEntry<KvValue>>(true);
  const decoded = kv.decode(new Uint8Array());
  sameType<typeof decoded, KvValue>(true);
  // Nor does the type an answer is put into choose it (kv bench's reads did).
  const either: KvEntry | KvBytesEntry = await kv.get("person1");
  void either;

  // With one, the value is of the type asked for.
  const { value: read } = await kv.get<Person>("person1");
  sameType<typeof read, Person | null>(true);
  const { value: street } = await kv.query<string>(["person1", "address", "street"]);
  sameType<typeof street, string | null>(true);
  for await (const { value, version } of kv.list<Person>({ prefix: "person" })) {
    sameType<typeof value, Person>(true);
    sameType<typeof version, string>(true);
  }
  const decodedPerson = kv.decode<Person>(new Uint8Array());
  sameType<typeof decodedPerson, Person>(true);

  // A program's generic over KvValue passes its values on, as before.
  const save = <V extends KvValue>(value: V) => kv.put("person1", value);
  await save(person as unknown as KvObject);
}

/** `put` past the compiler: what it refuses, as a JavaScript caller could pass it. */
function putUnchecked(kv: Kv, key: string, value: unknown) {
  return kv.put(key, value as KvValue);
}

Deno.test("a record shape declared with interface is put, and read back as the type asked for", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect({ floats: "tagged" });
  const mary: Person = {
    name: "Mary",
    height: new Float(1.75),
    address: { street: "Main", number: 3 },
  };
  await kv.put("person1", mary);
  const { value } = await kv.get<Person>("person1");
  assert.deepEqual(value, mary);
  assert.equal((await kv.query<number>("person1.address.number")).value, 3);
  const listed = await Array.fromAsync(kv.list<Person>({ prefix: "person" }));
  assert.deepEqual(listed.map((entry) => entry.value.name), ["Mary"]);
  const { value: bytes } = await kv.getBytes("person1");
  assert.ok(bytes !== null);
  assert.deepEqual(kv.decode<Person>(bytes), mary);
});

Deno.test("a field holding undefined is stored absent, as JSON.stringify leaves it out, and reads back without it", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  const form = { name: "Mary", nick: "" };
  const profile: Profile = {
    ...form,
    nick: form.nick || undefined,
    email: undefined,
    address: { street: "Main", number: undefined, zip: undefined },
  };
  await kv.put("profile1", profile);
  const { value } = await kv.get<Profile>("profile1");
  assert.deepEqual(value, { name: "Mary", address: { street: "Main" } });
  assert.deepEqual(value, JSON.parse(JSON.stringify(profile)));
  assert.ok(value !== null && !("nick" in value) && !("email" in value));
  assert.equal((await kv.query("profile1.nick")).value, null);
  // Every field undefined: an empty object, not a refusal.
  await kv.put("profile2", { nick: undefined });
  assert.deepEqual((await kv.get("profile2")).value, {});
});

Deno.test("what the compiler refuses put, the runtime refuses too; a class instance only the runtime can", async () => {
  await using cluster = await KvCluster.start(1);
  await using kv = await cluster.connect();
  class Point {
    x = 1;
  }
  const refused: [unknown, RegExp][] = [
    [withBoolean, /^value\.admin is /],
    [withArray, /^value\.tags is /],
    [withMethod, /^value\.greet is /],
    [withNull, /^value\.name is /],
    [withMaybeBoolean, /^value\.admin is /],
    [withNullOrUndefined, /^value\.name is /],
    [withDate, /^value\.born is /],
    [deepBoolean, /^value\.address\.verified is /],
    [null, /^value is /],
    [true, /^value is /],
    [["Mary"], /^value is /],
    [22n, /^value is /],
    [undefined, /^value is undefined;/],
    // Taken by the compiler: a class's instance has a plain object's type.
    [new Point(), /^value is /],
  ];
  for (const [value, message] of refused) {
    await assert.rejects(putUnchecked(kv, "person1", value), (error: unknown) => {
      assert.ok(error instanceof KvInputError, `${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.equal((await kv.get("person1")).value, null, "nothing was stored");
});

Deno.test("the Kv class an application sees has no static way in but connect (Kv.open was one, with kv http's repairCommand)", () => {
  assert.deepEqual(Object.getOwnPropertyNames(Kv).sort(), ["length", "name", "prototype"]);
});
