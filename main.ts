/**
 * Entry point: read the settings, open Deno KV, seed the catalogue, build the app.
 *
 * Two ways to run it, one module:
 *
 * - `deno serve --parallel main.ts` (`deno task start`, Deno Deploy): Deno serves the default
 *   export with one worker per core and drains in-flight requests on SIGINT/SIGTERM. The listen
 *   address comes from `deno serve` (`--host`/`--port`, which `deno task start` sets from
 *   `HOSTNAME`/`PORT`, or `DENO_SERVE_ADDRESS=tcp:HOST:PORT`).
 * - `deno run main.ts --listen` (`deno task dev`, through `scripts/dev.ts`): this module calls
 *   `Deno.serve` itself on `HOSTNAME`:`PORT`, shuts down cleanly on SIGINT/SIGTERM and exits.
 *   `--dev` selects the development cookie defaults; `--until-stdin-closes` also stops it when
 *   standard input closes. (Deno prints a hint about `deno serve` here; it is expected.)
 *
 * On Deno Deploy (`DENO_DEPLOYMENT_ID`/`DENO_DEPLOY` set) the platform KV is opened with no
 * path and nothing is written to the filesystem. In every mode, KV is closed when the process
 * ends.
 *
 * @module
 */
import { createApp } from "./src/app.ts";
import { type Config, ConfigError, loadConfig } from "./src/config.ts";
import { consoleLogger } from "./src/logger.ts";
import { openKv } from "./src/open_kv.ts";
import { seedCatalogue } from "./src/products.ts";
import { loadStaticFiles } from "./src/static_files.ts";

const STATIC_DIR = decodeURIComponent(new URL("./static/", import.meta.url).pathname);

function readConfig(): Config {
  try {
    return loadConfig(Deno.env.toObject(), Deno.args.includes("--dev") ? "dev" : "production");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
}

/** Opens KV; a `KV_PATH` it cannot use stops the process with one line saying why. */
async function openConfiguredKv(config: Config): Promise<Deno.Kv> {
  try {
    return await openKv(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
}

const config = readConfig();
const kv = await openConfiguredKv(config);
// Idempotent: several workers or instances starting at once seed the catalogue once.
await seedCatalogue(kv);
const { app, services } = createApp({ kv, config, staticFiles: await loadStaticFiles(STATIC_DIR) });

// KV is closed at exit however the process was asked to stop, after the server drained.
globalThis.addEventListener("unload", () => {
  kv.close();
  consoleLogger.info("KV closed");
});

/** The request handler, for `deno serve` and Deno Deploy. */
export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;

/** Serves on `HOSTNAME`:`PORT` until SIGINT or SIGTERM, then lets in-flight requests finish. */
async function listen(): Promise<void> {
  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) =>
      consoleLogger.info("listening", { url: `http://${hostname}:${port}/`, pid: Deno.pid }),
  }, app.fetch);

  // Process managers and Deno Deploy send SIGINT/SIGTERM and kill a few seconds later: stop
  // accepting, let in-flight requests finish, then exit so KV is closed.
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop(signal));
  }
  // `deno task dev` (scripts/dev.ts) hands this process a pipe as standard input and never writes
  // to it: when it closes, the task died without stopping the server, which then stops too.
  if (Deno.args.includes("--until-stdin-closes")) {
    (async () => {
      const buffer = new Uint8Array(256);
      try {
        while (await Deno.stdin.read(buffer) !== null);
      } finally {
        stop("stdin closed");
      }
    })();
  }
  const signal = await stopped;
  consoleLogger.info("shutting down", { signal });
  await server.shutdown();
  await services.hasher.close?.(); // idle hashing Workers would hold the exit for a second
  consoleLogger.info("server stopped");
  // Exit now: nothing left may keep the process alive (a read of the lifeline above would).
  // Deno.exit dispatches "unload", which closes KV and writes the last log lines. The signal
  // listeners stay to the end: a second signal (a terminal's Ctrl-C reaches `deno task` and
  // this process both) would otherwise kill the process before those lines are written.
  Deno.exit(0);
}

// Deno Deploy serves the default export itself when it sets DENO_AUTO_SERVE; an older runtime
// that does not is given a server here (it ignores the port and routes traffic to it).
const deployWithoutAutoServe = config.onDeploy && Deno.env.get("DENO_AUTO_SERVE") === undefined;
if (import.meta.main && (Deno.args.includes("--listen") || deployWithoutAutoServe)) await listen();
