/**
 * Entry point: read the settings, open Deno KV, build the app, serve it, and shut down cleanly.
 *
 * `deno task dev` runs this file with `--dev` (plain-HTTP cookie defaults, file watching);
 * `deno task start` runs it for production.
 *
 * @module
 */
import { ConfigError, loadConfig } from "./src/config.ts";
import { createApp } from "./src/app.ts";
import { loadStaticFiles } from "./src/static_files.ts";
import { seedCatalogue } from "./src/products.ts";
import { openKv } from "./src/open_kv.ts";

const STATIC_DIR = decodeURIComponent(new URL("./static/", import.meta.url).pathname);

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(Deno.env.toObject(), Deno.args.includes("--dev") ? "dev" : "production");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
  const kv = await openKv(config);
  await seedCatalogue(kv);
  const { app } = createApp({ kv, config, staticFiles: await loadStaticFiles(STATIC_DIR) });

  const server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => console.log(`Listening on http://${hostname}:${port}/`),
  }, app.fetch);

  // Deno Deploy and process managers send SIGINT/SIGTERM and kill a few seconds later: stop
  // accepting, let in-flight requests finish, then close KV so no commit is cut in half.
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const listener = () => stop(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  const signal = await stopped;
  console.log(`${signal} received: finishing in-flight requests`);
  await server.shutdown();
  kv.close();
  for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  console.log("Server stopped, KV closed");
}

if (import.meta.main) await main();
