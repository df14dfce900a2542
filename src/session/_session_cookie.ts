/**
 * The session cookie's name and attributes, fixed once when the middleware is made.
 *
 * @module
 */
import {
  appendSetCookie,
  type CookieOptions,
  deleteCookie,
  MAX_COOKIE_AGE_SECONDS,
} from "./cookies.ts";

/** How the session cookie is written; the middleware puts one on the context per request. */
export interface SessionCookie {
  /** Cookie name as the browser sees it (`__Host-sid`, or `sid` over plain HTTP). */
  readonly name: string;
  /** Sets the cookie with `Max-Age` equal to the session's remaining time. */
  set(headers: Headers, token: string, maxAgeSeconds: number): void;
  /** Deletes the cookie with the same attributes it was set with. */
  clear(headers: Headers): void;
}

/** The name a cookie called `baseName` gets: `__Host-` in front when it is Secure. */
export function cookieNameFor(baseName: string, secure: boolean): string {
  // RFC 6265bis 4.1.3.2: the browser refuses a __Host- cookie set by a sibling subdomain or over
  // plain HTTP, or one with a Domain or another Path; over http://localhost it would be dropped.
  return secure ? `__Host-${baseName}` : baseName;
}

/** Builds the cookie writer for one name, `secure` and `sameSite`. */
export function sessionCookie(
  baseName: string,
  secure: boolean,
  sameSite: "Lax" | "Strict",
): SessionCookie {
  const name = cookieNameFor(baseName, secure);
  // ASVS 4.0.3 3.4.1-3.4.5 / 5.0 3.3.1: Secure (on HTTPS), HttpOnly, SameSite, __Host-, Path=/.
  const attributes: CookieOptions = secure
    ? { path: "/", httpOnly: true, sameSite, secure: true }
    : { path: "/", httpOnly: true, sameSite };
  return {
    name,
    set(headers, token, maxAgeSeconds) {
      // RFC 6265bis 5.6: browsers cap Max-Age at 400 days; a longer store setting is capped too.
      const maxAge = Math.min(maxAgeSeconds, MAX_COOKIE_AGE_SECONDS);
      appendSetCookie(headers, name, token, { ...attributes, maxAge });
      // A response that sets a session cookie must never be stored by a shared cache.
      headers.set("Cache-Control", "no-store");
    },
    clear(headers) {
      deleteCookie(headers, name, attributes);
      headers.set("Cache-Control", "no-store");
    },
  };
}
