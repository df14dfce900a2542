import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import { hashToken, SessionStore, type SessionStoreOptions } from "@kvsession/hono";

const options = { idleTimeoutSeconds: 3600, absoluteTimeoutSeconds: 86400 };

async function keysOf(kv: Deno.Kv): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix: [] })) keys.push(entry.key);
  return keys;
}

Deno.test("SessionStore keeps the shop's key layout by default", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new SessionStore({ kv, ...options });
    const { token, session } = await store.create({ userId: "u1", data: {} });
    await store.bumpCredentialVersion("u2");
    deepStrictEqual(await keysOf(kv), [
      ["credential_versions", "u2"],
      ["sessions", hashToken(token)],
      ["user_sessions", "u1", session.id],
    ]);
  } finally {
    kv.close();
  }
});

Deno.test("SessionStore keyPrefix puts every key under the prefix", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new SessionStore({ kv, ...options, keyPrefix: ["app", 1] });
    const { token, session } = await store.create({ userId: "u1", data: {} });
    await store.bumpCredentialVersion("u2", undefined);
    deepStrictEqual(await keysOf(kv), [
      ["app", 1, "credential_versions", "u2"],
      ["app", 1, "sessions", hashToken(token)],
      ["app", 1, "user_sessions", "u1", session.id],
    ]);
    strictEqual((await store.get(token)).status, "valid");
    // Another prefix is another store: it does not see the session.
    strictEqual((await new SessionStore({ kv, ...options }).get(token)).status, "missing");
    deepStrictEqual((await store.list("u1")).map((s) => s.id), [session.id]);
    strictEqual(await store.revokeAll("u1"), 1);
    deepStrictEqual(await keysOf(kv), [["app", 1, "credential_versions", "u2"]]);
  } finally {
    kv.close();
  }
});

Deno.test("SessionStore refuses a keyPrefix that is not an array", () => {
  throws(
    () =>
      new SessionStore(
        { kv: {} as Deno.Kv, ...options, keyPrefix: "app" } as unknown as SessionStoreOptions,
      ),
    new TypeError('Cannot create session store: keyPrefix "app" is not an array of key parts'),
  );
});

Deno.test("hashToken() is SHA-256 base64url, as node:crypto computes it", () => {
  const inputs = [
    "",
    "abc",
    "a".repeat(55),
    "a".repeat(56),
    "a".repeat(64),
    "a".repeat(1000),
    "héllo €",
  ];
  for (let i = 0; i < 200; i++) {
    inputs.push(
      crypto.getRandomValues(new Uint8Array(32)).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      }),
    );
  }
  for (const input of inputs) {
    strictEqual(hashToken(input), createHash("sha256").update(input).digest("base64url"), input);
  }
  // FIPS 180-2 appendix B.1.
  strictEqual(
    hashToken("abc"),
    Uint8Array.fromHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").toBase64(
      {
        alphabet: "base64url",
        omitPadding: true,
      },
    ),
  );
});
