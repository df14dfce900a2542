/**
 * Operating the server: the Deno Deploy code path, `deno serve --parallel` workers sharing
 * sessions, the request log, OpenTelemetry export and the health check.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createTestApp } from "./_helpers.ts";
import {
  PROJECT_ROOT,
  startServer as startTask,
  tempKvFile,
  untilEveryWorkerLogged,
  workersThatLogged,
} from "./_process.ts";
import { startServer } from "./e2e/_server.ts";

const PASSWORD = "operations passphrase 42";

/** A server process: `deno run main.ts` (./e2e/_server.ts) or `deno task start` (./_process.ts). */
interface Server {
  origin: string;
  output(): string;
}

/** Signs up over HTTP and returns the session cookie pair (`name=value`). */
async function signUpOver(server: Server, username: string): Promise<string> {
  const response = await fetch(`${server.origin}/signup`, {
    method: "POST",
    redirect: "manual",
    headers: { Origin: server.origin, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, displayName: "Ops", password: PASSWORD }),
  });
  await response.body?.cancel();
  strictEqual(response.status, 303, server.output());
  const cookie = response.headers.getSetCookie().find((c) => /^(__Host-)?sid=/.test(c));
  ok(cookie, "sign-up sets the session cookie");
  return cookie.split(";", 1)[0]!;
}

/** GET `path` on a fresh connection (new client), so `deno serve` workers share the load. */
async function getFresh(server: Server, path: string, cookie: string): Promise<Response> {
  const client = Deno.createHttpClient({});
  try {
    const response = await fetch(`${server.origin}${path}`, {
      client,
      redirect: "manual",
      headers: { Cookie: cookie },
    });
    await response.bytes();
    return response;
  } finally {
    client.close();
  }
}

Deno.test("Deploy path: default KV, no filesystem writes, served without --listen", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "deno_shop_deploy_" });
  const server = await startServer({
    cwd,
    // As on Deploy: no KV_PATH, the platform marker, writes denied, a fresh origin storage.
    env: { DENO_DEPLOYMENT_ID: "test-deployment", KV_PATH: "" },
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--deny-write",
      `--location=http://deploy-test-${crypto.randomUUID()}.invalid/`,
      `--config=${PROJECT_ROOT}deno.json`,
      `${PROJECT_ROOT}main.ts`,
    ],
  });
  try {
    const cookie = await signUpOver(server, "deployer");
    ok(cookie.startsWith("__Host-sid="), "production default: Secure __Host- cookie");
    const me = await getFresh(server, "/api/me", cookie);
    strictEqual(me.status, 200);
    deepStrictEqual(await Array.fromAsync(Deno.readDir(cwd)), [], "nothing written to the cwd");
    ok(!server.output().includes("NotCapable"), server.output());
  } finally {
    await server.stop();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("deno serve --parallel: two workers share sessions and seed the catalogue once", async () => {
  await using kvFile = tempKvFile();
  // `deno task start` as users run it, with two workers whatever the machine's core count.
  const server = await startTask({ kvPath: kvFile.path, env: { DENO_JOBS: "2" } });
  try {
    strictEqual(server.workers, 2, server.output());
    const cookie = await signUpOver(server, "parallel");
    // The session was created by one worker; once every worker has answered /api/me with it
    // ("session":"valid"), a worker other than its creator has read it. Which worker takes a
    // connection is the kernel's choice: untilEveryWorkerLogged explains how the requests are
    // spread and why nothing can steer them. Every answer must be 200, before and after.
    const statuses = new Set<number>();
    const validOnMe = (line: string) =>
      line.includes('"path":"/api/me"') && line.includes('"session":"valid"');
    const sent = await untilEveryWorkerLogged({
      workers: 2,
      output: server.output,
      matches: validOnMe,
      send: async () => void statuses.add((await getFresh(server, "/api/me", cookie)).status),
      deadline: Date.now() + 30_000,
    });
    deepStrictEqual(statuses, new Set([200]), `${sent} reads`);
    deepStrictEqual(
      [...workersThatLogged(server.output(), validOnMe)].sort(),
      ["serve-worker-0", "serve-worker-1"],
      "both workers served the session",
    );
    strictEqual((await server.terminate("SIGTERM")).code, 0, server.output());
    strictEqual(server.logs().filter((line) => line.message === "KV closed").length, 2);
  } finally {
    await server.stop();
  }
  const kv = await Deno.openKv(`${PROJECT_ROOT}${kvFile.path}`);
  try {
    strictEqual((await Array.fromAsync(kv.list({ prefix: ["products"] }))).length, 12);
  } finally {
    kv.close();
  }
});

Deno.test("request log: one JSON line per request, no query string, no secrets", async () => {
  const server = await startServer();
  let cookie = "";
  try {
    cookie = await signUpOver(server, "logger");
    const page = await getFresh(server, "/dashboard?ref=secret-query-value", cookie);
    strictEqual(page.status, 200);
    const login = await fetch(`${server.origin}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { Origin: server.origin, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: "logger", password: PASSWORD }),
    });
    await login.body?.cancel();
    const second = login.headers.getSetCookie()[0]!.split(";", 1)[0]!;
    const logout = await fetch(`${server.origin}/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { Origin: server.origin, Cookie: second },
    });
    await logout.body?.cancel();
    strictEqual(logout.status, 303);
  } finally {
    await server.stop();
  }
  const output = server.output();
  const token = cookie.slice(cookie.indexOf("=") + 1);
  for (const secret of [PASSWORD, token, encodeURIComponent(PASSWORD), "secret-query-value"]) {
    ok(!output.includes(secret), `the log contains ${JSON.stringify(secret)}`);
  }
  const requests = output.split("\n").filter((line) => line.includes('"message":"request"'))
    .map((line) => JSON.parse(line));
  ok(requests.length >= 4);
  for (const entry of requests) {
    for (
      const field of ["time", "requestId", "method", "path", "status", "durationMs", "session"]
    ) {
      ok(field in entry, `${field} in ${JSON.stringify(entry)}`);
    }
  }
  ok(requests.some((entry) => entry.path === "/dashboard" && entry.session === "valid"));
});

Deno.test("OTEL_DENO=true exports request spans carrying session.outcome", async () => {
  const received: string[] = [];
  const collector = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (request) => {
      const body = new TextDecoder().decode(await request.arrayBuffer());
      received.push(`${new URL(request.url).pathname} ${body}`);
      return Response.json({});
    },
  );
  const server = await startServer({
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
      OTEL_BSP_SCHEDULE_DELAY: "200",
      OTEL_METRIC_EXPORT_INTERVAL: "500",
    },
  });
  try {
    const bogus = "sid=" + "A".repeat(43);
    for (let i = 0; i < 3; i++) await getFresh(server, "/dashboard", bogus);
    const deadline = Date.now() + 15_000;
    const found = () =>
      received.some((r) => r.startsWith("/v1/traces") && r.includes("session.outcome")) &&
      received.some((r) => r.startsWith("/v1/metrics") && r.includes("session.lookups"));
    while (!found() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    ok(found(), `no span attribute or counter among ${received.length} exports`);
    ok(received.some((r) => r.startsWith("/v1/traces") && r.includes("missing")));
  } finally {
    await server.stop();
    await collector.shutdown();
  }
});

Deno.test("GET /healthz reports KV reachability", async () => {
  const app = await createTestApp();
  const healthy = await app.request("/healthz");
  strictEqual(healthy.status, 200);
  deepStrictEqual(await healthy.json(), { status: "ok", kv: "ok" });
  app.close();
  const broken = await app.request("/healthz");
  strictEqual(broken.status, 503);
  deepStrictEqual(await broken.json(), { status: "error", kv: "unreachable" });
  ok(app.logger.lines.some((line) => line.message === "health check failed"));
});
