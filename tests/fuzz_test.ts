/**
 * Hostile input against the real app over a real socket: thousands of generated requests with
 * random and mutated cookies, bodies, content types, methods and paths, a share of them written
 * byte by byte on a raw TCP connection (control characters, CR/LF, NUL, TRACE, `..` that
 * `fetch()` would normalise away).
 *
 * Seeded: the seed is printed; `FUZZ_SEED=<n>` replays the same requests (the server's state can
 * still differ a little, since eight run at once), `FUZZ_REQUESTS=<n>` changes the count
 * (default 3,000). Bounded by count and by a 45 s deadline.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { DEFAULT_THROTTLE_LIMITS } from "../src/login_throttle.ts";
import { createTestApp, type TestApp } from "./_helpers.ts";
import { rawRequest } from "./_raw_http.ts";

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a small, fast, seedable 32-bit PRNG (not for secrets; for replayable tests). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random choices on one seeded stream. */
class Dice {
  constructor(readonly next: () => number) {}
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** `length` characters from `alphabet`. */
  chars(alphabet: string, length: number): string {
    let text = "";
    for (let i = 0; i < length; i++) text += alphabet[this.int(alphabet.length)];
    return text;
  }
}

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? crypto.getRandomValues(new Uint32Array(1))[0]);
const REQUESTS = Number(Deno.env.get("FUZZ_REQUESTS") ?? 3_000);
const CONCURRENCY = 8; // Keeps the password-hash queue (2 running + 8 waiting) from overflowing.
const DEADLINE_MS = 45_000;

// ---------------------------------------------------------------------------------------------
// Generators

const PRINTABLE = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghij" +
  "klmnopqrstuvwxyz{|}~";
const TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** Characters `fetch()` accepts in a header value (Latin-1, no NUL/CR/LF). */
const LATIN1 = PRINTABLE + "\t\u00a0\u00e9\u00ff\u0085";
/** Control characters: only a raw socket can send them in a header. */
const CONTROLS = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("") + "\x7f";

const NASTY_VALUES = [
  "",
  " ",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "<script>alert(1)</script>",
  '" onmouseover="alert(1)',
  "'; DROP TABLE users; --",
  "${7*7}",
  "{{7*7}}",
  "../../../../etc/passwd",
  "%00",
  "\u0000",
  "\r\nSet-Cookie: injected=1",
  "//evil.example",
  "/\\evil.example",
  "/%2F%2Fevil.example",
  "https://evil.example/",
  "javascript:alert(1)",
  "/dashboard",
  "/cart?x=1#y",
  "ａｌｉｃｅ",
  "alice\u0301",
  "\u202eecila",
  "😀😀😀😀😀😀😀😀",
  "\ud800",
  "-1",
  "0",
  "1",
  "99",
  "100",
  "1e3",
  " 5 ",
  "0x10",
  "NaN",
  "Infinity",
  "tea-green",
  "mug",
  "alice",
  "sentinel",
];

const PRODUCTS = ["tea-green", "tea-black", "coffee-beans", "mug", "nope", "__proto__", ""];

const POST_ROUTES: Record<string, string[]> = {
  "/login": ["username", "password", "next"],
  "/logout": [],
  "/signup": ["username", "password", "displayName"],
  "/cart": ["productId", "quantity"],
  "/cart/remove": ["productId"],
  "/account/sessions/revoke": ["id"],
  "/account/logout-others": [],
  "/account/password": ["currentPassword", "newPassword"],
  "/api/cart": ["productId", "quantity"],
};

const GET_PATHS = [
  "/",
  "/login",
  "/login?next=/cart",
  "/login?next=//evil.example",
  "/login?next=%2F%2Fevil.example",
  "/login?next=/%5Cevil.example",
  "/login?next=https://evil.example",
  "/signup",
  "/dashboard",
  "/products",
  "/cart",
  "/account",
  "/api/me",
  "/api/cart",
  "/api/nothing",
  "/healthz",
  "/static/style.css",
  "/static/",
  "/static/nope.css",
  "/static/..%2fmain.ts",
  "/static/..%2f..%2fdeno.json",
  "/static/%252e%252e%252fmain.ts",
  "/static/..%5cmain.ts",
  "/%",
  "/%zz",
  "/%E0%A4%A",
  "/api/%2e%2e/healthz",
  "//",
  "/index.php",
  "/.git/config",
  "/login/",
  "/LOGIN",
];

/** `..` in every spelling; only a raw socket sends these unnormalised. */
const TRAVERSALS = [
  "/static/../main.ts",
  "/static/../../etc/passwd",
  "/static/%2e%2e/main.ts",
  "/static/%2E%2E/deno.json",
  "/static/.%2e/.%2e/deno.json",
  "/static/..%2fmain.ts",
  "/static/..%2F..%2Fdeno.json",
  "/static/..%5cmain.ts",
  "/static/....//main.ts",
  "/static/%252e%252e/main.ts",
  "/static/..;/main.ts",
  "/static/%c0%ae%c0%ae/main.ts",
  "/static/%u002e%u002e/main.ts",
  "/static//etc/passwd",
  "/static/./style.css/../../main.ts",
  "/static/%2e%2e%2f%2e%2e%2fsrc%2fapp.ts",
];

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO", "PROPFIND"];
const RAW_METHODS = ["TRACE", "TRACK", "CONNECT", "get", "G ET", "GET\x00", "POST", "DEBUG", ""];

/** The live state the generators draw on: tokens from Set-Cookie headers, session ids. */
interface Pool {
  /** Session tokens seen in Set-Cookie headers, newest last (at most 20). */
  tokens: string[];
  /** Public session ids of the fuzz user, from its account page. */
  sessionIds: string[];
  /** The fuzz user's password. */
  password: string;
}

function randomString(dice: Dice): string {
  switch (dice.int(7)) {
    case 0:
      return dice.pick(NASTY_VALUES);
    case 1:
      return dice.chars(PRINTABLE, dice.int(40));
    case 2:
      return dice.chars(TOKEN_CHARS, dice.pick([3, 8, 22, 32, 43, 44]));
    case 3:
      return dice.chars("%zZ09aF+=&;", dice.int(20));
    case 4:
      return String.fromCodePoint(...Array.from({ length: dice.int(12) }, () => dice.int(0x10ffff)))
        .replace(/[\ud800-\udfff]/g, "");
    case 5:
      return "x".repeat(dice.pick([256, 1_000, 5_000, 70_000]));
    default:
      return dice.pick(NASTY_VALUES) + dice.chars(PRINTABLE, dice.int(6));
  }
}

/** Stands in when every pooled session has ended (never a live token). */
const DEAD_TOKEN = "D".repeat(43);

/**
 * A token from the pool, mutated or not, or an invented one. Draws the same amount of
 * randomness whatever the pool holds, so a seed always gives the same request shapes.
 */
function tokenFor(dice: Dice, pool: Pool): string {
  const slot = dice.int(2 ** 30);
  const real = pool.tokens[slot % Math.max(1, pool.tokens.length)] ?? DEAD_TOKEN;
  switch (dice.int(16)) {
    case 0:
      return real.slice(0, dice.int(43));
    case 1:
      return real + dice.chars(TOKEN_CHARS, dice.between(1, 5));
    case 2: {
      const at = dice.int(43);
      return real.slice(0, at) + dice.pick(["%", "%2", "%zz", "=", '"', " ", "\\"]) +
        real.slice(at + 1);
    }
    case 3:
      return `"${real}"`;
    case 4:
      return encodeURIComponent(real).replace(
        /[A-Za-z]/g,
        (c) => `%${c.charCodeAt(0).toString(16)}`,
      );
    case 5:
      return dice.chars(TOKEN_CHARS, 43);
    default:
      return real;
  }
}

/** A Cookie header `fetch()` can send (Latin-1 only, no NUL/CR/LF). */
function cookieHeader(dice: Dice, pool: Pool): string | undefined {
  const token = () => tokenFor(dice, pool);
  // Half the requests carry a plain session cookie so they reach the signed-in handlers.
  switch (dice.chance(0.5) ? -1 : dice.int(14)) {
    case 0:
      return undefined;
    case 1:
      return "";
    case 2:
      return `sid=${token()}; sid=${dice.chars(TOKEN_CHARS, 43)}`;
    case 3:
      return `sid=${dice.chars(TOKEN_CHARS, 43)}; sid=${token()}`;
    case 4:
      return `__proto__=${token()}; constructor=x; prototype=y; sid=${token()}`;
    case 5:
      return Array.from({ length: dice.pick([100, 1_000, 3_000]) }, (_, i) => `k${i}=v${i}`)
        .join("; ") + `; sid=${token()}`;
    case 6:
      return `sid=${"A".repeat(dice.pick([100, 4_096, 20_000]))}`;
    case 7:
      return `\u00a0sid=${token()}; \tsid\t=\t${token()}\t`;
    case 8:
      return dice.chars(LATIN1, dice.int(200));
    case 9:
      return `sid=%${dice.chars("0123456789abcdefzZ%", dice.int(6))}; sid=${token()}`;
    case 10:
      return `;;;; = ; =x; sid; sid=; ==; sid==${token()}`;
    case 11:
      return `SID=${token()}; Sid=${token()}; __Host-sid=${token()}`;
    case 12:
      return `notice=${
        dice.pick(["signed-out", "__proto__", "toString", "x", ""])
      }; sid=${token()}`;
    default:
      return `sid=${token()}`;
  }
}

/** Extra headers: mostly same-origin (so requests reach the handlers), sometimes not. */
function siteHeaders(dice: Dice, origin: string): Record<string, string> {
  switch (dice.int(10)) {
    case 0:
      return {};
    case 1:
      return {
        "Sec-Fetch-Site": dice.pick(["cross-site", "same-site", "none", "", "SAME-ORIGIN"]),
      };
    case 2:
      return {
        Origin: dice.pick(["null", "https://evil.example", origin + ".evil", origin + "/"]),
      };
    case 3:
      return { Origin: origin };
    default:
      return { "Sec-Fetch-Site": "same-origin" };
  }
}

function fieldValue(dice: Dice, field: string, pool: Pool): string {
  if (dice.chance(0.5)) return randomString(dice);
  switch (field) {
    case "username":
      return dice.pick(["fuzzer", "sentinel", "nobody", `u${dice.int(1e6)}`]);
    case "password":
    case "currentPassword":
      return dice.chance(0.5) ? pool.password : dice.chars(PRINTABLE, dice.between(0, 20));
    case "newPassword":
      return dice.chars(PRINTABLE, dice.between(0, 300));
    case "displayName":
      return dice.chars(PRINTABLE, dice.between(0, 80));
    case "next":
      return dice.pick(NASTY_VALUES.filter((v) => v.startsWith("/") || v.includes(":")));
    case "productId":
      return dice.pick(PRODUCTS);
    case "quantity":
      return String(dice.between(-2, 120));
    case "id":
      return dice.chance(0.5)
        ? dice.pick(pool.sessionIds)
        : dice.chars(TOKEN_CHARS, dice.pick([0, 22, 64, 65, 2_000]));
    default:
      return randomString(dice);
  }
}

/** A body and its Content-Type (undefined: none sent) for a POST to `path`. */
function body(
  dice: Dice,
  path: string,
  pool: Pool,
): { body?: BodyInit; contentType?: string | null } {
  const names = [...POST_ROUTES[path] ?? [], ...(dice.chance(0.2) ? ["__proto__", "x"] : [])];
  const fields: [string, string][] = names.filter(() => dice.chance(0.85))
    .map((name) => [name, fieldValue(dice, name, pool)]);
  if (dice.chance(0.1) && fields.length > 0) fields.push(fields[0]!); // Repeated name.
  const json = () => {
    // Null prototype, so "__proto__" becomes an own key of the JSON text like any other.
    const object: Record<string, unknown> = Object.create(null);
    for (const [name, value] of fields) {
      object[name] = dice.pick([
        value,
        Number(value),
        dice.int(200) - 50,
        null,
        true,
        [value],
        { value },
        1e308,
        -0,
      ]);
    }
    return JSON.stringify(object);
  };
  switch (dice.int(12)) {
    case 0: {
      const data = new FormData();
      for (const [name, value] of fields) data.append(name, value);
      if (dice.chance(0.3)) data.append("file", new Blob(["x".repeat(dice.int(2_000))]), "a.txt");
      return { body: data, contentType: null }; // fetch writes the boundary.
    }
    case 1: {
      const boundary = dice.chars(TOKEN_CHARS, dice.between(0, 30));
      const parts = fields.map(([name, value]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
      ).join("");
      return {
        body: dice.chance(0.5) ? parts : parts + `--${boundary}--\r\n`,
        contentType: dice.pick([
          `multipart/form-data; boundary=${boundary}`,
          "multipart/form-data",
          "multipart/form-data; boundary=",
          `multipart/form-data; boundary="${boundary}x"`,
        ]),
      };
    }
    case 2:
      return { body: json(), contentType: "application/json" };
    case 3:
      return {
        body: dice.pick(["{", "[]", "null", '"x"', "1", '{"__proto__":{"admin":true}}', ""]),
        contentType: dice.pick(["application/json", "application/json; charset=utf-16"]),
      };
    case 4:
      return {
        body: fields.map(([n, v]) => `${n}=${v}`).join(dice.pick(["&", "&&", ";", ""])) +
          dice.pick(["", "&=", "&%", "&%zz=1", "&a=%E0%A4", "&==&"]),
        contentType: "application/x-www-form-urlencoded",
      };
    case 5:
      return {
        body: new URLSearchParams(fields).toString(),
        contentType: dice.pick([
          "text/plain",
          "application/xml",
          "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-16",
          "application/x-www-form-urlencoded;;;",
          "",
        ]),
      };
    case 6:
      return { body: new URLSearchParams(fields).toString(), contentType: undefined };
    case 7:
      return { body: "a=".padEnd(70_000, "b"), contentType: "application/x-www-form-urlencoded" };
    case 8:
      return { body: undefined, contentType: dice.pick(["application/json", undefined]) };
    default:
      return path === "/api/cart" ? { body: json(), contentType: "application/json" } : {
        body: new URLSearchParams(fields).toString(),
        contentType: "application/x-www-form-urlencoded",
      };
  }
}

/** One request to send. */
type Case =
  | {
    kind: "fetch";
    method: string;
    path: string;
    headers: Headers;
    body?: BodyInit;
    token?: string;
  }
  | { kind: "raw"; bytes: Uint8Array; halfClose: boolean; label: string };

function fetchCase(dice: Dice, pool: Pool, origin: string): Case {
  const routes = Object.keys(POST_ROUTES);
  const method = dice.chance(0.55) ? "POST" : dice.chance(0.6) ? "GET" : dice.pick(METHODS);
  const path = method === "POST" && dice.chance(0.9)
    ? dice.pick(routes)
    : dice.chance(0.85)
    ? dice.pick([...GET_PATHS, ...routes])
    : "/" + encodeURI(randomString(dice).toWellFormed()).slice(0, 3_000);
  const headers = new Headers(siteHeaders(dice, origin));
  const cookie = cookieHeader(dice, pool);
  // The pooled token this request names exactly; a response clearing the cookie ends it.
  const token =
    /^sid=[A-Za-z0-9_-]{43}$/.test(cookie ?? "") && pool.tokens.includes(cookie!.slice(4))
      ? cookie!.slice(4)
      : undefined;
  if (cookie !== undefined) headers.set("Cookie", cookie);
  if (dice.chance(0.1)) headers.set("User-Agent", dice.chars(LATIN1, dice.int(500)));
  if (dice.chance(0.05)) headers.set("X-Request-Id", dice.chars(LATIN1, dice.int(300)));
  if (dice.chance(0.05)) headers.set("If-None-Match", dice.chars(LATIN1, dice.int(60)));
  let payload: BodyInit | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const generated = body(dice, path.split("?")[0]!, pool);
    payload = generated.body;
    if (generated.contentType === undefined) headers.delete("Content-Type");
    else if (generated.contentType !== null) headers.set("Content-Type", generated.contentType);
  }
  return { kind: "fetch", method, path, headers, body: payload, token };
}

function rawCase(dice: Dice, pool: Pool): Case {
  const encoder = new TextEncoder();
  const token = tokenFor(dice, pool);
  const control = () => dice.chars(CONTROLS, dice.between(1, 4));
  let head: string;
  let bodyText = "";
  let halfClose = false;
  let label: string;
  switch (dice.int(8)) {
    case 0: {
      label = "control characters in Cookie";
      head = `GET ${dice.pick(GET_PATHS)} HTTP/1.1\r\nCookie: sid=${token}${control()}; ` +
        `${control()}sid=${token}\r\n`;
      break;
    }
    case 1: {
      label = "CR, LF or NUL inside a header";
      head = `GET /api/me HTTP/1.1\r\nCookie: sid=${token}${
        dice.pick(["\r", "\n", "\0", "\r\nX-Injected: 1", "\n\r\n"])
      }x=1\r\n`;
      break;
    }
    case 2: {
      label = "odd method";
      head = `${dice.pick(RAW_METHODS)} ${dice.pick([...GET_PATHS, "*", "http://evil.example/"])}` +
        ` HTTP/1.1\r\nCookie: sid=${token}\r\n`;
      break;
    }
    case 3: {
      label = "path traversal under /static/";
      head = `${dice.pick(["GET", "HEAD"])} ${dice.pick(TRAVERSALS)} HTTP/1.1\r\n`;
      break;
    }
    case 4: {
      label = "truncated body";
      const path = dice.pick(Object.keys(POST_ROUTES));
      const chunked = dice.chance(0.5);
      head = `POST ${path} HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\nCookie: sid=${token}\r\n` +
        `Content-Type: ${
          path === "/api/cart" ? "application/json" : "application/x-www-form-urlencoded"
        }\r\n` +
        (chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: 100\r\n");
      bodyText = chunked ? "5\r\nprodu" : "productId=mug&quan";
      halfClose = true;
      break;
    }
    case 5: {
      label = "malformed framing";
      head = dice.pick([
        "POST /login HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n",
        "POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n",
        "POST /cart HTTP/1.1\r\nTransfer-Encoding: chunked\r\nSec-Fetch-Site: same-origin\r\n",
        "GET / HTTP/9.9\r\n",
        "GET /\r\n",
        "GET / HTTP/1.1\r\n folded: header\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
      ]);
      bodyText = head.includes("chunked") ? "zz\r\nxx\r\n0\r\n\r\n" : "a=1&b";
      break;
    }
    case 6: {
      label = "raw bytes in Cookie";
      head = `GET /dashboard HTTP/1.1\r\nCookie: sid=${token}\u00e9\u00ff; ` +
        `${dice.pick(["\u00a0sid=x", "s\u00efd=x", "sid=\u{1f600}"])}\r\n`;
      break;
    }
    default: {
      label = "long header line";
      head = `GET /api/me HTTP/1.1\r\nCookie: sid=${token}; pad=${
        "p".repeat(
          dice.pick([8_000, 70_000, 200_000]),
        )
      }\r\n`;
    }
  }
  const request = `${head}Host: 127.0.0.1\r\nConnection: close\r\n\r\n${bodyText}`;
  const bytes = encoder.encode(request);
  // Latin-1 bytes, not UTF-8, for the "raw bytes" case, now and then.
  if (label === "raw bytes in Cookie" && dice.chance(0.5)) {
    return {
      kind: "raw",
      label,
      halfClose,
      bytes: Uint8Array.from(request, (c) => c.charCodeAt(0) & 0xff),
    };
  }
  return { kind: "raw", bytes, halfClose, label };
}

// ---------------------------------------------------------------------------------------------
// Checks

/** Things that must never reach a client: stack frames, error names, source paths. */
const LEAKS: [string, RegExp][] = [
  ["a stack frame", /^\s+at\s+\S.*(?:\(|:\d+:\d+)/m],
  ["an error name", /\b(?:[A-Z][a-zA-Z]*)?Error:/],
  [
    "a Deno error class",
    /\b(?:BadResource|PermissionDenied|NotCapable|Interrupted|ConnectionReset|BrokenPipe|InvalidData|UnexpectedEof):/,
  ],
  ["a source path", /\/work\/|file:\/\/|ext:deno|node:internal|\.ts:\d+/],
];

function leakIn(text: string): string | undefined {
  for (const [what, pattern] of LEAKS) {
    const match = pattern.exec(text);
    if (match) return `${what}: ${JSON.stringify(text.slice(match.index, match.index + 120))}`;
  }
  return undefined;
}

const SESSION_SET_COOKIE =
  /^(?:sid=(?:[A-Za-z0-9_-]{43})?|notice=(?:signed-out)?); Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/;

// ---------------------------------------------------------------------------------------------

Deno.test("leakIn() finds stack frames, error names and source paths, and passes a normal page", () => {
  const cases: [string, boolean][] = [
    ["TypeError: Cannot read properties of undefined", true],
    ["BadResource: Cannot read request body as underlying resource unavailable", true],
    ["boom\n    at handler (file:///srv/app/src/routes/auth.ts:12:5)", true],
    ["    at ext:deno_http/00_serve.ts:1:6259", true],
    ["see /work/main/src/app.ts", true],
    ["<h1>Server error</h1><p>Something went wrong on our side.</p><code>4f1c</code>", false],
    ["<p>Signed in at 10:42. Look at your cart.</p>", false],
  ];
  for (const [text, leaks] of cases) strictEqual(leakIn(text) !== undefined, leaks, text);
});

async function signUpOverSocket(origin: string, username: string, password: string) {
  const response = await fetch(`${origin}/signup`, {
    method: "POST",
    redirect: "manual",
    headers: { "Sec-Fetch-Site": "same-origin" },
    body: new URLSearchParams({ username, password, displayName: username }),
  });
  await response.body?.cancel();
  strictEqual(response.status, 303);
  const token = /^sid=([^;]+)/.exec(response.headers.getSetCookie().join("\n"))?.[1];
  ok(token);
  return token;
}

Deno.test("the app survives thousands of hostile requests over a real socket", async () => {
  console.log(`fuzz seed ${SEED}, ${REQUESTS} requests (replay: FUZZ_SEED=${SEED})`);
  const dice = new Dice(prng(SEED));
  // Every request comes from 127.0.0.1, standing for many clients: the per-address in-flight
  // cap and hash budget would refuse the pool's refill sign-ups amid the fuzz's own traffic.
  const app: TestApp = await createTestApp({
    throttleLimits: {
      ...DEFAULT_THROTTLE_LIMITS,
      concurrentPerAddress: 1000,
      hashesPerAddress: 1_000_000,
    },
  });
  const controller = new AbortController();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
    onListen() {},
  }, app.app.fetch);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const failures: string[] = [];
  const counts = { fetch: 0, raw: 0, noResponse: 0, byStatus: new Map<number, number>() };
  try {
    // A session the fuzz never touches, and a user whose sessions it plays with.
    const sentinel = await signUpOverSocket(origin, "sentinel", "sentinel passphrase 1");
    const pool: Pool = { tokens: [], sessionIds: [], password: "fuzzer passphrase 1" };
    pool.tokens.push(await signUpOverSocket(origin, "fuzzer", pool.password));
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${origin}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "Sec-Fetch-Site": "same-origin" },
        body: new URLSearchParams({ username: "fuzzer", password: pool.password }),
      });
      await response.body?.cancel();
      pool.tokens.push(/^sid=([^;]+)/.exec(response.headers.getSetCookie().join("\n"))![1]!);
    }
    const account = await fetch(`${origin}/account`, {
      headers: { Cookie: `sid=${pool.tokens[0]}` },
    });
    for (const [, id] of (await account.text()).matchAll(/name="id" value="([^"]+)"/g)) {
      pool.sessionIds.push(id!);
    }
    ok(pool.sessionIds.length >= 4, "the account page lists the other sessions");

    const check = (
      label: string,
      status: number,
      text: string,
      headers?: Headers,
      token?: string,
    ) => {
      counts.byStatus.set(status, (counts.byStatus.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${label} -> ${status}: ${text.slice(0, 300)}`);
      const leak = leakIn(text);
      if (leak) failures.push(`${label} leaked ${leak}`);
      if (label.includes("/static/") && status === 200 && !/ \/static\/style\.css /.test(label)) {
        failures.push(`${label} served a file`);
      }
      for (const header of headers?.getSetCookie() ?? []) {
        if (!SESSION_SET_COOKIE.test(header)) failures.push(`${label} set ${header}`);
        // Keep the pool to live sessions: add new ones, drop one the server just cleared.
        const issued = /^sid=([A-Za-z0-9_-]{43});/.exec(header)?.[1];
        if (issued && !pool.tokens.includes(issued)) pool.tokens.push(issued);
        if (header.startsWith("sid=;") && token !== undefined) {
          pool.tokens = pool.tokens.filter((t) => t !== token);
        }
      }
      if (pool.tokens.length > 20) pool.tokens.shift();
      const location = headers?.get("Location");
      if (location !== null && location !== undefined && !/^\/(?![/\\])/.test(location)) {
        failures.push(`${label} redirected off-site to ${location}`);
      }
    };

    // Hostile requests end sessions fast (sign-out, "sign out everywhere else", password
    // changes); a fresh user keeps live sessions in the pool so signed-in code stays covered.
    let users = 0;
    let refilling: Promise<void> | undefined;
    const refill = () =>
      refilling ??= signUpOverSocket(origin, `pool${users++}`, "pool passphrase 1")
        .then((token) => void pool.tokens.push(token))
        .finally(() => refilling = undefined);

    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS && Date.now() - started < DEADLINE_MS) {
        const index = next++;
        if (pool.tokens.length < 3) await refill();
        // Generated just before it is sent, so the cookies name sessions that exist now.
        const item = dice.chance(0.17) ? rawCase(dice, pool) : fetchCase(dice, pool, origin);
        if (item.kind === "fetch") {
          counts.fetch++;
          const label = `#${index} ${item.method} ${item.path.slice(0, 80)} `;
          let response: Response;
          try {
            response = await fetch(origin + item.path, {
              method: item.method,
              headers: item.headers,
              body: item.body,
              redirect: "manual",
            });
          } catch (error) {
            // Only a header over the server's limit may be refused without an answer.
            counts.noResponse++;
            const size = [...item.headers].reduce((sum, [k, v]) => sum + k.length + v.length, 0);
            if (size < 60_000) failures.push(`${label} got no response: ${error}`);
            continue;
          }
          check(label, response.status, await response.text(), response.headers, item.token);
        } else {
          counts.raw++;
          const result = await rawRequest(server.addr.port, item.bytes, {
            timeoutMs: 5_000,
            halfClose: item.halfClose,
          });
          if (result.status === 0) counts.noResponse++;
          const line = new TextDecoder().decode(item.bytes.subarray(0, 80)).split("\r\n")[0];
          // No answer at all is allowed here (a malformed request may just be dropped); the
          // server must stay up, which the checks after the loop prove.
          check(
            `#${index} raw ${item.label}: ${JSON.stringify(line)} `,
            result.status,
            result.text,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - started;
    console.log(
      `fuzz: ${counts.fetch} fetch + ${counts.raw} raw requests in ${elapsed} ms, ` +
        `${counts.noResponse} without an answer, ${users} users added; statuses ${
          JSON.stringify(Object.fromEntries([...counts.byStatus].sort(([a], [b]) => a - b)))
        }`,
    );
    const sessions = new Map<string, number>();
    for (const line of app.logger.lines) {
      if (line.message === "request") {
        sessions.set(String(line.session), (sessions.get(String(line.session)) ?? 0) + 1);
      }
    }
    console.log(`fuzz: session outcomes ${JSON.stringify(Object.fromEntries(sessions))}`);

    deepStrictEqual(failures.slice(0, 20), [], `seed ${SEED}: ${failures.length} failures`);
    deepStrictEqual(
      app.logger.lines.filter((line) => line.level === "error"),
      [],
      `seed ${SEED}: unhandled errors were logged`,
    );

    ok(counts.fetch + counts.raw >= Math.min(REQUESTS, 500), "enough requests ran in time");
    ok((sessions.get("valid") ?? 0) > REQUESTS / 10, "a fair share ran with a live session");

    // The server is alive and a real session still works, reads and writes.
    const health = await fetch(`${origin}/healthz`);
    strictEqual(health.status, 200);
    await health.body?.cancel();
    const me = await fetch(`${origin}/api/me`, { headers: { Cookie: `sid=${sentinel}` } });
    strictEqual(me.status, 200);
    strictEqual((await me.json()).username, "sentinel");
    const added = await fetch(`${origin}/api/cart`, {
      method: "POST",
      headers: {
        Cookie: `sid=${sentinel}`,
        "Sec-Fetch-Site": "same-origin",
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ productId: "mug", quantity: 2 }),
    });
    strictEqual(added.status, 200);
    deepStrictEqual((await added.json()).items, [{ productId: "mug", quantity: 2 }]);
  } finally {
    controller.abort();
    await server.finished;
    app.close();
  }
});
