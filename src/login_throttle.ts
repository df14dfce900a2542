/**
 * Counting failed sign-ins in Deno KV: per account+address, per address, and per account.
 *
 * Counters are fixed windows that expire by `expireIn` (no sweeper). Because KV deletes late, a
 * counter also stores when its window ends and a read ignores a stale one. The tight
 * account+address limit stops guessing from one place without letting an attacker elsewhere
 * lock a real user out; the per-address limit stops one address from spraying many accounts;
 * the per-account limit (100 an hour, OWASP ASVS 4.0.3 2.2.1) caps guessing spread over many
 * addresses, at the price of pausing that account's sign-ins for the rest of the hour.
 *
 * @module
 */
import { accountFailuresKey, accountTotalFailuresKey, addressFailuresKey } from "./kv_keys.ts";
import { commitWithRetry } from "./kv_commit.ts";

/** Limits of a {@linkcode LoginThrottle}. */
export interface ThrottleLimits {
  /** Failures allowed per account from one address within the window. */
  perAccount: number;
  /** Failures allowed from one address, all accounts together, within the window. */
  perAddress: number;
  /** Window length in seconds. */
  windowSeconds: number;
  /** Failures allowed per account from all addresses together; default 100. */
  perAccountAnyAddress?: number;
  /** Window of the per-account limit in seconds; default one hour. */
  accountWindowSeconds?: number;
}

/** 10 failures in 15 minutes per account+address, 100 per address, 100 an hour per account. */
export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  perAccount: 10,
  perAddress: 100,
  windowSeconds: 15 * 60,
  perAccountAnyAddress: 100,
  accountWindowSeconds: 60 * 60,
};

interface Counter {
  count: number;
  resetAt: number;
}

/** What {@linkcode LoginThrottle.check} decided. */
export type ThrottleDecision =
  | {
    allowed: true;
    /** Failures already counted for this account+address (0: nothing to clear on success). */
    accountFailures: number;
  }
  | { allowed: false; retryAfterSeconds: number };

/** Failed-login counters. */
export class LoginThrottle {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #limits: ThrottleLimits;

  /** Creates a throttle over `kv`; `now` is the clock in ms. */
  constructor(kv: Deno.Kv, now: () => number = Date.now, limits = DEFAULT_THROTTLE_LIMITS) {
    this.#kv = kv;
    this.#now = now;
    this.#limits = limits;
  }

  /** Decides, before any password is checked, whether this attempt may go ahead. One read. */
  async check(username: string, address: string): Promise<ThrottleDecision> {
    const now = this.#now();
    const { perAccount, perAddress, perAccountAnyAddress = 100 } = this.#limits;
    const [account, byAddress, accountTotal] = await this.#kv.getMany<[Counter, Counter, Counter]>([
      accountFailuresKey(username, address),
      addressFailuresKey(address),
      accountTotalFailuresKey(username),
    ]);
    let resetAt = 0;
    const limits = [[account, perAccount], [byAddress, perAddress], [
      accountTotal,
      perAccountAnyAddress,
    ]] as const;
    for (const [entry, limit] of limits) {
      const counter = live(entry.value, now);
      if (counter !== null && counter.count >= limit) resetAt = Math.max(resetAt, counter.resetAt);
    }
    if (resetAt === 0) {
      return { allowed: true, accountFailures: live(account.value, now)?.count ?? 0 };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((resetAt - now) / 1000)) };
  }

  /** Counts one failed attempt against the account+address, the address and the account. */
  async recordFailure(username: string, address: string): Promise<void> {
    const { windowSeconds, accountWindowSeconds = 3600 } = this.#limits;
    await Promise.all([
      this.#increment(accountFailuresKey(username, address), windowSeconds),
      this.#increment(addressFailuresKey(address), windowSeconds),
      this.#increment(accountTotalFailuresKey(username), accountWindowSeconds),
    ]);
  }

  /** Clears the account+address counter after a successful sign-in. */
  async recordSuccess(username: string, address: string): Promise<void> {
    await commitWithRetry(() => this.#kv.atomic().delete(accountFailuresKey(username, address)));
  }

  async #increment(key: Deno.KvKey, windowSeconds: number): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const now = this.#now();
      const entry = await this.#kv.get<Counter>(key);
      const current = live(entry.value, now);
      const next: Counter = current === null
        ? { count: 1, resetAt: now + windowSeconds * 1000 }
        : { count: current.count + 1, resetAt: current.resetAt };
      const result = await commitWithRetry(() =>
        this.#kv.atomic().check(entry).set(key, next, {
          expireIn: Math.max(1, next.resetAt - now),
        })
      );
      if (result.ok) return;
    }
  }
}

function live(counter: Counter | null, now: number): Counter | null {
  return counter !== null && counter.resetAt > now ? counter : null;
}
