import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { accountFailuresKey, addressFailuresKey } from "../src/kv_keys.ts";
import {
  DEFAULT_THROTTLE_LIMITS,
  LoginThrottle,
  type ThrottleLimits,
} from "../src/login_throttle.ts";
import { type FakeClock, fakeClock, withKv } from "./_helpers.ts";

const LIMITS: ThrottleLimits = { perAccount: 3, perAddress: 5, windowSeconds: 60 };

async function fail(throttle: LoginThrottle, times: number, account: string, address: string) {
  for (let i = 0; i < times; i++) await throttle.recordFailure(account, address);
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
  });
});

Deno.test("LoginThrottle.check() caps one account at perAccountAnyAddress failures an hour (ASVS 2.2.1)", async () => {
  await withKv(async (kv) => {
    const limits = { ...LIMITS, perAccountAnyAddress: 6, accountWindowSeconds: 3600 };
    const { throttle, clock } = setUp(kv, limits);
    // Two failures from each of three addresses: every account+address counter stays under 3.
    for (const address of ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) {
      await fail(throttle, 2, "alice", address);
    }
    deepStrictEqual(await throttle.check("alice", "4.4.4.4"), {
      allowed: false,
      retryAfterSeconds: 3600,
    });
    strictEqual((await throttle.check("bob", "4.4.4.4")).allowed, true);
    clock.advance(3600 * 1000);
    strictEqual((await throttle.check("alice", "4.4.4.4")).allowed, true);
  });
});

Deno.test("LoginThrottle.check() blocks an account+address after perAccount failures", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: 0,
    });
    await fail(throttle, LIMITS.perAccount - 1, "alice", "1.1.1.1");
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: LIMITS.perAccount - 1,
    });
    await fail(throttle, 1, "alice", "1.1.1.1");
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 60,
    });
  });
});

Deno.test("LoginThrottle.check() does not let one address lock the account for another", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    await fail(throttle, LIMITS.perAccount, "alice", "6.6.6.6");
    strictEqual((await throttle.check("alice", "6.6.6.6")).allowed, false);
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: 0,
    });
    deepStrictEqual(await throttle.check("bob", "6.6.6.6"), { allowed: true, accountFailures: 0 });
  });
});

Deno.test("LoginThrottle.check() blocks an address spraying many accounts", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    for (let i = 0; i < LIMITS.perAddress; i++) await fail(throttle, 1, `user${i}`, "6.6.6.6");
    deepStrictEqual(await throttle.check("someone-new", "6.6.6.6"), {
      allowed: false,
      retryAfterSeconds: 60,
    });
    deepStrictEqual(await throttle.check("someone-new", "1.1.1.1"), {
      allowed: true,
      accountFailures: 0,
    });
  });
});

Deno.test("LoginThrottle reports Retry-After as the whole seconds left in the window", async () => {
  await withKv(async (kv) => {
    const { throttle, clock } = setUp(kv);
    await fail(throttle, LIMITS.perAccount, "alice", "1.1.1.1");
    clock.advance(20_500);
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 40,
    });
    clock.advance(39_000);
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
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
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: false,
      retryAfterSeconds: 1,
    });
    clock.advance(1_000);
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: 0,
    });
  });
});

Deno.test("LoginThrottle ignores a stale counter that KV still holds", async () => {
  await withKv(async (kv) => {
    const { throttle, clock } = setUp(kv);
    await fail(throttle, LIMITS.perAccount, "alice", "1.1.1.1");
    strictEqual((await throttle.check("alice", "1.1.1.1")).allowed, false);
    clock.advance(LIMITS.windowSeconds * 1000);
    // KV's expireIn runs on real time, so the entry is still there: the stored end decides.
    const stale = await kv.get<{ count: number; resetAt: number }>(
      accountFailuresKey("alice", "1.1.1.1"),
    );
    strictEqual(stale.value?.count, LIMITS.perAccount);
    ok(stale.value.resetAt <= clock.now());
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: 0,
    });

    // The next failure starts a new window at 1 instead of adding to the stale count.
    await fail(throttle, 1, "alice", "1.1.1.1");
    deepStrictEqual((await kv.get(accountFailuresKey("alice", "1.1.1.1"))).value, {
      count: 1,
      resetAt: clock.now() + LIMITS.windowSeconds * 1000,
    });
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: 1,
    });
  });
});

Deno.test("LoginThrottle.recordSuccess() clears the account counter, not the address one", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv);
    await fail(throttle, LIMITS.perAccount - 1, "alice", "1.1.1.1");
    await throttle.recordSuccess("alice", "1.1.1.1");
    strictEqual((await kv.get(accountFailuresKey("alice", "1.1.1.1"))).value, null);
    deepStrictEqual(
      (await kv.get<{ count: number }>(addressFailuresKey("1.1.1.1"))).value?.count,
      LIMITS.perAccount - 1,
    );
    await fail(throttle, LIMITS.perAccount - 1, "alice", "1.1.1.1");
    deepStrictEqual(await throttle.check("alice", "1.1.1.1"), {
      allowed: true,
      accountFailures: LIMITS.perAccount - 1,
    });
  });
});

Deno.test("LoginThrottle.recordFailure() counts every one of concurrent failures", async () => {
  await withKv(async (kv) => {
    const { throttle } = setUp(kv, { perAccount: 50, perAddress: 50, windowSeconds: 60 });
    await Promise.all(Array.from({ length: 10 }, () => throttle.recordFailure("alice", "1.1.1.1")));
    strictEqual(
      (await kv.get<{ count: number }>(accountFailuresKey("alice", "1.1.1.1"))).value?.count,
      10,
    );
    strictEqual(
      (await kv.get<{ count: number }>(addressFailuresKey("1.1.1.1"))).value?.count,
      10,
    );
  });
});
