/**
 * The memory target's figure (bench/_report.ts): what N sessions add to a server's RSS is its
 * RSS after the reads minus its control's in the same round, median over rounds. The load a
 * server has had moves RSS by tens of MiB on its own, so pairing the wrong rows would judge the
 * garbage collector instead of the session store.
 *
 * @module
 */
import { strictEqual } from "node:assert/strict";
import { type MemoryRow, sessionsRssKiB } from "../bench/_report.ts";
import type { WrkResult } from "../bench/_lib.ts";

const READS: WrkResult = {
  requests: 100,
  duration_us: 1e6,
  bytes: 0,
  errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
  latency_us: { mean: 0, p50: 0, p90: 0, p99: 0, max: 0 },
  rps: 100,
  command: "wrk",
};

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
  strictEqual(sessionsRssKiB(rows, "ours"), 1_000);
});

Deno.test("sessionsRssKiB() pairs rows by round and takes the median over rounds", () => {
  const rows = [
    row("ours", "control", 2, 0, 140_000),
    row("ours", "sessions", 1, 0, 150_000),
    row("ours", "sessions", 2, 0, 141_000),
    row("ours", "control", 1, 0, 140_000),
    row("ours", "sessions", 3, 0, 145_000),
    row("ours", "control", 3, 0, 143_000),
  ];
  // Differences 10,000 (round 1), 1,000 (round 2), 2,000 (round 3): the median is 2,000.
  strictEqual(sessionsRssKiB(rows, "ours"), 2_000);
});

Deno.test("sessionsRssKiB() ignores other servers and rounds without a control", () => {
  const rows = [
    row("ours", "sessions", 1, 0, 150_000),
    row("ours", "control", 1, 0, 149_000),
    row("ours", "sessions", 2, 0, 500_000), // its control failed: no figure from this round
    row("seed", "control", 2, 0, 10_000),
    row("seed", "sessions", 1, 0, 900_000),
  ];
  strictEqual(sessionsRssKiB(rows, "ours"), 1_000);
  strictEqual(Number.isNaN(sessionsRssKiB(rows, "express")), true);
  strictEqual(Number.isNaN(sessionsRssKiB(rows, "seed")), true);
});
