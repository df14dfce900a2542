/**
 * Security headers on every response.
 *
 * The pages need no JavaScript, so the policy allows none at all; styles and images come from
 * this origin only; nothing may frame us (clickjacking).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/** The Content-Security-Policy sent with every response. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The security headers as name-value pairs, HSTS included when `hsts` (served over HTTPS). */
export function securityHeaderList(options: { hsts: boolean }): [string, string][] {
  const headers: [string, string][] = [
    ["Content-Security-Policy", CONTENT_SECURITY_POLICY],
    ["X-Content-Type-Options", "nosniff"],
    // same-origin (not no-referrer): Chromium then sends a real Origin on our own form posts.
    ["Referrer-Policy", "same-origin"],
    ["X-Frame-Options", "DENY"],
    ["Cross-Origin-Opener-Policy", "same-origin"],
    ["Cross-Origin-Resource-Policy", "same-origin"],
    ["Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"],
  ];
  if (options.hsts) headers.push(["Strict-Transport-Security", "max-age=31536000"]);
  return headers;
}

/**
 * Sets CSP, `X-Content-Type-Options`, `Referrer-Policy`, framing and isolation headers, and HSTS
 * when the site is served over HTTPS (`hsts`).
 *
 * The headers are prepared on the context before the route runs, so the response the route
 * builds (`c.html`, `c.json`, `c.body`, `c.redirect`, error pages) carries them from the start.
 * They are deliberately not added to the finished response: touching `Response.headers` makes
 * Deno drop the response it prepared natively and rebuild it when sending (bench/README.md,
 * "Profile"). So routes build responses through the context, never with `new Response()`; a
 * route may still replace one of these with `c.header()`. tests/security_test.ts checks every
 * kind of response.
 */
export function securityHeaders(options: { hsts: boolean }): MiddlewareHandler {
  const headers = securityHeaderList(options);
  return function securityHeaders(c, next) {
    for (const [name, value] of headers) c.header(name, value);
    return next();
  };
}
