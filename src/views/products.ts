/**
 * The product list with add-to-cart forms.
 *
 * @module
 */
import { html } from "hono/html";
import { formatPrice, type Product } from "../products.ts";
import { layout, type PageContext } from "./layout.ts";

/** Renders the catalogue. */
export function productsPage(page: PageContext, products: readonly Product[]): string {
  return layout(
    "Products",
    page,
    html`<h1>Products</h1>
<div class="grid">
${
      products.map((product) =>
        html`
          <article class="card">
            <h2>${product.name}</h2>
            <p class="muted">${product.description}</p>
            <p class="price">${formatPrice(product.priceCents)}</p>
            <form method="post" action="/cart">
              <input type="hidden" name="productId" value="${product.id}">
              <label for="qty-${product.id}">Quantity</label>
              <input id="qty-${product
                .id}" name="quantity" type="number" min="1" max="99" value="1">
              <button type="submit">Add to cart</button>
            </form>
          </article>
        `
      )
    }
</div>`,
  );
}
