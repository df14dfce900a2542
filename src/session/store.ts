/**
 * Server-side sessions in Deno KV.
 *
 * The cookie carries only a random 256-bit token; KV holds the record under the token's SHA-256
 * hash, so a copy of the database yields no usable cookie. Every write sets `expireIn`, so KV
 * removes dead sessions by itself (no sweeper), and because KV deletes late every read also
 * checks the expiry times stored in the record. Nothing lives in process memory: any number of
 * processes or isolates can share one KV.
 *
 * The store knows nothing of HTTP. It takes the KV handle, a clock and the timeouts.
 *
 * Key layout (with the default `keyPrefix` of `[]`): `["sessions", tokenHash]` holds the record,
 * `["user_sessions", userId, sessionId]` indexes a user's sessions, and
 * `["credential_versions", userId]` holds the user's credential version.
 *
 * @module
 */
import { sha256 } from "./_sha256.ts";
import { type SessionKeys, sessionKeys } from "./_kv_keys.ts";
import { commitWithRetry, type LockRetryOptions } from "./kv_commit.ts";

/** A value that survives `JSON.stringify` unchanged. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A one-shot message shown on the next page the session sees. */
export interface Flash {
  /** `info` for confirmations, `error` for problems. */
  kind: "info" | "error";
  /** Plain text; escaped when rendered. */
  text: string;
}

/** What the store keeps for one session. */
export interface Session<D extends JsonValue = JsonValue> {
  /** Public, opaque id for listing and revoking; cannot be turned into a token. */
  id: string;
  /** Owner of the session. */
  userId: string;
  /** The user's credential version when the session was made. */
  credentialVersion: number;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Last time the session was written (creation, renewal, update), in ms since the epoch. */
  lastSeenAt: number;
  /** Idle deadline in ms since the epoch; moved forward by renewal. */
  idleExpiresAt: number;
  /** Absolute deadline in ms since the epoch; never moves. */
  absoluteExpiresAt: number;
  /** Short device description such as "Firefox on Linux". */
  userAgent: string;
  /** Application data. */
  data: D;
  /** Messages waiting to be shown once. */
  flash: Flash[];
}

/** One row of a user's session list: no token and no token hash. */
export type SessionSummary = Pick<
  Session,
  "id" | "createdAt" | "lastSeenAt" | "userAgent" | "idleExpiresAt" | "absoluteExpiresAt"
>;

/** Index entry under the user; the hash lets a revoke find the record and never leaves the store. */
interface IndexEntry {
  tokenHash: string;
}

/**
 * A session as {@linkcode SessionStore.get} read it, with the entry's versionstamp: what
 * `update` takes as `basis` to spare its first read. Only the store makes them.
 */
export interface SessionRead<D extends JsonValue = JsonValue> {
  /** The session. */
  readonly session: Session<D>;
  /** Its entry's versionstamp when it was read. */
  readonly versionstamp: string;
}

/**
 * The store's {@linkcode SessionRead}: it also remembers the token hash it was read under, so
 * `update` uses a basis only for that token and only when the store made it. A basis built by
 * hand or read under another token is ignored (the update reads instead), as the identity of the
 * session object guaranteed when a `WeakMap` held the versionstamps.
 */
class StoreRead<D extends JsonValue> implements SessionRead<D> {
  readonly #tokenHash: string;

  constructor(
    readonly session: Session<D>,
    readonly versionstamp: string,
    tokenHash: string,
  ) {
    this.#tokenHash = tokenHash;
  }

  /** `basis`'s versionstamp when the store made it for `tokenHash`; otherwise undefined. */
  static versionstampFor<D extends JsonValue>(
    basis: SessionRead<D> | undefined,
    tokenHash: string,
  ): string | undefined {
    return basis instanceof StoreRead && basis.#tokenHash === tokenHash
      ? basis.versionstamp
      : undefined;
  }
}

/** What {@linkcode SessionStore.get} found; a live session comes with its `read`, an update basis. */
export type SessionLookup<D extends JsonValue> =
  | { status: "valid"; session: Session<D>; read: SessionRead<D>; maxAgeSeconds: number }
  | { status: "renewed"; session: Session<D>; read: SessionRead<D>; maxAgeSeconds: number }
  | { status: "missing" | "expired" | "revoked" };

/** Settings of a {@linkcode SessionStore}. */
export interface SessionStoreOptions {
  /** The database; the store never opens or closes it. */
  kv: Deno.Kv;
  /** Clock in milliseconds since the epoch. */
  now?: () => number;
  /** Inactivity after which a session ends. */
  idleTimeoutSeconds: number;
  /** Lifetime after which a session ends regardless of activity. */
  absoluteTimeoutSeconds: number;
  /** Attempts for an update that keeps meeting concurrent writers. */
  maxUpdateAttempts?: number;
  /** Retry policy for commits that meet a locked database file. */
  lockRetry?: LockRetryOptions;
  /**
   * Prepended to every key the store writes, to share one database with other data or other
   * stores. Default `[]`: the keys `["sessions", ...]`, `["user_sessions", ...]` and
   * `["credential_versions", ...]`.
   */
  keyPrefix?: Deno.KvKey;
}

/**
 * Thrown when session data would not fit in one Deno KV value; nothing was written, and the
 * session stays as it was. Answer it with a 4xx (413) rather than a 500.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { SessionTooLargeError } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions<{ note: string }>();
 * await rejects(
 *   t.store.create({ userId: "u1", data: { note: "x".repeat(70_000) } }),
 *   SessionTooLargeError,
 * );
 * ```
 */
export class SessionTooLargeError extends RangeError {
  /** Reports the size found. */
  constructor(bytes: number) {
    super(
      `Session data is ${bytes} bytes as JSON, over the ${MAX_SESSION_BYTES}-byte limit of one Deno KV value`,
    );
    this.name = "SessionTooLargeError";
  }
}

/**
 * Thrown by `create`, `rotate` and `bumpCredentialVersion` when the user's credentials changed
 * after the caller checked them: the credential version moved, or a check the caller added with
 * `include` failed. Nothing was written.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { StaleCredentialsError } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions();
 * const version = await t.store.credentialVersion("u1"); // read before checking the password
 * await t.store.bumpCredentialVersion("u1"); // a password change lands meanwhile
 * await rejects(
 *   t.store.create({ userId: "u1", data: {}, credentialVersion: version }),
 *   StaleCredentialsError,
 * );
 * ```
 */
export class StaleCredentialsError extends Error {
  /** Creates the error. */
  constructor() {
    super("The user's credentials changed meanwhile; nothing was changed");
    this.name = "StaleCredentialsError";
  }
}

/**
 * Thrown when an update kept losing to concurrent writers through every attempt; nothing was
 * changed. Rare; answer it with 503 and `Retry-After`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { SessionConflictError } from "@kvsession/hono";
 *
 * const error: unknown = new SessionConflictError(5);
 * strictEqual(error instanceof SessionConflictError ? 503 : 500, 503);
 * ```
 */
export class SessionConflictError extends Error {
  /** Reports the number of attempts. */
  constructor(attempts: number) {
    super(`Session update lost to concurrent writers ${attempts} times`);
    this.name = "SessionConflictError";
  }
}

/**
 * Most one-shot messages a session queues: a new one beyond this drops the oldest, so a client
 * that never follows the redirects cannot grow its session until it no longer fits in KV.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { MAX_FLASH_MESSAGES } from "@kvsession/hono";
 * import { createTestSessions } from "@kvsession/hono/testing";
 *
 * await using t = await createTestSessions();
 * const { token } = await t.store.create({ userId: "u1", data: {} });
 * for (let i = 0; i < 10; i++) await t.store.addFlash(token, { kind: "info", text: `#${i}` });
 * const found = await t.store.get(token);
 * strictEqual(found.status === "valid" && found.session.flash.length, MAX_FLASH_MESSAGES);
 * ```
 */
export const MAX_FLASH_MESSAGES = 5;

/**
 * Largest session record, in bytes of its JSON: Deno KV refuses values over 64 KiB, and the
 * record around the data needs a little room. Bigger data throws {@linkcode SessionTooLargeError}.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { MAX_SESSION_BYTES } from "@kvsession/hono";
 *
 * const cart = { items: Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, qty: 1 })) };
 * ok(JSON.stringify(cart).length < MAX_SESSION_BYTES);
 * ```
 */
export const MAX_SESSION_BYTES = 64 * 1024 - 1024;

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const encoder = new TextEncoder();

/**
 * Returns a new session token: 32 bytes from the CSPRNG, base64url without padding (43 chars).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { generateToken, isWellFormedToken } from "@kvsession/hono";
 *
 * strictEqual(isWellFormedToken(generateToken()), true);
 * ```
 */
export function generateToken(): string {
  return randomBase64Url(32);
}

function randomBase64Url(bytes: number): string {
  return crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * Returns the KV id of a token: its SHA-256 hash, base64url. Lookups go by this key, so no
 * secret-dependent string comparison is made anywhere (nothing to time).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { hashToken } from "@kvsession/hono";
 *
 * strictEqual(hashToken("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
 * ```
 */
export function hashToken(token: string): string {
  return sha256(token).toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * True when `token` has the shape {@linkcode generateToken} produces; others are never looked up.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { isWellFormedToken } from "@kvsession/hono";
 *
 * strictEqual(isWellFormedToken("not-a-token"), false);
 * ```
 */
export function isWellFormedToken(token: string | undefined): token is string {
  return token !== undefined && TOKEN_PATTERN.test(token);
}

/**
 * The session store. All methods take the token from the cookie; none returns its hash.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { SessionStore } from "@kvsession/hono";
 *
 * const kv = await Deno.openKv(":memory:");
 * const store = new SessionStore<{ cart: string[] }>({
 *   kv,
 *   idleTimeoutSeconds: 3600,
 *   absoluteTimeoutSeconds: 86400,
 * });
 * const { token } = await store.create({ userId: "u1", credentialVersion: 0, data: { cart: [] } });
 * await store.update(token, (data) => ({ cart: [...data.cart, "tea"] }));
 * const found = await store.get(token);
 * strictEqual(found.status === "valid" && found.session.data.cart[0], "tea");
 * kv.close();
 * ```
 */
export class SessionStore<D extends JsonValue = JsonValue> {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #maxUpdateAttempts: number;
  readonly #lockRetry: LockRetryOptions | undefined;
  readonly #keys: SessionKeys;

  /** Checks the settings once; bad timeouts are a programming error. */
  constructor(options: SessionStoreOptions) {
    for (const name of ["idleTimeoutSeconds", "absoluteTimeoutSeconds"] as const) {
      const value = options[name];
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot create session store: ${name} ${
            JSON.stringify(value)
          } is not a whole number >= 1`,
        );
      }
    }
    if (options.keyPrefix !== undefined && !Array.isArray(options.keyPrefix)) {
      throw new TypeError(
        `Cannot create session store: keyPrefix ${
          JSON.stringify(String(options.keyPrefix))
        } is not an array of key parts`,
      );
    }
    this.#kv = options.kv;
    this.#now = options.now ?? Date.now;
    this.#idleMs = options.idleTimeoutSeconds * 1000;
    this.#absoluteMs = options.absoluteTimeoutSeconds * 1000;
    this.#maxUpdateAttempts = options.maxUpdateAttempts ?? 100;
    this.#lockRetry = options.lockRetry;
    this.#keys = sessionKeys(options.keyPrefix);
  }

  /**
   * Reads the user's credential version (0 before the first bump). Read it BEFORE checking the
   * password and pass it to {@linkcode create}: a password change in between then fails the
   * sign-in instead of leaving a session made with the old password.
   */
  async credentialVersion(userId: string): Promise<number> {
    const entry = await this.#kv.get<number>(this.#keys.credentialVersion(userId));
    return entry.value ?? 0;
  }

  /**
   * Starts a new session with a new token. Never reuses a token the client sent (fixation).
   *
   * The commit checks the user's credential version: a password change committed after this
   * version was read fails the sign-in instead of leaving a session made with the old password.
   * `include` adds the caller's own checks and writes to the same commit, for example a check
   * that the user record whose password was just verified is still the stored one (and, when the
   * hash is being upgraded, the new hash): the session then exists only if they all hold.
   *
   * @throws {StaleCredentialsError} when the credential version is no longer
   *   `credentialVersion` (when given), or when a check `include` added failed
   * @throws {SessionTooLargeError} when `data` is too large for KV
   */
  async create(input: {
    userId: string;
    credentialVersion?: number;
    data: D;
    userAgent?: string;
    include?: (operation: Deno.AtomicOperation) => Deno.AtomicOperation;
  }): Promise<{ token: string; session: Session<D>; maxAgeSeconds: number }> {
    const now = this.#now();
    const token = generateToken();
    const tokenHash = hashToken(token);
    const versionKey = this.#keys.credentialVersion(input.userId);
    const include = input.include ?? ((operation) => operation);
    let current = await this.#kv.get<number>(versionKey);
    for (let attempt = 1;; attempt++) {
      const version = current.value ?? 0;
      if (input.credentialVersion !== undefined && version !== input.credentialVersion) {
        throw new StaleCredentialsError();
      }
      const session: Session<D> = {
        id: randomBase64Url(16),
        userId: input.userId,
        credentialVersion: version,
        createdAt: now,
        lastSeenAt: now,
        idleExpiresAt: now + this.#idleMs,
        absoluteExpiresAt: now + this.#absoluteMs,
        userAgent: (input.userAgent ?? "").slice(0, 80),
        data: input.data,
        flash: [],
      };
      checkSize(session);
      const checked = current;
      // The check makes a concurrent bump of the version fail this commit (no session survives
      // a password change by racing it).
      const result = await commitWithRetry(
        () => this.#write(include(this.#kv.atomic().check(checked)), tokenHash, session, now),
        this.#lockRetry,
      );
      if (result.ok) return { token, session, maxAgeSeconds: this.#maxAge(session, now) };
      current = await this.#kv.get<number>(versionKey);
      // Our own check still holds, so one of the caller's failed: retrying cannot help.
      if (current.versionstamp === checked.versionstamp) throw new StaleCredentialsError();
      if (attempt >= this.#maxUpdateAttempts) throw new SessionConflictError(attempt);
    }
  }

  /**
   * Looks a token up. A live session costs exactly one KV read and no write, except when less
   * than half of the idle window is left: then it is renewed (one more read, one write) and the
   * caller should refresh the cookie's Max-Age. A session past either deadline is deleted and
   * reported `expired`, even while KV still holds the entry.
   */
  async get(token: string | undefined): Promise<SessionLookup<D>> {
    if (!isWellFormedToken(token)) return { status: "missing" };
    const tokenHash = hashToken(token);
    const entry = await this.#kv.get<Session<D>>(this.#keys.session(tokenHash));
    if (entry.value === null) return { status: "missing" };
    const now = this.#now();
    const session = entry.value;
    if (isExpired(session, now)) {
      await this.#remove(entry, tokenHash);
      return { status: "expired" };
    }
    const read = new StoreRead(session, entry.versionstamp, tokenHash);
    if (session.idleExpiresAt - now >= this.#idleMs / 2) {
      return { status: "valid", session, read, maxAgeSeconds: this.#maxAge(session, now) };
    }
    const renewedUntil = Math.min(now + this.#idleMs, session.absoluteExpiresAt);
    if (renewedUntil <= session.idleExpiresAt) {
      // The absolute deadline caps the idle one already: nothing to extend, nothing to write.
      return { status: "valid", session, read, maxAgeSeconds: this.#maxAge(session, now) };
    }
    return await this.#renew(entry, tokenHash, renewedUntil, now);
  }

  async #renew(
    entry: Deno.KvEntry<Session<D>>,
    tokenHash: string,
    renewedUntil: number,
    now: number,
  ): Promise<SessionLookup<D>> {
    const session = entry.value;
    // Renewal is the one read-path write, so it is also where the credential version is
    // re-checked: a session that a race left behind cannot outlive its next renewal.
    const version = await this.#kv.get<number>(this.#keys.credentialVersion(session.userId));
    if ((version.value ?? 0) !== session.credentialVersion) {
      await this.#remove(entry, tokenHash);
      return { status: "revoked" };
    }
    const renewed: Session<D> = { ...session, idleExpiresAt: renewedUntil, lastSeenAt: now };
    const result = await commitWithRetry(
      () => this.#write(this.#kv.atomic().check(entry).check(version), tokenHash, renewed, now),
      this.#lockRetry,
    );
    if (result.ok) {
      return {
        status: "renewed",
        session: renewed,
        read: new StoreRead(renewed, result.versionstamp, tokenHash),
        maxAgeSeconds: this.#maxAge(renewed, now),
      };
    }
    // Another request renewed, updated or ended it first: report what is there now.
    const again = await this.#kv.get<Session<D>>(this.#keys.session(tokenHash));
    if (again.value === null) return { status: "missing" };
    if (isExpired(again.value, now)) return { status: "expired" };
    return {
      status: "renewed",
      session: again.value,
      read: new StoreRead(again.value, again.versionstamp, tokenHash),
      maxAgeSeconds: this.#maxAge(again.value, now),
    };
  }

  /**
   * Changes the session data with `change`, applied to the newest data under a versionstamp
   * check and retried when another request wrote first, so no update is lost. Returns `null`
   * when the session is gone or expired: a late save never brings a destroyed session back.
   *
   * `change` may run more than once, so it must be pure. Returning `undefined` keeps the data.
   * A `flash` message is queued in the same commit. `basis`, the `read` this store's `get`
   * returned for the same token earlier in the request, saves the first read: the first commit
   * is checked against its versionstamp, and only a conflict reads again. (It travels with the
   * lookup rather than in a side table keyed by the session object: a `WeakMap` entry a request
   * cost about 5 % of an authenticated page in-process, in garbage collection; bench/README.md.)
   */
  update(
    token: string | undefined,
    change: (data: D, session: Session<D>) => D | undefined,
    options: { flash?: Flash; basis?: SessionRead<D> } = {},
  ): Promise<Session<D> | null> {
    const { flash, basis } = options;
    return this.#modify(token, (session) => {
      const data = change(session.data, session) ?? session.data;
      return { ...session, data, flash: flash ? withFlash(session.flash, flash) : session.flash };
    }, basis);
  }

  /** Queues a one-shot message for the next page. Returns false when the session is gone. */
  async addFlash(token: string | undefined, flash: Flash): Promise<boolean> {
    const session = await this.#modify(token, (s) => ({ ...s, flash: withFlash(s.flash, flash) }));
    return session !== null;
  }

  /** Returns and removes the queued messages; no write when there are none. */
  async takeFlash(token: string | undefined, session: Session<D>): Promise<Flash[]> {
    if (session.flash.length === 0) return [];
    let taken: Flash[] = [];
    await this.#modify(token, (s) => {
      taken = s.flash;
      return { ...s, flash: [] };
    });
    return taken;
  }

  async #modify(
    token: string | undefined,
    change: (session: Session<D>) => Session<D>,
    basis?: SessionRead<D>,
  ): Promise<Session<D> | null> {
    if (!isWellFormedToken(token)) return null;
    const tokenHash = hashToken(token);
    const basisVersionstamp = StoreRead.versionstampFor(basis, tokenHash);
    for (let attempt = 1;; attempt++) {
      // A stale basis only fails the versionstamp check; the retry reads afresh.
      const entry: Deno.KvEntryMaybe<Session<D>> = attempt === 1 && basisVersionstamp !== undefined
        ? {
          key: this.#keys.session(tokenHash),
          value: basis!.session,
          versionstamp: basisVersionstamp,
        }
        : await this.#kv.get<Session<D>>(this.#keys.session(tokenHash));
      const now = this.#now();
      if (entry.value === null || isExpired(entry.value, now)) return null;
      const next = { ...change(entry.value), lastSeenAt: now };
      checkSize(next);
      // check(entry): if the session was deleted meanwhile its versionstamp is gone and the
      // commit fails, so the retry sees null and the destroyed session stays destroyed.
      const result = await commitWithRetry(
        () => this.#write(this.#kv.atomic().check(entry), tokenHash, next, now),
        this.#lockRetry,
      );
      if (result.ok) return next;
      if (attempt >= this.#maxUpdateAttempts) throw new SessionConflictError(attempt);
      await jitter(attempt);
    }
  }

  /**
   * Ends the session (logout). Returns false when there was none. A concurrent write to the
   * session (or its rotation to a new token) is followed, so a true result means it is gone.
   *
   * @throws {SessionConflictError} when concurrent writes kept winning through every attempt
   */
  async destroy(token: string | undefined): Promise<boolean> {
    if (!isWellFormedToken(token)) return false;
    const tokenHash = hashToken(token);
    const entry = await this.#kv.get<Session<D>>(this.#keys.session(tokenHash));
    if (entry.value === null) return false;
    if (await this.#remove(entry, tokenHash)) return true;
    return await this.#endIndexed(this.#keys.userSession(entry.value.userId, entry.value.id));
  }

  /**
   * Moves a live session to a new token and kills the old one in one atomic commit, for
   * privilege changes. With `bumpCredentialVersion` (a password change) the same commit bumps
   * the user's credential version and records it in the moved session, then every other
   * session of the user is ended; `ended` says how many. `include` adds the caller's checks and
   * writes to that commit (for a password change: the check that the user record whose password
   * was verified is unchanged, and the new hash), so the new password, the bump and the rotation
   * happen together or not at all. `basis`, this request's read of the session, spares a read.
   *
   * A concurrent write to the session (say, a cart change) only makes it try again with the
   * newer record; the session being ended, or the caller's checks failing, does not.
   *
   * @returns `null` when the old token is not a live session (nothing was written)
   * @throws {StaleCredentialsError} when a check `include` added failed, or the session was made
   *   before the current credential version (nothing was written)
   */
  async rotate(
    token: string | undefined,
    options: {
      bumpCredentialVersion?: boolean;
      include?: (operation: Deno.AtomicOperation) => Deno.AtomicOperation;
      basis?: SessionRead<D>;
    } = {},
  ): Promise<{ token: string; session: Session<D>; maxAgeSeconds: number; ended: number } | null> {
    if (!isWellFormedToken(token)) return null;
    const oldHash = hashToken(token);
    const include = options.include ?? ((operation) => operation);
    const basisVersionstamp = StoreRead.versionstampFor(options.basis, oldHash);
    let entry: Deno.KvEntryMaybe<Session<D>> = basisVersionstamp !== undefined
      ? {
        key: this.#keys.session(oldHash),
        value: options.basis!.session,
        versionstamp: basisVersionstamp,
      }
      : await this.#kv.get<Session<D>>(this.#keys.session(oldHash));
    for (let attempt = 1;; attempt++) {
      const now = this.#now();
      if (entry.value === null || isExpired(entry.value, now)) return null;
      const { userId } = entry.value;
      const version = options.bumpCredentialVersion
        ? await this.#kv.get<number>(this.#keys.credentialVersion(userId))
        : null;
      // A session older than the current credentials must not be carried into the new ones.
      if (version !== null && (version.value ?? 0) !== entry.value.credentialVersion) {
        throw new StaleCredentialsError();
      }
      const session: Session<D> = {
        ...entry.value,
        credentialVersion: entry.value.credentialVersion + (version === null ? 0 : 1),
        lastSeenAt: now,
      };
      const newToken = generateToken();
      const checked = entry as Deno.KvEntry<Session<D>>;
      const result = await commitWithRetry(() => {
        const operation = include(
          this.#kv.atomic().check(checked).delete(this.#keys.session(oldHash)),
        );
        if (version !== null) {
          operation.check(version).set(
            this.#keys.credentialVersion(userId),
            session.credentialVersion,
          );
        }
        return this.#write(operation, hashToken(newToken), session, now);
      }, this.#lockRetry);
      if (result.ok) {
        // As in bumpCredentialVersion: list after the bump is committed.
        const ended = version === null ? 0 : await this.revokeAll(userId, session.id);
        return { token: newToken, session, maxAgeSeconds: this.#maxAge(session, now), ended };
      }
      entry = await this.#kv.get<Session<D>>(this.#keys.session(oldHash));
      const versionNow = version === null
        ? null
        : await this.#kv.get<number>(this.#keys.credentialVersion(userId));
      // Session and version as we checked them: the caller's check failed, retrying cannot help.
      if (
        entry.versionstamp === checked.versionstamp &&
        versionNow?.versionstamp === version?.versionstamp
      ) {
        throw new StaleCredentialsError();
      }
      if (attempt >= this.#maxUpdateAttempts) throw new SessionConflictError(attempt);
      await jitter(attempt);
    }
  }

  /** Lists the user's live sessions, oldest first. Never includes a token or its hash. */
  async list(userId: string): Promise<SessionSummary[]> {
    const now = this.#now();
    const hashes: string[] = [];
    for await (
      const entry of this.#kv.list<IndexEntry>({ prefix: this.#keys.userSessionsPrefix(userId) })
    ) {
      hashes.push(entry.value.tokenHash);
    }
    const summaries: SessionSummary[] = [];
    // getMany reads at most 10 keys per call.
    for (let i = 0; i < hashes.length; i += 10) {
      const entries = await this.#kv.getMany<Session<D>[]>(
        hashes.slice(i, i + 10).map((hash) => this.#keys.session(hash)),
      );
      for (const { value } of entries) {
        if (value === null || isExpired(value, now)) continue;
        const { id, createdAt, lastSeenAt, userAgent, idleExpiresAt, absoluteExpiresAt } = value;
        summaries.push({ id, createdAt, lastSeenAt, userAgent, idleExpiresAt, absoluteExpiresAt });
      }
    }
    return summaries.sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Ends one of the user's sessions by its public id. True only when this call ended it; false
   * when the user has no such session (or it ended meanwhile). Never true for a session that
   * lives on: a concurrent write to it is followed and the delete retried.
   *
   * @throws {SessionConflictError} when concurrent writes kept winning through every attempt
   */
  async revoke(userId: string, sessionId: string): Promise<boolean> {
    // Public ids are 16 random bytes in base64url; anything else (say, a 3 KB string that
    // would overflow KV's key size) names no session.
    if (!SESSION_ID_PATTERN.test(sessionId)) return false;
    return await this.#endIndexed(this.#keys.userSession(userId, sessionId));
  }

  /**
   * Ends every session of the user except the one whose public id is `exceptSessionId`.
   * Returns how many were ended; every session listed is ended when it returns.
   *
   * @throws {SessionConflictError} when concurrent writes kept winning through every attempt
   */
  async revokeAll(userId: string, exceptSessionId?: string): Promise<number> {
    let count = 0;
    for await (
      const listed of this.#kv.list<IndexEntry>({ prefix: this.#keys.userSessionsPrefix(userId) })
    ) {
      if (listed.key.at(-1) === exceptSessionId) continue;
      if (await this.#endIndexed(listed.key, listed)) count++;
    }
    return count;
  }

  /**
   * Bumps the user's credential version (after a password change) and ends every session made
   * before it, except `exceptSessionId` (the caller then rotates that one with the new version).
   * `include` adds the caller's checks and writes to the bump's commit (the new password hash,
   * checked against the user record it replaces), so they take effect together. Returns the new
   * version and how many sessions were ended.
   *
   * @throws {StaleCredentialsError} when a check `include` added failed (nothing was written)
   */
  async bumpCredentialVersion(
    userId: string,
    exceptSessionId?: string,
    options: { include?: (operation: Deno.AtomicOperation) => Deno.AtomicOperation } = {},
  ): Promise<{ version: number; ended: number }> {
    const key = this.#keys.credentialVersion(userId);
    const include = options.include ?? ((operation) => operation);
    let current = await this.#kv.get<number>(key);
    let version: number;
    for (let attempt = 1;; attempt++) {
      version = (current.value ?? 0) + 1;
      const checked = current;
      const next = version;
      const result = await commitWithRetry(
        () => include(this.#kv.atomic().check(checked).set(key, next)),
        this.#lockRetry,
      );
      if (result.ok) break;
      current = await this.#kv.get<number>(key);
      if (current.versionstamp === checked.versionstamp) throw new StaleCredentialsError();
      if (attempt >= this.#maxUpdateAttempts) throw new SessionConflictError(attempt);
    }
    // Listing after the bump is committed catches every session a concurrent sign-in managed to
    // commit before it; one that tries after it fails its own check in `create`.
    const ended = await this.revokeAll(userId, exceptSessionId);
    return { version, ended };
  }

  /**
   * Deletes the session an index entry points to, with the entry, under a check on the entry.
   * Every write of a session rewrites its index entry (a rotation with a new hash), so a failed
   * check means the session changed: read the entry again and follow it. True when this call
   * deleted it; false when the entry is gone (the session ended or expired meanwhile).
   */
  async #endIndexed(key: Deno.KvKey, first?: Deno.KvEntryMaybe<IndexEntry>): Promise<boolean> {
    let index = first ?? await this.#kv.get<IndexEntry>(key);
    for (let attempt = 1; index.value !== null; attempt++) {
      const { tokenHash } = index.value;
      const checked = index as Deno.KvEntry<IndexEntry>;
      const result = await commitWithRetry(
        () => this.#kv.atomic().check(checked).delete(this.#keys.session(tokenHash)).delete(key),
        this.#lockRetry,
      );
      if (result.ok) return true;
      if (attempt >= this.#maxUpdateAttempts) throw new SessionConflictError(attempt);
      index = await this.#kv.get<IndexEntry>(key);
    }
    return false;
  }

  /** Adds the session and its index entry, both expiring at the session's deadline. */
  #write(
    operation: Deno.AtomicOperation,
    tokenHash: string,
    session: Session<D>,
    now: number,
  ): Deno.AtomicOperation {
    const expireIn = Math.max(1, expiresAt(session) - now);
    const index: IndexEntry = { tokenHash };
    return operation
      .set(this.#keys.session(tokenHash), session, { expireIn })
      .set(this.#keys.userSession(session.userId, session.id), index, { expireIn });
  }

  /**
   * Deletes the session and its index entry unless the record changed since `entry` was read
   * (a concurrent rotation would otherwise lose its index entry). Returns whether it did.
   */
  async #remove(entry: Deno.KvEntry<Session<D>>, tokenHash: string): Promise<boolean> {
    const result = await commitWithRetry(
      () =>
        this.#kv.atomic()
          .check(entry)
          .delete(this.#keys.session(tokenHash))
          .delete(this.#keys.userSession(entry.value.userId, entry.value.id)),
      this.#lockRetry,
    );
    return result.ok;
  }

  #maxAge(session: Session<D>, now: number): number {
    return Math.max(0, Math.floor((expiresAt(session) - now) / 1000));
  }
}

/**
 * The instant the session dies: whichever deadline comes first.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { expiresAt } from "@kvsession/hono";
 *
 * strictEqual(expiresAt({ idleExpiresAt: 5_000, absoluteExpiresAt: 3_000 }), 3_000);
 * ```
 */
export function expiresAt(session: Pick<Session, "idleExpiresAt" | "absoluteExpiresAt">): number {
  return Math.min(session.idleExpiresAt, session.absoluteExpiresAt);
}

function isExpired(session: Session<JsonValue>, now: number): boolean {
  return now >= expiresAt(session);
}

function checkSize(session: Session<JsonValue>): void {
  const bytes = encoder.encode(JSON.stringify(session)).length;
  if (bytes > MAX_SESSION_BYTES) throw new SessionTooLargeError(bytes);
}

/** Queues `flash`, keeping only the newest {@linkcode MAX_FLASH_MESSAGES}. */
function withFlash(queue: readonly Flash[], flash: Flash): Flash[] {
  return [...queue, flash].slice(-MAX_FLASH_MESSAGES);
}

/** Spreads concurrent retries apart so they stop colliding. */
function jitter(attempt: number): Promise<void> {
  const ceiling = Math.min(20, attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
