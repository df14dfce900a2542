/**
 * The dashboard: the first page after sign-in.
 *
 * @module
 */
import { html } from "hono/html";
import type { SessionUser } from "../app_env.ts";
import { layout, type PageContext } from "./layout.ts";

/** Greets the user and links the store's areas. */
export function dashboardPage(
  page: PageContext & { user: SessionUser },
  summary: { cartItems: number; sessionExpiresAt: number },
): string {
  return layout(
    "Dashboard",
    page,
    html`
      <section class="card">
        <h1>Welcome, ${page.user.displayName}!</h1>
        <p>You are signed in as <strong>${page.user.username}</strong>.</p>
        <p>Your cart holds ${summary.cartItems} item${summary.cartItems === 1 ? "" : "s"}.</p>
        <p><a class="button" href="/products">Browse products</a> <a class="button" href="/cart">View cart</a></p>
        <p
          class="muted">This session ends at <time datetime="${new Date(summary.sessionExpiresAt)
            .toISOString()}">${new Date(summary.sessionExpiresAt)
            .toUTCString()}</time> unless you stay active. Manage your devices on the <a href="/account">account page</a>.</p>
      </section>
    `,
  );
}
