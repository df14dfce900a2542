/**
 * What each request costs in Deno KV operations, counted through a wrapping KV handle: the
 * numbers the README and the issue notes quote.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  countingKv,
  createTestApp,
  form,
  setCookieValue,
  signUp,
  withSession,
} from "./_helpers.ts";

Deno.test("KV cost: sign-in 4 reads 3 writes, page 1 read, renewal 2+1, cart 2+1, sign-out 2+1", async (t) => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const app = await createTestApp({ kv });
  try {
    await signUp(app);
    const cost = async (path: string, init: RequestInit = {}) => {
      reset();
      const response = await app.request(path, init);
      await response.body?.cancel();
      return { response, counts: { ...counts } };
    };

    let token = "";
    await t.step(
      "POST /login: throttle, username, user+version, version check; throttle reservation, its refund, session",
      async () => {
        const { response, counts } = await cost(
          "/login",
          form({ username: "alice", password: "correct horse battery" }),
        );
        strictEqual(response.status, 303);
        token = setCookieValue(response, "sid")!;
        // The throttle reserves a failure and charges the hash before the password is checked
        // (so a limit holds exactly under a burst), then gives the failure back.
        deepStrictEqual(counts, { reads: 4, writes: 3 });
      },
    );

    await t.step("GET /dashboard with a live session: one read, no write", async () => {
      for (let i = 0; i < 5; i++) {
        const { response, counts } = await cost("/dashboard", { headers: withSession(token) });
        strictEqual(response.status, 200);
        deepStrictEqual(counts, { reads: 1, writes: 0 });
      }
    });

    await t.step("GET /dashboard in the second half of the idle window: renewal", async () => {
      app.clock.advance(app.services.config.idleTimeoutSeconds * 1000 * 0.6);
      const { response, counts } = await cost("/dashboard", { headers: withSession(token) });
      strictEqual(response.status, 200);
      deepStrictEqual(counts, { reads: 2, writes: 1 });
      const again = await cost("/dashboard", { headers: withSession(token) });
      deepStrictEqual(again.counts, { reads: 1, writes: 0 });
    });

    await t.step(
      "POST /api/cart: session, product, then a commit checked against the first read",
      async () => {
        const { response, counts } = await cost("/api/cart", {
          method: "POST",
          headers: withSession(token, { "Content-Type": "application/json" }),
          body: JSON.stringify({ productId: "mug" }),
        });
        strictEqual(response.status, 200);
        // loadSession's read and the product read; the update commits against the session that
        // loadSession read instead of reading it again.
        deepStrictEqual(counts, { reads: 2, writes: 1 });
      },
    );

    await t.step("POST /logout: session read, destroy's read, one commit", async () => {
      const { response, counts } = await cost("/logout", {
        method: "POST",
        headers: withSession(token),
      });
      strictEqual(response.status, 303);
      deepStrictEqual(counts, { reads: 2, writes: 1 });
    });
  } finally {
    app.close();
  }
});
