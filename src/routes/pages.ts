/**
 * The start page and the dashboard.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../app_env.ts";
import { countItems } from "../cart.ts";
import { requireAuth } from "../middleware/require_auth.ts";
import { expiresAt } from "@kvsession/hono";
import { dashboardPage } from "../views/dashboard.ts";

/** `GET /` and `GET /dashboard`. */
export function pageRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/", (c) => c.redirect(c.get("user") ? "/dashboard" : "/login", 303));
  routes.get("/dashboard", requireAuth(), (c) => {
    const session = c.get("session")!;
    return c.html(dashboardPage(
      { user: session.data.user, flash: c.get("flash") },
      { cartItems: countItems(session.data.cart), sessionExpiresAt: expiresAt(session) },
    ));
  });
  return routes;
}
