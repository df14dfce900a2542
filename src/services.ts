/**
 * The app's services wired from KV, settings and clock: the one place that builds them.
 *
 * @module
 */
import { SessionStore } from "@kvsession/hono";
import type { AppSessionData } from "./app_env.ts";
import { AuthService } from "./auth.ts";
import type { Config } from "./config.ts";
import { DEFAULT_THROTTLE_LIMITS, LoginThrottle, type ThrottleLimits } from "./login_throttle.ts";
import { createPasswordHasher, type PasswordHasher } from "./passwords.ts";
import { ProductCatalogue } from "./products.ts";
import { UserStore } from "./users.ts";

/** Everything routes use. */
export interface Services {
  /** Validated settings. */
  config: Config;
  /** Session store. */
  sessions: SessionStore<AppSessionData>;
  /** User records. */
  users: UserStore;
  /** Sign-in, sign-up, password change. */
  auth: AuthService;
  /** Products. */
  catalogue: ProductCatalogue;
  /** The password hasher sign-in and sign-up use (its `stats()` show the queue). */
  hasher: PasswordHasher;
}

/** Inputs of {@linkcode createServices}. */
export interface ServiceDeps {
  /** The open database. */
  kv: Deno.Kv;
  /** Validated settings. */
  config: Config;
  /** Clock in ms; defaults to `Date.now`. */
  now?: () => number;
  /** Password hasher; defaults to scrypt at OWASP's parameters. Tests pass cheap ones. */
  hasher?: PasswordHasher;
  /** Sign-in throttling limits; defaults to {@linkcode DEFAULT_THROTTLE_LIMITS}. */
  throttleLimits?: ThrottleLimits;
}

/** Builds the services. */
export function createServices(deps: ServiceDeps): Services {
  const { kv, config, now = Date.now } = deps;
  const sessions = new SessionStore<AppSessionData>({
    kv,
    now,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    absoluteTimeoutSeconds: config.absoluteTimeoutSeconds,
  });
  const users = new UserStore(kv, now);
  const throttle = new LoginThrottle(kv, now, deps.throttleLimits ?? DEFAULT_THROTTLE_LIMITS);
  const hasher = deps.hasher ?? createPasswordHasher({ maxConcurrent: config.hashConcurrency });
  return {
    config,
    sessions,
    users,
    auth: new AuthService({ users, sessions, hasher, throttle }),
    catalogue: new ProductCatalogue(kv),
    hasher,
  };
}
