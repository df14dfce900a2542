/**
 * The package section of bench/RESULTS.md (bench/_report.ts): its two targets are ratios paired
 * by round like the others, and a partial run (`deno task bench --only=package`) replaces only
 * what it measured in RESULTS.md, keeping every other section of the last full run.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert/strict";
import { mergeMarkdown, packageRatio, type Results, verdicts } from "../bench/_report.ts";
import { blankResults, wrkRun } from "./_bench_results.ts";

function packageResults(rows: [round: number, target: string, route: string, rps: number][]) {
  const results = blankResults();
  results.package = rows.map(([round, target, route, rps]) => ({
    round,
    target,
    route,
    connections: 32,
    result: wrkRun(rps),
  }));
  return results;
}

function verdict(results: Results, start: string) {
  return verdicts(results).find((v) => v.target.startsWith(start))!;
}

Deno.test("the package targets are medians of ratios taken within a round", () => {
  const results = packageResults([
    // Listed out of order: pairing by position would pair round 1's package with round 2's floor.
    [2, "kvget", "guarded", 10_000],
    [1, "package", "guarded", 14_000],
    [1, "kvget", "guarded", 15_000],
    [3, "package", "guarded", 8_000],
    [2, "package", "guarded", 9_000],
    [3, "kvget", "guarded", 10_000],
    [1, "hono", "no_cookie", 100_000],
    [1, "package", "no_cookie", 85_000],
  ]);
  // Rounds: 0.933, 0.9, 0.8; the median is round 2's.
  strictEqual(packageRatio(results, "package", "guarded", "kvget", "guarded"), 0.9);
  const guarded = verdict(results, "Package alone: authenticated GET");
  strictEqual(guarded.status, "met");
  strictEqual(guarded.measured, "0.90x");
  const noCookie = verdict(results, "Package alone: GET without a cookie");
  strictEqual(noCookie.status, "MISSED");
  strictEqual(noCookie.measured, "0.85x");
});

Deno.test("results without the package section (older raw data) judge nothing", () => {
  const results = blankResults();
  delete results.package;
  strictEqual(verdict(results, "Package alone: authenticated GET").status, "not run");
  strictEqual(Number.isNaN(packageRatio(results, "package", "guarded", "kvget", "guarded")), true);
});

const PREVIOUS = `# Benchmark results

- Date: 2026-11-27T12:36:42.234Z (run took 987 s)
- Command: \`deno task bench\`

## Targets

| target | measured | status |
| --- | --- | --- |
| Old target A | 0.50x | MISSED |
| GET throughput while 8 logins hash >= 0.5x idle | 0.62x | met |

## Throughput

Full run figures.

## GET /dashboard while 8 logins hash

Old hashing figures.

## Memory from 0 to N live sessions

Old memory figures.
`;

const FRESH = `# Benchmark results

- Date: 2026-12-06T19:00:00.000Z (run took 300 s)
- Command: \`deno task bench --only=package,hashing\`

## Targets

| target | measured | status |
| --- | --- | --- |
| Package alone: new | 0.95x | met |
| Old target A | – | not run |
| GET throughput while 8 logins hash >= 0.5x idle | 0.71x | met |

## The session package alone (@kvsession/hono)

Measured 2026-12-06 by the runner.

New package figures.

## GET /dashboard while 8 logins hash

One server (ours).

New hashing figures.

## Problems during the run

- something failed
`;

Deno.test("a partial run replaces only its own sections and judged target rows", () => {
  const merged = mergeMarkdown(PREVIOUS, FRESH);
  // Untouched: the full run's head, its throughput and memory sections, and a target not re-run.
  ok(merged.includes("- Date: 2026-11-27T12:36:42.234Z"));
  ok(merged.includes("Full run figures.") && merged.includes("Old memory figures."));
  ok(merged.includes("| Old target A | 0.50x | MISSED |"));
  // Replaced: the re-run section and the target row it judged; no trace of the old figures.
  ok(merged.includes("New hashing figures.") && !merged.includes("Old hashing figures."));
  ok(merged.includes("| GET throughput while 8 logins hash >= 0.5x idle | 0.71x | met |"));
  ok(!merged.includes("0.62x"));
  // Added: the new target row, and the new section right after Targets.
  ok(merged.includes("| Package alone: new | 0.95x | met |"));
  const order = ["## Targets", "## The session package alone", "## Throughput", "## GET /dash"];
  const at = order.map((heading) => merged.indexOf(heading));
  ok(at.every((p, i) => p !== -1 && (i === 0 || p > at[i - 1]!)), `order: ${at}`);
  // A section without a date of its own says when it was measured; the package section has one.
  ok(
    merged.includes(
      "Measured 2026-12-06T19:00:00.000Z by `deno task bench --only=package,hashing`",
    ),
  );
  strictEqual(merged.split("Measured 2026-12-06").length - 1, 2);
  // The partial run's problems are kept, under its date.
  ok(merged.includes("## Problems during the partial run of 2026-12-06T19:00:00.000Z"));
  ok(merged.includes("- something failed"));
});

Deno.test("merging the same partial run twice changes nothing more", () => {
  const once = mergeMarkdown(PREVIOUS, FRESH.replace(/## Problems[\s\S]*$/, ""));
  strictEqual(mergeMarkdown(once, FRESH.replace(/## Problems[\s\S]*$/, "")), once);
});

Deno.test("a merge after deno fmt wrapped the partial-run note adds it no second time", () => {
  const fresh = FRESH.replace(/## Problems[\s\S]*$/, "");
  const once = mergeMarkdown(PREVIOUS, fresh);
  // deno fmt wraps long Markdown lines: the note's last words go to an indented next line.
  const wrapped = once.replace(
    "give their own date: a partial run",
    "give their own date:\n  a partial run",
  );
  ok(wrapped !== once, "the note is in the merged text");
  const again = mergeMarkdown(wrapped, fresh);
  strictEqual(again.split("Sections measured by a later partial run").length - 1, 1);
});
