/**
 * Checks of what a JavaScript caller hands the library's public entry points, where
 * TypeScript's types do not reach: an options object that is missing or not an object, a
 * misspelled option (which would otherwise silently take its default), a path that is not
 * a non-empty string. Each mistake is a KvInputError saying what was expected and what came.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./arguments.ts";
 * checkOptions({ prefix: "p" }, "keys", ["prefix", "limit", "after"], { required: false }); // fine
 * checkOptions({ prefx: "p" }, "keys", ["prefix", "limit", "after"], { required: false });
 * // throws KvInputError: keys has no option 'prefx'; its options are prefix, limit, after
 * ```
 * @module
 */
import { KvInputError } from "./errors.ts";

/**
 * What `input` is, for a message saying what came instead of what was expected:
 * `undefined`, `null`, `an array`, `an object`, `a Date`, `a number (5)`, `a function (greet)`
 * (by its name).
 *
 * @example
 * ```ts
 * describeArgument(5); // "a number (5)"
 * describeArgument([1]); // "an array"
 * ```
 */
export function describeArgument(input: unknown): string {
  if (input === null || input === undefined) return String(input);
  if (Array.isArray(input)) return "an array";
  if (typeof input === "object") {
    const name = input.constructor?.name;
    return name === undefined || name === "Object" ? "an object" : `a ${name}`;
  }
  if (typeof input === "string") return `a string (${JSON.stringify(input)})`;
  // By name: String() of a function is its whole source, which a message would then hold.
  if (typeof input === "function") {
    return input.name === "" ? "a function" : `a function (${input.name})`;
  }
  return `a ${typeof input} (${String(input)})`;
}

/**
 * Throws a KvInputError unless `options` is an object whose own names are all among
 * `names` (`undefined` passes too when not `required`): `call` names the entry point.
 *
 * @example
 * ```ts
 * checkOptions(undefined, "connect", ["servers"], { required: true });
 * // throws KvInputError: connect takes an options object ({ servers, … }), got undefined
 * ```
 */
export function checkOptions(
  options: unknown,
  call: string,
  names: readonly string[],
  { required }: { required: boolean },
): void {
  if (options === undefined && !required) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new KvInputError(
      `${call} takes an options object ({ ${names.join(", ")} }), got ${describeArgument(options)}`,
    );
  }
  const unknown = Object.keys(options).find((name) => !names.includes(name));
  if (unknown !== undefined) {
    throw new KvInputError(
      `${call} has no option '${unknown}'; its options are ${names.join(", ")}`,
    );
  }
}

/**
 * Throws a KvInputError unless `path` is undefined or a non-empty string: a file's path
 * in option `what`.
 *
 * @example
 * ```ts
 * checkFilePath("kv.auth", "authFile"); // fine
 * checkFilePath(5, "authFile"); // throws KvInputError: authFile must be a file's path, got a number (5)
 * ```
 */
export function checkFilePath(path: unknown, what: string): asserts path is string | undefined {
  if (path === undefined || (typeof path === "string" && path !== "")) return;
  throw new KvInputError(`${what} must be a file's path, got ${describeArgument(path)}`);
}
