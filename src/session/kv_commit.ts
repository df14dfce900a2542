/**
 * Committing Deno KV atomic operations when several processes share one local KV file.
 *
 * SQLite-backed KV answers a write that meets another process's write lock with
 * `TypeError: database is locked` (most commits under `deno serve --parallel`, measured). That
 * is contention, not failure, so it is retried with a short, jittered, bounded backoff.
 *
 * @module
 */

/** How often and how long to retry a commit that met a locked database. */
export interface LockRetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** Upper bound of the first backoff; it doubles per attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  /** Upper bound of any one backoff. */
  maxDelayMs?: number;
}

/**
 * Thrown when the database stayed locked (another process holds the KV file) through every
 * attempt; nothing was written. Answer it with 503 and `Retry-After`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { KvBusyError } from "@kvsession/hono";
 *
 * const error: unknown = new KvBusyError(5);
 * strictEqual(error instanceof KvBusyError ? 503 : 500, 503);
 * ```
 */
export class KvBusyError extends Error {
  /** Wraps the last lock error. */
  constructor(attempts: number, options?: ErrorOptions) {
    super(`Deno KV stayed locked through ${attempts} commit attempts`, options);
    this.name = "KvBusyError";
  }
}

/**
 * True for the error SQLite-backed KV throws when another process holds the write lock.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isDatabaseLocked } from "@kvsession/hono";
 *
 * strictEqual(isDatabaseLocked(new TypeError("database is locked")), true);
 * strictEqual(isDatabaseLocked(new TypeError("value too large")), false);
 * ```
 */
export function isDatabaseLocked(error: unknown): boolean {
  return error instanceof Error && /database is locked|database is busy/i.test(error.message);
}

/**
 * Builds and commits an atomic operation, retrying while the database is locked.
 *
 * `build` is called again for every attempt because an `AtomicOperation` can be committed once.
 *
 * @example
 * ```ts
 * import { commitWithRetry } from "@kvsession/hono";
 *
 * const kv = await Deno.openKv(":memory:");
 * const result = await commitWithRetry(() => kv.atomic().set(["greeting"], "hi"));
 * console.assert(result.ok);
 * kv.close();
 * ```
 */
export async function commitWithRetry(
  build: () => Deno.AtomicOperation,
  options: LockRetryOptions = {},
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  // 24 attempts wait about 1.8 s in all (at most 3.5 s). 12 (about 0.5 s) ran out once in
  // 21,641 mixed requests on 2 workers (bench/RESULTS.md): one worker's commits can keep the
  // file locked for over 0.7 s on a slow disk, and a 503 is worse than a wait.
  const { maxAttempts = 24, baseDelayMs = 2, maxDelayMs = 200 } = options;
  for (let attempt = 1;; attempt++) {
    try {
      return await build().commit();
    } catch (error) {
      if (!isDatabaseLocked(error)) throw error;
      if (attempt >= maxAttempts) throw new KvBusyError(attempt, { cause: error });
      await backoff(attempt, baseDelayMs, maxDelayMs);
    }
  }
}

/**
 * Sleeps a random time up to `min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))` ("full jitter").
 *
 * @example
 * ```ts
 * import { backoff } from "@kvsession/hono";
 *
 * await backoff(1, 2, 100); // at most 2 ms
 * ```
 */
export function backoff(attempt: number, baseDelayMs: number, maxDelayMs: number): Promise<void> {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
