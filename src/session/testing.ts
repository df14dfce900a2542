/**
 * Test helpers for apps built on `@kvsession/hono`: an in-memory KV, a clock the test moves,
 * a store over both, and a signed-in `Cookie` header in one call.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { Hono } from "hono";
 * import { requireSession, sessionMiddleware } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions();
 * const app = new Hono()
 *   .use(sessionMiddleware({ store: t.store }))
 *   .get("/account", requireSession(), (c) => c.text("welcome"));
 * const Cookie = await t.signedInCookie("u1", {});
 * strictEqual((await app.request("http://localhost/account", { headers: { Cookie } })).status, 200);
 * t.clock.advance(24 * 60 * 60 * 1000); // past the 24 h idle timeout
 * const late = await app.request("http://localhost/account", { headers: { Cookie } });
 * strictEqual(late.status, 401);
 * await late.body?.cancel();
 * ```
 *
 * @module
 */
import { cookieNameFor } from "./_session_cookie.ts";
import { DEFAULT_ABSOLUTE_TIMEOUT_SECONDS, DEFAULT_IDLE_TIMEOUT_SECONDS } from "./middleware.ts";
import { type JsonValue, SessionStore } from "./store.ts";

/** A clock that moves only when the test moves it. */
export interface TestClock {
  /** The current time in milliseconds since the epoch; pass it as a `now` option. */
  now(): number;
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void;
  /** Sets the clock to `ms` milliseconds since the epoch. */
  set(ms: number): void;
}

/** Options of {@linkcode createTestSessions}. */
export interface TestSessionsOptions {
  /** Idle timeout of the store, in seconds. Default 86400, as `sessionMiddleware`. */
  idleTimeout?: number;
  /** Absolute timeout of the store, in seconds. Default 604800, as `sessionMiddleware`. */
  absoluteTimeout?: number;
  /** The clock's start, in ms since the epoch. Default 2026-01-01T00:00:00Z. */
  start?: number;
  /** Key prefix of the store, as `SessionStoreOptions.keyPrefix`. Default `[]`. */
  keyPrefix?: Deno.KvKey;
  /** The middleware's `cookieName`. Default `"sid"`. */
  cookieName?: string;
  /**
   * Whether the app's cookie is Secure, for the name `signedInCookie` uses: default false, as
   * `secure: "auto"` decides for `http://` test requests; true gives `__Host-sid`.
   */
  secure?: boolean;
}

/** What {@linkcode createTestSessions} returns; `await using` closes it. */
export interface TestSessions<D extends JsonValue = JsonValue> extends AsyncDisposable {
  /** A fresh in-memory KV (`Deno.openKv(":memory:")`). */
  kv: Deno.Kv;
  /** The clock the store uses. */
  clock: TestClock;
  /** A store over `kv` and `clock`; pass it as `sessionMiddleware({ store })`. */
  store: SessionStore<D>;
  /**
   * Creates a session for `userId` with `data` and returns a ready `Cookie` request header
   * value, such as `"sid=..."`.
   */
  signedInCookie(userId: string, data: D): Promise<string>;
  /** Closes the KV; safe to call twice. */
  close(): void;
}

/** 2026-01-01T00:00:00Z: a fixed start keeps test output the same from run to run. */
const DEFAULT_START = Date.UTC(2026, 0, 1);

/**
 * Opens an in-memory KV and makes a store over it with a controllable clock. Use the same
 * `kv`, `clock.now` and timeouts in the app under test (or pass `store` to `sessionMiddleware`)
 * so a cookie from `signedInCookie` is accepted.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions<{ name: string }>({ idleTimeout: 60 });
 * const cookie = await t.signedInCookie("u1", { name: "Ada" });
 * strictEqual(cookie.startsWith("sid="), true);
 * t.clock.advance(60_000);
 * strictEqual((await t.store.get(cookie.slice(4))).status, "expired");
 * ```
 */
export async function createTestSessions<D extends JsonValue = JsonValue>(
  options: TestSessionsOptions = {},
): Promise<TestSessions<D>> {
  let time = options.start ?? DEFAULT_START;
  const clock: TestClock = {
    now: () => time,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) {
        throw new RangeError(`Cannot advance the test clock by ${ms} ms: not a finite ms >= 0`);
      }
      time += ms;
    },
    set(ms) {
      if (!Number.isFinite(ms)) throw new RangeError(`Cannot set the test clock to ${ms} ms`);
      time = ms;
    },
  };
  const kv = await Deno.openKv(":memory:");
  let store: SessionStore<D>;
  try {
    store = new SessionStore<D>({
      kv,
      now: clock.now,
      idleTimeoutSeconds: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
      absoluteTimeoutSeconds: options.absoluteTimeout ?? DEFAULT_ABSOLUTE_TIMEOUT_SECONDS,
      keyPrefix: options.keyPrefix,
    });
  } catch (error) {
    kv.close();
    throw error;
  }
  const name = cookieNameFor(options.cookieName ?? "sid", options.secure ?? false);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    kv.close();
  };
  return {
    kv,
    clock,
    store,
    async signedInCookie(userId, data) {
      const { token } = await store.create({ userId, data });
      return `${name}=${token}`;
    },
    close,
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  };
}
