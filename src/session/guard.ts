/**
 * The guard for signed-in routes.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";

/** Options of {@linkcode requireSession}. */
export interface RequireSessionOptions {
  /**
   * Builds the refusal for a request without a live session, say a redirect to the sign-in page.
   * Default: `401` with a plain-text body.
   */
  onUnauthenticated?: (c: Context) => Response | Promise<Response>;
}

/**
 * Lets a request through only with a live session (the `session` variable that
 * `sessionMiddleware` sets). Every response it guards, refusals included, gets
 * `Cache-Control: no-store`, so neither a shared cache nor the back button after sign-out shows
 * a signed-in page (ASVS 4.0.3 3.3.1).
 *
 * @throws {TypeError} when `onUnauthenticated` is given and is not a function (at creation)
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { requireSession, sessionMiddleware } from "@kvsession/hono";
 *
 * const kv = await Deno.openKv(":memory:");
 * const app = new Hono()
 *   .use(sessionMiddleware({ kv }))
 *   .get("/account", requireSession(), (c) => c.text("secret"));
 * const res = await app.request("http://localhost/account");
 * strictEqual(res.status, 401);
 * strictEqual(res.headers.get("Cache-Control"), "no-store");
 * await res.body?.cancel();
 * kv.close();
 * ```
 */
export function requireSession(options: RequireSessionOptions = {}): MiddlewareHandler {
  const { onUnauthenticated } = options;
  if (onUnauthenticated !== undefined && typeof onUnauthenticated !== "function") {
    throw new TypeError(
      `Cannot create session guard: option "onUnauthenticated" must be a function, got a value of type ${typeof onUnauthenticated}`,
    );
  }
  return async function requireSession(c, next) {
    if (!c.get("session")) {
      const refusal = onUnauthenticated === undefined
        ? c.text("Sign-in required", 401)
        : await onUnauthenticated(c);
      c.res = refusal;
      c.header("Cache-Control", "no-store");
      return c.res;
    }
    // Before the handler: setting a header on the finished response makes Hono copy it.
    c.header("Cache-Control", "no-store");
    await next();
    // After it only when needed, so a Cache-Control the handler set (or a response it built
    // itself) cannot make a signed-in page cacheable.
    if (c.res.headers.get("Cache-Control") !== "no-store") c.header("Cache-Control", "no-store");
  };
}
