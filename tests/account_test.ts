import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { hashToken } from "@kvsession/hono";
import {
  createTestApp,
  form,
  setCookieValue,
  signIn,
  signUp,
  type TestApp,
  withSession,
} from "./_helpers.ts";

/** Where the session package keeps a record, as its documentation states (default key prefix). */
const sessionKey = (tokenHash: string): Deno.KvKey => ["sessions", tokenHash];

const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "a brand new passphrase";
const FORM_TYPE = { "Content-Type": "application/x-www-form-urlencoded" };
const FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const CLEARED_COOKIE = "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";

/** Signs `username` in with a browser's User-Agent and returns the new session token. */
async function signInAs(
  app: TestApp,
  userAgent: string,
  username = "alice",
  password = PASSWORD,
): Promise<string> {
  const response = await signIn(app, username, password, { headers: { "User-Agent": userAgent } });
  strictEqual(response.status, 303, `sign-in of ${username}`);
  const token = setCookieValue(response, "sid");
  ok(token, "sign-in set no session cookie");
  return token;
}

function postForm(
  app: TestApp,
  token: string,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return app.request(path, {
    ...form(fields),
    headers: withSession(token, { ...FORM_TYPE, ...headers }),
  });
}

async function accountPage(app: TestApp, token: string): Promise<string> {
  const response = await app.request("/account", { headers: withSession(token) });
  strictEqual(response.status, 200);
  return await response.text();
}

/** The rows of the sessions table: the opaque id and the row's HTML. */
function sessionRows(page: string): { id: string; html: string }[] {
  return [...page.matchAll(/<tr data-session-id="([^"]*)">([\s\S]*?)<\/tr>/g)].map((match) => ({
    id: match[1]!,
    html: match[2]!,
  }));
}

/** The public id of the session `token` as its own account page lists it. */
async function currentSessionId(app: TestApp, token: string): Promise<string> {
  const current = sessionRows(await accountPage(app, token)).filter((row) =>
    row.html.includes("this device")
  );
  strictEqual(current.length, 1);
  return current[0]!.id;
}

/** A signed-out session: pages send it to /login (and clear the cookie), the API answers 401. */
async function assertSignedOut(app: TestApp, token: string, label = "session"): Promise<void> {
  const page = await app.request("/dashboard", { headers: withSession(token) });
  await page.body?.cancel();
  strictEqual(page.status, 303, `${label}: GET /dashboard`);
  strictEqual(page.headers.get("Location"), "/login?next=%2Fdashboard", label);
  deepStrictEqual(page.headers.getSetCookie(), [CLEARED_COOKIE], label);
  const api = await app.request("/api/cart", { headers: withSession(token) });
  strictEqual(api.status, 401, `${label}: GET /api/cart`);
  deepStrictEqual(await api.json(), {
    error: "unauthorized",
    message: "Sign in to use this endpoint.",
  });
  const account = await app.request("/account", { headers: withSession(token) });
  await account.body?.cancel();
  strictEqual(account.status, 303, `${label}: GET /account`);
  strictEqual(account.headers.get("Location"), "/login?next=%2Faccount", label);
}

async function assertSignedIn(app: TestApp, token: string, label = "session"): Promise<void> {
  const page = await app.request("/dashboard", { headers: withSession(token) });
  await page.body?.cancel();
  strictEqual(page.status, 200, `${label}: GET /dashboard`);
  const api = await app.request("/api/cart", { headers: withSession(token) });
  await api.body?.cancel();
  strictEqual(api.status, 200, `${label}: GET /api/cart`);
}

function noServerErrors(app: TestApp): void {
  deepStrictEqual(app.logger.lines.filter((line) => line.level === "error"), []);
}

function isoTime(ms: number): string {
  return `<time datetime="${new Date(ms).toISOString()}">`;
}

Deno.test("GET /account redirects to /login without a session", async () => {
  const app = await createTestApp();
  try {
    const response = await app.request("/account");
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/login?next=%2Faccount");
  } finally {
    app.close();
  }
});

Deno.test("GET /account lists the user's live sessions with device, times and this device", async () => {
  const app = await createTestApp();
  try {
    const t0 = app.clock.now();
    await signUp(app);
    await signUp(app, "bob", "bob's good password", "Bob");
    app.clock.advance(60_000);
    const firefox = await signInAs(app, FIREFOX_LINUX);
    app.clock.advance(60_000);
    const chrome = await signInAs(app, CHROME_WINDOWS);
    // Activity on the Firefox session moves its "last seen".
    app.clock.advance(60_000);
    const added = await postForm(app, firefox, "/cart", { productId: "mug" });
    await added.body?.cancel();
    strictEqual(added.status, 303);

    const response = await app.request("/account", { headers: withSession(chrome) });
    strictEqual(response.status, 200);
    strictEqual(response.headers.get("Cache-Control"), "no-store");
    const page = await response.text();
    const rows = sessionRows(page);
    // Alice's three sessions, oldest first; none of Bob's.
    strictEqual(rows.length, 3);
    const [signup, first, second] = rows as [typeof rows[0], typeof rows[0], typeof rows[0]];
    ok(signup.html.includes("Unknown device"));
    ok(signup.html.includes(isoTime(t0) + new Date(t0).toUTCString() + "</time>"));
    ok(first.html.includes("Firefox on Linux"));
    ok(first.html.includes(isoTime(t0 + 60_000)), "created");
    ok(first.html.includes(isoTime(t0 + 180_000)), "last seen");
    ok(second.html.includes("Chrome on Windows"));
    strictEqual(second.html.match(/<time datetime/g)?.length, 2);
    strictEqual(second.html.match(new RegExp(isoTime(t0 + 120_000), "g"))?.length, 2);
    // "this device" on the current session only, and no revoke button there.
    strictEqual(page.match(/this device/g)?.length, 1);
    ok(second.html.includes('<span class="tag">this device</span>'));
    ok(!second.html.includes("/account/sessions/revoke"));
    for (const other of [signup, first]) {
      ok(other.html.includes(`<input type="hidden" name="id" value="${other.id}">`));
    }
    ok(page.includes('action="/account/logout-others"'));
    ok(page.includes('action="/account/password"'));
    noServerErrors(app);
  } finally {
    app.close();
  }
});

Deno.test("GET /account never shows a session token or its hash", async () => {
  const app = await createTestApp();
  try {
    const tokens = [
      await signUp(app),
      await signInAs(app, FIREFOX_LINUX),
      await signInAs(app, CHROME_WINDOWS),
    ];
    for (const token of tokens) {
      const response = await app.request("/account", { headers: withSession(token) });
      const headers = JSON.stringify([...response.headers]);
      const page = await response.text();
      strictEqual(sessionRows(page).length, 3);
      for (const secret of tokens.flatMap((t) => [t, hashToken(t)])) {
        ok(!page.includes(secret), "a token or token hash is in the page");
        ok(!headers.includes(secret), "a token or token hash is in the headers");
      }
    }
  } finally {
    app.close();
  }
});

Deno.test("GET /account's session ids cannot be used as a session cookie", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    await signInAs(app, FIREFOX_LINUX);
    const ids = sessionRows(await accountPage(app, token)).map((row) => row.id);
    strictEqual(ids.length, 2);
    for (const id of ids) {
      ok(/^[A-Za-z0-9_-]{16,}$/.test(id), id);
      notStrictEqual(id, token);
      await assertSignedOut(app, id, `id ${id} as a cookie`);
      // Nor is the id a key of the session store.
      strictEqual((await app.kv.get(sessionKey(id))).value, null);
    }
  } finally {
    app.close();
  }
});

Deno.test("POST /account/sessions/revoke ends one of the user's own sessions", async () => {
  const app = await createTestApp();
  try {
    const current = await signUp(app);
    const phone = await signInAs(app, SAFARI_IPHONE);
    const laptop = await signInAs(app, FIREFOX_LINUX);
    const phoneId = await currentSessionId(app, phone);

    const response = await postForm(app, current, "/account/sessions/revoke", { id: phoneId });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/account");

    const page = await accountPage(app, current);
    ok(page.includes("That device was signed out."));
    deepStrictEqual(
      sessionRows(page).map((row) => row.id).includes(phoneId),
      false,
      "the revoked session is still listed",
    );
    strictEqual(sessionRows(page).length, 2);
    ok(!page.includes("Safari on iOS"));

    await assertSignedOut(app, phone, "revoked session");
    await assertSignedIn(app, current, "current session");
    await assertSignedIn(app, laptop, "other session");

    // Revoking it again: it no longer exists.
    const again = await postForm(app, current, "/account/sessions/revoke", { id: phoneId });
    strictEqual(again.status, 404);
    ok((await again.text()).includes("That session does not exist or has already ended."));
    noServerErrors(app);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/sessions/revoke answers 404 for another user's session and leaves it alive", async () => {
  const app = await createTestApp();
  try {
    const alice = await signUp(app);
    const bob = await signUp(app, "bob", "bob's good password", "Bob");
    const bobId = await currentSessionId(app, bob);

    const response = await postForm(app, alice, "/account/sessions/revoke", { id: bobId });
    strictEqual(response.status, 404);
    ok((await response.text()).includes("That session does not exist or has already ended."));
    await assertSignedIn(app, bob, "Bob's session");
    await assertSignedIn(app, alice, "Alice's session");
    strictEqual(sessionRows(await accountPage(app, bob)).length, 1);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/sessions/revoke answers 404 for ids that name no session of the user", async (t) => {
  const app = await createTestApp();
  try {
    const alice = await signUp(app);
    const other = await signInAs(app, FIREFOX_LINUX);
    const cases: [string, Record<string, string>][] = [
      ["no id", {}],
      ["empty id", { id: "" }],
      ["unknown id", { id: "AAAAAAAAAAAAAAAAAAAAAA" }],
      // The secret forms of a session are not its public id either.
      ["another session's token", { id: other }],
      ["another session's token hash", { id: hashToken(other) }],
      ["path-like id", { id: "../alice" }],
      // Longer than a Deno KV key may be: must be a 404, not a KV error.
      ["very long id", { id: "x".repeat(5000) }],
    ];
    for (const [name, fields] of cases) {
      await t.step(name, async () => {
        const response = await postForm(app, alice, "/account/sessions/revoke", fields);
        strictEqual(response.status, 404);
        ok((await response.text()).includes("That session does not exist or has already ended."));
      });
    }
    await assertSignedIn(app, other, "other session");
    noServerErrors(app);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/sessions/revoke of the current session signs it out", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const other = await signInAs(app, FIREFOX_LINUX);
    const id = await currentSessionId(app, token);
    const response = await postForm(app, token, "/account/sessions/revoke", { id });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/login");
    deepStrictEqual(response.headers.getSetCookie(), [CLEARED_COOKIE]);
    await assertSignedOut(app, token);
    await assertSignedIn(app, other, "other session");
  } finally {
    app.close();
  }
});

Deno.test("POST /account/logout-others ends every session but the current one", async () => {
  const app = await createTestApp();
  try {
    const first = await signUp(app);
    const current = await signInAs(app, FIREFOX_LINUX);
    const third = await signInAs(app, CHROME_WINDOWS);
    const bob = await signUp(app, "bob", "bob's good password", "Bob");
    const currentId = await currentSessionId(app, current);

    const response = await postForm(app, current, "/account/logout-others", {});
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/account");
    strictEqual(response.headers.getSetCookie().length, 0, "the current cookie is kept");

    const page = await accountPage(app, current);
    ok(page.includes("Signed out of 2 other sessions."));
    deepStrictEqual(sessionRows(page).map((row) => row.id), [currentId]);
    ok(!page.includes('action="/account/logout-others"'), "nothing left to sign out");

    await assertSignedOut(app, first, "first session");
    await assertSignedOut(app, third, "third session");
    await assertSignedIn(app, current, "current session");
    await assertSignedIn(app, bob, "Bob's session");

    const again = await postForm(app, current, "/account/logout-others", {});
    await again.body?.cancel();
    strictEqual(again.status, 303);
    ok((await accountPage(app, current)).includes("Signed out of 0 other sessions."));
    noServerErrors(app);
  } finally {
    app.close();
  }
});

Deno.test("POST /account actions from another site are refused with 403", async (t) => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const other = await signInAs(app, FIREFOX_LINUX);
    const otherId = await currentSessionId(app, other);
    const cases: [string, Record<string, string>][] = [
      ["/account/sessions/revoke", { id: otherId }],
      ["/account/logout-others", {}],
      ["/account/password", { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }],
    ];
    for (const [path, fields] of cases) {
      await t.step(path, async () => {
        const response = await postForm(app, token, path, fields, {
          Origin: "https://evil.example",
        });
        await response.body?.cancel();
        strictEqual(response.status, 403);
      });
    }
    await assertSignedIn(app, token);
    await assertSignedIn(app, other);
    strictEqual((await signIn(app, "alice", PASSWORD)).status, 303, "the password changed");
  } finally {
    app.close();
  }
});

Deno.test("POST /account/password changes the password, rotates the token and ends other sessions", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const phone = await signInAs(app, SAFARI_IPHONE);
    const laptop = await signInAs(app, FIREFOX_LINUX);
    const bob = await signUp(app, "bob", "bob's good password", "Bob");
    const added = await postForm(app, token, "/cart", { productId: "mug", quantity: "2" });
    await added.body?.cancel();
    const id = await currentSessionId(app, token);

    const response = await postForm(app, token, "/account/password", {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/account");
    strictEqual(response.headers.get("Cache-Control"), "no-store");
    const newToken = setCookieValue(response, "sid");
    ok(newToken !== undefined && /^[A-Za-z0-9_-]{43}$/.test(newToken), "no new session cookie");
    notStrictEqual(newToken, token);
    deepStrictEqual(response.headers.getSetCookie(), [
      `sid=${newToken}; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax`,
    ]);

    // The old token is dead and gone from KV; so is every other session of Alice's.
    await assertSignedOut(app, token, "old token");
    strictEqual((await app.kv.get(sessionKey(hashToken(token)))).value, null);
    await assertSignedOut(app, phone, "phone session");
    await assertSignedOut(app, laptop, "laptop session");
    await assertSignedIn(app, bob, "Bob's session");

    // The user stays signed in on the new token, with the same session and cart.
    const page = await accountPage(app, newToken);
    ok(page.includes("Password changed. 2 other sessions were signed out."));
    deepStrictEqual(sessionRows(page).map((row) => row.id), [id]);
    ok(!page.includes(newToken) && !page.includes(hashToken(newToken)));
    const dashboard = await app.request("/dashboard", { headers: withSession(newToken) });
    strictEqual(dashboard.status, 200);
    ok((await dashboard.text()).includes("Alice"));
    const cart = await app.request("/api/cart", { headers: withSession(newToken) });
    deepStrictEqual(await cart.json(), { items: [{ productId: "mug", quantity: 2 }] });

    // The old password fails, the new one works.
    const old = await signIn(app, "alice", PASSWORD);
    strictEqual(old.status, 401);
    strictEqual(setCookieValue(old, "sid"), undefined);
    const fresh = await signIn(app, "alice", NEW_PASSWORD);
    strictEqual(fresh.status, 303);
    await assertSignedIn(app, setCookieValue(fresh, "sid")!, "sign-in with the new password");
    await assertSignedIn(app, newToken, "rotated session");
    noServerErrors(app);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/password with one other session says so in the singular", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    await signInAs(app, SAFARI_IPHONE);
    const response = await postForm(app, token, "/account/password", {
      currentPassword: PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    await response.body?.cancel();
    const newToken = setCookieValue(response, "sid")!;
    ok((await accountPage(app, newToken)).includes("Password changed. 1 other session was"));
  } finally {
    app.close();
  }
});

Deno.test("POST /account/password refuses a wrong current password with 401", async (t) => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const other = await signInAs(app, FIREFOX_LINUX);
    const cases: [string, Record<string, string>][] = [
      ["wrong current password", { currentPassword: "not my password", newPassword: NEW_PASSWORD }],
      ["wrong current and short new", { currentPassword: "nope nope", newPassword: "short" }],
      ["current password missing", { newPassword: NEW_PASSWORD }],
      ["nothing", {}],
    ];
    for (const [name, fields] of cases) {
      await t.step(name, async () => {
        const response = await postForm(app, token, "/account/password", fields);
        strictEqual(response.status, 401);
        strictEqual(response.headers.getSetCookie().length, 0);
        const page = await response.text();
        ok(
          page.includes(
            '<p class="flash error" role="alert">Your current password is not correct.',
          ),
        );
        strictEqual(sessionRows(page).length, 2, "the account page is shown again");
      });
    }
    await assertSignedIn(app, token);
    await assertSignedIn(app, other);
    strictEqual((await signIn(app, "alice", NEW_PASSWORD)).status, 401);
    strictEqual((await signIn(app, "alice", PASSWORD)).status, 303);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/password refuses a bad new password with 400", async (t) => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const other = await signInAs(app, FIREFOX_LINUX);
    const cases: [string, string, string][] = [
      ["too short", "short", "Password must be at least 8 characters"],
      ["seven characters", "1234567", "Password must be at least 8 characters"],
      ["missing", "", "Password must be at least 8 characters"],
      ["too long", "x".repeat(257), "Password must be at most 256 characters"],
    ];
    for (const [name, newPassword, message] of cases) {
      await t.step(name, async () => {
        const response = await postForm(app, token, "/account/password", {
          currentPassword: PASSWORD,
          newPassword,
        });
        strictEqual(response.status, 400);
        strictEqual(response.headers.getSetCookie().length, 0);
        ok((await response.text()).includes(message), message);
      });
    }
    await assertSignedIn(app, token);
    await assertSignedIn(app, other);
    strictEqual((await signIn(app, "alice", PASSWORD)).status, 303);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/password is throttled like sign-in", async (t) => {
  const app = await createTestApp({
    throttleLimits: { perAccount: 3, perAddress: 100, windowSeconds: 900 },
  });
  try {
    const token = await signUp(app);
    const change = (currentPassword: string) =>
      postForm(app, token, "/account/password", { currentPassword, newPassword: NEW_PASSWORD });

    await t.step("three wrong current passwords: 401 each", async () => {
      for (let i = 0; i < 3; i++) {
        const response = await change("not my password");
        await response.body?.cancel();
        strictEqual(response.status, 401);
      }
    });

    await t.step("then even the right one is refused with 429 and Retry-After", async () => {
      const response = await change(PASSWORD);
      strictEqual(response.status, 429);
      strictEqual(response.headers.get("Retry-After"), "900");
      strictEqual(response.headers.getSetCookie().length, 0);
      ok((await response.text()).includes("Too many failed attempts."));
      await assertSignedIn(app, token, "the session survives throttling");
    });

    await t.step("the same failures throttle sign-in", async () => {
      const response = await signIn(app, "alice", PASSWORD);
      strictEqual(response.status, 429);
      ok(Number(response.headers.get("Retry-After")) > 0);
    });

    await t.step("after the window the change goes through", async () => {
      app.clock.advance(900_000);
      const response = await change(PASSWORD);
      await response.body?.cancel();
      strictEqual(response.status, 303);
      ok(setCookieValue(response, "sid"));
      strictEqual((await signIn(app, "alice", NEW_PASSWORD)).status, 303);
    });
  } finally {
    app.close();
  }
});
