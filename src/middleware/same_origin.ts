/**
 * Cross-site request forgery defence: unsafe methods must come from our own origin.
 *
 * Fetch Metadata first (`Sec-Fetch-Site`, sent by every current browser), then a full-origin
 * comparison of `Origin` (OWASP CSRF cheat sheet). It applies to every content type, JSON
 * included, and to sign-in and sign-up (login CSRF); Hono's `csrf()` checks form posts only.
 * A request with neither header is refused too: browsers send one of them on every POST.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Decides whether an unsafe request may proceed; exported for direct tests. */
export function isSameOriginRequest(request: Request): boolean {
  const site = request.headers.get("Sec-Fetch-Site");
  if (site !== null) {
    // "none" is a user-initiated navigation (bookmark, typed URL), never a forged one.
    // Under a no-referrer policy Chromium sends `Origin: null` on same-origin posts, so the
    // metadata decides when present.
    return site === "same-origin" || site === "none";
  }
  const origin = request.headers.get("Origin");
  return origin !== null && origin === new URL(request.url).origin;
}

/** Refuses cross-site unsafe requests with 403 (JSON under `/api/`, a page elsewhere). */
export function sameOrigin(
  options: { onRejected: (c: Context<AppEnv>) => Response },
): MiddlewareHandler<AppEnv> {
  return function sameOrigin(c, next) {
    if (SAFE_METHODS.has(c.req.method) || isSameOriginRequest(c.req.raw)) return next();
    return Promise.resolve(options.onRejected(c));
  };
}
