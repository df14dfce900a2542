/**
 * Micro benchmarks: the cookie helpers and the session store's validate path.
 *
 * Each `group` has our function as the baseline; npm `cookie` (the parser Express and most of
 * Node's ecosystem use) runs in the same group, so `deno bench` prints the ratio. The parse
 * groups also time `getCookie`, the one-name read the session middleware makes. Run with
 * `deno bench bench/micro_bench.ts` (the runner, `deno task bench`, does and records it).
 *
 * @module
 */
import * as npmCookie from "npm:cookie@1";
import { getCookie, parseCookies, serializeCookie } from "@kvsession/hono/cookies";
import { hashToken, SessionStore } from "@kvsession/hono";
import { LARGE_HEADER, TOKEN, TYPICAL_HEADER } from "./_headers.ts";

Deno.bench({
  name: "parseCookies, typical header",
  group: "parse typical",
  baseline: true,
  fn: () => void parseCookies(TYPICAL_HEADER),
});

Deno.bench({
  name: "npm cookie@1 parse, typical header",
  group: "parse typical",
  fn: () => void npmCookie.parse(TYPICAL_HEADER),
});

// What the session middleware does per request: one name, no map.
Deno.bench({
  name: "getCookie(header, session name), typical header",
  group: "parse typical",
  fn: () => void getCookie(TYPICAL_HEADER, "__Host-sid"),
});

Deno.bench({
  name: "parseCookies, 4 KB header",
  group: "parse 4 KB",
  baseline: true,
  fn: () => void parseCookies(LARGE_HEADER),
});

Deno.bench({
  name: "npm cookie@1 parse, 4 KB header",
  group: "parse 4 KB",
  fn: () => void npmCookie.parse(LARGE_HEADER),
});

Deno.bench({
  name: "getCookie(header, session name), 4 KB header",
  group: "parse 4 KB",
  fn: () => void getCookie(LARGE_HEADER, "__Host-sid"),
});

Deno.bench({
  name: "serializeCookie, session cookie",
  group: "serialize",
  baseline: true,
  fn: () =>
    void serializeCookie("__Host-sid", TOKEN, {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Lax",
      maxAge: 86_400,
    }),
});

Deno.bench({
  name: "npm cookie@1 serialize, session cookie",
  group: "serialize",
  fn: () =>
    void npmCookie.serialize("__Host-sid", TOKEN, {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "lax",
      maxAge: 86_400,
    }),
});

// The validate path: SessionStore.get on a live session (one kv.get, no write) against its
// parts, a bare kv.get of the same record and the token hash.
const kv = await Deno.openKv(":memory:");
const store = new SessionStore({ kv, idleTimeoutSeconds: 86_400, absoluteTimeoutSeconds: 604_800 });
const { token } = await store.create({
  userId: "u1",
  credentialVersion: 0,
  data: { user: { id: "u1", username: "bench", displayName: "Bench User" }, cart: [] },
  userAgent: "Firefox on Linux",
});
const key = ["sessions", hashToken(token)];
globalThis.addEventListener("unload", () => kv.close());

Deno.bench({
  name: "SessionStore.get, live session (:memory: KV)",
  group: "session validate",
  baseline: true,
  async fn() {
    const found = await store.get(token);
    if (found.status !== "valid") throw new Error(`Expected a valid session, got ${found.status}`);
  },
});

Deno.bench({
  name: "kv.get of the same record (:memory: KV)",
  group: "session validate",
  async fn() {
    await kv.get(key);
  },
});

Deno.bench({
  name: "hashToken (SHA-256, node:crypto)",
  group: "session validate",
  fn: () => void hashToken(token),
});
