import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { ConfigError } from "../src/config.ts";
import { kvPermissionFlags, taskFlags } from "../scripts/task_flags.ts";

const PROJECT = "/srv/shop";

Deno.test("kvPermissionFlags() grants the KV file's folder and nothing more", async (t) => {
  const cases: [string, string | undefined, string[]][] = [
    ["the default", "data/store.sqlite3", ["--allow-read=.", "--allow-write=data"]],
    ["a folder below data/", "data/a/b.sqlite3", ["--allow-read=.", "--allow-write=data/a"]],
    ["a path given with ./", "./data/x.sqlite3", ["--allow-read=.", "--allow-write=./data"]],
    [
      "an absolute folder elsewhere",
      "/var/lib/shop/store.sqlite3",
      ["--allow-read=.,/var/lib/shop", "--allow-write=/var/lib/shop"],
    ],
    [
      "a relative folder beside the project",
      "../shop-data/store.sqlite3",
      ["--allow-read=.,../shop-data", "--allow-write=../shop-data"],
    ],
    ["an absolute path inside the project", "/srv/shop/data/s.sqlite3", [
      "--allow-read=.",
      "--allow-write=/srv/shop/data",
    ]],
    ["in memory: no write at all", ":memory:", ["--allow-read=."]],
    ["a denokv URL", "https://kv.internal:4512", ["--allow-read=."]],
    ["Deno Deploy's platform KV", undefined, ["--allow-read=."]],
  ];
  for (const [name, kvPath, flags] of cases) {
    await t.step(name, () => deepStrictEqual(kvPermissionFlags(kvPath, PROJECT), flags));
  }
});

Deno.test("kvPermissionFlags() refuses folders it cannot grant, naming KV_PATH", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["the project folder", "store.sqlite3", /"store\.sqlite3" is not in a folder of its own/],
    ["the project folder, spelt ./", "./store.sqlite3", /here \/srv\/shop, which holds/],
    ["a folder above the project", "/srv/store.sqlite3", /here \/srv, which holds/],
    ["the root", "/store.sqlite3", /here \/, which holds/],
    ["a space in the folder", "/var/lib/my shop/s.sqlite3", /"\/var\/lib\/my shop" has a space/],
    ["a comma in the folder", "/var/lib/a,b/s.sqlite3", /"\/var\/lib\/a,b" has a space or a comma/],
  ];
  for (const [name, kvPath, message] of cases) {
    await t.step(name, () => {
      throws(() => kvPermissionFlags(kvPath, PROJECT), (error) => {
        ok(error instanceof ConfigError);
        ok(error.message.startsWith("Invalid setting KV_PATH: "), error.message);
        ok(message.test(error.message), error.message);
        return true;
      });
    });
  }
});

Deno.test("taskFlags() puts PORT and HOSTNAME (defaults 0.0.0.0:8000) before the KV flags", () => {
  deepStrictEqual(taskFlags("serve", {}, "production", PROJECT), [
    "--host=0.0.0.0",
    "--port=8000",
    "--allow-read=.",
    "--allow-write=data",
  ]);
  deepStrictEqual(
    taskFlags("serve", { PORT: "3000", HOSTNAME: "127.0.0.1" }, "production", PROJECT).slice(0, 2),
    ["--host=127.0.0.1", "--port=3000"],
  );
  deepStrictEqual(taskFlags("kv", { PORT: "3000" }, "dev", PROJECT), [
    "--allow-read=.",
    "--allow-write=data",
  ]);
  // Every setting is checked, not only the ones that make flags.
  throws(() => taskFlags("kv", { SESSION_IDLE_TIMEOUT: "soon" }, "production", PROJECT), (e) => {
    strictEqual((e as Error).name, "ConfigError");
    return /SESSION_IDLE_TIMEOUT/.test((e as Error).message);
  });
});
