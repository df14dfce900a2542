import { deepStrictEqual } from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { createServices } from "../src/services.ts";

Deno.test("createServices() runs at most HASH_CONCURRENCY production hashes at once", async (t) => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (const limit of [1, 2]) {
      await t.step(`HASH_CONCURRENCY=${limit}`, async () => {
        const config = loadConfig({ HASH_CONCURRENCY: String(limit) }, "production");
        const { hasher } = createServices({ kv, config });
        const hashes = [hasher.hash("first password"), hasher.hash("second password")];
        deepStrictEqual(hasher.stats(), { active: limit, queued: 2 - limit });
        await Promise.all(hashes);
        deepStrictEqual(hasher.stats(), { active: 0, queued: 0 });
      });
    }
  } finally {
    kv.close();
  }
});
