/**
 * Starts the real server (`deno run main.ts --listen --dev`) as a subprocess on a free port with
 * a temporary KV file, for end-to-end tests that need a real socket and a real browser.
 *
 * @module
 */
import { collect, freePort, PROJECT_ROOT, serverEnv } from "../_process.ts";

export { freePort, PROJECT_ROOT };

/** A running server subprocess. */
export interface RunningServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  origin: string;
  /** The temporary KV file the server uses (removed by `stop`). */
  kvPath: string;
  /** Everything the server wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** Sends SIGTERM, waits for the exit (SIGKILL after `stopTimeoutMs`), removes the KV file. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode startServer}. */
export interface StartServerOptions {
  /** Extra environment variables for the server (e.g. `SESSION_IDLE_TIMEOUT`). */
  env?: Record<string, string>;
  /** How long to wait for `GET /healthz` to answer 200; default 20 s (first run compiles). */
  startTimeoutMs?: number;
  /** How long to wait for a clean exit after SIGTERM before SIGKILL; default 5 s. */
  stopTimeoutMs?: number;
  /**
   * Arguments after `deno`; default `run --allow-net --allow-env --allow-read --allow-write
   * main.ts --listen --dev`. The address is passed both as `PORT`/`HOSTNAME` and as
   * `DENO_SERVE_ADDRESS`, so `serve …` arguments work too.
   */
  args?: string[];
  /** Working directory; default the project root. */
  cwd?: string;
  /** An existing KV file to use instead of a fresh one (it is then not removed by `stop`). */
  kvPath?: string;
}

/**
 * Starts `main.ts --listen --dev` on a free port of 127.0.0.1 with a fresh KV file and waits
 * until `GET /healthz` answers 200. `--dev` names the cookie `sid` without `Secure`, which is what
 * a browser accepts over plain `http://127.0.0.1`.
 *
 * Always call `stop()` in a `finally`: it ends the process and drains its output pipes, which
 * Deno's resource sanitizer requires.
 *
 * @throws {Error} with the server's output when it exits early or never becomes healthy
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const { startTimeoutMs = 20_000, stopTimeoutMs = 5_000 } = options;
  const dir = await Deno.makeTempDir({ prefix: "deno_shop_e2e_" });
  const kvPath = options.kvPath ?? `${dir}/store.sqlite3`;
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;

  const env = serverEnv({
    KV_PATH: kvPath,
    ...options.env,
    PORT: String(port),
    HOSTNAME: "127.0.0.1",
    DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
  });

  const child = new Deno.Command(Deno.execPath(), {
    args: options.args ?? [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "main.ts",
      "--listen",
      "--dev",
    ],
    cwd: options.cwd ?? PROJECT_ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let log = "";
  const append = (text: string) => void (log += text);
  const drained = Promise.all([collect(child.stdout, append), collect(child.stderr, append)]);
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => (exited = s));

  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      if (exited === undefined) {
        try {
          child.kill("SIGTERM");
        } catch {
          // Already gone between the check and the signal.
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Exited just in time.
          }
        }, stopTimeoutMs);
        try {
          await status;
        } finally {
          clearTimeout(timer);
        }
      }
      await drained;
      await Deno.remove(dir, { recursive: true });
      return exited!;
    })();

  const server: RunningServer = { origin, kvPath, output: () => log, stop };
  try {
    await waitUntilHealthy(origin, startTimeoutMs, () => exited);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- server output ---\n${log}`);
  }
  return server;
}

async function waitUntilHealthy(
  origin: string,
  timeoutMs: number,
  exited: () => Deno.CommandStatus | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "no answer";
  while (Date.now() < deadline) {
    const status = exited();
    if (status !== undefined) {
      throw new Error(`The server exited with code ${status.code} before it was healthy`);
    }
    try {
      const response = await fetch(`${origin}/healthz`);
      await response.body?.cancel();
      if (response.status === 200) return;
      lastProblem = `GET /healthz answered ${response.status}`;
    } catch (error) {
      lastProblem = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`The server at ${origin} was not healthy after ${timeoutMs} ms: ${lastProblem}`);
}
