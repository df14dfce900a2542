/**
 * A deadline for request bodies: a client that sends half a body and then nothing (a slow-body
 * attack) would otherwise hold its connection, and a request slot, for as long as it likes.
 *
 * The body must have arrived in full within the deadline from the moment the request reaches
 * this middleware. Past it, whoever is reading the body gets a {@linkcode BodyTimeoutError}
 * (`readForm`, `readJsonObject` and the body-size limit answer it with 408) and the body stream
 * is cancelled, so the server stops reading from that connection.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app_env.ts";

/** Default deadline for a request body: forms and JSON here are a few KiB at most. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** What 408 answers say. */
export const BODY_TIMEOUT_MESSAGE = "The request body took too long to arrive.";

/** The reason a body read fails once the deadline has passed. */
export class BodyTimeoutError extends Error {
  /** Creates the error for a deadline of `timeoutMs`. */
  constructor(readonly timeoutMs: number) {
    super(`The request body did not arrive within ${timeoutMs} ms`);
    this.name = "BodyTimeoutError";
  }
}

/**
 * Replaces the request body with one that fails with {@linkcode BodyTimeoutError} when it has
 * not been read to its end within `timeoutMs`. Requests without a body pass untouched; the
 * timer is cleared when the body ends or the request is answered, whichever comes first.
 *
 * @param options.timeoutMs the deadline in milliseconds, more than 0
 * @throws {RangeError} for a deadline that is not a positive number
 */
export function bodyDeadline(options: { timeoutMs: number }): MiddlewareHandler<AppEnv> {
  const { timeoutMs } = options;
  if (!(typeof timeoutMs === "number" && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    throw new RangeError(`Body timeout ${JSON.stringify(timeoutMs)} is not a positive number`);
  }
  return async function bodyDeadline(c, next) {
    const source = c.req.raw.body;
    // Only methods whose bodies routes read. Others (TRACE, a lowercase "get") cannot even be
    // rebuilt into a Request with a body, and no route reads them.
    if (source === null || !BODY_METHODS.has(c.req.method)) return await next();
    const reader = source.getReader();
    let ended = false;
    let timedOut = false;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const end = () => {
      ended = true;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      if (ended) return;
      end();
      timedOut = true;
      const error = new BodyTimeoutError(timeoutMs);
      controller.error(error);
      // Cancelling the request body tells Deno to stop reading it from the socket.
      reader.cancel(error).catch(() => {});
    }, timeoutMs);
    const body = new ReadableStream<Uint8Array>({
      start(streamController) {
        controller = streamController;
      },
      async pull(streamController) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (!ended) {
            end();
            streamController.error(error);
          }
          return;
        }
        if (ended) return; // the deadline passed while this read waited
        if (chunk.done) {
          end();
          streamController.close();
        } else streamController.enqueue(chunk.value);
      },
      cancel(reason) {
        end();
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    const { url, method, headers } = c.req.raw;
    // Not `new Request(c.req.raw, ...)`: that copies `signal`, and touching a Deno.serve
    // request's signal prints a deprecation warning; nothing here listens to it.
    c.req.raw = new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
    try {
      // Hand back what `next` returned: an inner middleware may answer by returning a Response
      // (as `bodyLimit` does for 413) rather than by setting `c.res`.
      return await next();
    } finally {
      // RFC 9110 15.5.9: a 408 closes the connection; the rest of that body is never read, so
      // the connection could not carry another request anyway. Set here, the header also goes
      // on the error page `app.onError` renders after a read failure is thrown through.
      if (timedOut) c.header("Connection", "close");
      if (!ended) {
        // Answered without reading the whole body: nothing more of it is wanted.
        end();
        reader.cancel().catch(() => {});
      }
    }
  };
}
