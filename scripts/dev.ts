/**
 * `deno task dev`: runs the server (`main.ts --listen --dev`) as a child process, starts a new one
 * when a source file changes, and exits once that server has shut down cleanly after SIGTERM or
 * SIGINT.
 *
 * Deno's own `deno run --watch` cannot do the last part. Since Deno 2.7.7 its watcher restarts a
 * program by dispatching a SIGTERM to the program's signal listeners, so the server cannot tell a
 * restart from a real SIGTERM; after a real one, the server shuts down cleanly and the watcher
 * then waits for a file change, forever (`timeout 40 deno task dev` ran for half an hour).
 * `Deno.exit()` ends only the watched program, not the watcher. Here the watcher is this process:
 * a signal is always real, and the server is a plain process that exits when it stops.
 *
 * - Watches `main.ts`, `src/`, `static/` and `deno.json`, plus every `--watch=PATH[,PATH]`
 *   argument (folders inside the project; a test watches a scratch folder).
 * - On a change: SIGTERM to the server (it lets requests finish and closes KV), wait for its exit,
 *   start a new one. A server that stops by itself (a bad setting, a crash) is started again on
 *   the next change.
 * - On SIGTERM or SIGINT: SIGTERM to the server, wait for its exit, exit with its exit code.
 * - The server's standard input is a pipe from this process: if this process dies without
 *   cleaning up (`kill -9`), the pipe closes and the server shuts down too (`--until-stdin-closes`).
 * - Settings are validated first (a bad one stops the task with one line naming it), and the
 *   server gets read and write access to the KV file's folder only (see `task_flags.ts`).
 *
 * @module
 */
import { ConfigError } from "../src/config.ts";
import { taskFlags } from "./task_flags.ts";

/** What `deno task dev` watches, relative to the project folder. */
export const WATCHED_PATHS = ["main.ts", "src", "static", "deno.json"];

/** Changes closer together than this make one restart (an editor's save is several events). */
const DEBOUNCE_MS = 100;
/** Longest wait for the server's clean shutdown before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

/** Waits for `child` to exit after SIGTERM; kills it after {@linkcode STOP_TIMEOUT_MS}. */
async function stopServer(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  const timer = setTimeout(() => {
    console.error(`dev: the server did not stop within ${STOP_TIMEOUT_MS} ms; killing it`);
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited just in time.
    }
  }, STOP_TIMEOUT_MS);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  let flags: string[];
  try {
    flags = taskFlags("kv", Deno.env.toObject(), "dev", Deno.cwd());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 1;
  }
  const extra = Deno.args.filter((arg) => arg.startsWith("--watch="))
    .flatMap((arg) => arg.slice("--watch=".length).split(",")).filter(Boolean);
  const watched: string[] = [];
  for (const path of [...WATCHED_PATHS, ...extra]) {
    try {
      await Deno.stat(path);
      watched.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  let server: Deno.ChildProcess | undefined;
  let stopping = false;
  const start = () => {
    // "deno" from PATH: the task may run only that (`--allow-run=deno`).
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        ...flags,
        "main.ts",
        "--listen",
        "--dev",
        "--until-stdin-closes",
      ],
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    // Never written to: it only has to stay open while this process lives.
    const lifeline = child.stdin.getWriter();
    child.status.then(async (status) => {
      await lifeline.close().catch(() => {});
      if (server === child && !stopping) {
        console.error(`dev: the server exited with code ${status.code}; waiting for a change`);
        server = undefined;
      }
    });
    server = child;
  };

  // One chain of stops and starts, so a change during a restart waits for it.
  let queue: Promise<unknown> = Promise.resolve();
  const restart = (reason: string) => {
    queue = queue.then(async () => {
      if (stopping) return;
      console.error(`dev: ${reason}; restarting`);
      const running = server;
      server = undefined;
      if (running !== undefined) await stopServer(running);
      if (!stopping) start();
    });
  };

  const watcher = Deno.watchFs(watched, { recursive: true });
  const { promise: stopSignal, resolve: stop } = Promise.withResolvers<Deno.Signal>();
  // Kept to the end: a second signal (Ctrl-C reaches deno task, this process and the server)
  // must not kill this process while the server finishes its clean shutdown.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop(signal));
  }

  start();
  const watching = (async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    for await (const event of watcher) {
      if (event.kind === "access" || event.kind === "other") continue;
      const path = event.paths[0] ?? "a file";
      clearTimeout(timer);
      timer = setTimeout(() => restart(`${path} changed`), DEBOUNCE_MS);
    }
    clearTimeout(timer);
  })();

  await stopSignal;
  stopping = true;
  watcher.close();
  await watching;
  await queue;
  const running = server;
  return running === undefined ? 0 : (await stopServer(running)).code;
}

if (import.meta.main) Deno.exit(await main());
