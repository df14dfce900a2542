/**
 * Error pages: short, helpful, and revealing nothing about the server.
 *
 * @module
 */
import { html } from "hono/html";
import { layout, type PageContext } from "./layout.ts";

/** A page for a 4xx or 5xx answer. */
export function errorPage(
  page: PageContext,
  title: string,
  message: string,
  requestId?: string,
): string {
  return layout(
    title,
    page,
    html`<section class="card narrow">
<h1>${title}</h1>
<p>${message}</p>
${requestId ? html`<p class="muted">Reference: <code>${requestId}</code></p>` : ""}
<p><a href="/">Back to the start page</a></p>
</section>`,
  );
}
