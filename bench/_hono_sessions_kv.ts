/**
 * A Deno KV store for npm `hono-sessions`, whose npm build ships none (its JSR build has
 * `DenoKvStore`): the four methods of its `Store` interface over `Deno.Kv`, written the way that
 * store does them (one plain `kv.get` / `kv.set` / `kv.delete` of `[collection, sessionId]`, no
 * `expireIn`, no checks), so the benchmark measures hono-sessions as a Deno KV user of it would
 * run it. And the seeding of its sessions for the benchmark.
 *
 * Only types come from the npm package here, so the runner can import this file without loading
 * hono-sessions.
 *
 * @module
 */
import type { SessionData, Store } from "npm:hono-sessions@0.8.1";

/** hono-sessions' version the benchmark runs (bench/hono_sessions_server.ts imports it). */
export const HONO_SESSIONS_VERSION = "0.8.1";

/** hono-sessions' default cookie name (`sessionCookieName`), which the benchmark keeps. */
export const HONO_SESSIONS_COOKIE = "session";

/** The session-data key the benchmark's guarded route checks (set at "sign-in"). */
export const HONO_SESSIONS_USER_KEY = "userId";

/** Seconds of inactivity after which a hono-sessions session ends: the package's default idle. */
export const HONO_SESSIONS_EXPIRE_SECONDS = 86_400;

/** hono-sessions' `Store` on Deno KV, as its JSR `DenoKvStore` is. */
export class DenoKvSessionStore implements Store {
  readonly #kv: Deno.Kv;
  readonly #collection: string;

  /** Stores sessions under `[collection, sessionId]` in `kv` (which it never closes). */
  constructor(kv: Deno.Kv, collection = "sessions") {
    this.#kv = kv;
    this.#collection = collection;
  }

  /** The session's data, or null. */
  async getSessionById(sessionId?: string): Promise<SessionData | null> {
    if (sessionId === undefined) return null;
    return (await this.#kv.get<SessionData>([this.#collection, sessionId])).value;
  }

  /** Writes a new session. */
  async createSession(sessionId: string, initialData: SessionData): Promise<void> {
    await this.#kv.set([this.#collection, sessionId], initialData);
  }

  /** Writes a session's data (hono-sessions calls it after every request that changed it). */
  async persistSessionData(sessionId: string, sessionData: SessionData): Promise<void> {
    await this.#kv.set([this.#collection, sessionId], sessionData);
  }

  /** Deletes a session. */
  async deleteSession(sessionId: string): Promise<void> {
    await this.#kv.delete([this.#collection, sessionId]);
  }
}

/**
 * Creates `count` signed-in hono-sessions sessions in the KV file at `path` through the store's
 * own `createSession`, with the data its middleware keeps after a sign-in that did
 * `session.set("userId", ...)`, and returns wrk cookie lines (`session=ID`, no `encryptionKey`).
 */
export async function seedHonoSessions(path: string, count: number): Promise<string> {
  const kv = await Deno.openKv(path);
  try {
    const store = new DenoKvSessionStore(kv);
    const lines: string[] = [];
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const id = crypto.randomUUID();
      await store.createSession(id, {
        _id: id,
        _data: { [HONO_SESSIONS_USER_KEY]: { value: `user-${i}`, flash: false } },
        _expire: new Date(now + HONO_SESSIONS_EXPIRE_SECONDS * 1000).toISOString(),
        _delete: false,
        _accessed: new Date(now).toISOString(),
      });
      lines.push(`${HONO_SESSIONS_COOKIE}=${id}\n`);
    }
    return lines.join("");
  } finally {
    kv.close();
  }
}
