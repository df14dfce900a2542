/**
 * Hand-made benchmark results for the tests of bench/_report.ts.
 *
 * @module
 */
import type { WrkResult } from "../bench/_lib.ts";
import { emptyResults, type Results } from "../bench/_report.ts";

/** Results with nothing measured yet. */
export function blankResults(): Results {
  return emptyResults({ date: "", elapsedSeconds: 0, flags: [], environment: {}, parameters: {} });
}

/** A clean one-second wrk run that answered `rps` requests. */
export function wrkRun(rps: number): WrkResult {
  return {
    requests: rps,
    duration_us: 1e6,
    bytes: 0,
    errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
    latency_us: { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 },
    rps,
    command: "wrk",
  };
}
