/**
 * The load, memory and micro benchmark: `deno task bench [--quick] [options]`.
 *
 * Starts each server in turn on a free 127.0.0.1 port, drives it with wrk in interleaved
 * rounds, and reports medians of ratios to baselines measured in the same round; the session
 * package alone against its floors and hono-sessions, interleaved the same way; then the
 * GET-while-hashing, `deno serve --parallel`, memory, KV-cost and `deno bench` sections. Writes
 * bench/RESULTS.md and bench/output/results.json (raw; bench/output/ is git-ignored).
 *
 * Options:
 *   --quick                 2 short rounds, 20,000 sessions and 1 round in the memory section
 *   --rounds=N              interleaved rounds (default 3)
 *   --duration=S            seconds per wrk figure (default 4)
 *   --warmup=S              seconds of wrk thrown away after each server start (default 3)
 *   --connections=N         wrk connections (default 32; wrk threads: 1)
 *   --memory-sessions=N     live sessions in the memory section (default 100000)
 *   --memory-rounds=N       rounds of the memory section, each a server with the sessions and a
 *                           control without them (default 2)
 *   --only=a,b              sections: package, throughput, hashing, parallel, memory, kv, micro
 *                           (a partial run replaces only its own sections in bench/RESULTS.md)
 *   --targets=a,b           throughput servers: deno, hono, kvget, ours, seed, express (default all)
 *   --routes=a,b            routes of ours and the peers: dashboard, redirect, cart_get, cart_add,
 *                           login (default all)
 *   --compare=DIR           also benchmark the server in another checkout DIR as "ours@NAME"
 *                           (NAME = the folder's name; repeatable; for before/after figures)
 *   --render                only rewrite bench/RESULTS.md from bench/output/results.json (the
 *                           last full run; a partial run's data is results-only-SECTIONS.json)
 *   --no-results-md         leave bench/RESULTS.md and bench/output/results.json alone (the raw
 *                           JSON goes to this run's folder in bench/output/ only)
 *
 * @module
 */
import {
  childEnv,
  copyKvFile,
  kvFileSize,
  median,
  OUTPUT_DIR,
  processMemory,
  procFile,
  removeKvFile,
  requireWrk,
  ROOT,
  runWrk,
  type Server,
  type ServerSpec,
  sleep,
  startServer,
  whenFileExists,
  type WrkResult,
} from "./_lib.ts";
import {
  emptyResults,
  type HashingRound,
  type MemoryRow,
  mergeMarkdown,
  type MicroGroup,
  PACKAGE_PAIRS,
  packageRatio,
  type ParallelRow,
  renderMarkdown,
  type Results,
  roundRatio,
  type ThroughputRow,
  verdicts,
  wrkErrors,
} from "./_report.ts";
import {
  BENCH_USER,
  benchPasswordHash,
  createSessions,
  kvGetCookieLines,
  measureHashMs,
  openOurKv,
  ourCookieLines,
} from "./_seed.ts";
import { measureKvCost } from "./kv_cost.ts";
import { HONO_SESSIONS_VERSION, seedHonoSessions } from "./_hono_sessions_kv.ts";
import { TINY_TEXT } from "./baseline_server.ts";
import type { ParseAbResult } from "./parse_ab.ts";
import { defaultHashConcurrency } from "../src/passwords.ts";
import { DEMO_CATALOGUE } from "../src/products.ts";

const SECTIONS = [
  "package",
  "throughput",
  "hashing",
  "parallel",
  "memory",
  "kv",
  "micro",
] as const;
type Section = typeof SECTIONS[number];

interface Options {
  quick: boolean;
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  sessions: number;
  memorySessions: number;
  memoryRounds: number;
  microRounds: number;
  only: Set<Section>;
  compare: string[];
  targets: Set<string> | undefined;
  routes: Set<string> | undefined;
  writeMarkdown: boolean;
  renderOnly: boolean;
  flags: string[];
}

function parseOptions(args: string[]): Options {
  const quick = args.includes("--quick");
  const options: Options = {
    quick,
    rounds: quick ? 2 : 3,
    duration: quick ? 2 : 4,
    // A fresh server's first seconds run cold code: ours went 7,200 -> 9,400 req/s from the
    // first 4 s to the second (bench/README.md), the floor's shorter path warms sooner.
    warmup: quick ? 1 : 3,
    connections: 32,
    sessions: 1000,
    memorySessions: quick ? 20_000 : 100_000,
    memoryRounds: quick ? 1 : 2,
    microRounds: quick ? 1 : 3,
    only: new Set(SECTIONS),
    compare: [],
    targets: undefined,
    routes: undefined,
    writeMarkdown: true,
    renderOnly: false,
    flags: args,
  };
  for (const arg of args) {
    const [name, value = ""] = arg.split("=", 2) as [string, string?];
    const number = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(
          `Option ${name} needs a whole number >= 1, got ${JSON.stringify(value)}`,
        );
      }
      return n;
    };
    switch (name) {
      case "--quick":
        break;
      case "--rounds":
        options.rounds = number();
        break;
      case "--duration":
        options.duration = number();
        break;
      case "--warmup":
        options.warmup = number();
        break;
      case "--connections":
        options.connections = number();
        break;
      case "--memory-sessions":
        options.memorySessions = number();
        break;
      case "--memory-rounds":
        options.memoryRounds = number();
        break;
      case "--only": {
        const chosen = value.split(",").filter(Boolean);
        for (const section of chosen) {
          if (!(SECTIONS as readonly string[]).includes(section)) {
            throw new RangeError(
              `Unknown section ${JSON.stringify(section)}: ${SECTIONS.join(", ")}`,
            );
          }
        }
        options.only = new Set(chosen as Section[]);
        break;
      }
      case "--compare":
        options.compare.push(value.endsWith("/") ? value : `${value}/`);
        break;
      case "--routes":
        options.routes = new Set(value.split(",").filter(Boolean));
        break;
      case "--targets":
        options.targets = new Set(value.split(",").filter(Boolean));
        break;
      case "--render":
        options.renderOnly = true;
        break;
      case "--no-results-md":
        options.writeMarkdown = false;
        break;
      case "--help":
      case "-h":
        console.log(
          new TextDecoder().decode(Deno.readFileSync(new URL(import.meta.url))).split("*/")[0],
        );
        Deno.exit(0);
        break;
      default:
        throw new RangeError(`Unknown option ${JSON.stringify(arg)}; see --help`);
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Servers

const PRODUCT_IDS = DEMO_CATALOGUE.map((p) => p.id).join(",");

/**
 * Our server as `deno task dev`/`start` run it, production settings, KV in `kvPath`, plus
 * `env` (settings a section needs, such as a trusted proxy header).
 */
function oursSpec(
  kvPath: string,
  root = ROOT,
  name = "ours",
  env: Record<string, string> = {},
): ServerSpec {
  const kvDir = kvPath.slice(0, kvPath.lastIndexOf("/"));
  return {
    name,
    command: "deno",
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      `--allow-read=.,${kvDir}`,
      `--allow-write=${kvDir}`,
      "main.ts",
      "--listen",
    ],
    env: { KV_PATH: kvPath, ...env },
    cwd: root,
  };
}

/** `deno serve` on main.ts's default export, one worker or `--parallel` with `workers`. */
function serveSpec(kvPath: string, workers: number): ServerSpec {
  const kvDir = kvPath.slice(0, kvPath.lastIndexOf("/"));
  return {
    name: `serve-${workers}`,
    command: "deno",
    args: [
      "serve",
      ...(workers > 1 ? ["--parallel"] : []),
      "--allow-net",
      "--allow-env",
      `--allow-read=.,${kvDir}`,
      `--allow-write=${kvDir}`,
      "main.ts",
    ],
    env: { KV_PATH: kvPath, DENO_JOBS: String(workers) },
  };
}

function baselineSpec(kind: "deno" | "hono"): ServerSpec {
  return {
    name: kind,
    command: "deno",
    args: ["run", "--allow-net", "--allow-env", "bench/baseline_server.ts", kind],
    readyPath: "/",
  };
}

function kvGetSpec(kvPath: string): ServerSpec {
  const kvDir = kvPath.slice(0, kvPath.lastIndexOf("/"));
  return {
    name: "kvget",
    command: "deno",
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      `--allow-read=${kvDir}`,
      `--allow-write=${kvDir}`,
      "bench/kv_get_server.ts",
    ],
    env: { KV_PATH: kvPath },
  };
}

/** A Deno server of the package section over the KV file `kvPath`. */
function kvServerSpec(name: string, file: string, kvPath: string): ServerSpec {
  const kvDir = kvPath.slice(0, kvPath.lastIndexOf("/"));
  return {
    name,
    command: "deno",
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      `--allow-read=${kvDir}`,
      `--allow-write=${kvDir}`,
      file,
    ],
    env: { KV_PATH: kvPath },
  };
}

function peerSpec(kind: "seed" | "express"): ServerSpec {
  return {
    name: kind,
    command: "node",
    args: [`bench/peers/${kind}_server.cjs`],
    env: { NODE_ENV: "production" },
  };
}

// ---------------------------------------------------------------------------------------------
// Run state

class Run {
  readonly options: Options;
  readonly dir: string;
  readonly results: Results;
  readonly started = performance.now();
  passwordHash = "";
  templateKv = "";
  ourCookies = "";
  kvGetCookies = "";
  /** hono-sessions' KV file with its signed-in sessions (package section), and their cookies. */
  honoSessionsKv = "";
  honoSessionsCookies = "";
  #serial = 0;

  constructor(options: Options, dir: string, results: Results) {
    this.options = options;
    this.dir = dir;
    this.results = results;
  }

  /** A fresh path for a file in this run's folder. */
  path(name: string): string {
    return `${this.dir}/${String(++this.#serial).padStart(3, "0")}-${name}`;
  }

  /** A fresh copy of the 1,000-session KV file. */
  async kvCopy(name: string): Promise<string> {
    const path = this.path(`${name}.sqlite3`);
    await copyKvFile(this.templateKv, path);
    return path;
  }

  async start(spec: ServerSpec): Promise<Server> {
    return await startServer(spec, `${this.dir}/${spec.name}.stderr.log`);
  }

  log(message: string): void {
    const seconds = Math.round((performance.now() - this.started) / 1000);
    console.log(`[${String(seconds).padStart(4)} s] ${message}`);
  }

  wrk(
    server: Server,
    path: string,
    scriptArgs: Record<string, string | number | undefined>,
    extra: { duration?: number; connections?: number; script?: "load.lua" | "counted.lua" } = {},
  ): Promise<WrkResult> {
    return runWrk({
      url: server.origin + path,
      duration: extra.duration ?? this.options.duration,
      threads: 1,
      connections: extra.connections ?? this.options.connections,
      script: extra.script ?? "load.lua",
      scriptArgs: { origin: server.origin, ...scriptArgs },
    });
  }

  /** wrk on GET `path` for the warm-up time; the figure is thrown away. */
  async warmUp(server: Server, path: string, cookies: string): Promise<void> {
    await this.wrk(server, path, { mode: "get", cookies }, { duration: this.options.warmup });
  }

  /**
   * Exactly `count` requests to `path` (wrk with `counted.lua`, stopped at the count), bounded by
   * `timeoutSeconds`. Throws when fewer were answered in time or any answer had a status other
   * than `expectStatus`: a pass of 303s (sessions not found) would measure nothing.
   */
  async counted(
    server: Server,
    path: string,
    scriptArgs: Record<string, string | number | undefined>,
    count: number,
    timeoutSeconds: number,
    expectStatus: number,
  ): Promise<WrkResult> {
    const marker = this.path(`${server.spec.name}-counted.done`);
    const result = await runWrk({
      url: server.origin + path,
      duration: timeoutSeconds,
      threads: 1,
      connections: Math.min(this.options.connections, count),
      script: "counted.lua",
      scriptArgs: { origin: server.origin, ...scriptArgs, limit: count, marker },
      interruptWhen: whenFileExists(marker, timeoutSeconds * 1000),
    });
    const statuses = result.statuses ?? {};
    const expected = statuses[String(expectStatus)] ?? 0;
    const answered = Object.values(statuses).reduce((sum, n) => sum + n, 0);
    if (expected < count || answered !== expected) {
      throw new Error(
        `${server.spec.name}: ${path} needed ${count} x ${expectStatus} in ${timeoutSeconds} s, got ${
          JSON.stringify(statuses)
        }`,
      );
    }
    return result;
  }

  /**
   * Signs in `count` times through a peer's own POST /login and returns the file of collected
   * `sid=...` cookies. Bounded by `count` and by `timeoutSeconds`.
   */
  async peerLogins(server: Server, count: number, timeoutSeconds: number): Promise<string> {
    const file = this.path(`${server.spec.name}-cookies.txt`);
    await Deno.writeTextFile(file, "");
    const result = await this.counted(
      server,
      "/login",
      {
        mode: "login",
        user: BENCH_USER.username,
        password: BENCH_USER.password,
        collect: file,
      },
      count,
      timeoutSeconds,
      303,
    );
    const lines = (await Deno.readTextFile(file)).split("\n").filter(Boolean).length;
    if (lines < count) {
      throw new Error(
        `${server.spec.name}: only ${lines} of ${count} logins set a cookie (${
          JSON.stringify(result.statuses)
        })`,
      );
    }
    return file;
  }
}

// ---------------------------------------------------------------------------------------------
// Sections

interface RouteSpec {
  id: string;
  path: string;
  mode: "get" | "cart-add" | "login";
  withCookies: boolean;
}

const APP_ROUTES: RouteSpec[] = [
  { id: "dashboard", path: "/dashboard", mode: "get", withCookies: true },
  { id: "redirect", path: "/dashboard", mode: "get", withCookies: false },
  { id: "cart_get", path: "/api/cart", mode: "get", withCookies: true },
  { id: "cart_add", path: "/api/cart", mode: "cart-add", withCookies: true },
  { id: "login", path: "/login", mode: "login", withCookies: false },
];

/** Connections for POST /login on ours: as many as the server's hasher runs at once. */
const OURS_LOGIN_CONNECTIONS = defaultHashConcurrency();

interface Target {
  id: string;
  routes: RouteSpec[];
  /** Starts the server and returns it with the cookie file to use. */
  start(run: Run): Promise<{ server: Server; cookies: string }>;
}

/** Target id of a `--compare` checkout: `ours@` and the folder's name. */
function compareId(dir: string): string {
  return `ours@${dir.replace(/\/+$/, "").split("/").at(-1)}`;
}

function targets(run: Run): Target[] {
  const list: Target[] = [
    {
      id: "deno",
      routes: [{ id: "page", path: "/dashboard", mode: "get", withCookies: true }],
      start: async (r) => ({ server: await r.start(baselineSpec("deno")), cookies: r.ourCookies }),
    },
    {
      id: "hono",
      routes: [{ id: "page", path: "/dashboard", mode: "get", withCookies: true }],
      start: async (r) => ({ server: await r.start(baselineSpec("hono")), cookies: r.ourCookies }),
    },
    {
      id: "kvget",
      // The floor, then the same read answering with parts of our response (see the server).
      routes: [
        { id: "dashboard", path: "/dashboard", mode: "get", withCookies: true },
        { id: "dashboard+headers", path: "/dashboard-headers", mode: "get", withCookies: true },
        { id: "dashboard+page", path: "/dashboard-page", mode: "get", withCookies: true },
        { id: "dashboard+both", path: "/dashboard-as-ours", mode: "get", withCookies: true },
      ],
      start: async (r) => ({
        server: await r.start(kvGetSpec(await r.kvCopy("kvget"))),
        cookies: r.kvGetCookies,
      }),
    },
    {
      id: "ours",
      routes: APP_ROUTES,
      start: async (r) => ({
        server: await r.start(oursSpec(await r.kvCopy("ours"))),
        cookies: r.ourCookies,
      }),
    },
    {
      id: "seed",
      routes: APP_ROUTES,
      start: async (r) => {
        const server = await r.start(peerSpec("seed"));
        return { server, cookies: await r.peerLogins(server, r.options.sessions, 60) };
      },
    },
    {
      id: "express",
      routes: APP_ROUTES,
      start: async (r) => {
        const server = await r.start(peerSpec("express"));
        return { server, cookies: await r.peerLogins(server, r.options.sessions, 60) };
      },
    },
  ];
  for (const dir of run.options.compare) {
    const id = compareId(dir);
    list.push({
      id,
      routes: APP_ROUTES,
      start: async (r) => ({
        server: await r.start(oursSpec(await r.kvCopy(id), dir, id)),
        cookies: r.ourCookies,
      }),
    });
  }
  const chosen = run.options.targets;
  if (chosen) {
    return list.filter((t) => chosen.has(t.id) || (t.id.includes("@") && chosen.has("ours")));
  }
  return list;
}

async function throughputSection(run: Run): Promise<void> {
  const all = targets(run);
  for (let round = 1; round <= run.options.rounds; round++) {
    // Rotate the start order every round, so no server always runs first or last.
    const shift = (round - 1) % all.length;
    const order = [...all.slice(shift), ...all.slice(0, shift)];
    for (const target of order) {
      run.log(`throughput round ${round}/${run.options.rounds}: ${target.id}`);
      let started: { server: Server; cookies: string } | undefined;
      try {
        started = await target.start(run);
        const { server, cookies } = started;
        await run.warmUp(server, target.routes[0]!.path, cookies);
        const routes = target.routes.filter((r) =>
          r.id === "page" || (run.options.routes?.has(r.id.split("+")[0]!) ?? true)
        );
        for (const route of routes) {
          const login = route.mode === "login";
          const connections = login && target.id.startsWith("ours")
            ? OURS_LOGIN_CONNECTIONS
            : run.options.connections;
          const result = await run.wrk(server, route.path, {
            mode: route.mode,
            cookies: route.withCookies ? cookies : "-",
            products: route.mode === "cart-add" ? PRODUCT_IDS : undefined,
            user: login ? BENCH_USER.username : undefined,
            password: login ? BENCH_USER.password : undefined,
          }, {
            connections,
            script: login ? "counted.lua" : "load.lua",
            // About 2 logins a second: twice the time for a figure worth the name.
            duration: login && target.id.startsWith("ours") ? run.options.duration * 2 : undefined,
          });
          run.results.throughput.push({
            round,
            target: target.id,
            route: route.id,
            connections,
            result,
          });
          logFigure(run, route.id, result);
        }
      } catch (error) {
        run.results.problems.push(`throughput round ${round}, ${target.id}: ${String(error)}`);
        run.log(`  FAILED: ${String(error)}`);
      } finally {
        await started?.server.stop();
      }
    }
    const vsKv = roundRatio(run.results, "ours", "dashboard", "kvget", "dashboard");
    if (Number.isFinite(vsKv)) {
      run.log(`  so far: ours/kv.get on GET /dashboard = ${vsKv.toFixed(2)}x (median)`);
    }
  }
}

/** A server of the package section and the requests it answers. */
interface PackageTarget {
  id: string;
  routes: { id: "guarded" | "no_cookie"; path: string; withCookies: boolean }[];
  /** Starts the server and returns it with the cookie file to use. */
  start(run: Run): Promise<{ server: Server; cookies: string }>;
}

const GUARDED = { id: "guarded", path: "/tiny", withCookies: true } as const;

function packageTargets(run: Run): PackageTarget[] {
  const list: PackageTarget[] = [
    {
      id: "hono",
      routes: [{ id: "no_cookie", path: "/tiny", withCookies: false }],
      start: async (r) => ({ server: await r.start(baselineSpec("hono")), cookies: "-" }),
    },
    {
      id: "kvget",
      routes: [GUARDED],
      start: async (r) => ({
        server: await r.start(kvGetSpec(await r.kvCopy("kvget-package"))),
        cookies: r.kvGetCookies,
      }),
    },
    {
      id: "package",
      routes: [GUARDED, { id: "no_cookie", path: "/public", withCookies: false }],
      start: async (r) => ({
        server: await r.start(
          kvServerSpec("package", "bench/package_server.ts", await r.kvCopy("package")),
        ),
        cookies: r.ourCookies,
      }),
    },
  ];
  if (run.honoSessionsKv) {
    list.push({
      id: "hono-sessions",
      routes: [GUARDED, { id: "no_cookie", path: "/public", withCookies: false }],
      start: async (r) => {
        const kvPath = r.path("hono-sessions.sqlite3");
        await copyKvFile(r.honoSessionsKv, kvPath);
        return {
          server: await r.start(
            kvServerSpec("hono-sessions", "bench/hono_sessions_server.ts", kvPath),
          ),
          cookies: r.honoSessionsCookies,
        };
      },
    });
  }
  return list;
}

/**
 * Throws unless `path` answers 200 with the tiny text (with the first cookie of `cookies` when
 * `withCookies`): a run of 401s would measure the refusal, not the session layer.
 */
async function expectTiny(server: Server, path: string, cookies: string | undefined) {
  const cookie = cookies ? (await Deno.readTextFile(cookies)).split("\n")[0] : undefined;
  const response = await fetch(server.origin + path, {
    headers: cookie ? { Cookie: cookie } : {},
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200 || body !== TINY_TEXT) {
    throw new Error(
      `${server.spec.name}: GET ${path} ${
        cookie ? "with" : "without"
      } a cookie answered ${response.status} ${
        JSON.stringify(body.slice(0, 80))
      }, not 200 with the tiny text`,
    );
  }
}

/**
 * The package alone against its floors (and hono-sessions), every server started afresh each
 * round in a rotated order, like the throughput section.
 */
async function packageSection(run: Run): Promise<void> {
  const all = packageTargets(run);
  const rows: ThroughputRow[] = run.results.package ??= [];
  for (let round = 1; round <= run.options.rounds; round++) {
    const shift = (round - 1) % all.length;
    const order = [...all.slice(shift), ...all.slice(0, shift)];
    for (const target of order) {
      run.log(`package round ${round}/${run.options.rounds}: ${target.id}`);
      let started: { server: Server; cookies: string } | undefined;
      try {
        started = await target.start(run);
        const { server, cookies } = started;
        for (const route of target.routes) {
          await expectTiny(server, route.path, route.withCookies ? cookies : undefined);
        }
        const first = target.routes[0]!;
        await run.warmUp(server, first.path, first.withCookies ? cookies : "-");
        for (const route of target.routes) {
          const result = await run.wrk(server, route.path, {
            mode: "get",
            cookies: route.withCookies ? cookies : "-",
          });
          rows.push({
            round,
            target: target.id,
            route: route.id,
            connections: run.options.connections,
            result,
          });
          logFigure(run, route.id, result);
        }
      } catch (error) {
        run.results.problems.push(`package round ${round}, ${target.id}: ${String(error)}`);
        run.log(`  FAILED: ${String(error)}`);
      } finally {
        await started?.server.stop();
      }
    }
    const guarded = packageRatio(run.results, ...PACKAGE_PAIRS.guarded);
    const noCookie = packageRatio(run.results, ...PACKAGE_PAIRS.noCookie);
    run.log(
      `  so far (medians): package/kv.get authenticated ${guarded.toFixed(2)}x, ` +
        `package/bare Hono without a cookie ${noCookie.toFixed(2)}x`,
    );
  }
}

/**
 * Settings of the hashing section's server: it trusts `X-Forwarded-For` as a proxy's header
 * (production requires `PUBLIC_ORIGIN` with it; an `https:` one keeps the cookies `__Host-`),
 * so each login loop can be a client of its own. From one address, the login throttle lets
 * only 2 sign-ins be in flight and answers the rest 429 before they hash, and the section would
 * measure refusals instead of hashing.
 */
const HASHING_ENV = {
  TRUST_PROXY_HEADER: "X-Forwarded-For",
  PUBLIC_ORIGIN: "https://shop.bench.invalid",
};

let nextClient = 0;

/** A client address not used before in this run, from the benchmarking range 198.18.0.0/15. */
function benchClientAddress(): string {
  const n = nextClient++;
  return `198.18.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * Keeps `concurrency` POST /login in flight until stopped (bounded by `maxLogins`), each loop
 * from a client address of its own (`X-Forwarded-For`, see {@linkcode HASHING_ENV}).
 */
function loginLoad(
  server: Server,
  concurrency: number,
  maxLogins: number,
): { stop: () => Promise<Record<string, number>> } {
  const statuses: Record<string, number> = {};
  let stopped = false;
  let sent = 0;
  const body = new URLSearchParams({
    username: BENCH_USER.username,
    password: BENCH_USER.password,
  }).toString();
  const loops = Array.from({ length: concurrency }, async () => {
    const address = benchClientAddress();
    while (!stopped && sent < maxLogins) {
      sent++;
      try {
        const response = await fetch(`${server.origin}/login`, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "Sec-Fetch-Site": "same-origin",
            "X-Forwarded-For": address,
          },
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(20_000),
        });
        await response.body?.cancel();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      } catch (error) {
        const name = error instanceof Error ? error.name : "error";
        statuses[name] = (statuses[name] ?? 0) + 1;
      }
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return statuses;
    },
  };
}

async function hashingSection(run: Run): Promise<void> {
  run.log("GET /dashboard while 8 logins hash");
  const variants = [
    { id: "ours", dir: ROOT },
    ...run.options.compare.map((dir) => ({ id: compareId(dir), dir })),
  ];
  const servers: { id: string; server: Server }[] = [];
  try {
    for (const { id, dir } of variants) {
      const server = await run.start(
        oursSpec(await run.kvCopy(`${id}-hashing`), dir, `${id}-hashing`, HASHING_ENV),
      );
      servers.push({ id, server });
      await run.warmUp(server, "/dashboard", run.ourCookies);
    }
    for (let round = 1; round <= run.options.rounds; round++) {
      for (const { id, server } of servers) {
        const measure = async (loaded: boolean) => {
          const logins = loaded ? loginLoad(server, 8, 400) : undefined;
          // Let the hasher fill up before measuring.
          if (logins) await sleep(500);
          const result = await run.wrk(server, "/dashboard", {
            mode: "get",
            cookies: run.ourCookies,
          });
          // Waits for the logins in flight, so the next figure starts with an idle hasher.
          const statuses = await logins?.stop();
          return { result, statuses };
        };
        const first = round % 2 === 1 ? "idle" : "loaded";
        const a = await measure(first === "loaded");
        const b = await measure(first !== "loaded");
        const idle = first === "idle" ? a : b;
        const loaded = first === "idle" ? b : a;
        const row: HashingRound = {
          round,
          target: id,
          idleRps: idle.result.rps,
          loadedRps: loaded.result.rps,
          loginStatuses: loaded.statuses ?? {},
          getErrors: wrkErrors(idle.result) + wrkErrors(loaded.result),
        };
        run.results.hashing.push(row);
        run.log(
          `  round ${round}, ${id}: idle ${Math.round(row.idleRps)}, with logins ${
            Math.round(row.loadedRps)
          } req/s (${(row.loadedRps / row.idleRps).toFixed(2)}x), logins ${
            JSON.stringify(row.loginStatuses)
          }`,
        );
      }
    }
  } finally {
    for (const { server } of servers) await server.stop();
  }
}

/**
 * Reads a server's access log (JSON lines, each maybe after deno serve's `[serve-worker-N ]`
 * prefix): responses of 400 and above by "METHOD path status", and the durations of the cart
 * writes (POST /api/cart), whose tail shows waits for the KV file's write lock.
 */
export async function readAccessLog(
  accessLog: string,
): Promise<{ failures: Record<string, number>; cartWriteMs: ParallelRow["cartWriteMs"] }> {
  const failures: Record<string, number> = {};
  const durations: number[] = [];
  let text = "";
  try {
    text = await Deno.readTextFile(accessLog);
  } catch {
    return { failures, cartWriteMs: undefined };
  }
  for (const line of text.split("\n")) {
    const start = line.indexOf("{");
    if (start === -1) continue;
    try {
      const entry = JSON.parse(line.slice(start)) as {
        message?: string;
        method?: string;
        path?: string;
        status?: number;
        durationMs?: number;
      };
      if (entry.message !== "request") continue;
      if ((entry.status ?? 0) >= 400) {
        const key = `${entry.method} ${entry.path} ${entry.status}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
      if (entry.method === "POST" && entry.path === "/api/cart" && entry.durationMs !== undefined) {
        durations.push(entry.durationMs);
      }
    } catch {
      // not a log line of ours
    }
  }
  durations.sort((a, b) => a - b);
  const at = (q: number) =>
    durations[Math.min(durations.length - 1, Math.floor(durations.length * q))]!;
  const cartWriteMs = durations.length
    ? { count: durations.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) }
    : undefined;
  return { failures, cartWriteMs };
}

async function parallelSection(run: Run): Promise<void> {
  const duration = run.options.duration + 1;
  for (let round = 1; round <= run.options.rounds; round++) {
    const order = round % 2 === 1 ? [1, 2] : [2, 1];
    for (const workers of order) {
      run.log(`deno serve, ${workers} worker(s), mixed load, round ${round}`);
      let server: Server | undefined;
      try {
        // The access log (standard output) is kept here: it says which requests failed and why.
        const accessLog = run.path(`serve-${workers}-round${round}.access.log`);
        server = await run.start({
          ...serveSpec(await run.kvCopy(`serve-${workers}`), workers),
          stdoutFile: accessLog,
        });
        await run.warmUp(server, "/dashboard", run.ourCookies);
        const result = await run.wrk(server, "/dashboard", {
          mode: "mixed",
          cookies: run.ourCookies,
          products: PRODUCT_IDS,
          user: BENCH_USER.username,
          password: BENCH_USER.password,
          // Production scrypt: a hash takes ~0.8 s of a core here, and when the box is starved a
          // login waiting over 3 s for the hasher is shed with 503 by design; keep the share low.
          login_every: 2,
        }, { duration, script: "counted.lua" });
        await server.stop();
        const row: ParallelRow = { round, workers, result, ...await readAccessLog(accessLog) };
        run.results.parallel.push(row);
        run.log(
          `  ${Math.round(result.rps)} req/s, ${wrkErrors(result)} errors, ${
            JSON.stringify(result.statuses)
          }${Object.keys(row.failures).length ? `, failed: ${JSON.stringify(row.failures)}` : ""}`,
        );
      } catch (error) {
        run.results.problems.push(`parallel round ${round}, ${workers} workers: ${String(error)}`);
        run.log(`  FAILED: ${String(error)}`);
      } finally {
        await server?.stop();
      }
    }
  }
}

/**
 * RSS of each server from a handful of sessions to N, against a control.
 *
 * RSS moves with the load a server has had (V8 grows its young generation under load and its
 * memory reducer shrinks the heap again when idle; malloc keeps what threads freed), not only
 * with the state it holds. So each round runs every server twice on the same timeline: once
 * creating N sessions and reading across all of them, once (the control) creating none and
 * making the same number of requests over its handful. What the sessions themselves hold is the
 * difference between the two at the end.
 */
async function memorySection(run: Run): Promise<void> {
  const n = run.options.memorySessions;
  // Generous bounds for a pass of n requests (express-session manages ~3,000 a second here).
  const passTimeout = Math.max(60, Math.ceil(n / 500));
  for (let round = 1; round <= run.options.memoryRounds; round++) {
    for (const target of ["ours", "seed", "express"] as const) {
      // The sessions arm first: ours' control idles as long as its creation took. A control
      // without its sessions arm would be a figure with nothing to compare, so it is skipped.
      const sessions = await memoryArm(run, {
        target,
        arm: "sessions",
        round,
        n,
        passTimeout,
        createSeconds: 0,
      });
      if (!sessions) continue;
      await memoryArm(run, {
        target,
        arm: "control",
        round,
        n,
        passTimeout,
        createSeconds: sessions.createSeconds,
      });
    }
  }
}

/** One server through the memory timeline; the row it adds, or undefined when it failed. */
async function memoryArm(
  run: Run,
  plan: {
    target: "ours" | "seed" | "express";
    arm: "sessions" | "control";
    round: number;
    n: number;
    passTimeout: number;
    /** Ours' control idles as long as the sessions arm took to create its sessions. */
    createSeconds: number;
  },
): Promise<MemoryRow | undefined> {
  const { target, arm, round, n, passTimeout } = plan;
  const label = `memory round ${round}: ${target}, ${
    arm === "sessions" ? `0 -> ${n} sessions` : "control"
  }`;
  run.log(label);
  // Memory is read a second after the load stops, when the heap has settled.
  const memoryNow = async (server: Server) => {
    await sleep(1000);
    return await processMemory(server.pid);
  };
  const kvPath = target === "ours" ? run.path(`memory-${arm}.sqlite3`) : undefined;
  let server: Server | undefined;
  try {
    // 1. A handful of sessions, a warm-up and a timed read pass over them: "before".
    let warmCookies: string;
    if (kvPath) {
      const seed = await openOurKv(kvPath, run.passwordHash);
      const warm = await createSessions(seed, 100);
      seed.kv.close();
      warmCookies = run.path(`memory-${arm}-warm.txt`);
      await Deno.writeTextFile(warmCookies, ourCookieLines(warm));
      server = await run.start(oursSpec(kvPath, ROOT, `ours-memory-${arm}`));
    } else {
      server = await run.start(peerSpec(target as "seed" | "express"));
      warmCookies = await run.peerLogins(server, 100, 30);
    }
    await run.warmUp(server, "/dashboard", warmCookies);
    await run.wrk(server, "/dashboard", { mode: "get", cookies: warmCookies });
    const before = await memoryNow(server);

    // 2. N sessions, or (control) none in the same time or for the same requests.
    const started = performance.now();
    let cookies = warmCookies;
    let createdBy: string;
    if (arm === "control") {
      if (kvPath) {
        createdBy = "none: idle as long as the sessions arm took to create them";
        await sleep(plan.createSeconds * 1000);
      } else {
        createdBy = `none: ${n.toLocaleString("en-US")} POST /login with a wrong password`;
        await run.counted(
          server,
          "/login",
          {
            mode: "login",
            user: BENCH_USER.username,
            password: "not-the-password",
          },
          n,
          passTimeout,
          401,
        );
      }
    } else if (kvPath) {
      createdBy = "SessionStore.create from the runner process (group commits)";
      // Many creates share a commit (groupCommitKv): one commit each would take minutes on disk.
      const writer = await openOurKv(kvPath, run.passwordHash, { groupCommit: true });
      const tokens = await createSessions(writer, n, 1000);
      writer.kv.close();
      cookies = run.path("memory-ours.txt");
      await Deno.writeTextFile(cookies, ourCookieLines(tokens));
    } else {
      createdBy = "POST /login through wrk";
      cookies = await run.peerLogins(server, n, passTimeout);
    }
    const createSeconds = (performance.now() - started) / 1000;
    const afterCreate = await memoryNow(server);

    // 3. N reads: every session once (control: its handful, round robin).
    const reads = await run.counted(
      server,
      "/dashboard",
      { mode: "get", cookies },
      n,
      passTimeout,
      200,
    );
    const after = await memoryNow(server);
    const row: MemoryRow = {
      target,
      arm,
      round,
      sessions: arm === "sessions" ? n : 0,
      createdBy,
      createSeconds,
      rssBeforeKiB: before.rssKiB,
      rssAfterCreateKiB: afterCreate.rssKiB,
      rssAfterReadsKiB: after.rssKiB,
      peakKiB: after.hwmKiB,
      anonKiB: [before.anonKiB, after.anonKiB],
      fileKiB: [before.fileKiB, after.fileKiB],
      kvFileBytes: kvPath ? await kvFileSize(kvPath) : undefined,
      kvLocation: kvPath ? "disk" : undefined,
      reads,
    };
    run.results.memory.push(row);
    logMemory(run, row);
    return row;
  } catch (error) {
    run.results.problems.push(`${label}: ${String(error)}`);
    run.log(`  FAILED: ${String(error)}`);
    return undefined;
  } finally {
    await server?.stop();
    if (kvPath) await removeKvFile(kvPath);
  }
}

function logMemory(run: Run, row: MemoryRow): void {
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  run.log(
    `  RSS ${mib(row.rssBeforeKiB)} -> ${mib(row.rssAfterCreateKiB)} -> ${
      mib(row.rssAfterReadsKiB)
    } MiB (anon ${mib(row.anonKiB[0])} -> ${mib(row.anonKiB[1])}, file ${mib(row.fileKiB[0])} -> ${
      mib(row.fileKiB[1])
    }; peak ${mib(row.peakKiB)}), created in ${row.createSeconds.toFixed(1)} s${
      row.kvFileBytes === undefined ? "" : `, KV file ${(row.kvFileBytes / 1e6).toFixed(1)} MB`
    }, reads ${Math.round(row.reads.rps)} req/s`,
  );
}

interface DenoBenchJson {
  benches: {
    group: string | null;
    name: string;
    baseline: boolean;
    results: { ok?: { avg: number; p75: number } }[];
  }[];
}

/**
 * Runs `deno ARGS` in a clean environment and parses its standard output as JSON; a failure is
 * recorded in the results' problems (as `label failed: stderr`) and gives `undefined`.
 */
async function denoJson<T>(run: Run, label: string, args: string[]): Promise<T | undefined> {
  const output = await new Deno.Command("deno", {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: childEnv(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    run.results.problems.push(
      `${label} failed: ${new TextDecoder().decode(output.stderr).slice(0, 2000)}`,
    );
    return undefined;
  }
  return JSON.parse(new TextDecoder().decode(output.stdout)) as T;
}

async function microSection(run: Run): Promise<void> {
  const runs: DenoBenchJson[] = [];
  for (let i = 1; i <= run.options.microRounds; i++) {
    run.log(`deno bench bench/micro_bench.ts (${i}/${run.options.microRounds})`);
    const result = await denoJson<DenoBenchJson>(run, "deno bench", [
      "bench",
      "--json",
      "bench/micro_bench.ts",
    ]);
    if (result === undefined) return;
    runs.push(result);
  }
  const groups = new Map<string, MicroGroup>();
  const first = runs[0]!;
  for (const bench of first.benches) {
    const group = bench.group ?? bench.name;
    if (!bench.baseline) continue;
    const stat = (name: string, key: "avg" | "p75") =>
      runs.map((r) => r.benches.find((b) => b.name === name)?.results[0]?.ok?.[key] ?? NaN);
    const baseAvg = stat(bench.name, "avg");
    const baseP75 = stat(bench.name, "p75");
    groups.set(group, {
      group,
      baseline: bench.name,
      baselineAvgNs: median(baseAvg),
      others: first.benches
        .filter((b) => (b.group ?? b.name) === group && !b.baseline)
        .map((b) => {
          const avg = stat(b.name, "avg");
          const p75 = stat(b.name, "p75");
          return {
            name: b.name,
            avgNs: median(avg),
            speedupAvg: median(avg.map((v, i) => v / baseAvg[i]!)),
            speedupP75: median(p75.map((v, i) => v / baseP75[i]!)),
          };
        }),
    });
  }
  run.results.micro.push(...groups.values());
  for (const group of groups.values()) {
    for (const other of group.others) {
      run.log(`  ${group.group}: ${other.name} takes ${other.speedupAvg.toFixed(2)}x ours`);
    }
  }

  run.log("parseCookies vs cookie.parse, interleaved batches (bench/parse_ab.ts)");
  const parseAb = await denoJson<ParseAbResult[]>(run, "bench/parse_ab.ts", [
    "run",
    "bench/parse_ab.ts",
    "--json",
  ]);
  if (parseAb === undefined) return;
  run.results.parseAb = parseAb;
  for (const r of run.results.parseAb) {
    run.log(`  ${r.header}: ours is ${r.speedup.toFixed(2)}x the speed of cookie.parse`);
  }
}

// ---------------------------------------------------------------------------------------------
// Environment

async function text(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    return (new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr))
      .trim().split("\n")[0]!;
  } catch {
    return "unknown";
  }
}

async function readJsonVersion(path: string): Promise<string> {
  try {
    return (JSON.parse(await Deno.readTextFile(path)) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

async function lockedVersion(specifier: string): Promise<string> {
  try {
    const lock = JSON.parse(await Deno.readTextFile(`${ROOT}deno.lock`)) as {
      specifiers?: Record<string, string>;
    };
    return lock.specifiers?.[specifier] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function loadAverage(): string {
  return Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
}

async function environment(wrkVersion: string): Promise<Record<string, string>> {
  const cpuinfo = await procFile("/proc/cpuinfo");
  const memBytes = Deno.systemMemoryInfo().total;
  const peers = `${ROOT}bench/peers/node_modules`;
  return {
    nproc: String(navigator.hardwareConcurrency),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    ram: `${(memBytes / 2 ** 30).toFixed(1)} GiB`,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node: await text("node", ["--version"]),
    hono: await lockedVersion("npm:hono@4"),
    cookie: await lockedVersion("npm:cookie@1"),
    express: await readJsonVersion(`${peers}/express/package.json`),
    expressSession: await readJsonVersion(`${peers}/express-session/package.json`),
    honoSessions: HONO_SESSIONS_VERSION,
    wrk: wrkVersion,
    loadStart: loadAverage(),
  };
}

/** Installs the peers' npm packages into bench/peers/node_modules when they are missing. */
async function ensurePeers(): Promise<void> {
  try {
    await Deno.stat(`${ROOT}bench/peers/node_modules/express-session/package.json`);
    return;
  } catch {
    // not installed yet
  }
  console.log("Installing the peers' npm packages: npm ci in bench/peers");
  const status = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund"],
    cwd: `${ROOT}bench/peers`,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!status.success) throw new Error("npm ci in bench/peers failed");
}

// ---------------------------------------------------------------------------------------------
// Main

/**
 * Writes bench/RESULTS.md from `results` and lets deno fmt lay out its tables. A `partial` run
 * (`--only`) replaces only its own sections and target rows in the existing file.
 */
async function writeMarkdown(results: Results, partial = false): Promise<void> {
  const path = `${ROOT}bench/RESULTS.md`;
  let text = renderMarkdown(results);
  if (partial) {
    const previous = await Deno.readTextFile(path).catch(() => undefined);
    if (previous !== undefined) text = mergeMarkdown(previous, text);
  }
  await Deno.writeTextFile(path, text);
  // The project checks `deno fmt --check`.
  await new Deno.Command("deno", {
    args: ["fmt", "--quiet", "bench/RESULTS.md"],
    cwd: ROOT,
    clearEnv: true,
    env: childEnv(),
  }).output();
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  if (options.renderOnly) {
    const results = JSON.parse(await Deno.readTextFile(`${OUTPUT_DIR}/results.json`)) as Results;
    await writeMarkdown(results);
    console.log("wrote bench/RESULTS.md from bench/output/results.json");
    return;
  }
  const wrkVersion = await requireWrk();
  if (options.only.has("throughput") || options.only.has("memory")) await ensurePeers();
  const stamp = new Date().toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z");
  const dir = `${OUTPUT_DIR}/run-${stamp}`;
  await Deno.mkdir(dir, { recursive: true });
  const results = emptyResults({
    date: new Date().toISOString(),
    elapsedSeconds: 0,
    flags: options.flags,
    environment: await environment(wrkVersion),
    parameters: {
      threads: 1,
      connections: options.connections,
      duration: options.duration,
      rounds: options.rounds,
      warmup: options.warmup,
      sessions: options.sessions,
      memorySessions: options.memorySessions,
      memoryRounds: options.memoryRounds,
      oursLoginConnections: OURS_LOGIN_CONNECTIONS,
      microRounds: options.microRounds,
    },
  });
  const run = new Run(options, dir, results);
  run.log(`output in ${dir}`);

  const needsServers = ["package", "throughput", "hashing", "parallel", "memory"].some((s) =>
    options.only.has(s as Section)
  );
  if (needsServers) {
    run.log("hashing the benchmark password (production scrypt) and measuring the hash time");
    results.hashMs = await measureHashMs(3);
    run.passwordHash = await benchPasswordHash();
    run.log(`  ${results.hashMs.map((t) => t.toFixed(0)).join(", ")} ms per hash`);
    run.templateKv = run.path("template.sqlite3");
    const template = await openOurKv(run.templateKv, run.passwordHash);
    const tokens = await createSessions(template, options.sessions);
    template.kv.close();
    run.ourCookies = run.path("ours-cookies.txt");
    run.kvGetCookies = run.path("kvget-cookies.txt");
    await Deno.writeTextFile(run.ourCookies, ourCookieLines(tokens));
    await Deno.writeTextFile(run.kvGetCookies, kvGetCookieLines(tokens));
    run.log(`template KV with ${options.sessions} sessions`);
  }
  if (options.only.has("package")) {
    try {
      const kvPath = run.path("hono-sessions-template.sqlite3");
      const cookies = await seedHonoSessions(kvPath, options.sessions);
      run.honoSessionsCookies = run.path("hono-sessions-cookies.txt");
      await Deno.writeTextFile(run.honoSessionsCookies, cookies);
      run.honoSessionsKv = kvPath;
      run.log(`hono-sessions KV with ${options.sessions} sessions`);
    } catch (error) {
      results.problems.push(`hono-sessions: could not create its sessions: ${String(error)}`);
    }
  }

  if (options.only.has("kv")) {
    run.log("KV operations per request (in-process, countingKv)");
    results.kvCost = await measureKvCost(1000);
    for (const row of results.kvCost) {
      run.log(`  ${row.label}: ${row.readsPerRequest} reads, ${row.writesPerRequest} writes`);
    }
  }
  if (options.only.has("package")) await packageSection(run);
  if (options.only.has("throughput")) await throughputSection(run);
  if (options.only.has("hashing")) await hashingSection(run);
  if (options.only.has("parallel")) await parallelSection(run);
  if (options.only.has("memory")) await memorySection(run);
  if (options.only.has("micro")) await microSection(run);

  results.environment.loadEnd = loadAverage();
  results.elapsedSeconds = (performance.now() - run.started) / 1000;
  const json = JSON.stringify(results, null, 2);
  await Deno.writeTextFile(`${dir}/results.json`, json);
  // bench/output/results.json is the raw data behind bench/RESULTS.md: written together. A
  // partial run's raw data goes beside it, named by its sections, as its sections are merged.
  const partial = options.only.size < SECTIONS.length;
  const raw = partial ? `results-only-${[...options.only].join("+")}.json` : "results.json";
  if (options.writeMarkdown) await Deno.writeTextFile(`${OUTPUT_DIR}/${raw}`, json);
  // The KV copies are only needed while their server runs.
  for await (const entry of Deno.readDir(dir)) {
    if (/\.sqlite3(-wal|-shm)?$/.test(entry.name)) await Deno.remove(`${dir}/${entry.name}`);
  }
  if (options.writeMarkdown) {
    await writeMarkdown(results, partial);
    run.log(`wrote bench/RESULTS.md${partial ? " (this run's sections merged in)" : ""}`);
  }
  console.log("");
  for (const verdict of verdicts(results)) {
    console.log(`${verdict.status.padEnd(7)} ${verdict.target}: ${verdict.measured}`);
  }
  if (results.problems.length) {
    console.log(`\n${results.problems.length} problem(s):`);
    for (const problem of results.problems) console.log(`- ${problem}`);
  }
}

/** One progress line per measured route: its req/s, and its errors when there were any. */
function logFigure(run: Run, routeId: string, result: WrkResult): void {
  const errors = wrkErrors(result);
  run.log(`  ${routeId}: ${Math.round(result.rps)} req/s${errors ? `, ${errors} errors` : ""}`);
}

if (import.meta.main) await main();
