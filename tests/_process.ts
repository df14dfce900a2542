/**
 * The server as a process, started exactly the way users start it: `deno task start` (or
 * `deno task dev`) in the project folder, so the test follows the task's flags and permissions
 * (`deno serve --parallel`, write access to the KV file's folder only). The address is set the
 * way an operator sets it, with `PORT` and `HOSTNAME` (or `DENO_SERVE_ADDRESS` on request).
 *
 * `deno task start` first runs `scripts/task_flags.ts` (settings check, flags), then `deno serve`
 * as a child process; the server and its workers are that one child (workers are threads).
 * `deno task dev` runs `scripts/dev.ts`, whose child is the server. A graceful stop signals the
 * task, which forwards the signal; a crash (`kill -9`) must hit the server itself, found with
 * `pgrep -P` (Linux, procps).
 *
 * Every wait here is bounded, and the output pipes are always read to the end (Deno's resource
 * sanitizer requires it): call `stop()` in a `finally`, or use `await using`.
 *
 * @module
 */

import { rawRequest } from "./_raw_http.ts";

/** Project root: the folder holding `main.ts` and `deno.json`. */
export const PROJECT_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/**
 * Settings inherited from the parent environment that would change what the server does; they
 * are dropped so a developer's shell cannot make a run differ from CI.
 */
export const SERVER_SETTINGS = [
  "PORT",
  "HOSTNAME",
  "KV_PATH",
  "SESSION_IDLE_TIMEOUT",
  "SESSION_ABSOLUTE_TIMEOUT",
  "COOKIE_SECURE",
  "TRUST_PROXY_HEADER",
  "PUBLIC_ORIGIN",
  "DENO_DEPLOYMENT_ID",
  "DENO_DEPLOY",
  "DENO_SERVE_ADDRESS",
  "DENO_AUTO_SERVE",
  "OTEL_DENO",
];

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** A KV file for one test, removed (with SQLite's `-wal` and `-shm` files) on dispose. */
export interface KvFile extends AsyncDisposable {
  /** `KV_PATH` value, relative to the project root. */
  path: string;
  /** Removes the database files; safe to call twice. */
  remove(): Promise<void>;
}

/**
 * Returns a fresh KV file name in `folder`: by default under `data/` (the default KV folder;
 * `*.sqlite3*` is git-ignored), or in a folder of the caller's (an absolute path), as an operator
 * puts the database where their disk is. The tasks grant access to that folder.
 */
export function tempKvFile(folder = "data"): KvFile {
  const path = `${folder}/test-process-${crypto.randomUUID()}.sqlite3`;
  const absolute = path.startsWith("/") ? path : `${PROJECT_ROOT}${path}`;
  const remove = async () => {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) {
      await Deno.remove(`${absolute}${suffix}`).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  };
  return { path, remove, [Symbol.asyncDispose]: remove };
}

/**
 * The parent's environment without the server settings of {@linkcode SERVER_SETTINGS}, plus
 * `extra`: what every test server process runs with.
 */
export function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of SERVER_SETTINGS) delete env[name];
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Reads `stream` to the end, appending decoded text with `append`. */
export async function collect(
  stream: ReadableStream<Uint8Array>,
  append: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }));
  append(decoder.decode());
}

/** Waits for `promise` at most `ms`; `undefined` when the time ran out. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a finished `deno task` run printed. */
export interface TaskRun {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error, without the `Task NAME COMMAND` lines deno task echoes there. */
  stderr: string;
}

/**
 * Runs `deno task NAME ARGS...` in the project folder with the server settings of `env` (see
 * {@linkcode serverEnv}) and `stdin` as its input, and waits for the end.
 *
 * @throws {Error} with the output when it runs longer than `timeoutMs` (it is then killed)
 */
export async function runTask(
  name: string,
  args: string[],
  env: Record<string, string>,
  stdin = "",
  timeoutMs = 30_000,
): Promise<TaskRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", name, ...args],
    cwd: PROJECT_ROOT,
    env: serverEnv(env),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const drained = Promise.all([
    collect(child.stdout, (text) => stdout += text),
    collect(child.stderr, (text) => stderr += text),
  ]);
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  } catch {
    // The task may end (a bad setting) before it reads its input.
  }
  const status = await within(child.status, timeoutMs);
  if (status === undefined) {
    for (const pid of await descendantsOf(child.pid)) killQuietly(pid, "SIGKILL");
    killQuietly(child.pid, "SIGKILL");
  }
  const final = status ?? await child.status;
  await drained;
  if (status === undefined) {
    throw new Error(`deno task ${name} ran over ${timeoutMs} ms:\n${stdout}${stderr}`);
  }
  const echo = /^Task \S+ /;
  stderr = stderr.split("\n").filter((line) => !echo.test(line)).join("\n");
  return { code: final.code, stdout, stderr };
}

/**
 * Creates a user (or resets its password) with `deno task user:add`, as an operator would, in
 * the KV file `kvPath`. Hashes with the production scrypt parameters (about a second).
 *
 * @throws {Error} with the task's output when it fails or takes over 30 s
 */
export async function addUser(
  kvPath: string,
  username: string,
  password: string,
  displayName = username,
): Promise<void> {
  const run = await runTask(
    "user:add",
    [username, "--name", displayName],
    { KV_PATH: kvPath },
    `${password}\n`,
  );
  if (run.code !== 0) {
    throw new Error(
      `deno task user:add ${username} failed (${run.code}):\n${run.stdout}${run.stderr}`,
    );
  }
}

/** One JSON log line of the server (`consoleLogger`), without the worker prefix. */
export type LogLine = { level: string; message: string } & Record<string, unknown>;

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  /** `KV_PATH` for the server, e.g. from {@linkcode tempKvFile}. */
  kvPath: string;
  /** More environment variables (`COOKIE_SECURE`, `SESSION_IDLE_TIMEOUT`, ...). */
  env?: Record<string, string>;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Longest wait for every worker to answer `GET /healthz`; default 20 s. */
  startTimeoutMs?: number;
  /** Which task: `start` (default, `deno serve --parallel`) or `dev`. */
  task?: "start" | "dev";
  /**
   * How the address is given: `PORT` and `HOSTNAME` (default), or Deno's own
   * `DENO_SERVE_ADDRESS=tcp:127.0.0.1:PORT` (`start` only).
   */
  address?: "PORT" | "DENO_SERVE_ADDRESS";
  /** Arguments after `deno task TASK` (the `dev` task takes `--watch=PATH`). */
  args?: string[];
}

/** A running `deno task start` or `deno task dev`. */
export interface ServerProcess extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  origin: string;
  /** Its port. */
  port: number;
  /** Process id of `deno task`. */
  taskPid: number;
  /**
   * Process id of the server itself: the `deno serve` child of the task, workers included, or for
   * `dev` the child of `scripts/dev.ts`.
   */
  serverPid: number;
  /** Worker threads `deno serve --parallel` reported ("with N threads"); 1 for `dev`. */
  workers: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The JSON log lines written so far. */
  logs(): LogLine[];
  /** True once the task process has exited. */
  exited(): boolean;
  /**
   * Sends `signal` to the task (which forwards it to the server, as a process manager's signal
   * would) and waits up to `timeoutMs` for the exit.
   *
   * @throws {Error} when the process is still running after `timeoutMs` (it is then killed)
   */
  terminate(signal?: "SIGTERM" | "SIGINT", timeoutMs?: number): Promise<Deno.CommandStatus>;
  /** `kill -9` of the server process itself (no clean-up runs), then waits for the task to end. */
  crash(): Promise<Deno.CommandStatus>;
  /** Ends whatever still runs (SIGKILL) and reads the pipes to the end; idempotent. */
  stop(): Promise<void>;
}

/**
 * Children of `pid`, from `pgrep -P` (procps). Reading `/proc` directly would need
 * `--allow-all` in Deno; running a command needs only `--allow-run`.
 */
export async function childrenOf(pid: number): Promise<number[]> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-P", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split(/\s+/).filter(Boolean).map(Number);
}

/** Every process below `pid` (children, their children, ...), from {@linkcode childrenOf}. */
export async function descendantsOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (let level = await childrenOf(pid); level.length > 0;) {
    found.push(...level);
    level = (await Promise.all(level.map(childrenOf))).flat();
  }
  return found;
}

/** True while process `pid` exists (`kill -0`). */
export async function isRunning(pid: number): Promise<boolean> {
  const { success } = await new Deno.Command("kill", {
    args: ["-0", String(pid)],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Starts `deno task start` (or `dev`) on 127.0.0.1 and waits until `GET /healthz` answers 200
 * from every `deno serve --parallel` worker (so a signal sent next reaches all of them).
 *
 * @throws {Error} with the server's output when it exits early or never becomes healthy
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const port = options.port ?? freePort();
  const origin = `http://127.0.0.1:${port}`;
  const task = options.task ?? "start";
  const address: Record<string, string> = options.address === "DENO_SERVE_ADDRESS"
    ? { DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}` }
    : { PORT: String(port), HOSTNAME: "127.0.0.1" };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", task, ...options.args ?? []],
    cwd: PROJECT_ROOT,
    env: serverEnv({ ...options.env, KV_PATH: options.kvPath, ...address }),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let log = "";
  const append = (text: string) => void (log += text);
  const drained = Promise.all([collect(child.stdout, append), collect(child.stderr, append)]);
  let exitStatus: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => exitStatus = s);
  let serverPid = 0;

  // Everything below the task too: a process left behind by a killed task would outlive the test.
  const killAll = async () => {
    const below = exitStatus === undefined ? await descendantsOf(child.pid) : [];
    for (const pid of new Set([...below, serverPid])) if (pid !== 0) killQuietly(pid, "SIGKILL");
    if (exitStatus === undefined) killQuietly(child.pid, "SIGKILL");
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      if (exitStatus === undefined) {
        await killAll();
        await within(status, 10_000);
      }
      await within(drained, 10_000);
    })();

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    await waitUntilHealthy(origin, deadline, () => exitStatus);
    // Only now: before, the task's children include its short-lived scripts/task_flags.ts runs.
    const children = await childrenOf(child.pid);
    if (children.length !== 1) throw new Error(`deno task ${task} has children ${children}`);
    serverPid = children[0]!;
    if (task === "dev") {
      const servers = await childrenOf(serverPid);
      if (servers.length !== 1) throw new Error(`scripts/dev.ts has children ${servers}`);
      serverPid = servers[0]!;
    } else {
      await waitForEveryWorker(port, deadline, () => log);
    }
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- server output ---\n${log}`);
  }

  const workers = Number(/with (\d+) threads/.exec(log)?.[1] ?? 1);
  const server: ServerProcess = {
    origin,
    port,
    taskPid: child.pid,
    serverPid,
    workers,
    output: () => log,
    logs: () => parseLogLines(log),
    exited: () => exitStatus !== undefined,
    async terminate(signal = "SIGTERM", timeoutMs = 15_000) {
      if (exitStatus === undefined) killQuietly(child.pid, signal);
      const result = await within(status, timeoutMs);
      if (result === undefined) {
        await stop();
        throw new Error(`The server did not exit within ${timeoutMs} ms of ${signal}:\n${log}`);
      }
      await within(drained, 10_000);
      return result;
    },
    async crash() {
      killQuietly(serverPid, "SIGKILL");
      const result = await within(status, 10_000);
      if (result === undefined) {
        await stop();
        throw new Error(`deno task did not end within 10 s of its server's kill -9:\n${log}`);
      }
      await within(drained, 10_000);
      return result;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return server;
}

/** Parses the JSON lines of `output`, skipping `[serve-worker-N ]` prefixes and other text. */
export function parseLogLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split("\n")) {
    const start = line.indexOf("{");
    if (start === -1) continue;
    try {
      const value = JSON.parse(line.slice(start));
      if (typeof value === "object" && value !== null && typeof value.message === "string") {
        lines.push(value);
      }
    } catch {
      // Not a log line.
    }
  }
  return lines;
}

async function waitUntilHealthy(
  origin: string,
  deadline: number,
  exited: () => Deno.CommandStatus | undefined,
): Promise<void> {
  let lastProblem = "no answer";
  while (Date.now() < deadline) {
    const status = exited();
    if (status !== undefined) {
      throw new Error(`The server exited with code ${status.code} before it was healthy`);
    }
    try {
      const response = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
      lastProblem = `GET /healthz answered ${response.status}`;
    } catch (error) {
      lastProblem = String(error);
    }
    await sleep(50);
  }
  throw new Error(`The server at ${origin} was not healthy in time: ${lastProblem}`);
}

/**
 * The `deno serve --parallel` workers (`serve-worker-N`) that wrote a line of `output` for which
 * `matches` is true. The logger writes a batch of one worker's lines at once and deno serve
 * prefixes each write with the worker's name, so a line without a prefix belongs to the last
 * worker named.
 */
export function workersThatLogged(output: string, matches: (line: string) => boolean): Set<string> {
  const workers = new Set<string>();
  let writer = "main"; // without --parallel (one worker) lines carry no prefix
  for (const line of output.split("\n")) {
    writer = /^\[(serve-worker-\d+)\s*\]/.exec(line)?.[1] ?? writer;
    if (matches(line)) workers.add(writer);
  }
  return workers;
}

/** Options of {@linkcode untilEveryWorkerLogged}. */
export interface EveryWorkerOptions {
  /** How many workers `deno serve --parallel` runs. */
  workers: number;
  /** The server's output so far. */
  output: () => string;
  /** Which log line counts (e.g. the access log line of the request `send` makes). */
  matches: (line: string) => boolean;
  /** Sends one request over a new connection; may assert on the answer. */
  send: () => Promise<void>;
  /** Give up (throw) at this `Date.now()`. */
  deadline: number;
  /** Requests sent together; default 8. */
  batch?: number;
}

/**
 * Sends requests in concurrent batches, each over a new connection, until every worker has
 * logged a matching line; returns how many requests it sent.
 *
 * Which worker answers is not the test's choice. Deno 2.9.6's `deno serve --parallel` shares one
 * listening socket among its workers (`ss -ltn` shows one): a new connection wakes every idle
 * worker and the first to call accept() takes it. One at a time, the same worker can win every
 * race (a run sent 40 requests in a row, all answered by worker 0). A batch of connections
 * arriving together is spread by the kernel over whichever workers are not busy accepting or
 * answering, so every round gives each worker a chance; nothing else can steer a connection to a
 * worker. The rounds stop at `deadline` (generous: a round takes milliseconds), and the log is
 * read once more after the last one, since a line is written a moment after its response.
 *
 * @throws {Error} naming the workers seen when the deadline passes first
 */
export async function untilEveryWorkerLogged(options: EveryWorkerOptions): Promise<number> {
  const { workers, output, matches, send, deadline, batch = 8 } = options;
  const seen = () => workersThatLogged(output(), matches);
  let sent = 0;
  while (seen().size < workers) {
    if (Date.now() > deadline) {
      await sleep(100); // the lines of the last round
      if (seen().size >= workers) break;
      throw new Error(`Only ${[...seen()]} of ${workers} workers answered in time (${sent} sent)`);
    }
    await Promise.all(Array.from({ length: batch }, send));
    sent += batch;
    await sleep(5);
  }
  return sent;
}

/**
 * Waits until every `deno serve --parallel` worker has answered `GET /healthz` (seen by the
 * `[serve-worker-N ]` prefix of its access log line). Until then a worker is still evaluating
 * `main.ts`, and Deno 2.9.6 drops a SIGTERM that arrives in that window for that worker: it goes
 * on serving until a second signal.
 */
async function waitForEveryWorker(
  port: number,
  deadline: number,
  output: () => string,
): Promise<void> {
  // "deno serve: Listening on http://... with N threads" may come after a worker's first answer.
  let listening: RegExpExecArray | null;
  while ((listening = /Listening on \S+(?: with (\d+) threads)?/.exec(output())) === null) {
    if (Date.now() > deadline) throw new Error("deno serve never said it was listening");
    await sleep(10);
  }
  await untilEveryWorkerLogged({
    workers: Number(listening[1] ?? 1),
    output,
    matches: (line) => line.includes('"path":"/healthz"'),
    send: async () => {
      await rawRequest(
        port,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      );
    },
    deadline,
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers for tests that talk to a server over the socket with hand-carried cookies.

/** What a sign-in over the socket returned. */
export interface LoginOutcome {
  /** HTTP status, or 0 when no response arrived (connection cut). */
  status: number;
  /** The session cookie value set by a 303, if any. */
  token?: string;
  /** The full `Set-Cookie` header of the session cookie, if any. */
  setCookie?: string;
  /** Why no response arrived. */
  error?: string;
}

/** Reads the value and header of cookie `name` from a response's `Set-Cookie` headers. */
export function sessionCookieOf(
  response: Response,
  name: string,
): { value: string; header: string } | undefined {
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(";", 1)[0]!;
    const equals = pair.indexOf("=");
    if (pair.slice(0, equals) === name) return { value: pair.slice(equals + 1), header };
  }
  return undefined;
}

/** Headers of a same-origin request from a browser on `origin`, plus the session cookie. */
export function browserHeaders(
  origin: string,
  cookie?: { name: string; token: string },
  extra: Record<string, string> = {},
): Headers {
  const headers = new Headers({ Origin: origin, ...extra });
  if (cookie) headers.set("Cookie", `${cookie.name}=${cookie.token}`);
  return headers;
}

/** `POST /login` with a form body; never throws (a cut connection gives status 0). */
export async function login(
  origin: string,
  username: string,
  password: string,
  cookieName: string,
): Promise<LoginOutcome> {
  try {
    const response = await fetch(`${origin}/login`, {
      method: "POST",
      redirect: "manual",
      headers: browserHeaders(origin, undefined, {
        "Content-Type": "application/x-www-form-urlencoded",
      }),
      body: new URLSearchParams({ username, password }),
    });
    await response.body?.cancel();
    const cookie = sessionCookieOf(response, cookieName);
    return {
      status: response.status,
      ...(response.status === 303 && cookie?.value
        ? { token: cookie.value, setCookie: cookie.header }
        : {}),
    };
  } catch (error) {
    return { status: 0, error: String(error) };
  }
}

/** `GET /api/me` with the session cookie; returns the status and the JSON body. */
export async function whoAmI(
  origin: string,
  cookie: { name: string; token: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${origin}/api/me`, { headers: browserHeaders(origin, cookie) });
  return { status: response.status, body: await response.json() };
}
