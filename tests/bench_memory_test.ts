/**
 * The memory target's figure (bench/_report.ts): what N sessions add to a server's RSS is its
 * RSS after the reads minus its control's in the same round, round by round. The load a
 * server has had moves RSS by tens of MiB on its own, so pairing the wrong rows would judge the
 * garbage collector instead of the session store.
 *
 * @module
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { type MemoryRow, sessionsRssKiB, verdicts } from "../bench/_report.ts";
import { blankResults, wrkRun } from "./_bench_results.ts";

const READS = wrkRun(100);

function row(
  target: string,
  arm: MemoryRow["arm"],
  round: number,
  rssBeforeKiB: number,
  rssAfterReadsKiB: number,
): MemoryRow {
  return {
    target,
    arm,
    round,
    sessions: arm === "sessions" ? 100_000 : 0,
    createdBy: "test",
    createSeconds: 1,
    rssBeforeKiB,
    rssAfterCreateKiB: rssBeforeKiB,
    rssAfterReadsKiB,
    peakKiB: rssAfterReadsKiB,
    anonKiB: [0, 0],
    fileKiB: [0, 0],
    reads: READS,
  };
}

Deno.test("sessionsRssKiB() subtracts the control of the same round, not the 'before' figure", () => {
  // The control grew more than the sessions run: load, not sessions, moved RSS.
  const rows = [
    row("ours", "sessions", 1, 100_000, 104_000),
    row("ours", "control", 1, 70_000, 103_000),
  ];
  deepStrictEqual(sessionsRssKiB(rows, "ours"), [{ round: 1, kib: 1_000 }]);
});

Deno.test("sessionsRssKiB() pairs rows by round, whatever their order, and lists rounds in order", () => {
  const rows = [
    row("ours", "control", 2, 0, 139_000),
    row("ours", "sessions", 3, 0, 145_000),
    row("ours", "sessions", 1, 0, 150_000),
    row("ours", "control", 3, 0, 143_000),
    row("ours", "sessions", 2, 0, 141_000),
    row("ours", "control", 1, 0, 140_000),
  ];
  deepStrictEqual(sessionsRssKiB(rows, "ours"), [
    { round: 1, kib: 10_000 },
    { round: 2, kib: 2_000 },
    { round: 3, kib: 2_000 },
  ]);
});

Deno.test("sessionsRssKiB() ignores other servers and rounds without a control", () => {
  const rows = [
    row("ours", "sessions", 1, 0, 150_000),
    row("ours", "control", 1, 0, 149_000),
    row("ours", "sessions", 2, 0, 500_000), // its control failed: no figure from this round
    row("seed", "control", 2, 0, 10_000),
    row("seed", "sessions", 1, 0, 900_000),
  ];
  deepStrictEqual(sessionsRssKiB(rows, "ours"), [{ round: 1, kib: 1_000 }]);
  deepStrictEqual(sessionsRssKiB(rows, "express"), []);
  deepStrictEqual(sessionsRssKiB(rows, "seed"), []);
});

Deno.test("the memory target is judged on the largest round, not the median", () => {
  const results = blankResults();
  const memoryVerdict = (differencesKiB: number[]) => {
    results.memory = differencesKiB.flatMap((kib, i) => [
      row("ours", "sessions", i + 1, 0, 140_000 + kib),
      row("ours", "control", i + 1, 0, 140_000),
    ]);
    return verdicts(results).find((v) => v.target.startsWith("Server RSS"))!;
  };
  // 9.6 MiB is 10.07 MB: one such round misses the "< 10 MB" target whatever the others say.
  strictEqual(memoryVerdict([1_024, 9_830, 2_048]).status, "MISSED");
  strictEqual(memoryVerdict([1_024, 9_216, 2_048]).status, "met");
  strictEqual(memoryVerdict([]).status, "not run");
});
