/**
 * The throughput figures of bench/RESULTS.md are paired by round: this machine's speed drifts by
 * tens of percent between rounds, so a ratio or a difference is only meaningful between two
 * figures measured in the same round.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import { type Results, roundExtraUs, roundRatio } from "../bench/_report.ts";
import { blankResults, wrkRun } from "./_bench_results.ts";

/** The full run of 2026-11-27: the floor and "our exact response" in three rounds. */
function ladderResults(): Results {
  const results = blankResults();
  // Listed out of round order, differently for each route: pairing rows by their position
  // instead of their round number would pair the wrong figures.
  const rows: [number, string, number][] = [
    [2, "dashboard", 11_321],
    [3, "dashboard", 10_979],
    [1, "dashboard", 16_772],
    [3, "dashboard+both", 12_124],
    [1, "dashboard+both", 12_479],
    [2, "dashboard+both", 9_396],
  ];
  for (const [round, route, rps] of rows) {
    results.throughput.push({
      round,
      target: "kvget",
      route,
      connections: 32,
      result: wrkRun(rps),
    });
  }
  return results;
}

Deno.test("the extra time per request is paired by round and agrees with the ratio", () => {
  const results = ladderResults();
  const ratio = roundRatio(results, "kvget", "dashboard+both", "kvget", "dashboard");
  strictEqual(ratio.toFixed(3), (9_396 / 11_321).toFixed(3)); // rounds: 0.74, 0.83, 1.10
  const extraUs = roundExtraUs(results, "kvget", "dashboard+both", "kvget", "dashboard");
  // Rounds: +20.5, +18.1 and -8.6 us; the median of the rounds is round 2's.
  strictEqual(extraUs.toFixed(1), (1e6 / 9_396 - 1e6 / 11_321).toFixed(1));
  // The medians taken apart (11,321 and 12,124 req/s) would call the slower step 6 us faster.
  strictEqual(extraUs > 0, ratio < 1);
});

Deno.test("a round without its reference is left out, and nothing at all gives NaN", () => {
  const results = ladderResults();
  results.throughput = results.throughput.filter((r) =>
    !(r.round === 3 && r.route === "dashboard")
  );
  strictEqual(
    roundExtraUs(results, "kvget", "dashboard+both", "kvget", "dashboard").toFixed(1),
    ((1e6 / 12_479 - 1e6 / 16_772 + 1e6 / 9_396 - 1e6 / 11_321) / 2).toFixed(1),
  );
  strictEqual(Number.isNaN(roundExtraUs(results, "ours", "dashboard", "kvget", "dashboard")), true);
  strictEqual(Number.isNaN(roundRatio(results, "ours", "dashboard", "kvget", "dashboard")), true);
});

Deno.test("a round where the step answered nothing counts as 0x but has no time per request", () => {
  const results = ladderResults();
  results.throughput.find((r) => r.round === 3 && r.route === "dashboard+both")!.result = wrkRun(0);
  // Ratios 0.744, 0.830 and 0: the median is round 1's.
  strictEqual(
    roundRatio(results, "kvget", "dashboard+both", "kvget", "dashboard").toFixed(3),
    (12_479 / 16_772).toFixed(3),
  );
  strictEqual(
    roundExtraUs(results, "kvget", "dashboard+both", "kvget", "dashboard").toFixed(1),
    ((1e6 / 12_479 - 1e6 / 16_772 + 1e6 / 9_396 - 1e6 / 11_321) / 2).toFixed(1),
  );
});
