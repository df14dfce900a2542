/**
 * Tries to reproduce issue 17's stall: an async scrypt callback that arrives only when an
 * unrelated timer fires. Not part of the suite (no `_test` suffix); run it by hand, cold and warm:
 *
 * ```sh
 * DENO_DIR=$(mktemp -d) deno run --allow-read=. tests/_hash_stall_repro.ts 300 2 busy thread
 * deno run --allow-read=. tests/_hash_stall_repro.ts 300 4 idle worker
 * ```
 *
 * Arguments: rounds (default 200), hashes started together per round (2), `busy` to keep the
 * event loop working meanwhile or `idle` (busy), and `thread` for the in-thread async scrypt the
 * hasher used before (its fallback now) or `worker` for the hashing Workers (thread). The hasher
 * has one slot, so every round has a caller waiting on the limiter's 60 s timer, as in the test
 * that failed. A round slower than a second counts as a stall; the last line is a JSON summary.
 *
 * @module
 */
import { createPasswordHasher, TEST_SCRYPT_PARAMS } from "../src/passwords.ts";

const rounds = Number(Deno.args[0] ?? 200);
const together = Number(Deno.args[1] ?? 2);
const busy = (Deno.args[2] ?? "busy") === "busy";
const path = Deno.args[3] ?? "thread";
const STALL_MS = 1000;

const hasher = createPasswordHasher({
  params: TEST_SCRYPT_PARAMS,
  maxConcurrent: 1,
  maxQueue: together,
  maxWaitMs: 60_000,
  // Throwing here makes the hasher fall back to the async scrypt of node:crypto.
  ...(path === "thread"
    ? {
      createWorker: () => {
        throw new Error("this run uses the in-thread async scrypt");
      },
    }
    : {}),
});

let stalls = 0;
let worstMs = 0;
let busyTicks = 0;
const started = performance.now();
try {
  for (let round = 0; round < rounds; round++) {
    let ticking = busy;
    const tick = () => {
      if (!ticking) return;
      busyTicks++;
      const until = performance.now() + 1;
      while (performance.now() < until) { /* other work on the loop */ }
      setTimeout(tick, 0);
    };
    if (ticking) setTimeout(tick, 0);
    const roundStarted = performance.now();
    await Promise.all(Array.from({ length: together }, (_, i) => hasher.hash(`password ${i}`)));
    const ms = performance.now() - roundStarted;
    ticking = false;
    worstMs = Math.max(worstMs, ms);
    if (ms > STALL_MS) {
      stalls++;
      console.log(`round ${round}: ${ms.toFixed(0)} ms`);
    }
  }
} finally {
  await hasher.close();
}
console.log(JSON.stringify({
  rounds,
  together,
  busy,
  path,
  stalls,
  worstMs: Math.round(worstMs),
  busyTicks,
  totalMs: Math.round(performance.now() - started),
}));
