/**
 * Cross-site request forgery defence: unsafe methods must come from the site's own origin.
 *
 * Fetch Metadata first (`Sec-Fetch-Site`, sent by every current browser), then a full-origin
 * comparison of `Origin` (OWASP CSRF cheat sheet; ASVS 4.0.3 4.2.2, 5.0 3.5.1). It applies to
 * every content type, JSON included, and to sign-in (login CSRF); Hono's `csrf()` checks form
 * posts only. A request with neither header is refused: browsers send one of them on every POST.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Decides whether a request may change state: true when the browser says it came from this
 * origin. `origin` is the site's origin as browsers send it (`https://shop.example.com`); when
 * omitted, the origin of `request.url`, which Deno builds from the `Host` header the client (or a
 * proxy in front) sent: behind a proxy that rewrites `Host`, pass the public origin.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isSameOriginRequest } from "@kvsession/hono";
 *
 * const post = (origin: string) =>
 *   new Request("http://10.0.0.5:8000/login", { method: "POST", headers: { Origin: origin } });
 * strictEqual(isSameOriginRequest(post("http://10.0.0.5:8000")), true);
 * strictEqual(isSameOriginRequest(post("http://10.0.0.5:8000"), "https://shop.example.com"), false);
 * strictEqual(isSameOriginRequest(post("https://shop.example.com"), "https://shop.example.com"), true);
 * ```
 */
export function isSameOriginRequest(request: Request, origin?: string): boolean {
  const site = request.headers.get("Sec-Fetch-Site");
  if (site !== null) {
    // "none" is a user-initiated navigation (bookmark, typed URL), never a forged one.
    // Under a no-referrer policy Chromium sends `Origin: null` on same-origin posts, so the
    // metadata decides when present.
    return site === "same-origin" || site === "none";
  }
  const sent = request.headers.get("Origin");
  return sent !== null && sent === (origin ?? new URL(request.url).origin);
}

/** Options of {@linkcode sameOrigin}. */
export interface SameOriginOptions {
  /**
   * The site's public origin (`https://shop.example.com`): when set, `Origin` must equal it;
   * otherwise it is compared with the request URL's origin. Checked when the middleware is made:
   * scheme, host and port only, as `new URL(origin).origin` gives it.
   */
  origin?: string;
  /** Builds the refusal. Default: `403` with a plain-text body. */
  onRejected?: (c: Context) => Response;
}

/**
 * Refuses cross-site unsafe requests (any method but GET, HEAD and OPTIONS).
 *
 * @throws {TypeError} when `origin` is not a serialized origin or `onRejected` is not a
 *   function (at creation)
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { sameOrigin } from "@kvsession/hono";
 *
 * const app = new Hono().use(sameOrigin()).post("/cart", (c) => c.text("added"));
 * const forged = await app.request("http://localhost/cart", {
 *   method: "POST",
 *   headers: { "Sec-Fetch-Site": "cross-site" },
 * });
 * strictEqual(forged.status, 403);
 * await forged.body?.cancel();
 * ```
 */
export function sameOrigin(options: SameOriginOptions = {}): MiddlewareHandler {
  const { origin, onRejected } = options;
  if (origin !== undefined) {
    let parsed: string | undefined;
    try {
      parsed = new URL(origin).origin;
    } catch {
      parsed = undefined;
    }
    if (typeof origin !== "string" || parsed !== origin || parsed === "null") {
      throw new TypeError(
        `Cannot create same-origin check: option "origin" ${
          JSON.stringify(String(origin))
        } is not an origin such as "https://shop.example.com" (scheme, host and port only)`,
      );
    }
  }
  if (onRejected !== undefined && typeof onRejected !== "function") {
    throw new TypeError(
      `Cannot create same-origin check: option "onRejected" must be a function, got a value of type ${typeof onRejected}`,
    );
  }
  return function sameOrigin(c, next) {
    if (SAFE_METHODS.has(c.req.method) || isSameOriginRequest(c.req.raw, origin)) return next();
    return Promise.resolve(
      onRejected === undefined ? c.text("Cross-site request refused", 403) : onRejected(c),
    );
  };
}
