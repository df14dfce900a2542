import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  accountFailuresKey,
  accountTotalFailuresKey,
  addressFailuresKey,
  addressHashRequestsKey,
} from "../src/kv_keys.ts";
import {
  type AttemptRequest,
  DEFAULT_THROTTLE_LIMITS,
  LoginThrottle,
  type ThrottleLimits,
} from "../src/login_throttle.ts";
import { countingKv, type FakeClock, fakeClock, withKv } from "./_helpers.ts";

const LIMITS: ThrottleLimits = { perAccount: 3, perAddress: 5, windowSeconds: 60 };

/** `times` sign-in attempts that hash and fail, one after another. */
async function fail(
  throttle: LoginThrottle,
  times: number,
  account: string | undefined,
  address: string,
  hashes = true,
) {
  for (let i = 0; i < times; i++) {
    const admission = await throttle.begin({ account, address, hashes });
    if (!admission.allowed) throw new Error(`attempt ${i + 1} was refused`);
    admission.attempt.failed();
    await admission.attempt.end();
  }
}

/** Whether an attempt would be admitted now; an admitted one ends without counting a failure. */
async function probe(
  throttle: LoginThrottle,
  account: string | undefined,
  address: string,
  options: Partial<AttemptRequest> = {},
): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }> {
  const admission = await throttle.begin({ account, address, hashes: true, ...options });
  if (!admission.allowed) return admission;
  await admission.attempt.end();
  return { allowed: true };
}

async function count(kv: Deno.Kv, key: Deno.KvKey): Promise<number | undefined> {
  return (await kv.get<{ count: number }>(key)).value?.count;
}

function setUp(kv: Deno.Kv, limits = LIMITS): { throttle: LoginThrottle; clock: FakeClock } {
  const clock = fakeClock();
  return { throttle: new LoginThrottle(kv, clock.now, limits), clock };
}

Deno.test("DEFAULT_THROTTLE_LIMITS allow 10 failures per account and address in 15 minutes", () => {
  deepStrictEqual(DEFAULT_THROTTLE_LIMITS, {
    perAccount: 10,
    perAddress: 100,
    windowSeconds: 900,
    perAccountAnyAddress: 100,
    accountWindowSeconds: 3600,
    hashesPerAddress: 100,
    concurrentPerAddress: 2,
  });
});

Deno.test("LoginThrottle.begin() caps one account at perAccountAnyAddress failures an hour (ASVS 2.2.1)", async () => {
  await withKv(async (kv) => {
    const limits = { ...LIMITS, perAccountAnyAddress: 6, accountWindowSeconds: 3600 };
    const { throttle, clock } = setUp(kv, limits);
    // Two failures from each of three addresses: every account+address counter stays under 3.
    for (const address of ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) {
      await fail(throttle, 2, "alice", address);
    }
    deepStrictEqual(await probe(throttle, "alice", "4.4.4.4"), {
      allowed: false,
      retryAfterSeconds: 3600,
    });
    deepStrictEqual(await probe(throttle, "bob", "4.4.4.4"), { allowed: true });
    clock.advance(3600 * 1000);
    deepStrictEqual(await probe(throttle, "alice", "4.4.4.4"), { allowed: true });
  });
});

Deno.test("LoginThrottle.begin() lets exactly perAccountAnyAddress of a concurrent burst check a password", async () => {
  await withKv(async (kv) => {
    const limits = { ...LIMITS, perAccountAnyAddress: 100 };
    const { throttle } = setUp(kv, limits);
    // 150 attempts at once from 150 addresses: every one reads the counter before any fails.
    const admissions = await Promise.all(
      Array.from(
        { length: 150 },
        (_, i) =>
          throttle.begin({ account: "alice", address: `10.0.${i >> 8}.${i & 255}`, hashes: true }),
      ),
    );
    const admitted = admissions.filter((a) => a.allowed);
    strictEqual(admitted.length, 100);
    for (const admission of admissions) {
      if (!admission.allowed) strictEqual(admission.retryAfterSeconds, 3600);
    }
    await Promise.all(admitted.map(async ({ attempt }) => {
      attempt.failed();
      await attempt.end();
    }));
    strictEqual(await count(kv, accountTotalFailuresKey("alice")), 100);
    strictEqual((await probe(throttle, "alice", "10.9.9.9")).allowed, false);
  });
});

Deno.test("LoginThrottle.begin() blocks an account+address after perAccount failures", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), { allowed: true });
    await fail(throttle, LIMITS.perAccount - 1, "alice", "1.1.1.1");
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), { allowed: true });
    await fail(throttle, 1, "alice", "1.1.1.1");
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 60,
    });
  });
});

Deno.test("LoginThrottle.begin() does not let one address lock the account for another", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    await fail(throttle, LIMITS.perAccount, "alice", "6.6.6.6");
    strictEqual((await probe(throttle, "alice", "6.6.6.6")).allowed, false);
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), { allowed: true });
    deepStrictEqual(await probe(throttle, "bob", "6.6.6.6"), { allowed: true });
  });
});

Deno.test("LoginThrottle.begin() blocks an address spraying many accounts", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    for (let i = 0; i < LIMITS.perAddress; i++) await fail(throttle, 1, `user${i}`, "6.6.6.6");
    deepStrictEqual(await probe(throttle, "someone-new", "6.6.6.6"), {
      allowed: false,
      retryAfterSeconds: 60,
    });
    // Sign-ups (no account) from there are refused too: the same address counter.
    strictEqual((await probe(throttle, undefined, "6.6.6.6")).allowed, false);
    deepStrictEqual(await probe(throttle, "someone-new", "1.1.1.1"), { allowed: true });
  });
});

Deno.test("LoginThrottle reports Retry-After as the whole seconds left in the window", async () => {
  await withKv(async (kv) => {
    const { throttle, clock } = setUp(kv);
    await fail(throttle, LIMITS.perAccount, "alice", "1.1.1.1");
    clock.advance(20_500);
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 40,
    });
    clock.advance(39_000);
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 1,
    });
  });
});

Deno.test("LoginThrottle windows are fixed: failures do not push the end further out", async () => {
  await withKv(async (kv) => {
    const { throttle, clock } = setUp(kv);
    await fail(throttle, 1, "alice", "1.1.1.1");
    clock.advance(59_000);
    await fail(throttle, LIMITS.perAccount - 1, "alice", "1.1.1.1");
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 1,
    });
    clock.advance(1_000);
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), { allowed: true });
  });
});

Deno.test("LoginThrottle ignores a stale counter that KV still holds", async () => {
  await withKv(async (kv) => {
    const { throttle, clock } = setUp(kv);
    await fail(throttle, LIMITS.perAccount, "alice", "1.1.1.1");
    strictEqual((await probe(throttle, "alice", "1.1.1.1")).allowed, false);
    clock.advance(LIMITS.windowSeconds * 1000);
    // KV's expireIn runs on real time, so the entry is still there: the stored end decides.
    const stale = await kv.get<{ count: number; resetAt: number }>(
      accountFailuresKey("alice", "1.1.1.1"),
    );
    strictEqual(stale.value?.count, LIMITS.perAccount);
    ok(stale.value.resetAt <= clock.now());
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), { allowed: true });

    // The next failure starts a new window at 1 instead of adding to the stale count.
    await fail(throttle, 1, "alice", "1.1.1.1");
    deepStrictEqual((await kv.get(accountFailuresKey("alice", "1.1.1.1"))).value, {
      count: 1,
      resetAt: clock.now() + LIMITS.windowSeconds * 1000,
    });
  });
});

Deno.test("LoginThrottle passed() clears the account+address counter, not the address one", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv, { ...LIMITS, perAddress: 50 });
    await fail(throttle, 1, "alice", "1.1.1.1");
    const right = await throttle.begin({ account: "alice", address: "1.1.1.1", hashes: true });
    ok(right.allowed);
    // A second attempt from there, still being checked while the first one passes.
    const racing = await throttle.begin({ account: "alice", address: "1.1.1.1", hashes: true });
    ok(racing.allowed);
    await right.attempt.passed();
    await right.attempt.end();
    // The failures before the right password are gone; the racing attempt's reservation is not.
    strictEqual(await count(kv, accountFailuresKey("alice", "1.1.1.1")), 1);
    racing.attempt.failed();
    await racing.attempt.end();
    strictEqual(await count(kv, accountFailuresKey("alice", "1.1.1.1")), 1);
    // The passing attempt is no failure anywhere; the others stay counted by address and account.
    strictEqual(await count(kv, addressFailuresKey("1.1.1.1")), 2);
    strictEqual(await count(kv, accountTotalFailuresKey("alice")), 2);
    await fail(throttle, 1, "alice", "1.1.1.1");
    deepStrictEqual(await probe(throttle, "alice", "1.1.1.1"), { allowed: true });
    await fail(throttle, 1, "alice", "1.1.1.1");
    strictEqual((await probe(throttle, "alice", "1.1.1.1")).allowed, false);
  });
});

Deno.test("LoginThrottle end() without failed() or passed() gives the failure back, not the hash", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    await fail(throttle, 1, "alice", "1.1.1.1");
    // E.g. the hasher was busy (503): nothing was learned about the password.
    const busy = await throttle.begin({ account: "alice", address: "1.1.1.1", hashes: true });
    ok(busy.allowed);
    strictEqual(await count(kv, accountFailuresKey("alice", "1.1.1.1")), 2);
    await busy.attempt.end();
    strictEqual(await count(kv, accountFailuresKey("alice", "1.1.1.1")), 1);
    strictEqual(await count(kv, addressFailuresKey("1.1.1.1")), 1);
    strictEqual(await count(kv, accountTotalFailuresKey("alice")), 1);
    strictEqual(await count(kv, addressHashRequestsKey("1.1.1.1")), 2);
  });
});

Deno.test("LoginThrottle: an attempt that cannot hash does not build the account-wide lock", async () => {
  await withKv(async (kv) => {
    const limits = { ...LIMITS, perAddress: 50, perAccountAnyAddress: 4 };
    const { throttle } = setUp(kv, limits);
    // Passwords too long to hash, three from each of four addresses: the account+address and
    // address limits apply (each address is now locked for alice), the account-wide one does not.
    for (const address of ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]) {
      await fail(throttle, 3, "alice", address, false);
      strictEqual((await probe(throttle, "alice", address, { hashes: false })).allowed, false);
    }
    strictEqual(await count(kv, accountTotalFailuresKey("alice")), undefined);
    strictEqual(await count(kv, addressHashRequestsKey("1.1.1.1")), undefined);
    deepStrictEqual(await probe(throttle, "alice", "5.5.5.5"), { allowed: true });

    // Real guesses do build it, and once it holds it refuses every kind of attempt.
    for (const address of ["5.5.5.5", "6.6.6.6"]) await fail(throttle, 2, "alice", address);
    strictEqual((await probe(throttle, "alice", "7.7.7.7")).allowed, false);
    strictEqual((await probe(throttle, "alice", "7.7.7.7", { hashes: false })).allowed, false);
  });
});

Deno.test("LoginThrottle: checkAccountAnyAddress: false skips other people's failures, not the owner's", async () => {
  await withKv(async (kv) => {
    const limits = { ...LIMITS, perAddress: 50, perAccountAnyAddress: 4 };
    const { throttle } = setUp(kv, limits);
    for (const address of ["1.1.1.1", "2.2.2.2"]) await fail(throttle, 2, "alice", address);
    strictEqual((await probe(throttle, "alice", "9.9.9.9")).allowed, false);
    const owner = { checkAccountAnyAddress: false };
    deepStrictEqual(await probe(throttle, "alice", "9.9.9.9", owner), { allowed: true });
    // The owner's own failures still count, per account+address and per address.
    for (let i = 0; i < LIMITS.perAccount; i++) {
      const admission = await throttle.begin({
        account: "alice",
        address: "9.9.9.9",
        hashes: true,
        ...owner,
      });
      ok(admission.allowed, `owner attempt ${i + 1}`);
      admission.attempt.failed();
      await admission.attempt.end();
    }
    deepStrictEqual(await probe(throttle, "alice", "9.9.9.9", owner), {
      allowed: false,
      retryAfterSeconds: 60,
    });
    strictEqual(await count(kv, accountTotalFailuresKey("alice")), 4 + LIMITS.perAccount);
  });
});

Deno.test("LoginThrottle caps hash-costing requests per address, whatever their outcome", async () => {
  await withKv(async (kv) => {
    const limits = { ...LIMITS, hashesPerAddress: 4 };
    const { throttle, clock } = setUp(kv, limits);
    // Successful sign-ins, a sign-up and a password change all cost a hash.
    for (const account of ["alice", "alice", undefined, "bob"]) {
      const admission = await throttle.begin({ account, address: "6.6.6.6", hashes: true });
      ok(admission.allowed);
      await admission.attempt.passed();
      await admission.attempt.end();
    }
    strictEqual(await count(kv, addressFailuresKey("6.6.6.6")), undefined, "no failure counted");
    deepStrictEqual(await probe(throttle, "carol", "6.6.6.6"), {
      allowed: false,
      retryAfterSeconds: 60,
    });
    strictEqual((await probe(throttle, undefined, "6.6.6.6")).allowed, false);
    // An attempt that cannot hash costs no hash work, so it is not refused for it.
    strictEqual((await probe(throttle, "carol", "6.6.6.6", { hashes: false })).allowed, true);
    strictEqual((await probe(throttle, "alice", "1.2.3.4")).allowed, true);
    clock.advance(60_000);
    strictEqual((await probe(throttle, "carol", "6.6.6.6")).allowed, true);
  });
});

Deno.test("LoginThrottle refuses an address's attempts beyond concurrentPerAddress at once", async () => {
  await withKv(async (raw) => {
    const { kv, counts, reset } = countingKv(raw);
    const throttle = new LoginThrottle(kv, fakeClock().now, { ...LIMITS, concurrentPerAddress: 2 });
    const first = await throttle.begin({ account: "alice", address: "6.6.6.6", hashes: true });
    const second = await throttle.begin({ account: undefined, address: "6.6.6.6", hashes: true });
    ok(first.allowed && second.allowed);
    reset();
    deepStrictEqual(await throttle.begin({ account: "bob", address: "6.6.6.6", hashes: false }), {
      allowed: false,
      retryAfterSeconds: 1,
    });
    deepStrictEqual(counts, { reads: 0, writes: 0 }, "refused without touching KV");
    strictEqual((await probe(throttle, "bob", "1.2.3.4")).allowed, true);
    await first.attempt.end();
    strictEqual((await probe(throttle, "bob", "6.6.6.6")).allowed, true);
    await second.attempt.end();
    // end() twice does not free a place someone else holds.
    await second.attempt.end();
    const third = await throttle.begin({ account: "x", address: "6.6.6.6", hashes: true });
    const fourth = await throttle.begin({ account: "y", address: "6.6.6.6", hashes: true });
    ok(third.allowed && fourth.allowed);
    strictEqual((await throttle.begin({ address: "6.6.6.6", hashes: true })).allowed, false);
    await third.attempt.end();
    await fourth.attempt.end();
  });
});

Deno.test("LoginThrottle counts every one of concurrent failures", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv, {
      perAccount: 50,
      perAddress: 50,
      windowSeconds: 60,
      concurrentPerAddress: 10,
    });
    const admissions = await Promise.all(
      Array.from(
        { length: 10 },
        () => throttle.begin({ account: "alice", address: "1.1.1.1", hashes: true }),
      ),
    );
    await Promise.all(admissions.map(async (admission) => {
      ok(admission.allowed);
      admission.attempt.failed();
      await admission.attempt.end();
    }));
    strictEqual(await count(kv, accountFailuresKey("alice", "1.1.1.1")), 10);
    strictEqual(await count(kv, addressFailuresKey("1.1.1.1")), 10);
    strictEqual(await count(kv, accountTotalFailuresKey("alice")), 10);
  });
});

Deno.test("LoginThrottle keeps the count exact when another process commits between read and write", async () => {
  await withKv(async (raw) => {
    // Two throttles over one KV stand for two `deno serve --parallel` workers, which do not
    // queue behind each other. The first worker's read is followed, before its commit, by the
    // second worker taking the last place: the first must see that and refuse.
    const limits = { ...LIMITS, perAccountAnyAddress: 1 };
    const clock = fakeClock();
    const other = new LoginThrottle(raw, clock.now, limits);
    let interleave: (() => Promise<void>) | undefined = async () => {
      const admission = await other.begin({ account: "alice", address: "2.2.2.2", hashes: true });
      ok(admission.allowed, "the other worker takes the last place");
      admission.attempt.failed();
      await admission.attempt.end();
    };
    const kv = new Proxy(raw, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property !== "getMany") return typeof value === "function" ? value.bind(target) : value;
        return async (...args: Parameters<Deno.Kv["getMany"]>) => {
          const entries = await target.getMany(...args);
          const run = interleave;
          interleave = undefined;
          await run?.();
          return entries;
        };
      },
    });
    const throttle = new LoginThrottle(kv, clock.now, limits);
    deepStrictEqual(await throttle.begin({ account: "alice", address: "1.1.1.1", hashes: true }), {
      allowed: false,
      retryAfterSeconds: 3600,
    });
    strictEqual(interleave, undefined, "the other worker ran between read and commit");
    strictEqual(await count(raw, accountTotalFailuresKey("alice")), 1);
  });
});
