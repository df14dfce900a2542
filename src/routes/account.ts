/**
 * The account page: the user's sessions, revoking them, and changing the password.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../app_env.ts";
import { clientAddress } from "../client_address.ts";
import { requireAuth } from "../middleware/require_auth.ts";
import type { Services } from "../services.ts";
import { accountPage } from "../views/account.ts";
import { readForm } from "./request_body.ts";

/** `GET /account` and its POST actions. */
export function accountRoutes(services: Services): Hono<AppEnv> {
  const { sessions, auth, config } = services;
  const routes = new Hono<AppEnv>();
  routes.use("/account", requireAuth());
  routes.use("/account/*", requireAuth());

  async function render(c: Context<AppEnv>, status: 200 | 400 | 401 | 409 | 429, error?: string) {
    const session = c.get("session")!;
    const list = await sessions.list(session.userId);
    const page = { user: session.data.user, flash: c.get("flash") };
    return c.html(accountPage(page, list, session.id, error), status);
  }

  routes.get("/account", (c) => render(c, 200));

  routes.post("/account/sessions/revoke", async (c) => {
    const form = await readForm(c);
    const session = c.get("session")!;
    const id = form.id ?? "";
    // Scoped to the signed-in user: another user's id is simply not found.
    if (!(await sessions.revoke(session.userId, id))) {
      throw new HTTPException(404, {
        message: "That session does not exist or has already ended.",
      });
    }
    const current = id === session.id;
    if (current) {
      c.get("sessionCookie").clear(c.res.headers);
      return c.redirect("/login", 303);
    }
    await sessions.addFlash(c.get("sessionToken"), {
      kind: "info",
      text: "That device was signed out.",
    });
    return c.redirect("/account", 303);
  });

  routes.post("/account/logout-others", async (c) => {
    const session = c.get("session")!;
    const ended = await sessions.revokeAll(session.userId, session.id);
    await sessions.addFlash(c.get("sessionToken"), {
      kind: "info",
      text: `Signed out of ${ended} other session${ended === 1 ? "" : "s"}.`,
    });
    return c.redirect("/account", 303);
  });

  routes.post("/account/password", async (c) => {
    const form = await readForm(c);
    const result = await auth.changePassword({
      token: c.get("sessionToken")!,
      session: c.get("session")!,
      basis: c.get("sessionRead"),
      currentPassword: form.currentPassword ?? "",
      newPassword: form.newPassword ?? "",
      address: clientAddress(c.req.raw, c.env?.remoteAddr?.hostname, config.trustProxyHeader),
    });
    if (result.ok) {
      c.get("sessionCookie").set(c.res.headers, result.token, result.maxAgeSeconds);
      await sessions.addFlash(result.token, {
        kind: "info",
        text: `Password changed. ${result.endedSessions} other session${
          result.endedSessions === 1 ? " was" : "s were"
        } signed out.`,
      });
      return c.redirect("/account", 303);
    }
    switch (result.reason) {
      case "throttled":
        c.header("Retry-After", String(result.retryAfterSeconds));
        return render(c, 429, "Too many failed attempts. Please wait a few minutes and try again.");
      case "invalid-current":
        return render(c, 401, "Your current password is not correct.");
      case "invalid-new":
        return render(c, 400, result.message);
      case "conflict":
        return render(
          c,
          409,
          "Your password was not changed: your account changed at the same time. Please try again.",
        );
      case "session-gone":
        c.get("sessionCookie").clear(c.res.headers);
        return c.redirect("/login", 303);
    }
  });

  return routes;
}
