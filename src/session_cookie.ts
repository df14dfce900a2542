/**
 * The session cookie's name and attributes, derived once from the settings.
 *
 * `__Host-sid` when cookies are Secure (HTTPS), because the prefix makes the browser refuse a
 * cookie set by a sibling subdomain or over plain HTTP (RFC 6265bis 4.1.3.2); plain `sid` for
 * local development over http://localhost, where a `__Host-` cookie would be dropped.
 *
 * @module
 */
import { appendSetCookie, type CookieOptions, deleteCookie } from "./cookies.ts";

/** How the session cookie is written. */
export interface SessionCookie {
  /** Cookie name. */
  name: string;
  /** Sets the cookie with `Max-Age` equal to the session's remaining time. */
  set(headers: Headers, token: string, maxAgeSeconds: number): void;
  /** Deletes the cookie with the same attributes it was set with. */
  clear(headers: Headers): void;
}

/** Returns the session cookie for `secure` (HTTPS) or plain-HTTP development. */
export function sessionCookie(secure: boolean): SessionCookie {
  const name = secure ? "__Host-sid" : "sid";
  const attributes: CookieOptions = { path: "/", httpOnly: true, sameSite: "Lax", secure };
  if (!secure) delete attributes.secure;
  return {
    name,
    set(headers, token, maxAgeSeconds) {
      appendSetCookie(headers, name, token, { ...attributes, maxAge: maxAgeSeconds });
      // A response that sets a session cookie must never be stored by a shared cache.
      headers.set("Cache-Control", "no-store");
    },
    clear(headers) {
      deleteCookie(headers, name, attributes);
      headers.set("Cache-Control", "no-store");
    },
  };
}
