/**
 * User records in Deno KV: unique normalised usernames, display names, password hashes.
 *
 * @module
 */
import { commitWithRetry } from "@kvsession/hono";
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

/** Why a display name with a control, format or invisible character is refused. */
export const DISPLAY_NAME_CHARACTERS_RULE =
  "Display names cannot contain control, formatting or invisible characters.";

// A letter or mark of a script that shapes with ZWJ/ZWNJ: not Latin, Greek, Cyrillic or the
// shared punctuation and marks, where a joiner changes nothing but the string.
const JOINING_LETTER = "[[\\p{L}\\p{M}]--[\\p{scx=Latn}\\p{scx=Grek}\\p{scx=Cyrl}" +
  "\\p{scx=Zyyy}\\p{scx=Zinh}]]";
/**
 * Format characters that are part of how a name is written, removed before the check below:
 * emoji variation selectors; the ZWJ of emoji sequences (family, rainbow flag, skin tones); the
 * tag characters of subdivision flags; and ZWJ/ZWNJ between letters of scripts that shape with
 * them (Persian names such as Alireza, Indic conjuncts), as UTS #39 allows them in context only.
 */
const FORMAT_IN_CONTEXT = new RegExp(
  [
    "(?<=\\p{Emoji})[\\uFE0E\\uFE0F]",
    "(?<=\\p{Extended_Pictographic}[\\uFE0F\\p{Emoji_Modifier}]?)\\u200D(?=\\p{Extended_Pictographic})",
    "(?<=\\u{1F3F4})[\\u{E0030}-\\u{E0039}\\u{E0061}-\\u{E007A}]{1,6}\\u{E007F}",
    `(?<=${JOINING_LETTER})[\\u200C\\u200D](?=${JOINING_LETTER})`,
  ].join("|"),
  "gv",
);
/**
 * Characters a display name may not hold: controls (Cc), format characters (Cf: bidirectional
 * overrides and isolates, zero-width spaces, soft hyphen, tags), private-use (Co) and unassigned
 * (Cn) code points, which render as anything or nothing, lone surrogates (Cs), line and paragraph
 * separators (Zl, Zp), the other default-ignorable code points (Hangul fillers, variation
 * selectors) and the blank braille pattern U+2800: each lets a name look like another one or
 * like nothing (Unicode TR 36, UTS #39).
 */
const FORBIDDEN_IN_DISPLAY_NAME =
  /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/v;

/**
 * Checks a display name: 1 to 64 characters once trimmed, NFC-normalised and with every run of
 * spaces (any Unicode space separator, e.g. no-break or ideographic) made one ASCII space; no
 * control, format, private-use, unassigned or invisible characters, except the format
 * characters emoji and some scripts need, where they belong.
 *
 * @throws {InvalidUserInputError} otherwise
 */
export function parseDisplayName(raw: unknown): string {
  // Runs of spaces collapse: an HTML page shows "A  B" as "A B", so they would be look-alikes.
  const name = typeof raw === "string" ? raw.trim().normalize("NFC").replace(/\p{Zs}+/gu, " ") : "";
  const length = [...name].length;
  if (length < 1 || length > MAX_DISPLAY_NAME_LENGTH) {
    throw new InvalidUserInputError(
      "displayName",
      `Display names are 1 to ${MAX_DISPLAY_NAME_LENGTH} characters.`,
    );
  }
  if (FORBIDDEN_IN_DISPLAY_NAME.test(name.replace(FORMAT_IN_CONTEXT, ""))) {
    throw new InvalidUserInputError("displayName", DISPLAY_NAME_CHARACTERS_RULE);
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

  /**
   * Returns the user's KV entry (value null when there is none). Pass it to
   * {@linkcode UserStore.checkUnchanged} or {@linkcode UserStore.setPasswordHash} so a later
   * commit holds only if the record is still the one read here.
   */
  async getEntry(id: string): Promise<Deno.KvEntryMaybe<User>> {
    return await this.#kv.get<User>(userKey(id));
  }

  /** Adds to `operation` a check that the user record is still `entry` (read by `getEntry`). */
  checkUnchanged(operation: Deno.AtomicOperation, entry: Deno.KvEntry<User>): Deno.AtomicOperation {
    return operation.check(entry);
  }

  /**
   * Adds to `operation` the replacement of `entry`'s password hash (and display name, when
   * given), checked against `entry`: the commit fails, and nothing changes, if the record was
   * written since it was read. The caller commits, together with whatever must go with it (the
   * credential version bump and session rotation of a password change).
   *
   * @throws {InvalidUserInputError} for a bad display name
   */
  setPasswordHash(
    operation: Deno.AtomicOperation,
    entry: Deno.KvEntry<User>,
    passwordHash: string,
    displayName?: string,
  ): Deno.AtomicOperation {
    const user: User = {
      ...entry.value,
      passwordHash,
      ...(displayName === undefined ? {} : { displayName: parseDisplayName(displayName) }),
    };
    return operation.check(entry).set(userKey(entry.value.id), user);
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
   * Changes the display name of a stored user under a versionstamp check (retried on conflict).
   * Returns the updated user, or null when there is no such user. The password hash is not
   * changed here: {@linkcode UserStore.setPasswordHash} writes it only over the record whose
   * hash was verified, in the commit that also bumps the credential version.
   */
  async update(
    id: string,
    changes: Partial<Pick<User, "displayName">>,
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
      };
      const result = await commitWithRetry(() =>
        this.#kv.atomic().check(entry).set(userKey(id), user)
      );
      if (result.ok) return user;
    }
    throw new Error(`Could not update user ${id}: too many concurrent writes`);
  }
}
