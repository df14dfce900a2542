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

Deno.test("main.ts stops at start-up with a message naming a bad setting", async () => {
  const env: Record<string, string> = { PORT: "eighty", KV_PATH: ":memory:" };
  // Keep what Deno needs to find its cache; nothing else from this environment leaks in.
  for (const name of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "main.ts",
      "--listen",
    ],
    cwd: new URL("..", import.meta.url).pathname,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  strictEqual(output.code, 1, stderr);
  match(stderr, /Invalid setting PORT: "eighty" is not a port number from 0 to 65535/);
  strictEqual(new TextDecoder().decode(output.stdout), "");
});
