/**
 * The sign-up page.
 *
 * @module
 */
import { html } from "hono/html";
import { layout, type PageContext } from "./layout.ts";

/** Renders the sign-up form, refilled with what was typed (never the password). */
export function signupPage(
  page: PageContext,
  form: { displayName?: string; username?: string; error?: string },
): string {
  return layout(
    "Sign up",
    page,
    html`<section class="card narrow">
<h1>Create an account</h1>
${form.error ? html`<p class="flash error" role="alert">${form.error}</p>` : ""}
<form method="post" action="/signup">
<label for="displayName">Display name</label>
<input id="displayName" name="displayName" type="text" autocomplete="name" required maxlength="64" value="${
      form.displayName ?? ""
    }">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required maxlength="32" value="${
      form.username ?? ""
    }">
<p class="muted">3 to 32 letters, digits, dots, dashes or underscores.</p>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
<p class="muted">8 to 256 characters.</p>
<button type="submit">Create account</button>
</form>
<p class="muted">Already registered? <a href="/login">Sign in</a>.</p>
</section>`,
  );
}
