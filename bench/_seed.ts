/**
 * Fills a KV file for our server the way the server itself would: the catalogue, one user with a
 * production scrypt hash, and sessions made by the app's own `SessionStore` (through
 * `createServices`, so the timeouts are the server's). Creating sessions directly is legitimate:
 * the server reads them like any other. Signing in 1,000 times over HTTP would instead cost
 * 1,000 production scrypt hashes (minutes).
 *
 * @module
 */
import type { AppSessionData } from "../src/app_env.ts";
import { sessionUser } from "../src/auth.ts";
import { loadConfig } from "../src/config.ts";
import { createPasswordHasher } from "../src/passwords.ts";
import { seedCatalogue } from "../src/products.ts";
import { createServices } from "../src/services.ts";
import { hashToken, type SessionStore } from "@kvsession/hono";
import type { User } from "../src/users.ts";

/** The benchmark user of every server (the peers know it too). */
export const BENCH_USER = {
  username: "bench",
  password: "bench-password",
  displayName: "Bench User",
} as const;

/** The session cookie's name in production mode (`COOKIE_SECURE` on by default). */
export const OUR_COOKIE = "__Host-sid";

/** Hashes the benchmark password at production parameters, once per run. */
export async function benchPasswordHash(): Promise<string> {
  return await createPasswordHasher().hash(BENCH_USER.password);
}

/** Measures production scrypt: `count` hashes one after another, each time in ms. */
export async function measureHashMs(count: number): Promise<number[]> {
  const hasher = createPasswordHasher();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await hasher.hash(BENCH_USER.password);
    times.push(performance.now() - started);
  }
  return times;
}

/** An open KV file with our services on it, ready to add sessions. */
export interface OurKv {
  /** The database (close it before a server that is not running yet opens the file). */
  kv: Deno.Kv;
  /** The app's session store, with the server's settings. */
  sessions: SessionStore<AppSessionData>;
  /** The benchmark user. */
  user: User;
}

/**
 * Opens `path`, seeds the catalogue and creates the benchmark user with `passwordHash` (or
 * finds it when the file has one already). With `groupCommit`, the services write through
 * {@linkcode groupCommitKv} (for creating many sessions quickly).
 */
export async function openOurKv(
  path: string,
  passwordHash: string,
  options: { groupCommit?: boolean } = {},
): Promise<OurKv> {
  const kv = await Deno.openKv(path);
  const config = loadConfig({ KV_PATH: path }, "production");
  const { sessions, users } = createServices({
    kv: options.groupCommit ? groupCommitKv(kv) : kv,
    config,
  });
  await seedCatalogue(kv);
  const user = await users.findByUsername(BENCH_USER.username) ??
    await users.create({
      username: BENCH_USER.username,
      displayName: BENCH_USER.displayName,
      passwordHash,
    });
  return { kv, sessions, user };
}

/**
 * Creates `count` sessions for the benchmark user through the app's `SessionStore.create`,
 * `concurrency` at a time, and returns their tokens. With {@linkcode groupCommitKv} under the
 * store and a high concurrency, many creates share one KV commit.
 */
export async function createSessions(
  target: OurKv,
  count: number,
  concurrency = 32,
): Promise<string[]> {
  const tokens: string[] = [];
  const credentialVersion = await target.sessions.credentialVersion(target.user.id);
  const data: AppSessionData = { user: sessionUser(target.user), cart: [] };
  let started = 0;
  async function worker() {
    while (started < count) {
      started++;
      const { token } = await target.sessions.create({
        userId: target.user.id,
        credentialVersion,
        data,
        userAgent: "wrk on Linux",
      });
      tokens.push(token);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return tokens;
}

/** Cookie lines for wrk: `__Host-sid=TOKEN` for our server. */
export function ourCookieLines(tokens: readonly string[]): string {
  return tokens.map((token) => `${OUR_COOKIE}=${token}\n`).join("");
}

/**
 * Cookie lines for bench/kv_get_server.ts: the token's HASH, which is the record's key, so that
 * server reads the very same records with one `kv.get` and no hashing.
 */
export function kvGetCookieLines(tokens: readonly string[]): string {
  return tokens.map((token) => `${OUR_COOKIE}=${hashToken(token)}\n`).join("");
}

/**
 * Wraps `kv` so that atomic commits made in the same moment are merged into one real commit
 * ("group commit"), at most `maxSessionsPerCommit` operations' worth at a time.
 *
 * Why: on this machine's disk every KV commit costs about a millisecond (SQLite syncs the
 * write-ahead log), so 100,000 `SessionStore.create` calls one commit each take minutes. Merged,
 * the store still builds every record, key and `expireIn` itself; only the commits are shared.
 * Checks are kept (deduplicated; Deno KV allows 10 per commit, so a batch is split when it would
 * need more). A merged commit that fails fails every operation in it, as separate commits
 * could have. Reads pass through unchanged.
 */
export function groupCommitKv(kv: Deno.Kv, maxSessionsPerCommit = 400): Deno.Kv {
  type Pending = {
    checks: Deno.AtomicCheck[];
    sets: { key: Deno.KvKey; value: unknown; options?: { expireIn?: number } }[];
    resolve: (result: Deno.KvCommitResult | Deno.KvCommitError) => void;
    reject: (error: unknown) => void;
  };
  const queue: Pending[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    while (queue.length > 0) {
      const batch: Pending[] = [];
      const checks = new Map<string, Deno.AtomicCheck>();
      while (queue.length > 0 && batch.length < maxSessionsPerCommit) {
        const next = queue[0]!;
        const added = next.checks.filter((c) =>
          !checks.has(JSON.stringify([c.key, c.versionstamp]))
        );
        if (checks.size + added.length > 10) break;
        for (const c of added) checks.set(JSON.stringify([c.key, c.versionstamp]), c);
        batch.push(queue.shift()!);
      }
      const operation = kv.atomic();
      for (const check of checks.values()) operation.check(check);
      for (const item of batch) {
        for (const set of item.sets) operation.set(set.key, set.value, set.options);
      }
      try {
        const result = await operation.commit();
        for (const item of batch) item.resolve(result);
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
  }

  function atomic(): Deno.AtomicOperation {
    const pending: Omit<Pending, "resolve" | "reject"> = { checks: [], sets: [] };
    const operation = {
      check(...checks: Deno.AtomicCheck[]) {
        pending.checks.push(...checks);
        return operation;
      },
      set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }) {
        pending.sets.push({ key, value, options });
        return operation;
      },
      commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
        return new Promise((resolve, reject) => {
          queue.push({ ...pending, resolve, reject });
          if (!scheduled) {
            scheduled = true;
            setTimeout(flush, 1);
          }
        });
      },
    };
    // Only what SessionStore.create uses is supported; anything else is a clear error.
    return new Proxy(operation, {
      get(target, property) {
        if (property in target) return Reflect.get(target, property);
        throw new TypeError(`groupCommitKv: AtomicOperation.${String(property)} is not supported`);
      },
    }) as unknown as Deno.AtomicOperation;
  }

  return new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") return atomic;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
