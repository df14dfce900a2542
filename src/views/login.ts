/**
 * The sign-in page.
 *
 * @module
 */
import { html } from "hono/html";
import { layout, type PageContext } from "./layout.ts";

/** Renders the sign-in form; `error` shows above it, `username` refills the field. */
export function loginPage(
  page: PageContext,
  form: { next: string; username?: string; error?: string },
): string {
  return layout(
    "Sign in",
    page,
    html`<section class="card narrow">
<h1>Sign in</h1>
${form.error ? html`<p class="flash error" role="alert">${form.error}</p>` : ""}
<form method="post" action="/login">
<input type="hidden" name="next" value="${form.next}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required maxlength="64" value="${
      form.username ?? ""
    }">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">Sign in</button>
</form>
<p class="muted">No account yet? <a href="/signup">Sign up</a>.</p>
</section>`,
  );
}
