/**
 * The cart: lines, quantities, total, and remove buttons.
 *
 * @module
 */
import { html } from "hono/html";
import { formatPrice, type Product } from "../products.ts";
import { layout, type PageContext } from "./layout.ts";

/** A cart line joined with its product. */
export interface CartRow {
  /** The product (null when it left the catalogue). */
  product: Product;
  /** How many. */
  quantity: number;
}

/** Renders the cart; `totalCents` is computed by the route. */
export function cartPage(page: PageContext, rows: readonly CartRow[], totalCents: number): string {
  return layout(
    "Cart",
    page,
    html`<h1>Your cart</h1>
<section class="card">
${
      rows.length === 0
        ? html`<p>Your cart is empty. <a href="/products">Browse products</a>.</p>`
        : html`
          <table>
            <thead>
              <tr>
                <th>Product</th>
                <th>Price</th>
                <th>Quantity</th>
                <th>Subtotal</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
          ${rows.map(({ product, quantity }) =>
            html`
              <tr>
                <td>${product.name}</td>
                <td>${formatPrice(product.priceCents)}</td>
                <td>${quantity}</td>
                <td>${formatPrice(product.priceCents * quantity)}</td>
                <td>
                  <form method="post"
                    action="/cart/remove"><input type="hidden" name="productId" value="${product
                      .id}"><button class="link" type="submit">Remove</button></form>
                </td>
              </tr>
            `
          )}
            </tbody>
          </table>
          <p class="total">Total: <span data-testid="cart-total">${formatPrice(
            totalCents,
          )}</span></p>
        `
    }
</section>`,
  );
}
