/**
 * Server-side sessions for Hono in Deno KV: a random 256-bit token in a `__Host-`, HttpOnly,
 * SameSite=Lax cookie; the record in KV under the token's SHA-256 hash; idle and absolute
 * timeouts; rotation, per-user session lists, revocation and credential versions; a guard for
 * signed-in routes and a same-origin check for unsafe methods.
 *
 * ```ts
 * import { Hono } from "hono";
 * import { requireSession, type SessionEnv, sessionMiddleware, startSession } from "@kvsession/hono";
 *
 * using kv = await Deno.openKv(":memory:"); // Deno.openKv() in production
 * const app = new Hono<SessionEnv<{ name: string }>>().use(sessionMiddleware({ kv }));
 * app.post("/login", async (c) => {
 *   await startSession(c, { userId: "u1", data: { name: "Ada" } });
 *   return c.redirect("/me", 303);
 * });
 * app.get("/me", requireSession(), (c) => c.text(`Hello ${c.get("session")!.data.name}`));
 * ```
 *
 * Cookie helpers live in `@kvsession/hono/cookies`; test helpers in `@kvsession/hono/testing`.
 *
 * @module
 */
export {
  expiresAt,
  type Flash,
  generateToken,
  hashToken,
  isWellFormedToken,
  type JsonValue,
  MAX_FLASH_MESSAGES,
  MAX_SESSION_BYTES,
  type Session,
  SessionConflictError,
  type SessionLookup,
  type SessionRead,
  SessionStore,
  type SessionStoreOptions,
  type SessionSummary,
  SessionTooLargeError,
  StaleCredentialsError,
} from "./store.ts";
export {
  DEFAULT_ABSOLUTE_TIMEOUT_SECONDS,
  DEFAULT_IDLE_TIMEOUT_SECONDS,
  type SessionCookie,
  type SessionCookieOptions,
  type SessionEnv,
  type SessionKvMiddlewareOptions,
  sessionMiddleware,
  type SessionMiddlewareOptions,
  type SessionOutcome,
  type SessionStoreMiddlewareOptions,
  type SessionVariables,
} from "./middleware.ts";
export {
  endOtherSessions,
  endSession,
  rotateSession,
  type RotateSessionOptions,
  type SessionDataOf,
  startSession,
  type StartSessionInput,
  updateSession,
} from "./helpers.ts";
export { requireSession, type RequireSessionOptions } from "./guard.ts";
export { isSameOriginRequest, sameOrigin, type SameOriginOptions } from "./same_origin.ts";
export {
  backoff,
  commitWithRetry,
  isDatabaseLocked,
  KvBusyError,
  type LockRetryOptions,
} from "./kv_commit.ts";
