/**
 * One-shot notices for visitors without a session ("You have been signed out").
 *
 * The cookie carries only a code from a fixed list, never text, so it cannot inject anything
 * into the page.
 *
 * @module
 */
import {
  appendSetCookie,
  type CookieOptions,
  deleteCookie,
  getCookie,
} from "@kvsession/hono/cookies";

/** The notices a signed-out visitor can be shown. */
export const NOTICES = {
  "signed-out": "You have been signed out.",
} as const;

/** A notice code. */
export type NoticeCode = keyof typeof NOTICES;

const NAME = "notice";

function attributes(secure: boolean): CookieOptions {
  return secure
    ? { path: "/", httpOnly: true, sameSite: "Lax", secure: true }
    : { path: "/", httpOnly: true, sameSite: "Lax" };
}

/** Queues `code` for the next page. */
export function setNotice(headers: Headers, code: NoticeCode, secure: boolean): void {
  appendSetCookie(headers, NAME, code, { ...attributes(secure), maxAge: 60 });
}

/** Returns the queued notice text (deleting the cookie), or undefined. */
export function takeNotice(
  request: Request,
  headers: Headers,
  secure: boolean,
): string | undefined {
  const code = getCookie(request.headers.get("Cookie"), NAME);
  if (code === undefined) return undefined;
  deleteCookie(headers, NAME, attributes(secure));
  return Object.hasOwn(NOTICES, code) ? NOTICES[code as NoticeCode] : undefined;
}
