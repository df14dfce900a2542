/**
 * A request id for every request, always made here: never the one a client sent, so log lines
 * carry only ids the server chose, each one unique. The id goes back in `X-Request-Id` and on
 * error pages, so a user can quote it.
 *
 * A client's own `X-Request-Id` (a proxy's or a tracing tool's) is only logged, beside ours, as
 * `clientRequestId`, and only when it is well-formed: see {@linkcode clientRequestId}.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";

/** The request and response header that carries a request id. */
export const REQUEST_ID_HEADER = "X-Request-Id";

// Letters, digits and the punctuation of UUIDs, base64 and trace ids; nothing that could end a
// JSON string, a log line or a terminal escape.
const WELL_FORMED_ID = /^[A-Za-z0-9._:=+/-]{1,128}$/;

/**
 * The request id a client sent, when it is 1 to 128 letters, digits or `. _ : = + / -`;
 * otherwise undefined. Only ever logged as the client's claim, never used as our id.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { clientRequestId } from "./request_id.ts";
 *
 * strictEqual(clientRequestId("f3b1c0de-1234"), "f3b1c0de-1234");
 * strictEqual(clientRequestId('x"\n{"forged":true}'), undefined);
 * strictEqual(clientRequestId(undefined), undefined);
 * ```
 */
export function clientRequestId(header: string | null | undefined): string | undefined {
  return typeof header === "string" && WELL_FORMED_ID.test(header) ? header : undefined;
}

/**
 * Gives each request a fresh id (`requestId` on the context and the `X-Request-Id` response
 * header). Unlike `hono/request-id`, a client-sent `X-Request-Id` is never adopted.
 *
 * @param options.generate makes an id; defaults to `crypto.randomUUID()`
 */
export function requestId(
  options: { generate?: () => string } = {},
): MiddlewareHandler<AppEnv> {
  const generate = options.generate ?? (() => crypto.randomUUID());
  return function requestId(c, next) {
    const id = generate();
    c.set("requestId", id);
    c.header(REQUEST_ID_HEADER, id);
    return next();
  };
}
