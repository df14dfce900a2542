/**
 * The benchmark's results as data, and bench/RESULTS.md rendered from them.
 *
 * Every load figure is a median over interleaved rounds of a ratio taken within one round, so
 * a noisy neighbour slows numerator and denominator alike.
 *
 * @module
 */
import type { KvCostRow } from "./kv_cost.ts";
import type { ParseAbResult } from "./parse_ab.ts";
import { median, type WrkResult } from "./_lib.ts";

/** One wrk measurement in the throughput section. */
export interface ThroughputRow {
  /** Round number, from 1. */
  round: number;
  /** Server id: `deno`, `hono`, `kvget`, `ours`, `seed`, `express` (or `ours@compare`). */
  target: string;
  /** Route id: `page`, `dashboard`, `redirect`, `cart_get`, `cart_add`, `login`. */
  route: string;
  /** wrk connections used. */
  connections: number;
  /** What wrk reported. */
  result: WrkResult;
}

/** One round of the "GET while 8 logins hash" measurement. */
export interface HashingRound {
  /** Round number, from 1. */
  round: number;
  /** `ours`, or `ours@NAME` for a `--compare` checkout. */
  target: string;
  /** GET /dashboard requests per second with nothing else running. */
  idleRps: number;
  /** The same while 8 POST /login are kept in flight. */
  loadedRps: number;
  /** Login responses by status during the loaded run. */
  loginStatuses: Record<string, number>;
  /** Errors of the GET runs (non-2xx/3xx and socket errors), idle + loaded. */
  getErrors: number;
}

/** One mixed-load run against `deno serve`. */
export interface ParallelRow {
  /** Round number, from 1. */
  round: number;
  /** 1 (`deno serve`) or 2 (`deno serve --parallel`, DENO_JOBS=2). */
  workers: number;
  /** What wrk reported (counted.lua, with statuses). */
  result: WrkResult;
  /** Responses of 400 and above in the server's access log, by "METHOD path status". */
  failures: Record<string, number>;
  /** Server-side durations of POST /api/cart from the access log, ms. */
  cartWriteMs?: { count: number; p50: number; p99: number; p999: number; max: number };
}

/** Memory of one server from a handful of live sessions to N, or of its control. */
export interface MemoryRow {
  /** Server id. */
  target: string;
  /** `sessions`: N sessions created and read; `control`: the same timeline without them. */
  arm: "sessions" | "control";
  /** Memory round, from 1. */
  round: number;
  /** Live sessions created (0 for the control). */
  sessions: number;
  /** How they were created. */
  createdBy: string;
  /** Seconds it took. */
  createSeconds: number;
  /** VmRSS after warm-up with a handful of sessions, KiB. */
  rssBeforeKiB: number;
  /** VmRSS right after the sessions were created, KiB. */
  rssAfterCreateKiB: number;
  /** VmRSS after N reads (every session once; the control: its handful, round robin), KiB. */
  rssAfterReadsKiB: number;
  /** VmHWM (peak RSS) at the end, KiB. */
  peakKiB: number;
  /** RssAnon before and after the reads, KiB (heaps and caches). */
  anonKiB: [number, number];
  /** RssFile before and after the reads, KiB (binary, memory-mapped files). */
  fileKiB: [number, number];
  /** KV file (+ -wal, -shm) in bytes, when the store is a KV file. */
  kvFileBytes?: number;
  /** Where the KV file lived. */
  kvLocation?: string;
  /** The read run over all sessions. */
  reads: WrkResult;
}

/** A run's results before any section has run: `head` and empty sections. */
export function emptyResults(
  head: Pick<Results, "date" | "elapsedSeconds" | "flags" | "environment" | "parameters">,
): Results {
  return {
    ...head,
    throughput: [],
    package: [],
    hashing: [],
    parallel: [],
    memory: [],
    kvCost: [],
    micro: [],
    parseAb: [],
    problems: [],
  };
}

/**
 * What N sessions add to a server's RSS, round by round: its RSS after the reads minus its
 * control's at the same point of the same timeline, in KiB, in round order. Rounds without both
 * arms are left out.
 */
export function sessionsRssKiB(
  rows: readonly MemoryRow[],
  target: string,
): { round: number; kib: number }[] {
  const differences: { round: number; kib: number }[] = [];
  for (const row of rows) {
    if (row.target !== target) continue;
    const control = controlOf(rows, row);
    if (control) {
      differences.push({ round: row.round, kib: row.rssAfterReadsKiB - control.rssAfterReadsKiB });
    }
  }
  return differences.sort((a, b) => a.round - b.round);
}

/** The control run paired with a sessions-arm row: same server, same round. */
function controlOf(rows: readonly MemoryRow[], row: MemoryRow): MemoryRow | undefined {
  if (row.arm !== "sessions") return undefined;
  return rows.find((c) => c.target === row.target && c.arm === "control" && c.round === row.round);
}

/** A `deno bench` group, summarised over the micro rounds. */
export interface MicroGroup {
  /** Group name. */
  group: string;
  /** Our function (the group's baseline). */
  baseline: string;
  /** Its median average time per call, ns. */
  baselineAvgNs: number;
  /** The other entries. */
  others: {
    /** Bench name. */
    name: string;
    /** Median average time per call, ns. */
    avgNs: number;
    /** Median over rounds of (this avg / baseline avg): above 1 means the baseline is faster. */
    speedupAvg: number;
    /** The same from p75 times, less sensitive to outliers. */
    speedupP75: number;
  }[];
}

/** Everything one run measured. */
export interface Results {
  /** ISO date of the start. */
  date: string;
  /** Wall time of the whole run, seconds. */
  elapsedSeconds: number;
  /** Command line flags. */
  flags: string[];
  /** Machine and versions. */
  environment: Record<string, string>;
  /** wrk and round settings. */
  parameters: Record<string, string | number>;
  /** Production scrypt, ms per hash (sequential, in the runner process, nothing else of ours running). */
  hashMs?: number[];
  /** Throughput measurements. */
  throughput: ThroughputRow[];
  /**
   * The session package alone (bench/package_server.ts) beside its floors and hono-sessions, in
   * the same rows' shape; absent from results written before the section existed.
   */
  package?: ThroughputRow[];
  /** GET throughput while logins hash. */
  hashing: HashingRound[];
  /** deno serve, 1 vs 2 workers. */
  parallel: ParallelRow[];
  /** Memory from 0 to N sessions. */
  memory: MemoryRow[];
  /** KV operations per request. */
  kvCost: KvCostRow[];
  /** deno bench groups. */
  micro: MicroGroup[];
  /** parseCookies vs npm cookie parse, interleaved batches (bench/parse_ab.ts). */
  parseAb: ParseAbResult[];
  /** Problems met on the way (a server that failed to start...). */
  problems: string[];
}

/** Target labels for tables. */
export const TARGET_LABELS: Record<string, string> = {
  deno: "bare Deno.serve (baseline)",
  hono: "bare Hono on Deno (baseline = 1.00)",
  kvget: "Hono + one kv.get (bench/kv_get_server.ts)",
  ours: "ours (main.ts --listen)",
  seed: "seed design on node:http + Map",
  express: "express + express-session MemoryStore",
  package: "@kvsession/hono alone (bench/package_server.ts)",
  "hono-sessions": "hono-sessions on Deno KV (bench/hono_sessions_server.ts)",
};

/** Route labels of the package section. */
export const PACKAGE_ROUTE_LABELS: Record<string, string> = {
  guarded: "GET /tiny with a session cookie (guarded where there is a session layer)",
  no_cookie: "GET without a cookie (/public; bare Hono: /tiny)",
};

/** The kv.get server's routes that add parts of our response to the floor, in order. */
const LADDER_ROUTES = ["dashboard+headers", "dashboard+page", "dashboard+both"];

/** Median over rounds of GET throughput while logins hash / idle, for one server. */
function hashingRatio(results: Results, target: string): number {
  return median(
    results.hashing.filter((r) => r.target === target).map((r) => r.loadedRps / r.idleRps),
  );
}

/** Route labels for tables. */
export const ROUTE_LABELS: Record<string, string> = {
  page: "GET small HTML page",
  dashboard: "GET /dashboard, valid session",
  "dashboard+headers": "same read, our headers, small page",
  "dashboard+page": "same read, our page's bytes, no extra headers",
  "dashboard+both": "same read, our exact response (headers and page)",
  redirect: "GET /dashboard, no session (303)",
  cart_get: "GET /api/cart",
  cart_add: "POST /api/cart (add to cart, session write)",
  login: "POST /login",
};

function rowsOf(results: Results, target: string, route: string): ThroughputRow[] {
  return results.throughput.filter((r) => r.target === target && r.route === route);
}

/** The rps of `target/route` and of `refTarget/refRoute` in each round that has both. */
function pairedByRound(
  results: Results,
  target: string,
  route: string,
  refTarget: string,
  refRoute: string,
): [rps: number, refRps: number][] {
  return pairedRows(results.throughput, target, route, refTarget, refRoute);
}

/** {@linkcode pairedByRound} over any list of rows. */
function pairedRows(
  rows: readonly ThroughputRow[],
  target: string,
  route: string,
  refTarget: string,
  refRoute: string,
): [rps: number, refRps: number][] {
  const pairs: [number, number][] = [];
  for (const row of rows.filter((r) => r.target === target && r.route === route)) {
    const ref = rows.find((r) =>
      r.round === row.round && r.target === refTarget && r.route === refRoute
    );
    if (ref && ref.result.rps > 0) pairs.push([row.result.rps, ref.result.rps]);
  }
  return pairs;
}

/**
 * Median over rounds of `target/route` rps divided by `refTarget/refRoute` rps in the same round
 * (NaN when either is missing).
 */
export function roundRatio(
  results: Results,
  target: string,
  route: string,
  refTarget: string,
  refRoute: string,
): number {
  return medianRatio(pairedByRound(results, target, route, refTarget, refRoute));
}

function medianRatio(pairs: [rps: number, refRps: number][]): number {
  return median(pairs.map(([rps, ref]) => rps / ref));
}

function medianExtraUs(pairs: [rps: number, refRps: number][]): number {
  return median(pairs.map(([rps, ref]) => 1e6 / rps - 1e6 / ref));
}

/**
 * Median over rounds of the time per request (1e6 / rps, in us) of `target/route` minus that of
 * `refTarget/refRoute` in the same round (NaN when either is missing). Each difference comes from
 * one round, as each ratio of {@linkcode roundRatio} does: a difference of medians taken
 * separately can pick its two figures from different rounds, and once showed a step at 0.83x the
 * floor as 6 us faster. A round where `target` answered nothing has no time per request and is
 * left out here, while `roundRatio` counts it as 0.
 */
export function roundExtraUs(
  results: Results,
  target: string,
  route: string,
  refTarget: string,
  refRoute: string,
): number {
  return medianExtraUs(pairedByRound(results, target, route, refTarget, refRoute));
}

/**
 * {@linkcode roundRatio} in the package section: median over rounds of `target/route` rps over
 * `refTarget/refRoute` rps in the same round (NaN when either is missing).
 */
export function packageRatio(
  results: Results,
  target: string,
  route: string,
  refTarget: string,
  refRoute: string,
): number {
  return medianRatio(pairedRows(results.package ?? [], target, route, refTarget, refRoute));
}

/** {@linkcode roundExtraUs} in the package section: us a request over the reference's. */
export function packageExtraUs(
  results: Results,
  target: string,
  route: string,
  refTarget: string,
  refRoute: string,
): number {
  return medianExtraUs(pairedRows(results.package ?? [], target, route, refTarget, refRoute));
}

/** The package section's comparisons: [target, route, reference target, reference route]. */
export const PACKAGE_PAIRS = {
  /** Authenticated GET on the guarded route against Hono + one kv.get, same response. */
  guarded: ["package", "guarded", "kvget", "guarded"],
  /** A request without a cookie through the middleware against bare Hono, same response. */
  noCookie: ["package", "no_cookie", "hono", "no_cookie"],
} as const;

/** Successful responses per second of a run (2xx and 3xx; needs counted.lua's statuses). */
export function successRps(result: WrkResult): number {
  const statuses = result.statuses ?? {};
  const ok = Object.entries(statuses)
    .filter(([status]) => Number(status) < 400)
    .reduce((sum, [, count]) => sum + count, 0);
  return ok / (result.duration_us / 1e6);
}

/** Errors of a wrk run: non-2xx/3xx responses plus socket errors and timeouts. */
export function wrkErrors(result: WrkResult): number {
  const e = result.errors;
  return e.status + e.connect + e.read + e.write + e.timeout;
}

const fmt = {
  int: (n: number) => Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–",
  ratio: (n: number) => Number.isFinite(n) ? n.toFixed(2) : "–",
  ms: (us: number) => Number.isFinite(us) ? (us / 1000).toFixed(2) : "–",
  mib: (kib: number) => Number.isFinite(kib) ? (kib / 1024).toFixed(1) : "–",
  mb: (bytes: number) => Number.isFinite(bytes) ? (bytes / 1e6).toFixed(1) : "–",
};

/** A target's verdict line. */
export interface Verdict {
  /** What is promised. */
  target: string;
  /** What was measured. */
  measured: string;
  /** Met, missed, or not measured in this run. */
  status: "met" | "MISSED" | "not run";
}

/** Checks every target of the issue against `results`. */
export function verdicts(results: Results): Verdict[] {
  const list: Verdict[] = [];
  const check = (target: string, value: number, ok: (v: number) => boolean, measured: string) =>
    list.push({
      target,
      measured: Number.isFinite(value) ? measured : "–",
      status: Number.isFinite(value) ? (ok(value) ? "met" : "MISSED") : "not run",
    });

  const guarded = packageRatio(results, ...PACKAGE_PAIRS.guarded);
  check(
    'Package alone: authenticated GET of a guarded route >= 0.9x "Hono + one kv.get" (same tiny response, same round)',
    guarded,
    (v) => v >= 0.9,
    `${fmt.ratio(guarded)}x`,
  );
  const noCookie = packageRatio(results, ...PACKAGE_PAIRS.noCookie);
  check(
    "Package alone: GET without a cookie >= 0.9x bare Hono (same tiny response, same round)",
    noCookie,
    (v) => v >= 0.9,
    `${fmt.ratio(noCookie)}x`,
  );
  const vsKv = roundRatio(results, "ours", "dashboard", "kvget", "dashboard");
  check(
    'Authenticated GET /dashboard >= 0.9x "Hono + one kv.get" (same round)',
    vsKv,
    (v) => v >= 0.9,
    `${fmt.ratio(vsKv)}x`,
  );
  const vsExpress = roundRatio(results, "ours", "dashboard", "express", "dashboard");
  check(
    "Authenticated GET /dashboard >= 5x express-session (same route)",
    vsExpress,
    (v) => v >= 5,
    `${fmt.ratio(vsExpress)}x`,
  );
  const between = results.kvCost.find((r) => r.label.startsWith("GET /dashboard, live session"));
  const kvOk = between === undefined
    ? NaN
    : between.readsPerRequest === 1 && between.writesPerRequest === 0
    ? 1
    : 0;
  check(
    "One KV read and no write per authenticated read between renewals",
    kvOk,
    (v) => v === 1,
    between
      ? `${between.readsPerRequest} reads, ${between.writesPerRequest} writes per request`
      : "",
  );
  const hashing = hashingRatio(results, "ours");
  check(
    "GET throughput while 8 logins hash >= 0.5x idle",
    hashing,
    (v) => v >= 0.5,
    `${fmt.ratio(hashing)}x`,
  );
  // Judged on the largest round, the cautious reading of a noisy figure against a ceiling.
  const oursRounds = sessionsRssKiB(results.memory, "ours");
  const sessionsMiB = oursRounds.length ? Math.max(...oursRounds.map((r) => r.kib)) / 1024 : NaN;
  const firstRound = oursRounds[0]?.round;
  const roundRow = (arm: MemoryRow["arm"]) =>
    results.memory.find((m) => m.target === "ours" && m.arm === arm && m.round === firstRound);
  const ours = roundRow("sessions");
  // The plain before/after growth of the first paired round, shown beside the judged figure.
  const growth = (row: MemoryRow | undefined) =>
    row ? `${((row.rssAfterReadsKiB - row.rssBeforeKiB) / 1024).toFixed(1)} MiB` : "n/a";
  const each = oursRounds.map((r) => (r.kib / 1024).toFixed(1)).join(", ");
  const detail = `over the control server (same timeline, no sessions created): the largest of ` +
    `${oursRounds.length} round(s), each ${each} MiB; round ${firstRound}'s plain growth ` +
    `before -> after: ${growth(ours)}, the control's ${growth(roundRow("control"))}; ` +
    `KV file ${fmt.mb(ours?.kvFileBytes ?? NaN)} MB`;
  if (ours && ours.sessions < 100_000) {
    // A smaller run is shown but not judged: the target names 100,000.
    list.push({
      target: "Server RSS grows < 10 MB from 0 to 100,000 live sessions",
      measured: `${sessionsMiB.toFixed(1)} MiB for ${
        ours.sessions.toLocaleString("en-US")
      } sessions ${detail} (run without --quick for 100,000)`,
      status: "not run",
    });
  } else {
    check(
      "Server RSS grows < 10 MB from 0 to 100,000 live sessions",
      sessionsMiB,
      (v) => v * 1.048576 < 10,
      `${sessionsMiB.toFixed(1)} MiB (${(sessionsMiB * 1.048576).toFixed(1)} MB) for ${
        ours?.sessions.toLocaleString("en-US")
      } sessions ${detail}`,
    );
  }
  const two = results.parallel.filter((p) => p.workers === 2);
  const twoErrors = two.reduce((sum, p) => sum + wrkErrors(p.result), 0);
  check(
    "deno serve --parallel, 2 workers, one KV file: zero errors under mixed load",
    two.length ? twoErrors : NaN,
    (v) => v === 0,
    `${twoErrors} error${twoErrors === 1 ? "" : "s"} in ${
      fmt.int(two.reduce((s, p) => s + p.result.requests, 0))
    } requests`,
  );
  for (const header of ["typical", "4 KB"]) {
    const ab = results.parseAb.find((r) => r.header === header);
    const group = results.micro.find((g) => g.group === `parse ${header}`);
    const bench = group?.others.find((o) => o.name.startsWith("npm cookie"));
    const speedup = ab?.speedup ?? NaN;
    check(
      `parseCookies at least as fast as npm cookie's parse (${header} header)`,
      speedup,
      (v) => v >= 1,
      `ours ${fmt.ratio(speedup)}x the speed of cookie.parse (interleaved batches; deno bench: ${
        fmt.ratio(bench?.speedupAvg ?? NaN)
      }x by average, ${fmt.ratio(bench?.speedupP75 ?? NaN)}x by p75)`,
    );
  }
  return list;
}

/** The heading of the package section (also how a partial run's section is found to replace). */
export const PACKAGE_HEADING = "## The session package alone (@kvsession/hono)";

/** The package section of RESULTS.md. */
function renderPackage(results: Results): string[] {
  const rows = results.package ?? [];
  const out: string[] = [PACKAGE_HEADING, ""];
  const env = results.environment;
  out.push(
    `Measured ${results.date} by \`deno task bench${
      results.flags.length ? " " + results.flags.join(" ") : ""
    }\` (load average at start ${env.loadStart}, at end ${env.loadEnd}; ${env.nproc} CPUs ` +
      `shared by wrk and the server${
        env.honoSessions ? `; hono-sessions ${env.honoSessions}` : ""
      }). Every server answers the same tiny text (${
        rows.length ? "bench/baseline_server.ts `TINY_TEXT`" : ""
      }); the package's guarded route and the floor add \`Cache-Control: no-store\`. No access ` +
      "log, no page, no security headers: only the session layer differs. Ratios are taken " +
      "within a round (servers interleaved, order rotated), then the median over rounds.",
  );
  out.push("");
  out.push(
    "- **package**: Hono + `sessionMiddleware({ kv })` + `requireSession()` on `GET /tiny` " +
      '(cookie: the token; the package hashes it and reads `["sessions", hash]`), and ' +
      "`GET /public` without a cookie.",
  );
  out.push(
    "- **floor** for the authenticated GET: bench/kv_get_server.ts `GET /tiny`, Hono + one " +
      "`kv.get` of the same record (its cookie carries the hash), nothing else.",
  );
  out.push("- **floor** without a cookie: bare Hono, bench/baseline_server.ts `GET /tiny`.");
  out.push(
    "- **hono-sessions**: npm hono-sessions with a four-method Deno KV `Store` " +
      "(bench/_hono_sessions_kv.ts, as its JSR `DenoKvStore`), no `encryptionKey`, " +
      "`expireAfterSeconds` 86400, the same guarded and public routes. It refreshes and writes " +
      "the session and sets the cookie on every request, and creates (writes) a session for " +
      "every request without a cookie.",
  );
  out.push("");
  const reference = (route: string): [string, string] =>
    route === "guarded" ? ["kvget", "guarded"] : ["hono", "no_cookie"];
  const seen = new Set<string>();
  const lines: string[][] = [];
  for (const row of rows) {
    const key = `${row.target}/${row.route}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const all = rows.filter((r) => r.target === row.target && r.route === row.route);
    const [refTarget, refRoute] = reference(row.route);
    const isRef = row.target === refTarget;
    lines.push([
      TARGET_LABELS[row.target] ?? row.target,
      PACKAGE_ROUTE_LABELS[row.route] ?? row.route,
      fmt.int(median(all.map((r) => r.result.rps))),
      isRef
        ? "1.00 (floor)"
        : fmt.ratio(packageRatio(results, row.target, row.route, refTarget, refRoute)),
      isRef ? "" : packageExtraUs(results, row.target, row.route, refTarget, refRoute).toFixed(1),
      row.target === "hono-sessions"
        ? fmt.ratio(packageRatio(results, row.target, row.route, "package", row.route))
        : "",
      ...wrkColumns(all),
    ]);
  }
  out.push(table(
    [
      "server",
      "request",
      "req/s",
      "x the floor (same round)",
      "+ us per request vs the floor",
      "x the package",
      "p50 ms",
      "p99 ms",
      "errors",
      "req/s per round",
    ],
    lines,
  ));
  out.push("");
  const guarded = packageRatio(results, ...PACKAGE_PAIRS.guarded);
  const noCookie = packageRatio(results, ...PACKAGE_PAIRS.noCookie);
  const rounds = new Set(rows.map((r) => r.round)).size;
  const perRound = (pair: readonly [string, string, string, string]) =>
    [...new Set(rows.map((r) => r.round))].sort((a, b) => a - b).map((round) => {
      const one = rows.filter((r) => r.round === round);
      return fmt.ratio(median(pairedRows(one, ...pair).map(([rps, ref]) => rps / ref)));
    }).join(", ");
  out.push(
    `**Authenticated GET of a guarded route: ${fmt.ratio(guarded)}x "Hono + one kv.get"** ` +
      `(rounds: ${perRound(PACKAGE_PAIRS.guarded)}; ${
        packageExtraUs(results, ...PACKAGE_PAIRS.guarded).toFixed(1)
      } us a request more). **Without a cookie: ${fmt.ratio(noCookie)}x bare Hono** (rounds: ${
        perRound(PACKAGE_PAIRS.noCookie)
      }; ${
        packageExtraUs(results, ...PACKAGE_PAIRS.noCookie).toFixed(1)
      } us a request more). Target for both: >= 0.9x; medians of ${rounds} round(s).`,
  );
  out.push("");
  const hs = packageRatio(results, "hono-sessions", "guarded", "package", "guarded");
  if (Number.isFinite(hs)) {
    out.push(
      `hono-sessions on the same guarded route: ${
        fmt.ratio(packageRatio(results, "hono-sessions", "guarded", "kvget", "guarded"))
      }x the floor, so the package answers ${fmt.ratio(1 / hs)}x as many authenticated ` +
        `requests; without a cookie, hono-sessions is ${
          fmt.ratio(packageRatio(results, "hono-sessions", "no_cookie", "hono", "no_cookie"))
        }x bare Hono against the package's ${fmt.ratio(noCookie)}x.`,
    );
  } else {
    out.push("hono-sessions was not measured in this run (see the problems below, if any).");
  }
  out.push("");
  out.push(
    "KV operations per request (counted in tests/session/middleware_test.ts): the package makes " +
      "none without a cookie and one read, zero writes for a signed-in request between " +
      "renewals (at most one renewal per half idle window: one more read and one write); " +
      "hono-sessions as configured makes one read and one write for a signed-in request and " +
      "one write without a cookie.",
  );
  out.push("");
  return out;
}

/**
 * RESULTS.md after a partial run (`--only`): `previous` with the sections that `fresh` (the
 * partial run's own RESULTS.md) measured put in place of the same-named ones (a new one goes
 * right after "Targets"), and the rows of the Targets table that the partial run judged
 * replaced; everything else, and so every figure the partial run did not measure, stays as it
 * was. The replaced sections say when they were measured themselves.
 */
export function mergeMarkdown(previous: string, fresh: string): string {
  const split = (text: string) => {
    const parts = text.split(/^(?=## )/m);
    const head = parts[0]!.startsWith("## ") ? "" : parts.shift()!;
    return {
      head,
      sections: parts.map((body) => ({ heading: body.split("\n", 1)[0]!.trim(), body })),
    };
  };
  const old = split(previous);
  const next = split(fresh);
  const freshTargets = next.sections.find((s) => s.heading === "## Targets");
  const freshRows = freshTargets ? tableRows(freshTargets.body) : [];
  const judged = freshRows.filter((cells) => cells[2] !== "not run");
  const sections = old.sections.map((section) => {
    if (section.heading !== "## Targets" || judged.length === 0) return section;
    const rows = tableRows(section.body);
    for (const cells of judged) {
      const at = rows.findIndex((r) => r[0] === cells[0]);
      if (at === -1) rows.push(cells);
      else rows[at] = cells;
    }
    const before = section.body.slice(0, section.body.indexOf("|"));
    return { ...section, body: `${before}${table(["target", "measured", "status"], rows)}\n\n` };
  });
  const date = /^- Date: (\S+)/m.exec(next.head)?.[1] ?? "unknown";
  const command = /^- Command: (.*)$/m.exec(next.head)?.[1] ?? "";
  for (const found of next.sections) {
    if (found.heading === "## Targets") continue;
    if (found.heading.startsWith("## Problems")) {
      const heading = `## Problems during the partial run of ${date}`;
      sections.push({ heading, body: found.body.replace(found.heading, heading) });
      continue;
    }
    // A section without a date of its own is stamped with the partial run's.
    const [first = "", ...rest] = found.body.split("\n\n");
    const section = /^Measured /m.test(rest[0] ?? "") ? found : {
      ...found,
      body: [first, `Measured ${date} by ${command} (a partial run).`, ...rest].join("\n\n"),
    };
    const at = sections.findIndex((s) => s.heading === section.heading);
    if (at !== -1) {
      sections[at] = section;
      continue;
    }
    const targets = sections.findIndex((s) => s.heading === "## Targets");
    sections.splice(targets + 1, 0, section);
  }
  const note = "- Sections measured by a later partial run (`--only`) give their own date: " +
    "a partial run replaces only what it measured.";
  // deno fmt wraps the note in RESULTS.md, so it is looked for with whitespace evened out.
  const flat = (text: string) => text.replace(/\s+/g, " ");
  const head = flat(old.head).includes(flat(note))
    ? old.head
    : old.head.trimEnd() + "\n" + note + "\n\n";
  return head + sections.map((s) => s.body.trimEnd() + "\n").join("\n");
}

/** The body rows of the first Markdown table in `text`, as trimmed cells. */
function tableRows(text: string): string[][] {
  const lines = text.split("\n").filter((line) => line.startsWith("|"));
  return lines.slice(2).map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The columns every load table ends with: p50, p99, errors, and req/s of each round. */
function wrkColumns(all: { result: WrkResult }[]): string[] {
  return [
    fmt.ms(median(all.map((r) => r.result.latency_us.p50))),
    fmt.ms(median(all.map((r) => r.result.latency_us.p99))),
    String(all.reduce((sum, r) => sum + wrkErrors(r.result), 0)),
    all.map((r) => fmt.int(r.result.rps)).join(", "),
  ];
}

/** Renders bench/RESULTS.md. */
export function renderMarkdown(results: Results): string {
  const out: string[] = [];
  const p = results.parameters;
  const env = results.environment;
  out.push("# Benchmark results");
  out.push("");
  out.push(
    "Written by `deno task bench` (bench/run.ts); do not edit by hand. Raw data: " +
      "`bench/output/results.json`. Every load figure is the **median over interleaved rounds** " +
      "of a ratio taken **within one round**, because this machine is shared and noisy.",
  );
  out.push("");
  out.push(`- Date: ${results.date} (run took ${Math.round(results.elapsedSeconds)} s)`);
  out.push(
    `- Command: \`deno task bench${results.flags.length ? " " + results.flags.join(" ") : ""}\``,
  );
  out.push(
    `- Machine: ${env.nproc} CPUs (${env.cpu}), ${env.ram} RAM, ${env.os}; ` +
      `load average at start ${env.loadStart}, at end ${env.loadEnd}`,
  );
  out.push(
    `- Versions: Deno ${env.deno} (V8 ${env.v8}), Node.js ${env.node}, Hono ${env.hono}, ` +
      `express ${env.express}, express-session ${env.expressSession}, npm cookie ${env.cookie}, ${env.wrk}`,
  );
  out.push(
    `- wrk: \`-t${p.threads} -c${p.connections} -d${p.duration}s\` per figure (POST /login on ours: ` +
      `\`-c${p.oursLoginConnections}\`, the hasher's concurrency), ${p.rounds} interleaved rounds, ` +
      `${p.warmup} s warm-up per server start, server order rotated each round; ` +
      `${fmt.int(Number(p.sessions))} distinct sessions per server, one cookie per request ` +
      `round-robin (bench/wrk/load.lua). wrk and the server share the machine's ${env.nproc} cores.`,
  );
  out.push("");

  out.push("## Targets");
  out.push("");
  out.push(
    table(
      ["target", "measured", "status"],
      verdicts(results).map((v) => [v.target, v.measured, v.status]),
    ),
  );
  out.push("");

  if (results.package?.length) out.push(...renderPackage(results));

  if (results.throughput.length) {
    out.push("## Throughput");
    out.push("");
    out.push(
      "Requests per second (median over rounds) and ratios to the baselines measured in the " +
        'same round. "vs Hono" is the issue\'s scale (bare Hono on Deno = 1.00; measured ' +
        "before: seed on Node 0.46, Hono + one kv.get 0.19, express-session 0.03).",
    );
    out.push("");
    const rows: string[][] = [];
    const seen = new Set<string>();
    for (const row of results.throughput) {
      const key = `${row.target}/${row.route}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const all = rowsOf(results, row.target, row.route);
      const rps = median(all.map((r) => r.result.rps));
      const okRps = row.route === "login" ? median(all.map((r) => successRps(r.result))) : NaN;
      rows.push([
        TARGET_LABELS[row.target] ?? row.target,
        ROUTE_LABELS[row.route] ?? row.route,
        String(row.connections),
        fmt.int(rps) + (row.route === "login" ? ` (${okRps.toFixed(1)} ok/s)` : ""),
        fmt.ratio(roundRatio(results, row.target, row.route, "hono", "page")),
        fmt.ratio(roundRatio(results, row.target, row.route, "deno", "page")),
        row.route === "dashboard" && row.target !== "kvget"
          ? fmt.ratio(roundRatio(results, row.target, row.route, "kvget", "dashboard"))
          : "",
        ...wrkColumns(all),
      ]);
    }
    out.push(table(
      [
        "server",
        "route",
        "conns",
        "req/s",
        "vs Hono",
        "vs Deno",
        "vs kv.get",
        "p50 ms",
        "p99 ms",
        "errors",
        "req/s per round",
      ],
      rows,
    ));
    out.push("");
    const vsExpress = roundRatio(results, "ours", "dashboard", "express", "dashboard");
    const vsSeed = roundRatio(results, "ours", "dashboard", "seed", "dashboard");
    const floorVsExpress = roundRatio(results, "kvget", "dashboard", "express", "dashboard");
    if (
      rowsOf(results, "kvget", "dashboard+both").length &&
      rowsOf(results, "ours", "dashboard").length
    ) {
      const ladder: [string, string, string][] = [
        ["kvget", "dashboard", "Hono + one kv.get (the floor)"],
        ...LADDER_ROUTES.map((route): [string, string, string] => [
          "kvget",
          route,
          ROUTE_LABELS[route] ?? route,
        ]),
        [
          "ours",
          "dashboard",
          "ours: the same response plus cookie parsing, token hash, validation, logging, rendering",
        ],
      ];
      const steps = ladder.map(([target, route, label]) => [
        label,
        fmt.ratio(roundRatio(results, target, route, "kvget", "dashboard")),
        roundExtraUs(results, target, route, "kvget", "dashboard").toFixed(0),
      ]);
      out.push(
        "**Where the time of an authenticated GET /dashboard goes.** The kv.get server makes the " +
          "same one read and answers with parts of our response, so each step shows what Deno's " +
          "HTTP layer charges for it. Ours against the server that sends the very same response " +
          `(same headers, same page bytes): **${
            fmt.ratio(roundRatio(results, "ours", "dashboard", "kvget", "dashboard+both"))
          }x**.`,
      );
      out.push("");
      out.push(
        table(
          ["step", "x the floor (same round)", "+ us per request vs the floor (same round)"],
          steps,
        ),
      );
      out.push("");
    }
    out.push(
      `Authenticated GET /dashboard, ours vs peers (same round): ${fmt.ratio(vsExpress)}x ` +
        `express-session, ${fmt.ratio(vsSeed)}x the seed design. For scale: the floor itself ` +
        `(Hono + one kv.get) is ${fmt.ratio(floorVsExpress)}x express-session, so a server doing ` +
        `one file-KV read per request on this machine can be at most about that.`,
    );
    out.push("");
    const login = rowsOf(results, "ours", "login");
    if (results.hashMs?.length || login.length) {
      const hashMs = median(results.hashMs ?? []);
      out.push(
        `**Logins are bounded by scrypt.** One production hash (N=2^17, r=8, p=1) takes ` +
          `${hashMs.toFixed(0)} ms here (median of ${results.hashMs?.length ?? 0}, one after ` +
          `another: ${(results.hashMs ?? []).map((t) => t.toFixed(0)).join(", ")} ms); the ` +
          `hasher runs at most ${p.oursLoginConnections ?? 2} at once (\`HASH_CONCURRENCY\`, by ` +
          `default one less than the CPU count), so the ceiling is about ${
            (Number(p.oursLoginConnections ?? 2) * 1000 / hashMs).toFixed(1)
          } logins/s. Measured: ${
            median(login.map((r) => successRps(r.result))).toFixed(1)
          } successful logins/s at -c${p.oursLoginConnections} (statuses: ${
            login.map((r) => JSON.stringify(r.result.statuses ?? {})).join(", ")
          }). The peers compare plain-text passwords, so their login figure is not comparable.`,
      );
      out.push("");
    }
  }

  if (results.kvCost.length) {
    out.push("## KV operations per request");
    out.push("");
    out.push(
      "In-process: `createApp` over an in-memory KV wrapped by `countingKv` (tests/_helpers.ts), " +
        "requests through `app.request()`, clock moved by hand for the renewal.",
    );
    out.push("");
    out.push(table(
      ["request", "requests", "last status", "KV reads / request", "KV writes / request"],
      results.kvCost.map((r) => [
        r.label,
        String(r.requests),
        String(r.status),
        String(r.readsPerRequest),
        String(r.writesPerRequest),
      ]),
    ));
    out.push("");
  }

  if (results.hashing.length) {
    out.push("## GET /dashboard while 8 logins hash");
    out.push("");
    out.push(
      `One server (ours); each round runs wrk on GET /dashboard alone and while a side loop ` +
        `keeps 8 POST /login in flight (production scrypt; order alternates per round), each ` +
        `of the 8 from a client address of its own (\`X-Forwarded-For\`, the server started ` +
        `with \`TRUST_PROXY_HEADER\`): from one address the login throttle lets only 2 be in ` +
        `flight and refuses the rest with 429 before they hash. 503 = the hasher's queue was ` +
        `full or a login waited too long for a slot (the hasher was busy throughout).`,
    );
    out.push("");
    out.push(table(
      [
        "round",
        "server",
        "idle req/s",
        "with 8 logins req/s",
        "ratio",
        "login statuses",
        "GET errors",
      ],
      results.hashing.map((r) => [
        String(r.round),
        r.target,
        fmt.int(r.idleRps),
        fmt.int(r.loadedRps),
        fmt.ratio(r.loadedRps / r.idleRps),
        JSON.stringify(r.loginStatuses),
        String(r.getErrors),
      ]),
    ));
    out.push("");
    const hashingTargets = [...new Set(results.hashing.map((r) => r.target))];
    out.push(
      "Median ratio: " + hashingTargets.map((target) =>
        `${target} **${fmt.ratio(hashingRatio(results, target))}x**`
      ).join(", ") + ".",
    );
    out.push("");
  }

  if (results.parallel.length) {
    out.push("## deno serve: 1 worker vs --parallel with 2 workers, one KV file");
    out.push("");
    out.push(
      "Mixed load from bench/wrk/counted.lua (`mode=mixed`): 60 % GET /dashboard, 20 % GET " +
        "/api/cart, 20 % POST /api/cart over the sessions, plus one POST /login every 2 s " +
        "(production scrypt). Errors = responses outside 2xx/3xx plus socket errors; the " +
        "access log names the failed requests.",
    );
    out.push("");
    const rows = results.parallel.map((r) => [
      String(r.round),
      String(r.workers),
      fmt.int(r.result.rps),
      String(r.result.logins_sent ?? 0),
      JSON.stringify(r.result.statuses ?? {}),
      String(wrkErrors(r.result)),
      r.cartWriteMs
        ? `${r.cartWriteMs.p50} / ${r.cartWriteMs.p99} / ${r.cartWriteMs.p999} / ${r.cartWriteMs.max}`
        : "",
      Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`).join("; "),
    ]);
    out.push(table(
      [
        "round",
        "workers",
        "req/s",
        "logins sent",
        "statuses",
        "errors",
        "cart write ms p50 / p99 / p99.9 / max",
        "failed (access log)",
      ],
      rows,
    ));
    out.push("");
    const ratios: number[] = [];
    for (const two of results.parallel.filter((r) => r.workers === 2)) {
      const one = results.parallel.find((r) => r.workers === 1 && r.round === two.round);
      if (one) ratios.push(two.result.rps / one.result.rps);
    }
    out.push(`2 workers / 1 worker, median over rounds: **${fmt.ratio(median(ratios))}x**.`);
    out.push("");
  }

  if (results.memory.length) {
    out.push("## Memory from 0 to N live sessions");
    out.push("");
    out.push(
      'RSS from /proc/PID/status (VmRSS; peak = VmHWM). "before": after a warm-up and a ' +
        "read pass over a handful (100) of sessions. Then N sessions are created (ours: the " +
        "app's SessionStore writing into the running server's KV file from the runner " +
        "process; peers: N POST /login through wrk) and N reads go across all of them, one " +
        "each. RSS follows the load a server has had as well as what it holds (V8 grows its " +
        "young generation under load and gives memory back when idle), so every server also " +
        "runs as a **control** on the same timeline creating no sessions (ours idles as long " +
        "as the creation took; the peers get N POST /login with a wrong password) and making " +
        "N reads over its handful. **What the sessions hold = RSS after the reads minus the " +
        "control's.**",
    );
    out.push("");
    const targets = [...new Set(results.memory.map((m) => m.target))];
    out.push(
      "What the sessions hold, round by round (sessions arm minus control): " +
        targets.map((t) =>
          `${TARGET_LABELS[t] ?? t} **${
            sessionsRssKiB(results.memory, t).map((r) => fmt.mib(r.kib)).join(", ") || "–"
          } MiB**`
        ).join("; ") + ".",
    );
    out.push("");
    out.push(table(
      [
        "server",
        "round",
        "arm",
        "sessions",
        "created by",
        "create s",
        "RSS before MiB",
        "after create MiB",
        "after reads MiB",
        "growth MiB",
        "minus control MiB",
        "of which anon / file MiB",
        "peak MiB",
        "KV file MB",
        "reads req/s",
      ],
      results.memory.map((m) => {
        const control = controlOf(results.memory, m);
        return [
          TARGET_LABELS[m.target] ?? m.target,
          String(m.round),
          m.arm,
          fmt.int(m.sessions),
          m.createdBy,
          m.createSeconds.toFixed(1),
          fmt.mib(m.rssBeforeKiB),
          fmt.mib(m.rssAfterCreateKiB),
          fmt.mib(m.rssAfterReadsKiB),
          fmt.mib(m.rssAfterReadsKiB - m.rssBeforeKiB),
          control ? fmt.mib(m.rssAfterReadsKiB - control.rssAfterReadsKiB) : "",
          `${fmt.mib(m.anonKiB[1] - m.anonKiB[0])} / ${fmt.mib(m.fileKiB[1] - m.fileKiB[0])}`,
          fmt.mib(m.peakKiB),
          m.kvFileBytes === undefined ? "" : `${fmt.mb(m.kvFileBytes)} (${m.kvLocation})`,
          fmt.int(m.reads.rps),
        ];
      }),
    ));
    out.push("");
  }

  if (results.parseAb.length) {
    out.push("## parseCookies vs npm cookie@1 parse, interleaved");
    out.push("");
    out.push(
      "bench/parse_ab.ts: the two parsers alternate batch by batch (order swapped each pair), " +
        "so a noisy neighbour hits both; the ratio is the median of per-pair ratios.",
    );
    out.push("");
    out.push(table(
      ["header", "chars", "parseCookies ns", "cookie.parse ns", "ours is (x the speed)", "pairs"],
      results.parseAb.map((r) => [
        r.header,
        String(r.length),
        r.oursNs.toFixed(0),
        r.cookieNs.toFixed(0),
        `${fmt.ratio(r.speedup)}x`,
        String(r.pairs),
      ]),
    ));
    out.push("");
  }

  if (results.micro.length) {
    out.push("## Micro benchmarks (`deno bench bench/micro_bench.ts`)");
    out.push("");
    out.push(
      "Median over runs of each entry's average time per call. \"÷ baseline\" = this entry's " +
        "time divided by the group baseline's (ours, in bold), median of per-run ratios, from " +
        "the averages and from p75: above 1, ours is faster.",
    );
    out.push("");
    const rows: string[][] = [];
    for (const group of results.micro) {
      rows.push([
        group.group,
        `**${group.baseline}**`,
        `${group.baselineAvgNs.toFixed(0)} ns`,
        "",
        "",
      ]);
      for (const other of group.others) {
        rows.push([
          "",
          other.name,
          `${other.avgNs.toFixed(0)} ns`,
          fmt.ratio(other.speedupAvg),
          fmt.ratio(other.speedupP75),
        ]);
      }
    }
    out.push(table(["group", "bench", "avg", "÷ baseline (avg)", "÷ baseline (p75)"], rows));
    out.push("");
  }

  if (results.problems.length) {
    out.push("## Problems during the run");
    out.push("");
    for (const problem of results.problems) out.push(`- ${problem}`);
    out.push("");
  }
  return out.join("\n");
}
