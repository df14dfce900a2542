/**
 * Password hashing with scrypt, bounded so that a login flood cannot exhaust memory.
 *
 * Why these choices (OWASP Password Storage Cheat Sheet, ASVS 5.0 V6 and V11.4):
 *
 * - scrypt is memory-hard and ships with `node:crypto`; N=2^17, r=8, p=1 is OWASP's first listed
 *   scrypt setting. Each hash holds 128 MiB and takes about half a second of one core.
 * - Each hash runs `scryptSync` on a long-lived Worker ({@link ./password_worker_pool.ts}), so
 *   other requests keep being served meanwhile; on the main thread it would block them all for
 *   that half second. It is a Worker rather than the async `scrypt` of `node:crypto` because that
 *   callback was seen to arrive only when an unrelated timer fired, a minute late (issue 17): a
 *   Worker's reply is a message, every hash has a deadline after which its Worker is stopped and
 *   the hash fails, and a crashed Worker fails its hash and is replaced, so no slot is ever held
 *   for good. Workers stop after `workerIdleMs` without work, or at once on `close()`, so a process
 *   that is done exits. Where there is no `Worker` (Deno Deploy) or it cannot start (no read
 *   permission for `src/password_worker.ts`), hashing falls back to the async `scrypt` on this
 *   thread, with one warning.
 * - Because every hash pins 128 MiB, at most `maxConcurrent` run at once; further callers wait in
 *   a short queue and beyond it are refused with {@linkcode HashBusyError} (HTTP 503 with
 *   `Retry-After`) instead of piling up until the process is killed.
 * - The parameters travel with each hash, so they can be raised later and old hashes upgraded at
 *   the user's next successful login (`verify()` reports `needsRehash`). Until then a wrong
 *   password against an older, cheaper hash also does a dummy derivation at the current
 *   parameters, so it is never answered faster than an unknown user (ASVS 5.0 6.3.8).
 *
 * Stored format, one line of ASCII with `$` as the only separator (base64 has no `$`):
 *
 * ```
 * scrypt$v=1$n=131072,r=8,p=1$<salt: base64, no padding>$<key: base64, no padding>
 * ```
 *
 * `v=1` means: the password's UTF-8 bytes exactly as received (no trimming or normalisation,
 * ASVS 5.0 6.2.8), scrypt per RFC 7914, key length given by the decoded key.
 *
 * @module
 */
import { scrypt, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import {
  type ScryptRequest,
  ScryptWorkerPool,
  startPasswordWorker,
} from "./password_worker_pool.ts";

/**
 * scrypt cost settings, named as in RFC 7914 and `node:crypto`: `N` (CPU/memory cost, a power of
 * two), `r` (block size), `p` (parallelism) and `keyLength` (derived key bytes).
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two; memory use is about `128 * N * r` bytes. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism: independent mixes run one after another, multiplying the time. */
  p: number;
  /** Length of the derived key in bytes. */
  keyLength: number;
}

/**
 * Production parameters: OWASP Password Storage Cheat Sheet, scrypt N=2^17, r=8, p=1 (128 MiB,
 * about 0.5-0.7 s per hash on the machine this was measured on).
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({
  N: 2 ** 17,
  r: 8,
  p: 1,
  keyLength: 32,
});

/**
 * Cheap parameters for tests only (1 MiB, a few milliseconds): never use them in production,
 * they are far below OWASP's minimum.
 */
export const TEST_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({
  N: 2 ** 10,
  r: 8,
  p: 1,
  keyLength: 32,
});

/**
 * Upper bound on the memory one scrypt call may use, passed as `maxmem`. Node's default (32 MiB)
 * is too small for N=2^17, r=8; 256 MiB leaves room for that and refuses anything bigger, so a
 * tampered stored hash with a huge `n` cannot make us allocate gigabytes.
 */
export const MAX_SCRYPT_MEMORY_BYTES = 256 * 1024 * 1024;

/** ASVS 5.0 6.2.1: at least 8 characters (Unicode code points). */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * ASVS 5.0 6.2.9 asks that 64 characters be allowed; the cap keeps a multi-megabyte "password"
 * from reaching the hash function (OWASP: limit input length against denial of service).
 */
export const MAX_PASSWORD_LENGTH = 256;

/**
 * Thrown when every hashing slot is busy and the caller cannot wait: the route should answer 503
 * with `Retry-After: retryAfterSeconds` rather than queue without bound.
 */
export class HashBusyError extends Error {
  /** Suggested delay before retrying, in whole seconds (at least 1), for `Retry-After`. */
  readonly retryAfterSeconds: number;
  /** `queue-full`: refused at once; `timeout`: waited `maxWaitMs` without getting a slot. */
  readonly reason: "queue-full" | "timeout";

  /** Creates the error; the message says which limit was hit. */
  constructor(reason: "queue-full" | "timeout", detail: string, retryAfterSeconds: number) {
    super(`Cannot hash password now: ${detail}`);
    this.name = "HashBusyError";
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Result of {@linkcode PasswordHasher.verify}. */
export interface VerifyResult {
  /** True when the password matches the stored hash. */
  ok: boolean;
  /**
   * True when the password matched but the stored hash uses other parameters than the hasher's:
   * hash the password again and store the new string. Always false when `ok` is false, since
   * only a correct password can be rehashed.
   */
  needsRehash: boolean;
}

/** Settings for {@linkcode createPasswordHasher}; every field is optional. */
export interface PasswordHasherOptions {
  /** Parameters for new hashes and dummy checks; default {@linkcode DEFAULT_SCRYPT_PARAMS}. */
  params?: ScryptParams;
  /**
   * Hashes allowed to run at once; default {@linkcode defaultHashConcurrency}. Each holds
   * `128 * N * r` bytes (128 MiB by default) and one core, so set it to at most the core count and
   * to what memory allows.
   */
  maxConcurrent?: number;
  /** Callers allowed to wait for a slot; default 8. Beyond that, {@linkcode HashBusyError}. */
  maxQueue?: number;
  /**
   * Longest wait for a slot in milliseconds; default 3000, `Infinity` for no limit. A login that
   * would wait longer is refused with {@linkcode HashBusyError} instead.
   */
  maxWaitMs?: number;
  /**
   * How long a hashing Worker is kept without work, in ms; default 1000. Starting one takes tens
   * of milliseconds, but an idle one keeps the process alive: this is also how long a process
   * that has finished (or a `deno serve` shutting down) may wait for it. `close()` ends them now.
   */
  workerIdleMs?: number;
  /**
   * Longest one derivation may take, in ms, before its Worker is stopped and the hash fails with
   * an `Error`; default 30000, far above the half second a production hash takes.
   */
  hashTimeoutMs?: number;
  /**
   * Starts one hashing Worker; default: `src/password_worker.ts` as a module Worker. For tests.
   * If it throws, as `new Worker` does where there are no Workers, hashing falls back to the
   * async `scrypt` on this thread.
   */
  createWorker?: () => Worker;
}

/** Hashes and checks passwords under a concurrency limit; see {@linkcode createPasswordHasher}. */
export interface PasswordHasher {
  /** The parameters new hashes use (a frozen copy). */
  readonly params: Readonly<ScryptParams>;
  /**
   * Hashes `password` with a fresh 16-byte salt.
   *
   * @returns the self-describing stored string, e.g. `scrypt$v=1$n=131072,r=8,p=1$...$...`
   * @throws {RangeError} when {@linkcode validatePassword} rejects the password (checked before
   * any hashing or queueing)
   * @throws {HashBusyError} when no hashing slot is free in time
   */
  hash(password: string): Promise<string>;
  /**
   * Checks `password` against a string made by `hash()`, in constant time.
   *
   * Never throws for a bad `stored` value: a malformed or tampered string (or one with parameters
   * beyond {@linkcode MAX_SCRYPT_MEMORY_BYTES}) does the dummy work and returns `ok: false`, so a
   * corrupt record looks like a wrong password from outside. Use {@linkcode parseStoredHash} to
   * find such records. A password longer than {@linkcode MAX_PASSWORD_LENGTH} or with an unpaired
   * surrogate could never have been hashed, so it returns `ok: false` without hashing.
   *
   * Against a stored hash made with cheaper parameters than the hasher's, the dummy work of
   * `verifyDummy()` runs too, in a slot of its own, and a wrong password waits for it: it is
   * never answered faster than an unknown user.
   *
   * @throws {HashBusyError} when no hashing slot is free in time (for a wrong password, also
   * when the dummy work gets none)
   */
  verify(password: string, stored: string): Promise<VerifyResult>;
  /**
   * Does the same work as a failed `verify()` at the current parameters and returns false: call it
   * for an unknown user so the response takes as long as for a wrong password (ASVS 5.0 6.3.8).
   * A password `verify()` refuses without hashing (too long, unpaired surrogate) is refused here
   * without hashing too, or its speed would tell which usernames exist.
   *
   * @throws {HashBusyError} when no hashing slot is free in time
   */
  verifyDummy(password: string): Promise<false>;
  /** Hashes running and callers waiting right now, for metrics and tests. */
  stats(): { active: number; queued: number };
  /**
   * Stops the hashing Workers now rather than after their idle time, so a process that is done
   * exits at once; hashes still running fail and later ones are refused. Optional, so that a
   * wrapper need not have it; {@linkcode createPasswordHasher}'s hashers do.
   */
  close?(): Promise<void>;
}

/** A {@linkcode PasswordHasher} that owns its Workers: close it, or `await using` it. */
export interface ClosablePasswordHasher extends PasswordHasher, AsyncDisposable {
  /** See {@linkcode PasswordHasher.close}. */
  close(): Promise<void>;
}

/** A stored hash taken apart by {@linkcode parseStoredHash}. */
export interface StoredHash {
  /** Parameters the hash was made with; `keyLength` is the decoded key's length. */
  params: ScryptParams;
  /** The salt bytes. */
  salt: Uint8Array;
  /** The derived key bytes. */
  key: Uint8Array;
}

const SALT_BYTES = 16;
const DEFAULT_MAX_QUEUE = 8;
const DEFAULT_MAX_WAIT_MS = 3000;
const DEFAULT_WORKER_IDLE_MS = 1000;
const DEFAULT_HASH_TIMEOUT_MS = 30_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
// RFC 7914 section 2: p * r < 2^30; far lower caps keep a tampered record from costing minutes.
const MAX_R = 32;
const MAX_P = 16;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 64;
const MAX_SALT_BYTES = 64;

/**
 * How many hashes run at once unless told otherwise: one less than the CPU count, at least 1.
 * A hash keeps a core busy for most of a second; leaving one core free keeps every other request
 * answered while sign-ins queue (bench/RESULTS.md: GET throughput while 8 logins hash).
 */
export function defaultHashConcurrency(): number {
  return Math.max(1, navigator.hardwareConcurrency - 1);
}

/**
 * Returns why `password` is not acceptable as a new password, or `null` when it is.
 *
 * Length counts Unicode code points, so an emoji is one character as the user sees it
 * (ASVS 5.0 6.2.1 and 6.2.9 speak of characters). Any character is allowed (ASVS 5.0 6.2.5).
 * Unpaired UTF-16 surrogates are refused: they would all encode to U+FFFD, so different strings
 * would share one hash. The messages never echo the password.
 *
 * @param password the submitted value; anything but a string (e.g. a `File` from a form) is refused
 * @returns an error message for the user, or `null`
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { validatePassword } from "./passwords.ts";
 *
 * strictEqual(validatePassword("correct horse"), null);
 * strictEqual(validatePassword("short"), "Password must be at least 8 characters");
 * strictEqual(validatePassword("🐴".repeat(8)), null);
 * ```
 */
export function validatePassword(password: unknown): string | null {
  if (typeof password !== "string") return "Password is required";
  // A code point is one or two UTF-16 units: anything longer than twice the cap is too long
  // without walking a possibly huge string.
  if (password.length > MAX_PASSWORD_LENGTH * 2) return TOO_LONG;
  let codePoints = 0;
  for (const _ of password) codePoints++;
  if (codePoints < MIN_PASSWORD_LENGTH) {
    return `Password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (codePoints > MAX_PASSWORD_LENGTH) return TOO_LONG;
  if (!password.isWellFormed()) return "Password contains an invalid character";
  return null;
}

const TOO_LONG = `Password must be at most ${MAX_PASSWORD_LENGTH} characters`;

/**
 * Takes a stored hash apart, or returns `null` when it is not exactly in the `v=1` format with
 * parameters this module accepts. Lenient like any reader: it never throws.
 *
 * Only the canonical spelling is accepted (no padding, no leading zeros, no stray bits in the
 * last base64 character), so one hash has one string and an edit anywhere is noticed.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { parseStoredHash } from "./passwords.ts";
 *
 * const stored = "scrypt$v=1$n=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A".repeat(42) + "E";
 * strictEqual(parseStoredHash(stored)?.params.N, 1024);
 * strictEqual(parseStoredHash(stored + "="), null);
 * ```
 */
export function parseStoredHash(stored: unknown): StoredHash | null {
  if (typeof stored !== "string" || stored.length > 512) return null;
  const match = STORED_FORMAT.exec(stored);
  if (match === null) return null;
  const [, n, r, p, salt64, key64] = match;
  if (!n || !r || !p || !salt64 || !key64) return null;
  const salt = Buffer.from(salt64, "base64");
  const key = Buffer.from(key64, "base64");
  const params = { N: Number(n), r: Number(r), p: Number(p), keyLength: key.length };
  if (paramsProblem(params) !== null) return null;
  if (salt.length < SALT_BYTES || salt.length > MAX_SALT_BYTES) return null;
  // Buffer's base64 decoder is lenient; re-encoding catches non-canonical input.
  if (formatStoredHash(params, salt, key) !== stored) return null;
  return { params, salt: new Uint8Array(salt), key: new Uint8Array(key) };
}

const STORED_FORMAT =
  /^scrypt\$v=1\$n=([1-9][0-9]{0,9}),r=([1-9][0-9]{0,2}),p=([1-9][0-9]{0,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * True when `stored` should be replaced by a fresh hash made with `params`: it is malformed, or any
 * parameter differs (so lowering a too-slow setting also takes effect, as PHP's
 * `password_needs_rehash` does). Call it only after a successful verification, with the password
 * at hand; `verify()` already reports this as `needsRehash`.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { DEFAULT_SCRYPT_PARAMS, needsRehash } from "./passwords.ts";
 *
 * const old = "scrypt$v=1$n=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A".repeat(42) + "E";
 * strictEqual(needsRehash(old, DEFAULT_SCRYPT_PARAMS), true);
 * ```
 */
export function needsRehash(stored: string, params: Readonly<ScryptParams>): boolean {
  const parsed = parseStoredHash(stored);
  return parsed === null || !sameParams(parsed.params, params);
}

/**
 * Creates a password hasher with its own concurrency limit. Create one per process (in `main.ts`)
 * and pass it down, so all routes share the limit.
 *
 * @throws {RangeError} for parameters or limits out of range, quoting the bad value
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { createPasswordHasher, TEST_SCRYPT_PARAMS } from "./passwords.ts";
 *
 * const hasher = createPasswordHasher({ params: TEST_SCRYPT_PARAMS });
 * const stored = await hasher.hash("correct horse");
 * strictEqual((await hasher.verify("correct horse", stored)).ok, true);
 * ```
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): ClosablePasswordHasher {
  // Copy so later changes to the caller's object cannot alter a running hasher.
  const params: Readonly<ScryptParams> = Object.freeze({
    ...(options.params ?? DEFAULT_SCRYPT_PARAMS),
  });
  const problem = paramsProblem(params);
  if (problem !== null) throw new RangeError(`Cannot create password hasher: ${problem}`);
  const limiter = new Limiter(
    options.maxConcurrent ?? defaultHashConcurrency(),
    options.maxQueue ?? DEFAULT_MAX_QUEUE,
    options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
  );
  const pool = new ScryptWorkerPool({
    createWorker: options.createWorker ?? startPasswordWorker,
    idleMs: timerSetting("workerIdleMs", options.workerIdleMs ?? DEFAULT_WORKER_IDLE_MS, 0),
    timeoutMs: timerSetting("hashTimeoutMs", options.hashTimeoutMs ?? DEFAULT_HASH_TIMEOUT_MS, 1),
    maxmem: MAX_SCRYPT_MEMORY_BYTES,
    fallback: deriveOnThisThread,
    warn: (message) => console.warn(message),
  });
  const derive = (password: string, salt: Uint8Array, { N, r, p, keyLength }: ScryptParams) =>
    pool.derive({ password, salt, N, r, p, keyLength });
  // A per-process random target: a dummy verification is a real scrypt run at the current
  // parameters followed by a real comparison, and no password can be known to match it.
  const dummySalt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const dummyKey = crypto.getRandomValues(new Uint8Array(params.keyLength));

  async function verifyDummy(password: string): Promise<false> {
    if (!canBeStored(password)) return false;
    const key = await limiter.run(() => derive(password, dummySalt, params));
    timingSafeEqual(key, dummyKey);
    return false;
  }

  const close = () => pool.close();
  return {
    params,
    async hash(password) {
      const invalid = validatePassword(password);
      if (invalid !== null) throw new RangeError(`Cannot hash password: ${invalid}`);
      const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
      const key = await limiter.run(() => derive(password, salt, params));
      return formatStoredHash(params, salt, key);
    },
    async verify(password, stored) {
      if (!canBeStored(password)) return { ok: false, needsRehash: false };
      const parsed = parseStoredHash(stored);
      if (parsed === null) {
        await verifyDummy(password);
        return { ok: false, needsRehash: false };
      }
      const checking = limiter.run(() => derive(password, parsed.salt, parsed.params));
      // A hash made with cheaper parameters than today's is checked faster than an unknown user
      // is refused: the dummy derivation at today's parameters pads it. It starts now, in a slot
      // of its own, so with two slots free a wrong password takes as long as the slower of the
      // two, as an unknown user does, not their sum; with one slot it runs after the check.
      const padding = scryptCost(parsed.params) < scryptCost(params)
        ? verifyDummy(password)
        : undefined;
      // Awaited below only for a wrong password; until then its failure must not go unhandled.
      padding?.catch(() => {});
      // Equal lengths, as timingSafeEqual needs: keyLength was taken from the stored key.
      const ok = timingSafeEqual(await checking, parsed.key);
      // A wrong password waits for the padding, and is refused like an unknown user if the
      // padding found no slot. A right one does not: its hash is about to be upgraded anyway.
      if (!ok) await padding;
      return { ok, needsRehash: ok && !sameParams(parsed.params, params) };
    },
    verifyDummy,
    stats: () => limiter.stats(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The relative time one derivation takes: scrypt's work is proportional to `N * r * p`. */
function scryptCost({ N, r, p }: Readonly<ScryptParams>): number {
  return N * r * p;
}

/** Checks a whole-millisecond timer setting of {@linkcode createPasswordHasher}. */
function timerSetting(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > MAX_TIMER_MS) {
    throw new RangeError(
      `Cannot create password hasher: ${name} must be an integer from ${min} to ${MAX_TIMER_MS}, got ${value}`,
    );
  }
  return value;
}

/** Only the upper bound and well-formedness: a password set under an older, shorter minimum must
 * still verify. */
function canBeStored(password: unknown): password is string {
  if (typeof password !== "string" || password.length > MAX_PASSWORD_LENGTH * 2) return false;
  let codePoints = 0;
  for (const _ of password) codePoints++;
  return codePoints <= MAX_PASSWORD_LENGTH && password.isWellFormed();
}

/**
 * The async `scrypt` of `node:crypto`, which runs on the runtime's thread pool: the fallback where
 * Workers are unavailable (see the module doc for why it is not the default).
 */
function deriveOnThisThread(request: ScryptRequest): Promise<Uint8Array> {
  const { password, salt, N, r, p, keyLength } = request;
  return new Promise((resolve, reject) => {
    // It may also throw synchronously for bad parameters, which the Promise constructor turns
    // into a rejection.
    scrypt(
      password,
      salt,
      keyLength,
      { N, r, p, maxmem: MAX_SCRYPT_MEMORY_BYTES },
      (error, key) => {
        if (error) reject(error);
        else resolve(new Uint8Array(key));
      },
    );
  });
}

function formatStoredHash(
  params: Readonly<ScryptParams>,
  salt: Uint8Array,
  key: Uint8Array,
): string {
  return `scrypt$v=1$n=${params.N},r=${params.r},p=${params.p}$${base64(salt)}$${base64(key)}`;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

function sameParams(a: Readonly<ScryptParams>, b: Readonly<ScryptParams>): boolean {
  return a.N === b.N && a.r === b.r && a.p === b.p && a.keyLength === b.keyLength;
}

/** What is wrong with `params`, or null; shared by the factory (throws) and the parser (null). */
function paramsProblem(params: Readonly<ScryptParams>): string | null {
  const { N, r, p, keyLength } = params;
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0) {
    return `N must be a power of two of at least 2, got ${N}`;
  }
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) {
    return `r must be an integer from 1 to ${MAX_R}, got ${r}`;
  }
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) {
    return `p must be an integer from 1 to ${MAX_P}, got ${p}`;
  }
  if (!Number.isInteger(keyLength) || keyLength < MIN_KEY_BYTES || keyLength > MAX_KEY_BYTES) {
    return `keyLength must be an integer from ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES}, got ${keyLength}`;
  }
  // OpenSSL's accounting: the V array is 128 * r * (N + 2) bytes and B is 128 * r * p.
  const memoryBytes = 128 * r * (N + 2) + 128 * r * p;
  if (memoryBytes > MAX_SCRYPT_MEMORY_BYTES) {
    return `N=${N}, r=${r}, p=${p} needs ${memoryBytes} bytes, more than ${MAX_SCRYPT_MEMORY_BYTES}`;
  }
  return null;
}

interface Waiter {
  grant: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * A counting semaphore with a bounded FIFO queue and a bounded wait. A slot freed by one hash is
 * handed straight to the oldest waiter, so a newcomer cannot overtake the queue.
 */
class Limiter {
  #active = 0;
  readonly #queue: Waiter[] = [];
  readonly #maxConcurrent: number;
  readonly #maxQueue: number;
  readonly #maxWaitMs: number;
  readonly #retryAfterSeconds: number;

  constructor(maxConcurrent: number, maxQueue: number, maxWaitMs: number) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(
        `Cannot create password hasher: maxConcurrent must be an integer of at least 1, got ${maxConcurrent}`,
      );
    }
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new RangeError(
        `Cannot create password hasher: maxQueue must be an integer of at least 0, got ${maxQueue}`,
      );
    }
    if (!(maxWaitMs >= 0) || (maxWaitMs !== Infinity && maxWaitMs > 2 ** 31 - 1)) {
      throw new RangeError(
        `Cannot create password hasher: maxWaitMs must be from 0 to 2147483647 or Infinity, got ${maxWaitMs}`,
      );
    }
    this.#maxConcurrent = maxConcurrent;
    this.#maxQueue = maxQueue;
    this.#maxWaitMs = maxWaitMs;
    // A refused caller should come back about when the current queue has had time to drain.
    this.#retryAfterSeconds = Number.isFinite(maxWaitMs)
      ? Math.max(1, Math.ceil(maxWaitMs / 1000))
      : 1;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  stats(): { active: number; queued: number } {
    return { active: this.#active, queued: this.#queue.length };
  }

  #acquire(): Promise<void> {
    if (this.#active < this.#maxConcurrent && this.#queue.length === 0) {
      this.#active++;
      return Promise.resolve();
    }
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new HashBusyError(
          "queue-full",
          `${this.#active} hashes running and ${this.#queue.length} waiting`,
          this.#retryAfterSeconds,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, timer: undefined };
      if (Number.isFinite(this.#maxWaitMs)) {
        waiter.timer = setTimeout(() => {
          const index = this.#queue.indexOf(waiter);
          if (index !== -1) this.#queue.splice(index, 1);
          reject(
            new HashBusyError(
              "timeout",
              `no hashing slot became free within ${this.#maxWaitMs} ms`,
              this.#retryAfterSeconds,
            ),
          );
        }, this.#maxWaitMs);
      }
      this.#queue.push(waiter);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next === undefined) {
      this.#active--;
      return;
    }
    // The slot passes to `next` without `#active` changing; its timer must not outlive the wait.
    clearTimeout(next.timer);
    next.grant();
  }
}
