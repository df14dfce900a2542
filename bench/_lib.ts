/**
 * Process and measurement helpers for the load benchmark: free ports, starting and stopping
 * servers, reading a process's memory from /proc, running wrk and reading its result, medians.
 *
 * Every wait is bounded; every server binds 127.0.0.1 on a port that was free a moment ago.
 *
 * @module
 */
import { freePort, sleep } from "../tests/_process.ts";

/** Project root: the folder holding `main.ts` and `deno.json`. */
export const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
/** Where raw results, logs and KV files go (git-ignored). */
export const OUTPUT_DIR = `${ROOT}bench/output`;
/** The wrk Lua scripts. */
export const WRK_DIR = `${ROOT}bench/wrk`;

/**
 * Settings inherited from the parent environment that would change what a server does; children
 * get a clean environment with only these passed through, plus what the runner sets.
 */
const PASSED_THROUGH = ["PATH", "HOME", "DENO_DIR", "LANG", "TMPDIR", "npm_config_cache"];

/** Environment for a child: the passed-through variables plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of PASSED_THROUGH) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

// The test suite's process helpers (a free 127.0.0.1 port, a bounded sleep), shared, not copied.
export { freePort, sleep };

/** How to start one server. */
export interface ServerSpec {
  /** Short name for logs, e.g. `ours`. */
  name: string;
  /** Program (`deno`, `node`). */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Extra environment (the port is added as `PORT`/`HOST`/`HOSTNAME`/`DENO_SERVE_ADDRESS`). */
  env?: Record<string, string>;
  /** Path answered with 2xx once the server is ready; default `/healthz`. */
  readyPath?: string;
  /** Working directory; default the project root. */
  cwd?: string;
  /** Keep standard output in this file (default: discarded). */
  stdoutFile?: string;
}

/** A running server. */
export interface Server {
  /** Spec it was started from. */
  spec: ServerSpec;
  /** Port on 127.0.0.1. */
  port: number;
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** Process id (the server itself, not a wrapper). */
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL after a few seconds) and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `spec` on a free port and waits (at most `timeoutMs`) until its ready path answers 2xx.
 * Standard output is discarded unless `spec.stdoutFile` is set (our server logs a JSON line per
 * request: writing it is part of the cost measured, keeping it is not); standard error goes to
 * `logFile`.
 */
export async function startServer(
  spec: ServerSpec,
  logFile: string,
  timeoutMs = 30_000,
): Promise<Server> {
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(spec.command, {
    args: spec.args,
    cwd: spec.cwd ?? ROOT,
    clearEnv: true,
    env: childEnv({
      PORT: String(port),
      HOST: "127.0.0.1",
      HOSTNAME: "127.0.0.1",
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      ...spec.env,
    }),
    stdin: "null",
    stdout: spec.stdoutFile ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  const log = await Deno.open(logFile, { write: true, create: true, append: true });
  const pipes = [child.stderr.pipeTo(log.writable).catch(() => {})];
  if (spec.stdoutFile) {
    const out = await Deno.open(spec.stdoutFile, { write: true, create: true, append: true });
    pipes.push(child.stdout.pipeTo(out.writable).catch(() => {}));
  }
  const logged = Promise.all(pipes);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  async function stop(): Promise<void> {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          if (!exited) child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await status;
      clearTimeout(timer);
    }
    await logged;
  }

  const deadline = Date.now() + timeoutMs;
  const readyUrl = origin + (spec.readyPath ?? "/healthz");
  while (true) {
    if (exited) {
      await logged;
      throw new Error(`${spec.name} exited before it was ready; see ${logFile}`);
    }
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} was not ready within ${timeoutMs} ms; see ${logFile}`);
    }
    await sleep(50);
  }
  return { spec, port, origin, pid: child.pid, stop };
}

/** Memory of a process from /proc/PID/status, in KiB. */
export interface ProcessMemory {
  /** Resident set size now (VmRSS). */
  rssKiB: number;
  /** Peak resident set size (VmHWM). */
  hwmKiB: number;
  /** Anonymous memory (heaps, caches) in the RSS (RssAnon). */
  anonKiB: number;
  /** File-backed pages in the RSS (RssFile): the binary, and any memory-mapped file. */
  fileKiB: number;
}

/**
 * Reads VmRSS and VmHWM of `pid` (Linux). Through `cat`, because Deno allows reading /proc only
 * with --allow-all.
 */
export async function processMemory(pid: number): Promise<ProcessMemory> {
  const status = await procFile(`/proc/${pid}/status`);
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) throw new Error(`No ${name} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return {
    rssKiB: field("VmRSS"),
    hwmKiB: field("VmHWM"),
    anonKiB: field("RssAnon"),
    fileKiB: field("RssFile"),
  };
}

/** Reads a file under /proc with `cat` (Deno reads /proc only with --allow-all). */
export async function procFile(path: string): Promise<string> {
  const output = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`cat ${path} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** What one wrk run reported (from `bench/wrk/*.lua`'s `done()`). */
export interface WrkResult {
  /** Requests completed. */
  requests: number;
  /** Run time in microseconds. */
  duration_us: number;
  /** Response bytes. */
  bytes: number;
  /** Socket errors, timeouts, and `status`: responses outside 2xx/3xx. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** Latency in microseconds. */
  latency_us: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Responses by status (counted.lua only). */
  statuses?: Record<string, number>;
  /** Logins the mixed mode sent (counted.lua only). */
  logins_sent?: number;
  /** requests / seconds. */
  rps: number;
  /** The command line, for the record. */
  command: string;
}

/** Options of one wrk run. */
export interface WrkOptions {
  /** Full URL. */
  url: string;
  /** Seconds. */
  duration: number;
  /** wrk threads. */
  threads: number;
  /** Open connections. */
  connections: number;
  /** `load.lua` (throughput) or `counted.lua` (statuses, limit, cookie collection). */
  script: "load.lua" | "counted.lua";
  /** Script arguments, `key=value` (see bench/wrk/_common.lua). */
  scriptArgs: Record<string, string | number | undefined>;
  /** Resolves when wrk should be interrupted early (SIGINT: wrk then prints its summary). */
  interruptWhen?: Promise<void>;
}

/** Runs wrk and returns its summary; throws when wrk fails or prints no summary. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.duration}s`,
    "--timeout",
    "10s",
    "-s",
    `${WRK_DIR}/${options.script}`,
    options.url,
    "--",
    ...Object.entries(options.scriptArgs)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${value}`),
  ];
  const child = new Deno.Command("wrk", {
    args,
    cwd: ROOT,
    clearEnv: true,
    env: childEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let interrupted = false;
  options.interruptWhen?.then(() => {
    interrupted = true;
    try {
      child.kill("SIGINT");
    } catch { /* finished already */ }
  });
  const output = await child.output();
  const stdout = new TextDecoder().decode(output.stdout);
  const line = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) {
    const stderr = new TextDecoder().decode(output.stderr);
    throw new Error(
      `wrk ${args.join(" ")} printed no summary (exit ${output.code}${
        interrupted ? ", interrupted" : ""
      }):\n${stdout}\n${stderr}`,
    );
  }
  const parsed = JSON.parse(line.slice("BENCH_JSON ".length)) as Omit<
    WrkResult,
    "rps" | "command"
  >;
  return {
    ...parsed,
    rps: parsed.requests / (parsed.duration_us / 1e6),
    command: `wrk ${args.join(" ")}`,
  };
}

/** Exits with the install hint when wrk is not on PATH. */
export async function requireWrk(): Promise<string> {
  try {
    const output = await new Deno.Command("wrk", { args: ["-v"], stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    return text.split("\n")[0]!.trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.error("wrk is not installed. It is a Debian package:\n\n  apt-get install -y wrk\n");
    Deno.exit(1);
  }
}

/** Median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Size in bytes of a file, 0 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** Size of a SQLite KV file with its `-wal` and `-shm` companions. */
export async function kvFileSize(path: string): Promise<number> {
  const sizes = await Promise.all(["", "-wal", "-shm"].map((suffix) => fileSize(path + suffix)));
  return sizes.reduce((a, b) => a + b, 0);
}

/** Removes a KV file and its companions. */
export async function removeKvFile(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.remove(path + suffix).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Copies a closed KV file (and any companions) to `to`, replacing what is there. */
export async function copyKvFile(from: string, to: string): Promise<void> {
  await removeKvFile(to);
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      await Deno.copyFile(from + suffix, to + suffix);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/** Resolves once `path` exists (checked every 50 ms), or after `timeoutMs` anyway. */
export async function whenFileExists(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await exists(path)) return;
    await sleep(50);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to completion and returns its trimmed standard output ("" on failure). */
export async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, {
      args,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch {
    return "";
  }
}
