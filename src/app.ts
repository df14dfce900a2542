/**
 * Builds the Hono application from its dependencies: middleware order, routes, error pages.
 *
 * Order matters and reads top to bottom: request id and access log wrap everything; security
 * headers go on every response; static files and the health check need no session; then the
 * body deadline and size, the same-origin rule and the session lookup run before any route.
 *
 * @module
 */
import {
  KvBusyError,
  sameOrigin,
  SessionConflictError,
  sessionMiddleware,
  SessionTooLargeError,
} from "@kvsession/hono";
import { Hono } from "hono";
import type { Context, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./app_env.ts";
import type { Config } from "./config.ts";
import { metaKey } from "./kv_keys.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import type { ThrottleLimits } from "./login_throttle.ts";
import { accessLog, loggablePath } from "./middleware/access_log.ts";
import {
  BODY_TIMEOUT_MESSAGE,
  bodyDeadline,
  BodyTimeoutError,
  DEFAULT_BODY_TIMEOUT_MS,
} from "./middleware/body_deadline.ts";
import { requestId } from "./middleware/request_id.ts";
import { securityHeaders } from "./middleware/security_headers.ts";
import { HashBusyError, type PasswordHasher } from "./passwords.ts";
import { accountRoutes } from "./routes/account.ts";
import { apiRoutes } from "./routes/api.ts";
import { authRoutes } from "./routes/auth.ts";
import { pageRoutes } from "./routes/pages.ts";
import { shopRoutes } from "./routes/shop.ts";
import { staticRoutes } from "./routes/static.ts";
import { createServices, type Services } from "./services.ts";
import type { StaticFiles } from "./static_files.ts";
import { recordSessionOutcome } from "./telemetry.ts";
import { errorPage } from "./views/error.ts";

/** Everything the app needs from the outside world, passed in so tests can swap it. */
export interface AppDeps {
  /** The open Deno KV database. */
  kv: Deno.Kv;
  /** Validated settings. */
  config: Config;
  /** Files served under `/static/`. */
  staticFiles: StaticFiles;
  /** Clock in milliseconds since the epoch; defaults to `Date.now`. */
  now?: () => number;
  /** Password hasher; defaults to scrypt at OWASP's parameters. */
  hasher?: PasswordHasher;
  /** Sign-in throttling limits. */
  throttleLimits?: ThrottleLimits;
  /** Where log lines go; defaults to JSON on the console. */
  logger?: Logger;
  /**
   * Milliseconds a request body may take to arrive in full before the request is answered 408
   * (default 10 s); tests shorten it.
   */
  bodyTimeoutMs?: number;
}

/** Largest request body accepted: forms and JSON here are tiny. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The app and the services it was built with (tests and tools use the latter). */
export interface BuiltApp {
  /** The Hono application; `app.fetch` is the request handler. */
  app: Hono<AppEnv>;
  /** Its services. */
  services: Services;
}

/** Creates the application. */
export function createApp(deps: AppDeps): BuiltApp {
  const logger = deps.logger ?? consoleLogger;
  const services = createServices(deps);
  const { config, sessions } = services;
  const app = new Hono<AppEnv>();

  app.use(requestId());
  app.use(accessLog(logger));
  app.use(securityHeaders({ hsts: config.cookieSecure }));

  app.route("/static", staticRoutes(deps.staticFiles));
  app.get("/healthz", async (c) => {
    c.header("Cache-Control", "no-store");
    try {
      // A cheap read proves KV answers; the key need not exist.
      await deps.kv.get(metaKey("healthz"));
      return c.json({ status: "ok", kv: "ok" });
    } catch (error) {
      logger.error("health check failed", { requestId: c.get("requestId"), error: String(error) });
      return c.json({ status: "error", kv: "unreachable" }, 503);
    }
  });

  // A slow body (half sent, then nothing) must not hold the connection without end.
  const bodyTimer = bodyDeadline({ timeoutMs: deps.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS });
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => renderError(c, 413, "The request body is too large."),
  });
  // bodyLimit reads a body sent without Content-Length (chunked) itself, before any route. When
  // that read fails (the client went away mid-upload, or Deno cut the body at shutdown) it is a
  // bad request, not a bug: answer 400 instead of an unhandled 500 with a logged stack.
  const readLimitedBody = async (c: Context<AppEnv>, next: Next) => {
    let handedOn = false;
    try {
      return await limitBody(c, () => {
        handedOn = true;
        return next();
      });
    } catch (error) {
      if (handedOn || error instanceof HTTPException) throw error;
      if (error instanceof BodyTimeoutError) {
        throw new HTTPException(408, { message: BODY_TIMEOUT_MESSAGE });
      }
      throw new HTTPException(400, { message: "The request body could not be read." });
    }
  };
  app.use(function readBody(c, next) {
    // No route reads a GET or HEAD body, so there is nothing to limit (and touching the body
    // stream costs every page request). Pass-through middleware here return next()'s promise
    // instead of being async: an async frame a request, per middleware, adds up.
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    return bodyTimer(c, () => readLimitedBody(c, next) as Promise<void>);
  });
  app.use(sameOrigin({
    origin: config.publicOrigin,
    onRejected: (c) =>
      renderError(
        c as Context<AppEnv>,
        403,
        "This request came from another site and was refused.",
      ),
  }));
  app.use(sessionMiddleware({
    store: sessions,
    secure: config.cookieSecure,
    // Only a page can show a flash message: an API call or a form POST taking it would lose it
    // before the page that the POST redirects to.
    takeFlash: (c) => c.req.method === "GET" && !c.req.path.startsWith("/api/"),
    onLookup: recordSessionOutcome,
  }));
  app.use(function currentUser(c, next) {
    // The user snapshot taken at sign-in, so pages need no second KV read.
    c.set("user", c.get("session")?.data.user ?? null);
    return next();
  });

  app.route("/", authRoutes(services));
  app.route("/", pageRoutes());
  app.route("/", shopRoutes(services));
  app.route("/", accountRoutes(services));
  app.route("/api", apiRoutes(services));

  app.notFound((c) => renderError(c, 404, "There is no page at this address."));
  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) {
      return renderError(c, error.status, error.message || "The request could not be handled.");
    }
    // The session cannot grow past one KV value: refuse the change, keep the session usable.
    if (error instanceof SessionTooLargeError) {
      return renderError(c, 413, "Your session cannot hold more data; nothing was changed.");
    }
    if (
      error instanceof HashBusyError || error instanceof KvBusyError ||
      error instanceof SessionConflictError
    ) {
      c.header("Retry-After", String(error instanceof HashBusyError ? error.retryAfterSeconds : 1));
      return renderError(c, 503, "The server is busy. Please try again in a moment.");
    }
    // Bugs: the stack goes to the log with the request id, the client sees only the id.
    logger.error("unhandled error", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: loggablePath(c.req.path),
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      stack: error instanceof Error ? error.stack : undefined,
    });
    return renderError(c, 500, "Something went wrong on our side. Please try again.");
  });

  return { app, services };
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Not signed in",
  403: "Forbidden",
  404: "Not found",
  408: "Request timeout",
  409: "Conflict",
  413: "Request too large",
  429: "Too many requests",
  500: "Server error",
  503: "Service unavailable",
};

/** Answers an error as JSON under `/api/` and as a page elsewhere. */
function renderError(c: Context<AppEnv>, status: number, message: string): Response {
  const title = TITLES[status] ?? "Error";
  c.status(status as 400);
  if (c.req.path.startsWith("/api/")) {
    return c.json({ error: title.toLowerCase().replaceAll(" ", "_"), message });
  }
  // From the session too: an error thrown inside the session middleware (say, KV busy while
  // taking a flash message) comes before `user` is set.
  const user = c.get("user") ?? c.get("session")?.data.user ?? null;
  // A page that shows who is signed in must not be kept by a cache, error pages included.
  if (user !== null) c.header("Cache-Control", "no-store");
  const page = errorPage({ user }, title, message, c.get("requestId"));
  // A plain string (see layout()), so onError answers synchronously.
  return c.html(page);
}
