/**
 * Sign-in, sign-up and password change: the flows that tie users, password hashing, throttling
 * and sessions together. No HTTP here; routes translate the outcomes into responses.
 *
 * @module
 */
import type { AppSession, AppSessionData, SessionUser } from "./app_env.ts";
import {
  type LoginThrottle,
  type ThrottledAttempt,
  TooManyAttemptsError,
} from "./login_throttle.ts";
import {
  HashBusyError,
  MAX_PASSWORD_LENGTH,
  type PasswordHasher,
  validatePassword,
} from "./passwords.ts";
import { type SessionRead, type SessionStore, StaleCredentialsError } from "@kvsession/hono";
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
  /** The password or this session changed while the hashes ran; nothing was changed. */
  | { ok: false; reason: "conflict" }
  | { ok: false; reason: "invalid-new"; message: string }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

/** The generic sign-in failure, identical for unknown users and wrong passwords (ASVS 2.2 / 6.3.8). */
export const INVALID_CREDENTIALS_MESSAGE = "Invalid username or password.";

/** Dependencies of {@linkcode AuthService}. */
export interface AuthServiceDeps {
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
    const admission = await this.#deps.throttle.begin({
      account: normalizeUsername(input.username).slice(0, 128),
      address: input.address,
      hashes: canBeHashed(input.password),
    });
    if (!admission.allowed) {
      return { ok: false, reason: "throttled", retryAfterSeconds: admission.retryAfterSeconds };
    }
    try {
      return await this.#signIn(input, admission.attempt);
    } finally {
      await admission.attempt.end();
    }
  }

  /** {@linkcode signIn} once the throttle admitted the attempt. */
  async #signIn(
    input: { username: string; password: string; userAgent: string },
    attempt: ThrottledAttempt,
  ): Promise<SignInResult> {
    const { users, sessions, hasher } = this.#deps;
    const id = await users.idForUsername(input.username);
    const entry = id === null ? null : await users.getEntry(id);
    if (entry === null || entry.value === null) {
      // Same work as a wrong password, so timing does not tell which usernames exist.
      await hasher.verifyDummy(input.password);
      attempt.failed();
      return { ok: false, reason: "invalid" };
    }
    const checked = entry as Deno.KvEntry<User>;
    const user = checked.value;
    const verdict = await hasher.verify(input.password, user.passwordHash);
    if (!verdict.ok) {
      attempt.failed();
      return { ok: false, reason: "invalid" };
    }
    let upgradedHash: string | null = null;
    if (verdict.needsRehash && validatePassword(input.password) === null) {
      // The parameters changed since this hash was made: upgrade it while we know the password.
      // A busy hasher only postpones the upgrade to a later sign-in; it never fails this one.
      try {
        upgradedHash = await hasher.hash(input.password);
      } catch (error) {
        if (!(error instanceof HashBusyError)) throw error;
      }
    }
    // The password was right: this attempt is no failure, and earlier ones from here are cleared.
    await attempt.passed();
    try {
      return {
        ok: true,
        // One commit, checked against the user record whose hash was verified: a password
        // change since then fails this sign-in, and an upgraded hash never replaces another.
        ...await sessions.create({
          userId: user.id,
          data: { user: sessionUser(user), cart: [] },
          userAgent: input.userAgent,
          include: (operation) =>
            upgradedHash === null
              ? users.checkUnchanged(operation, checked)
              : users.setPasswordHash(operation, checked, upgradedHash),
        }),
      };
    } catch (error) {
      // The user record changed between our read and the commit (a password change, or another
      // sign-in's upgrade): what was verified may no longer count, so this attempt does not.
      if (error instanceof StaleCredentialsError) return { ok: false, reason: "invalid" };
      throw error;
    }
  }

  /**
   * Creates an account and signs it in. Throttled by client address like sign-in: every sign-up
   * is charged as hash work, and one for a taken username counts as a failed attempt, since a
   * sign-up cannot hide that a name is taken but can make harvesting names slow.
   *
   * @throws {InvalidUserInputError} for a bad username, display name or password (message safe
   *   to show)
   * @throws {UsernameTakenError} when the username exists
   * @throws {TooManyAttemptsError} when the address is throttled (nothing looked up or hashed)
   */
  async signUp(input: {
    username: string;
    displayName: string;
    password: string;
    address: string;
    userAgent: string;
  }): Promise<NewSession> {
    const { users, sessions, hasher, throttle } = this.#deps;
    const problem = validatePassword(input.password);
    if (problem !== null) throw new InvalidUserInputError("password", problem);
    // Validate the names before paying for a hash; create() checks them again atomically.
    parseUsername(input.username);
    parseDisplayName(input.displayName);
    const admission = await throttle.begin({ address: input.address, hashes: true });
    if (!admission.allowed) throw new TooManyAttemptsError(admission.retryAfterSeconds);
    const { attempt } = admission;
    try {
      if (await users.idForUsername(input.username) !== null) throw new UsernameTakenError();
      const passwordHash = await hasher.hash(input.password);
      const user = await users.create({
        username: input.username,
        displayName: input.displayName,
        passwordHash,
      });
      await attempt.passed();
      return await sessions.create({
        userId: user.id,
        data: { user: sessionUser(user), cart: [] },
        userAgent: input.userAgent,
      });
    } catch (error) {
      // A taken name is what a harvester looks for: it counts like a wrong password.
      if (error instanceof UsernameTakenError) attempt.failed();
      throw error;
    } finally {
      await attempt.end();
    }
  }

  /**
   * Changes the password of the session's user after checking the current one (throttled like
   * sign-in, except that other people's failures on the account, the account-wide limit, never
   * block the signed-in owner), ends every other session of the user, and moves this session to a
   * new token.
   *
   * The new hash, the credential version bump and the rotation of this session are one commit,
   * checked against the user record whose hash was verified and against this session: if the
   * password changed meanwhile (another change, another device), or this session was ended
   * while the hashes ran, nothing changes and the result says so.
   */
  async changePassword(input: {
    token: string;
    session: AppSession;
    /** This request's read of the session (`c.get("sessionRead")`), sparing a read. */
    basis?: SessionRead<AppSessionData>;
    currentPassword: string;
    newPassword: string;
    address: string;
  }): Promise<ChangePasswordResult> {
    const entry = await this.#deps.users.getEntry(input.session.userId);
    if (entry.value === null) return { ok: false, reason: "session-gone" };
    const checked = entry as Deno.KvEntry<User>;
    // The signed-in owner: other people's failures on this account (the account-wide limit) must
    // not keep them from changing their password; their own failures from here still count.
    const admission = await this.#deps.throttle.begin({
      account: checked.value.normalizedUsername,
      address: input.address,
      hashes: canBeHashed(input.currentPassword),
      checkAccountAnyAddress: false,
    });
    if (!admission.allowed) {
      return { ok: false, reason: "throttled", retryAfterSeconds: admission.retryAfterSeconds };
    }
    try {
      return await this.#changePassword(input, checked, admission.attempt);
    } finally {
      await admission.attempt.end();
    }
  }

  /** {@linkcode changePassword} once the throttle admitted the attempt. */
  async #changePassword(
    input: Parameters<AuthService["changePassword"]>[0],
    checked: Deno.KvEntry<User>,
    attempt: ThrottledAttempt,
  ): Promise<ChangePasswordResult> {
    const { users, sessions, hasher } = this.#deps;
    const user = checked.value;
    const verdict = await hasher.verify(input.currentPassword, user.passwordHash);
    if (!verdict.ok) {
      attempt.failed();
      return { ok: false, reason: "invalid-current" };
    }
    await attempt.passed();
    const problem = validatePassword(input.newPassword);
    if (problem !== null) return { ok: false, reason: "invalid-new", message: problem };
    const passwordHash = await hasher.hash(input.newPassword);
    let rotated;
    try {
      // One commit writes the hash, bumps the credential version and moves this session to a
      // new token; then every other session (including one a racing sign-in made) is ended.
      rotated = await sessions.rotate(input.token, {
        bumpCredentialVersion: true,
        basis: input.basis,
        include: (operation) => users.setPasswordHash(operation, checked, passwordHash),
      });
    } catch (error) {
      if (error instanceof StaleCredentialsError) return { ok: false, reason: "conflict" };
      throw error;
    }
    if (rotated === null) return { ok: false, reason: "session-gone" };
    const { ended, ...fresh } = rotated;
    return { ok: true, endedSessions: ended, ...fresh };
  }
}

/**
 * True when verifying `password` runs a hash: the hasher refuses a password longer than
 * {@linkcode MAX_PASSWORD_LENGTH} code points or with an unpaired surrogate without hashing (no
 * stored hash can match it), so such an attempt guesses nothing and costs no hash work.
 */
function canBeHashed(password: string): boolean {
  if (password.length > MAX_PASSWORD_LENGTH * 2) return false;
  let codePoints = 0;
  for (const _ of password) codePoints++;
  return codePoints <= MAX_PASSWORD_LENGTH && password.isWellFormed();
}

/** The part of a user that pages may see. */
export function sessionUser(user: User): SessionUser {
  return { id: user.id, username: user.username, displayName: user.displayName };
}
