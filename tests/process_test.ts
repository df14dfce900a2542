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
  login,
  type LoginOutcome,
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
        `${outcomes.filter((o) => o.status === 0).length} cut off by the crash`,
    );
    ok(inFlightAtKill > 0, "some logins were still in flight when the server was killed");
    ok(succeeded.length > 0);
    for (const outcome of outcomes) {
      ok([303, 503, 0].includes(outcome.status), `unexpected status ${outcome.status}`);
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
      );
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

      await sleep(400);
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
