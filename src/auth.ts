/**
 * Sign-in, sign-up and password change: the flows that tie users, password hashing, throttling
 * and sessions together. No HTTP here; routes translate the outcomes into responses.
 *
 * @module
 */
import type { AppSession, AppSessionData, SessionUser } from "./app_env.ts";
import { credentialVersionKey, userKey } from "./kv_keys.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import { HashBusyError, type PasswordHasher, validatePassword } from "./passwords.ts";
import { type SessionStore, StaleCredentialsError } from "./sessions.ts";
import {
  InvalidUserInputError,
  normalizeUsername,
  parseDisplayName,
  parseUsername,
  type User,
  UsernameTakenError,
  type UserStore,
} from "./users.ts";

/** A new session for the browser: the token goes into the cookie, nowhere else. */
export interface NewSession {
  /** Cookie value. */
  token: string;
  /** The stored session. */
  session: AppSession;
  /** Cookie Max-Age. */
  maxAgeSeconds: number;
}

/** Outcome of a sign-in attempt. */
export type SignInResult =
  | ({ ok: true } & NewSession)
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

/** Outcome of a password change. */
export type ChangePasswordResult =
  | ({ ok: true; endedSessions: number } & NewSession)
  | { ok: false; reason: "invalid-current" | "session-gone" }
  | { ok: false; reason: "invalid-new"; message: string }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

/** The generic sign-in failure, identical for unknown users and wrong passwords (ASVS 2.2 / 6.3.8). */
export const INVALID_CREDENTIALS_MESSAGE = "Invalid username or password.";

/** Dependencies of {@linkcode AuthService}. */
export interface AuthServiceDeps {
  /** The database, read directly only for one consistent user + credential-version snapshot. */
  kv: Deno.Kv;
  /** Users. */
  users: UserStore;
  /** Sessions. */
  sessions: SessionStore<AppSessionData>;
  /** Password hashing with its concurrency limit. */
  hasher: PasswordHasher;
  /** Failed-login counters. */
  throttle: LoginThrottle;
}

/** The authentication flows. `HashBusyError` from the hasher propagates (route: 503). */
export class AuthService {
  readonly #deps: AuthServiceDeps;

  /** Creates the service. */
  constructor(deps: AuthServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Checks a username and password and, when they match, starts a NEW session (never one the
   * client offered). Throttled attempts check no password at all.
   */
  async signIn(input: {
    username: string;
    password: string;
    address: string;
    userAgent: string;
  }): Promise<SignInResult> {
    const { users, sessions, hasher, throttle } = this.#deps;
    const account = normalizeUsername(input.username).slice(0, 128);
    const decision = await throttle.check(account, input.address);
    if (!decision.allowed) return { ok: false, ...decision, reason: "throttled" };

    const id = await users.idForUsername(input.username);
    const snapshot = id === null ? null : await this.#userWithVersion(id);
    if (snapshot === null) {
      // Same work as a wrong password, so timing does not tell which usernames exist.
      await hasher.verifyDummy(input.password);
      await throttle.recordFailure(account, input.address);
      return { ok: false, reason: "invalid" };
    }
    const { user, credentialVersion } = snapshot;
    const verdict = await hasher.verify(input.password, user.passwordHash);
    if (!verdict.ok) {
      await throttle.recordFailure(account, input.address);
      return { ok: false, reason: "invalid" };
    }
    if (verdict.needsRehash && validatePassword(input.password) === null) {
      // The parameters changed since this hash was made: upgrade it while we know the password.
      // A busy hasher only postpones the upgrade to a later sign-in; it never fails this one.
      try {
        await users.update(user.id, { passwordHash: await hasher.hash(input.password) });
      } catch (error) {
        if (!(error instanceof HashBusyError)) throw error;
      }
    }
    // Most sign-ins follow no failure: then there is no counter to clear and no write.
    if (decision.accountFailures > 0) await throttle.recordSuccess(account, input.address);
    try {
      return {
        ok: true,
        ...await sessions.create({
          userId: user.id,
          credentialVersion,
          data: { user: sessionUser(user), cart: [] },
          userAgent: input.userAgent,
        }),
      };
    } catch (error) {
      // The password changed between our read and the commit: the old one no longer counts.
      if (error instanceof StaleCredentialsError) return { ok: false, reason: "invalid" };
      throw error;
    }
  }

  /**
   * Creates an account and signs it in.
   *
   * @throws {InvalidUserInputError} for a bad username, display name or password (message safe
   *   to show)
   * @throws {UsernameTakenError} when the username exists
   */
  async signUp(input: {
    username: string;
    displayName: string;
    password: string;
    userAgent: string;
  }): Promise<NewSession> {
    const { users, sessions, hasher } = this.#deps;
    const problem = validatePassword(input.password);
    if (problem !== null) throw new InvalidUserInputError("password", problem);
    // Validate the names before paying for a hash; create() checks them again atomically.
    parseUsername(input.username);
    parseDisplayName(input.displayName);
    if (await users.idForUsername(input.username) !== null) throw new UsernameTakenError();
    const passwordHash = await hasher.hash(input.password);
    const user = await users.create({
      username: input.username,
      displayName: input.displayName,
      passwordHash,
    });
    return await sessions.create({
      userId: user.id,
      credentialVersion: await sessions.credentialVersion(user.id),
      data: { user: sessionUser(user), cart: [] },
      userAgent: input.userAgent,
    });
  }

  /**
   * Changes the password of the session's user after checking the current one (throttled like
   * sign-in), ends every other session of the user, and moves this session to a new token.
   */
  async changePassword(input: {
    token: string;
    session: AppSession;
    currentPassword: string;
    newPassword: string;
    address: string;
  }): Promise<ChangePasswordResult> {
    const { users, sessions, hasher, throttle } = this.#deps;
    const user = await users.get(input.session.userId);
    if (user === null) return { ok: false, reason: "session-gone" };
    const decision = await throttle.check(user.normalizedUsername, input.address);
    if (!decision.allowed) return { ok: false, ...decision, reason: "throttled" };
    const verdict = await hasher.verify(input.currentPassword, user.passwordHash);
    if (!verdict.ok) {
      await throttle.recordFailure(user.normalizedUsername, input.address);
      return { ok: false, reason: "invalid-current" };
    }
    const problem = validatePassword(input.newPassword);
    if (problem !== null) return { ok: false, reason: "invalid-new", message: problem };
    await users.update(user.id, { passwordHash: await hasher.hash(input.newPassword) });
    // One commit bumps the credential version and moves this session to a new token; then every
    // other session (including one a racing sign-in with the old password made) is ended.
    const rotated = await sessions.rotate(input.token, { bumpCredentialVersion: true });
    if (rotated === null) return { ok: false, reason: "session-gone" };
    const { ended, ...fresh } = rotated;
    return { ok: true, endedSessions: ended, ...fresh };
  }

  /** Reads the user and the credential version in one consistent snapshot. */
  async #userWithVersion(id: string): Promise<{ user: User; credentialVersion: number } | null> {
    const [user, version] = await this.#deps.kv.getMany<[User, number]>([
      userKey(id),
      credentialVersionKey(id),
    ]);
    if (user.value === null) return null;
    return { user: user.value, credentialVersion: version.value ?? 0 };
  }
}

/** The part of a user that pages may see. */
export function sessionUser(user: User): SessionUser {
  return { id: user.id, username: user.username, displayName: user.displayName };
}
