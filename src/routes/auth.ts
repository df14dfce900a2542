/**
 * Sign-in, sign-out and sign-up pages.
 *
 * @module
 */
import { endSession } from "@kvsession/hono";
import { Hono } from "hono";
import type { AppEnv } from "../app_env.ts";
import { INVALID_CREDENTIALS_MESSAGE } from "../auth.ts";
import { clientAddress } from "../client_address.ts";
import { setNotice, takeNotice } from "../flash_cookie.ts";
import { TooManyAttemptsError } from "../login_throttle.ts";
import { safeRedirectPath } from "../redirect_target.ts";
import type { Services } from "../services.ts";
import { describeUserAgent } from "../user_agent.ts";
import { InvalidUserInputError, UsernameTakenError } from "../users.ts";
import { loginPage } from "../views/login.ts";
import { signupPage } from "../views/signup.ts";
import { readForm } from "./request_body.ts";

/** `GET/POST /login`, `POST /logout`, `GET/POST /signup`. */
export function authRoutes(services: Services): Hono<AppEnv> {
  const { auth, sessions, config } = services;
  const routes = new Hono<AppEnv>();

  routes.get("/login", (c) => {
    const next = safeRedirectPath(c.req.query("next")) ?? "/dashboard";
    if (c.get("user")) return c.redirect(next, 303);
    const notice = takeNotice(c.req.raw, c.res.headers, config.cookieSecure);
    const flash = notice ? [{ kind: "info" as const, text: notice }] : [];
    return c.html(loginPage({ user: null, flash }, { next }));
  });

  routes.post("/login", async (c) => {
    const form = await readForm(c);
    const username = (form.username ?? "").slice(0, 256);
    const next = safeRedirectPath(form.next) ?? "/dashboard";
    const result = await auth.signIn({
      username,
      password: form.password ?? "",
      address: clientAddress(c.req.raw, c.env?.remoteAddr?.hostname, config.trustProxyHeader),
      userAgent: describeUserAgent(c.req.header("User-Agent")),
    });
    if (!result.ok) {
      if (result.reason === "throttled") {
        c.header("Retry-After", String(result.retryAfterSeconds));
        const error = "Too many failed sign-in attempts. Please wait a few minutes and try again.";
        return c.html(loginPage({ user: null }, { next, username, error }), 429);
      }
      return c.html(
        loginPage({ user: null }, { next, username, error: INVALID_CREDENTIALS_MESSAGE }),
        401,
      );
    }
    // A second sign-in from the same browser ends the first session (ASVS 5.0 7.2.4).
    await sessions.destroy(c.get("sessionToken"));
    c.get("sessionCookie").set(c.res.headers, result.token, result.maxAgeSeconds);
    return c.redirect(next, 303);
  });

  routes.post("/logout", async (c) => {
    await endSession(c);
    setNotice(c.res.headers, "signed-out", config.cookieSecure);
    return c.redirect("/login", 303);
  });

  routes.get("/signup", (c) => {
    if (c.get("user")) return c.redirect("/dashboard", 303);
    return c.html(signupPage({ user: null }, {}));
  });

  routes.post("/signup", async (c) => {
    const form = await readForm(c);
    const displayName = (form.displayName ?? "").slice(0, 256);
    const username = (form.username ?? "").slice(0, 256);
    try {
      const created = await auth.signUp({
        username,
        displayName,
        password: form.password ?? "",
        address: clientAddress(c.req.raw, c.env?.remoteAddr?.hostname, config.trustProxyHeader),
        userAgent: describeUserAgent(c.req.header("User-Agent")),
      });
      await sessions.destroy(c.get("sessionToken"));
      c.get("sessionCookie").set(c.res.headers, created.token, created.maxAgeSeconds);
      return c.redirect("/dashboard", 303);
    } catch (error) {
      if (error instanceof TooManyAttemptsError) {
        c.header("Retry-After", String(error.retryAfterSeconds));
      }
      const status = error instanceof UsernameTakenError
        ? 409
        : error instanceof InvalidUserInputError
        ? 400
        : error instanceof TooManyAttemptsError
        ? 429
        : 0;
      if (status === 0) throw error;
      const message = (error as Error).message;
      return c.html(signupPage({ user: null }, { displayName, username, error: message }), status);
    }
  });

  return routes;
}
