/**
 * The floor for a durable session: a minimal Hono handler doing one `kv.get` on a file KV.
 *
 * `GET /dashboard` reads the cookie, makes exactly one `kv.get` of the session record and
 * answers a small page with the user's name (303 to `/login` when the record is missing). No
 * middleware, no hashing, no expiry check: everything our real `GET /dashboard` does on top of
 * this is what the benchmark's ratio to this server measures.
 *
 * The runner points it at a copy of the same KV file our server uses and hands wrk cookies whose
 * value is the token HASH (the record's key), so both read the very same records.
 *
 * Three more routes make the same one read but answer with parts of what our `GET /dashboard`
 * sends, so the benchmark can tell the cost of the response itself (paid in Deno's HTTP layer)
 * from the cost of our session code: `/dashboard-headers` adds our security, cache and
 * request-id headers, `/dashboard-page` sends a page of our dashboard's size (rendered once at
 * start-up by our own view), and `/dashboard-as-ours` sends both: the same response as ours,
 * without cookie parsing, token hashing, validation, logging or per-request rendering.
 *
 * `/tiny` is the floor of the package section (bench/package_server.ts): the same one read, then
 * the tiny text {@linkcode TINY_TEXT} with `Cache-Control: no-store`, the very response the
 * package's guarded route sends (`requireSession()` makes every guarded response `no-store`);
 * 401 with the package guard's text when the record is missing.
 *
 * Usage: `KV_PATH=... PORT=... HOSTNAME=127.0.0.1 deno run --allow-net --allow-env
 * --allow-read --allow-write=DIR bench/kv_get_server.ts`
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { securityHeaderList } from "../src/middleware/security_headers.ts";
import { dashboardPage } from "../src/views/dashboard.ts";
import { TINY_TEXT } from "./baseline_server.ts";
import { serveOverKvFile } from "./_serve_kv.ts";

/**
 * The session package's record key for a token hash (its documented default layout), written
 * out here because the floor must not run any of the package's code.
 */
function sessionKey(tokenHash: string): Deno.KvKey {
  return ["sessions", tokenHash];
}

/** Cookie carrying the key of the session record. */
export const KV_GET_COOKIE = "__Host-sid";

interface SessionRecord {
  data: { user: { displayName: string } };
}

/** Headers our `GET /dashboard` sends besides `Content-Type` (production: HSTS on). */
const OUR_HEADERS: [string, string][] = [
  ["X-Request-Id", crypto.randomUUID()],
  ...securityHeaderList({ hsts: true }),
  ["Cache-Control", "no-store"],
];

/** Our dashboard page as the view renders it, for a user with a name of typical length. */
const OUR_PAGE = dashboardPage(
  { user: { id: "0".repeat(32), username: "bench", displayName: "Bench User" }, flash: [] },
  { cartItems: 0, sessionExpiresAt: Date.UTC(2026, 10, 27, 12) },
);

/** The app: one `kv.get` per request to any of the `/dashboard` routes. */
export function kvGetApp(kv: Deno.Kv): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok"));
  const readSession = async (c: Context) => {
    const key = getCookie(c, KV_GET_COOKIE);
    const entry = key ? await kv.get<SessionRecord>(sessionKey(key)) : null;
    return entry?.value ?? null;
  };
  const respond = (c: Context, body: ReturnType<typeof smallPage> | string, headers: boolean) => {
    if (headers) { for (const [name, value] of OUR_HEADERS) c.header(name, value); }
    return c.html(body);
  };
  app.get("/dashboard-headers", async (c) => {
    const session = await readSession(c);
    if (!session) return c.redirect("/login", 303);
    return respond(c, smallPage(session.data.user.displayName), true);
  });
  app.get("/dashboard-page", async (c) => {
    if (!await readSession(c)) return c.redirect("/login", 303);
    return respond(c, OUR_PAGE, false);
  });
  app.get("/dashboard-as-ours", async (c) => {
    if (!await readSession(c)) return c.redirect("/login", 303);
    return respond(c, OUR_PAGE, true);
  });
  app.get("/tiny", async (c) => {
    // Only the read: the record's contents are not looked at, as the guard looks at none.
    if (!await readSession(c)) return c.text("Sign-in required", 401);
    c.header("Cache-Control", "no-store");
    return c.text(TINY_TEXT);
  });
  app.get("/dashboard", async (c) => {
    const session = await readSession(c);
    if (!session) return c.redirect("/login", 303);
    return c.html(smallPage(session.data.user.displayName));
  });
  return app;
}

/** The floor's page: the greeting, rendered per request like ours. */
function smallPage(name: string): HtmlEscapedString | Promise<HtmlEscapedString> {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <title>Dashboard</title>
      </head>
      <body>
        <main>
          <h1>Welcome, ${name}!</h1>
        </main>
      </body>
    </html>
  `;
}

if (import.meta.main) await serveOverKvFile("kv.get", kvGetApp);
