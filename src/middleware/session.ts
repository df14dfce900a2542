/**
 * Loads the session named by the cookie and puts it on the context.
 *
 * One KV read per request that carries a well-formed cookie, none otherwise. A renewal refreshes
 * the cookie's Max-Age; a cookie naming no live session is deleted so the browser stops sending
 * it.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv, AppSessionData } from "../app_env.ts";
import { getCookie } from "../cookies.ts";
import type { SessionCookie } from "../session_cookie.ts";
import type { SessionStore } from "../sessions.ts";
import { recordSessionOutcome } from "../telemetry.ts";

/**
 * Reads the session cookie, validates it and sets `session`, `sessionToken`, `sessionRead`,
 * `user`, `flash`.
 */
export function loadSession(
  store: SessionStore<AppSessionData>,
  cookie: SessionCookie,
): MiddlewareHandler<AppEnv> {
  return async function loadSession(c, next) {
    const token = getCookie(c.req.header("Cookie"), cookie.name);
    c.set("session", null);
    c.set("user", null);
    c.set("sessionToken", undefined);
    c.set("sessionRead", undefined);
    c.set("flash", []);
    if (token === undefined) {
      c.set("sessionOutcome", "none");
      recordSessionOutcome("none");
      return await next();
    }
    const found = await store.get(token);
    c.set("sessionOutcome", found.status);
    recordSessionOutcome(found.status);
    if (found.status === "valid" || found.status === "renewed") {
      c.set("session", found.session);
      c.set("sessionToken", token);
      c.set("sessionRead", found.read);
      c.set("user", found.session.data.user);
      // Set before the handler runs, so a handler that signs out or rotates overrides it.
      if (found.status === "renewed") cookie.set(c.res.headers, token, found.maxAgeSeconds);
      // Only a page can show a flash message: an API call or a form POST taking it would lose
      // it before the page that the POST redirects to.
      if (
        found.session.flash.length > 0 && c.req.method === "GET" && !c.req.path.startsWith("/api/")
      ) {
        c.set("flash", await store.takeFlash(token, found.session));
      }
    } else {
      cookie.clear(c.res.headers);
    }
    await next();
  };
}
