/**
 * The paths `kv http` serves and the methods each takes: one table that the router
 * (api.ts) and the OpenAPI document (openapi.ts) both read, so the document cannot list a
 * route the server does not serve, nor miss one, nor disagree on a method.
 *
 * @example
 * ```ts
 * import { ROUTES } from "./routes.ts";
 * ROUTES["/v1/records/{key}"]; // ["GET", "PUT", "DELETE"]
 * ```
 * @module
 */

/** An HTTP method a route takes (HEAD is taken wherever GET is, answered as GET). */
export type RouteMethod = "GET" | "PUT" | "DELETE";

/** Every path served, as an OpenAPI path template, and the methods it takes. */
export const ROUTES: Readonly<Record<string, readonly RouteMethod[]>> = {
  "/v1/records/{key}": ["GET", "PUT", "DELETE"],
  "/v1/records/{key}/{fields}": ["GET"],
  "/v1/keys": ["GET"],
  "/v1/servers": ["GET"],
  "/healthz": ["GET"],
  "/metrics": ["GET"],
  "/v1/openapi.json": ["GET"],
  "/": ["GET"],
  "/console.js": ["GET"],
  "/console.css": ["GET"],
};

/**
 * The query parameters each path's GET takes: a request with another is a 400, as a typo
 * (`replica=true`) would otherwise be a plain GET. Paths not listed take none; the
 * console's files are not checked (a link may carry parameters of its own).
 */
export const QUERY_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  "/v1/records/{key}": ["replicas"],
  "/v1/keys": ["prefix", "limit", "after"],
};

/** Paths served without a token: the console's files (whose page then asks for one) and health. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  "/",
  "/console.js",
  "/console.css",
  "/healthz",
]);

/**
 * The methods a route taking `methods` allows, as an `Allow` header lists them: HEAD
 * after GET (RFC 9110 9.3.2: HEAD is GET without the body).
 *
 * @example
 * ```ts
 * allowedMethods(["GET", "PUT"]); // ["GET", "HEAD", "PUT"]
 * ```
 */
export function allowedMethods(methods: readonly RouteMethod[]): string[] {
  return methods.flatMap((name) => name === "GET" ? ["GET", "HEAD"] : [name]);
}
