/**
 * Products and the cart kept in the session.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv, AppSessionData, CartLine } from "../app_env.ts";
import { addToCart, CartLimitError, parseQuantity, removeFromCart } from "../cart.ts";
import { requireAuth } from "../middleware/require_auth.ts";
import type { ProductCatalogue } from "../products.ts";
import type { Services } from "../services.ts";
import type { SessionRead } from "@kvsession/hono";
import { cartPage, type CartRow } from "../views/cart.ts";
import { productsPage } from "../views/products.ts";
import { readForm } from "./request_body.ts";

/**
 * Adds a product to the session's cart under the store's atomic update (no lost additions),
 * optionally with a flash message in the same commit. Returns the new cart.
 *
 * @throws {HTTPException} 400 for an unknown product or a bad quantity, 409 over the cart limits,
 *   401 when the session ended meanwhile
 */
export async function addProductToCart(
  services: Pick<Services, "sessions" | "catalogue">,
  current: { token: string | undefined; read: SessionRead<AppSessionData> | undefined },
  productId: unknown,
  rawQuantity: unknown,
  options: { flash?: boolean } = {},
): Promise<CartLine[]> {
  const product = typeof productId === "string" ? await services.catalogue.get(productId) : null;
  if (product === null) throw new HTTPException(400, { message: "There is no such product." });
  const quantity = parseQuantity(rawQuantity);
  if (quantity === null) {
    throw new HTTPException(400, { message: "Quantity must be a whole number from 1 to 99." });
  }
  let session;
  try {
    session = await services.sessions.update(
      current.token,
      (data) => ({ ...data, cart: addToCart(data.cart, product.id, quantity) }),
      {
        // The session loaded for this request spares the update its first read.
        basis: current.read,
        flash: options.flash
          ? { kind: "info", text: `Added ${quantity} × ${product.name} to your cart.` }
          : undefined,
      },
    );
  } catch (error) {
    if (error instanceof CartLimitError) throw new HTTPException(409, { message: error.message });
    throw error;
  }
  if (session === null) throw new HTTPException(401, { message: "Your session has ended." });
  return session.data.cart;
}

/** Joins cart lines with products and totals them; lines whose product vanished are skipped. */
export async function cartRows(
  catalogue: ProductCatalogue,
  cart: readonly CartLine[],
): Promise<{ rows: CartRow[]; totalCents: number }> {
  const products = await catalogue.getMany(cart.map((line) => line.productId));
  const rows: CartRow[] = [];
  for (const line of cart) {
    const product = products.get(line.productId);
    if (product !== undefined) rows.push({ product, quantity: line.quantity });
  }
  const totalCents = rows.reduce((sum, row) => sum + row.product.priceCents * row.quantity, 0);
  return { rows, totalCents };
}

/** `GET /products`, `GET /cart`, `POST /cart`, `POST /cart/remove`. */
export function shopRoutes(services: Services): Hono<AppEnv> {
  const { sessions, catalogue } = services;
  const routes = new Hono<AppEnv>();
  routes.use("/products", requireAuth());
  routes.use("/cart", requireAuth());
  routes.use("/cart/*", requireAuth());

  routes.get("/products", async (c) => {
    return c.html(
      productsPage({ user: c.get("user"), flash: c.get("flash") }, await catalogue.list()),
    );
  });

  routes.get("/cart", async (c) => {
    const { rows, totalCents } = await cartRows(catalogue, c.get("session")!.data.cart);
    return c.html(cartPage({ user: c.get("user"), flash: c.get("flash") }, rows, totalCents));
  });

  routes.post("/cart", async (c) => {
    const form = await readForm(c);
    const current = { token: c.get("sessionToken"), read: c.get("sessionRead") };
    await addProductToCart(services, current, form.productId, form.quantity, { flash: true });
    return c.redirect("/cart", 303);
  });

  routes.post("/cart/remove", async (c) => {
    const form = await readForm(c);
    const productId = form.productId ?? "";
    const token = c.get("sessionToken");
    const session = await sessions.update(
      token,
      (data) => ({ ...data, cart: removeFromCart(data.cart, productId) }),
      {
        basis: c.get("sessionRead"),
        flash: { kind: "info", text: "Removed the item from your cart." },
      },
    );
    if (session === null) throw new HTTPException(401, { message: "Your session has ended." });
    return c.redirect("/cart", 303);
  });

  return routes;
}
