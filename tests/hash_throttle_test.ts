/**
 * Throttling of every request that hashes, over HTTP: one address cannot take the hasher from
 * everyone else, failure limits hold exactly under a burst, passwords that cannot be hashed build
 * no account-wide lock, the owner can always change their password, sign-up is throttled, and an
 * IPv6 client counts as its /64.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { DEFAULT_THROTTLE_LIMITS } from "../src/login_throttle.ts";
import {
  createPasswordHasher,
  HashBusyError,
  type PasswordHasher,
  TEST_SCRYPT_PARAMS,
} from "../src/passwords.ts";
import { createTestApp, form, ORIGIN, setCookieValue, type TestApp } from "./_helpers.ts";

const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "a brand new passphrase";

/** A same-origin form POST as if from the socket address `address`; the body is cancelled. */
async function postFrom(
  app: TestApp,
  address: string,
  path: string,
  fields: Record<string, string>,
  token?: string,
): Promise<Response> {
  const init = form(fields);
  const headers = new Headers(init.headers);
  headers.set("Sec-Fetch-Site", "same-origin");
  if (token !== undefined) headers.set("Cookie", `sid=${token}`);
  const response = await app.app.request(`${ORIGIN}${path}`, { ...init, headers }, {
    remoteAddr: { hostname: address },
  });
  await response.body?.cancel();
  return response;
}

function signUpFrom(app: TestApp, address: string, username: string, password = PASSWORD) {
  return postFrom(app, address, "/signup", { username, password, displayName: username });
}

function signInFrom(app: TestApp, address: string, username: string, password = PASSWORD) {
  return postFrom(app, address, "/login", { username, password });
}

function changeFrom(app: TestApp, address: string, token: string, current: string, next: string) {
  return postFrom(
    app,
    address,
    "/account/password",
    { currentPassword: current, newPassword: next },
    token,
  );
}

/** Signs `username` up from `address` and returns the session token. */
async function account(app: TestApp, address: string, username: string): Promise<string> {
  const response = await signUpFrom(app, address, username);
  strictEqual(response.status, 303, `sign-up of ${username}`);
  return setCookieValue(response, "sid")!;
}

/** Wraps a hasher so that every call that checks a password (verify, verifyDummy) is counted. */
function countingVerifies(
  inner: PasswordHasher,
): { hasher: PasswordHasher; verifies: () => number } {
  let calls = 0;
  return {
    hasher: {
      params: inner.params,
      hash: (password) => inner.hash(password),
      verify: (password, stored) => (calls++, inner.verify(password, stored)),
      verifyDummy: (password) => (calls++, inner.verifyDummy(password)),
      stats: () => inner.stats(),
    },
    verifies: () => calls,
  };
}

/**
 * A hasher limited like the real one (`maxConcurrent` hashes run, `maxQueue` callers wait in
 * order, the next is refused with {@linkcode HashBusyError}) whose running hashes do not finish
 * while it is paused: the test, not the clock, decides when the hasher is full.
 */
function pausableHasher(maxConcurrent: number, maxQueue: number) {
  const inner = createPasswordHasher({ params: TEST_SCRYPT_PARAMS, maxWaitMs: Infinity });
  let active = 0;
  const waiting: (() => void)[] = [];
  let gate = Promise.resolve();
  let open = () => {};
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((listener) => listener());

  async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active < maxConcurrent && waiting.length === 0) active++;
    else if (waiting.length >= maxQueue) {
      throw new HashBusyError("queue-full", `${active} running, ${waiting.length} waiting`, 3);
    } else {
      const granted = new Promise<void>((resolve) => waiting.push(resolve));
      changed();
      await granted; // The slot is handed over: `active` stays as it is.
    }
    changed();
    try {
      await gate;
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
      changed();
    }
  }

  const hasher: PasswordHasher = {
    params: inner.params,
    hash: (password) => run(() => inner.hash(password)),
    verify: (password, stored) => run(() => inner.verify(password, stored)),
    verifyDummy: (password) => run(() => inner.verifyDummy(password)),
    stats: () => ({ active, queued: waiting.length }),
  };
  return {
    hasher,
    /** Running hashes wait from now on. */
    pause() {
      const { promise, resolve } = Promise.withResolvers<void>();
      gate = promise;
      open = resolve;
    },
    /** Lets every waiting and future hash run. */
    resume() {
      gate = Promise.resolve();
      open();
    },
    /** Calls `listener` whenever a call enters, moves up or leaves. */
    onChange(listener: () => void) {
      listeners.add(listener);
    },
  };
}

/**
 * Resolves once `condition()` holds, checking now and on every `notify()`. Rejects after 10 s
 * (a broken test, not a slow machine: nothing here waits on real time) with `what`.
 */
function watcher() {
  const checks = new Set<() => void>();
  return {
    notify: () => checks.forEach((check) => check()),
    until(condition: () => boolean, what: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`never happened: ${what}`));
        }, 10_000);
        const check = () => {
          if (!condition()) return;
          clearTimeout(timer);
          checks.delete(check);
          resolve();
        };
        checks.add(check);
        check();
      });
    },
  };
}

Deno.test("A victim on another address signs in while one address floods every hashing path", async () => {
  // The real default in miniature: one hash at a time, two callers may wait, then 503.
  const paused = pausableHasher(1, 2);
  const app = await createTestApp({ hasher: paused.hasher });
  const attacker = "203.0.113.9";
  const victim = "198.51.100.7";
  const flood: Promise<Response>[] = [];
  let victimSignIn: Promise<Response> | undefined;
  try {
    const attackerToken = await account(app, attacker, "mallory");
    await account(app, victim, "alice");
    const watch = watcher();
    paused.onChange(watch.notify);

    paused.pause();
    let answered = 0;
    const send = (request: () => Promise<Response>) =>
      flood.push(request().finally(() => (answered++, watch.notify())));
    for (let i = 0; i < 8; i++) {
      send(() => signUpFrom(app, attacker, `flood${i}`));
      send(() => signInFrom(app, attacker, "mallory"));
      // The right current password with an unacceptable new one: a hash, then 400.
      send(() => changeFrom(app, attacker, attackerToken, PASSWORD, "short"));
    }
    const inHasher = () => paused.hasher.stats().active + paused.hasher.stats().queued;
    await watch.until(
      () => answered + inHasher() === flood.length,
      "every flood request answered or inside the hasher",
    );

    let victimAnswered = false;
    victimSignIn = signInFrom(app, victim, "alice").finally(() => {
      victimAnswered = true;
      watch.notify();
    });
    await watch.until(
      () => victimAnswered || inHasher() === flood.length - answered + 1,
      "the victim's sign-in answered or inside the hasher",
    );
    paused.resume();

    strictEqual((await victimSignIn).status, 303, "the victim signs in");
    const statuses = (await Promise.all(flood)).map((response) => response.status);
    // The flooding address had two requests at the hasher; the rest were refused before it.
    strictEqual(statuses.filter((status) => status === 429).length, flood.length - 2);
    deepStrictEqual(
      statuses.filter((status) => status !== 429 && ![303, 400].includes(status)),
      [],
    );
    for (const response of await Promise.all(flood)) {
      if (response.status === 429) strictEqual(response.headers.get("Retry-After"), "1");
    }
  } finally {
    // Even when an assertion failed, let every request finish before KV closes.
    paused.resume();
    await Promise.allSettled([...flood, victimSignIn]);
    app.close();
  }
});

Deno.test("Sign-ups, sign-ins and password changes share one hash budget per address", async () => {
  const app = await createTestApp({
    throttleLimits: { ...DEFAULT_THROTTLE_LIMITS, hashesPerAddress: 3 },
  });
  const flooder = "203.0.113.9";
  try {
    // Three requests that hash and succeed (or fail only on the new password): no failure.
    const token = await account(app, flooder, "mallory");
    strictEqual((await signInFrom(app, flooder, "mallory")).status, 303);
    strictEqual((await changeFrom(app, flooder, token, PASSWORD, "short")).status, 400);

    for (
      const [name, request] of [
        ["sign-in", () => signInFrom(app, flooder, "mallory")],
        ["sign-up", () => signUpFrom(app, flooder, "mallory2")],
        ["password change", () => changeFrom(app, flooder, token, PASSWORD, NEW_PASSWORD)],
      ] as const
    ) {
      const response = await request();
      strictEqual(response.status, 429, name);
      strictEqual(response.headers.get("Retry-After"), "900", name);
      deepStrictEqual(response.headers.getSetCookie(), [], name);
    }
    // Another address is not affected, and the budget comes back with the window.
    strictEqual((await signInFrom(app, "198.51.100.7", "mallory")).status, 303);
    app.clock.advance(900_000);
    strictEqual((await signInFrom(app, flooder, "mallory")).status, 303);
  } finally {
    app.close();
  }
});

Deno.test("POST /login lets exactly 100 of 150 concurrent failures from 150 addresses check a password", async () => {
  const { hasher, verifies } = countingVerifies(
    createPasswordHasher({ params: TEST_SCRYPT_PARAMS, maxQueue: 200, maxWaitMs: Infinity }),
  );
  const app = await createTestApp({ hasher });
  try {
    await account(app, "198.51.100.7", "alice");
    const responses = await Promise.all(
      Array.from(
        { length: 150 },
        (_, i) => signInFrom(app, `10.0.${i >> 8}.${i & 255}`, "alice", `wrong guess ${i}`),
      ),
    );
    const statuses = responses.map((response) => response.status);
    strictEqual(statuses.filter((status) => status === 401).length, 100);
    strictEqual(statuses.filter((status) => status === 429).length, 50);
    strictEqual(verifies(), 100, "passwords checked");
    strictEqual((await signInFrom(app, "10.9.9.9", "alice")).status, 429);
  } finally {
    app.close();
  }
});

Deno.test("POST /login: passwords too long to hash do not lock the account from other addresses", async () => {
  const app = await createTestApp();
  try {
    await account(app, "198.51.100.7", "alice");
    // 100 refused without hashing, ten from each of ten addresses.
    for (let a = 1; a <= 10; a++) {
      for (let i = 0; i < 10; i++) {
        const response = await signInFrom(app, `192.0.2.${a}`, "alice", "x".repeat(257 + i));
        strictEqual(response.status, 401, `address ${a}, attempt ${i + 1}`);
      }
      // Each of those addresses is locked for alice, as for any ten failures.
      strictEqual((await signInFrom(app, `192.0.2.${a}`, "alice")).status, 429);
    }
    strictEqual((await signInFrom(app, "198.51.100.7", "alice")).status, 303);
    strictEqual((await signInFrom(app, "192.0.2.99", "alice")).status, 303);
  } finally {
    app.close();
  }
});

Deno.test("POST /account/password: other people's failures never block the owner, their own do", async (t) => {
  const app = await createTestApp({
    throttleLimits: { ...DEFAULT_THROTTLE_LIMITS, perAccount: 3, perAccountAnyAddress: 4 },
  });
  const owner = "198.51.100.7";
  try {
    let token = await account(app, owner, "alice");

    await t.step("four wrong guesses from four addresses lock alice's sign-in", async () => {
      for (let a = 1; a <= 4; a++) {
        strictEqual((await signInFrom(app, `192.0.2.${a}`, "alice", "guess")).status, 401);
      }
      strictEqual((await signInFrom(app, "192.0.2.50", "alice")).status, 429);
      strictEqual((await signInFrom(app, owner, "alice")).status, 429);
    });

    await t.step("the signed-in owner still changes the password", async () => {
      const response = await changeFrom(app, owner, token, PASSWORD, NEW_PASSWORD);
      strictEqual(response.status, 303);
      token = setCookieValue(response, "sid")!;
      ok(token);
    });

    await t.step("the owner's own wrong current passwords still count", async () => {
      for (let i = 0; i < 3; i++) {
        strictEqual((await changeFrom(app, owner, token, "not it", PASSWORD)).status, 401);
      }
      const response = await changeFrom(app, owner, token, NEW_PASSWORD, PASSWORD);
      strictEqual(response.status, 429);
      strictEqual(response.headers.get("Retry-After"), "900");
    });
  } finally {
    app.close();
  }
});

Deno.test("POST /signup is throttled per address: a taken name counts as a failed attempt", async () => {
  const app = await createTestApp({
    throttleLimits: { ...DEFAULT_THROTTLE_LIMITS, perAddress: 5 },
  });
  const harvester = "203.0.113.9";
  try {
    await account(app, "198.51.100.7", "alice");
    for (let i = 0; i < 5; i++) {
      strictEqual((await signUpFrom(app, harvester, "alice")).status, 409, `attempt ${i + 1}`);
    }
    for (const name of ["alice", "bob"]) {
      const response = await app.app.request(
        `${ORIGIN}/signup`,
        {
          ...form({ username: name, password: PASSWORD, displayName: name }),
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "same-origin",
          },
        },
        { remoteAddr: { hostname: harvester } },
      );
      const body = await response.text();
      strictEqual(response.status, 429, name);
      strictEqual(response.headers.get("Retry-After"), "900");
      ok(body.includes("Too many attempts from this address."), body);
      deepStrictEqual(response.headers.getSetCookie(), []);
    }
    // A real new user elsewhere is not affected.
    strictEqual((await signUpFrom(app, "198.51.100.8", "alice")).status, 409);
    strictEqual((await signUpFrom(app, "198.51.100.8", "bob")).status, 303);
    app.clock.advance(900_000);
    strictEqual((await signUpFrom(app, harvester, "carol")).status, 303);
  } finally {
    app.close();
  }
});

Deno.test("POST /login counts every address of one IPv6 /64 as one client", async () => {
  const app = await createTestApp();
  try {
    await account(app, "198.51.100.7", "alice");
    for (let i = 1; i <= 10; i++) {
      const address = `2001:db8:1:2:${i.toString(16)}:0:0:1`;
      strictEqual((await signInFrom(app, address, "alice", "wrong")).status, 401, address);
    }
    const locked = await signInFrom(app, "2001:db8:1:2:ffff:ffff:ffff:ffff", "alice");
    strictEqual(locked.status, 429);
    strictEqual((await signInFrom(app, "2001:db8:1:3::1", "alice")).status, 303);
  } finally {
    app.close();
  }
});
