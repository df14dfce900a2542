/**
 * Baseline servers for the load benchmark: the fastest a Deno server answering a small HTML
 * page can be, bare (`deno`) and through a Hono app with one route (`hono`). Every path answers
 * the same page, so the runner can drive it with the same wrk script as the real server; the
 * Hono one also answers `GET /tiny` with {@linkcode TINY_TEXT}, the response of the package
 * section (bench/package_server.ts without a cookie).
 *
 * Usage: `PORT=8001 HOSTNAME=127.0.0.1 deno run --allow-net --allow-env bench/baseline_server.ts deno|hono`
 *
 * @module
 */
import { Hono } from "hono";

/** The page both baselines answer: about the size of a small server-rendered page. */
export const BASELINE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Dashboard</title></head>
<body><main><h1>Welcome, Bench User!</h1><p>Your cart holds 0 items.</p></main></body>
</html>
`;

/**
 * The tiny text every server of the package section answers (bench/package_server.ts, the
 * `/tiny` routes of bench/kv_get_server.ts and of this file, bench/hono_sessions_server.ts):
 * one short line, so the figures show what the session layer adds and not a page.
 */
export const TINY_TEXT = "Hello, signed-in user!\n";

const HTML_TYPE = "text/html; charset=UTF-8";

/** The handler for `kind`: a bare `Deno.serve` function or a Hono app's `fetch`. */
export function baselineHandler(kind: "deno" | "hono"): Deno.ServeHandler {
  if (kind === "deno") {
    return () => new Response(BASELINE_PAGE, { headers: { "Content-Type": HTML_TYPE } });
  }
  const app = new Hono();
  app.get("/tiny", (c) => c.text(TINY_TEXT));
  app.get("*", (c) => c.html(BASELINE_PAGE));
  return app.fetch;
}

if (import.meta.main) {
  const kind = Deno.args[0];
  if (kind !== "deno" && kind !== "hono") {
    console.error(`Unknown baseline ${JSON.stringify(kind)}: expected "deno" or "hono"`);
    Deno.exit(2);
  }
  Deno.serve({
    hostname: Deno.env.get("HOSTNAME") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? "0"),
    onListen: ({ hostname, port }) => console.error(`${kind} baseline on ${hostname}:${port}`),
  }, baselineHandler(kind));
}
