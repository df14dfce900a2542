import { deepStrictEqual, notStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { Hono } from "hono";
import {
  endOtherSessions,
  endSession,
  rotateSession,
  type SessionEnv,
  sessionMiddleware,
  StaleCredentialsError,
  startSession,
  updateSession,
} from "@kvsession/hono";
import { createTestSessions, type TestSessions } from "@kvsession/hono/testing";
import { cookiePair } from "./_counting_kv.ts";

type Data = { cart: string[] };

function appFor(t: TestSessions<Data>) {
  return new Hono<SessionEnv<Data>>()
    .use(sessionMiddleware({ store: t.store }))
    .post("/login", async (c) => {
      const session = await startSession(c, {
        userId: "u1",
        data: { cart: [] },
        userAgent: "Test",
      });
      // The context follows: later code in the request sees the new session.
      return c.json({ id: session.id, same: c.get("session")?.id === session.id });
    })
    .post("/login-stale", async (c) => {
      await startSession(c, { userId: "u1", data: { cart: [] }, credentialVersion: 5 });
      return c.text("unreachable");
    })
    .post("/cart", async (c) => {
      const session = await updateSession(c, (data) => ({ cart: [...data.cart, "tea"] }), {
        flash: { kind: "info", text: "Added." },
      });
      return c.json(session === null ? null : { cart: session.data.cart, flash: session.flash });
    })
    .post("/logout", async (c) => c.json({ ended: await endSession(c), session: c.get("session") }))
    .post("/rotate", async (c) => {
      const rotated = await rotateSession(c, { bumpCredentialVersion: true });
      return c.json(rotated === null ? null : { ended: rotated.ended });
    })
    .post("/end-others", async (c) => c.text(String(await endOtherSessions(c))))
    .get("/", (c) => c.json(c.get("session")?.data ?? null))
    .onError((error, c) => c.text(error.name, 500));
}

const post = (Cookie?: string): RequestInit => ({
  method: "POST",
  headers: Cookie === undefined ? {} : { Cookie },
});

Deno.test("startSession() sets a new cookie and ends the session the request had", async () => {
  await using t = await createTestSessions<Data>();
  const app = appFor(t);
  const old = await t.signedInCookie("u0", { cart: ["old"] });
  const res = await app.request("http://localhost/login", post(old));
  strictEqual((await res.json()).same, true);
  const [setCookie] = res.headers.getSetCookie();
  strictEqual(
    /^sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/.test(setCookie!),
    true,
  );
  strictEqual(res.headers.get("Cache-Control"), "no-store");
  const fresh = cookiePair(res)!;
  notStrictEqual(fresh, old);
  strictEqual((await t.store.get(old.slice(4))).status, "missing");
  strictEqual((await t.store.get(fresh.slice(4))).status, "valid");
});

Deno.test("startSession() leaves the request's session alone when it fails", async () => {
  await using t = await createTestSessions<Data>();
  const app = appFor(t);
  const old = await t.signedInCookie("u0", { cart: [] });
  const res = await app.request("http://localhost/login-stale", post(old));
  strictEqual(res.status, 500);
  strictEqual(await res.text(), "StaleCredentialsError");
  strictEqual((await t.store.get(old.slice(4))).status, "valid");
  await rejects(
    t.store.create({ userId: "u1", data: { cart: [] }, credentialVersion: 5 }),
    StaleCredentialsError,
  );
});

Deno.test("updateSession() changes the data and queues a flash in one commit", async () => {
  await using t = await createTestSessions<Data>();
  const app = appFor(t);
  const Cookie = await t.signedInCookie("u1", { cart: [] });
  const res = await app.request("http://localhost/cart", post(Cookie));
  deepStrictEqual(await res.json(), { cart: ["tea"], flash: [{ kind: "info", text: "Added." }] });
  const page = await app.request("http://localhost/", { headers: { Cookie } });
  deepStrictEqual(await page.json(), { cart: ["tea"] });
});

Deno.test("updateSession() returns null and sets no cookie when signed out", async () => {
  await using t = await createTestSessions<Data>();
  const res = await appFor(t).request("http://localhost/cart", post());
  strictEqual(await res.json(), null);
  deepStrictEqual(res.headers.getSetCookie(), []);
});

Deno.test("endSession() destroys the session and clears the cookie", async () => {
  await using t = await createTestSessions<Data>();
  const app = appFor(t);
  const Cookie = await t.signedInCookie("u1", { cart: [] });
  const res = await app.request("http://localhost/logout", post(Cookie));
  deepStrictEqual(await res.json(), { ended: true, session: null });
  deepStrictEqual(res.headers.getSetCookie(), ["sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"]);
  strictEqual(res.headers.get("Cache-Control"), "no-store");
  strictEqual((await t.store.get(Cookie.slice(4))).status, "missing");
  const again = await app.request("http://localhost/logout", post(Cookie));
  strictEqual((await again.json()).ended, false);
});

Deno.test("rotateSession() moves the session to a new cookie and kills the old token", async () => {
  await using t = await createTestSessions<Data>();
  const app = appFor(t);
  const other = await t.signedInCookie("u1", { cart: [] });
  const Cookie = await t.signedInCookie("u1", { cart: ["kept"] });
  const res = await app.request("http://localhost/rotate", post(Cookie));
  deepStrictEqual(await res.json(), { ended: 1 });
  const fresh = cookiePair(res)!;
  notStrictEqual(fresh, Cookie);
  strictEqual((await t.store.get(Cookie.slice(4))).status, "missing");
  strictEqual((await t.store.get(other.slice(4))).status, "missing");
  const page = await app.request("http://localhost/", { headers: { Cookie: fresh } });
  deepStrictEqual(await page.json(), { cart: ["kept"] });
});

Deno.test("rotateSession() returns null when signed out", async () => {
  await using t = await createTestSessions<Data>();
  const res = await appFor(t).request("http://localhost/rotate", post());
  strictEqual(await res.json(), null);
});

Deno.test("endOtherSessions() ends the subject's other sessions only", async () => {
  await using t = await createTestSessions<Data>();
  const app = appFor(t);
  const first = await t.signedInCookie("u1", { cart: [] });
  const stranger = await t.signedInCookie("u2", { cart: [] });
  const Cookie = await t.signedInCookie("u1", { cart: [] });
  const res = await app.request("http://localhost/end-others", post(Cookie));
  strictEqual(await res.text(), "1");
  strictEqual((await t.store.get(first.slice(4))).status, "missing");
  strictEqual((await t.store.get(stranger.slice(4))).status, "valid");
  strictEqual((await t.store.get(Cookie.slice(4))).status, "valid");
  strictEqual(await (await app.request("http://localhost/end-others", post())).text(), "0");
});

Deno.test("request helpers explain a missing sessionMiddleware()", async () => {
  const app = new Hono().post("/", async (c) => {
    try {
      await endSession(c);
      return c.text("no error");
    } catch (error) {
      return c.text((error as Error).message);
    }
  });
  const res = await app.request("http://localhost/", { method: "POST" });
  strictEqual(
    await res.text(),
    "endSession() needs sessionMiddleware() to run first on this route",
  );
});
