import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { Hono } from "hono";
import {
  type SessionEnv,
  sessionMiddleware,
  type SessionMiddlewareOptions,
  type SessionOutcome,
  SessionStore,
} from "@kvsession/hono";
import { createTestSessions } from "@kvsession/hono/testing";
import { countingKv } from "./_counting_kv.ts";

type Data = { name: string };

/** An app whose page reports what the middleware put on the context. */
async function setup(extra: Partial<SessionMiddlewareOptions<Data>> = {}) {
  const t = await createTestSessions<Data>();
  const counting = countingKv(t.kv);
  const outcomes: SessionOutcome[] = [];
  const app = new Hono<SessionEnv<Data>>()
    .use(sessionMiddleware<Data>({
      kv: counting.kv,
      now: t.clock.now,
      onLookup: (outcome) => outcomes.push(outcome),
      ...extra,
    } as SessionMiddlewareOptions<Data>))
    .all("/", (c) =>
      c.json({
        name: c.get("session")?.data.name ?? null,
        outcome: c.get("sessionOutcome"),
        flash: c.get("flash"),
      }));
  return { t, counting, outcomes, app };
}

Deno.test("sessionMiddleware() makes no KV call for a request without a cookie", async () => {
  const { t, counting, app, outcomes } = await setup();
  try {
    const res = await app.request("http://localhost/");
    deepStrictEqual(await res.json(), { name: null, outcome: "none", flash: [] });
    deepStrictEqual(counting.counts, { reads: 0, writes: 0 });
    deepStrictEqual(res.headers.getSetCookie(), []);
    strictEqual(res.headers.get("Cache-Control"), null);
    deepStrictEqual(outcomes, ["none"]);
  } finally {
    t.close();
  }
});

Deno.test("sessionMiddleware() loads a live session with one KV read and no write", async () => {
  const { t, counting, app, outcomes } = await setup();
  try {
    const Cookie = await t.signedInCookie("u1", { name: "Ada" });
    const res = await app.request("http://localhost/", { headers: { Cookie } });
    deepStrictEqual(await res.json(), { name: "Ada", outcome: "valid", flash: [] });
    deepStrictEqual(counting.counts, { reads: 1, writes: 0 });
    deepStrictEqual(res.headers.getSetCookie(), []);
    deepStrictEqual(outcomes, ["valid"]);
  } finally {
    t.close();
  }
});

Deno.test("sessionMiddleware() refreshes the cookie's Max-Age when it renews", async () => {
  const { t, counting, app } = await setup();
  try {
    const Cookie = await t.signedInCookie("u1", { name: "Ada" });
    // Renewal happens once less than half of the 24 h idle window is left.
    t.clock.advance(12 * 3600 * 1000 + 1000);
    const res = await app.request("http://localhost/", { headers: { Cookie } });
    strictEqual((await res.json()).outcome, "renewed");
    deepStrictEqual(res.headers.getSetCookie(), [
      `${Cookie}; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax`,
    ]);
    strictEqual(res.headers.get("Cache-Control"), "no-store");
    deepStrictEqual(counting.counts, { reads: 2, writes: 1 });
  } finally {
    t.close();
  }
});

Deno.test("sessionMiddleware() clears a cookie that names no live session", async (t) => {
  for (
    const [label, value, reads] of [
      ["unknown token", "A".repeat(43), 1],
      ["malformed token (never looked up)", "not-a-token", 0],
    ] as const
  ) {
    await t.step(label, async () => {
      const { t: sessions, counting, app, outcomes } = await setup();
      try {
        const res = await app.request("http://localhost/", { headers: { Cookie: `sid=${value}` } });
        strictEqual((await res.json()).outcome, "missing");
        deepStrictEqual(res.headers.getSetCookie(), [
          "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        ]);
        strictEqual(res.headers.get("Cache-Control"), "no-store");
        deepStrictEqual(counting.counts, { reads, writes: 0 });
        deepStrictEqual(outcomes, ["missing"]);
      } finally {
        sessions.close();
      }
    });
  }
});

Deno.test("sessionMiddleware() reports and clears an expired session", async () => {
  const { t, app } = await setup();
  try {
    const Cookie = await t.signedInCookie("u1", { name: "Ada" });
    t.clock.advance(24 * 3600 * 1000);
    const res = await app.request("http://localhost/", { headers: { Cookie } });
    strictEqual((await res.json()).outcome, "expired");
    deepStrictEqual(res.headers.getSetCookie(), [
      "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ]);
  } finally {
    t.close();
  }
});

Deno.test("sessionMiddleware() names the cookie __Host- when it is Secure", async (t) => {
  await t.step('secure "auto" over https', async () => {
    const { t: sessions, app } = await setup();
    try {
      const Cookie = `__Host-${await sessions.signedInCookie("u1", { name: "Ada" })}`;
      const res = await app.request("https://shop.example/", { headers: { Cookie } });
      strictEqual((await res.json()).name, "Ada");
      // The plain name is not read over https.
      const plain = await app.request("https://shop.example/", {
        headers: { Cookie: Cookie.slice("__Host-".length) },
      });
      strictEqual((await plain.json()).outcome, "none");
    } finally {
      sessions.close();
    }
  });
  await t.step("secure: true over http (TLS ends at a proxy)", async () => {
    const { t: sessions, app } = await setup({ secure: true, cookieName: "shop" });
    try {
      const res = await app.request("http://localhost/", {
        headers: { Cookie: "__Host-shop=" + "A".repeat(43) },
      });
      deepStrictEqual(res.headers.getSetCookie(), [
        "__Host-shop=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
      ]);
      await res.body?.cancel();
    } finally {
      sessions.close();
    }
  });
  await t.step('sameSite: "Strict"', async () => {
    const { t: sessions, app } = await setup({ secure: false, sameSite: "Strict" });
    try {
      const res = await app.request("https://shop.example/", {
        headers: { Cookie: "sid=" + "A".repeat(43) },
      });
      deepStrictEqual(res.headers.getSetCookie(), [
        "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict",
      ]);
      await res.body?.cancel();
    } finally {
      sessions.close();
    }
  });
});

Deno.test("sessionMiddleware() takes flash messages on GET only by default", async () => {
  const { t, app } = await setup();
  try {
    const Cookie = await t.signedInCookie("u1", { name: "Ada" });
    const token = Cookie.slice("sid=".length);
    await t.store.addFlash(token, { kind: "info", text: "Saved." });
    const post = await app.request("http://localhost/", { method: "POST", headers: { Cookie } });
    deepStrictEqual((await post.json()).flash, []);
    const get = await app.request("http://localhost/", { headers: { Cookie } });
    deepStrictEqual((await get.json()).flash, [{ kind: "info", text: "Saved." }]);
    const again = await app.request("http://localhost/", { headers: { Cookie } });
    deepStrictEqual((await again.json()).flash, []);
  } finally {
    t.close();
  }
});

Deno.test("sessionMiddleware() takes flash messages where takeFlash says", async () => {
  const { t, app } = await setup({ takeFlash: (c) => c.req.method === "POST" });
  try {
    const Cookie = await t.signedInCookie("u1", { name: "Ada" });
    await t.store.addFlash(Cookie.slice("sid=".length), { kind: "error", text: "No." });
    const get = await app.request("http://localhost/", { headers: { Cookie } });
    deepStrictEqual((await get.json()).flash, []);
    const post = await app.request("http://localhost/", { method: "POST", headers: { Cookie } });
    deepStrictEqual((await post.json()).flash, [{ kind: "error", text: "No." }]);
  } finally {
    t.close();
  }
});

Deno.test("sessionMiddleware() accepts a store the app made", async () => {
  await using t = await createTestSessions<Data>();
  const app = new Hono<SessionEnv<Data>>()
    .use(sessionMiddleware({ store: t.store }))
    .get("/", (c) => c.text(c.get("session")?.data.name ?? "-"));
  const Cookie = await t.signedInCookie("u1", { name: "Ada" });
  strictEqual(
    await (await app.request("http://localhost/", { headers: { Cookie } })).text(),
    "Ada",
  );
});

Deno.test("sessionMiddleware() checks every option when it is made", async (t) => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new SessionStore({ kv, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 120 });
    const cases: [string, Record<string, unknown>, ErrorConstructor, RegExp][] = [
      ["options", {}, TypeError, /option "store" or option "kv" is required/],
      [
        "unknown option",
        { kv, idleTimeoutSeconds: 60 },
        TypeError,
        /unknown option "idleTimeoutSeconds"/,
      ],
      ["store", { store: {} }, TypeError, /option "store" must be a SessionStore/],
      [
        "store with a kv option",
        { store, idleTimeout: 60 },
        TypeError,
        /option "idleTimeout" cannot be combined with "store"/,
      ],
      ["kv", { kv: "kv" }, TypeError, /option "kv" must be a Deno.Kv, got "kv"/],
      [
        "idleTimeout",
        { kv, idleTimeout: 0 },
        RangeError,
        /option "idleTimeout" must be from 1 to 34560000 seconds \(400 days\), got 0/,
      ],
      [
        "idleTimeout not whole",
        { kv, idleTimeout: 1.5 },
        TypeError,
        /option "idleTimeout" must be a whole number of seconds, got 1.5/,
      ],
      [
        "absoluteTimeout",
        { kv, absoluteTimeout: 400 * 86400 + 1 },
        RangeError,
        /option "absoluteTimeout" must be from 1 to 34560000 seconds/,
      ],
      [
        "idleTimeout over absoluteTimeout",
        { kv, idleTimeout: 7200, absoluteTimeout: 3600 },
        RangeError,
        /option "idleTimeout" \(7200 s\) is longer than "absoluteTimeout" \(3600 s\)/,
      ],
      ["now", { kv, now: 5 }, TypeError, /option "now" must be a function/],
      [
        "cookieName",
        { kv, cookieName: "s id" },
        TypeError,
        /option "cookieName" "s id" is not an RFC 9110 token/,
      ],
      [
        "cookieName with a prefix",
        { kv, cookieName: "__host-sid" },
        TypeError,
        /option "cookieName" "__host-sid" must not carry a prefix/,
      ],
      [
        "secure",
        { kv, secure: "yes" },
        TypeError,
        /option "secure" must be true, false or "auto", got "yes"/,
      ],
      [
        "sameSite",
        { kv, sameSite: "None" },
        TypeError,
        /option "sameSite" must be "Lax" or "Strict", got "None"/,
      ],
      [
        "takeFlash",
        { kv, takeFlash: true },
        TypeError,
        /option "takeFlash" must be a function, got true/,
      ],
      [
        "onLookup",
        { kv, onLookup: "log" },
        TypeError,
        /option "onLookup" must be a function, got "log"/,
      ],
    ];
    for (const [label, options, ErrorClass, message] of cases) {
      await t.step(label, () => {
        throws(
          () => sessionMiddleware(options as unknown as SessionMiddlewareOptions),
          (error: unknown) => {
            strictEqual((error as Error).constructor, ErrorClass);
            strictEqual(
              (error as Error).message.startsWith("Cannot create session middleware: "),
              true,
            );
            strictEqual(message.test((error as Error).message), true, (error as Error).message);
            return true;
          },
        );
      });
    }
  } finally {
    kv.close();
  }
});
