import { strictEqual, throws } from "node:assert/strict";
import { Hono } from "hono";
import { requireSession, type SessionEnv, sessionMiddleware } from "@kvsession/hono";
import { createTestSessions } from "@kvsession/hono/testing";

Deno.test("createTestSessions() signedInCookie() signs a request in in one call", async () => {
  await using t = await createTestSessions<{ name: string }>();
  // The app is wired the way production wires it: kv and clock, default options.
  const app = new Hono<SessionEnv<{ name: string }>>()
    .use(sessionMiddleware({ kv: t.kv, now: t.clock.now }))
    .get("/me", requireSession(), (c) => c.text(c.get("session")!.data.name));
  const Cookie = await t.signedInCookie("u1", { name: "Ada" });
  strictEqual(Cookie.startsWith("sid="), true);
  const res = await app.request("http://localhost/me", { headers: { Cookie } });
  strictEqual(res.status, 200);
  strictEqual(await res.text(), "Ada");
});

Deno.test("createTestSessions() clock.advance() expires a session without sleeping", async () => {
  await using t = await createTestSessions({ idleTimeout: 600, absoluteTimeout: 3600 });
  const app = new Hono()
    .use(sessionMiddleware({ kv: t.kv, now: t.clock.now, idleTimeout: 600, absoluteTimeout: 3600 }))
    .get("/me", requireSession(), (c) => c.text("ok"));
  const Cookie = await t.signedInCookie("u1", {});
  t.clock.advance(599_000);
  const before = await app.request("http://localhost/me", { headers: { Cookie } });
  strictEqual(before.status, 200);
  await before.body?.cancel();
  // The request above renewed the idle deadline to 599 s + 600 s; let that pass too.
  t.clock.advance(600_000);
  const after = await app.request("http://localhost/me", { headers: { Cookie } });
  strictEqual(after.status, 401);
  await after.body?.cancel();
});

Deno.test("createTestSessions() names the cookie as a Secure app would", async () => {
  await using t = await createTestSessions({ secure: true, cookieName: "shop" });
  strictEqual((await t.signedInCookie("u1", {})).startsWith("__Host-shop="), true);
});

Deno.test("createTestSessions() clock refuses to go backwards by advance()", async () => {
  await using t = await createTestSessions({ start: 1000 });
  strictEqual(t.clock.now(), 1000);
  throws(() => t.clock.advance(-1), RangeError);
  t.clock.set(5);
  strictEqual(t.clock.now(), 5);
});

Deno.test("createTestSessions() close() is safe twice", async () => {
  const t = await createTestSessions();
  t.close();
  t.close();
});
