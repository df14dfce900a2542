import { ok, strictEqual } from "node:assert/strict";
import { html } from "hono/html";
import { dashboardPage } from "../src/views/dashboard.ts";
import { errorPage } from "../src/views/error.ts";
import { layout } from "../src/views/layout.ts";

const user = { id: "0".repeat(32), username: "alice", displayName: "Alice <b>" };

Deno.test("pages come out as finished plain strings, escaped, in the frame", () => {
  // A primitive string is what lets c.html() answer without Hono's callback resolution.
  const dashboard = dashboardPage({ user, flash: [{ kind: "info", text: "Hi & bye" }] }, {
    cartItems: 2,
    sessionExpiresAt: Date.UTC(2026, 10, 27, 12),
  });
  const error = errorPage({ user: null }, "Not found", "There is no page <here>.", "req-1");
  for (const page of [dashboard, error]) {
    strictEqual(typeof page, "string");
    ok(page.trimStart().startsWith("<!doctype html>"), page);
    ok(page.trimEnd().endsWith("</html>"), page);
  }
  ok(dashboard.includes("Welcome, Alice &lt;b&gt;!"), dashboard);
  ok(dashboard.includes("Hi &amp; bye"), dashboard);
  ok(error.includes("There is no page &lt;here&gt;."), error);
});

Deno.test("a page template that resolves asynchronously is refused, not sent as [object Promise]", () => {
  const late = html`<p>${Promise.resolve("later")}</p>`;
  let error: unknown;
  try {
    layout("Late", { user: null }, late);
  } catch (caught) {
    error = caught;
  }
  ok(error instanceof TypeError, String(error));
});
