import { match, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createTestApp, setCookieValue, type TestApp } from "./_helpers.ts";

const PASSWORD = "correct horse battery";

/** Serves `app` on a free port of 127.0.0.1 while `fn` runs, then shuts the server down. */
async function withServer(app: TestApp, fn: (base: string) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: controller.signal, onListen: resolve },
    app.app.fetch,
  );
  try {
    const { port } = await listening;
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    controller.abort();
    await server.finished;
  }
}

function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

Deno.test("Deno.serve: sign up and sign in over a socket, then use the cookie", async () => {
  const app = await createTestApp({
    throttleLimits: { perAccount: 1, perAddress: 100, windowSeconds: 60 },
  });
  try {
    await withServer(app, async (base) => {
      const post = (path: string, fields: Record<string, string>) =>
        fetch(`${base}${path}`, {
          method: "POST",
          redirect: "manual",
          headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
          body: formBody(fields),
        });

      const signup = await post("/signup", {
        username: "alice",
        password: PASSWORD,
        displayName: "Alice",
      });
      await signup.body?.cancel();
      strictEqual(signup.status, 303);

      const login = await post("/login", { username: "alice", password: PASSWORD, next: "/x" });
      await login.body?.cancel();
      strictEqual(login.status, 303);
      strictEqual(login.headers.get("Location"), "/x");
      const [cookie] = login.headers.getSetCookie();
      match(
        cookie ?? "",
        /^sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      const token = setCookieValue(login, "sid")!;
      notStrictEqual(token, setCookieValue(signup, "sid"));

      const dashboard = await fetch(`${base}/dashboard`, { headers: { Cookie: `sid=${token}` } });
      strictEqual(dashboard.status, 200);
      strictEqual(dashboard.headers.get("Cache-Control"), "no-store");
      match(await dashboard.text(), /Welcome, Alice!/);

      // Without Origin or Sec-Fetch-Site (a non-browser client) a POST is refused.
      const bare = await fetch(`${base}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { Cookie: `sid=${token}` },
      });
      await bare.body?.cancel();
      strictEqual(bare.status, 403);

      // The throttle sees the socket's address: one failure locks 127.0.0.1 for alice ...
      const wrong = await post("/login", { username: "alice", password: "wrong password" });
      await wrong.body?.cancel();
      strictEqual(wrong.status, 401);
      const locked = await post("/login", { username: "alice", password: PASSWORD });
      await locked.body?.cancel();
      strictEqual(locked.status, 429);
      ok(Number(locked.headers.get("Retry-After")) > 0);
      // ... and no other address.
      const elsewhere = await app.app.request(
        `${base}/login`,
        {
          method: "POST",
          headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
          body: formBody({ username: "alice", password: PASSWORD }),
        },
        { remoteAddr: { hostname: "192.0.2.7" } },
      );
      await elsewhere.body?.cancel();
      strictEqual(elsewhere.status, 303);
    });
  } finally {
    app.close();
  }
});

Deno.test("Deno.serve: raw request targets with .. cannot reach files outside static/", async () => {
  const app = await createTestApp();
  try {
    await withServer(app, async (base) => {
      const { port } = new URL(base);
      for (
        const target of ["/static/../main.ts", "/static/%2e%2e/main.ts", "/static/..%2fmain.ts"]
      ) {
        const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
        try {
          const request = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
          await connection.write(new TextEncoder().encode(request));
          let response = "";
          const decoder = new TextDecoder();
          for await (const chunk of connection.readable) {
            response += decoder.decode(chunk, { stream: true });
          }
          match(response, /^HTTP\/1\.1 404 /, target);
          ok(!response.includes("Deno.serve"), target);
        } catch (error) {
          connection.close();
          throw error;
        }
      }
    });
  } finally {
    app.close();
  }
});
