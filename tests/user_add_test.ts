import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createPasswordHasher, parseStoredHash } from "../src/passwords.ts";
import { SessionStore } from "@kvsession/hono";
import { type User, UserStore } from "../src/users.ts";

const ROOT = new URL("..", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `scripts/user_add.ts` as `deno task user:add` would, with `stdin` piped in and only
 * `env` (plus what Deno needs to find its cache) in the environment.
 */
async function userAdd(args: string[], stdin: string, env: Record<string, string>): Promise<Run> {
  const base: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "scripts/user_add.ts",
      ...args,
    ],
    cwd: ROOT,
    env: { ...base, ...env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  } catch {
    // The script may exit (usage error) before reading its input.
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `fn` with the path of a KV file in a fresh temporary folder, removed afterwards. */
async function withKvFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "user_add_test_" });
  try {
    await fn(`${dir}/store.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function openAt<T>(path: string, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await Deno.openKv(path);
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

async function allUsers(kv: Deno.Kv): Promise<User[]> {
  const users: User[] = [];
  for await (const entry of kv.list<User>({ prefix: ["users"] })) users.push(entry.value);
  return users;
}

Deno.test("user:add creates a user, then updates it and signs its sessions out", async () => {
  await withKvFile(async (path) => {
    const first = "first line password";
    const created = await userAdd(
      ["alice", "--name", "Alice"],
      `${first}\nsecond line is ignored\n`,
      { KV_PATH: path },
    );
    strictEqual(created.code, 0, created.stderr);
    strictEqual(created.stdout, 'Created user "alice".\n');

    const tokens = await openAt(path, async (kv) => {
      const [user, ...others] = await allUsers(kv);
      deepStrictEqual(others, []);
      strictEqual(user?.username, "alice");
      strictEqual(user.displayName, "Alice");
      ok(!user.passwordHash.includes(first));
      ok(parseStoredHash(user.passwordHash), user.passwordHash);
      // Two signed-in browsers for the update to end.
      const sessions = new SessionStore({
        kv,
        idleTimeoutSeconds: 3600,
        absoluteTimeoutSeconds: 7200,
      });
      const credentialVersion = await sessions.credentialVersion(user.id);
      const made = await Promise.all(
        [1, 2].map(() => sessions.create({ userId: user.id, credentialVersion, data: {} })),
      );
      return made.map((session) => session.token);
    });

    // Another case of the name finds the same user; the password line may end in CRLF.
    const second = "the new password";
    const updated = await userAdd(["ALICE", "--name", "Alice Liddell"], `${second}\r\n`, {
      KV_PATH: path,
    });
    strictEqual(updated.code, 0, updated.stderr);
    strictEqual(updated.stdout, 'Updated user "alice"; 2 session(s) signed out.\n');
    for (const run of [created, updated]) {
      ok(![first, second].some((p) => run.stdout.includes(p) || run.stderr.includes(p)));
    }

    await openAt(path, async (kv) => {
      const [user, ...others] = await allUsers(kv);
      deepStrictEqual(others, []);
      strictEqual(user?.displayName, "Alice Liddell");
      const sessions = new SessionStore({
        kv,
        idleTimeoutSeconds: 3600,
        absoluteTimeoutSeconds: 7200,
      });
      for (const token of tokens) strictEqual((await sessions.get(token)).status, "missing");
      strictEqual(await sessions.credentialVersion(user.id), 1);

      const hasher = createPasswordHasher();
      // Exactly the first line, without its CR: the hash matches that and nothing else.
      const [newOk, oldOk] = await Promise.all([
        hasher.verify(second, user.passwordHash),
        hasher.verify(first, user.passwordHash),
      ]);
      strictEqual(newOk.ok, true);
      strictEqual(oldOk.ok, false);
      strictEqual(await new UserStore(kv).idForUsername("Ａｌｉｃｅ"), user.id);
    });
  });
});

Deno.test("user:add refuses bad input with a message and a non-zero exit code", async (t) => {
  await withKvFile(async (path) => {
    const env = { KV_PATH: path };
    const usage = 'Usage: deno task user:add USERNAME [--name "Display Name"]  (password on stdin)';
    const cases: [string, string[], string, Record<string, string>, number, string][] = [
      ["no username", [], "good password\n", env, 2, usage],
      ["two usernames", ["alice", "bob"], "good password\n", env, 2, usage],
      ["an unknown option", ["alice", "--nope"], "good password\n", env, 2, "Unknown option"],
      ["--name without a value", ["alice", "--name"], "good password\n", env, 2, "--name"],
      ["no password", ["alice"], "", env, 1, "Password must be at least 8 characters"],
      ["a short password", ["alice"], "short\n", env, 1, "Password must be at least 8 characters"],
      [
        "a password of 257 characters",
        ["alice"],
        `${"p".repeat(257)}\n`,
        env,
        1,
        "Password must be at most 256 characters",
      ],
      [
        "an empty display name",
        ["alice", "--name", "  "],
        "good password\n",
        env,
        1,
        "Display names are 1 to 64 characters.",
      ],
      [
        "a bad setting",
        ["alice"],
        "good password\n",
        { ...env, SESSION_IDLE_TIMEOUT: "soon" },
        1,
        'Invalid setting SESSION_IDLE_TIMEOUT: "soon" is not a whole number of seconds of at least 1',
      ],
      [
        "a bad username",
        ["no spaces allowed"],
        "good password\n",
        env,
        1,
        "Usernames are 3 to 32 letters, digits, dots, dashes or underscores.",
      ],
    ];
    const runs = await Promise.all(
      cases.map(([, args, stdin, caseEnv]) => userAdd(args, stdin, caseEnv)),
    );
    for (const [i, [name, , , , code, message]] of cases.entries()) {
      await t.step(name, () => {
        const run = runs[i]!;
        strictEqual(run.code, code, run.stderr);
        ok(run.stderr.includes(message), run.stderr);
        // A clear message, not a crash with a stack trace.
        ok(!/Uncaught|\n\s+at /.test(run.stderr), run.stderr);
        strictEqual(run.stdout, "");
      });
    }
    // Nothing was written.
    await openAt(path, async (kv) => deepStrictEqual(await allUsers(kv), []));
  });
});
