/**
 * Password changes, hash upgrades and revocations racing other requests (issue 18, parts 1 and
 * 2). Every race is made deterministic: a hasher that stops at a chosen `hash()` call until the
 * test lets it go, or a KV handle that runs a competing write just before a chosen commit.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import {
  createPasswordHasher,
  type PasswordHasher,
  type ScryptParams,
  TEST_SCRYPT_PARAMS,
} from "../src/passwords.ts";
import { SessionStore, StaleCredentialsError } from "@kvsession/hono";
import { type User, UserStore } from "../src/users.ts";
import {
  createTestApp,
  form,
  setCookieValue,
  signIn,
  signUp,
  type TestApp,
  withSession,
} from "./_helpers.ts";

const PASSWORD = "correct horse battery";
const FORM_TYPE = { "Content-Type": "application/x-www-form-urlencoded" };

/**
 * A real hasher whose `hash()` calls can be held: `holdNextHash()` returns a promise that
 * resolves when the next `hash()` has started, and a function that lets it finish.
 */
function holdableHasher(params: ScryptParams = TEST_SCRYPT_PARAMS): PasswordHasher & {
  holdNextHash(): { reached: Promise<void>; release: () => void };
} {
  const inner = createPasswordHasher({ params });
  const holds: { reached: () => void; released: Promise<void> }[] = [];
  return {
    ...inner,
    params: inner.params,
    async hash(password) {
      const result = await inner.hash(password);
      const hold = holds.shift();
      if (hold !== undefined) {
        hold.reached();
        await hold.released;
      }
      return result;
    },
    holdNextHash() {
      const reached = Promise.withResolvers<void>();
      const released = Promise.withResolvers<void>();
      holds.push({ reached: reached.resolve, released: released.promise });
      return { reached: reached.promise, release: () => released.resolve() };
    },
  };
}

async function signInToken(app: TestApp, password = PASSWORD, userAgent = "test"): Promise<string> {
  const response = await signIn(app, "alice", password, { headers: { "User-Agent": userAgent } });
  strictEqual(response.status, 303, "sign-in");
  return setCookieValue(response, "sid")!;
}

function changePassword(app: TestApp, token: string, current: string, next: string) {
  return app.request("/account/password", {
    ...form({ currentPassword: current, newPassword: next }),
    headers: withSession(token, FORM_TYPE),
  });
}

async function signsIn(app: TestApp, password: string): Promise<boolean> {
  return (await signIn(app, "alice", password)).status === 303;
}

async function isSignedIn(app: TestApp, token: string): Promise<boolean> {
  const response = await app.request("/api/me", { headers: withSession(token) });
  await response.body?.cancel();
  return response.status === 200;
}

async function sessionIdOf(app: TestApp, token: string): Promise<string> {
  const found = await app.services.sessions.get(token);
  ok(found.status === "valid" || found.status === "renewed");
  return found.session.id;
}

Deno.test("password change: a session ended while the new hash is made changes nothing", async () => {
  const hasher = holdableHasher();
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);
    const changing = await signInToken(app);
    const stolen = await signInToken(app, PASSWORD, "stolen");

    const hold = hasher.holdNextHash();
    const change = changePassword(app, changing, PASSWORD, "a brand new passphrase");
    await hold.reached;
    // Meanwhile the changing device is signed out from another one.
    const revoked = await app.request("/account/sessions/revoke", {
      ...form({ id: await sessionIdOf(app, changing) }),
      headers: withSession(stolen, FORM_TYPE),
    });
    strictEqual(revoked.status, 303);
    hold.release();
    const response = await change;
    await response.body?.cancel();

    strictEqual(response.headers.get("Location"), "/login", "the change was refused");
    strictEqual(await signsIn(app, PASSWORD), true, "the old password still works");
    strictEqual(await signsIn(app, "a brand new passphrase"), false, "the new one does not");
    strictEqual(await isSignedIn(app, stolen), true);
  } finally {
    app.close();
  }
});

Deno.test("password change: of two concurrent changes, only one is reported and it works", async () => {
  const hasher = holdableHasher();
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);
    const first = await signInToken(app, PASSWORD, "first");
    const second = await signInToken(app, PASSWORD, "second");

    const holdFirst = hasher.holdNextHash();
    const firstChange = changePassword(app, first, PASSWORD, "first new passphrase");
    await holdFirst.reached;
    const holdSecond = hasher.holdNextHash();
    const secondChange = changePassword(app, second, PASSWORD, "second new passphrase");
    await holdSecond.reached;
    // Both verified the same current password; the second commits first.
    holdSecond.release();
    const secondResponse = await secondChange;
    await secondResponse.body?.cancel();
    holdFirst.release();
    const firstResponse = await firstChange;
    const firstPage = await firstResponse.text();

    strictEqual(secondResponse.status, 303);
    strictEqual(secondResponse.headers.get("Location"), "/account");
    ok(firstResponse.status !== 303 || firstResponse.headers.get("Location") !== "/account");
    ok(!firstPage.includes("Password changed"), firstPage);
    strictEqual(await signsIn(app, "second new passphrase"), true, "the reported one works");
    strictEqual(await signsIn(app, "first new passphrase"), false);
    strictEqual(await signsIn(app, PASSWORD), false);
  } finally {
    app.close();
  }
});

Deno.test("password change: a change that loses to another one on the same session is refused with 409", async () => {
  const hasher = holdableHasher();
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);
    const token = await signInToken(app);
    const other = await signInToken(app, PASSWORD, "other");
    const hold = hasher.holdNextHash();
    const change = changePassword(app, token, PASSWORD, "a brand new passphrase");
    await hold.reached;
    // The user record changes under the change (as user:add or another change would do), while
    // this session stays alive: the change must not overwrite it.
    const users = new UserStore(app.kv);
    const entry = (await users.getEntry(await userIdOf(app, other))) as Deno.KvEntry<User>;
    strictEqual(
      (await users.setPasswordHash(app.kv.atomic(), entry, "replaced").commit()).ok,
      true,
    );
    hold.release();
    const response = await change;
    const page = await response.text();
    strictEqual(response.status, 409);
    ok(page.includes("Your password was not changed"), page);
    strictEqual((await users.get(entry.value.id))?.passwordHash, "replaced");
    strictEqual(await isSignedIn(app, token), true, "the session lives on, unchanged");
  } finally {
    app.close();
  }
});

async function userIdOf(app: TestApp, token: string): Promise<string> {
  const found = await app.services.sessions.get(token);
  ok(found.status === "valid" || found.status === "renewed");
  return found.session.userId;
}

Deno.test("sign-in hash upgrade racing a password change never brings the old password back", async () => {
  const OLD_PARAMS: ScryptParams = { ...TEST_SCRYPT_PARAMS, N: 2 ** 8 };
  const hasher = holdableHasher();
  const app = await createTestApp({ hasher });
  try {
    // A user whose hash was made with older parameters: the next sign-in upgrades it.
    const old = createPasswordHasher({ params: OLD_PARAMS });
    const user = await app.services.users.create({
      username: "alice",
      displayName: "Alice",
      passwordHash: await old.hash(PASSWORD),
    });
    const { token } = await app.services.sessions.create({
      userId: user.id,
      data: { user: { id: user.id, username: "alice", displayName: "Alice" }, cart: [] },
    });

    const hold = hasher.holdNextHash();
    const signingIn = signIn(app, "alice", PASSWORD);
    await hold.reached; // the upgrade hash of the old password is ready, not yet written
    const changed = await changePassword(app, token, PASSWORD, "a brand new passphrase");
    await changed.body?.cancel();
    strictEqual(changed.headers.get("Location"), "/account", "the change went through");
    hold.release();
    const signInResponse = await signingIn;
    strictEqual(signInResponse.status, 401, "the sign-in verified a password no longer current");

    strictEqual(await signsIn(app, "a brand new passphrase"), true);
    strictEqual(await signsIn(app, PASSWORD), false, "the old password must not work again");
  } finally {
    app.close();
  }
});

/**
 * `kv` whose next commit first runs `before` (once), so a competing write lands exactly between
 * the store's read and its commit.
 */
function kvWithWriteBeforeNextCommit(kv: Deno.Kv): {
  kv: Deno.Kv;
  beforeNextCommit: (before: () => Promise<unknown>) => void;
} {
  let pending: (() => Promise<unknown>) | undefined;
  const wrapped = new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") {
        return () => {
          const operation = target.atomic();
          const commit = operation.commit.bind(operation);
          operation.commit = async () => {
            const before = pending;
            pending = undefined;
            if (before !== undefined) await before();
            return await commit();
          };
          return operation;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: wrapped, beforeNextCommit: (before) => pending = before };
}

async function withRacingStore(
  fn: (
    store: SessionStore<{ cart: string[] }>,
    rival: SessionStore<{ cart: string[] }>,
    beforeNextCommit: (before: () => Promise<unknown>) => void,
  ) => Promise<void>,
): Promise<void> {
  const raw = await Deno.openKv(":memory:");
  try {
    const { kv, beforeNextCommit } = kvWithWriteBeforeNextCommit(raw);
    const options = { idleTimeoutSeconds: 3600, absoluteTimeoutSeconds: 86400 };
    await fn(
      new SessionStore({ kv, ...options }),
      new SessionStore({ kv: raw, ...options }),
      beforeNextCommit,
    );
  } finally {
    raw.close();
  }
}

Deno.test("revoke() reporting success means the session is gone, even when it wrote meanwhile", async () => {
  await withRacingStore(async (store, rival, beforeNextCommit) => {
    const { token, session } = await store.create({ userId: "u1", data: { cart: [] } });
    beforeNextCommit(() => rival.update(token, (data) => ({ cart: [...data.cart, "tea"] })));
    strictEqual(await store.revoke("u1", session.id), true);
    strictEqual((await store.get(token)).status, "missing");
    strictEqual((await store.list("u1")).length, 0);
  });
});

Deno.test("revoke() follows a session rotated meanwhile to its new token", async () => {
  await withRacingStore(async (store, rival, beforeNextCommit) => {
    const { token, session } = await store.create({ userId: "u1", data: { cart: [] } });
    let rotated = "";
    beforeNextCommit(async () => rotated = (await rival.rotate(token))!.token);
    strictEqual(await store.revoke("u1", session.id), true);
    strictEqual((await store.get(rotated)).status, "missing");
  });
});

Deno.test("revoke() of a session ended meanwhile reports false, not success", async () => {
  await withRacingStore(async (store, rival, beforeNextCommit) => {
    const { token, session } = await store.create({ userId: "u1", data: { cart: [] } });
    beforeNextCommit(() => rival.destroy(token));
    strictEqual(await store.revoke("u1", session.id), false);
  });
});

Deno.test("destroy() (sign-out) ends a session that wrote or rotated meanwhile", async () => {
  await withRacingStore(async (store, rival, beforeNextCommit) => {
    const a = await store.create({ userId: "u1", data: { cart: [] } });
    beforeNextCommit(() => rival.update(a.token, (data) => ({ cart: [...data.cart, "tea"] })));
    strictEqual(await store.destroy(a.token), true);
    strictEqual((await store.get(a.token)).status, "missing");

    const b = await store.create({ userId: "u1", data: { cart: [] } });
    let rotated = "";
    beforeNextCommit(async () => rotated = (await rival.rotate(b.token))!.token);
    strictEqual(await store.destroy(b.token), true);
    strictEqual((await store.get(rotated)).status, "missing");
    strictEqual((await store.list("u1")).length, 0);
  });
});

Deno.test("revokeAll() ends every other session, also one that writes meanwhile", async () => {
  await withRacingStore(async (store, rival, beforeNextCommit) => {
    const keep = await store.create({ userId: "u1", data: { cart: [] } });
    const busy = await store.create({ userId: "u1", data: { cart: [] } });
    beforeNextCommit(() => rival.update(busy.token, (data) => ({ cart: [...data.cart, "tea"] })));
    const ended = await store.revokeAll("u1", keep.session.id);
    strictEqual(ended, 1);
    strictEqual((await store.get(busy.token)).status, "missing");
    strictEqual((await store.get(keep.token)).status, "valid");
  });
});

Deno.test("account page: revoking a device that writes at that moment signs it out", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, beforeNextCommit } = kvWithWriteBeforeNextCommit(raw);
  const app = await createTestApp({ kv });
  try {
    await signUp(app);
    const mine = await signInToken(app);
    const device = await signInToken(app, PASSWORD, "device");
    const id = await sessionIdOf(app, device);
    // The device's cart change commits between the revoke's read and its delete.
    beforeNextCommit(() =>
      app.request("/cart", {
        ...form({ productId: "mug" }),
        headers: withSession(device, FORM_TYPE),
      })
        .then((response) => response.body?.cancel())
    );
    const response = await app.request("/account/sessions/revoke", {
      ...form({ id }),
      headers: withSession(mine, FORM_TYPE),
    });
    await response.body?.cancel();
    strictEqual(response.status, 303);
    strictEqual(await isSignedIn(app, device), false, "reported signed out, so it must be");
  } finally {
    app.close();
  }
});

Deno.test("bumpCredentialVersion() with a failing include check writes nothing", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new SessionStore({ kv, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 600 });
    const { token } = await store.create({ userId: "u1", data: null });
    await kv.set(["other"], 1);
    const stale = await kv.get(["other"]);
    await kv.set(["other"], 2);
    let error: unknown;
    try {
      await store.bumpCredentialVersion("u1", undefined, {
        include: (operation) => operation.check(stale).set(["other"], 3),
      });
    } catch (caught) {
      error = caught;
    }
    ok(error instanceof StaleCredentialsError);
    strictEqual(await store.credentialVersion("u1"), 0);
    strictEqual((await kv.get(["other"])).value, 2);
    strictEqual((await store.get(token)).status, "valid");
  } finally {
    kv.close();
  }
});
