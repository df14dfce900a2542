/**
 * The session package alone (`@kvsession/hono`), for the package section of the benchmark: a
 * Hono app with nothing but `sessionMiddleware` over a KV file, no access log, no page, no
 * security headers.
 *
 * - `GET /tiny` is guarded by `requireSession()` and answers {@linkcode TINY_TEXT} (the guard
 *   adds `Cache-Control: no-store`); its floor is the same response from `GET /tiny` of
 *   bench/kv_get_server.ts, which makes the same one `kv.get` and nothing else.
 * - `GET /public` answers the same text unguarded; driven without a cookie it shows what the
 *   middleware costs a visitor who is not signed in, against bare Hono's `GET /tiny`
 *   (bench/baseline_server.ts).
 *
 * The runner points it at a copy of the KV file whose sessions the package's `SessionStore`
 * wrote (bench/_seed.ts), with the default timeouts, and sends `__Host-sid=TOKEN` cookies:
 * `secure: true` names the cookie `__Host-sid` over the benchmark's plain `http:` URLs, as
 * behind a proxy that ends TLS.
 *
 * Usage: `KV_PATH=... PORT=... HOSTNAME=127.0.0.1 deno run --allow-net --allow-env
 * --allow-read=DIR --allow-write=DIR bench/package_server.ts`
 *
 * @module
 */
import { Hono } from "hono";
import { requireSession, type SessionEnv, sessionMiddleware } from "@kvsession/hono";
import { TINY_TEXT } from "./baseline_server.ts";
import { serveOverKvFile } from "./_serve_kv.ts";

/** The app: the package's middleware, one guarded route and one public route. */
export function packageApp(kv: Deno.Kv): Hono<SessionEnv> {
  return new Hono<SessionEnv>()
    .use(sessionMiddleware({ kv, secure: true }))
    .get("/healthz", (c) => c.text("ok"))
    .get("/tiny", requireSession(), (c) => c.text(TINY_TEXT))
    .get("/public", (c) => c.text(TINY_TEXT));
}

if (import.meta.main) await serveOverKvFile("package", packageApp);
