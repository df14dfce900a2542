/**
 * One structured log line per request: method, path without query string, status, duration,
 * request id and the session outcome. Never headers, cookies or bodies.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";
import type { Logger } from "../logger.ts";

/** Logs each request after it is answered. */
export function accessLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async function accessLog(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      logger.info("request", {
        requestId: c.get("requestId"),
        method: c.req.method,
        // The query string may carry anything a client typed; the path is enough to debug.
        path: c.req.path.slice(0, 200),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        session: c.get("sessionOutcome") ?? "none",
      });
    }
  };
}
