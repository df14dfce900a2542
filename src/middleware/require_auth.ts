/**
 * Guards signed-in areas: pages redirect to the sign-in page, `/api/` answers 401 JSON.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";

/**
 * Lets the request through only with a live session (set by `loadSession`); signed-in pages
 * are never stored by caches, so the back button after sign-out cannot show them.
 */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return function requireAuth(c, next) {
    if (c.get("session") === null || c.get("user") === null) {
      c.header("Cache-Control", "no-store");
      if (c.req.path.startsWith("/api/")) {
        return Promise.resolve(
          c.json({ error: "unauthorized", message: "Sign in to use this endpoint." }, 401),
        );
      }
      const url = new URL(c.req.url);
      const next = c.req.method === "GET" ? url.pathname + url.search : "/dashboard";
      return Promise.resolve(c.redirect(`/login?next=${encodeURIComponent(next)}`, 303));
    }
    c.header("Cache-Control", "no-store");
    return next();
  };
}
