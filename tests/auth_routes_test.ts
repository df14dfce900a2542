import { deepStrictEqual, match, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { INVALID_CREDENTIALS_MESSAGE } from "../src/auth.ts";
import { loadConfig } from "../src/config.ts";
import { createPasswordHasher, type PasswordHasher, TEST_SCRYPT_PARAMS } from "../src/passwords.ts";
import { generateToken } from "@kvsession/hono";
import type { User } from "../src/users.ts";
import {
  createTestApp,
  form,
  ORIGIN,
  setCookieValue,
  signIn,
  signUp,
  type TestApp,
  withSession,
} from "./_helpers.ts";
import { HOSTILE_NEXT_VALUES, SAFE_NEXT_VALUES } from "./_redirect_cases.ts";

const PASSWORD = "correct horse battery";
const DEV_COOKIE = /^sid=([A-Za-z0-9_-]{43}); Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/;
const DEV_CLEAR = "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";
const TAKEN = "That username is already taken. Please choose another.";

/** Wraps a hasher so every password hash (hash, verify, verifyDummy) is counted. */
function countingHasher(
  inner: PasswordHasher = createPasswordHasher({ params: TEST_SCRYPT_PARAMS }),
): { hasher: PasswordHasher; count: () => number } {
  let calls = 0;
  const hasher: PasswordHasher = {
    params: inner.params,
    hash: (password) => (calls++, inner.hash(password)),
    verify: (password, stored) => (calls++, inner.verify(password, stored)),
    verifyDummy: (password) => (calls++, inner.verifyDummy(password)),
    stats: () => inner.stats(),
  };
  return { hasher, count: () => calls };
}

/** Posts the sign-in form and reads the body. */
async function postLogin(
  app: TestApp,
  fields: Record<string, string>,
  headers: HeadersInit = {},
): Promise<{ response: Response; body: string }> {
  const init = form(fields);
  const merged = new Headers(init.headers);
  for (const [name, value] of new Headers(headers)) merged.set(name, value);
  const response = await app.request("/login", { ...init, headers: merged });
  return { response, body: await response.text() };
}

/** Posts the sign-in form as if from the socket address `address` (as `Deno.serve` passes it). */
async function loginFrom(
  app: TestApp,
  address: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const response = await app.app.request(
    `${ORIGIN}/login`,
    {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "Sec-Fetch-Site": "same-origin",
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
    },
    { remoteAddr: { hostname: address } },
  );
  await response.body?.cancel();
  return response;
}

/** GETs `path` and reads the body. */
async function get(
  app: TestApp,
  path: string,
  headers: HeadersInit = {},
): Promise<{ response: Response; body: string }> {
  const response = await app.request(path, { headers });
  return { response, body: await response.text() };
}

/** The value of the hidden `next` field on the sign-in page. */
function hiddenNext(body: string): string | undefined {
  return /<input type="hidden" name="next" value="([^"]*)">/.exec(body)?.[1];
}

async function sessionStatus(app: TestApp, token: string): Promise<string> {
  return (await app.services.sessions.get(token)).status;
}

async function storedUsers(app: TestApp): Promise<User[]> {
  const users: User[] = [];
  for await (const entry of app.kv.list<User>({ prefix: ["users"] })) users.push(entry.value);
  return users;
}

// ---------------------------------------------------------------------------------------------
// Sign-up

Deno.test("GET /signup renders the sign-up form", async () => {
  const app = await createTestApp();
  try {
    const { response, body } = await get(app, "/signup");
    strictEqual(response.status, 200);
    match(response.headers.get("Content-Type") ?? "", /^text\/html/);
    match(body, /<form method="post" action="\/signup">/);
    for (const field of ["displayName", "username", "password"]) {
      match(body, new RegExp(`name="${field}"`));
    }
  } finally {
    app.close();
  }
});

Deno.test("POST /signup creates an account, signs it in and redirects to /dashboard", async () => {
  const app = await createTestApp();
  try {
    const response = await app.request(
      "/signup",
      form({ username: " Alice ", password: PASSWORD, displayName: "Alice A." }),
    );
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/dashboard");
    strictEqual(response.headers.get("Cache-Control"), "no-store");
    const cookies = response.headers.getSetCookie();
    strictEqual(cookies.length, 1);
    match(cookies[0]!, DEV_COOKIE);

    const [user, ...others] = await storedUsers(app);
    deepStrictEqual(others, []);
    strictEqual(user?.username, "Alice");
    strictEqual(user.normalizedUsername, "alice");
    strictEqual(user.displayName, "Alice A.");
    match(user.passwordHash, /^scrypt\$v=1\$/);
    ok(!user.passwordHash.includes(PASSWORD));

    const { response: page, body } = await get(
      app,
      "/dashboard",
      withSession(setCookieValue(response, "sid")!),
    );
    strictEqual(page.status, 200);
    match(body, /Welcome, Alice A\.!/);
  } finally {
    app.close();
  }
});

Deno.test("GET /signup sends a signed-in user to /dashboard", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const { response } = await get(app, "/signup", withSession(token));
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/dashboard");
  } finally {
    app.close();
  }
});

Deno.test("POST /signup refuses a taken username in any case or form with 409", async (t) => {
  const app = await createTestApp();
  try {
    await signUp(app, "alice");
    for (const username of ["alice", "ALICE", "Alice", " alice ", "Ａｌｉｃｅ", "ａｌｉｃｅ"]) {
      await t.step(JSON.stringify(username), async () => {
        const response = await app.request(
          "/signup",
          form({ username, password: "another password", displayName: "Impostor" }),
        );
        const body = await response.text();
        strictEqual(response.status, 409);
        ok(body.includes(TAKEN), body);
        // The form comes back filled in, except for the password.
        ok(body.includes('value="Impostor"'));
        ok(!body.includes("another password"));
        deepStrictEqual(response.headers.getSetCookie(), []);
      });
    }
    strictEqual((await storedUsers(app)).length, 1);
  } finally {
    app.close();
  }
});

Deno.test("POST /signup gives concurrent sign-ups for one name one account and 409s", async () => {
  const app = await createTestApp();
  try {
    const spellings = ["erin", "Erin", "ERIN", "Ｅｒｉｎ", "eRiN"];
    // From five addresses: one address may have only two sign-ups in flight (429 beyond).
    const responses = await Promise.all(
      spellings.map((username, i) => {
        const init = form({ username, password: PASSWORD, displayName: "Erin" });
        const headers = new Headers(init.headers);
        headers.set("Sec-Fetch-Site", "same-origin");
        return app.app.request(`${ORIGIN}/signup`, { ...init, headers }, {
          remoteAddr: { hostname: `192.0.2.${i + 1}` },
        });
      }),
    );
    for (const response of responses) await response.body?.cancel();
    deepStrictEqual(responses.map((r) => r.status).sort(), [303, 409, 409, 409, 409]);
    strictEqual((await storedUsers(app)).length, 1);
  } finally {
    app.close();
  }
});

Deno.test("POST /signup refuses bad input with 400 and a message saying why", async (t) => {
  const app = await createTestApp();
  try {
    const good = { username: "frank", password: PASSWORD, displayName: "Frank" };
    const usernameRule = "Usernames are 3 to 32 letters, digits, dots, dashes or underscores.";
    const cases: [string, Record<string, string>, string][] = [
      ["username too short", { ...good, username: "fr" }, usernameRule],
      ["username too long", { ...good, username: "f".repeat(33) }, usernameRule],
      ["username with a space", { ...good, username: "fr ank" }, usernameRule],
      ["username missing", { password: PASSWORD, displayName: "Frank" }, usernameRule],
      ["password of 7 characters", { ...good, password: "1234567" }, "at least 8 characters"],
      ["password of 257 characters", { ...good, password: "p".repeat(257) }, "at most 256"],
      ["password missing", { username: "frank", displayName: "Frank" }, "at least 8 characters"],
      ["display name empty", { ...good, displayName: "  " }, "Display names are 1 to 64"],
      ["display name too long", { ...good, displayName: "F".repeat(65) }, "Display names"],
    ];
    for (const [name, fields, message] of cases) {
      await t.step(name, async () => {
        const response = await app.request("/signup", form(fields));
        const body = await response.text();
        strictEqual(response.status, 400);
        ok(body.includes(message), body);
        deepStrictEqual(response.headers.getSetCookie(), []);
      });
    }
    strictEqual((await storedUsers(app)).length, 0);

    await t.step("8 and 256 characters are accepted", async () => {
      await signUp(app, "eight", "12345678");
      await signUp(app, "long", "p".repeat(256));
      strictEqual((await signIn(app, "long", "p".repeat(256))).status, 303);
    });
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Sign-in

Deno.test("GET /login renders the form with a hidden next", async (t) => {
  const app = await createTestApp();
  try {
    await t.step("default next is /dashboard", async () => {
      const { response, body } = await get(app, "/login");
      strictEqual(response.status, 200);
      match(body, /<form method="post" action="\/login">/);
      strictEqual(hiddenNext(body), "/dashboard");
    });
    await t.step("a same-site next is kept (HTML-escaped)", async () => {
      const { body } = await get(app, `/login?next=${encodeURIComponent("/products?page=2&q=x")}`);
      strictEqual(hiddenNext(body), "/products?page=2&amp;q=x");
    });
    await t.step("a hostile next becomes /dashboard", async () => {
      for (const value of HOSTILE_NEXT_VALUES) {
        const { body } = await get(app, `/login?next=${encodeURIComponent(value)}`);
        strictEqual(hiddenNext(body), "/dashboard", JSON.stringify(value));
      }
    });
    await t.step("a signed-in user is sent on to next", async () => {
      const token = await signUp(app);
      const { response } = await get(app, "/login?next=%2Fcart", withSession(token));
      strictEqual(response.status, 303);
      strictEqual(response.headers.get("Location"), "/cart");
    });
  } finally {
    app.close();
  }
});

Deno.test("POST /login starts a session, sets the cookie and redirects to /dashboard", async (t) => {
  const app = await createTestApp();
  try {
    await signUp(app, "alice", PASSWORD, "Alice");
    for (const username of ["alice", "ALICE", " Alice ", "Ａｌｉｃｅ"]) {
      await t.step(JSON.stringify(username), async () => {
        const response = await signIn(app, username, PASSWORD);
        strictEqual(response.status, 303);
        strictEqual(response.headers.get("Location"), "/dashboard");
        strictEqual(response.headers.get("Cache-Control"), "no-store");
        const cookies = response.headers.getSetCookie();
        strictEqual(cookies.length, 1);
        const token = DEV_COOKIE.exec(cookies[0]!)?.[1];
        ok(token, cookies[0]);
        strictEqual(await sessionStatus(app, token), "valid");
      });
    }
  } finally {
    app.close();
  }
});

Deno.test("POST /login rotates the session token", async () => {
  const app = await createTestApp();
  try {
    const old = await signUp(app);
    strictEqual(await sessionStatus(app, old), "valid");
    const response = await signIn(app, "alice", PASSWORD, { headers: withSession(old) });
    strictEqual(response.status, 303);
    const fresh = setCookieValue(response, "sid");
    ok(fresh);
    notStrictEqual(fresh, old);
    // The old session is gone from the server, not just from the browser.
    strictEqual(await sessionStatus(app, old), "missing");
    strictEqual(await sessionStatus(app, fresh), "valid");
    const { response: page } = await get(app, "/dashboard", withSession(old));
    strictEqual(page.status, 303);
    strictEqual(page.headers.get("Location"), "/login?next=%2Fdashboard");
    // One session left for the user: the new one.
    strictEqual((await app.services.sessions.list((await storedUsers(app))[0]!.id)).length, 1);
  } finally {
    app.close();
  }
});

Deno.test("POST /login never adopts a token the client made up", async () => {
  const app = await createTestApp();
  try {
    await signUp(app);
    const forged = generateToken();
    const response = await signIn(app, "alice", PASSWORD, { headers: withSession(forged) });
    strictEqual(response.status, 303);
    const sidCookies = response.headers.getSetCookie().filter((c) => c.startsWith("sid="));
    strictEqual(sidCookies.length, 1, "one Set-Cookie per name (RFC 6265bis 4.1.1)");
    const fresh = setCookieValue(response, "sid");
    ok(fresh);
    notStrictEqual(fresh, forged);
    strictEqual(await sessionStatus(app, forged), "missing");
    const { response: page } = await get(app, "/dashboard", withSession(forged));
    strictEqual(page.status, 303);
  } finally {
    app.close();
  }
});

Deno.test("POST /login redirects to a same-site next and to /dashboard otherwise", async (t) => {
  const app = await createTestApp();
  try {
    await signUp(app);
    await t.step("same-site paths", async () => {
      for (const next of SAFE_NEXT_VALUES) {
        const { response } = await postLogin(app, { username: "alice", password: PASSWORD, next });
        strictEqual(response.status, 303, next);
        strictEqual(response.headers.get("Location"), next);
      }
    });
    await t.step("hostile values", async () => {
      for (const next of HOSTILE_NEXT_VALUES) {
        const { response } = await postLogin(app, { username: "alice", password: PASSWORD, next });
        strictEqual(response.status, 303, JSON.stringify(next));
        strictEqual(response.headers.get("Location"), "/dashboard", JSON.stringify(next));
      }
    });
    await t.step("no next", async () => {
      const { response } = await postLogin(app, { username: "alice", password: PASSWORD });
      strictEqual(response.headers.get("Location"), "/dashboard");
    });
  } finally {
    app.close();
  }
});

Deno.test("POST /login answers 401 with the same page for unknown users and wrong passwords", async () => {
  const { hasher, count } = countingHasher();
  const app = await createTestApp({ hasher });
  try {
    const fields = { username: "alice", password: "not the password", next: "/cart" };
    let before = count();
    const unknown = await postLogin(app, fields);
    strictEqual(count() - before, 1, "one hash for an unknown user");

    await signUp(app, "alice", PASSWORD);
    before = count();
    const wrong = await postLogin(app, fields);
    strictEqual(count() - before, 1, "one hash for a wrong password");

    strictEqual(unknown.response.status, 401);
    strictEqual(wrong.response.status, 401);
    strictEqual(wrong.body, unknown.body);
    ok(unknown.body.includes(INVALID_CREDENTIALS_MESSAGE));
    strictEqual(hiddenNext(unknown.body), "/cart");
    ok(!unknown.body.includes("not the password"));
    deepStrictEqual(unknown.response.headers.getSetCookie(), []);
    deepStrictEqual(wrong.response.headers.getSetCookie(), []);
    deepStrictEqual(
      [...wrong.response.headers.keys()].filter((name) => name !== "x-request-id"),
      [...unknown.response.headers.keys()].filter((name) => name !== "x-request-id"),
    );
  } finally {
    app.close();
  }
});

Deno.test("POST /login hashes once on success", async () => {
  const { hasher, count } = countingHasher();
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);
    const before = count();
    strictEqual((await signIn(app)).status, 303);
    strictEqual(count() - before, 1);
  } finally {
    app.close();
  }
});

Deno.test("POST /login does the same hashing work for unknown users and wrong passwords", async (t) => {
  // With the only slot busy and no queue, a sign-in that hashes gets 503 and one that does not
  // answers at once: the two paths must not be told apart (ASVS 5.0 6.3.8, timing).
  const hasher = createPasswordHasher({
    params: TEST_SCRYPT_PARAMS,
    maxConcurrent: 1,
    maxQueue: 0,
  });
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);
    const cases: [string, string][] = [
      ["a wrong password", "not the password"],
      ["a password of 257 characters", "p".repeat(257)],
    ];
    for (const [name, password] of cases) {
      await t.step(name, async () => {
        const statuses: number[] = [];
        for (const username of ["alice", "nobody"]) {
          const { status, stillHeld } = await whileSlotHeld(
            hasher,
            async () => (await postLogin(app, { username, password })).response.status,
          );
          ok(stillHeld, "the slot was freed before the sign-in finished: the check proves nothing");
          statuses.push(status);
        }
        strictEqual(statuses[0], statuses[1], `alice: ${statuses[0]}, nobody: ${statuses[1]}`);
      });
    }
  } finally {
    app.close();
  }
});

/**
 * Runs `fn` while a verification against a costly stored hash (N=2^15, 32 MiB, tens of
 * milliseconds) holds the hasher's only slot. Reports whether it was still held at the end.
 */
async function whileSlotHeld(
  hasher: PasswordHasher,
  fn: () => Promise<number>,
): Promise<{ status: number; stillHeld: boolean }> {
  // A canonical v=1 string: zero salt and key, so parseStoredHash() accepts it.
  const costly = `scrypt$v=1$n=32768,r=8,p=1$${"A".repeat(22)}$${"A".repeat(43)}`;
  let held = true;
  const hold = hasher.verify("holding the only slot", costly).finally(() => held = false);
  try {
    strictEqual(hasher.stats().active, 1);
    const status = await fn();
    return { status, stillHeld: held };
  } finally {
    await hold;
  }
}

// ---------------------------------------------------------------------------------------------
// Throttling

Deno.test("POST /login locks account+address after 10 failures without checking the password", async () => {
  const { hasher, count } = countingHasher();
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);
    for (let i = 1; i <= 10; i++) {
      const response = await loginFrom(app, "6.6.6.6", {
        username: "alice",
        password: `wrong ${i}`,
      });
      strictEqual(response.status, 401, `attempt ${i}`);
    }
    const before = count();
    // Even the right password is not checked now.
    const locked = await app.app.request(
      `${ORIGIN}/login`,
      {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          "Sec-Fetch-Site": "same-origin",
        },
        body: new URLSearchParams({ username: "ALICE", password: PASSWORD }).toString(),
      },
      { remoteAddr: { hostname: "6.6.6.6" } },
    );
    const body = await locked.text();
    strictEqual(locked.status, 429);
    strictEqual(locked.headers.get("Retry-After"), "900");
    ok(body.includes("Too many failed sign-in attempts"), body);
    deepStrictEqual(locked.headers.getSetCookie(), []);
    strictEqual(count(), before, "no password was hashed");

    // The same account from another address is not locked.
    strictEqual(
      (await loginFrom(app, "1.2.3.4", { username: "alice", password: PASSWORD })).status,
      303,
    );
    // After the window the locked address may try again.
    app.clock.advance(900 * 1000);
    strictEqual(
      (await loginFrom(app, "6.6.6.6", { username: "alice", password: PASSWORD })).status,
      303,
    );
  } finally {
    app.close();
  }
});

Deno.test("POST /login locks an address that tries too many accounts", async () => {
  const app = await createTestApp({
    throttleLimits: { perAccount: 10, perAddress: 3, windowSeconds: 60 },
  });
  try {
    await signUp(app);
    for (const username of ["root", "admin", "bob"]) {
      strictEqual(
        (await loginFrom(app, "6.6.6.6", { username, password: "password1" })).status,
        401,
      );
    }
    const locked = await loginFrom(app, "6.6.6.6", { username: "alice", password: PASSWORD });
    strictEqual(locked.status, 429);
    strictEqual(locked.headers.get("Retry-After"), "60");
    strictEqual(
      (await loginFrom(app, "1.2.3.4", { username: "alice", password: PASSWORD })).status,
      303,
    );
    app.clock.advance(60_000);
    strictEqual(
      (await loginFrom(app, "6.6.6.6", { username: "alice", password: PASSWORD })).status,
      303,
    );
  } finally {
    app.close();
  }
});

Deno.test("POST /login ignores X-Forwarded-For unless TRUST_PROXY_HEADER names it", async (t) => {
  await t.step("off by default: every app.request() client is 'unknown'", async () => {
    const app = await createTestApp({
      throttleLimits: { perAccount: 3, perAddress: 100, windowSeconds: 60 },
    });
    try {
      await signUp(app);
      for (let i = 1; i <= 3; i++) {
        const { response } = await postLogin(
          app,
          { username: "alice", password: "wrong password" },
          { "X-Forwarded-For": `10.0.0.${i}` },
        );
        strictEqual(response.status, 401);
      }
      const { response } = await postLogin(
        app,
        { username: "alice", password: PASSWORD },
        { "X-Forwarded-For": "10.0.0.99" },
      );
      strictEqual(response.status, 429);
    } finally {
      app.close();
    }
  });

  await t.step("off by default: the socket address counts, not the header", async () => {
    const app = await createTestApp({
      throttleLimits: { perAccount: 3, perAddress: 100, windowSeconds: 60 },
    });
    try {
      await signUp(app);
      for (let i = 1; i <= 3; i++) {
        const response = await loginFrom(
          app,
          "6.6.6.6",
          { username: "alice", password: "wrong password" },
          { "X-Forwarded-For": `10.0.0.${i}` },
        );
        strictEqual(response.status, 401);
      }
      const fromSameSocket = await loginFrom(
        app,
        "6.6.6.6",
        { username: "alice", password: PASSWORD },
        { "X-Forwarded-For": "1.2.3.4" },
      );
      strictEqual(fromSameSocket.status, 429);
    } finally {
      app.close();
    }
  });

  await t.step("when set, the last entry of the header is the address", async () => {
    const app = await createTestApp({
      config: { trustProxyHeader: "X-Forwarded-For" },
      throttleLimits: { perAccount: 3, perAddress: 100, windowSeconds: 60 },
    });
    try {
      await signUp(app);
      for (let i = 1; i <= 3; i++) {
        // Every request comes from the proxy's socket; the client forges the first entry.
        const response = await loginFrom(
          app,
          "10.0.0.1",
          { username: "alice", password: "wrong password" },
          { "X-Forwarded-For": `9.9.9.${i}, 6.6.6.6` },
        );
        strictEqual(response.status, 401);
      }
      const forgedFirstEntry = await loginFrom(
        app,
        "10.0.0.1",
        { username: "alice", password: PASSWORD },
        { "X-Forwarded-For": "1.2.3.4, 6.6.6.6" },
      );
      strictEqual(forgedFirstEntry.status, 429);
      const otherClient = await loginFrom(
        app,
        "10.0.0.1",
        { username: "alice", password: PASSWORD },
        { "X-Forwarded-For": "6.6.6.6, 1.2.3.4" },
      );
      strictEqual(otherClient.status, 303);
    } finally {
      app.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Sign-out

Deno.test("POST /logout ends the session on the server and clears the cookie", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const response = await app.request("/logout", { method: "POST", headers: withSession(token) });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/login");
    strictEqual(response.headers.get("Cache-Control"), "no-store");
    deepStrictEqual(response.headers.getSetCookie(), [
      DEV_CLEAR,
      "notice=signed-out; Max-Age=60; Path=/; HttpOnly; SameSite=Lax",
    ]);
    strictEqual(await sessionStatus(app, token), "missing");
    // The old cookie, replayed, no longer signs anyone in.
    const { response: page } = await get(app, "/dashboard", withSession(token));
    strictEqual(page.status, 303);
    strictEqual(page.headers.get("Location"), "/login?next=%2Fdashboard");
    const { response: api } = await get(app, "/api/me", withSession(token));
    strictEqual(api.status, 401);
    // The next sign-in page says so, once.
    const { body } = await get(app, "/login", { Cookie: "notice=signed-out" });
    ok(body.includes("You have been signed out."));
  } finally {
    app.close();
  }
});

Deno.test("POST /logout uses __Host-sid with Secure when cookies are secure", async () => {
  const app = await createTestApp({ config: { cookieSecure: true } });
  try {
    const signup = await app.request(
      "/signup",
      form({ username: "alice", password: PASSWORD, displayName: "Alice" }),
    );
    await signup.body?.cancel();
    const cookies = signup.headers.getSetCookie();
    strictEqual(cookies.length, 1);
    const token =
      /^__Host-sid=([A-Za-z0-9_-]{43}); Max-Age=86400; Path=\/; Secure; HttpOnly; SameSite=Lax$/
        .exec(cookies[0]!)?.[1];
    ok(token, cookies[0]);

    // A plain `sid` cookie means nothing here.
    const { response: plain } = await get(app, "/dashboard", { Cookie: `sid=${token}` });
    strictEqual(plain.status, 303);

    const { response: page } = await get(app, "/dashboard", { Cookie: `__Host-sid=${token}` });
    strictEqual(page.status, 200);

    const response = await app.request("/logout", {
      method: "POST",
      headers: { Cookie: `__Host-sid=${token}` },
    });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(response.headers.get("Location"), "/login");
    deepStrictEqual(response.headers.getSetCookie(), [
      "__Host-sid=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
      "notice=signed-out; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax",
    ]);
    strictEqual(await sessionStatus(app, token), "missing");
  } finally {
    app.close();
  }
});

Deno.test("POST /logout without a session still redirects to /login", async () => {
  const app = await createTestApp();
  try {
    const cases: Record<string, string>[] = [
      {},
      { Cookie: `sid=${generateToken()}` },
      { Cookie: "sid=garbage" },
    ];
    for (const headers of cases) {
      const response = await app.request("/logout", { method: "POST", headers });
      await response.body?.cancel();
      strictEqual(response.status, 303);
      strictEqual(response.headers.get("Location"), "/login");
      strictEqual(response.headers.getSetCookie()[0], DEV_CLEAR);
    }
  } finally {
    app.close();
  }
});

Deno.test("GET /logout is 404: signing out is a POST form in the layout", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const { response } = await get(app, "/logout", withSession(token));
    strictEqual(response.status, 404);
    strictEqual(await sessionStatus(app, token), "valid");
    for (const path of ["/dashboard", "/products", "/cart", "/account"]) {
      const { response: page, body } = await get(app, path, withSession(token));
      strictEqual(page.status, 200, path);
      match(body, /<form method="post" action="\/logout"><button[^>]*type="submit">Sign out/);
      ok(!body.includes('href="/logout"'), path);
    }
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// The session cookie

Deno.test("Session cookie Max-Age is the time left and is refreshed on renewal", async (t) => {
  await t.step("default settings: 24 hours, refreshed past half of it", async () => {
    const app = await createTestApp();
    try {
      const token = await signUp(app);
      app.clock.advance(11 * 3600 * 1000);
      const { response: early } = await get(app, "/dashboard", withSession(token));
      strictEqual(early.status, 200);
      deepStrictEqual(early.headers.getSetCookie(), [], "no renewal before half the window");
      app.clock.advance(2 * 3600 * 1000);
      const { response: renewed } = await get(app, "/dashboard", withSession(token));
      strictEqual(renewed.status, 200);
      deepStrictEqual(renewed.headers.getSetCookie(), [
        `sid=${token}; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax`,
      ]);
      strictEqual(renewed.headers.get("Cache-Control"), "no-store");
    } finally {
      app.close();
    }
  });

  await t.step("the absolute timeout caps Max-Age", async () => {
    const app = await createTestApp({
      config: { idleTimeoutSeconds: 3600, absoluteTimeoutSeconds: 5400 },
    });
    try {
      const response = await app.request(
        "/signup",
        form({ username: "alice", password: PASSWORD, displayName: "Alice" }),
      );
      await response.body?.cancel();
      const token = setCookieValue(response, "sid")!;
      match(response.headers.getSetCookie()[0]!, /; Max-Age=3600; /);
      app.clock.advance(1900 * 1000);
      const { response: renewed } = await get(app, "/dashboard", withSession(token));
      // Renewed to the absolute deadline: 5400 - 1900 seconds left.
      deepStrictEqual(renewed.headers.getSetCookie(), [
        `sid=${token}; Max-Age=3500; Path=/; HttpOnly; SameSite=Lax`,
      ]);
      app.clock.advance(3500 * 1000);
      const { response: expired } = await get(app, "/dashboard", withSession(token));
      strictEqual(expired.status, 303);
      deepStrictEqual(expired.headers.getSetCookie(), [DEV_CLEAR]);
    } finally {
      app.close();
    }
  });
});

Deno.test("POST /login works with the longest SESSION_IDLE_TIMEOUT the config accepts", async () => {
  const { idleTimeoutSeconds } = loadConfig({ SESSION_IDLE_TIMEOUT: "34560000" }, "dev");
  const app = await createTestApp({
    config: { idleTimeoutSeconds, absoluteTimeoutSeconds: idleTimeoutSeconds },
  });
  try {
    await signUp(app);
    const response = await signIn(app);
    strictEqual(response.status, 303);
    match(response.headers.getSetCookie()[0]!, /; Max-Age=34560000; /);
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Signed-in pages

Deno.test("requireAuth() sends pages to /login?next= with the query and /api/ to 401 JSON", async (t) => {
  const app = await createTestApp();
  try {
    await signUp(app);
    await t.step("a page keeps its path and query in next", async () => {
      const { response } = await get(app, "/dashboard?tab=orders&x=1");
      strictEqual(response.status, 303);
      strictEqual(
        response.headers.get("Location"),
        "/login?next=%2Fdashboard%3Ftab%3Dorders%26x%3D1",
      );
      strictEqual(response.headers.get("Cache-Control"), "no-store");

      const { body } = await get(app, response.headers.get("Location")!);
      strictEqual(hiddenNext(body), "/dashboard?tab=orders&amp;x=1");
      const { response: signedIn } = await postLogin(app, {
        username: "alice",
        password: PASSWORD,
        next: "/dashboard?tab=orders&x=1",
      });
      strictEqual(signedIn.headers.get("Location"), "/dashboard?tab=orders&x=1");
    });
    await t.step("/api/me answers 401 JSON", async () => {
      const response = await app.request("/api/me");
      strictEqual(response.status, 401);
      match(response.headers.get("Content-Type") ?? "", /^application\/json/);
      strictEqual(response.headers.get("Cache-Control"), "no-store");
      deepStrictEqual(await response.json(), {
        error: "unauthorized",
        message: "Sign in to use this endpoint.",
      });
    });
  } finally {
    app.close();
  }
});

Deno.test("GET /dashboard greets the user by display name", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app, "alice", PASSWORD, "Alice Liddell");
    const { response, body } = await get(app, "/dashboard", withSession(token));
    strictEqual(response.status, 200);
    strictEqual(response.headers.get("Cache-Control"), "no-store");
    match(body, /Welcome, Alice Liddell!/);
  } finally {
    app.close();
  }
});

Deno.test("GET / redirects signed-in users to /dashboard and others to /login", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const { response: signedIn } = await get(app, "/", withSession(token));
    strictEqual(signedIn.status, 303);
    strictEqual(signedIn.headers.get("Location"), "/dashboard");
    const { response: anonymous } = await get(app, "/");
    strictEqual(anonymous.status, 303);
    strictEqual(anonymous.headers.get("Location"), "/login");
  } finally {
    app.close();
  }
});

Deno.test("GET /api/me returns the signed-in user as JSON, without the hash", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app, "Alice", PASSWORD, "Alice Liddell");
    const response = await app.request("/api/me", { headers: withSession(token) });
    strictEqual(response.status, 200);
    const [user] = await storedUsers(app);
    deepStrictEqual(await response.json(), {
      id: user!.id,
      username: "Alice",
      displayName: "Alice Liddell",
    });
  } finally {
    app.close();
  }
});
