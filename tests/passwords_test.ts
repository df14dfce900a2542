import {
  deepStrictEqual,
  match,
  notStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes, scryptSync } from "node:crypto";
import {
  createPasswordHasher,
  DEFAULT_SCRYPT_PARAMS,
  HashBusyError,
  needsRehash,
  parseStoredHash,
  type PasswordHasher,
  type ScryptParams,
  TEST_SCRYPT_PARAMS,
  validatePassword,
} from "../src/passwords.ts";

const PASSWORD = "correct horse battery";
// Expensive enough (32 MiB, tens of milliseconds) that a blocked event loop would be obvious.
const SLOW_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1, keyLength: 32 };
const B64 = "[A-Za-z0-9+/]";

function testHasher(options: Parameters<typeof createPasswordHasher>[0] = {}) {
  // A long default wait: on a loaded machine the hashing thread can be slow to get a core, and
  // only the tests about the wait limit should ever see it.
  return createPasswordHasher({ params: TEST_SCRYPT_PARAMS, maxWaitMs: 60_000, ...options });
}

/**
 * Runs `check` while a hash holds the only slot of `hasher` (made with `maxQueue: 0`, so any
 * further hashing is refused), and always waits for that hash so a failure cannot leak it.
 */
async function whileBusy(hasher: PasswordHasher, check: () => Promise<void>): Promise<void> {
  const running = hasher.hash(PASSWORD);
  try {
    deepStrictEqual(hasher.stats(), { active: 1, queued: 0 });
    await check();
  } finally {
    await running;
  }
}

/** Builds a `v=1` stored hash with `scryptSync`, independently of the module under test. */
function storedWithScryptSync(password: string, params: ScryptParams): string {
  const salt = randomBytes(16);
  const { N, r, p, keyLength } = params;
  const key = scryptSync(password, salt, keyLength, { N, r, p });
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");
  return `scrypt$v=1$n=${N},r=${r},p=${p}$${b64(salt)}$${b64(key)}`;
}

/** Replaces the character at `index` with another base64 character. */
function flipChar(text: string, index: number): string {
  const replacement = text[index] === "A" ? "B" : "A";
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

Deno.test("hash() returns a self-describing string with the parameters, salt and key", async () => {
  const stored = await testHasher().hash(PASSWORD);
  notStrictEqual(stored, PASSWORD);
  ok(!stored.includes(PASSWORD));
  match(stored, new RegExp(`^scrypt\\$v=1\\$n=1024,r=8,p=1\\$${B64}{22}\\$${B64}{43}$`));
  deepStrictEqual(parseStoredHash(stored)?.params, { ...TEST_SCRYPT_PARAMS });
});

Deno.test("hash() uses a fresh salt, so the same password hashes differently", async () => {
  const hasher = testHasher();
  const [first, second] = await Promise.all([hasher.hash(PASSWORD), hasher.hash(PASSWORD)]);
  notStrictEqual(first, second);
  notStrictEqual(first.split("$")[3], second.split("$")[3]);
  deepStrictEqual(await hasher.verify(PASSWORD, first), { ok: true, needsRehash: false });
  deepStrictEqual(await hasher.verify(PASSWORD, second), { ok: true, needsRehash: false });
});

Deno.test("verify() accepts the right password and refuses a wrong one", async (t) => {
  const hasher = testHasher();
  const stored = await hasher.hash(PASSWORD);
  deepStrictEqual(await hasher.verify(PASSWORD, stored), { ok: true, needsRehash: false });
  for (
    const [name, attempt] of [
      ["one character changed", "correct horse batterY"],
      ["trailing space", `${PASSWORD} `],
      ["prefix", "correct horse batter"],
      ["empty", ""],
      ["case changed", PASSWORD.toUpperCase()],
    ]
  ) {
    await t.step(name ?? "", async () => {
      deepStrictEqual(await hasher.verify(attempt ?? "", stored), {
        ok: false,
        needsRehash: false,
      });
    });
  }
});

Deno.test("verify() refuses a tampered stored hash", async (t) => {
  const hasher = testHasher();
  const stored = await hasher.hash(PASSWORD);
  const [scheme, version, params, salt, key] = stored.split("$") as [
    string,
    string,
    string,
    string,
    string,
  ];
  const cases: [string, string][] = [
    ["key changed", [scheme, version, params, salt, flipChar(key, 5)].join("$")],
    ["salt changed", [scheme, version, params, flipChar(salt, 5), key].join("$")],
    ["n changed", [scheme, version, "n=2048,r=8,p=1", salt, key].join("$")],
    ["r changed", [scheme, version, "n=1024,r=4,p=1", salt, key].join("$")],
    ["p changed", [scheme, version, "n=1024,r=8,p=2", salt, key].join("$")],
    [
      "key swapped with another hash's",
      [scheme, version, params, salt, (await hasher.hash(PASSWORD)).split("$")[4]].join("$"),
    ],
  ];
  for (const [name, tampered] of cases) {
    await t.step(name, async () => {
      notStrictEqual(tampered, stored);
      deepStrictEqual(await hasher.verify(PASSWORD, tampered), { ok: false, needsRehash: false });
    });
  }
});

Deno.test("verify() returns ok: false, without throwing, for a malformed stored hash", async (t) => {
  const hasher = testHasher();
  const good = await hasher.hash(PASSWORD);
  const [, , , salt, key] = good.split("$") as [string, string, string, string, string];
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["not a string", undefined],
    ["plain text", PASSWORD],
    ["other scheme", good.replace(/^scrypt/, "bcrypt")],
    ["other version", good.replace("v=1", "v=2")],
    ["missing key", good.slice(0, good.lastIndexOf("$"))],
    ["extra field", `${good}$AAAA`],
    ["base64 padding", `${good}=`],
    ["base64url alphabet", good.slice(0, -1) + "_"],
    ["non-canonical last character", good.slice(0, -1) + (key.endsWith("B") ? "C" : "B")],
    ["leading whitespace", ` ${good}`],
    ["trailing newline", `${good}\n`],
    ["leading zero", good.replace("n=1024", "n=01024")],
    ["n not a power of two", good.replace("n=1024", "n=1000")],
    ["n so big it needs 1 GiB", good.replace("n=1024", "n=1048576")],
    ["p too big", good.replace("p=1", "p=999")],
    ["parameters reordered", good.replace("n=1024,r=8,p=1", "r=8,n=1024,p=1")],
    ["salt too short", good.replace(salt, salt.slice(0, 11))],
    ["key too short", good.replace(key, key.slice(0, 10))],
  ];
  for (const [name, stored] of cases) {
    await t.step(name, async () => {
      strictEqual(parseStoredHash(stored), null);
      deepStrictEqual(await hasher.verify(PASSWORD, stored as string), {
        ok: false,
        needsRehash: false,
      });
      strictEqual(needsRehash(stored as string, TEST_SCRYPT_PARAMS), true);
    });
  }
});

Deno.test("verify() does the dummy work for a malformed stored hash", async () => {
  // With the only slot taken and no queue, any hashing is refused: proof verify() tries to hash.
  const hasher = testHasher({ maxConcurrent: 1, maxQueue: 0 });
  await whileBusy(hasher, async () => {
    await rejects(hasher.verify(PASSWORD, "garbage"), HashBusyError);
  });
});

Deno.test("needsRehash() is true when the stored parameters differ from the current ones", async (t) => {
  const weak = await testHasher().hash(PASSWORD);
  const stronger: ScryptParams = { ...TEST_SCRYPT_PARAMS, N: 2 ** 11 };

  await t.step("needsRehash() on the string", () => {
    strictEqual(needsRehash(weak, TEST_SCRYPT_PARAMS), false);
    strictEqual(needsRehash(weak, stronger), true);
    strictEqual(needsRehash(weak, DEFAULT_SCRYPT_PARAMS), true);
    strictEqual(needsRehash(weak, { ...TEST_SCRYPT_PARAMS, r: 16 }), true);
    strictEqual(needsRehash(weak, { ...TEST_SCRYPT_PARAMS, p: 2 }), true);
    strictEqual(needsRehash(weak, { ...TEST_SCRYPT_PARAMS, keyLength: 64 }), true);
  });

  await t.step("verify() with stronger current parameters reports it after a match", async () => {
    const upgraded = createPasswordHasher({ params: stronger });
    deepStrictEqual(await upgraded.verify(PASSWORD, weak), { ok: true, needsRehash: true });
    // Only a correct password can be rehashed.
    deepStrictEqual(await upgraded.verify("wrong password", weak), {
      ok: false,
      needsRehash: false,
    });
    const rehashed = await upgraded.hash(PASSWORD);
    match(rehashed, /^scrypt\$v=1\$n=2048,r=8,p=1\$/);
    deepStrictEqual(await upgraded.verify(PASSWORD, rehashed), { ok: true, needsRehash: false });
  });
});

Deno.test("verifyDummy() returns false and takes a hashing slot like a real verification", async () => {
  const hasher = testHasher({ maxConcurrent: 1, maxQueue: 0 });
  strictEqual(await hasher.verifyDummy(PASSWORD), false);
  strictEqual(await hasher.verifyDummy(""), false);
  const running = hasher.verifyDummy(PASSWORD);
  try {
    deepStrictEqual(hasher.stats(), { active: 1, queued: 0 });
    await rejects(hasher.verifyDummy(PASSWORD), HashBusyError);
  } finally {
    strictEqual(await running, false);
  }
  deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
});

Deno.test("hash() refuses the excess with HashBusyError when the slot and queue are full", async () => {
  // A generous wait: this test is about the queue bound, not the wait limit, and a loaded CI
  // machine may take seconds to schedule the hashing thread.
  const hasher = testHasher({ maxConcurrent: 1, maxQueue: 1, maxWaitMs: 60_000 });
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, (_, i) => hasher.hash(`${PASSWORD} ${i}`)),
  );
  const admitted = results.filter((result) => result.status === "fulfilled");
  const refused = results.filter((result) => result.status === "rejected");
  strictEqual(admitted.length, 2);
  strictEqual(refused.length, 3);
  for (const [i, result] of results.slice(0, 2).entries()) {
    strictEqual(result.status, "fulfilled");
    if (result.status === "fulfilled") {
      strictEqual((await hasher.verify(`${PASSWORD} ${i}`, result.value)).ok, true);
    }
  }
  for (const result of refused) {
    if (result.status !== "rejected") continue;
    ok(result.reason instanceof HashBusyError);
    strictEqual(result.reason.name, "HashBusyError");
    strictEqual(result.reason.reason, "queue-full");
    strictEqual(result.reason.retryAfterSeconds, 60);
    strictEqual(result.reason.message, "Cannot hash password now: 1 hashes running and 1 waiting");
  }
  deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
});

Deno.test("hash() never runs more than maxConcurrent at once and serves the queue in order", async () => {
  const hasher = testHasher({ maxConcurrent: 2, maxQueue: 10, maxWaitMs: 60_000 });
  const order: number[] = [];
  const jobs = Array.from(
    { length: 6 },
    (_, i) => hasher.hash(`${PASSWORD} ${i}`).then(() => order.push(i)),
  );
  deepStrictEqual(hasher.stats(), { active: 2, queued: 4 });
  await Promise.all(jobs);
  deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
  // The 60 s wait timers of the four queued calls were cleared, or the sanitizer fails this test.
  strictEqual(order.length, 6);
});

Deno.test("hash() refuses with HashBusyError when the wait exceeds maxWaitMs", async () => {
  const hasher = createPasswordHasher({
    params: SLOW_PARAMS,
    maxConcurrent: 1,
    maxQueue: 5,
    maxWaitMs: 1,
  });
  const running = hasher.hash(PASSWORD);
  try {
    const error = await hasher.hash(PASSWORD).then(
      () => null,
      (error: unknown) => error,
    );
    ok(error instanceof HashBusyError);
    strictEqual(error.reason, "timeout");
    strictEqual(error.retryAfterSeconds, 1);
    strictEqual(
      error.message,
      "Cannot hash password now: no hashing slot became free within 1 ms",
    );
    // The timed-out caller left the queue; the first hash is still running.
    deepStrictEqual(hasher.stats(), { active: 1, queued: 0 });
  } finally {
    match(await running, /^scrypt\$/);
  }
});

Deno.test("hash() runs off the event loop: timers keep firing while it works", async () => {
  const hasher = createPasswordHasher({ params: SLOW_PARAMS });
  let hashing = true;
  let ticks = 0;
  const ticker = new Promise<void>((resolve) => {
    const tick = () => {
      if (!hashing) return resolve();
      ticks++;
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  });
  await hasher.hash(PASSWORD);
  hashing = false;
  await ticker;
  // scryptSync here would leave ticks at 0: no timer can fire while the thread is busy.
  ok(ticks > 5, `expected the event loop to keep ticking during the hash, got ${ticks} ticks`);
});

Deno.test("hash() and verify() work with the production parameters", async () => {
  const hasher = createPasswordHasher();
  deepStrictEqual(hasher.params, { ...DEFAULT_SCRYPT_PARAMS });
  const stored = await hasher.hash(PASSWORD);
  match(stored, new RegExp(`^scrypt\\$v=1\\$n=131072,r=8,p=1\\$${B64}{22}\\$${B64}{43}$`));
  deepStrictEqual(await hasher.verify(PASSWORD, stored), { ok: true, needsRehash: false });
});

Deno.test("hash() rejects an invalid password with RangeError before queueing", async (t) => {
  // The only slot is busy and there is no queue: reaching the limiter would be HashBusyError.
  const hasher = testHasher({ maxConcurrent: 1, maxQueue: 0 });
  const cases: [string, string, string][] = [
    ["too short", "short", "Cannot hash password: Password must be at least 8 characters"],
    [
      "257 characters",
      "a".repeat(257),
      "Cannot hash password: Password must be at most 256 characters",
    ],
    [
      "1 MB",
      "a".repeat(1_000_000),
      "Cannot hash password: Password must be at most 256 characters",
    ],
  ];
  await whileBusy(hasher, async () => {
    for (const [name, password, message] of cases) {
      await t.step(name, async () => {
        await rejects(hasher.hash(password), { name: "RangeError", message });
      });
    }
  });
});

Deno.test("verify() refuses an over-long password without hashing it", async () => {
  // Reaching the limiter while its only slot is busy would be HashBusyError, not ok: false.
  const hasher = testHasher({ maxConcurrent: 1, maxQueue: 0 });
  const stored = await hasher.hash(PASSWORD);
  const refused = { ok: false, needsRehash: false };
  await whileBusy(hasher, async () => {
    deepStrictEqual(await hasher.verify("a".repeat(1_000_000), stored), refused);
    deepStrictEqual(await hasher.verify("a".repeat(257), stored), refused);
    deepStrictEqual(await hasher.verify("\uD800 lone surrogate", stored), refused);
  });
});

Deno.test("verifyDummy() refuses without hashing what verify() refuses without hashing", async () => {
  // Otherwise an over-long password would be slow for unknown users and fast for known ones.
  const hasher = testHasher({ params: SLOW_PARAMS, maxConcurrent: 1, maxQueue: 0 });
  await whileBusy(hasher, async () => {
    await rejects(hasher.verifyDummy("a".repeat(256)), HashBusyError);
    strictEqual(await hasher.verifyDummy("a".repeat(1_000_000)), false);
    strictEqual(await hasher.verifyDummy("a".repeat(257)), false);
    strictEqual(await hasher.verifyDummy("\uD800 lone surrogate"), false);
    deepStrictEqual(hasher.stats(), { active: 1, queued: 0 });
  });
});

Deno.test("verify() accepts a password set under an older, lower minimum length", async () => {
  // hash() refuses "short" today, so the stored hash is made with scryptSync directly; this also
  // checks the stored format against an independent implementation.
  const stored = storedWithScryptSync("short", TEST_SCRYPT_PARAMS);
  const hasher = testHasher();
  deepStrictEqual(await hasher.verify("short", stored), { ok: true, needsRehash: false });
  deepStrictEqual(await hasher.verify("shore", stored), { ok: false, needsRehash: false });
});

Deno.test("createPasswordHasher() rejects bad parameters and limits with RangeError", async (t) => {
  const prefix = "Cannot create password hasher: ";
  const cases: [string, Parameters<typeof createPasswordHasher>[0], string][] = [
    [
      "N not a power of two",
      { params: { ...TEST_SCRYPT_PARAMS, N: 1000 } },
      "N must be a power of two of at least 2, got 1000",
    ],
    [
      "N needing 1 GiB",
      { params: { ...DEFAULT_SCRYPT_PARAMS, N: 2 ** 20 } },
      "N=1048576, r=8, p=1 needs 1073744896 bytes, more than 268435456",
    ],
    [
      "r zero",
      { params: { ...TEST_SCRYPT_PARAMS, r: 0 } },
      "r must be an integer from 1 to 32, got 0",
    ],
    [
      "p fractional",
      { params: { ...TEST_SCRYPT_PARAMS, p: 1.5 } },
      "p must be an integer from 1 to 16, got 1.5",
    ],
    [
      "keyLength short",
      { params: { ...TEST_SCRYPT_PARAMS, keyLength: 8 } },
      "keyLength must be an integer from 16 to 64, got 8",
    ],
    [
      "maxConcurrent zero",
      { maxConcurrent: 0 },
      "maxConcurrent must be an integer of at least 1, got 0",
    ],
    ["maxQueue negative", { maxQueue: -1 }, "maxQueue must be an integer of at least 0, got -1"],
    [
      "maxWaitMs NaN",
      { maxWaitMs: NaN },
      "maxWaitMs must be from 0 to 2147483647 or Infinity, got NaN",
    ],
    [
      "workerIdleMs negative",
      { workerIdleMs: -1 },
      "workerIdleMs must be an integer from 0 to 2147483647, got -1",
    ],
    [
      "hashTimeoutMs zero",
      { hashTimeoutMs: 0 },
      "hashTimeoutMs must be an integer from 1 to 2147483647, got 0",
    ],
  ];
  for (const [name, options, message] of cases) {
    await t.step(name, () => {
      throws(() => createPasswordHasher(options), {
        name: "RangeError",
        message: prefix + message,
      });
    });
  }
});

Deno.test("createPasswordHasher() copies the caller's parameters", async () => {
  const params = { ...TEST_SCRYPT_PARAMS };
  const hasher = createPasswordHasher({ params });
  params.N = 2 ** 20;
  strictEqual(hasher.params.N, 1024);
  match(await hasher.hash(PASSWORD), /^scrypt\$v=1\$n=1024,/);
});

Deno.test("validatePassword() accepts 8 to 256 code points", async (t) => {
  const cases: [string, unknown, string | null][] = [
    ["empty", "", "Password must be at least 8 characters"],
    ["7 characters", "a".repeat(7), "Password must be at least 8 characters"],
    ["8 characters", "a".repeat(8), null],
    ["256 characters", "a".repeat(256), null],
    ["257 characters", "a".repeat(257), "Password must be at most 256 characters"],
    ["1 MB", "a".repeat(1_000_000), "Password must be at most 256 characters"],
    // Astral characters are two UTF-16 units each: counting units would get these wrong.
    ["7 emoji (14 UTF-16 units)", "🐴".repeat(7), "Password must be at least 8 characters"],
    ["8 emoji", "🐴".repeat(8), null],
    ["256 emoji (512 UTF-16 units)", "🐴".repeat(256), null],
    ["257 emoji", "🐴".repeat(257), "Password must be at most 256 characters"],
    ["spaces only", " ".repeat(8), null],
    ["unpaired surrogate", "password\uD800", "Password contains an invalid character"],
    ["not a string", undefined, "Password is required"],
    ["a File from a form", new File([], "password.txt"), "Password is required"],
  ];
  for (const [name, password, expected] of cases) {
    await t.step(name, () => {
      strictEqual(validatePassword(password), expected);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Hashing Workers (issue 17): no stall, crashes and lost replies fail one hash and free its slot

const FAULTS_URL = new URL("./_password_worker_faults.ts", import.meta.url);

/**
 * A `createWorker` for the hasher that starts the stand-ins named in `faults` first (see
 * `_password_worker_faults.ts`), then the real Worker, and records what it started and stopped.
 */
function workerFactory(...faults: ("crash" | "silent" | "broken")[]) {
  const started: string[] = [];
  const terminated: string[] = [];
  let jobs = 0;
  const createWorker = () => {
    const fault = faults.shift();
    const worker = fault === undefined
      ? new Worker(new URL("../src/password_worker.ts", import.meta.url), { type: "module" })
      : new Worker(FAULTS_URL, { type: "module", name: fault });
    const name = fault ?? "real";
    started.push(name);
    const terminate = worker.terminate.bind(worker);
    worker.terminate = () => {
      terminated.push(name);
      terminate();
    };
    const postMessage = worker.postMessage.bind(worker);
    worker.postMessage = (message: unknown) => {
      jobs++;
      postMessage(message);
    };
    return worker;
  };
  return { createWorker, started, terminated, jobs: () => jobs };
}

/** Waits, a bounded number of 10 ms turns, until `done()` holds; returns whether it did. */
async function eventually(done: () => boolean, turns = 500): Promise<boolean> {
  for (let turn = 0; turn < turns && !done(); turn++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return done();
}

/** Replaces `console.warn` while `fn` runs and returns what was warned. */
async function capturingWarnings(fn: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.warn = original;
  }
  return warnings;
}

Deno.test("hashes never stall: many rounds of concurrent hashes while the event loop is busy", async () => {
  // Issue 17: an async scrypt callback arrived only when the limiter's 60 s wait timer fired.
  // Here a stall fails the test within seconds: the wait limit refuses with HashBusyError and the
  // hash deadline fails the hash, both far above the milliseconds these hashes take.
  await using hasher = createPasswordHasher({
    params: TEST_SCRYPT_PARAMS,
    maxConcurrent: 2,
    maxQueue: 16,
    maxWaitMs: 10_000,
    hashTimeoutMs: 10_000,
  });
  const stored = await hasher.hash(PASSWORD);
  // Other work on the loop meanwhile: timers that each keep the thread busy for a millisecond.
  let busy = true;
  let ticks = 0;
  const ticker = new Promise<void>((resolve) => {
    const tick = () => {
      if (!busy) return resolve();
      ticks++;
      const until = performance.now() + 1;
      while (performance.now() < until) { /* the event loop is busy */ }
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  });
  try {
    for (let round = 0; round < 40; round++) {
      const results = await Promise.all([
        hasher.hash(`${PASSWORD} ${round}`),
        hasher.hash(PASSWORD),
        hasher.verify(PASSWORD, stored),
        hasher.verify("wrong password", stored),
        hasher.verifyDummy(PASSWORD),
        hasher.hash(PASSWORD),
      ]);
      match(results[0], /^scrypt\$v=1\$n=1024,/);
      deepStrictEqual(results[2], { ok: true, needsRehash: false });
      deepStrictEqual(results[3], { ok: false, needsRehash: false });
    }
  } finally {
    busy = false;
    await ticker;
  }
  ok(ticks > 0);
  deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
});

Deno.test("a hashing Worker that crashes fails that hash with an error, frees the slot and is replaced", async () => {
  const workers = workerFactory("crash");
  await using hasher = testHasher({ maxConcurrent: 1, createWorker: workers.createWorker });
  const error = await hasher.hash(PASSWORD).then(() => null, (error: unknown) => error);
  ok(error instanceof Error && !(error instanceof HashBusyError), String(error));
  match(error.message, /^Password hashing failed: its worker stopped \(.*stand-in Worker crashed/);
  deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
  deepStrictEqual(workers.terminated, ["crash"]);
  // The next hash gets a fresh Worker and works.
  const stored = await hasher.hash(PASSWORD);
  deepStrictEqual(await hasher.verify(PASSWORD, stored), { ok: true, needsRehash: false });
  deepStrictEqual(workers.started, ["crash", "real"]);
});

Deno.test("a hashing Worker that never answers is stopped at the deadline, and the slot freed", async () => {
  const workers = workerFactory("silent");
  await using hasher = testHasher({
    maxConcurrent: 1,
    hashTimeoutMs: 200,
    createWorker: workers.createWorker,
  });
  await rejects(hasher.hash(PASSWORD), {
    name: "Error",
    message: "Password hashing did not finish within 200 ms; its worker was stopped",
  });
  deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
  deepStrictEqual(workers.terminated, ["silent"]);
  match(await hasher.hash(PASSWORD), /^scrypt\$/);
  deepStrictEqual(workers.started, ["silent", "real"]);
});

Deno.test("hashing falls back to async scrypt on this thread where there is no Worker", async (t) => {
  await t.step("new Worker throws (Deno Deploy: Worker is not defined)", async () => {
    let attempts = 0;
    const warnings = await capturingWarnings(async () => {
      await using hasher = testHasher({
        createWorker: () => {
          attempts++;
          throw new ReferenceError("Worker is not defined");
        },
      });
      const stored = await hasher.hash(PASSWORD);
      deepStrictEqual(await hasher.verify(PASSWORD, stored), { ok: true, needsRehash: false });
      deepStrictEqual(await hasher.verify("wrong password", stored), {
        ok: false,
        needsRehash: false,
      });
    });
    strictEqual(attempts, 1, "the hasher kept trying to start Workers");
    deepStrictEqual(warnings, [
      "Password hashing runs on the main thread's async scrypt: cannot use a Worker (Worker is not defined)",
    ]);
  });

  await t.step("the Worker fails before it is ready (e.g. no read permission)", async () => {
    const workers = workerFactory("broken");
    const warnings = await capturingWarnings(async () => {
      await using hasher = testHasher({ createWorker: workers.createWorker });
      const stored = await hasher.hash(PASSWORD);
      deepStrictEqual(await hasher.verify(PASSWORD, stored), { ok: true, needsRehash: false });
    });
    deepStrictEqual(workers.started, ["broken"]);
    strictEqual(warnings.length, 1);
    match(warnings[0] ?? "", /cannot use a Worker \(.*stand-in Worker failed to start\)$/);
  });
});

Deno.test("hashing Workers are reused, stop when idle, and stop at once on close()", async (t) => {
  await t.step("reused while there is work", async () => {
    const workers = workerFactory();
    await using hasher = testHasher({ maxConcurrent: 1, createWorker: workers.createWorker });
    for (let i = 0; i < 3; i++) await hasher.hash(PASSWORD);
    deepStrictEqual(workers.started, ["real"]);
  });

  await t.step("stopped after workerIdleMs without work", async () => {
    const workers = workerFactory();
    const hasher = testHasher({ workerIdleMs: 20, createWorker: workers.createWorker });
    await hasher.hash(PASSWORD);
    ok(await eventually(() => workers.terminated.length === 1), "the idle Worker was not stopped");
    // A later hash starts a new one.
    await hasher.hash(PASSWORD);
    deepStrictEqual(workers.started, ["real", "real"]);
    await hasher.close();
  });

  await t.step("close() stops them, fails a running hash and refuses later ones", async () => {
    const workers = workerFactory();
    const hasher = createPasswordHasher({
      params: SLOW_PARAMS,
      workerIdleMs: 60_000,
      createWorker: workers.createWorker,
    });
    await hasher.hash(PASSWORD);
    const running = hasher.hash(PASSWORD);
    // The job reaches the Worker a few microtasks later. Waiting for it by microtasks only, no
    // reply can be read before close(): messages are taken in a later turn of the event loop.
    for (let turn = 0; turn < 100 && workers.jobs() < 2; turn++) await Promise.resolve();
    strictEqual(workers.jobs(), 2, "the second job was not sent within 100 microtasks");
    await hasher.close();
    deepStrictEqual(workers.terminated, ["real"]);
    await rejects(running, {
      message: "Password hashing stopped: the password hasher was closed",
    });
    await rejects(hasher.hash(PASSWORD), {
      message: "Cannot hash password: the password hasher is closed",
    });
    deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
  });
});

Deno.test("a process that hashed exits on its own once its Workers are idle", async () => {
  const script = `
    import { createPasswordHasher, TEST_SCRYPT_PARAMS } from ${
    JSON.stringify(new URL("../src/passwords.ts", import.meta.url).href)
  };
    const hasher = createPasswordHasher({ params: TEST_SCRYPT_PARAMS, workerIdleMs: 50 });
    console.log((await hasher.verify("x".repeat(8), await hasher.hash("x".repeat(8)))).ok);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Bounded: a process kept alive by its Workers is killed after 30 s and fails the test.
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const { code, stdout, stderr } = await child.output();
    strictEqual(new TextDecoder().decode(stderr), "");
    strictEqual(code, 0);
    strictEqual(new TextDecoder().decode(stdout), "true\n");
  } finally {
    clearTimeout(guard);
  }
});

// ---------------------------------------------------------------------------------------------
// Older, cheaper hashes (issue 18): a wrong password is not answered faster than an unknown user

const CURRENT_PARAMS: ScryptParams = { ...TEST_SCRYPT_PARAMS, N: 2 ** 14 };

Deno.test("verify() of a wrong password against a cheaper stored hash also does the dummy work", async (t) => {
  const old = await testHasher().hash(PASSWORD); // N=2^10, 16 times cheaper than CURRENT_PARAMS

  await t.step("in a hashing slot of its own", async () => {
    await using hasher = testHasher({ params: CURRENT_PARAMS, maxConcurrent: 2, maxQueue: 0 });
    const checking = hasher.verify("wrong password", old);
    try {
      // Both derivations hold a slot: the padding counts against the limit like any hash.
      deepStrictEqual(hasher.stats(), { active: 2, queued: 0 });
      await rejects(hasher.verifyDummy(PASSWORD), HashBusyError);
    } finally {
      deepStrictEqual(await checking, { ok: false, needsRehash: false });
    }
    // Not for a hash at today's parameters, nor a costlier one.
    const current = await hasher.hash(PASSWORD);
    const running = hasher.verify("wrong password", current);
    deepStrictEqual(hasher.stats(), { active: 1, queued: 0 });
    await running;
  });

  await t.step("so it takes about as long as verifyDummy()", async () => {
    await using hasher = testHasher({ params: CURRENT_PARAMS, maxConcurrent: 2 });
    // Both Workers started before timing.
    await Promise.all([hasher.verifyDummy(PASSWORD), hasher.verifyDummy(PASSWORD)]);
    let wrongMs = 0;
    let dummyMs = 0;
    // Interleaved, and summed over several runs, so a slow moment weighs on both alike.
    for (let run = 0; run < 8; run++) {
      let started = performance.now();
      deepStrictEqual(await hasher.verify("wrong password", old), {
        ok: false,
        needsRehash: false,
      });
      wrongMs += performance.now() - started;
      started = performance.now();
      await hasher.verifyDummy("wrong password");
      dummyMs += performance.now() - started;
    }
    // Without the padding the ratio is about 1/16, the cost ratio of the parameters.
    ok(
      wrongMs >= 0.8 * dummyMs,
      `wrong password against the old hash: ${wrongMs.toFixed(0)} ms, unknown user: ${
        dummyMs.toFixed(0)
      } ms`,
    );
  });

  await t.step("a right password still verifies and asks for a rehash", async () => {
    await using hasher = testHasher({ params: CURRENT_PARAMS });
    deepStrictEqual(await hasher.verify(PASSWORD, old), { ok: true, needsRehash: true });
  });
});
