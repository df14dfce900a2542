/**
 * One structured log line per request: method, path without query string, status, duration,
 * request id and the session outcome, plus a client's own request id when it is well-formed.
 * Never cookies, bodies or other headers.
 *
 * Every value a client chose is escaped twice over: the logger JSON-encodes each field (so no
 * CR, LF or quote can end the line or the string), and the path has its invisible and control
 * characters percent-encoded (so no line or paragraph separator, bidirectional override or
 * C1 control reaches a viewer that is not JSON-aware, such as a terminal running `tail -f`).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";
import type { Logger } from "../logger.ts";
import { clientRequestId, REQUEST_ID_HEADER } from "./request_id.ts";

// Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), line and paragraph
// separators.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const UNPRINTABLE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * The request path as logged: at most 200 characters, invisible and control characters
 * percent-encoded, and a surrogate left alone by the cut (or by a malformed escape) replaced
 * with U+FFFD.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { loggablePath } from "./access_log.ts";
 *
 * strictEqual(loggablePath("/cart"), "/cart");
 * strictEqual(loggablePath("/a\u2028b\u202Ec\n"), "/a%E2%80%A8b%E2%80%AEc%0A");
 * ```
 */
export function loggablePath(path: string): string {
  const cut = path.slice(0, 200).toWellFormed();
  return UNPRINTABLE.test(cut) ? cut.replace(UNPRINTABLE_ALL, encodeURIComponent) : cut;
}

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
        path: loggablePath(c.req.path),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        session: c.get("sessionOutcome") ?? "none",
        // Only the client's claim, beside our own id; left out when absent or malformed.
        clientRequestId: clientRequestId(c.req.header(REQUEST_ID_HEADER)),
      });
    }
  };
}
