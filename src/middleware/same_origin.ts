/**
 * Cross-site request forgery defence: unsafe methods must come from our own origin.
 *
 * Fetch Metadata first (`Sec-Fetch-Site`, sent by every current browser), then a full-origin
 * comparison of `Origin` (OWASP CSRF cheat sheet). It applies to every content type, JSON
 * included, and to sign-in and sign-up (login CSRF); Hono's `csrf()` checks form posts only.
 * A request with neither header is refused too: browsers send one of them on every POST.
 *
 * `Origin` is compared with the public origin when one is configured (`PUBLIC_ORIGIN`), and
 * otherwise with the origin of the request URL, which Deno builds from the `Host` header the
 * client (or a proxy in front) sent: behind a proxy that rewrites `Host`, only the former is right.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Decides whether an unsafe request may proceed; exported for direct tests.
 *
 * @param publicOrigin the site's origin as browsers send it (`https://shop.example.com`); when
 * omitted, the origin of `request.url`
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isSameOriginRequest } from "./same_origin.ts";
 *
 * const post = (origin: string) =>
 *   new Request("http://10.0.0.5:8000/login", { method: "POST", headers: { Origin: origin } });
 * strictEqual(isSameOriginRequest(post("http://10.0.0.5:8000")), true);
 * strictEqual(isSameOriginRequest(post("http://10.0.0.5:8000"), "https://shop.example.com"), false);
 * strictEqual(isSameOriginRequest(post("https://shop.example.com"), "https://shop.example.com"), true);
 * ```
 */
export function isSameOriginRequest(request: Request, publicOrigin?: string): boolean {
  const site = request.headers.get("Sec-Fetch-Site");
  if (site !== null) {
    // "none" is a user-initiated navigation (bookmark, typed URL), never a forged one.
    // Under a no-referrer policy Chromium sends `Origin: null` on same-origin posts, so the
    // metadata decides when present.
    return site === "same-origin" || site === "none";
  }
  const origin = request.headers.get("Origin");
  return origin !== null && origin === (publicOrigin ?? new URL(request.url).origin);
}

/**
 * Refuses cross-site unsafe requests with 403 (JSON under `/api/`, a page elsewhere).
 *
 * @param options.publicOrigin the site's origin (`Config.publicOrigin`), compared with `Origin`
 * instead of the request's own origin when set
 */
export function sameOrigin(
  options: { onRejected: (c: Context<AppEnv>) => Response; publicOrigin?: string },
): MiddlewareHandler<AppEnv> {
  const { onRejected, publicOrigin } = options;
  return function sameOrigin(c, next) {
    if (SAFE_METHODS.has(c.req.method) || isSameOriginRequest(c.req.raw, publicOrigin)) {
      return next();
    }
    return Promise.resolve(onRejected(c));
  };
}
