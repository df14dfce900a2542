/**
 * The page frame: head, navigation that follows the sign-in state, flash messages.
 *
 * @module
 */
import { html } from "hono/html";
import type { SessionUser } from "../app_env.ts";
import type { Flash } from "@kvsession/hono";

/** An HTML fragment from Hono's `html` template (values inside are escaped). */
export type Html = ReturnType<typeof html>;

/** What every page passes to the frame. */
export interface PageContext {
  /** Signed-in user, or null. */
  user: SessionUser | null;
  /** One-shot messages to show above the content. */
  flash?: Flash[];
}

/**
 * Wraps `body` in the site frame and returns the finished page as a plain string.
 *
 * A string, not Hono's escaped `String` object: `c.html()` sends a string as it is, while an
 * object goes through Hono's callback resolution and two promise hops per response. The frame
 * is always the outermost template, so nothing embeds (and would escape) this string again.
 */
export function layout(title: string, page: PageContext, body: Html): string {
  const { user, flash = [] } = page;
  const frame = html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} · Deno Shop</title>
        <link rel="stylesheet" href="/static/style.css">
      </head>
      <body>
        <header class="site">
          <nav>
    <a class="brand" href="/">Deno Shop</a>
    ${user
      ? html`<a href="/dashboard">Dashboard</a>
<a href="/products">Products</a>
<a href="/cart">Cart</a>
<a href="/account">Account</a>
<form method="post" action="/logout"><button class="link" type="submit">Sign out</button></form>`
      : html`<a href="/login">Sign in</a>
<a href="/signup">Sign up</a>`}
          </nav>
        </header>
        <main>
    ${flash.map((f) =>
      html`<p class="flash ${f.kind === "error" ? "error" : ""}" role="status">${f.text}</p>`
    )}
    ${body}
        </main>
      </body>
    </html>
  `;
  // Views interpolate only ready values, so Hono's `html` never returns a promise here.
  if (frame instanceof Promise) throw new TypeError("A page template resolved asynchronously");
  return frame.toString();
}
