/**
 * Every Deno KV key the session package writes, built in one place so the layout reads in one
 * screen. With the default prefix (`[]`) the keys are the ones the shop wrote before the package
 * existed, so stored sessions keep working; a prefix puts all three families under it.
 *
 * | key                                             | value                                  |
 * | ----------------------------------------------- | -------------------------------------- |
 * | `[...prefix, "sessions", tokenHash]`            | session record (never the token)       |
 * | `[...prefix, "user_sessions", userId, id]`      | index entry pointing at the record     |
 * | `[...prefix, "credential_versions", userId]`    | the user's credential version (number) |
 *
 * @module
 */

/** The key builders of one store. */
export interface SessionKeys {
  /** Session record, keyed by the SHA-256 hash of its token. */
  session(tokenHash: string): Deno.KvKey;
  /** Prefix listing one user's sessions. */
  userSessionsPrefix(userId: string): Deno.KvKey;
  /** One entry of a user's session index, keyed by the session's public id. */
  userSession(userId: string, sessionId: string): Deno.KvKey;
  /** The user's credential version; bumping it ends the sessions made before. */
  credentialVersion(userId: string): Deno.KvKey;
}

/** Key builders under `prefix` (`[]` gives the shop's original layout). */
export function sessionKeys(prefix: Deno.KvKey = []): SessionKeys {
  if (prefix.length === 0) {
    // The common case builds no spread arrays on the request path.
    return {
      session: (tokenHash) => ["sessions", tokenHash],
      userSessionsPrefix: (userId) => ["user_sessions", userId],
      userSession: (userId, sessionId) => ["user_sessions", userId, sessionId],
      credentialVersion: (userId) => ["credential_versions", userId],
    };
  }
  const base = [...prefix];
  return {
    session: (tokenHash) => [...base, "sessions", tokenHash],
    userSessionsPrefix: (userId) => [...base, "user_sessions", userId],
    userSession: (userId, sessionId) => [...base, "user_sessions", userId, sessionId],
    credentialVersion: (userId) => [...base, "credential_versions", userId],
  };
}
