import { deepStrictEqual, notStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  generateToken,
  hashToken,
  KvBusyError,
  SessionStore,
  type SessionStoreOptions,
  SessionTooLargeError,
  StaleCredentialsError,
} from "@kvsession/hono";
// The key layout is the package's own business; its tests may look at it.
import { sessionKeys } from "../../src/session/_kv_keys.ts";
import { countingKv, fakeClock, withKv } from "../_helpers.ts";

const sessionKey = sessionKeys().session;

type Cart = { cart: string[]; count: number };
const IDLE = 3600;
const ABSOLUTE = 8 * 3600;

function storeFor(kv: Deno.Kv, options: Partial<SessionStoreOptions> = {}) {
  return new SessionStore<Cart>({
    kv,
    idleTimeoutSeconds: IDLE,
    absoluteTimeoutSeconds: ABSOLUTE,
    ...options,
  });
}

function newSession(store: SessionStore<Cart>, userId = "u1", credentialVersion = 0) {
  return store.create({
    userId,
    credentialVersion,
    data: { cart: [], count: 0 },
    userAgent: "Firefox on Linux",
  });
}

async function allEntries(kv: Deno.Kv): Promise<Deno.KvEntry<unknown>[]> {
  const entries = [];
  for await (const entry of kv.list({ prefix: [] })) entries.push(entry);
  return entries;
}

Deno.test("generateToken() returns 43 base64url characters from 32 random bytes", () => {
  const tokens = new Set(Array.from({ length: 1000 }, generateToken));
  strictEqual(tokens.size, 1000);
  for (const token of tokens) ok(/^[A-Za-z0-9_-]{43}$/.test(token), token);
});

Deno.test("SessionStore creates, reads, updates and destroys a session", async () => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const store = storeFor(kv, { now: clock.now });
    const { token, session, maxAgeSeconds } = await newSession(store);
    strictEqual(maxAgeSeconds, IDLE);
    strictEqual(session.userAgent, "Firefox on Linux");
    const found = await store.get(token);
    strictEqual(found.status, "valid");
    deepStrictEqual(found.status === "valid" && found.session.data, { cart: [], count: 0 });

    const updated = await store.update(token, (data) => ({ ...data, cart: ["tea"] }));
    deepStrictEqual(updated?.data.cart, ["tea"]);
    const again = await store.get(token);
    deepStrictEqual(again.status === "valid" && again.session.data.cart, ["tea"]);

    strictEqual(await store.destroy(token), true);
    strictEqual((await store.get(token)).status, "missing");
    strictEqual(await store.update(token, (data) => data), null);
    strictEqual(await store.destroy(token), false);
    deepStrictEqual(await allEntries(kv), []);
  });
});

Deno.test("SessionStore.get() ignores malformed and unknown tokens without a KV read", async () => {
  await withKv(async (rawKv) => {
    const { kv, counts } = countingKv(rawKv);
    const store = storeFor(kv);
    for (const token of [undefined, "", "short", "x".repeat(44), "a".repeat(42) + "!"]) {
      strictEqual((await store.get(token)).status, "missing");
    }
    strictEqual(counts.reads, 0);
    strictEqual((await store.get(generateToken())).status, "missing");
    strictEqual(counts.reads, 1);
  });
});

Deno.test("SessionStore never stores the token: the key is its SHA-256 hash", async () => {
  await withKv(async (kv) => {
    const store = storeFor(kv);
    const { token } = await newSession(store);
    const dump = JSON.stringify(
      (await allEntries(kv)).map(({ key, value }) => [key, value]),
    );
    ok(!dump.includes(token), "the token appears in KV");
    const expectedHash = hashToken(token);
    notStrictEqual(expectedHash, token);
    ok((await kv.get(sessionKey(expectedHash))).value !== null);
    ok((await kv.get(sessionKey(token))).value === null);
  });
});

Deno.test("SessionStore ends a session after the idle timeout", async () => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const store = storeFor(kv, { now: clock.now });
    const { token } = await newSession(store);
    clock.advance(IDLE * 1000 - 1);
    ok((await store.get(token)).status !== "expired");
    const fresh = await newSession(store);
    clock.advance(IDLE * 1000);
    strictEqual((await store.get(fresh.token)).status, "expired");
  });
});

Deno.test("SessionStore rejects a session past expiry although KV still holds the entry", async () => {
  await withKv(async (kv) => {
    const clock = fakeClock(Date.now());
    const store = storeFor(kv, { now: clock.now });
    const { token } = await newSession(store);
    clock.advance(IDLE * 1000 + 1);
    // KV's own expiry runs on the real clock: the entry is still there, as it would be for up
    // to a minute after expireIn in production.
    ok((await kv.get(sessionKey(hashToken(token)))).value !== null);
    strictEqual((await store.get(token)).status, "expired");
    strictEqual((await kv.get(sessionKey(hashToken(token)))).value, null, "expired entry deleted");
    deepStrictEqual(await allEntries(kv), [], "index entry deleted too");
  });
});

Deno.test("SessionStore ends a session at the absolute timeout despite activity", async () => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const store = storeFor(kv, { now: clock.now });
    const { token } = await newSession(store);
    let last = "";
    // Active every 10 minutes: the idle timeout never hits, the absolute one does.
    for (let minutes = 10; minutes < ABSOLUTE / 60; minutes += 10) {
      clock.advance(10 * 60_000);
      last = (await store.get(token)).status;
      ok(last === "valid" || last === "renewed", `alive at ${minutes} min`);
    }
    clock.advance(10 * 60_000);
    strictEqual((await store.get(token)).status, "expired");
  });
});

Deno.test("SessionStore renews a session with less than half its idle window left", async (t) => {
  await withKv(async (rawKv) => {
    const clock = fakeClock();
    const { kv, counts, reset } = countingKv(rawKv);
    const store = storeFor(kv, { now: clock.now });
    const { token, session } = await newSession(store);

    await t.step("a read in the first half is one KV read and no write", async () => {
      clock.advance((IDLE / 2) * 1000 - 1000);
      reset();
      const found = await store.get(token);
      strictEqual(found.status, "valid");
      deepStrictEqual(counts, { reads: 1, writes: 0 });
      strictEqual(found.status === "valid" && found.maxAgeSeconds, IDLE / 2 + 1);
    });

    await t.step("a read in the second half renews and refreshes Max-Age", async () => {
      clock.advance(2000);
      reset();
      const found = await store.get(token);
      strictEqual(found.status, "renewed");
      deepStrictEqual(counts, { reads: 2, writes: 1 });
      if (found.status !== "renewed") return;
      strictEqual(found.maxAgeSeconds, IDLE);
      strictEqual(found.session.idleExpiresAt, clock.now() + IDLE * 1000);
      strictEqual(found.session.absoluteExpiresAt, session.absoluteExpiresAt);
      reset();
      strictEqual((await store.get(token)).status, "valid");
      deepStrictEqual(counts, { reads: 1, writes: 0 });
    });

    await t.step("renewal never passes the absolute deadline and stops writing there", async () => {
      // Stay active every 40 minutes until a minute before the absolute deadline.
      while (session.absoluteExpiresAt - clock.now() > 41 * 60_000) {
        clock.advance(40 * 60_000);
        ok((await store.get(token)).status !== "expired");
      }
      clock.advance(session.absoluteExpiresAt - clock.now() - 60_000);
      const found = await store.get(token);
      ok(found.status === "valid" || found.status === "renewed");
      strictEqual(found.session.idleExpiresAt, session.absoluteExpiresAt);
      strictEqual(found.maxAgeSeconds, 60);
      clock.advance(30_000);
      reset();
      strictEqual((await store.get(token)).status, "valid");
      deepStrictEqual(counts, { reads: 1, writes: 0 });
    });
  });
});

Deno.test("SessionStore reports KV reads and writes for create, read, renew, destroy", async () => {
  await withKv(async (rawKv) => {
    const clock = fakeClock();
    const { kv, counts, reset } = countingKv(rawKv);
    const store = storeFor(kv, { now: clock.now });
    reset();
    const { token } = await newSession(store);
    deepStrictEqual(counts, { reads: 1, writes: 1 }, "create");
    reset();
    await store.get(token);
    deepStrictEqual(counts, { reads: 1, writes: 0 }, "authenticated read");
    clock.advance(IDLE * 1000 * 0.75);
    reset();
    await store.get(token);
    deepStrictEqual(counts, { reads: 2, writes: 1 }, "renewal");
    reset();
    await store.destroy(token);
    deepStrictEqual(counts, { reads: 1, writes: 1 }, "destroy");
  });
});

Deno.test("SessionStore sets expireIn on the KV entries (read from the SQLite file)", async () => {
  const path = await Deno.makeTempFile({ suffix: ".sqlite3" });
  try {
    const kv = await Deno.openKv(path);
    const before = Date.now();
    try {
      await newSession(storeFor(kv));
    } finally {
      kv.close();
    }
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare("SELECT expiration_ms FROM kv").all() as { expiration_ms: number }[];
      // The session, its index entry (and no credential version yet).
      strictEqual(rows.length, 2);
      for (const { expiration_ms } of rows) {
        ok(expiration_ms >= before + IDLE * 1000, `expires at ${expiration_ms}`);
        ok(expiration_ms <= Date.now() + IDLE * 1000, `expires at ${expiration_ms}`);
      }
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("SessionStore.create() issues a new token every time (no fixation)", async () => {
  await withKv(async (kv) => {
    const store = storeFor(kv);
    const first = await newSession(store);
    const second = await newSession(store);
    notStrictEqual(first.token, second.token);
    notStrictEqual(first.session.id, second.session.id);
    // create() has no way to accept a token: the only input is the user.
    strictEqual(store.create.length, 1);
  });
});

Deno.test("SessionStore.rotate() moves the session to a new token and kills the old", async () => {
  await withKv(async (kv) => {
    const store = storeFor(kv);
    const { token } = await newSession(store);
    await store.update(token, (data) => ({ ...data, cart: ["tea"] }));
    const rotated = await store.rotate(token);
    ok(rotated !== null);
    notStrictEqual(rotated.token, token);
    strictEqual(rotated.ended, 0);
    strictEqual((await store.get(token)).status, "missing");
    const found = await store.get(rotated.token);
    strictEqual(found.status, "valid");
    if (found.status !== "valid") return;
    deepStrictEqual(found.session.data.cart, ["tea"]);
    strictEqual(found.session.credentialVersion, 0);
    strictEqual((await store.list("u1")).length, 1);
    strictEqual(await store.rotate(token), null);
  });
});

Deno.test("SessionStore.rotate() with a credential bump ends every other session", async () => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const store = storeFor(kv, { now: clock.now });
    const current = await newSession(store);
    const other = await newSession(store);
    const stranger = await newSession(store, "u2");
    const rotated = await store.rotate(current.token, { bumpCredentialVersion: true });
    ok(rotated !== null);
    strictEqual(rotated.ended, 1);
    strictEqual(rotated.session.credentialVersion, 1);
    strictEqual(await store.credentialVersion("u1"), 1);
    strictEqual((await store.get(other.token)).status, "missing");
    strictEqual((await store.get(current.token)).status, "missing");
    strictEqual((await store.get(stranger.token)).status, "valid");
    // The moved session carries the new version, so its renewal keeps it alive.
    clock.advance(IDLE * 1000 * 0.75);
    strictEqual((await store.get(rotated.token)).status, "renewed");
  });
});

Deno.test("SessionStore lists a user's sessions and revokes one, all, or all but one", async (t) => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const store = storeFor(kv, { now: clock.now });
    const a = await newSession(store);
    clock.advance(1000);
    const b = await newSession(store);
    clock.advance(1000);
    const c = await newSession(store);
    const other = await newSession(store, "u2");

    await t.step("list shows summaries without tokens or hashes", async () => {
      const list = await store.list("u1");
      deepStrictEqual(list.map((s) => s.id), [a.session.id, b.session.id, c.session.id]);
      deepStrictEqual(Object.keys(list[0]!).sort(), [
        "absoluteExpiresAt",
        "createdAt",
        "id",
        "idleExpiresAt",
        "lastSeenAt",
        "userAgent",
      ]);
      const text = JSON.stringify(list);
      for (const { token } of [a, b, c]) {
        ok(!text.includes(token) && !text.includes(hashToken(token)));
      }
    });

    await t.step("revoke ends one session and refuses another user's", async () => {
      strictEqual(await store.revoke("u1", other.session.id), false);
      strictEqual((await store.get(other.token)).status, "valid");
      strictEqual(await store.revoke("u1", a.session.id), true);
      strictEqual((await store.get(a.token)).status, "missing");
      strictEqual(await store.revoke("u1", a.session.id), false);
    });

    await t.step("revokeAll keeps the current session", async () => {
      strictEqual(await store.revokeAll("u1", c.session.id), 1);
      strictEqual((await store.get(b.token)).status, "missing");
      strictEqual((await store.get(c.token)).status, "valid");
      deepStrictEqual((await store.list("u1")).map((s) => s.id), [c.session.id]);
      strictEqual(await store.revokeAll("u1"), 1);
      deepStrictEqual(await store.list("u1"), []);
      strictEqual((await store.get(other.token)).status, "valid");
    });
  });
});

Deno.test("SessionStore: bumping the credential version ends older sessions", async (t) => {
  await withKv(async (kv) => {
    const clock = fakeClock();
    const store = storeFor(kv, { now: clock.now });

    await t.step("bump revokes all but the kept session", async () => {
      const a = await newSession(store);
      const b = await newSession(store);
      deepStrictEqual(await store.bumpCredentialVersion("u1", b.session.id), {
        version: 1,
        ended: 1,
      });
      strictEqual((await store.get(a.token)).status, "missing");
      strictEqual((await store.get(b.token)).status, "valid");
      await store.revokeAll("u1");
    });

    await t.step("a sign-in checked against the old version cannot create a session", async () => {
      const version = await store.credentialVersion("u1");
      await store.bumpCredentialVersion("u1");
      await rejects(newSession(store, "u1", version), StaleCredentialsError);
      deepStrictEqual(await store.list("u1"), []);
    });

    await t.step("a session a race left behind dies at its next renewal", async () => {
      const version = await store.credentialVersion("u1");
      const survivor = await newSession(store, "u1", version);
      // Simulate the race: the version moves without the sweep over the index.
      await kv.set(["credential_versions", "u1"], version + 1);
      clock.advance(IDLE * 1000 * 0.75);
      strictEqual((await store.get(survivor.token)).status, "revoked");
      strictEqual((await store.get(survivor.token)).status, "missing");
    });
  });
});

Deno.test("SessionStore loses none of 50 concurrent updates to one session", async () => {
  await withKv(async (kv) => {
    const store = storeFor(kv);
    const { token } = await newSession(store);
    const results = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          store.update(
            token,
            (data) => ({ cart: [...data.cart, `item${i}`], count: data.count + 1 }),
          ),
      ),
    );
    ok(results.every((result) => result !== null));
    const found = await store.get(token);
    ok(found.status === "valid");
    strictEqual(found.session.data.count, 50);
    strictEqual(new Set(found.session.data.cart).size, 50);
  });
});

Deno.test("SessionStore.update() with a basis skips a read, and a stale basis loses nothing", async () => {
  await withKv(async (rawKv) => {
    const { kv, counts, reset } = countingKv(rawKv);
    const store = storeFor(kv);
    const { token } = await newSession(store);
    const found = await store.get(token);
    ok(found.status === "valid");
    reset();
    const first = await store.update(token, (data) => ({ ...data, count: data.count + 1 }), {
      basis: found.read,
    });
    strictEqual(first?.data.count, 1);
    deepStrictEqual(counts, { reads: 0, writes: 1 }, "the basis replaced the read");
    // The same basis is now stale: the checked commit fails, the retry reads and applies to 1.
    reset();
    const second = await store.update(token, (data) => ({ ...data, count: data.count + 1 }), {
      basis: found.read,
    });
    strictEqual(second?.data.count, 2);
    deepStrictEqual(counts, { reads: 1, writes: 2 }, "one failed commit, one read, one commit");
    const after = await store.get(token);
    strictEqual(after.status === "valid" && after.session.data.count, 2);
  });
});

Deno.test("SessionStore.update() ignores a basis read under another token or built by hand", async () => {
  await withKv(async (rawKv) => {
    const { kv, counts, reset } = countingKv(rawKv);
    const store = storeFor(kv);
    const alice = await newSession(store, "alice");
    const bob = await newSession(store, "bob");
    const foundBob = await store.get(bob.token);
    ok(foundBob.status === "valid");
    const handMade = { session: foundBob.session, versionstamp: foundBob.read.versionstamp };
    for (const basis of [foundBob.read, handMade]) {
      reset();
      const updated = await store.update(
        alice.token,
        (data) => ({ ...data, count: data.count + 1 }),
        {
          basis,
        },
      );
      strictEqual(updated?.userId, "alice", "alice's own session was updated");
      deepStrictEqual(counts, { reads: 1, writes: 1 }, "the basis was not used: one read");
    }
    const afterAlice = await store.get(alice.token);
    ok(afterAlice.status === "valid");
    strictEqual(afterAlice.session.userId, "alice");
    strictEqual(afterAlice.session.data.count, 2);
    const afterBob = await store.get(bob.token);
    ok(afterBob.status === "valid");
    strictEqual(afterBob.session.data.count, 0, "bob's session is untouched");
  });
});

Deno.test("SessionStore: an update racing destroy never resurrects the session", async () => {
  await withKv(async (kv) => {
    const store = storeFor(kv);
    const { token } = await newSession(store);
    // A KV handle whose commits wait until logout has happened: the update read the session
    // before the destroy and tries to save after it.
    let destroyed: Promise<boolean> | undefined;
    const slowKv = new Proxy(kv, {
      get(target, property) {
        if (property !== "atomic") return Reflect.get(target, property, target).bind(target);
        return () => {
          const operation = target.atomic();
          const commit = operation.commit.bind(operation);
          operation.commit = async () => {
            destroyed ??= store.destroy(token);
            await destroyed;
            return commit();
          };
          return operation;
        };
      },
    });
    const slowStore = storeFor(slowKv);
    const result = await slowStore.update(token, (data) => ({ ...data, count: 99 }));
    strictEqual(await destroyed, true);
    strictEqual(result, null);
    strictEqual((await store.get(token)).status, "missing");
    deepStrictEqual(await allEntries(kv), []);
  });
});

Deno.test("SessionStore refuses session data over the KV value limit", async () => {
  await withKv(async (kv) => {
    const store = storeFor(kv);
    const { token } = await newSession(store);
    const big = { cart: ["x".repeat(70_000)], count: 0 };
    await rejects(store.update(token, () => big), SessionTooLargeError);
    await rejects(
      store.create({ userId: "u1", credentialVersion: 0, data: big }),
      /over the 64512-byte limit/,
    );
    const found = await store.get(token);
    deepStrictEqual(found.status === "valid" && found.session.data.cart, []);
  });
});

Deno.test("SessionStore flash messages are shown once", async () => {
  await withKv(async (rawKv) => {
    const { kv, counts, reset } = countingKv(rawKv);
    const store = storeFor(kv);
    const { token } = await newSession(store);
    strictEqual(await store.addFlash(token, { kind: "info", text: "Added tea" }), true);
    let found = await store.get(token);
    ok(found.status === "valid");
    deepStrictEqual(await store.takeFlash(token, found.session), [{
      kind: "info",
      text: "Added tea",
    }]);
    found = await store.get(token);
    ok(found.status === "valid");
    reset();
    deepStrictEqual(await store.takeFlash(token, found.session), []);
    deepStrictEqual(counts, { reads: 0, writes: 0 }, "nothing to take costs nothing");
    strictEqual(await store.addFlash(generateToken(), { kind: "info", text: "x" }), false);
  });
});

Deno.test("SessionStore retries commits when two handles share one KV file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".sqlite3" });
  const first = await Deno.openKv(path);
  const second = await Deno.openKv(path);
  try {
    const noRetry = { lockRetry: { maxAttempts: 1 } };
    const fragile = [storeFor(first, noRetry), storeFor(second, noRetry)];
    const stores = [storeFor(first), storeFor(second)];
    const { token } = await newSession(stores[0]!);
    const increment = (store: SessionStore<Cart>) =>
      store.update(token, (data) => ({ ...data, count: data.count + 1 }));

    // The condition is real: without the retry, a share of the commits fails.
    const unretried = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => increment(fragile[i % 2]!)),
    );
    ok(
      unretried.some((r) => r.status === "rejected" && r.reason instanceof KvBusyError),
      "expected at least one 'database is locked' without retries",
    );
    const counted = await stores[0]!.get(token);
    ok(counted.status === "valid");
    const before = counted.session.data.count;

    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => increment(stores[i % 2]!)),
    );
    ok(results.every((result) => result !== null));
    const found = await stores[1]!.get(token);
    strictEqual(found.status === "valid" && found.session.data.count, before + 40);
  } finally {
    first.close();
    second.close();
    await Deno.remove(path);
  }
});

Deno.test("SessionStore rejects bad timeouts at construction", async () => {
  await withKv((kv) => {
    for (const bad of [0, -1, 1.5, NaN]) {
      let error: unknown;
      try {
        storeFor(kv, { idleTimeoutSeconds: bad });
      } catch (caught) {
        error = caught;
      }
      ok(error instanceof RangeError && /idleTimeoutSeconds/.test(error.message), String(bad));
    }
    ok(storeFor(kv, { idleTimeoutSeconds: 1, absoluteTimeoutSeconds: 1 }));
    return Promise.resolve();
  });
});
