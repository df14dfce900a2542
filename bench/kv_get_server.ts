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
 * Usage: `KV_PATH=... PORT=... HOSTNAME=127.0.0.1 deno run --allow-net --allow-env
 * --allow-read --allow-write=DIR bench/kv_get_server.ts`
 *
 * @module
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import { sessionKey } from "../src/kv_keys.ts";

/** Cookie carrying the key of the session record. */
export const KV_GET_COOKIE = "__Host-sid";

interface SessionRecord {
  data: { user: { displayName: string } };
}

/** The app: one `kv.get` per `GET /dashboard`. */
export function kvGetApp(kv: Deno.Kv): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok"));
  app.get("/dashboard", async (c) => {
    const key = getCookie(c, KV_GET_COOKIE);
    const entry = key ? await kv.get<SessionRecord>(sessionKey(key)) : null;
    if (!entry?.value) return c.redirect("/login", 303);
    return c.html(
      html`
        <!doctype html>
        <html lang="en">
          <head>
            <meta charset="utf-8">
            <title>Dashboard</title>
          </head>
          <body>
            <main>
              <h1>Welcome, ${entry
                .value.data.user.displayName}!</h1>
            </main>
          </body>
        </html>
      `,
    );
  });
  return app;
}

if (import.meta.main) {
  const path = Deno.env.get("KV_PATH");
  if (!path) {
    console.error("Set KV_PATH to the KV file to read");
    Deno.exit(2);
  }
  const kv = await Deno.openKv(path);
  const server = Deno.serve({
    hostname: Deno.env.get("HOSTNAME") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "0"),
    onListen: ({ hostname, port }) => console.error(`kv.get server on ${hostname}:${port}`),
  }, kvGetApp(kv).fetch);
  Deno.addSignalListener("SIGTERM", () => {
    server.shutdown().then(() => kv.close()).then(() => Deno.exit(0));
  });
}
