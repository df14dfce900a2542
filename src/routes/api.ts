/**
 * The JSON API: the signed-in user and the cart. Same session cookie, same CSRF rule.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppEnv } from "../app_env.ts";
import { requireAuth } from "../middleware/require_auth.ts";
import type { Services } from "../services.ts";
import { readJsonObject } from "./request_body.ts";
import { addProductToCart } from "./shop.ts";

/** `GET /api/me`, `GET /api/cart`, `POST /api/cart`; mount under `/api`. */
export function apiRoutes(services: Services): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use("*", requireAuth());

  routes.get("/me", (c) => {
    const { id, username, displayName } = c.get("user")!;
    return c.json({ id, username, displayName });
  });

  routes.get("/cart", (c) => c.json({ items: c.get("session")!.data.cart }));

  routes.post("/cart", async (c) => {
    const body = await readJsonObject(c);
    const cart = await addProductToCart(
      services,
      { token: c.get("sessionToken"), read: c.get("sessionRead") },
      body.productId,
      body.quantity,
    );
    return c.json({ items: cart });
  });

  return routes;
}
