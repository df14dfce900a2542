import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { MAX_BODY_BYTES } from "../src/app.ts";
import { formatLogLine } from "../src/logger.ts";
import { bodyDeadline } from "../src/middleware/body_deadline.ts";
import { CONTENT_SECURITY_POLICY } from "../src/middleware/security_headers.ts";
import { createPasswordHasher, type PasswordHasher, TEST_SCRYPT_PARAMS } from "../src/passwords.ts";
import { hashToken } from "@kvsession/hono";
import type { User } from "../src/users.ts";
import {
  createTestApp,
  form,
  ORIGIN,
  setCookieValue,
  signIn,
  signUp,
  type TestApp,
  withSession,
} from "./_helpers.ts";

const PASSWORD = "correct horse battery";
const UNSAFE_METHODS = ["POST", "PUT", "PATCH", "DELETE"];

/** `app.app.request()` without the same-origin headers the TestApp helper adds. */
async function rawRequest(app: TestApp, path: string, init: RequestInit = {}): Promise<Response> {
  return await app.app.request(new URL(path, ORIGIN).href, init);
}

async function text(response: Response): Promise<string> {
  return await response.text();
}

function errorLines(app: TestApp) {
  return app.logger.lines.filter((line) => line.level === "error");
}

// ---------------------------------------------------------------------------------------------
// Cross-site request forgery

Deno.test("Unsafe requests from another site are refused with 403 whatever the content type", async (t) => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const credentials = `username=alice&password=${encodeURIComponent(PASSWORD)}`;
    const bodies: [string, string | undefined, string][] = [
      ["form", "application/x-www-form-urlencoded", credentials],
      ["JSON", "application/json", JSON.stringify({ username: "alice", password: PASSWORD })],
      ["text/plain", "text/plain", credentials],
      [
        "multipart",
        "multipart/form-data; boundary=XyZ",
        `--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--XyZ--\r\n`,
      ],
    ];
    const refusals: [string, Record<string, string>][] = [
      ["Sec-Fetch-Site: cross-site", { "Sec-Fetch-Site": "cross-site" }],
      ["Sec-Fetch-Site: same-site", { "Sec-Fetch-Site": "same-site" }],
      ["Sec-Fetch-Site: cross-site with our Origin", {
        "Sec-Fetch-Site": "cross-site",
        Origin: ORIGIN,
      }],
      ["Origin of another site", { Origin: "https://evil.com" }],
      ["Origin of a sibling subdomain", { Origin: "http://shop.localhost" }],
      ["Origin with another port", { Origin: "http://localhost:8080" }],
      ["Origin with another scheme", { Origin: "https://localhost" }],
      ["Origin: null alone", { Origin: "null" }],
      ["neither Origin nor Sec-Fetch-Site", {}],
      ["only a same-site Referer", { Referer: `${ORIGIN}/login` }],
    ];
    const paths = [
      "/login",
      "/signup",
      "/logout",
      "/cart",
      "/cart/remove",
      "/account/password",
      "/account/logout-others",
      "/api/cart",
      "/no-such-page",
    ];
    for (const [refusal, headers] of refusals) {
      await t.step(refusal, async () => {
        for (const method of UNSAFE_METHODS) {
          for (const path of paths) {
            for (const [kind, type, body] of bodies) {
              const response = await rawRequest(app, path, {
                method,
                headers: {
                  ...headers,
                  ...(type ? { "Content-Type": type } : {}),
                  Cookie: `sid=${token}`,
                },
                body,
              });
              const label = `${method} ${path} ${kind}`;
              const answer = await text(response);
              strictEqual(response.status, 403, label);
              deepStrictEqual(response.headers.getSetCookie(), [], label);
              if (path.startsWith("/api/")) {
                deepStrictEqual(JSON.parse(answer), {
                  error: "forbidden",
                  message: "This request came from another site and was refused.",
                });
              } else {
                ok(answer.includes("This request came from another site and was refused."), label);
              }
            }
          }
        }
      });
    }
    // Nothing happened: the session is alive, the password unchanged, no second user.
    strictEqual((await app.services.sessions.get(token)).status, "valid");
    strictEqual((await signIn(app)).status, 303);
    let users = 0;
    for await (const _ of app.kv.list({ prefix: ["users"] })) users++;
    strictEqual(users, 1);
  } finally {
    app.close();
  }
});

Deno.test("Same-origin unsafe requests are accepted", async (t) => {
  const app = await createTestApp();
  try {
    await signUp(app);
    const accepted: [string, Record<string, string>][] = [
      ["our Origin without Sec-Fetch-Site", { Origin: ORIGIN }],
      ["Sec-Fetch-Site: same-origin", { "Sec-Fetch-Site": "same-origin" }],
      // Chromium under Referrer-Policy: no-referrer sends Origin: null on same-origin posts.
      ["Origin: null with Sec-Fetch-Site: same-origin", {
        Origin: "null",
        "Sec-Fetch-Site": "same-origin",
      }],
      ["Sec-Fetch-Site: none (typed by the user)", { "Sec-Fetch-Site": "none" }],
    ];
    for (const [name, headers] of accepted) {
      await t.step(name, async () => {
        const response = await rawRequest(app, "/login", {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ username: "alice", password: PASSWORD }).toString(),
        });
        await response.body?.cancel();
        strictEqual(response.status, 303);
        ok(setCookieValue(response, "sid"));
      });
    }
  } finally {
    app.close();
  }
});

Deno.test("With PUBLIC_ORIGIN set, Origin must match it, not the Host the request carries", async (t) => {
  // The app is reached at http://localhost (as a proxy's upstream would be), browsers at the
  // public origin.
  const publicOrigin = "https://shop.example.com";
  const app = await createTestApp({ config: { publicOrigin } });
  try {
    await signUp(app);
    const cases: [string, Record<string, string>, number][] = [
      ["Origin of the Host, not the public origin", { Origin: ORIGIN }, 403],
      [
        "Origin of the Host with a matching Host header",
        { Origin: ORIGIN, Host: "localhost" },
        403,
      ],
      ["the public origin over http", { Origin: "http://shop.example.com" }, 403],
      ["a sibling of the public origin", { Origin: "https://evil.example.com" }, 403],
      ["the public origin", { Origin: publicOrigin }, 303],
      ["Sec-Fetch-Site: same-origin still decides", { "Sec-Fetch-Site": "same-origin" }, 303],
      ["Sec-Fetch-Site: cross-site with the public origin", {
        "Sec-Fetch-Site": "cross-site",
        Origin: publicOrigin,
      }, 403],
    ];
    for (const [name, headers, status] of cases) {
      await t.step(name, async () => {
        const response = await rawRequest(app, "/login", {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ username: "alice", password: PASSWORD }).toString(),
        });
        const body = await response.text();
        strictEqual(response.status, status);
        if (status === 403) {
          ok(body.includes("This request came from another site and was refused."));
          deepStrictEqual(response.headers.getSetCookie(), []);
        } else ok(setCookieValue(response, "sid"));
      });
    }
  } finally {
    app.close();
  }
});

Deno.test("Cross-site GET navigations are not refused", async () => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const cases = [["/dashboard", 200], ["/products", 200], ["/login", 303], ["/", 303]] as const;
    for (const [path, status] of cases) {
      const response = await rawRequest(app, path, {
        headers: { "Sec-Fetch-Site": "cross-site", Cookie: `sid=${token}` },
      });
      await response.body?.cancel();
      strictEqual(response.status, status, path);
    }
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Headers

/** A hasher whose verify() fails the way a bug would. */
function throwingHasher(message: string): PasswordHasher {
  const inner = createPasswordHasher({ params: TEST_SCRYPT_PARAMS });
  return {
    ...inner,
    params: inner.params,
    verify: () => Promise.reject(new Error(message)),
  };
}

Deno.test("Security headers are on every response", async () => {
  const app = await createTestApp({ hasher: throwingHasher("boom") });
  try {
    const token = await signUp(app);
    const requests: [string, () => Promise<Response>][] = [
      ["sign-in page", () => app.request("/login")],
      ["sign-up page", () => app.request("/signup")],
      ["dashboard", () => app.request("/dashboard", { headers: withSession(token) })],
      ["redirect", () => app.request("/")],
      ["404", () => app.request("/no-such-page")],
      ["static file", () => app.request("/static/style.css")],
      ["static file, HEAD", () => app.request("/static/style.css", { method: "HEAD" })],
      ["static file, 304", async () => {
        const first = await app.request("/static/style.css");
        await first.body?.cancel();
        const etag = first.headers.get("ETag") ?? "";
        const again = await app.request("/static/style.css", {
          headers: { "If-None-Match": etag },
        });
        strictEqual(again.status, 304);
        return again;
      }],
      ["health check", () => app.request("/healthz")],
      ["API JSON", () => app.request("/api/me", { headers: withSession(token) })],
      ["API 401", () => app.request("/api/me")],
      ["403", () => rawRequest(app, "/login", { method: "POST" })],
      ["400", () => app.request("/login", { method: "POST", body: "{}" })],
      ["413", () => app.request("/login", form({ username: "x".repeat(MAX_BODY_BYTES) }))],
      ["500", () => app.request("/login", form({ username: "alice", password: PASSWORD }))],
    ];
    for (const [name, send] of requests) {
      const response = await send();
      await response.body?.cancel();
      const csp = response.headers.get("Content-Security-Policy") ?? "";
      strictEqual(csp, CONTENT_SECURITY_POLICY, name);
      // No script-src: scripts fall back to default-src 'none', so none run at all.
      match(csp, /(^|; )default-src 'none'(;|$)/, name);
      ok(!/script-src|unsafe-inline|unsafe-eval/.test(csp), name);
      match(csp, /(^|; )frame-ancestors 'none'(;|$)/, name);
      strictEqual(response.headers.get("X-Content-Type-Options"), "nosniff", name);
      strictEqual(response.headers.get("Referrer-Policy"), "same-origin", name);
      strictEqual(response.headers.get("X-Frame-Options"), "DENY", name);
      // HSTS only over HTTPS (COOKIE_SECURE); this app is the http://localhost development one.
      strictEqual(response.headers.get("Strict-Transport-Security"), null, name);
    }
  } finally {
    app.close();
  }
});

Deno.test("Strict-Transport-Security is sent when cookies are secure", async () => {
  const app = await createTestApp({ config: { cookieSecure: true } });
  try {
    const response = await app.request("/login");
    await response.body?.cancel();
    strictEqual(response.headers.get("Strict-Transport-Security"), "max-age=31536000");
  } finally {
    app.close();
  }
});

Deno.test("Cache-Control: no-store is on signed-in pages and on every session cookie", async (t) => {
  const app = await createTestApp();
  try {
    const signup = await app.request(
      "/signup",
      form({ username: "alice", password: PASSWORD, displayName: "Alice" }),
    );
    await signup.body?.cancel();
    const token = setCookieValue(signup, "sid")!;

    await t.step("signed-in pages and API", async () => {
      for (const path of ["/dashboard", "/account", "/products", "/cart", "/api/me", "/api/cart"]) {
        const response = await app.request(path, { headers: withSession(token) });
        await response.body?.cancel();
        strictEqual(response.status, 200, path);
        strictEqual(response.headers.get("Cache-Control"), "no-store", path);
      }
    });

    await t.step("responses that set or clear the session cookie", async () => {
      const responses: [string, Response][] = [["sign-up", signup]];
      responses.push(["sign-in", await signIn(app)]);
      const stale = { Cookie: "sid=" + "A".repeat(43) };
      for (const path of ["/login", "/signup", "/no-such-page", "/"]) {
        const response = await app.request(path, { headers: stale });
        await response.body?.cancel();
        responses.push([`stale cookie on ${path}`, response]);
      }
      const logout = await app.request("/logout", {
        method: "POST",
        headers: withSession(token),
      });
      await logout.body?.cancel();
      responses.push(["sign-out", logout]);
      for (const [name, response] of responses) {
        ok(response.headers.getSetCookie().some((c) => c.startsWith("sid=")), name);
        strictEqual(response.headers.get("Cache-Control"), "no-store", name);
      }
    });

    await t.step("a renewal that refreshes the cookie", async () => {
      const fresh = setCookieValue(await signIn(app), "sid")!;
      app.clock.advance(13 * 3600 * 1000);
      const response = await app.request("/login", { headers: withSession(fresh) });
      await response.body?.cancel();
      strictEqual(response.status, 303);
      strictEqual(setCookieValue(response, "sid"), fresh);
      strictEqual(response.headers.get("Cache-Control"), "no-store");
    });

    await t.step("public static files stay cacheable", async () => {
      const response = await app.request("/static/style.css");
      await response.body?.cancel();
      strictEqual(response.headers.get("Cache-Control"), "public, max-age=3600");
    });
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Bodies

/** A body with no Content-Length, as a chunked upload arrives. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.subarray(i, i + 4096));
      controller.close();
    },
  });
}

Deno.test("Request bodies over 64 KiB are refused with 413", async (t) => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const prefix = "username=alice&password=";
    const exactly = prefix + "p".repeat(MAX_BODY_BYTES - prefix.length);
    const over = exactly + "p";
    strictEqual(new TextEncoder().encode(exactly).length, MAX_BODY_BYTES);
    const formType = { "Content-Type": "application/x-www-form-urlencoded" };

    await t.step("with Content-Length", async () => {
      for (const path of ["/login", "/signup", "/cart"]) {
        const response = await app.request(path, {
          method: "POST",
          headers: { ...formType, "Content-Length": String(over.length), Cookie: `sid=${token}` },
          body: over,
        });
        const body = await response.text();
        strictEqual(response.status, 413, path);
        ok(body.includes("The request body is too large."), path);
      }
    });
    await t.step("streamed without Content-Length", async () => {
      for (const path of ["/login", "/signup"]) {
        const response = await app.request(path, {
          method: "POST",
          headers: formType,
          body: streamed(over),
        });
        await response.body?.cancel();
        strictEqual(response.status, 413, path);
      }
    });
    await t.step("JSON under /api/ gets a JSON 413", async () => {
      const response = await app.request("/api/cart", {
        method: "POST",
        headers: { "Content-Type": "application/json", Cookie: `sid=${token}` },
        body: JSON.stringify({ productId: "x".repeat(MAX_BODY_BYTES) }),
      });
      strictEqual(response.status, 413);
      deepStrictEqual(await response.json(), {
        error: "request_too_large",
        message: "The request body is too large.",
      });
    });
    await t.step("exactly 64 KiB is read", async () => {
      const response = await app.request("/login", {
        method: "POST",
        headers: formType,
        body: streamed(exactly),
      });
      await response.body?.cancel();
      strictEqual(response.status, 401);
    });
    strictEqual(errorLines(app).length, 0);
  } finally {
    app.close();
  }
});

/** A body that sends `text` and then nothing, never ending: a slow-body attack. */
function stalled(text: string): { body: ReadableStream<Uint8Array>; cancelled: Promise<unknown> } {
  const { promise: cancelled, resolve } = Promise.withResolvers<unknown>();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
    },
    cancel: resolve,
  });
  return { body, cancelled };
}

/** `promise`, or a failure after 5 s: a stalled body must not hang a failing run. */
async function bounded<T>(promise: Promise<T>, label: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: no answer within 5 s`)), 5_000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("A request body that stops arriving gets 408 once the body deadline passes", async (t) => {
  // Signed up through an app with the default deadline, so no complete body here can ever meet
  // the 20 ms one on a busy machine; the short-deadline app shares its KV.
  const setup = await createTestApp();
  const app = await createTestApp({ kv: setup.kv, bodyTimeoutMs: 20 });
  try {
    const token = await signUp(setup);
    const formType = { "Content-Type": "application/x-www-form-urlencoded" };
    await t.step("a form with Content-Length (read by the route)", async () => {
      for (const path of ["/login", "/signup", "/cart"]) {
        const { body, cancelled } = stalled("username=alice&pass");
        const response = await bounded(
          app.request(path, {
            method: "POST",
            headers: { ...formType, "Content-Length": "100", Cookie: `sid=${token}` },
            body,
          }),
          path,
        );
        const page = await response.text();
        strictEqual(response.status, 408, path);
        ok(page.includes("The request body took too long to arrive."), path);
        ok(
          await bounded(cancelled, path) instanceof Error,
          `${path}: the body stream is cancelled`,
        );
      }
    });
    await t.step("a streamed form without Content-Length (read by the size limit)", async () => {
      const { body, cancelled } = stalled("username=alice&pass");
      const response = await bounded(
        app.request("/login", { method: "POST", headers: formType, body }),
        "/login",
      );
      await response.body?.cancel();
      strictEqual(response.status, 408);
      await bounded(cancelled, "the body stream is cancelled");
    });
    await t.step("JSON under /api/ gets a JSON 408", async () => {
      const { body, cancelled } = stalled('{"productId":');
      const response = await bounded(
        app.request("/api/cart", {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            "Content-Length": "50",
            Cookie: `sid=${token}`,
          },
          body,
        }),
        "/api/cart",
      );
      strictEqual(response.status, 408);
      deepStrictEqual(await response.json(), {
        error: "request_timeout",
        message: "The request body took too long to arrive.",
      });
      await bounded(cancelled, "the body stream is cancelled");
    });
    strictEqual(errorLines(app).length, 0);
  } finally {
    setup.close(); // closes the shared KV
  }
});

/**
 * Writes `request` on a new connection to 127.0.0.1:`port` and reads until one whole response
 * (head and Content-Length body) has arrived, the server closes, or `boundMs` passes; then
 * closes the connection. The client never sends the rest of its body nor half-closes.
 */
async function firstResponse(port: number, request: string, boundMs: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), boundMs);
  let text = "";
  try {
    await conn.write(new TextEncoder().encode(request));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    for (;;) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) break; // closed by the server, or by our bound
      text += decoder.decode(buffer.subarray(0, count), { stream: true });
      const headEnd = text.indexOf("\r\n\r\n");
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? NaN);
      const bodyBytes = new TextEncoder().encode(text.slice(headEnd + 4)).length;
      if (headEnd !== -1 && bodyBytes >= length) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Already closed by the bound.
    }
  }
  return text;
}

Deno.test("bodyDeadline() refuses a deadline that is not a positive number", () => {
  for (const timeoutMs of [0, -1, NaN, Infinity]) {
    throws(() => bodyDeadline({ timeoutMs }), RangeError, String(timeoutMs));
  }
});

Deno.test("Deno.serve: a half-sent body is answered 408 once the body deadline passes", async (t) => {
  const app = await createTestApp({ bodyTimeoutMs: 50 });
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: controller.signal, onListen: resolve },
    app.app.fetch,
  );
  try {
    const { port } = await listening;
    const head = (framing: string) =>
      `POST /login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nSec-Fetch-Site: same-origin\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\n${framing}\r\n\r\n`;
    const cases: [string, string][] = [
      ["Content-Length, half the body", `${head("Content-Length: 1000")}username=alice&pass`],
      ["chunked, half a chunk", `${head("Transfer-Encoding: chunked")}3e8\r\nusername=alice&pass`],
    ];
    for (const [name, request] of cases) {
      await t.step(name, async () => {
        // Only the server's deadline (50 ms) can produce an answer here; the 5 s bound only
        // keeps a failing run from hanging.
        const text = await firstResponse(port, request, 5_000);
        match(text, /^HTTP\/1\.1 408 /);
        match(text, /\r\nconnection: close\r\n/i);
        ok(text.includes("The request body took too long to arrive."));
      });
    }
  } finally {
    controller.abort();
    await server.finished;
    app.close();
  }
});

Deno.test("Malformed bodies and wrong content types get 400, never 500", async (t) => {
  const app = await createTestApp();
  try {
    const token = await signUp(app);
    const encoder = new TextEncoder();
    const multipart = (boundary: string, body: string) => ({
      type: `multipart/form-data; boundary=${boundary}`,
      body,
    });
    const cases: [string, string, string | undefined, BodyInit, number, string][] = [
      ["JSON to /login", "/login", "application/json", '{"username":"alice"}', 400, "form"],
      ["text/plain to /login", "/login", "text/plain", "username=alice", 400, "form"],
      ["no Content-Type to /login", "/login", undefined, encoder.encode("username=a"), 400, "form"],
      ["an unknown type to /signup", "/signup", "application/xml", "<a/>", 400, "form"],
      [
        "multipart without a boundary",
        "/login",
        "multipart/form-data",
        "--x\r\n\r\n",
        400,
        "could not be read",
      ],
      [
        "multipart that does not parse",
        "/login",
        multipart("XyZ", "").type,
        "this is not multipart at all",
        400,
        "could not be read",
      ],
      [
        "multipart cut off in the middle",
        "/signup",
        multipart("XyZ", "").type,
        '--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nal',
        // Deno's parser keeps what it could read; either way it is the user's 400.
        400,
        "",
      ],
      ["JSON syntax error to /api/cart", "/api/cart", "application/json", "{oops", 400, "JSON"],
      ["a JSON array to /api/cart", "/api/cart", "application/json", "[1,2]", 400, "object"],
      ["JSON null to /api/cart", "/api/cart", "application/json", "null", 400, "object"],
      [
        "deeply nested JSON to /api/cart",
        "/api/cart",
        "application/json",
        "[".repeat(20_000) + "]".repeat(20_000),
        400,
        "",
      ],
      [
        "a form to /api/cart",
        "/api/cart",
        "application/x-www-form-urlencoded",
        "a=1",
        400,
        "application/json",
      ],
      // Lenient parsers: these are read, and fail as bad credentials.
      [
        "malformed percent escapes",
        "/login",
        "application/x-www-form-urlencoded",
        "username=%E0%A4%A&password=%",
        401,
        "Invalid username or password.",
      ],
      [
        "invalid UTF-8",
        "/login",
        "application/x-www-form-urlencoded",
        new Uint8Array([
          ...encoder.encode("username="),
          0xff,
          0xfe,
          ...encoder.encode("&password=x"),
        ]),
        401,
        "Invalid username or password.",
      ],
      [
        "the password sent as a file",
        "/login",
        multipart("XyZ", "").type,
        '--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n' +
        '--XyZ\r\nContent-Disposition: form-data; name="password"; filename="p.txt"\r\n' +
        `Content-Type: text/plain\r\n\r\n${PASSWORD}\r\n--XyZ--\r\n`,
        401,
        "Invalid username or password.",
      ],
      [
        "fields repeated: the first counts",
        "/login",
        "application/x-www-form-urlencoded",
        `username=alice&password=wrong+one&password=${encodeURIComponent(PASSWORD)}`,
        401,
        "Invalid username or password.",
      ],
    ];
    for (const [name, path, type, body, status, message] of cases) {
      await t.step(name, async () => {
        const headers: Record<string, string> = { Cookie: `sid=${token}` };
        if (type !== undefined) headers["Content-Type"] = type;
        const response = await app.request(path, { method: "POST", headers, body });
        const answer = await response.text();
        strictEqual(response.status, status, answer.slice(0, 200));
        ok(answer.includes(message), answer.slice(0, 400));
      });
    }
    await t.step("a media type with parameters or in capitals is still a form", async () => {
      // RFC 9110 8.3.1: type and subtype are case-insensitive.
      const types = [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-URLEncoded",
      ];
      for (const type of types) {
        const response = await app.request("/login", {
          method: "POST",
          headers: { "Content-Type": type },
          body: new URLSearchParams({ username: "alice", password: PASSWORD }).toString(),
        });
        await response.body?.cancel();
        strictEqual(response.status, 303, type);
      }
    });
    deepStrictEqual(errorLines(app), []);
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Escaping

Deno.test("Display names and usernames with markup are escaped wherever they appear", async (t) => {
  const app = await createTestApp();
  try {
    const name = `<script>alert("x")</script>"><img src=x onerror=alert(1)>`;
    const escapedName =
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    const token = await signUp(app, "alice", PASSWORD, name);

    await t.step("every signed-in page", async () => {
      for (const path of ["/dashboard", "/account", "/products", "/cart"]) {
        const response = await app.request(path, { headers: withSession(token) });
        const body = await response.text();
        strictEqual(response.status, 200, path);
        ok(!body.includes("<script"), path);
        ok(!body.includes("<img src=x"), path);
      }
      const dashboard = await (await app.request("/dashboard", { headers: withSession(token) }))
        .text();
      ok(dashboard.includes(`Welcome, ${escapedName}!`), dashboard);
    });

    await t.step("the sign-up form filled in again after an error", async () => {
      const response = await app.request(
        "/signup",
        form({ username: "alice", password: PASSWORD, displayName: name }),
      );
      const body = await response.text();
      strictEqual(response.status, 409);
      ok(!body.includes("<script"));
      ok(body.includes(`value="${escapedName}"`), body);
    });

    await t.step("the sign-in form filled in again after a failure", async () => {
      const response = await app.request("/login", form({ username: name, password: "x" }));
      const body = await response.text();
      strictEqual(response.status, 401);
      ok(!body.includes("<script"));
      ok(body.includes(`value="${escapedName}"`), body);
    });

    await t.step("the API returns it as JSON text", async () => {
      const response = await app.request("/api/me", { headers: withSession(token) });
      match(response.headers.get("Content-Type") ?? "", /^application\/json/);
      strictEqual((await response.json()).displayName, name);
    });
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

/** KV that throws, like a broken database would, when `shouldThrow(key)` says so. */
function failingKv(kv: Deno.Kv, shouldThrow: (key: Deno.KvKey) => boolean): Deno.Kv {
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "get") {
        return (key: Deno.KvKey, ...rest: unknown[]) => {
          if (shouldThrow(key)) {
            return Promise.reject(new Error(`sqlite: disk I/O error at ${JSON.stringify(key)}`));
          }
          return value.apply(target, [key, ...rest]);
        };
      }
      return value.bind(target);
    },
  });
}

function assertPlain500(body: string, requestId: string, secrets: string[]): void {
  ok(body.includes("Something went wrong on our side. Please try again."), body);
  ok(body.includes(requestId), "the page shows the request id");
  for (const secret of secrets) {
    ok(!body.includes(secret), `page reveals ${JSON.stringify(secret)}`);
  }
  ok(!/\bat .*:\d+:\d+/.test(body), "page shows a stack trace");
  ok(!/Error\b/.test(body), "page names an error class");
}

Deno.test("app.onError logs a bug with the request id and shows a plain 500 page", async (t) => {
  await t.step("a hasher that throws", async () => {
    const app = await createTestApp({
      hasher: throwingHasher("hasher exploded: secret=hunter2"),
    });
    try {
      await signUp(app);
      const response = await app.request("/login", form({ username: "alice", password: PASSWORD }));
      const body = await response.text();
      strictEqual(response.status, 500);
      match(response.headers.get("Content-Type") ?? "", /^text\/html/);
      const requestId = response.headers.get("X-Request-Id") ?? "";
      ok(requestId.length > 0);
      assertPlain500(body, requestId, ["hunter2", "hasher exploded", "verify", ".ts"]);
      deepStrictEqual(response.headers.getSetCookie(), []);

      const [line, ...more] = errorLines(app);
      deepStrictEqual(more, []);
      strictEqual(line?.message, "unhandled error");
      strictEqual(line.requestId, requestId);
      strictEqual(line.method, "POST");
      strictEqual(line.path, "/login");
      strictEqual(line.error, "Error: hasher exploded: secret=hunter2");
      match(String(line.stack), /hasher exploded[\s\S]*\n\s+at /);
      // The access log line of the same request agrees.
      const access = app.logger.lines.find((l) =>
        l.message === "request" && l.requestId === requestId
      );
      strictEqual(access?.status, 500);
    } finally {
      app.close();
    }
  });

  await t.step("a KV read that throws", async () => {
    const memory = await Deno.openKv(":memory:");
    const kv = failingKv(memory, (key) => key[0] === "usernames" && key[1] === "boom");
    const app = await createTestApp({ kv });
    try {
      const response = await app.request(
        "/signup",
        form({ username: "boom", password: PASSWORD, displayName: "Boom" }),
      );
      const body = await response.text();
      strictEqual(response.status, 500);
      const requestId = response.headers.get("X-Request-Id") ?? "";
      assertPlain500(body, requestId, ["sqlite", "disk I/O", "usernames"]);
      strictEqual(response.headers.get("Content-Security-Policy"), CONTENT_SECURITY_POLICY);
      const [line] = errorLines(app);
      strictEqual(line?.requestId, requestId);
      match(String(line.stack), /sqlite: disk I\/O error/);
    } finally {
      app.close();
    }
  });

  await t.step("under /api/ the 500 is JSON that reveals nothing", async () => {
    let broken = false;
    const memory = await Deno.openKv(":memory:");
    const kv = failingKv(memory, (key) => broken && key[0] === "sessions");
    const app = await createTestApp({ kv });
    try {
      const token = await signUp(app);
      broken = true;
      const response = await app.request("/api/me", { headers: withSession(token) });
      strictEqual(response.status, 500);
      deepStrictEqual(await response.json(), {
        error: "server_error",
        message: "Something went wrong on our side. Please try again.",
      });
      const requestId = response.headers.get("X-Request-Id");
      strictEqual(errorLines(app)[0]?.requestId, requestId);
    } finally {
      app.close();
    }
  });
});

Deno.test("Unknown pages get a 404 page", async () => {
  const app = await createTestApp();
  try {
    for (const path of ["/no-such-page", "/dashboard/extra", "/login/", "/static/nope.css"]) {
      const response = await app.request(path);
      const body = await response.text();
      strictEqual(response.status, 404, path);
      match(response.headers.get("Content-Type") ?? "", /^text\/html/, path);
      ok(body.includes("<h1>Not found</h1>"), path);
      ok(body.includes("There is no page at this address."), path);
    }
  } finally {
    app.close();
  }
});

Deno.test("No token, password or hash reaches a log line", async () => {
  const app = await createTestApp();
  try {
    const secrets: string[] = [PASSWORD, "wrong horse battery", "second password!"];
    const signup = await app.request(
      "/signup",
      form({ username: "alice", password: PASSWORD, displayName: "Alice" }),
    );
    await signup.body?.cancel();
    secrets.push(setCookieValue(signup, "sid")!);
    await signIn(app, "alice", "wrong horse battery");
    const login = await app.request(
      "/login?next=%2Fcart&password=second+password!",
      form({ username: "alice", password: PASSWORD, next: "/cart" }),
    );
    await login.body?.cancel();
    const token = setCookieValue(login, "sid")!;
    secrets.push(token);
    for (const path of ["/dashboard", "/api/me", "/account"]) {
      const response = await app.request(path, { headers: withSession(token) });
      await response.body?.cancel();
    }
    const logout = await app.request("/logout", { method: "POST", headers: withSession(token) });
    await logout.body?.cancel();
    await signUp(app, "bob", "second password!", "Bob");

    for await (const entry of app.kv.list<User>({ prefix: ["users"] })) {
      secrets.push(entry.value.passwordHash, ...entry.value.passwordHash.split("$").slice(3));
    }
    secrets.push(...secrets.filter((s) => s.length === 43).map(hashToken));
    const logged = JSON.stringify(app.logger.lines);
    ok(app.logger.lines.length >= 8);
    for (const secret of secrets) {
      ok(!logged.includes(secret), `log contains ${JSON.stringify(secret)}`);
      ok(!logged.includes(encodeURIComponent(secret)), `log contains ${JSON.stringify(secret)}`);
    }
    ok(!logged.includes("next="), "query strings are not logged");
  } finally {
    app.close();
  }
});

Deno.test("A client's X-Request-Id is never adopted: every request gets an id of ours", async (t) => {
  const app = await createTestApp();
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const accessLine = (requestId: string | null) =>
    app.logger.lines.find((line) => line.message === "request" && line.requestId === requestId);
  try {
    await t.step("a well-formed client id is logged beside ours, never as ours", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const response = await app.request("/products", {
          headers: { "X-Request-Id": "client-chosen-id" },
        });
        await response.body?.cancel();
        const id = response.headers.get("X-Request-Id") ?? "";
        match(id, uuid);
        ids.push(id);
        const line = accessLine(id);
        ok(line, `an access line for ${id}`);
        strictEqual(line.clientRequestId, "client-chosen-id");
      }
      ok(ids[0] !== ids[1], "two requests with one client id get two ids");
      ok(!app.logger.lines.some((line) => line.requestId === "client-chosen-id"));
    });
    await t.step("a malformed client id is not logged at all", async () => {
      for (const sent of ['x"y', "a b", "x".repeat(129), "é", "id;drop", "<script>"]) {
        const response = await app.request("/products", { headers: { "X-Request-Id": sent } });
        await response.body?.cancel();
        const id = response.headers.get("X-Request-Id");
        match(id ?? "", uuid);
        const line = accessLine(id);
        ok(line, `an access line for ${sent}`);
        ok(!("clientRequestId" in line) || line.clientRequestId === undefined, sent);
      }
    });
    await t.step("the id of a bug's log line and 500 page is ours", async () => {
      const broken = await createTestApp({ hasher: throwingHasher("hasher exploded") });
      try {
        await signUp(broken);
        const response = await broken.request("/login", {
          ...form({ username: "alice", password: PASSWORD }),
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Request-Id": "forged-id",
          },
        });
        const body = await response.text();
        strictEqual(response.status, 500);
        const id = response.headers.get("X-Request-Id") ?? "";
        match(id, uuid);
        ok(body.includes(id));
        ok(!body.includes("forged-id"));
        strictEqual(errorLines(broken)[0]?.requestId, id);
      } finally {
        broken.close();
      }
    });
  } finally {
    app.close();
  }
});

Deno.test("Access log lines cannot be forged or disguised through the request path", async () => {
  const app = await createTestApp();
  // Every character some viewer treats as a line break (Python's str.splitlines() set).
  // deno-lint-ignore no-control-regex
  const lineBreaks = /[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;
  try {
    const cases: [string, string][] = [
      ["/a%0A%7B%22level%22:%22error%22%7D", '/a%0A{"level":"error"}'],
      ["/a%0D%0Ab", "/a%0D%0Ab"],
      ["/a%E2%80%A8b%E2%80%A9c", "/a%E2%80%A8b%E2%80%A9c"],
      ["/a%C2%85b", "/a%C2%85b"],
      ["/a%0B%0C%1C%1D%1Eb", "/a%0B%0C%1C%1D%1Eb"],
      ["/%1B%5B31mred", "/%1B[31mred"],
      ["/a%C2%9B31mb", "/a%C2%9B31mb"],
      ["/admin%E2%80%AEtxt.exe", "/admin%E2%80%AEtxt.exe"],
      ["/a%E2%81%A6b%E2%81%A9", "/a%E2%81%A6b%E2%81%A9"],
      ["/a%E2%80%8Bb", "/a%E2%80%8Bb"],
      ["/caf%C3%A9/%F0%9F%8D%AA", "/café/🍪"],
      // Cut at 200 characters between the halves of a surrogate pair.
      [`/${"x".repeat(198)}%F0%9F%8D%AA`, `/${"x".repeat(198)}\uFFFD`],
    ];
    for (const [target, logged] of cases) {
      const response = await app.request(target);
      await response.body?.cancel();
      const id = response.headers.get("X-Request-Id");
      const line = app.logger.lines.find((l) => l.message === "request" && l.requestId === id);
      ok(line, target);
      strictEqual(line.path, logged, target);
      const { level: _level, message, ...fields } = line;
      const text = formatLogLine(0, "info", message, fields);
      ok(!lineBreaks.test(text), `${target} gives one line`);
      strictEqual(JSON.parse(text).path, logged, target);
    }
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Static files

Deno.test("GET /static/style.css is served as text/css", async () => {
  const app = await createTestApp();
  try {
    const response = await app.request("/static/style.css");
    strictEqual(response.status, 200);
    strictEqual(response.headers.get("Content-Type"), "text/css; charset=utf-8");
    const expected = await Deno.readTextFile(new URL("../static/style.css", import.meta.url));
    strictEqual(await response.text(), expected);
    const etag = response.headers.get("ETag")!;
    const again = await app.request("/static/style.css", { headers: { "If-None-Match": etag } });
    strictEqual(again.status, 304);
    strictEqual(await again.text(), "");
  } finally {
    app.close();
  }
});

Deno.test("Static files cannot be reached outside static/", async (t) => {
  const app = await createTestApp();
  try {
    const mainSource = await Deno.readTextFile(new URL("../main.ts", import.meta.url));
    const paths = [
      "/static/../main.ts",
      "/static/./../main.ts",
      "/static/%2e%2e/main.ts",
      "/static/%2E%2E/main.ts",
      "/static/.%2e/main.ts",
      "/static/%2e%2e%2fmain.ts",
      "/static/..%2fmain.ts",
      "/static/..%2Fmain.ts",
      "/static/..%5cmain.ts",
      "/static/..\\main.ts",
      "/static/%252e%252e%252fmain.ts",
      "/static/..%252fmain.ts",
      "/static/%c0%ae%c0%ae/main.ts",
      "/static/....//main.ts",
      "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/static//etc/passwd",
      "/static/%2fetc%2fpasswd",
      "/static/style.css%00.ts",
      "/static/style.css/../../main.ts",
      "/static/../deno.json",
      "/static/%2e%2e/src/config.ts",
    ];
    for (const path of paths) {
      await t.step(path, async () => {
        const response = await app.request(path);
        const body = await response.text();
        strictEqual(response.status, 404);
        ok(!body.includes("Deno.serve"));
        ok(!body.includes(mainSource.slice(0, 40)));
      });
    }
  } finally {
    app.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Overload

Deno.test("POST /login answers 503 with Retry-After when password hashing is saturated", async (t) => {
  const hasher = createPasswordHasher({
    params: TEST_SCRYPT_PARAMS,
    maxConcurrent: 1,
    maxQueue: 0,
  });
  const app = await createTestApp({ hasher });
  try {
    await signUp(app);

    await t.step("several sign-ins at once: one hashes, the rest are refused", async () => {
      // From eight addresses: one address may have only two sign-ins in flight (429 beyond).
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => {
          const init = form({ username: "alice", password: PASSWORD });
          const headers = new Headers(init.headers);
          headers.set("Sec-Fetch-Site", "same-origin");
          return app.app.request(new URL("/login", ORIGIN).href, { ...init, headers }, {
            remoteAddr: { hostname: `192.0.2.${i + 1}` },
          });
        }),
      );
      const bodies = await Promise.all(responses.map(text));
      const statuses = responses.map((r) => r.status);
      ok(statuses.includes(303), String(statuses));
      ok(statuses.includes(503), String(statuses));
      deepStrictEqual(statuses.filter((s) => s !== 303 && s !== 503), []);
      for (const [i, response] of responses.entries()) {
        if (response.status !== 503) continue;
        strictEqual(response.headers.get("Retry-After"), "3");
        ok(bodies[i]!.includes("The server is busy. Please try again in a moment."));
        deepStrictEqual(response.headers.getSetCookie(), []);
      }
    });

    await t.step("sign-in and sign-up while the only slot is busy", async () => {
      const costly = `scrypt$v=1$n=32768,r=8,p=1$${"A".repeat(22)}$${"A".repeat(43)}`;
      let held = true;
      const hold = hasher.verify("holding the slot", costly).finally(() => held = false);
      try {
        const login = await app.request("/login", form({ username: "alice", password: PASSWORD }));
        const signup = await app.request(
          "/signup",
          form({ username: "bob", password: PASSWORD, displayName: "Bob" }),
        );
        await login.body?.cancel();
        await signup.body?.cancel();
        ok(held, "the slot was freed too early for this check");
        for (const response of [login, signup]) {
          strictEqual(response.status, 503);
          strictEqual(response.headers.get("Retry-After"), "3");
        }
      } finally {
        await hold;
      }
    });

    // Busy is not a bug: nothing was logged as an error, and no failure was counted.
    deepStrictEqual(errorLines(app), []);
    strictEqual((await signIn(app)).status, 303);
  } finally {
    app.close();
  }
});

Deno.test("Error pages of a signed-in user show the signed-in header and are never cached", async (t) => {
  await t.step("a page that does not exist", async () => {
    const app = await createTestApp();
    try {
      const token = await signUp(app, "carol", PASSWORD, "Carol Example");
      const response = await app.request("/no-such-page", { headers: withSession(token) });
      const body = await response.text();
      strictEqual(response.status, 404);
      ok(body.includes(">Sign out</button>"), "the header shows the signed-in navigation");
      strictEqual(response.headers.get("Cache-Control"), "no-store");
    } finally {
      app.close();
    }
  });

  await t.step("an error inside the session middleware (taking a flash message)", async () => {
    let broken = false;
    const memory = await Deno.openKv(":memory:");
    // Every commit fails once `broken` is set: taking the queued message is the first.
    const kv = new Proxy(memory, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property !== "atomic") return typeof value === "function" ? value.bind(target) : value;
        return () => {
          const operation = target.atomic();
          const commit = operation.commit.bind(operation);
          operation.commit = () =>
            broken ? Promise.reject(new Error("sqlite: disk I/O error")) : commit();
          return operation;
        };
      },
    });
    const app = await createTestApp({ kv });
    try {
      const token = await signUp(app, "dave", PASSWORD, "Dave Example");
      await app.services.sessions.addFlash(token, { kind: "info", text: "Welcome back." });
      broken = true;
      const response = await app.request("/dashboard", { headers: withSession(token) });
      const body = await response.text();
      strictEqual(response.status, 500);
      ok(body.includes(">Sign out</button>"), "the 500 page knows who is signed in");
      strictEqual(response.headers.get("Cache-Control"), "no-store");
    } finally {
      app.close();
    }
  });
});
