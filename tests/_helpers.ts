/**
 * Shared test fixtures: a movable clock, KV handles that close themselves, and a KV wrapper
 * that counts reads and writes.
 *
 * @module
 */

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

/** How many KV operations went through a {@linkcode countingKv}. */
export interface KvCounts {
  /** `get`, `getMany` and `list` calls. */
  reads: number;
  /** Committed atomic operations plus `set` and `delete` calls. */
  writes: number;
}

/**
 * Wraps `kv` so every read call (get, getMany, list) and every write (atomic commit, set,
 * delete) is counted. Used to prove the request path's KV cost.
 */
export function countingKv(kv: Deno.Kv): { kv: Deno.Kv; counts: KvCounts; reset: () => void } {
  const counts: KvCounts = { reads: 0, writes: 0 };
  const proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "get" || property === "getMany" || property === "list") {
        return (...args: unknown[]) => {
          counts.reads++;
          return value.apply(target, args);
        };
      }
      if (property === "set" || property === "delete") {
        return (...args: unknown[]) => {
          counts.writes++;
          return value.apply(target, args);
        };
      }
      if (property === "atomic") {
        return () => {
          const operation = target.atomic();
          const commit = operation.commit.bind(operation);
          operation.commit = () => {
            counts.writes++;
            return commit();
          };
          return operation;
        };
      }
      return value.bind(target);
    },
  });
  return { kv: proxy, counts, reset: () => Object.assign(counts, { reads: 0, writes: 0 }) };
}
