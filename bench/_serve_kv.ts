/**
 * The start-up every benchmark server over a KV file shares: open `KV_PATH`, serve on
 * `HOSTNAME`:`PORT` (defaults 127.0.0.1 and a free port), and on SIGTERM stop serving, close KV
 * and exit.
 *
 * @module
 */

/** Serves `makeApp(kv)` over the KV file named by `KV_PATH`; `name` labels the listen line. */
export async function serveOverKvFile(
  name: string,
  makeApp: (kv: Deno.Kv) => { fetch: (request: Request) => Response | Promise<Response> },
): Promise<void> {
  const path = Deno.env.get("KV_PATH");
  if (!path) {
    console.error("Set KV_PATH to the KV file to use");
    Deno.exit(2);
  }
  const kv = await Deno.openKv(path);
  const server = Deno.serve({
    hostname: Deno.env.get("HOSTNAME") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "0"),
    onListen: ({ hostname, port }) => console.error(`${name} server on ${hostname}:${port}`),
  }, makeApp(kv).fetch);
  Deno.addSignalListener("SIGTERM", () => {
    server.shutdown().then(() => kv.close()).then(() => Deno.exit(0));
  });
}
