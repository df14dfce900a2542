/**
 * The account page: live sessions with revoke buttons, and the password form.
 *
 * @module
 */
import { html } from "hono/html";
import type { SessionUser } from "../app_env.ts";
import type { SessionSummary } from "@kvsession/hono";
import { type Html, layout, type PageContext } from "./layout.ts";

function when(ms: number): Html {
  const date = new Date(ms);
  return html`<time datetime="${date.toISOString()}">${date.toUTCString()}</time>`;
}

/** Renders the sessions table (current one marked) and the change-password form. */
export function accountPage(
  page: PageContext & { user: SessionUser },
  sessions: readonly SessionSummary[],
  currentSessionId: string,
  passwordError?: string,
): string {
  return layout(
    "Account",
    page,
    html`<h1>Account</h1>
<section class="card">
<h2>Where you are signed in</h2>
<table>
<thead><tr><th>Device</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead>
<tbody>
${
      sessions.map((s) =>
        html`
          <tr data-session-id="${s.id}">
            <td>${s.userAgent || "Unknown device"} ${s.id === currentSessionId
              ? html`<span class="tag">this device</span>`
              : ""}</td>
            <td>${when(s.createdAt)}</td>
            <td>${when(s.lastSeenAt)}</td>
            <td>${s.id === currentSessionId ? "" : html`
              <form method="post"
                action="/account/sessions/revoke"><input type="hidden" name="id" value="${s
                  .id}"><button class="link" type="submit">Sign out</button></form>
            `}</td>
          </tr>
        `
      )
    }
</tbody>
</table>
${
      sessions.length > 1
        ? html`
          <form method="post"
            action="/account/logout-others"><button class="danger" type="submit">Sign out everywhere else</button></form>
        `
        : ""
    }
</section>
<section class="card narrow">
<h2>Change password</h2>
${passwordError ? html`<p class="flash error" role="alert">${passwordError}</p>` : ""}
<form method="post" action="/account/password">
<label for="currentPassword">Current password</label>
<input id="currentPassword" name="currentPassword" type="password" autocomplete="current-password" required maxlength="256">
<label for="newPassword">New password</label>
<input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
<button type="submit">Change password</button>
</form>
<p class="muted">Changing your password signs you out on every other device.</p>
</section>`,
  );
}
