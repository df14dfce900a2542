/**
 * Every Deno KV key the project writes, built in one place so the layout reads in one screen.
 *
 * | key                                          | value                                  |
 * | -------------------------------------------- | -------------------------------------- |
 * | `["sessions", tokenHash]`                    | session record (never the token)       |
 * | `["user_sessions", userId, sessionId]`       | index entry pointing at the record     |
 * | `["credential_versions", userId]`            | the user's credential version (number) |
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

/** Session record, keyed by the SHA-256 hash of its token. */
export function sessionKey(tokenHash: string): Deno.KvKey {
  return ["sessions", tokenHash];
}

/** Prefix listing one user's sessions. */
export function userSessionsPrefix(userId: string): Deno.KvKey {
  return ["user_sessions", userId];
}

/** One entry of a user's session index, keyed by the session's public id. */
export function userSessionKey(userId: string, sessionId: string): Deno.KvKey {
  return ["user_sessions", userId, sessionId];
}

/** The user's credential version; bumping it ends the sessions made before. */
export function credentialVersionKey(userId: string): Deno.KvKey {
  return ["credential_versions", userId];
}

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
