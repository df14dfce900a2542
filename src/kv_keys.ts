/**
 * Every Deno KV key the shop writes, built in one place so the layout reads in one screen. The
 * session package (`@kvsession/hono`) keeps its own keys (`sessions`, `user_sessions`,
 * `credential_versions`) to itself; nothing here may start with those.
 *
 * | key                                          | value                                  |
 * | -------------------------------------------- | -------------------------------------- |
 * | `["users", userId]`                          | user record with password hash         |
 * | `["usernames", normalizedUsername]`          | userId, for unique usernames           |
 * | `["login_failures", "account", user, addr]`  | failed-login counter                   |
 * | `["login_failures", "address", addr]`        | failed-login counter                   |
 * | `["login_failures", "account_total", user]`  | failed-login counter, all addresses    |
 * | `["login_failures", "address_hashes", addr]` | requests that may hash, per address    |
 * | `["products", productId]`                    | catalogue product                      |
 * | `["meta", name]`                             | one-off markers (catalogue seeded)     |
 *
 * @module
 */

/** User record. */
export function userKey(userId: string): Deno.KvKey {
  return ["users", userId];
}

/** Username -> user id, so a username is taken at most once. */
export function usernameKey(normalizedUsername: string): Deno.KvKey {
  return ["usernames", normalizedUsername];
}

/** Failed logins for one account from one client address. */
export function accountFailuresKey(normalizedUsername: string, address: string): Deno.KvKey {
  return ["login_failures", "account", normalizedUsername, address];
}

/** Failed logins from one client address, whatever the account. */
export function addressFailuresKey(address: string): Deno.KvKey {
  return ["login_failures", "address", address];
}

/** Failed logins for one account from every address together. */
export function accountTotalFailuresKey(normalizedUsername: string): Deno.KvKey {
  return ["login_failures", "account_total", normalizedUsername];
}

/**
 * Requests that may run a password hash (sign-ins, sign-ups, password changes) from one client
 * address, whatever their outcome.
 */
export function addressHashRequestsKey(address: string): Deno.KvKey {
  return ["login_failures", "address_hashes", address];
}

/** Prefix listing the catalogue. */
export const PRODUCTS_PREFIX: Deno.KvKey = ["products"];

/** One catalogue product. */
export function productKey(productId: string): Deno.KvKey {
  return ["products", productId];
}

/** A one-off marker such as "the demo catalogue was seeded". */
export function metaKey(name: string): Deno.KvKey {
  return ["meta", name];
}
