/**
 * Every setting the server reads, parsed and validated once at start-up.
 *
 * `loadConfig` takes the environment as a plain object so tests can pass any mix of values; only
 * `main.ts` hands it the real `Deno.env`.
 *
 * @module
 */
import { MAX_COOKIE_AGE_SECONDS } from "@kvsession/hono/cookies";
import { defaultHashConcurrency } from "./passwords.ts";

/** Validated server settings. */
export interface Config {
  /** TCP port to listen on (`PORT`, default 8000; 0 picks a free one). */
  port: number;
  /** Interface to bind (`HOSTNAME`, default `0.0.0.0`). */
  hostname: string;
  /**
   * Where Deno KV lives (`KV_PATH`): a file path, `:memory:`, an `http(s)://` denokv URL, or
   * `undefined` for the platform's default database (Deno Deploy).
   */
  kvPath: string | undefined;
  /** Seconds of inactivity after which a session ends (`SESSION_IDLE_TIMEOUT`). */
  idleTimeoutSeconds: number;
  /** Seconds after sign-in after which a session ends regardless (`SESSION_ABSOLUTE_TIMEOUT`). */
  absoluteTimeoutSeconds: number;
  /**
   * Mark cookies `Secure` and use the `__Host-` prefix (`COOKIE_SECURE`; by default on in
   * production and off in dev, or on exactly when `PUBLIC_ORIGIN` is `https:` when that is set).
   */
  cookieSecure: boolean;
  /**
   * The origin browsers reach the site at (`PUBLIC_ORIGIN`, e.g. `https://shop.example.com`),
   * serialised as browsers send it in `Origin`. When set, the same-origin check compares
   * `Origin` with it instead of with the `Host` the request carries; required in production
   * when `TRUST_PROXY_HEADER` is set (behind a proxy).
   */
  publicOrigin: string | undefined;
  /**
   * Request header that carries the client address set by a trusted reverse proxy
   * (`TRUST_PROXY_HEADER`, e.g. `X-Forwarded-For`); unset means the socket address is used.
   */
  trustProxyHeader: string | undefined;
  /**
   * Password hashes computed at once by this process or `deno serve` worker (`HASH_CONCURRENCY`,
   * 1 to 64; default one less than the CPU count, at least 1, so requests keep a core).
   */
  hashConcurrency: number;
  /** True when running on Deno Deploy (it sets `DENO_DEPLOYMENT_ID` or `DENO_DEPLOY`). */
  onDeploy: boolean;
}

/** Thrown for a setting that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  /** Creates the error for the environment variable `variable`. */
  constructor(variable: string, problem: string) {
    super(`Invalid setting ${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** Default local KV file, relative to the working directory (listed in `.gitignore`). */
export const DEFAULT_KV_PATH = "data/store.sqlite3";

/** How the process was started: `dev` relaxes defaults that only make sense over HTTPS. */
export type RunMode = "dev" | "production";

/**
 * Reads and validates the settings from `env`.
 *
 * @param env environment variables, e.g. `Deno.env.toObject()`
 * @param mode `dev` makes `COOKIE_SECURE` default to off (plain http://localhost)
 * @throws {ConfigError} naming the first bad variable
 *
 * @example
 * ```ts
 * import { strictEqual, throws } from "node:assert/strict";
 * import { loadConfig } from "./config.ts";
 *
 * strictEqual(loadConfig({ PORT: "9000" }, "dev").port, 9000);
 * throws(() => loadConfig({ PORT: "http" }, "dev"), /PORT/);
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>, mode: RunMode): Config {
  // Deno Deploy Classic sets DENO_DEPLOYMENT_ID; the current Deno Deploy also sets DENO_DEPLOY.
  const onDeploy = nonEmpty(env.DENO_DEPLOYMENT_ID) !== undefined ||
    nonEmpty(env.DENO_DEPLOY) !== undefined;
  const idleTimeoutSeconds = wholeSeconds(env, "SESSION_IDLE_TIMEOUT", 86_400);
  // The cookie's Max-Age is the session's remaining time, at most the idle timeout; RFC 6265bis
  // 4.1.2.2 caps Max-Age at 400 days and serializeCookie refuses more, so every sign-in would fail.
  if (idleTimeoutSeconds > MAX_COOKIE_AGE_SECONDS) {
    const value = JSON.stringify(env.SESSION_IDLE_TIMEOUT);
    throw new ConfigError(
      "SESSION_IDLE_TIMEOUT",
      `${value} is more than ${MAX_COOKIE_AGE_SECONDS} seconds (400 days), ` +
        "the longest a browser keeps a cookie",
    );
  }
  const absoluteTimeoutSeconds = wholeSeconds(env, "SESSION_ABSOLUTE_TIMEOUT", 604_800);
  const publicOrigin = origin(env, "PUBLIC_ORIGIN");
  const trustProxyHeader = nonEmpty(env.TRUST_PROXY_HEADER);
  if (trustProxyHeader !== undefined && !/^[A-Za-z0-9-]+$/.test(trustProxyHeader)) {
    throw new ConfigError(
      "TRUST_PROXY_HEADER",
      `${JSON.stringify(trustProxyHeader)} is not a header name`,
    );
  }
  // Behind a proxy the Host header is whatever the proxy forwards (often its upstream address),
  // so the same-origin check needs the public origin spelled out.
  if (mode === "production" && trustProxyHeader !== undefined && publicOrigin === undefined) {
    throw new ConfigError(
      "PUBLIC_ORIGIN",
      "is required in production when TRUST_PROXY_HEADER is set (the origin browsers use, " +
        "e.g. https://shop.example.com)",
    );
  }
  return {
    port: wholeNumber(
      env,
      "PORT",
      { min: 0, max: 65_535, fallback: 8000 },
      "a port number from 0 to 65535",
    ),
    hostname: hostname(env),
    kvPath: nonEmpty(env.KV_PATH) ?? (onDeploy ? undefined : DEFAULT_KV_PATH),
    idleTimeoutSeconds,
    absoluteTimeoutSeconds,
    cookieSecure: boolean(
      env,
      "COOKIE_SECURE",
      // A site browsers reach over https wants Secure cookies whatever the mode; one reached
      // over http cannot keep them (browsers refuse Secure cookies from http pages).
      publicOrigin === undefined ? mode === "production" : publicOrigin.startsWith("https:"),
    ),
    publicOrigin,
    trustProxyHeader,
    hashConcurrency: wholeNumber(
      env,
      "HASH_CONCURRENCY",
      { min: 1, max: 64, fallback: defaultHashConcurrency() },
      "a whole number from 1 to 64",
    ),
    onDeploy,
  };
}

/**
 * `HOSTNAME`, or `0.0.0.0`: a host name or an IP address (IPv6 without brackets, `%zone` allowed).
 * Anything else is refused here rather than by the listener, and `deno task start` puts it on a
 * command line, where a space would split it.
 */
function hostname(env: Record<string, string | undefined>): string {
  const value = nonEmpty(env.HOSTNAME);
  if (value === undefined) return "0.0.0.0";
  if (!/^[A-Za-z0-9._:%-]+$/.test(value)) {
    throw new ConfigError(
      "HOSTNAME",
      `${JSON.stringify(env.HOSTNAME)} is not a host name or IP address`,
    );
  }
  return value;
}

/**
 * The origin in `variable` (`http:` or `https:`, a host, an optional port; an optional final
 * `/` and nothing else), serialised as browsers send `Origin`: lower-case host, punycode, no
 * default port. Undefined when unset.
 */
function origin(env: Record<string, string | undefined>, variable: string): string | undefined {
  const value = nonEmpty(env[variable]);
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (
    url === undefined || (url.protocol !== "https:" && url.protocol !== "http:") ||
    url.username !== "" || url.password !== "" || url.pathname !== "/" ||
    // The parser drops an empty "?" or "#", so look at the text too.
    url.search !== "" || url.hash !== "" || /[?#]/.test(value) ||
    // Only "scheme://host[:port][/]": URL would accept "https:shop.example" or backslashes.
    !/^https?:\/\/[^/\\]+\/?$/i.test(value)
  ) {
    throw new ConfigError(
      variable,
      `${JSON.stringify(env[variable])} is not an origin such as https://shop.example.com ` +
        "(http or https, a host and an optional port, no path, query or fragment)",
    );
  }
  return url.origin;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === "" ? undefined : trimmed;
}

/**
 * The whole decimal number from `min` to `max` in `variable`, or `fallback` when it is unset.
 * At most as many digits as `max` has, so "1e3", "0x50", "80.5" and overlong values are refused.
 */
function wholeNumber(
  env: Record<string, string | undefined>,
  variable: string,
  range: { min: number; max: number; fallback: number },
  meaning: string,
): number {
  const value = nonEmpty(env[variable]);
  if (value === undefined) return range.fallback;
  const digits = new RegExp(`^\\d{1,${String(range.max).length}}$`);
  const number = digits.test(value) ? Number(value) : NaN;
  if (!(number >= range.min && number <= range.max)) {
    throw new ConfigError(variable, `${JSON.stringify(env[variable])} is not ${meaning}`);
  }
  return number;
}

/** Seconds of at least 1 (ten digits at most) in `variable`, or `fallback`. */
function wholeSeconds(
  env: Record<string, string | undefined>,
  variable: string,
  fallback: number,
): number {
  return wholeNumber(
    env,
    variable,
    { min: 1, max: 9_999_999_999, fallback },
    "a whole number of seconds of at least 1",
  );
}

function boolean(
  env: Record<string, string | undefined>,
  variable: string,
  fallback: boolean,
): boolean {
  const value = nonEmpty(env[variable])?.toLowerCase();
  if (value === undefined) return fallback;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new ConfigError(variable, `${JSON.stringify(env[variable])} is not true or false`);
}
