/**
 * The Hono middleware that loads the session named by the cookie onto the context.
 *
 * One KV read per request that carries a well-formed session cookie, none otherwise. A renewal
 * refreshes the cookie's Max-Age; a cookie naming no live session is deleted so the browser
 * stops sending it. Every response that sets or clears the cookie gets `Cache-Control: no-store`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, MAX_COOKIE_AGE_SECONDS } from "./cookies.ts";
import { type SessionCookie, sessionCookie } from "./_session_cookie.ts";
import {
  type Flash,
  type JsonValue,
  type Session,
  type SessionRead,
  SessionStore,
} from "./store.ts";

export type { SessionCookie } from "./_session_cookie.ts";

/**
 * How the request's session lookup went: `none` (no cookie), `valid`, `renewed` (the idle
 * deadline moved and the cookie was refreshed), or `missing`, `expired`, `revoked` (the cookie
 * named no live session and was cleared).
 */
export type SessionOutcome = "none" | "valid" | "renewed" | "missing" | "expired" | "revoked";

/**
 * The Hono variables {@linkcode sessionMiddleware} sets on every request it runs for. Intersect
 * them with an app's own variables: `Variables: SessionVariables<MyData> & { requestId: string }`.
 */
export interface SessionVariables<D extends JsonValue = JsonValue> {
  /** The live session, or null when signed out. */
  session: Session<D> | null;
  /** The session token from the cookie while it names a live session; never log it. */
  sessionToken: string | undefined;
  /**
   * The live session as the store read it, an update's `basis` (spares a read); it goes with
   * `session`, and the request helpers keep the two in step.
   */
  sessionRead: SessionRead<D> | undefined;
  /** One-shot messages taken for this request (see the `takeFlash` option). */
  flash: Flash[];
  /** How the session lookup went, for logs and traces. */
  sessionOutcome: SessionOutcome;
  /** The store, for calls the request helpers do not cover (`list`, `revoke`, ...). */
  sessionStore: SessionStore<D>;
  /** The cookie writer chosen for this request (its name depends on `secure`). */
  sessionCookie: SessionCookie;
}

/** A Hono environment with the session variables: `new Hono<SessionEnv<MyData>>()`. */
export type SessionEnv<D extends JsonValue = JsonValue> = { Variables: SessionVariables<D> };

/** Options every form of {@linkcode sessionMiddleware} takes. */
export interface SessionCookieOptions {
  /**
   * Cookie name, an RFC 9110 token without a `__Host-`/`__Secure-` prefix. Default `"sid"`;
   * it becomes `"__Host-sid"` whenever the cookie is Secure.
   */
  cookieName?: string;
  /**
   * Whether the cookie is Secure (and so `__Host-` prefixed). Default `"auto"`: Secure when the
   * request URL is `https:`. Behind a proxy that terminates TLS the app sees `http:` URLs: pass
   * `true` there.
   */
  secure?: boolean | "auto";
  /** The cookie's SameSite attribute. Default `"Lax"`; `"None"` is refused. */
  sameSite?: "Lax" | "Strict";
  /**
   * Whether this request takes (shows and removes) the session's queued flash messages into the
   * `flash` variable. Default: GET requests. Return false for API calls and asset requests so a
   * message waits for the page that shows it.
   */
  takeFlash?: (c: Context) => boolean;
  /** Called once per request with the lookup's outcome, for metrics and traces. */
  onLookup?: (outcome: SessionOutcome, c: Context) => void;
}

/** Options of {@linkcode sessionMiddleware} over a store the app made itself. */
export interface SessionStoreMiddlewareOptions<D extends JsonValue = JsonValue>
  extends SessionCookieOptions {
  /** The store; its own settings give the timeouts and the clock. */
  store: SessionStore<D>;
}

/** Options of {@linkcode sessionMiddleware} that make the store from a KV handle. */
export interface SessionKvMiddlewareOptions extends SessionCookieOptions {
  /** The database; the middleware never opens or closes it. */
  kv: Deno.Kv;
  /** Seconds of inactivity after which a session ends. Default 86400 (24 hours). */
  idleTimeout?: number;
  /** Seconds after sign-in at which a session ends whatever the activity. Default 604800 (7 d). */
  absoluteTimeout?: number;
  /** Clock in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Options of {@linkcode sessionMiddleware}: a `store`, or a `kv` to make one over. */
export type SessionMiddlewareOptions<D extends JsonValue = JsonValue> =
  | SessionStoreMiddlewareOptions<D>
  | SessionKvMiddlewareOptions;

/**
 * Default idle timeout: 24 hours, in seconds.
 *
 * @example
 * ```ts
 * import { DEFAULT_IDLE_TIMEOUT_SECONDS, sessionMiddleware } from "@kvsession/hono";
 *
 * using kv = await Deno.openKv(":memory:");
 * // Half the default: a session ends after 12 hours without a request.
 * sessionMiddleware({ kv, idleTimeout: DEFAULT_IDLE_TIMEOUT_SECONDS / 2 });
 * ```
 */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 86_400;
/**
 * Default absolute timeout: 7 days, in seconds.
 *
 * @example
 * ```ts
 * import { DEFAULT_ABSOLUTE_TIMEOUT_SECONDS, sessionMiddleware } from "@kvsession/hono";
 *
 * using kv = await Deno.openKv(":memory:");
 * // Twice the default: sign in again every 14 days whatever the activity.
 * sessionMiddleware({ kv, absoluteTimeout: 2 * DEFAULT_ABSOLUTE_TIMEOUT_SECONDS });
 * ```
 */
export const DEFAULT_ABSOLUTE_TIMEOUT_SECONDS = 604_800;

const COMMON_OPTIONS = ["cookieName", "secure", "sameSite", "takeFlash", "onLookup"];
const KV_OPTIONS = ["kv", "idleTimeout", "absoluteTimeout", "now"];
const KNOWN_OPTIONS = new Set([...COMMON_OPTIONS, ...KV_OPTIONS, "store"]);
// RFC 9110 5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function takeFlashOnGet(c: Context): boolean {
  return c.req.method === "GET";
}

/**
 * Makes the session middleware. Every option is checked here, once: a bad one throws a
 * `TypeError` or `RangeError` whose message names it, so a misconfigured app stops at start-up.
 *
 * Sets the {@linkcode SessionVariables} on the context; the request helpers
 * ({@linkcode startSession}, {@linkcode endSession}, ...) use the store and cookie it puts there.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { type SessionEnv, sessionMiddleware, startSession } from "@kvsession/hono";
 *
 * const kv = await Deno.openKv(":memory:");
 * const app = new Hono<SessionEnv<{ name: string }>>()
 *   .use(sessionMiddleware({ kv }))
 *   .post("/login", async (c) => {
 *     await startSession(c, { userId: "u1", data: { name: "Ada" } });
 *     return c.redirect("/", 303);
 *   })
 *   .get("/", (c) => c.text(c.get("session")?.data.name ?? "signed out"));
 *
 * const login = await app.request("http://localhost/login", { method: "POST" });
 * const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
 * const page = await app.request("http://localhost/", { headers: { Cookie: cookie } });
 * strictEqual(await page.text(), "Ada");
 * kv.close();
 * ```
 */
export function sessionMiddleware<D extends JsonValue = JsonValue>(
  options: SessionMiddlewareOptions<D>,
): MiddlewareHandler<SessionEnv<D>> {
  const checked = checkOptions<D>(options);
  const { store, takeFlash, onLookup } = checked;
  const secureCookie = sessionCookie(checked.cookieName, true, checked.sameSite);
  const plainCookie = sessionCookie(checked.cookieName, false, checked.sameSite);
  const secure = checked.secure;
  return async function sessionMiddleware(c, next) {
    const cookie = secure === "auto"
      ? (c.req.url.startsWith("https:") ? secureCookie : plainCookie)
      : secure
      ? secureCookie
      : plainCookie;
    c.set("sessionStore", store);
    c.set("sessionCookie", cookie);
    c.set("session", null);
    c.set("sessionToken", undefined);
    c.set("sessionRead", undefined);
    c.set("flash", []);
    const token = getCookie(c.req.header("Cookie"), cookie.name);
    if (token === undefined) {
      c.set("sessionOutcome", "none");
      onLookup?.("none", c);
      return await next();
    }
    const found = await store.get(token);
    c.set("sessionOutcome", found.status);
    onLookup?.(found.status, c);
    if (found.status === "valid" || found.status === "renewed") {
      c.set("session", found.session);
      c.set("sessionToken", token);
      c.set("sessionRead", found.read);
      // Set before the handler runs, so a handler that signs out or rotates overrides it.
      if (found.status === "renewed") cookie.set(c.res.headers, token, found.maxAgeSeconds);
      if (found.session.flash.length > 0 && takeFlash(c)) {
        c.set("flash", await store.takeFlash(token, found.session));
        // The stored read no longer matches: an update then reads afresh instead of conflicting.
        c.set("sessionRead", undefined);
      }
    } else {
      // The browser keeps sending a cookie nothing answers to until it is told to drop it.
      cookie.clear(c.res.headers);
    }
    await next();
  };
}

interface CheckedOptions<D extends JsonValue> {
  store: SessionStore<D>;
  cookieName: string;
  secure: boolean | "auto";
  sameSite: "Lax" | "Strict";
  takeFlash: (c: Context) => boolean;
  onLookup: ((outcome: SessionOutcome, c: Context) => void) | undefined;
}

function fail(ErrorClass: typeof TypeError | typeof RangeError, message: string): never {
  throw new ErrorClass(`Cannot create session middleware: ${message}`);
}

/** Quotes a bad value for an error message without echoing objects or functions at length. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  return `a value of type ${typeof value}`;
}

function checkOptions<D extends JsonValue>(
  options: SessionMiddlewareOptions<D>,
): CheckedOptions<D> {
  if (typeof options !== "object" || options === null) {
    fail(TypeError, `options must be an object with "store" or "kv", got ${show(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) fail(TypeError, `unknown option ${JSON.stringify(name)}`);
  }
  const given = options as Partial<SessionStoreMiddlewareOptions<D> & SessionKvMiddlewareOptions>;
  let store: SessionStore<D>;
  if (given.store !== undefined) {
    if (!(given.store instanceof SessionStore)) {
      fail(TypeError, `option "store" must be a SessionStore, got ${show(given.store)}`);
    }
    for (const name of KV_OPTIONS) {
      if (given[name as keyof typeof given] !== undefined) {
        fail(
          TypeError,
          `option ${JSON.stringify(name)} cannot be combined with "store" (the store has its own)`,
        );
      }
    }
    store = given.store;
  } else {
    const { kv } = given;
    if (kv === undefined) fail(TypeError, `option "store" or option "kv" is required`);
    if (
      typeof kv !== "object" || kv === null || typeof kv.get !== "function" ||
      typeof kv.atomic !== "function"
    ) {
      fail(TypeError, `option "kv" must be a Deno.Kv, got ${show(kv)}`);
    }
    const idle = given.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_SECONDS;
    const absolute = given.absoluteTimeout ?? DEFAULT_ABSOLUTE_TIMEOUT_SECONDS;
    checkSeconds("idleTimeout", idle);
    checkSeconds("absoluteTimeout", absolute);
    if (idle > absolute) {
      fail(
        RangeError,
        `option "idleTimeout" (${idle} s) is longer than "absoluteTimeout" (${absolute} s)`,
      );
    }
    if (given.now !== undefined && typeof given.now !== "function") {
      fail(
        TypeError,
        `option "now" must be a function returning milliseconds, got ${show(given.now)}`,
      );
    }
    store = new SessionStore<D>({
      kv,
      now: given.now,
      idleTimeoutSeconds: idle,
      absoluteTimeoutSeconds: absolute,
    });
  }

  const cookieName = given.cookieName ?? "sid";
  if (typeof cookieName !== "string" || !TOKEN.test(cookieName)) {
    fail(TypeError, `option "cookieName" ${show(cookieName)} is not an RFC 9110 token`);
  }
  if (/^__(host|secure)-/i.test(cookieName)) {
    fail(
      TypeError,
      `option "cookieName" ${
        show(cookieName)
      } must not carry a prefix: "__Host-" is added when the cookie is Secure`,
    );
  }
  const secure = given.secure ?? "auto";
  if (secure !== true && secure !== false && secure !== "auto") {
    fail(TypeError, `option "secure" must be true, false or "auto", got ${show(secure)}`);
  }
  const sameSite = given.sameSite ?? "Lax";
  if (sameSite !== "Lax" && sameSite !== "Strict") {
    fail(
      TypeError,
      `option "sameSite" must be "Lax" or "Strict", got ${
        show(sameSite)
      } (None would send the session cookie on cross-site requests)`,
    );
  }
  if (given.takeFlash !== undefined && typeof given.takeFlash !== "function") {
    fail(TypeError, `option "takeFlash" must be a function, got ${show(given.takeFlash)}`);
  }
  if (given.onLookup !== undefined && typeof given.onLookup !== "function") {
    fail(TypeError, `option "onLookup" must be a function, got ${show(given.onLookup)}`);
  }
  return {
    store,
    cookieName,
    secure,
    sameSite,
    takeFlash: given.takeFlash ?? takeFlashOnGet,
    onLookup: given.onLookup,
  };
}

function checkSeconds(name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    fail(
      TypeError,
      `option ${JSON.stringify(name)} must be a whole number of seconds, got ${show(value)}`,
    );
  }
  // RFC 6265bis 5.6: browsers cap a cookie's Max-Age at 400 days, so a longer session would
  // outlive its cookie.
  if (value < 1 || value > MAX_COOKIE_AGE_SECONDS) {
    fail(
      RangeError,
      `option ${
        JSON.stringify(name)
      } must be from 1 to ${MAX_COOKIE_AGE_SECONDS} seconds (400 days), got ${value}`,
    );
  }
}
