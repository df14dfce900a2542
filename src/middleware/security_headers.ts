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

/**
 * Sets CSP, `X-Content-Type-Options`, `Referrer-Policy`, framing and isolation headers, and HSTS
 * when the site is served over HTTPS (`hsts`).
 */
export function securityHeaders(options: { hsts: boolean }): MiddlewareHandler {
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
  return async function securityHeaders(c, next) {
    await next();
    for (const [name, value] of headers) {
      if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    }
  };
}
