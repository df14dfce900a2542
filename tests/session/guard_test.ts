import { strictEqual, throws } from "node:assert/strict";
import { Hono } from "hono";
import { requireSession, type RequireSessionOptions, sessionMiddleware } from "@kvsession/hono";
import { createTestSessions } from "@kvsession/hono/testing";

Deno.test("requireSession() refuses a request without a session with 401, not stored", async () => {
  await using t = await createTestSessions();
  const app = new Hono()
    .use(sessionMiddleware({ store: t.store }))
    .get("/account", requireSession(), (c) => c.text("secret"));
  const res = await app.request("http://localhost/account");
  strictEqual(res.status, 401);
  strictEqual(res.headers.get("Content-Type"), "text/plain; charset=UTF-8");
  strictEqual(res.headers.get("Cache-Control"), "no-store");
  strictEqual(await res.text(), "Sign-in required");
});

Deno.test("requireSession() lets a live session through and marks the page no-store", async () => {
  await using t = await createTestSessions();
  const app = new Hono()
    .use(sessionMiddleware({ store: t.store }))
    .get("/account", requireSession(), (c) => {
      c.header("Cache-Control", "public, max-age=600");
      return c.text("secret");
    });
  const Cookie = await t.signedInCookie("u1", {});
  const res = await app.request("http://localhost/account", { headers: { Cookie } });
  strictEqual(res.status, 200);
  strictEqual(await res.text(), "secret");
  strictEqual(res.headers.get("Cache-Control"), "no-store");
});

Deno.test("requireSession() uses onUnauthenticated for the refusal", async () => {
  await using t = await createTestSessions();
  const app = new Hono()
    .use(sessionMiddleware({ store: t.store }))
    .get(
      "/account",
      requireSession({ onUnauthenticated: () => Response.redirect("http://localhost/login", 303) }),
      (c) => c.text("secret"),
    );
  const res = await app.request("http://localhost/account");
  strictEqual(res.status, 303);
  strictEqual(res.headers.get("Location"), "http://localhost/login");
  strictEqual(res.headers.get("Cache-Control"), "no-store");
});

Deno.test("requireSession() checks onUnauthenticated when it is made", () => {
  throws(
    () => requireSession({ onUnauthenticated: "/login" } as unknown as RequireSessionOptions),
    new TypeError(
      'Cannot create session guard: option "onUnauthenticated" must be a function, got a value of type string',
    ),
  );
});
