/**
 * An object with some of its members replaced, for a test that makes a connection slow, a
 * store's commit fail or a listener's accept refuse, in one respect and no other.
 *
 * @example
 * ```ts ignore
 * const refusing = overridden(listener, { accept: () => Promise.reject(new Error("EMFILE")) });
 * const renamed = overridden(connection, { get serverId() { return "other"; } });
 * ```
 * @module
 */

/**
 * `target` with the members `overrides` has of its own in their place (a getter is read at
 * each access). Every other member is target's own, its methods bound to it: they may use
 * private fields, which a proxy does not have.
 */
export function overridden<T extends object>(target: T, overrides: NoInfer<Partial<T>>): T {
  return new Proxy(target, {
    get: (inner, property) => {
      if (Object.hasOwn(overrides, property)) return Reflect.get(overrides, property);
      const member = Reflect.get(inner, property, inner);
      return typeof member === "function" ? member.bind(inner) : member;
    },
  });
}
