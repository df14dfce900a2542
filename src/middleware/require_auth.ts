/**
 * Guards signed-in areas: pages redirect to the sign-in page, `/api/` answers 401 JSON.
 *
 * @module
 */
import { requireSession } from "@kvsession/hono";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";

/**
 * Lets the request through only with a live session: the package's guard, which also keeps
 * signed-in pages (and the refusals) out of caches, with the shop's own refusals.
 */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return requireSession({ onUnauthenticated: refuse });
}

function refuse(c: Context): Response {
  if (c.req.path.startsWith("/api/")) {
    return c.json({ error: "unauthorized", message: "Sign in to use this endpoint." }, 401);
  }
  const url = new URL(c.req.url);
  // Only a page can be returned to: after a POST, the dashboard is the safe landing place.
  const next = c.req.method === "GET" ? url.pathname + url.search : "/dashboard";
  return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
}
