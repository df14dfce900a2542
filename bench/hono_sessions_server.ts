/**
 * npm `hono-sessions` on Deno KV (through bench/_hono_sessions_kv.ts, the four-method store its
 * JSR build has as `DenoKvStore`), answering the package section's routes like
 * bench/package_server.ts: `GET /tiny` only with a session holding a user (else 401), with
 * {@linkcode TINY_TEXT} and `Cache-Control: no-store`, and `GET /public` for anyone.
 *
 * Configured as its README shows for a server-side store, minus `encryptionKey` (which would
 * add an encryption and a decryption of the cookie to every request): `expireAfterSeconds` of
 * the package's idle timeout, an HttpOnly, Secure, SameSite=Lax cookie. As it is built, its
 * middleware refreshes the expiry and access time of every session it loads, so it writes the
 * session and sets the cookie on every request, and a request without a cookie creates (writes)
 * a new session.
 *
 * Usage: `KV_PATH=... PORT=... HOSTNAME=127.0.0.1 deno run --allow-net --allow-env
 * --allow-read=DIR --allow-write=DIR bench/hono_sessions_server.ts`
 *
 * @module
 */
import { Hono } from "hono";
import { type Session, sessionMiddleware } from "npm:hono-sessions@0.8.1";
import {
  DenoKvSessionStore,
  HONO_SESSIONS_COOKIE,
  HONO_SESSIONS_EXPIRE_SECONDS,
  HONO_SESSIONS_USER_KEY,
} from "./_hono_sessions_kv.ts";
import { TINY_TEXT } from "./baseline_server.ts";
import { serveOverKvFile } from "./_serve_kv.ts";

type Env = { Variables: { session: Session; session_key_rotation: boolean } };

/** The app: hono-sessions' middleware, one guarded route and one public route. */
export function honoSessionsApp(kv: Deno.Kv): Hono<Env> {
  const app = new Hono<Env>();
  app.use(sessionMiddleware({
    store: new DenoKvSessionStore(kv),
    expireAfterSeconds: HONO_SESSIONS_EXPIRE_SECONDS,
    sessionCookieName: HONO_SESSIONS_COOKIE,
    cookieOptions: { httpOnly: true, secure: true, sameSite: "Lax", path: "/" },
  }));
  app.get("/healthz", (c) => c.text("ok"));
  app.get("/tiny", (c) => {
    // hono-sessions has no guard: the check its README puts in each handler.
    if (!c.get("session").get(HONO_SESSIONS_USER_KEY)) {
      c.header("Cache-Control", "no-store");
      return c.text("Sign-in required", 401);
    }
    c.header("Cache-Control", "no-store");
    return c.text(TINY_TEXT);
  });
  app.get("/public", (c) => c.text(TINY_TEXT));
  return app;
}

if (import.meta.main) await serveOverKvFile("hono-sessions", honoSessionsApp);
