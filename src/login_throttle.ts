/**
 * Throttling every request that checks or hashes a password: sign-in, sign-up and password change.
 *
 * Two kinds of limit, both keyed by the client address that `clientAddress()` derives (an IPv6
 * client by its /64):
 *
 * - **Hash work.** A password hash holds a core and 128 MiB for about half a second, and the hasher
 *   serves everyone from one small queue. So each address may have only `concurrentPerAddress`
 *   attempts in flight (in process memory: the excess is refused at once, before any KV read or
 *   hash) and may start only `hashesPerAddress` hash-costing requests per window (in KV). A
 *   flooding address is refused with 429 before it reaches the hasher's queue, so it cannot take
 *   the queue from other clients. Under `deno serve --parallel` every worker has its own hasher and
 *   its own in-flight count: an address may have `concurrentPerAddress` attempts in flight in each
 *   worker, while the KV counters are shared by all workers.
 * - **Failures**, counted in KV as fixed windows that start at the first count: per account+address
 *   (the tight limit, which an attacker elsewhere cannot use to lock a real user out), per address
 *   (one address spraying many accounts) and per account from every address together (100 an hour,
 *   OWASP ASVS 4.0.3 2.2.1). Only attempts that really hash count towards the account-wide limit:
 *   a password no hash can match (too long) costs the attacker nothing, so it must not build a lock
 *   that pauses the account for everyone. The signed-in owner changing their password is not
 *   checked against the account-wide limit (other people's failures must not block the owner),
 *   only against the account+address and address limits, where the owner's own failures count.
 *   A sign-up for a taken username is a failure of its address (harvesting names).
 *
 * Every attempt reserves its failure before the password is checked, in one checked commit, and
 * gets it back when the password was right or nothing was learned (an error, a busy hasher). So a
 * limit of N lets exactly N attempts check a password, however many arrive at once; counting after
 * the check would let every attempt that passed the check before the first failure was written
 * through. Attempts on one account (or, without an account, from one address) reserve one at a
 * time within a process, so a burst does not turn into a storm of conflicting commits; the
 * versionstamp checks keep the count exact across processes.
 *
 * KV deletes expired entries late (`expireIn` is a hint), so each counter also stores when its
 * window ends and a stale one reads as empty.
 *
 * @module
 */
import { backoff, commitWithRetry } from "@kvsession/hono";
import {
  accountFailuresKey,
  accountTotalFailuresKey,
  addressFailuresKey,
  addressHashRequestsKey,
} from "./kv_keys.ts";

/** Limits of a {@linkcode LoginThrottle}. */
export interface ThrottleLimits {
  /** Failures allowed per account from one address within the window. */
  perAccount: number;
  /** Failures allowed from one address, all accounts together, within the window. */
  perAddress: number;
  /** Window length in seconds, for every limit but the account-wide one. */
  windowSeconds: number;
  /** Failures allowed per account from all addresses together; default 100. */
  perAccountAnyAddress?: number;
  /** Window of the per-account limit in seconds; default one hour. */
  accountWindowSeconds?: number;
  /**
   * Requests that may hash (sign-ins with a password that can be hashed, sign-ups, password
   * changes) allowed from one address within the window, whatever their outcome; default 100.
   */
  hashesPerAddress?: number;
  /**
   * Attempts one address may have in flight at once in this process; default 2. The excess is
   * refused at once with `Retry-After: 1`.
   */
  concurrentPerAddress?: number;
}

/**
 * 10 failures in 15 minutes per account+address, 100 per address, 100 an hour per account; 100
 * hash-costing requests in 15 minutes and 2 at once per address.
 */
export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  perAccount: 10,
  perAddress: 100,
  windowSeconds: 15 * 60,
  perAccountAnyAddress: 100,
  accountWindowSeconds: 60 * 60,
  hashesPerAddress: 100,
  concurrentPerAddress: 2,
};

/** What an attempt asks {@linkcode LoginThrottle.begin} for. */
export interface AttemptRequest {
  /** The normalized username the attempt is about; none for a sign-up. */
  account?: string;
  /** The client address, as `clientAddress()` returns it (an IPv6 client by its /64). */
  address: string;
  /**
   * True when the attempt may run a password hash: it is charged against the address's hash
   * budget and, with an account, its failure counts towards the account-wide limit.
   */
  hashes: boolean;
  /**
   * False to skip the account-wide limit: for the signed-in owner changing their password, whom
   * other people's failures must not lock out. Their failures are still counted. Default true.
   */
  checkAccountAnyAddress?: boolean;
}

/** An admitted attempt; {@linkcode ThrottledAttempt.end} must be called exactly once. */
export interface ThrottledAttempt {
  /** The password was wrong (or the account unknown): the reserved failure stays counted. */
  failed(): void;
  /**
   * The password was right (or, for a sign-up, the account was made): the reserved failure is
   * given back, and the account+address counter is cleared of the failures before this attempt.
   */
  passed(): Promise<void>;
  /**
   * Frees the in-flight place. An attempt neither failed nor passed (an error, a busy hasher, a
   * refused new password before any check) gets its reserved failure back. Never throws: when the
   * refund cannot be written, the attempt simply stays counted.
   */
  end(): Promise<void>;
}

/** What {@linkcode LoginThrottle.begin} decided. */
export type Admission =
  | { allowed: true; attempt: ThrottledAttempt }
  | { allowed: false; retryAfterSeconds: number };

/**
 * Thrown by flows that report throttling as an error (sign-up): the route answers 429 with
 * `Retry-After: retryAfterSeconds`.
 */
export class TooManyAttemptsError extends Error {
  /** Whole seconds (at least 1) until an attempt may succeed, for `Retry-After`. */
  readonly retryAfterSeconds: number;

  /** Creates the error. */
  constructor(retryAfterSeconds: number) {
    super("Too many attempts from this address. Please wait a few minutes and try again.");
    this.name = "TooManyAttemptsError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface Counter {
  count: number;
  resetAt: number;
}

/** One counter an attempt looks at: checked against `limit`, incremented, or both. */
interface Slot {
  key: Deno.KvKey;
  limit: number;
  windowMs: number;
  check: boolean;
  increment: boolean;
  /** A failure slot is given back when nothing failed; the hash budget never is. */
  refundable: boolean;
  /** The account+address counter: cleared, not just decremented, when the password was right. */
  clearOnPass: boolean;
}

/** A counter this attempt incremented: the value it wrote and the commit that wrote it. */
interface Reserved {
  key: Deno.KvKey;
  value: Counter;
  versionstamp: string;
  /** The account+address counter: cleared, not just decremented, when the password was right. */
  clearOnPass: boolean;
}

// A reservation or refund that keeps meeting other processes' commits gives up after this many
// tries (with backoff): the attempt is refused (fail closed) or the refund dropped (fail safe).
const MAX_TRIES = 12;

/**
 * Failed-login and hash-work counters; see the module documentation. Create one per process and
 * share it: the in-flight counts live in the instance.
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { LoginThrottle } from "./login_throttle.ts";
 *
 * const kv = await Deno.openKv(":memory:");
 * const throttle = new LoginThrottle(kv);
 * const admission = await throttle.begin({ account: "alice", address: "192.0.2.1", hashes: true });
 * strictEqual(admission.allowed, true);
 * if (admission.allowed) {
 *   try {
 *     admission.attempt.failed(); // the password was wrong; on a right one: await passed()
 *   } finally {
 *     await admission.attempt.end(); // always, exactly once
 *   }
 * }
 * kv.close();
 * ```
 */
export class LoginThrottle {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #limits: Required<ThrottleLimits>;
  readonly #inFlight = new Map<string, number>();
  readonly #queues = new Map<string, Promise<unknown>>();

  /** Creates a throttle over `kv`; `now` is the clock in ms. */
  constructor(kv: Deno.Kv, now: () => number = Date.now, limits = DEFAULT_THROTTLE_LIMITS) {
    this.#kv = kv;
    this.#now = now;
    this.#limits = {
      perAccountAnyAddress: 100,
      accountWindowSeconds: 3600,
      hashesPerAddress: 100,
      concurrentPerAddress: 2,
      ...limits,
    };
  }

  /**
   * Decides, before any password is checked or hashed, whether an attempt may go ahead, and if
   * so reserves its failure and charges its hash. At most one KV read and one commit when no other
   * attempt interferes; a refusal for too many attempts in flight costs no KV operation.
   */
  async begin(request: AttemptRequest): Promise<Admission> {
    const { address } = request;
    const inFlight = this.#inFlight.get(address) ?? 0;
    if (inFlight >= this.#limits.concurrentPerAddress) {
      return { allowed: false, retryAfterSeconds: 1 };
    }
    this.#inFlight.set(address, inFlight + 1);
    let admitted = false;
    try {
      const slots = this.#slots(request);
      const queue = request.account === undefined
        ? `address ${address}`
        : `account ${request.account}`;
      const result = await this.#serialized(queue, () => this.#reserve(slots));
      if ("retryAfterSeconds" in result) return { allowed: false, ...result };
      admitted = true;
      return { allowed: true, attempt: this.#attempt(queue, address, result.reserved) };
    } finally {
      if (!admitted) this.#leave(address);
    }
  }

  #slots(request: AttemptRequest): Slot[] {
    const { account, address, hashes, checkAccountAnyAddress = true } = request;
    const limits = this.#limits;
    const windowMs = limits.windowSeconds * 1000;
    const slots: Slot[] = [];
    if (account !== undefined) {
      slots.push({
        key: accountFailuresKey(account, address),
        limit: limits.perAccount,
        windowMs,
        check: true,
        increment: true,
        refundable: true,
        clearOnPass: true,
      });
    }
    slots.push({
      key: addressFailuresKey(address),
      limit: limits.perAddress,
      windowMs,
      check: true,
      increment: true,
      refundable: true,
      clearOnPass: false,
    });
    if (account !== undefined && (hashes || checkAccountAnyAddress)) {
      slots.push({
        key: accountTotalFailuresKey(account),
        limit: limits.perAccountAnyAddress,
        windowMs: limits.accountWindowSeconds * 1000,
        check: checkAccountAnyAddress,
        // An attempt that cannot hash guesses nothing: it must not build the account-wide lock.
        increment: hashes,
        refundable: true,
        clearOnPass: false,
      });
    }
    if (hashes) {
      slots.push({
        key: addressHashRequestsKey(address),
        limit: limits.hashesPerAddress,
        windowMs,
        check: true,
        increment: true,
        refundable: false,
        clearOnPass: false,
      });
    }
    return slots;
  }

  /** One read of every slot, then one commit checked against that read; retried on conflict. */
  async #reserve(
    slots: Slot[],
  ): Promise<{ reserved: Reserved[] } | { retryAfterSeconds: number }> {
    for (let tries = 1; tries <= MAX_TRIES; tries++) {
      const now = this.#now();
      const entries = await this.#kv.getMany<Counter[]>(slots.map((slot) => slot.key));
      let resetAt = 0;
      for (const [i, slot] of slots.entries()) {
        const counter = live(entries[i]!.value, now);
        if (slot.check && counter !== null && counter.count >= slot.limit) {
          resetAt = Math.max(resetAt, counter.resetAt);
        }
      }
      if (resetAt > 0) return { retryAfterSeconds: secondsUntil(resetAt, now) };

      const writes: { slot: Slot; value: Counter }[] = [];
      for (const [i, slot] of slots.entries()) {
        if (!slot.increment) continue;
        const counter = live(entries[i]!.value, now);
        writes.push({
          slot,
          value: counter === null
            ? { count: 1, resetAt: now + slot.windowMs }
            : { count: counter.count + 1, resetAt: counter.resetAt },
        });
      }
      const result = await commitWithRetry(() => {
        const operation = this.#kv.atomic();
        for (const [i, slot] of slots.entries()) {
          if (slot.increment) operation.check(entries[i]!);
        }
        for (const { slot, value } of writes) {
          operation.set(slot.key, value, { expireIn: Math.max(1, value.resetAt - now) });
        }
        return operation;
      });
      if (result.ok) {
        return {
          reserved: writes.filter(({ slot }) => slot.refundable).map(({ slot, value }) => ({
            key: slot.key,
            value,
            versionstamp: result.versionstamp,
            clearOnPass: slot.clearOnPass,
          })),
        };
      }
      await backoff(tries, 2, 100);
    }
    // Other processes kept committing to these counters: refuse rather than count loosely.
    return { retryAfterSeconds: 1 };
  }

  #attempt(queue: string, address: string, reserved: Reserved[]): ThrottledAttempt {
    let state: "open" | "failed" | "passed" | "ended" = "open";
    return {
      failed: () => {
        if (state === "open") state = "failed";
      },
      passed: async () => {
        if (state !== "open") return;
        state = "passed";
        await this.#serialized(queue, () => this.#refund(reserved, true));
      },
      end: async () => {
        if (state === "ended") return;
        const refund = state === "open";
        state = "ended";
        this.#leave(address);
        if (!refund) return;
        try {
          await this.#serialized(queue, () => this.#refund(reserved, false));
        } catch {
          // Usually another error is on its way to the client already; a failure that stays
          // counted only brings a lock slightly closer, which is the safe side.
        }
      },
    };
  }

  /**
   * Takes this attempt's reservation out of each counter it incremented. On a pass the
   * account+address counter also loses the failures counted before this attempt (a right password
   * clears them, as a sign-in always did); failures reserved after it stay.
   */
  async #refund(reserved: Reserved[], passed: boolean): Promise<void> {
    let current: { key: Deno.KvKey; value: Counter | null; versionstamp: string }[] = reserved;
    for (let tries = 1; tries <= MAX_TRIES; tries++) {
      const now = this.#now();
      const result = await commitWithRetry(() => {
        const operation = this.#kv.atomic();
        for (const [i, entry] of current.entries()) {
          const mine = reserved[i]!;
          // A counter whose window ended (or that is gone) no longer holds the reservation.
          if (entry.value === null || entry.value.resetAt !== mine.value.resetAt) continue;
          if (entry.value.resetAt <= now) continue;
          operation.check({ key: entry.key, versionstamp: entry.versionstamp });
          const count = entry.value.count - (passed && mine.clearOnPass ? mine.value.count : 1);
          if (count <= 0) operation.delete(entry.key);
          else {
            operation.set(entry.key, { count, resetAt: entry.value.resetAt }, {
              expireIn: Math.max(1, entry.value.resetAt - now),
            });
          }
        }
        return operation;
      });
      if (result.ok) return;
      // Someone counted meanwhile: read again and take our share out of the new values.
      const fresh = await this.#kv.getMany<Counter[]>(reserved.map((r) => r.key));
      current = fresh.map((entry) => ({
        key: entry.key,
        value: entry.value,
        versionstamp: entry.versionstamp ?? "",
      }));
      await backoff(tries, 2, 100);
    }
  }

  #leave(address: string): void {
    const count = (this.#inFlight.get(address) ?? 1) - 1;
    if (count <= 0) this.#inFlight.delete(address);
    else this.#inFlight.set(address, count);
  }

  /** Runs `fn` after every earlier call with the same `queue` name has settled. */
  async #serialized<T>(queue: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(queue) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.catch(() => {});
    this.#queues.set(queue, tail);
    try {
      return await run;
    } finally {
      if (this.#queues.get(queue) === tail) this.#queues.delete(queue);
    }
  }
}

function live(counter: Counter | null, now: number): Counter | null {
  return counter !== null && counter.resetAt > now ? counter : null;
}

function secondsUntil(resetAt: number, now: number): number {
  return Math.max(1, Math.ceil((resetAt - now) / 1000));
}
