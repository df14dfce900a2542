/**
 * User records in Deno KV: unique normalised usernames, display names, password hashes.
 *
 * @module
 */
import { commitWithRetry } from "./kv_commit.ts";
import { userKey, usernameKey } from "./kv_keys.ts";

/** A stored user. The password hash never leaves the server. */
export interface User {
  /** Random, stable id (usernames could be renamed later without touching sessions). */
  id: string;
  /** Username as typed at sign-up (after NFKC), for display. */
  username: string;
  /** Lower-cased NFKC form: the uniqueness and look-up key. */
  normalizedUsername: string;
  /** Name shown in pages. */
  displayName: string;
  /** Self-describing scrypt hash from `passwords.ts`. */
  passwordHash: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** Usernames are 3 to 32 of these after normalisation. */
const USERNAME_PATTERN = /^[\p{L}\p{N}._-]{3,32}$/u;

/** Longest display name, in code points. */
export const MAX_DISPLAY_NAME_LENGTH = 64;

/** Thrown for a username, display name or password a user must correct; the message says how. */
export class InvalidUserInputError extends Error {
  /** Creates the error for the form field `field`. */
  constructor(readonly field: "username" | "displayName" | "password", message: string) {
    super(message);
    this.name = "InvalidUserInputError";
  }
}

/** Thrown when the normalised username belongs to someone else already. */
export class UsernameTakenError extends Error {
  /** Creates the error; the message is safe to show. */
  constructor() {
    super("That username is already taken. Please choose another.");
    this.name = "UsernameTakenError";
  }
}

/**
 * Normalises a username for comparison: trimmed, Unicode NFKC (so full-width and compatibility
 * forms match their plain twins), lower-cased (case-insensitive uniqueness).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { normalizeUsername } from "./users.ts";
 *
 * strictEqual(normalizeUsername("  Ａｌｉｃｅ "), "alice");
 * ```
 */
export function normalizeUsername(raw: string): string {
  return raw.trim().normalize("NFKC").toLowerCase();
}

/**
 * Checks a username and returns its display and comparison forms.
 *
 * @throws {InvalidUserInputError} when it is not 3 to 32 letters, digits, `.`, `_` or `-`
 */
export function parseUsername(raw: unknown): { username: string; normalized: string } {
  const username = typeof raw === "string" ? raw.trim().normalize("NFKC") : "";
  if (!USERNAME_PATTERN.test(username)) {
    throw new InvalidUserInputError(
      "username",
      "Usernames are 3 to 32 letters, digits, dots, dashes or underscores.",
    );
  }
  return { username, normalized: username.toLowerCase() };
}

/**
 * Checks a display name: 1 to 64 characters once trimmed, no control characters.
 *
 * @throws {InvalidUserInputError} otherwise
 */
export function parseDisplayName(raw: unknown): string {
  const name = typeof raw === "string" ? raw.trim().normalize("NFC") : "";
  const length = [...name].length;
  // deno-lint-ignore no-control-regex
  if (length < 1 || length > MAX_DISPLAY_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new InvalidUserInputError(
      "displayName",
      `Display names are 1 to ${MAX_DISPLAY_NAME_LENGTH} characters.`,
    );
  }
  return name;
}

/** Users in KV. Hashing happens elsewhere: this store only keeps strings. */
export class UserStore {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;

  /** Creates the store over `kv`; `now` is the clock in ms. */
  constructor(kv: Deno.Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** Returns the id for a username in any case or compatibility form, or null. One read. */
  async idForUsername(username: string): Promise<string | null> {
    const normalized = normalizeUsername(username);
    if (normalized === "" || normalized.length > 128) return null;
    return (await this.#kv.get<string>(usernameKey(normalized))).value;
  }

  /** Returns the user with `id`, or null. */
  async get(id: string): Promise<User | null> {
    return (await this.#kv.get<User>(userKey(id))).value;
  }

  /** Returns the user named `username`, or null. */
  async findByUsername(username: string): Promise<User | null> {
    const id = await this.idForUsername(username);
    return id === null ? null : await this.get(id);
  }

  /**
   * Adds a user whose password was already hashed.
   *
   * @throws {InvalidUserInputError} for a bad username or display name
   * @throws {UsernameTakenError} when the normalised username exists
   */
  async create(
    input: { username: string; displayName: string; passwordHash: string },
  ): Promise<User> {
    const { username, normalized } = parseUsername(input.username);
    const user: User = {
      id: crypto.randomUUID(),
      username,
      normalizedUsername: normalized,
      displayName: parseDisplayName(input.displayName),
      passwordHash: input.passwordHash,
      createdAt: this.#now(),
    };
    // The versionstamp check on the username key makes two concurrent sign-ups for one name
    // (in any process) end with one user, never two.
    const result = await commitWithRetry(() =>
      this.#kv.atomic()
        .check({ key: usernameKey(normalized), versionstamp: null })
        .set(usernameKey(normalized), user.id)
        .set(userKey(user.id), user)
    );
    if (!result.ok) throw new UsernameTakenError();
    return user;
  }

  /**
   * Changes fields of a stored user under a versionstamp check (retried on conflict). Returns
   * the updated user, or null when there is no such user.
   */
  async update(
    id: string,
    changes: Partial<Pick<User, "displayName" | "passwordHash">>,
  ): Promise<User | null> {
    const displayName = changes.displayName === undefined
      ? undefined
      : parseDisplayName(changes.displayName);
    for (let attempt = 1; attempt <= 20; attempt++) {
      const entry = await this.#kv.get<User>(userKey(id));
      if (entry.value === null) return null;
      const user: User = {
        ...entry.value,
        ...(displayName === undefined ? {} : { displayName }),
        ...(changes.passwordHash === undefined ? {} : { passwordHash: changes.passwordHash }),
      };
      const result = await commitWithRetry(() =>
        this.#kv.atomic().check(entry).set(userKey(id), user)
      );
      if (result.ok) return user;
    }
    throw new Error(`Could not update user ${id}: too many concurrent writes`);
  }
}
