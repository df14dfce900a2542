/**
 * `GET /static/*`: the files loaded at start-up, with validators and caching.
 *
 * @module
 */
import { Hono } from "hono";
import type { StaticFiles } from "../static_files.ts";

/** Routes serving `files`; mount under `/static`. */
export function staticRoutes(files: StaticFiles): Hono {
  const routes = new Hono();
  // Hono answers HEAD through the GET route and drops the body.
  routes.get("/*", (c) => {
    // The path is a map key, never joined onto a folder, so `..` cannot escape.
    const name = c.req.path.slice(c.req.path.indexOf("/static/") + "/static/".length);
    const file = files.get(name);
    if (file === undefined) return c.notFound();
    c.header("ETag", file.etag);
    c.header("Cache-Control", "public, max-age=3600");
    if (c.req.header("If-None-Match") === file.etag) return c.body(null, 304);
    c.header("Content-Type", file.contentType);
    return c.body(file.body);
  });
  return routes;
}
