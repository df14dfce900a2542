/**
 * The server as a process: `deno task start` (deno serve --parallel) on a KV file, over a real
 * socket. Restarts, crashes, shutdown under load, two processes on one file, and timeouts that
 * need a real clock. Linux only (a crash finds the server process with `pgrep -P`).
 *
 * @module
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import {
  addUser,
  browserHeaders,
  descendantsOf,
  freePort,
  isRunning,
  login,
  type LoginOutcome,
  PROJECT_ROOT,
  runTask,
  type ServerProcess,
  sessionCookieOf,
  sleep,
  startServer,
  tempKvFile,
  whoAmI,
} from "./_process.ts";

const LINUX = Deno.build.os === "linux";
const PASSWORD = "correct horse battery";
/** Plain-HTTP cookie settings: the cookie is `sid` without Secure. */
const HTTP_COOKIES = { COOKIE_SECURE: "false" };

function cookie(token: string, name = "sid") {
  return { name, token };
}

/** `POST /api/cart` adding `quantity` of `productId`; returns the status and the cart. */
async function addToCart(
  origin: string,
  session: { name: string; token: string },
  productId: string,
  quantity: number,
): Promise<{ status: number; items: unknown }> {
  const response = await fetch(`${origin}/api/cart`, {
    method: "POST",
    headers: browserHeaders(origin, session, { "Content-Type": "application/json" }),
    body: JSON.stringify({ productId, quantity }),
  });
  const body = await response.json();
  return { status: response.status, items: body.items };
}

async function cartOf(origin: string, session: { name: string; token: string }) {
  const response = await fetch(`${origin}/api/cart`, { headers: browserHeaders(origin, session) });
  const body = await response.json();
  return { status: response.status, items: body.items };
}

/** The messages each worker logged, in order, keyed by the `[serve-worker-N ]` prefix. */
function messagesByWorker(server: ServerProcess): Map<string, string[]> {
  const byWorker = new Map<string, string[]>();
  for (const line of server.output().split("\n")) {
    const worker = /^\[(serve-worker-\d+)\s*\]/.exec(line)?.[1];
    const start = line.indexOf("{");
    if (worker === undefined || start === -1) continue;
    try {
      const { message } = JSON.parse(line.slice(start));
      byWorker.set(worker, [...byWorker.get(worker) ?? [], String(message)]);
    } catch {
      // Not a JSON log line.
    }
  }
  return byWorker;
}

/** Asserts every worker logged "KV closed" as its very last line (after its last request). */
function assertKvClosedLast(server: ServerProcess): void {
  const byWorker = messagesByWorker(server);
  strictEqual(
    server.logs().filter((line) => line.message === "KV closed").length,
    server.workers,
    `every worker closes KV once:\n${server.output()}`,
  );
  for (const [worker, messages] of byWorker) {
    strictEqual(messages.at(-1), "KV closed", `${worker} closed KV last:\n${server.output()}`);
  }
}

Deno.test({
  name: "deno task start: sessions survive a graceful restart (SIGTERM) on the same KV file",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    await addUser(kv.path, "alice", PASSWORD, "Alice");
    // Production defaults, as users run it: Secure `__Host-sid` (sent back by hand over http).
    const first = await startServer({ kvPath: kv.path });
    let session: { name: string; token: string };
    try {
      const signedIn = await login(first.origin, "alice", PASSWORD, "__Host-sid");
      strictEqual(signedIn.status, 303);
      match(
        signedIn.setCookie ?? "",
        /^__Host-sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
      );
      session = cookie(signedIn.token!, "__Host-sid");
      strictEqual((await addToCart(first.origin, session, "tea-green", 2)).status, 200);

      const status = await first.terminate("SIGTERM");
      strictEqual(status.code, 0, first.output());
      assertKvClosedLast(first);
    } finally {
      await first.stop();
    }

    // Same port, same KV file: a restart as a process manager does it.
    await using second = await startServer({ kvPath: kv.path, port: first.port });
    const me = await whoAmI(second.origin, session);
    strictEqual(me.status, 200);
    deepStrictEqual([me.body.username, me.body.displayName], ["alice", "Alice"]);
    deepStrictEqual(await cartOf(second.origin, session), {
      status: 200,
      items: [{ productId: "tea-green", quantity: 2 }],
    });

    // A third process on the same file: `user:add` for an existing user sets a new password and
    // ends every session of that user (ASVS 3.3.3), which the running server sees at once.
    await addUser(kv.path, "alice", "a brand new passphrase", "Alice");
    strictEqual((await whoAmI(second.origin, session)).status, 401);
    strictEqual((await login(second.origin, "alice", PASSWORD, "__Host-sid")).status, 401);
    strictEqual(
      (await login(second.origin, "alice", "a brand new passphrase", "__Host-sid")).status,
      303,
    );
  },
});

Deno.test({
  name: "deno task start: kill -9 during concurrent logins loses no session whose 303 arrived",
  ignore: !LINUX,
  async fn() {
    const LOGINS = 12;
    await using kv = tempKvFile();
    await addUser(kv.path, "alice", PASSWORD);
    const server = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
    const outcomes: LoginOutcome[] = [];
    let inFlightAtKill = 0;
    let pending: Promise<LoginOutcome>[] = [];
    try {
      // Production scrypt: ~1 s per hash, two per worker at once, the rest queued (or refused
      // with 503 past the limiter's queue and 3 s wait). Crash once three sign-ins got their 303,
      // or as soon as one did when only two are left in flight, so some are always cut off.
      const crashPoint = Promise.withResolvers<void>();
      pending = Array.from(
        { length: LOGINS },
        () =>
          login(server.origin, "alice", PASSWORD, "sid").then((outcome) => {
            outcomes.push(outcome);
            const acknowledged = outcomes.filter((o) => o.status === 303).length;
            const inFlight = LOGINS - outcomes.length;
            if (acknowledged >= 3 || (acknowledged >= 1 && inFlight <= 2)) crashPoint.resolve();
            return outcome;
          }),
      );
      const timer = setTimeout(() => crashPoint.reject(new Error("no sign-in in 20 s")), 20_000);
      try {
        await crashPoint.promise;
      } finally {
        clearTimeout(timer);
      }
      inFlightAtKill = LOGINS - outcomes.length;
      await server.crash();
    } finally {
      await server.stop();
      await Promise.all(pending); // Never rejects; the crash ends the rest quickly.
    }

    const succeeded = outcomes.filter((outcome) => outcome.status === 303);
    console.log(
      `kill -9 with ${inFlightAtKill} of ${LOGINS} logins in flight: ` +
        `${succeeded.length} x 303, ` +
        `${outcomes.filter((o) => o.status === 503).length} x 503 (hash limiter), ` +
        `${outcomes.filter((o) => o.status === 429).length} x 429 (two in flight per address), ` +
        `${outcomes.filter((o) => o.status === 0).length} cut off by the crash`,
    );
    ok(inFlightAtKill > 0, "some logins were still in flight when the server was killed");
    ok(succeeded.length > 0);
    for (const outcome of outcomes) {
      // 429: one address may have only two sign-ins in flight per worker (src/login_throttle.ts).
      ok([303, 429, 503, 0].includes(outcome.status), `unexpected status ${outcome.status}`);
    }

    await using restarted = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
    const lost: string[] = [];
    for (const { token } of succeeded) {
      const me = await whoAmI(restarted.origin, cookie(token!));
      if (me.status !== 200 || me.body.username !== "alice") lost.push(`${me.status}`);
    }
    deepStrictEqual(lost, [], `${lost.length} of ${succeeded.length} acknowledged sessions lost`);
  },
});

Deno.test({
  name: "deno task start: SIGTERM during load lets in-flight requests finish, then closes KV",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    await addUser(kv.path, "alice", PASSWORD);
    const server = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
    const { origin } = server;
    type Result = {
      label: string;
      startedAt: number;
      finishedAt: number;
      status: number;
      token?: string;
      error?: string;
    };
    const results: Promise<Result>[] = [];
    const finished: Result[] = [];
    const run = (label: string, send: () => Promise<Response>): Promise<Result> => {
      const startedAt = performance.now();
      const result = send().then(
        async (response) => {
          await response.body?.cancel();
          const token = sessionCookieOf(response, "sid")?.value || undefined;
          return {
            label,
            startedAt,
            finishedAt: performance.now(),
            status: response.status,
            token,
          };
        },
        (error) => ({
          label,
          startedAt,
          finishedAt: performance.now(),
          status: 0,
          error: String(error),
        }),
      ).then((result: Result) => {
        finished.push(result);
        return result;
      });
      results.push(result);
      return result;
    };

    let signalAt = Infinity;
    let uploadStatus = -1;
    let exitCode: number | undefined;
    try {
      const signedIn = await login(origin, "alice", PASSWORD, "sid");
      strictEqual(signedIn.status, 303);
      const session = cookie(signedIn.token!);
      const form = { "Content-Type": "application/x-www-form-urlencoded" };
      const json = { "Content-Type": "application/json" };

      // Slow requests: sign-ins wait for scrypt (about a second each). Two, because a worker
      // hashes two at once and a third could wait past the limiter's 3 s and get 503.
      for (let i = 0; i < 2; i++) {
        run("POST /login", () =>
          fetch(`${origin}/login`, {
            method: "POST",
            redirect: "manual",
            headers: browserHeaders(origin, undefined, form),
            body: new URLSearchParams({ username: "alice", password: PASSWORD }),
          }));
      }
      // A request whose body is still being uploaded when the signal comes.
      const upload = Promise.withResolvers<void>();
      const uploadBody = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('{"productId":"mug",'));
          await upload.promise;
          controller.enqueue(new TextEncoder().encode('"quantity":1}'));
          controller.close();
        },
      });
      const uploading = fetch(`${origin}/api/cart`, {
        method: "POST",
        headers: browserHeaders(origin, session, json),
        body: uploadBody,
      }).then(async (response) => {
        await response.body?.cancel();
        return response.status;
      }, () => 0);

      // Cheap requests in four loops until the signal (bounded: 200 per loop).
      let loading = true;
      const loops = Array.from({ length: 4 }, async (_, loop) => {
        for (let i = 0; i < 200 && loading; i++) {
          if (i % 3 === 0) {
            await run(
              "GET /api/me",
              () => fetch(`${origin}/api/me`, { headers: browserHeaders(origin, session) }),
            );
          } else if (i % 3 === 1) {
            await run("POST /api/cart", () =>
              fetch(`${origin}/api/cart`, {
                method: "POST",
                headers: browserHeaders(origin, session, json),
                body: JSON.stringify({ productId: loop % 2 ? "tea-black" : "mug", quantity: 1 }),
              }));
          } else {
            await run(
              "GET /cart",
              () => fetch(`${origin}/cart`, { headers: browserHeaders(origin, session) }),
            );
          }
        }
      });

      // Signal as soon as the load is surely under way (8 cheap requests sent at least 100 ms
      // earlier were answered) while the sign-ins still wait for their hash, rather than after a
      // fixed sleep: too short on a loaded machine, longer than a hash on a fast one.
      const underWay = () =>
        finished.filter((r) => r.label !== "POST /login" && r.startedAt <= performance.now() - 100)
          .length >= 8;
      for (const deadline = Date.now() + 10_000; !underWay();) {
        ok(Date.now() < deadline, "the load did not get going within 10 s");
        await sleep(5);
      }
      deepStrictEqual(
        finished.filter((r) => r.label === "POST /login"),
        [],
        "both sign-ins must still be hashing at the signal",
      );
      signalAt = performance.now();
      const exiting = server.terminate("SIGTERM", 20_000);
      loading = false;
      setTimeout(() => upload.resolve(), 1_000);
      await Promise.all(loops);
      const settled = await Promise.all(results);
      uploadStatus = await uploading;
      exitCode = (await exiting).code;

      // Requests sent at least 100 ms before the signal had reached the server: every one of
      // them finished with a success. (Later ones may meet a closed listener: that is the point.)
      const before = settled.filter((result) => result.startedAt <= signalAt - 100);
      ok(before.length >= 8, `${before.length} requests before the signal`);
      for (const result of before) {
        ok(
          result.status >= 200 && result.status < 400,
          `${result.label} sent ${Math.round(signalAt - result.startedAt)} ms before SIGTERM ` +
            `ended with ${result.status} ${result.error ?? ""}`,
        );
      }
      for (const result of settled) ok(result.status < 500, `${result.label}: ${result.status}`);
      const drained = settled.filter((r) => r.startedAt < signalAt && r.finishedAt > signalAt);
      ok(
        drained.some((result) => result.label === "POST /login"),
        "sign-ins in flight at the signal finished after it",
      );
      console.log(
        `SIGTERM under load: ${settled.length} requests, ${drained.length} finished after the ` +
          `signal; the half-uploaded request got ${uploadStatus}`,
      );

      strictEqual(exitCode, 0, server.output());
      assertKvClosedLast(server);
      deepStrictEqual(
        server.logs().filter((line) => line.level === "error"),
        [],
        "no unhandled errors",
      );
      // Deno cuts a request body still uploading at shutdown; the app must answer it with a
      // client error, not a 500 (a 0 means the connection closed first, also acceptable).
      ok(uploadStatus === 0 || (uploadStatus >= 200 && uploadStatus < 500), `${uploadStatus}`);

      // The sign-ins that finished during the drain were committed before KV closed.
      await using restarted = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
      for (const { token } of drained.filter((r) => r.label === "POST /login")) {
        strictEqual((await whoAmI(restarted.origin, cookie(token!))).status, 200);
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "deno task start: two processes on one KV file serve the same sessions",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    await addUser(kv.path, "alice", PASSWORD, "Alice");
    await using a = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
    await using b = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
    ok(a.serverPid !== b.serverPid);

    const signedIn = await login(a.origin, "alice", PASSWORD, "sid");
    strictEqual(signedIn.status, 303);
    const session = cookie(signedIn.token!);

    const onB = await whoAmI(b.origin, session);
    strictEqual(onB.status, 200);
    strictEqual(onB.body.username, "alice");
    strictEqual((await addToCart(b.origin, session, "coffee-beans", 3)).status, 200);
    deepStrictEqual(await cartOf(a.origin, session), {
      status: 200,
      items: [{ productId: "coffee-beans", quantity: 3 }],
    });

    const loggedOut = await fetch(`${b.origin}/logout`, {
      method: "POST",
      redirect: "manual",
      headers: browserHeaders(b.origin, session),
    });
    await loggedOut.body?.cancel();
    strictEqual(loggedOut.status, 303);
    strictEqual(
      sessionCookieOf(loggedOut, "sid")?.header,
      "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    );

    strictEqual((await whoAmI(a.origin, session)).status, 401);
    strictEqual((await whoAmI(b.origin, session)).status, 401);
  },
});

Deno.test({
  name:
    "deno task start: sessions end on time (idle 2 s, absolute 5 s) and activity keeps one alive",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    await addUser(kv.path, "alice", PASSWORD);
    await using server = await startServer({
      kvPath: kv.path,
      env: { ...HTTP_COOKIES, SESSION_IDLE_TIMEOUT: "2", SESSION_ABSOLUTE_TIMEOUT: "5" },
    });
    const { origin } = server;

    /** Signs in; the session was created between `sentAt` and `receivedAt`. */
    async function signIn() {
      const sentAt = performance.now();
      const outcome = await login(origin, "alice", PASSWORD, "sid");
      const receivedAt = performance.now();
      strictEqual(outcome.status, 303);
      return { session: cookie(outcome.token!), sentAt, receivedAt };
    }
    // One after the other: each then takes about one hash (~1 s), which keeps the window in which
    // the session was created narrow.
    const active = await signIn();
    const idle = await signIn();

    // Idle: one request right away (more than half the idle window left: no renewal), then
    // nothing; 2 s after creation it is refused, long before KV's own expiry would delete it.
    async function idleScenario() {
      strictEqual((await whoAmI(origin, idle.session)).status, 200);
      await sleep(idle.receivedAt + 2_300 - performance.now());
      const late = await fetch(`${origin}/api/me`, {
        headers: browserHeaders(origin, idle.session),
      });
      await late.body?.cancel();
      strictEqual(late.status, 401, "idle session refused 2.3 s after sign-in");
      strictEqual(
        sessionCookieOf(late, "sid")?.header,
        "sid=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
      );
    }

    // Active: a request every 0.8 s keeps it past the 2 s idle limit, up to the absolute limit,
    // and the refreshed cookie never outlives that limit; after 5 s it is refused all the same.
    async function activeScenario() {
      const aliveUntil = active.sentAt + 5_000 - 400; // creation >= sentAt; 400 ms margin
      let lastOk = 0;
      for (let k = 1; active.receivedAt + 800 * k < aliveUntil; k++) {
        await sleep(active.receivedAt + 800 * k - performance.now());
        const response = await fetch(`${origin}/api/me`, {
          headers: browserHeaders(origin, active.session),
        });
        await response.body?.cancel();
        strictEqual(response.status, 200, `request ${k} at ${800 * k} ms after sign-in`);
        const renewed = sessionCookieOf(response, "sid");
        if (renewed) {
          strictEqual(renewed.value, active.session.token, "renewal keeps the token");
          const maxAge = Number(/Max-Age=(\d+)/.exec(renewed.header)?.[1]);
          ok(maxAge <= 5 - (performance.now() - active.receivedAt) / 1000 + 1, renewed.header);
        }
        lastOk = performance.now() - active.receivedAt;
      }
      ok(lastOk > 2_400, `activity kept the session alive past the idle limit (${lastOk} ms)`);
      await sleep(active.receivedAt + 5_300 - performance.now());
      strictEqual(
        (await whoAmI(origin, active.session)).status,
        401,
        "active session refused 5.3 s after sign-in",
      );
    }

    await Promise.all([idleScenario(), activeScenario()]);
  },
});

// ---------------------------------------------------------------------------------------------
// Settings of the tasks: the address (PORT, HOSTNAME), a KV file anywhere, and what a bad one does.

/** A temporary folder outside the project, removed with everything in it on dispose. */
async function scratchFolder(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "deno_shop_process_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Asserts `text` holds nothing but `line` (once per `deno serve` worker at most), no trace. */
function assertOnlyLine(text: string, line: string, workers = 1): void {
  const lines = text.split("\n").map((l) => l.replace(/^\[serve-worker-\d+\s*\] /, ""))
    .filter((l) => l.trim() !== "");
  ok(lines.length >= 1 && lines.length <= workers, `one line expected:\n${text}`);
  for (const printed of lines) strictEqual(printed, line, text);
}

Deno.test({
  name: "deno task start listens on PORT and HOSTNAME",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    const port = freePort();
    // startServer sets PORT=port and HOSTNAME=127.0.0.1, nothing else about the address.
    await using server = await startServer({ kvPath: kv.path, port });
    strictEqual(server.port, port);
    match(server.output(), new RegExp(`Listening on http://127\\.0\\.0\\.1:${port}/`));
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    strictEqual(health.status, 200);
    await health.body?.cancel();
  },
});

Deno.test({
  name: "deno task start still listens where DENO_SERVE_ADDRESS says",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    await using server = await startServer({ kvPath: kv.path, address: "DENO_SERVE_ADDRESS" });
    match(server.output(), new RegExp(`Listening on http://127\\.0\\.0\\.1:${server.port}/`));
  },
});

Deno.test({
  name: "deno task start and user:add stop with one line naming a bad PORT or HOSTNAME",
  ignore: !LINUX,
  async fn(t) {
    const cases: [string, Record<string, string>, string][] = [
      [
        "PORT",
        { PORT: "eighty" },
        'Invalid setting PORT: "eighty" is not a port number from 0 to 65535',
      ],
      [
        "PORT",
        { PORT: "70000" },
        'Invalid setting PORT: "70000" is not a port number from 0 to 65535',
      ],
      [
        "HOSTNAME",
        { HOSTNAME: "0.0.0.0 --allow-all" },
        'Invalid setting HOSTNAME: "0.0.0.0 --allow-all" is not a host name or IP address',
      ],
    ];
    for (const [name, env, line] of cases) {
      await t.step(`start: ${name}=${JSON.stringify(Object.values(env)[0])}`, async () => {
        const run = await runTask("start", [], { ...env, KV_PATH: ":memory:" });
        strictEqual(run.code, 1, run.stderr);
        assertOnlyLine(run.stderr, line);
        strictEqual(run.stdout, "");
      });
    }
    await t.step("user:add: PORT", async () => {
      const run = await runTask("user:add", ["alice"], { PORT: "eighty", KV_PATH: ":memory:" });
      strictEqual(run.code, 1);
      assertOnlyLine(run.stderr, cases[0]![2]);
    });
  },
});

Deno.test({
  name: "deno task start and user:add use a KV file outside data/ (its folder created)",
  ignore: !LINUX,
  async fn() {
    await using scratch = await scratchFolder();
    // A folder that does not exist yet, as /var/lib/shop on a fresh machine.
    await using kv = tempKvFile(`${scratch.path}/var/lib/shop`);
    await addUser(kv.path, "alice", PASSWORD, "Alice");
    await using server = await startServer({ kvPath: kv.path, env: HTTP_COOKIES });
    const signedIn = await login(server.origin, "alice", PASSWORD, "sid");
    strictEqual(signedIn.status, 303, server.output());
    const me = await whoAmI(server.origin, cookie(signedIn.token!));
    deepStrictEqual([me.status, me.body.displayName], [200, "Alice"]);
    ok((await Deno.stat(kv.path)).isFile);
    ok(!server.output().includes("NotCapable"), server.output());
  },
});

Deno.test({
  name: "deno task start and user:add stop with one line for a KV_PATH they cannot use",
  ignore: !LINUX,
  async fn(t) {
    await using scratch = await scratchFolder();
    // A file where a folder should be: no mkdir can succeed, not even as root.
    await Deno.writeTextFile(`${scratch.path}/plain-file`, "not a folder\n");
    const underFile = `${scratch.path}/plain-file/shop/store.sqlite3`;
    const notKv = `${scratch.path}/notes.sqlite3`;
    await Deno.writeTextFile(notKv, "These are notes, not a database.\n".repeat(200));
    const cases: [string, string, string, number][] = [
      [
        "a folder that cannot be created",
        underFile,
        `Invalid setting KV_PATH: cannot create the folder of ${JSON.stringify(underFile)}: ` +
        `Not a directory (os error 20): mkdir '${scratch.path}/plain-file/shop'; create it, ` +
        "or point KV_PATH at a folder that can hold the database",
        2,
      ],
      [
        "a file that is not a KV database",
        notKv,
        `Invalid setting KV_PATH: cannot open ${JSON.stringify(notKv)} as a Deno KV database ` +
        "(file is not a database); point KV_PATH at a Deno KV file, or at a new file name in " +
        "a folder this process may write",
        2,
      ],
      [
        "the project folder itself",
        "store.sqlite3",
        'Invalid setting KV_PATH: "store.sqlite3" is not in a folder of its own: the deno tasks ' +
        "grant write access to the KV file's folder, here " +
        `${PROJECT_ROOT.replace(/\/$/, "")}, which holds the server's code; use a folder such ` +
        "as data/ (the default) or /var/lib/shop/",
        1,
      ],
    ];
    for (const [name, kvPath, line, workers] of cases) {
      await t.step(`start: ${name}`, async () => {
        const run = await runTask("start", [], { KV_PATH: kvPath, PORT: String(freePort()) });
        strictEqual(run.code, 1, run.stderr);
        // Opening KV happens in each deno serve worker; at most each prints the line.
        assertOnlyLine(run.stderr, line, workers);
      });
      await t.step(`user:add: ${name}`, async () => {
        const run = await runTask("user:add", ["alice"], { KV_PATH: kvPath }, `${PASSWORD}\n`);
        strictEqual(run.code, 1, run.stderr);
        assertOnlyLine(run.stderr, line);
      });
    }
    strictEqual(await Deno.readTextFile(notKv), "These are notes, not a database.\n".repeat(200));
  },
});

// ---------------------------------------------------------------------------------------------
// deno task dev: it restarts on a change and exits on a signal.

/** Everything below the task is gone (no orphan server or watcher). */
async function assertNoneRunning(pids: number[], output: string): Promise<void> {
  for (const pid of pids) ok(!await isRunning(pid), `process ${pid} outlived the task:\n${output}`);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test({
    name: `deno task dev exits after a clean shutdown on ${signal}`,
    ignore: !LINUX,
    async fn() {
      await using kv = tempKvFile();
      const dev = await startServer({ kvPath: kv.path, task: "dev" });
      try {
        const below = await descendantsOf(dev.taskPid);
        ok(below.includes(dev.serverPid), `${below} holds the server ${dev.serverPid}`);
        // terminate() throws when the task is still running 15 s after the signal.
        const status = await dev.terminate(signal, 15_000);
        strictEqual(status.code, 0, dev.output());
        const messages = dev.logs().map((line) => line.message);
        deepStrictEqual(messages.slice(-3), ["shutting down", "server stopped", "KV closed"]);
        await assertNoneRunning(below, dev.output());
      } finally {
        await dev.stop();
      }
    },
  });
}

Deno.test({
  name: "deno task dev restarts the server when a watched file changes",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    // A scratch folder under data/ stands in for src/: editing real sources would disturb others.
    const watched = `data/test-dev-watch-${crypto.randomUUID()}`;
    await Deno.mkdir(`${PROJECT_ROOT}${watched}`, { recursive: true });
    let started: ServerProcess | undefined;
    try {
      const dev = started = await startServer({
        kvPath: kv.path,
        task: "dev",
        args: [`--watch=${watched}`],
      });
      const first = dev.serverPid;
      await Deno.writeTextFile(`${PROJECT_ROOT}${watched}/module.ts`, "export {};\n");
      const listening = () => dev.logs().filter((line) => line.message === "listening");
      for (const deadline = Date.now() + 20_000; listening().length < 2;) {
        ok(Date.now() < deadline, `no restart:\n${dev.output()}`);
        await sleep(50);
      }
      const second = listening()[1]!.pid as number;
      ok(second !== first, dev.output());
      ok(!await isRunning(first), "the first server exited");
      const messages = dev.logs().map((line) => line.message).filter((m) => m !== "request");
      deepStrictEqual(messages.slice(0, 4), [
        "listening",
        "shutting down",
        "server stopped",
        "KV closed",
      ]);
      const health = await fetch(`${dev.origin}/healthz`);
      strictEqual(health.status, 200);
      await health.body?.cancel();
      strictEqual((await dev.terminate("SIGTERM")).code, 0, dev.output());
    } finally {
      await started?.stop();
      await Deno.remove(`${PROJECT_ROOT}${watched}`, { recursive: true });
    }
  },
});

Deno.test({
  name: "deno task dev: the server stops when its watcher dies (kill -9)",
  ignore: !LINUX,
  async fn() {
    await using kv = tempKvFile();
    const dev = await startServer({ kvPath: kv.path, task: "dev" });
    try {
      // The task's child: scripts/dev.ts, the server's parent.
      const [watcher] = await descendantsOf(dev.taskPid);
      ok(watcher !== undefined && watcher !== dev.serverPid);
      Deno.kill(watcher, "SIGKILL");
      for (const deadline = Date.now() + 15_000; await isRunning(dev.serverPid);) {
        ok(Date.now() < deadline, `the server outlived its watcher:\n${dev.output()}`);
        await sleep(50);
      }
      ok(dev.logs().some((line) => line.message === "KV closed"), dev.output());
    } finally {
      await dev.stop();
    }
  },
});
