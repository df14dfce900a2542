/**
 * A Deno KV wrapper that counts reads and writes, for the package's cost tests; the app's tests
 * use it too (through tests/_helpers.ts), while package tests import nothing from the app.
 *
 * @module
 */

/** How many KV operations went through a {@linkcode countingKv}. */
export interface KvCounts {
  /** `get`, `getMany` and `list` calls. */
  reads: number;
  /** Committed atomic operations plus `set` and `delete` calls. */
  writes: number;
}

/** Wraps `kv` so every read call and every write is counted. */
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

/** The `name=value` part of the first `Set-Cookie` of `response`, or undefined. */
export function cookiePair(response: Response): string | undefined {
  return response.headers.getSetCookie()[0]?.split(";")[0];
}
