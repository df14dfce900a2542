import { deepStrictEqual, match, ok, strictEqual, throws } from "node:assert/strict";
import { type Config, ConfigError, DEFAULT_KV_PATH, loadConfig } from "../src/config.ts";

Deno.test("loadConfig() uses documented defaults when nothing is set", () => {
  const expected: Config = {
    port: 8000,
    hostname: "0.0.0.0",
    kvPath: DEFAULT_KV_PATH,
    idleTimeoutSeconds: 86_400,
    absoluteTimeoutSeconds: 604_800,
    cookieSecure: true,
    publicOrigin: undefined,
    trustProxyHeader: undefined,
    // A hash keeps a core busy: by default one core is left for everything else.
    hashConcurrency: Math.max(1, navigator.hardwareConcurrency - 1),
    onDeploy: false,
  };
  deepStrictEqual(loadConfig({}, "production"), expected);
  deepStrictEqual(loadConfig({}, "dev"), { ...expected, cookieSecure: false });
  // Empty and blank values count as unset.
  deepStrictEqual(
    loadConfig(
      { PORT: "", SESSION_IDLE_TIMEOUT: " ", COOKIE_SECURE: "", TRUST_PROXY_HEADER: "  " },
      "production",
    ),
    expected,
  );
});

Deno.test("loadConfig() defaults COOKIE_SECURE to on in production and off in dev", async (t) => {
  await t.step("production", () => strictEqual(loadConfig({}, "production").cookieSecure, true));
  await t.step("dev", () => strictEqual(loadConfig({}, "dev").cookieSecure, false));
  await t.step("explicit values win over the mode", () => {
    strictEqual(loadConfig({ COOKIE_SECURE: "false" }, "production").cookieSecure, false);
    strictEqual(loadConfig({ COOKIE_SECURE: "true" }, "dev").cookieSecure, true);
  });
});

Deno.test("loadConfig() accepts good values", async (t) => {
  const cases: [string, Record<string, string>, Partial<Config>][] = [
    ["PORT 0 (any free port)", { PORT: "0" }, { port: 0 }],
    ["PORT 65535", { PORT: "65535" }, { port: 65_535 }],
    ["PORT with spaces around", { PORT: " 9000 " }, { port: 9000 }],
    ["SESSION_IDLE_TIMEOUT 1", { SESSION_IDLE_TIMEOUT: "1" }, { idleTimeoutSeconds: 1 }],
    [
      "SESSION_IDLE_TIMEOUT 400 days (the browser cap on Max-Age)",
      { SESSION_IDLE_TIMEOUT: "34560000" },
      { idleTimeoutSeconds: 34_560_000 },
    ],
    [
      "SESSION_ABSOLUTE_TIMEOUT 8 hours",
      { SESSION_ABSOLUTE_TIMEOUT: "28800" },
      { absoluteTimeoutSeconds: 28_800 },
    ],
    ...["1", "true", "YES", "on"].map((
      value,
    ): [string, Record<string, string>, Partial<Config>] => [
      `COOKIE_SECURE ${value}`,
      { COOKIE_SECURE: value },
      { cookieSecure: true },
    ]),
    ...["0", "false", "No", "OFF"].map((
      value,
    ): [string, Record<string, string>, Partial<Config>] => [
      `COOKIE_SECURE ${value}`,
      { COOKIE_SECURE: value },
      { cookieSecure: false },
    ]),
    [
      "TRUST_PROXY_HEADER X-Forwarded-For",
      { TRUST_PROXY_HEADER: "X-Forwarded-For" },
      { trustProxyHeader: "X-Forwarded-For" },
    ],
    ["KV_PATH :memory:", { KV_PATH: ":memory:" }, { kvPath: ":memory:" }],
    ["HOSTNAME 127.0.0.1", { HOSTNAME: "127.0.0.1" }, { hostname: "127.0.0.1" }],
    ["HOSTNAME :: (IPv6)", { HOSTNAME: "::" }, { hostname: "::" }],
    ["HOSTNAME with a zone", { HOSTNAME: "fe80::1%eth0" }, { hostname: "fe80::1%eth0" }],
    ["HOSTNAME a name", { HOSTNAME: "shop-1.internal" }, { hostname: "shop-1.internal" }],
    ["HASH_CONCURRENCY 1", { HASH_CONCURRENCY: "1" }, { hashConcurrency: 1 }],
    ["HASH_CONCURRENCY 64", { HASH_CONCURRENCY: "64" }, { hashConcurrency: 64 }],
    ["on Deno Deploy the platform KV", { DENO_DEPLOYMENT_ID: "abc" }, {
      kvPath: undefined,
      onDeploy: true,
    }],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, () => {
      const config = loadConfig(env, "dev");
      for (const [key, value] of Object.entries(expected)) {
        strictEqual(config[key as keyof Config], value, key);
      }
    });
  }
});

Deno.test("loadConfig() refuses bad values with a ConfigError naming the variable", async (t) => {
  const cases: [string, string, string][] = [
    ...["0", "65", "2.5", "-1", "four"].map((value): [string, string, string] => [
      "HASH_CONCURRENCY",
      value,
      `Invalid setting HASH_CONCURRENCY: "${value}" is not a whole number from 1 to 64`,
    ]),
    ["PORT", "http", 'Invalid setting PORT: "http" is not a port number from 0 to 65535'],
    ["PORT", "-1", 'Invalid setting PORT: "-1" is not a port number from 0 to 65535'],
    ["PORT", "65536", 'Invalid setting PORT: "65536" is not a port number from 0 to 65535'],
    ["PORT", "80.5", 'Invalid setting PORT: "80.5" is not a port number from 0 to 65535'],
    ["PORT", "1e3", 'Invalid setting PORT: "1e3" is not a port number from 0 to 65535'],
    ["PORT", "0x50", 'Invalid setting PORT: "0x50" is not a port number from 0 to 65535'],
    [
      "SESSION_IDLE_TIMEOUT",
      "0",
      'Invalid setting SESSION_IDLE_TIMEOUT: "0" is not a whole number of seconds of at least 1',
    ],
    [
      "SESSION_IDLE_TIMEOUT",
      "-60",
      'Invalid setting SESSION_IDLE_TIMEOUT: "-60" is not a whole number of seconds of at least 1',
    ],
    [
      "SESSION_IDLE_TIMEOUT",
      "1.5",
      'Invalid setting SESSION_IDLE_TIMEOUT: "1.5" is not a whole number of seconds of at least 1',
    ],
    [
      "SESSION_IDLE_TIMEOUT",
      "30m",
      'Invalid setting SESSION_IDLE_TIMEOUT: "30m" is not a whole number of seconds of at least 1',
    ],
    [
      // Longer than a browser keeps a cookie: every sign-in would fail to write its cookie.
      "SESSION_IDLE_TIMEOUT",
      "34560001",
      'Invalid setting SESSION_IDLE_TIMEOUT: "34560001" is more than 34560000 seconds (400 days), the longest a browser keeps a cookie',
    ],
    [
      "SESSION_ABSOLUTE_TIMEOUT",
      "0",
      'Invalid setting SESSION_ABSOLUTE_TIMEOUT: "0" is not a whole number of seconds of at least 1',
    ],
    [
      "SESSION_ABSOLUTE_TIMEOUT",
      "eight hours",
      'Invalid setting SESSION_ABSOLUTE_TIMEOUT: "eight hours" is not a whole number of seconds of at least 1',
    ],
    [
      "SESSION_ABSOLUTE_TIMEOUT",
      "99999999999",
      'Invalid setting SESSION_ABSOLUTE_TIMEOUT: "99999999999" is not a whole number of seconds of at least 1',
    ],
    ...["0.0.0.0 --allow-all", "host/path", "a,b", "[::1]"].map((
      value,
    ): [string, string, string] => [
      "HOSTNAME",
      value,
      `Invalid setting HOSTNAME: ${JSON.stringify(value)} is not a host name or IP address`,
    ]),
    ["COOKIE_SECURE", "maybe", 'Invalid setting COOKIE_SECURE: "maybe" is not true or false'],
    ["COOKIE_SECURE", "2", 'Invalid setting COOKIE_SECURE: "2" is not true or false'],
    [
      "TRUST_PROXY_HEADER",
      "X Forwarded For",
      'Invalid setting TRUST_PROXY_HEADER: "X Forwarded For" is not a header name',
    ],
    [
      "TRUST_PROXY_HEADER",
      "X-Forwarded-For: 1.2.3.4",
      'Invalid setting TRUST_PROXY_HEADER: "X-Forwarded-For: 1.2.3.4" is not a header name',
    ],
  ];
  for (const [variable, value, message] of cases) {
    await t.step(`${variable}=${JSON.stringify(value)}`, () => {
      for (const mode of ["dev", "production"] as const) {
        throws(() => loadConfig({ [variable]: value }, mode), (error) => {
          ok(error instanceof ConfigError, String(error));
          strictEqual(error.name, "ConfigError");
          strictEqual(error.message, message);
          return true;
        });
      }
    });
  }
});

Deno.test("loadConfig() reads PUBLIC_ORIGIN as the origin browsers send", async (t) => {
  const cases: [string, string][] = [
    ["https://shop.example.com", "https://shop.example.com"],
    ["https://shop.example.com/", "https://shop.example.com"],
    [" https://shop.example.com ", "https://shop.example.com"],
    ["HTTPS://Shop.Example.COM", "https://shop.example.com"],
    ["https://shop.example.com:443", "https://shop.example.com"],
    ["https://shop.example.com:8443", "https://shop.example.com:8443"],
    ["http://localhost:8000", "http://localhost:8000"],
    ["http://127.0.0.1:8000/", "http://127.0.0.1:8000"],
    ["https://[::1]:8443", "https://[::1]:8443"],
    ["https://bücher.example", "https://xn--bcher-kva.example"],
  ];
  for (const [value, expected] of cases) {
    await t.step(value, () => {
      for (const mode of ["dev", "production"] as const) {
        strictEqual(loadConfig({ PUBLIC_ORIGIN: value }, mode).publicOrigin, expected);
      }
    });
  }
});

Deno.test("loadConfig() refuses a PUBLIC_ORIGIN that is not an http(s) origin", async (t) => {
  const values = [
    "shop.example.com",
    "//shop.example.com",
    "https:shop.example.com",
    "https:/shop.example.com",
    "https://",
    "ftp://shop.example.com",
    "file:///srv/shop",
    "javascript:alert(1)",
    "https://shop.example.com/app",
    "https://shop.example.com//",
    "https://shop.example.com?",
    "https://shop.example.com/?a=1",
    "https://shop.example.com#",
    "https://shop.example.com#top",
    "https://user@shop.example.com",
    "https://user:pass@shop.example.com",
    "https://shop.example.com\\",
    "https://shop example.com",
    "https://shop.example.com:99999",
    "null",
  ];
  for (const value of values) {
    await t.step(JSON.stringify(value), () => {
      for (const mode of ["dev", "production"] as const) {
        throws(() => loadConfig({ PUBLIC_ORIGIN: value }, mode), (error) => {
          ok(error instanceof ConfigError, String(error));
          strictEqual(
            error.message,
            `Invalid setting PUBLIC_ORIGIN: ${JSON.stringify(value)} is not an origin such as ` +
              "https://shop.example.com (http or https, a host and an optional port, no path, " +
              "query or fragment)",
          );
          ok(!error.message.includes("\n"));
          return true;
        });
      }
    });
  }
});

Deno.test("loadConfig() requires PUBLIC_ORIGIN in production behind a proxy", async (t) => {
  const proxy = { TRUST_PROXY_HEADER: "X-Forwarded-For" };
  await t.step("production with TRUST_PROXY_HEADER and no PUBLIC_ORIGIN", () => {
    for (const env of [proxy, { ...proxy, PUBLIC_ORIGIN: "  " }]) {
      throws(() => loadConfig(env, "production"), (error) => {
        ok(error instanceof ConfigError, String(error));
        strictEqual(
          error.message,
          "Invalid setting PUBLIC_ORIGIN: is required in production when TRUST_PROXY_HEADER is " +
            "set (the origin browsers use, e.g. https://shop.example.com)",
        );
        return true;
      });
    }
  });
  await t.step("production with both", () => {
    const config = loadConfig(
      { ...proxy, PUBLIC_ORIGIN: "https://shop.example.com" },
      "production",
    );
    strictEqual(config.publicOrigin, "https://shop.example.com");
    strictEqual(config.trustProxyHeader, "X-Forwarded-For");
  });
  await t.step("dev with TRUST_PROXY_HEADER alone", () => {
    strictEqual(loadConfig(proxy, "dev").publicOrigin, undefined);
  });
  await t.step("production without a proxy", () => {
    strictEqual(loadConfig({}, "production").publicOrigin, undefined);
  });
});

Deno.test("loadConfig() defaults COOKIE_SECURE to the scheme of PUBLIC_ORIGIN when it is set", async (t) => {
  const cases: [string, Record<string, string>, "dev" | "production", boolean][] = [
    ["https in dev", { PUBLIC_ORIGIN: "https://shop.example.com" }, "dev", true],
    ["https in production", { PUBLIC_ORIGIN: "https://shop.example.com" }, "production", true],
    ["http in dev", { PUBLIC_ORIGIN: "http://localhost:8000" }, "dev", false],
    ["http in production", { PUBLIC_ORIGIN: "http://intranet.example" }, "production", false],
    [
      "an explicit COOKIE_SECURE wins over https",
      { PUBLIC_ORIGIN: "https://shop.example.com", COOKIE_SECURE: "false" },
      "production",
      false,
    ],
    [
      "an explicit COOKIE_SECURE wins over http",
      { PUBLIC_ORIGIN: "http://localhost:8000", COOKIE_SECURE: "true" },
      "dev",
      true,
    ],
  ];
  for (const [name, env, mode, expected] of cases) {
    await t.step(name, () => strictEqual(loadConfig(env, mode).cookieSecure, expected));
  }
});

/**
 * Runs `main.ts --listen` with only `settings` and what Deno needs to find its cache in the
 * environment (nothing else leaks in), and returns its exit code and output.
 */
async function runMain(
  settings: Record<string, string>,
  permissions: string[] = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...settings };
  for (const name of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, "main.ts", "--listen"],
    cwd: new URL("..", import.meta.url).pathname,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("main.ts stops at start-up with one line when PUBLIC_ORIGIN is missing behind a proxy", async () => {
  const output = await runMain({ TRUST_PROXY_HEADER: "X-Forwarded-For", KV_PATH: ":memory:" });
  const stderr = output.stderr;
  strictEqual(output.code, 1, stderr);
  strictEqual(
    stderr.trim().split("\n").at(-1),
    "Invalid setting PUBLIC_ORIGIN: is required in production when TRUST_PROXY_HEADER is set " +
      "(the origin browsers use, e.g. https://shop.example.com)",
  );
  ok(!stderr.includes("    at "), "no stack trace");
  strictEqual(output.stdout, "");
});

Deno.test("main.ts stops at start-up with a message naming a bad setting", async () => {
  const output = await runMain({ PORT: "eighty", KV_PATH: ":memory:" });
  const stderr = output.stderr;
  strictEqual(output.code, 1, stderr);
  match(stderr, /Invalid setting PORT: "eighty" is not a port number from 0 to 65535/);
  strictEqual(output.stdout, "");
});

Deno.test("main.ts stops with one line when it may not write the KV file's folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "config_test_kv_" });
  try {
    const kvPath = `${dir}/shop/store.sqlite3`;
    // The permissions the tasks used to grant whatever KV_PATH said.
    const output = await runMain({ KV_PATH: kvPath, PORT: "0" }, [
      "--allow-net",
      "--allow-env",
      "--allow-read=.",
      "--allow-write=data",
    ]);
    const stderr = output.stderr;
    strictEqual(output.code, 1, stderr);
    strictEqual(
      stderr,
      `Invalid setting KV_PATH: this process may not read and write ${JSON.stringify(kvPath)}; ` +
        `run it with --allow-read=${dir}/shop --allow-write=${dir}/shop (deno task start, dev ` +
        "and user:add grant that themselves)\n",
    );
    strictEqual(output.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
