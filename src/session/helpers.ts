/**
 * Request helpers: start, update, end and rotate the request's session, setting or clearing the
 * cookie as they go. Thin over {@linkcode SessionStore}; they use the store and the cookie that
 * {@linkcode sessionMiddleware} put on the context, and keep the context's session variables in
 * step so later middleware and the handler see the new state.
 *
 * @module
 */
import type { Context, Env } from "hono";
import type { SessionEnv } from "./middleware.ts";
import type { Flash, JsonValue, Session } from "./store.ts";

/**
 * The session data type of a Hono environment `E`: `D` when its variables include
 * `SessionVariables<D>`, otherwise {@linkcode JsonValue}.
 */
export type SessionDataOf<E extends Env> = E["Variables"] extends
  { session: Session<infer D> | null } ? D : JsonValue;

/** What {@linkcode startSession} needs. */
export interface StartSessionInput<D extends JsonValue> {
  /** The subject (user) the session belongs to, as the app names it. */
  userId: string;
  /** The session's initial data. */
  data: D;
  /** Short device description shown in session lists (cut to 80 characters). */
  userAgent?: string;
  /**
   * The user's credential version as read (with `SessionStore.credentialVersion`) before the
   * password was checked: a password change in between then fails the sign-in.
   */
  credentialVersion?: number;
  /** Adds the app's own checks and writes to the commit that creates the session. */
  include?: (operation: Deno.AtomicOperation) => Deno.AtomicOperation;
}

/** Options of {@linkcode rotateSession}. */
export interface RotateSessionOptions {
  /** Bump the user's credential version and end their other sessions (a password change). */
  bumpCredentialVersion?: boolean;
  /** Adds the app's own checks and writes to the rotation's commit. */
  include?: (operation: Deno.AtomicOperation) => Deno.AtomicOperation;
}

type Ctx<D extends JsonValue> = Context<SessionEnv<D>>;

function sessionContext<D extends JsonValue>(c: Context, helper: string): Ctx<D> {
  const typed = c as unknown as Ctx<D>;
  if (typed.get("sessionStore") === undefined) {
    throw new Error(`${helper}() needs sessionMiddleware() to run first on this route`);
  }
  return typed;
}

/**
 * Signs a subject in: creates a session with a new token and sets the cookie. A session the
 * request already had is ended once the new one exists (ASVS 4.0.3 3.2.1, 5.0 7.2.4: a new token
 * at every sign-in, the old one terminated), so a token the client sent is never kept (no
 * fixation), and a failed start (say, `StaleCredentialsError`) leaves the request as it was.
 *
 * @returns the new session, also set as the `session` variable
 * @throws {StaleCredentialsError} when `credentialVersion` or an `include` check no longer holds
 * @throws {SessionTooLargeError} when `data` does not fit in one KV value
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { type SessionEnv, sessionMiddleware, startSession } from "@kvsession/hono";
 *
 * const kv = await Deno.openKv(":memory:");
 * const app = new Hono<SessionEnv<{ role: string }>>()
 *   .use(sessionMiddleware({ kv }))
 *   .post("/login", async (c) => {
 *     const session = await startSession(c, { userId: "u1", data: { role: "admin" } });
 *     return c.text(session.userId);
 *   });
 * const res = await app.request("http://localhost/login", { method: "POST" });
 * strictEqual(await res.text(), "u1");
 * strictEqual(res.headers.getSetCookie()[0]!.startsWith("sid="), true);
 * kv.close();
 * ```
 */
export async function startSession<E extends Env, D extends JsonValue = SessionDataOf<E>>(
  c: Context<E>,
  input: StartSessionInput<D>,
): Promise<Session<D>> {
  const ctx = sessionContext<D>(c, "startSession");
  const store = ctx.get("sessionStore");
  const previous = ctx.get("sessionToken");
  const created = await store.create(input);
  if (previous !== undefined) await store.destroy(previous);
  ctx.get("sessionCookie").set(ctx.res.headers, created.token, created.maxAgeSeconds);
  ctx.set("session", created.session);
  ctx.set("sessionToken", created.token);
  ctx.set("sessionRead", undefined);
  return created.session;
}

/**
 * Changes the request's session data (and optionally queues a flash message in the same
 * commit). `change` gets the newest data and may run more than once, so it must be pure;
 * returning `undefined` keeps the data. Returns the updated session, or `null` when there is no
 * live session (then the cookie is cleared).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { type SessionEnv, sessionMiddleware, updateSession } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions<{ cart: string[] }>();
 * const app = new Hono<SessionEnv<{ cart: string[] }>>()
 *   .use(sessionMiddleware({ store: t.store }))
 *   .post("/cart", async (c) => {
 *     const session = await updateSession(c, (data) => ({ cart: [...data.cart, "tea"] }));
 *     return c.json(session?.data.cart ?? null);
 *   });
 * const Cookie = await t.signedInCookie("u1", { cart: [] });
 * const res = await app.request("http://localhost/cart", { method: "POST", headers: { Cookie } });
 * deepStrictEqual(await res.json(), ["tea"]);
 * ```
 */
export async function updateSession<E extends Env, D extends JsonValue = SessionDataOf<E>>(
  c: Context<E>,
  change: (data: D, session: Session<D>) => D | undefined,
  options: { flash?: Flash } = {},
): Promise<Session<D> | null> {
  const ctx = sessionContext<D>(c, "updateSession");
  const token = ctx.get("sessionToken");
  if (token === undefined) return null;
  const updated = await ctx.get("sessionStore").update(token, change, {
    flash: options.flash,
    basis: ctx.get("sessionRead"),
  });
  ctx.set("sessionRead", undefined);
  if (updated === null) {
    forget(ctx);
    return null;
  }
  ctx.set("session", updated);
  return updated;
}

/**
 * Signs out: destroys the request's session and clears the cookie (always, so a stale cookie
 * goes too). Returns whether a session was ended.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { endSession, sessionMiddleware } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions();
 * const app = new Hono()
 *   .use(sessionMiddleware({ store: t.store }))
 *   .post("/logout", async (c) => c.text(String(await endSession(c))));
 * const Cookie = await t.signedInCookie("u1", {});
 * const res = await app.request("http://localhost/logout", { method: "POST", headers: { Cookie } });
 * strictEqual(await res.text(), "true");
 * strictEqual(res.headers.getSetCookie()[0], "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
 * ```
 */
export async function endSession(c: Context): Promise<boolean> {
  const ctx = sessionContext<JsonValue>(c, "endSession");
  const token = ctx.get("sessionToken");
  const ended = token === undefined ? false : await ctx.get("sessionStore").destroy(token);
  forget(ctx);
  return ended;
}

/**
 * Moves the request's session to a new token (after a privilege change) and sets the new
 * cookie; the old token stops working in the same commit. With `bumpCredentialVersion` (a
 * password change) the user's other sessions are ended too; `ended` says how many. Returns
 * `null` when there is no live session (then the cookie is cleared).
 *
 * @throws {StaleCredentialsError} when an `include` check failed or the session predates the
 *   user's current credentials (nothing was written)
 *
 * @example
 * ```ts
 * import { notStrictEqual, strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { rotateSession, sessionMiddleware } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions();
 * const app = new Hono()
 *   .use(sessionMiddleware({ store: t.store }))
 *   .post("/elevate", async (c) => c.json(await rotateSession(c)));
 * const Cookie = await t.signedInCookie("u1", {});
 * const res = await app.request("http://localhost/elevate", { method: "POST", headers: { Cookie } });
 * strictEqual((await res.json()).ended, 0);
 * notStrictEqual(res.headers.getSetCookie()[0]!.split(";")[0], Cookie);
 * ```
 */
export async function rotateSession<E extends Env, D extends JsonValue = SessionDataOf<E>>(
  c: Context<E>,
  options: RotateSessionOptions = {},
): Promise<{ session: Session<D>; ended: number } | null> {
  const ctx = sessionContext<D>(c, "rotateSession");
  const token = ctx.get("sessionToken");
  if (token === undefined) return null;
  const rotated = await ctx.get("sessionStore").rotate(token, {
    bumpCredentialVersion: options.bumpCredentialVersion,
    include: options.include,
    basis: ctx.get("sessionRead"),
  });
  if (rotated === null) {
    forget(ctx);
    return null;
  }
  ctx.get("sessionCookie").set(ctx.res.headers, rotated.token, rotated.maxAgeSeconds);
  ctx.set("session", rotated.session);
  ctx.set("sessionToken", rotated.token);
  ctx.set("sessionRead", undefined);
  return { session: rotated.session, ended: rotated.ended };
}

/**
 * Ends every other session of the signed-in subject, keeping this one (ASVS 4.0.3 3.3.4,
 * 5.0 7.4.3). Returns how many were ended; 0 when signed out.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { endOtherSessions, sessionMiddleware } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions();
 * const app = new Hono()
 *   .use(sessionMiddleware({ store: t.store }))
 *   .post("/sessions/end-others", async (c) => c.text(String(await endOtherSessions(c))));
 * await t.signedInCookie("u1", {}); // another device
 * const Cookie = await t.signedInCookie("u1", {});
 * const res = await app.request("http://localhost/sessions/end-others", {
 *   method: "POST",
 *   headers: { Cookie },
 * });
 * strictEqual(await res.text(), "1");
 * ```
 */
export async function endOtherSessions(c: Context): Promise<number> {
  const ctx = sessionContext<JsonValue>(c, "endOtherSessions");
  const session = ctx.get("session");
  if (session === null) return 0;
  return await ctx.get("sessionStore").revokeAll(session.userId, session.id);
}

/** Clears the cookie and the session variables after the session ended. */
function forget<D extends JsonValue>(ctx: Ctx<D>): void {
  ctx.get("sessionCookie").clear(ctx.res.headers);
  ctx.set("session", null);
  ctx.set("sessionToken", undefined);
  ctx.set("sessionRead", undefined);
}
