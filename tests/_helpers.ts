/**
 * Shared test fixtures: a movable clock, KV handles that close themselves, and a KV wrapper
 * that counts reads and writes.
 *
 * @module
 */

import { type AppDeps, type BuiltApp, createApp } from "../src/app.ts";
import { type Config, loadConfig } from "../src/config.ts";
import { memoryLogger } from "../src/logger.ts";
import { createPasswordHasher, TEST_SCRYPT_PARAMS } from "../src/passwords.ts";
import { seedCatalogue } from "../src/products.ts";
import { loadStaticFiles, type StaticFiles } from "../src/static_files.ts";
import { parseCookies } from "@kvsession/hono/cookies";

/** A clock tests move by hand instead of sleeping. */
export interface FakeClock {
  /** Current time in ms. */
  now: () => number;
  /** Moves the clock forward. */
  advance: (ms: number) => void;
}

/** Returns a clock starting at a fixed instant. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

/** Runs `fn` with a fresh in-memory KV and closes it afterwards. */
export async function withKv<T>(fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await Deno.openKv(":memory:");
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

// The KV operation counter is the session package tests' one: one proxy, one set of rules.
export { countingKv, type KvCounts } from "./session/_counting_kv.ts";

// ---------------------------------------------------------------------------------------------
// App fixtures

/** Origin the test app is addressed by in `app.request()` calls. */
export const ORIGIN = "http://localhost";

/** Settings for tests: development defaults plus `overrides`. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ KV_PATH: ":memory:" }, "dev"), ...overrides };
}

let staticFiles: StaticFiles | undefined;

/** A test app over a fresh in-memory KV with cheap password hashing and a memory logger. */
export interface TestApp extends BuiltApp {
  /** Its KV (closed by `close`). */
  kv: Deno.Kv;
  /** Collected log lines. */
  logger: ReturnType<typeof memoryLogger>;
  /** The movable clock the app uses. */
  clock: FakeClock;
  /** `app.request()` with the same-origin headers a browser sends on our own forms. */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** Closes KV. */
  close: () => void;
}

/** Builds a {@linkcode TestApp}; pass `deps` to override any dependency. */
export async function createTestApp(
  deps: Omit<Partial<AppDeps>, "config"> & { config?: Partial<Config> } = {},
): Promise<TestApp> {
  const kv = deps.kv ?? await Deno.openKv(":memory:");
  await seedCatalogue(kv);
  staticFiles ??= await loadStaticFiles(new URL("../static/", import.meta.url).pathname);
  const logger = memoryLogger();
  const clock = fakeClock(Date.now());
  const built = createApp({
    staticFiles,
    hasher: createPasswordHasher({ params: TEST_SCRYPT_PARAMS }),
    logger,
    now: clock.now,
    ...deps,
    kv,
    config: testConfig(deps.config),
  });
  return {
    ...built,
    kv,
    logger,
    clock,
    request: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("Sec-Fetch-Site") && !headers.has("Origin")) {
        headers.set("Sec-Fetch-Site", "same-origin");
      }
      return Promise.resolve(built.app.request(new URL(path, ORIGIN).href, { ...init, headers }));
    },
    close: () => kv.close(),
  };
}

/** A urlencoded form body. */
export function form(fields: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  };
}

/** Reads the value a response sets for cookie `name` (undefined when it sets none). */
export function setCookieValue(response: Response, name: string): string | undefined {
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(";", 1)[0]!;
    const value = parseCookies(pair)[name];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Signs up `username` through `POST /signup` and returns its session cookie value. */
export async function signUp(
  app: TestApp,
  username = "alice",
  password = "correct horse battery",
  displayName = "Alice",
): Promise<string> {
  const response = await app.request(
    "/signup",
    form({ username, password, displayName }),
  );
  await response.body?.cancel();
  if (response.status !== 303) throw new Error(`sign-up failed with ${response.status}`);
  const token = setCookieValue(response, "sid");
  if (!token) throw new Error("sign-up set no session cookie");
  return token;
}

/** Signs in through `POST /login` and returns the response (body cancelled). */
export async function signIn(
  app: TestApp,
  username = "alice",
  password = "correct horse battery",
  init: RequestInit = {},
): Promise<Response> {
  // `init.headers` may be a Headers object (as withSession() returns), which spreading drops.
  const headers = new Headers(init.headers);
  if (!headers.has("Content-Type")) {
    headers.set("Content-Type", "application/x-www-form-urlencoded");
  }
  const response = await app.request("/login", {
    ...form({ username, password }),
    ...init,
    headers,
  });
  await response.body?.cancel();
  return response;
}

/** Headers carrying the session cookie. */
export function withSession(token: string, headers: HeadersInit = {}): Headers {
  const result = new Headers(headers);
  result.set("Cookie", `sid=${token}`);
  return result;
}
