/**
 * parseCookies against npm `cookie`'s parse, measured in interleaved batches: on a shared,
 * noisy machine `deno bench` times each function in its own stretch of time, so a neighbour's
 * burst can land on one side only. Here the two alternate batch by batch (order swapped every
 * time) and the verdict is the median of the per-pair ratios.
 *
 * Run alone: `deno run bench/parse_ab.ts` (`--json` for the runner).
 *
 * @module
 */
import * as npmCookie from "npm:cookie@1";
import { parseCookies } from "@kvsession/hono/cookies";
import { LARGE_HEADER, TYPICAL_HEADER } from "./_headers.ts";

/** One header's result. */
export interface ParseAbResult {
  /** `typical` or `4 KB`. */
  header: string;
  /** Header length in characters. */
  length: number;
  /** Median ns per call, ours. */
  oursNs: number;
  /** Median ns per call, npm cookie@1. */
  cookieNs: number;
  /** Median of per-pair (cookie time / our time): above 1 means ours is faster. */
  speedup: number;
  /** Pairs measured. */
  pairs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

let sink = 0;

function timeBatch(fn: (header: string) => Record<string, string>, header: string, n: number) {
  const started = performance.now();
  for (let i = 0; i < n; i++) sink += fn(header)["__Host-sid"]?.length ?? 0;
  return ((performance.now() - started) * 1e6) / n;
}

/** Measures both parsers on both headers in `pairs` interleaved pairs of batches. */
export function measureParse(pairs = 60): ParseAbResult[] {
  const results: ParseAbResult[] = [];
  const ours = (h: string) => parseCookies(h);
  const theirs = (h: string) => npmCookie.parse(h) as Record<string, string>;
  for (
    const [name, header, batch] of [
      ["typical", TYPICAL_HEADER, 20_000],
      ["4 KB", LARGE_HEADER, 1_000],
    ] as const
  ) {
    // Warm-up: let both be optimised before anything counts.
    for (let i = 0; i < 5; i++) {
      timeBatch(ours, header, batch);
      timeBatch(theirs, header, batch);
    }
    const oursNs: number[] = [];
    const cookieNs: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < pairs; i++) {
      let a: number, b: number;
      if (i % 2 === 0) {
        a = timeBatch(ours, header, batch);
        b = timeBatch(theirs, header, batch);
      } else {
        b = timeBatch(theirs, header, batch);
        a = timeBatch(ours, header, batch);
      }
      oursNs.push(a);
      cookieNs.push(b);
      ratios.push(b / a);
    }
    results.push({
      header: name,
      length: header.length,
      oursNs: median(oursNs),
      cookieNs: median(cookieNs),
      speedup: median(ratios),
      pairs,
    });
  }
  if (sink === -1) console.log(sink);
  return results;
}

if (import.meta.main) {
  const results = measureParse();
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(results));
  } else {
    for (const r of results) {
      console.log(
        `${r.header} (${r.length} chars): parseCookies ${r.oursNs.toFixed(0)} ns, cookie.parse ${
          r.cookieNs.toFixed(0)
        } ns; ours is ${r.speedup.toFixed(2)}x the speed (median of ${r.pairs} pairs)`,
      );
    }
  }
}
