// A minimal app on @kvsession/hono: sign in, a guarded page, sign out. From the repository root:
//
//   deno run --allow-net=127.0.0.1 --allow-env=PORT examples/minimal.ts
//
// then open http://127.0.0.1:8000/ (PORT=0 picks a free port; the address is printed).
import { Hono } from "hono";
import {
  endSession,
  requireSession,
  sameOrigin,
  type SessionEnv,
  sessionMiddleware,
  startSession,
} from "@kvsession/hono";

const kv = await Deno.openKv(":memory:"); // Deno.openKv() keeps sessions across restarts
const app = new Hono<SessionEnv<{ name: string }>>()
  .use(sameOrigin()) // unsafe methods only from this origin (CSRF)
  .use(sessionMiddleware({ kv })); // secure: true behind a proxy that ends TLS

app.get("/", (c) =>
  c.html(`<form method="post" action="/login">
    <input name="name" placeholder="Your name"><button>Sign in</button></form>`));

app.post("/login", async (c) => {
  const name = String((await c.req.parseBody()).name ?? "").slice(0, 64) || "guest";
  // Demo only: a real app checks a password here.
  await startSession(c, { userId: name, data: { name } });
  return c.redirect("/me", 303);
});

app.get("/me", requireSession(), (c) => c.text(`Signed in as ${c.get("session")!.data.name}`));

app.post("/logout", async (c) => {
  await endSession(c);
  return c.redirect("/", 303);
});

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8000),
  onListen: ({ hostname, port }) => console.log(`Listening on http://${hostname}:${port}/`),
}, app.fetch);
